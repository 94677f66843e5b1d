"""Encrypted desk phones: SIP over TLS with the generated certificate, SRTP (SDES) on the phone's leg while the
carrier's stays plain RTP. The phone is PJSIP's pjsua2 (this machine's SIPp has no TLS); SIPp is the carrier."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
import time

import pjsua2 as pj
import pytest
from audio import loudest_second
from harness import forwarding_number, wait_for
from pjphone import AnsweringAccount, PjPhone
from pjphone import endpoint as pj_endpoint
from rtp_capture import RtpCapture, write_tone_pcap
from sipp import free_udp_port
from tls_client import handshake

from leadcenter.interactions.models import Interaction
from leadcenter.trunks.models import Trunk

ALICE, BOB = 1, 2  # the demo's agents; with only Alice's phone registered, the queue rings her alone
RTP_HEADER, G711_10MS = 12, 80  # a packet carries a whole number of 10 ms G.711 frames (20 ms, 30 ms...)
SRTP_TAG = 10  # AES_CM_128_HMAC_SHA1_80's authentication tag, after the encrypted payload


def plain(sizes: set[int] | None) -> bool:
    return bool(sizes) and all((size - RTP_HEADER) % G711_10MS == 0 for size in sizes)


def srtp(sizes: set[int] | None) -> bool:
    return bool(sizes) and all((size - RTP_HEADER - SRTP_TAG) % G711_10MS == 0 for size in sizes)


def generated_certificate(system) -> str:
    return str(system.settings.data_dir / "tls" / "sip-self-signed.crt")


def tls_phone(running, username: str, password: str, srtp: int) -> PjPhone:
    """A phone registering over TLS, trusting only the installation's generated certificate, with ``srtp``."""
    return PjPhone(
        username, password, running.sip_tls_port, trusted_certificate=generated_certificate(running), srtp=srtp
    )


def test_a_desk_phone_over_tls_registers_and_answers_a_call_with_srtp(running, peers, tmp_path):
    """Alice's phone registers over TLS, trusting only the generated certificate; the lead's call rings it over that
    connection and both sides key SRTP in the SDP. On the wire the carrier's leg is plain G.711 carrying what the
    phone says, the phone's leg is SRTP (encrypted payload, authentication tag) and carries nothing audible; the
    phone hears the lead. The call is recorded as every call is."""
    username, password = running.sip_account(ALICE)
    lead_tone = write_tone_pcap(str(tmp_path / "lead.pcap"), 1000, 12)
    heard = tmp_path / "alice-heard.wav"
    asterisk = running.settings.asterisk
    with (
        RtpCapture(asterisk.rtp_start, asterisk.rtp_end) as wire,
        tls_phone(running, username, password, pj.PJMEDIA_SRTP_OPTIONAL) as alice,
    ):
        contacts = running.instance.rx(f"pjsip show aor {username}") or ""
        assert "transport=tls" in contacts.lower(), contacts
        caller = peers.call("+14045558902", duration=10, audio=lead_tone)
        call = alice.wait_for_call()
        alice.speak_and_record(call, 600, str(heard))
        assert "a=crypto:" in call.sdp_received and "a=crypto:" in call.sdp_sent  # SDES keys, inside TLS
        alice.poll(5)
        alice.stop_media()
        to_phone = wire.sizes_at.get(alice.media_port)
        to_carrier = [port for port in wire.heard_at if port != alice.media_port]
        assert srtp(to_phone), wire.sizes_at
        assert wire.tone_at(1000, port=alice.media_port) == []  # the lead's voice is not in clear on the phone's leg
        assert len(to_carrier) == 1 and plain(wire.sizes_at[to_carrier[0]])
        assert len(wire.tone_at(600, port=to_carrier[0])) >= 10  # the phone's voice reached the lead, decrypted
        assert caller.wait(30).check().answered
    assert loudest_second(heard) > 0.05  # the lead's tone, decrypted by the phone
    row = wait_for(
        lambda: (
            (i := Interaction.get_or_none(Interaction.lead_number == "+14045558902")) and i.status == "recent" and i
        ),
        10,
        what="the call to conclude",
    )
    assert (row.outcome, row.agent_id) == ("answered", ALICE)
    assert row.recording and loudest_second(running.settings.data_dir / row.recording) > 0.05


@contextlib.contextmanager
def restarted_with(system, name: str, value: str):
    """The system restarted with the setting ``name`` (LEADCENTER_...) = ``value``; as it was after."""

    def restart() -> None:
        system.stop_controller()
        system.stop_asterisk()  # pjsip.conf's endpoints and transports are read again at its start
        system.start_asterisk()
        system.start_controller()
        system.all_available()

    system.env[name] = value
    try:
        restart()
        yield system
    finally:
        del system.env[name]
        restart()


def test_with_srtp_required_a_phone_requiring_it_answers_over_savp_and_a_plain_phone_is_refused(running, peers):
    """Phones set to require SRTP refuse the optional mode's offer (keys in RTP/AVP): an installation with such phones
    requires SRTP, and Asterisk then offers RTP/SAVP and refuses a phone's plain RTP with 488, which the phone shows."""
    bob_user, bob_password = running.sip_account(BOB)
    with PjPhone(bob_user, bob_password, running.sip_port) as bob:  # the control: plain RTP is fine by default
        dialled = bob.dial(str(ALICE))  # Alice's extension (her phone is not there)
        bob.wait_until(lambda: dialled.ended, 10, "told")
        assert dialled.status != 488
    username, password = running.sip_account(ALICE)
    asterisk = running.settings.asterisk
    with restarted_with(running, "LEADCENTER_ASTERISK_DESK_SRTP", "required"):  # every desk phone call SRTP
        with (
            RtpCapture(asterisk.rtp_start, asterisk.rtp_end) as wire,
            tls_phone(running, username, password, pj.PJMEDIA_SRTP_MANDATORY) as alice,
        ):
            caller = peers.call("+14045558903", duration=6)
            call = alice.wait_for_call()
            assert "RTP/SAVP" in call.sdp_received and "a=crypto:" in call.sdp_received
            alice.poll(3)
            assert srtp(wire.sizes_at.get(alice.media_port)), wire.sizes_at
            assert caller.wait(30).check().answered
        with PjPhone(bob_user, bob_password, running.sip_port) as bob:
            refused = bob.dial(str(ALICE))
            bob.wait_until(lambda: refused.ended, 10, "refused")
            assert refused.status == 488  # Not Acceptable Here: its media


def test_a_phone_that_does_not_trust_the_certificate_does_not_register(running):
    # The control for the test above: the phone really checks what the server shows (here it trusts only the HTTPS
    # listener's certificate, another key).
    username, password = running.sip_account(ALICE)
    other = str(running.settings.data_dir / "tls" / "self-signed.crt")
    phone = PjPhone(username, password, running.sip_tls_port, trusted_certificate=other)
    with pytest.raises(TimeoutError, match="registered"):
        phone.start(timeout=5)
    phone.__exit__()


OLD_VERSIONS = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_sip_over_tls_takes_tls_1_2_and_1_3_and_refuses_1_0_and_1_1(running):
    certificate = generated_certificate(running)
    assert handshake(running.sip_tls_port, ssl.TLSVersion.TLSv1_2, certificate) == "TLSv1.2"
    assert handshake(running.sip_tls_port, ssl.TLSVersion.TLSv1_3, certificate) == "TLSv1.3"
    for version in OLD_VERSIONS:
        assert handshake(running.sip_tls_port, version, certificate) is None, version
    # The control: this client does speak them, to a server that takes them (same certificate and key).
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.minimum_version = ssl.TLSVersion.TLSv1
    server.set_ciphers("DEFAULT:@SECLEVEL=0")
    server.load_cert_chain(certificate, certificate.replace(".crt", ".key"))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            for _ in OLD_VERSIONS:
                connection, _ = listener.accept()
                try:
                    with server.wrap_socket(connection, server_side=True) as tls:
                        tls.recv(1)
                except (ssl.SSLError, OSError):
                    pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        assert [handshake(port, version, certificate) for version in OLD_VERSIONS] == ["TLSv1", "TLSv1.1"]
        thread.join(5)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def _authority(folder) -> tuple[str, str]:
    """A certificate authority of the test's own: its certificate's file and its key's."""
    ca, key = str(folder / "carriers-ca.pem"), str(folder / "carriers-ca.key")
    _openssl("req", "-x509", *EC, "-days", "2", "-subj", "/CN=Test carriers' CA", "-keyout", key, "-out", ca)
    return ca, key


def _signed(folder, authority: tuple[str, str], stem: str, subject_alt_name: str) -> tuple[str, str]:
    """A carrier's certificate for ``subject_alt_name`` that ``authority`` signed: its file and its key's."""
    csr, crt, key = (str(folder / f"{stem}.{ext}") for ext in ("csr", "crt", "key"))
    _openssl("req", "-new", *EC, "-subj", f"/CN={stem}", "-keyout", key, "-out", csr)
    extensions = folder / f"{stem}.cnf"
    extensions.write_text(f"subjectAltName={subject_alt_name}\n")
    _openssl("x509", "-req", "-in", csr, "-CA", authority[0], "-CAkey", authority[1], "-CAcreateserial",
             "-days", "2", "-extfile", str(extensions), "-out", crt)  # fmt: skip
    return crt, key


def _trunk_contact(system, trunk_id: int) -> str:
    """What Asterisk says of the trunk's contact now (Avail, Unavail, Unknown...)."""
    line = next(
        (x for x in (system.instance.rx("pjsip show contacts") or "").splitlines() if f" trunk{trunk_id}/" in x), ""
    )
    return line.split()[3] if len(line.split()) > 3 else ""


class TlsCarrier:
    """A carrier taking SIP over TLS on ``host`` (a pjsua2 transport: it answers OPTIONS while polled), and its
    trunk on the running system (qualified every 5 s). An address of its own, not 127.0.0.1: a trunk over TLS takes
    its whole address, and the demo's carrier is at 127.0.0.1."""

    def __init__(self, system, name: str, certificate: tuple[str, str], host: str):
        self.system, self.endpoint = system, pj_endpoint()
        config = pj.TransportConfig()
        config.port = free_udp_port()
        config.boundAddress = host
        config.tlsConfig.method = pj.PJSIP_TLSV1_2_METHOD
        config.tlsConfig.certFile, config.tlsConfig.privKeyFile = certificate
        self.transport = self.endpoint.transportCreate(pj.PJSIP_TRANSPORT_TLS, config)
        account = pj.AccountConfig()
        account.idUri = f"sip:carrier@{host}:{config.port};transport=tls"
        account.sipConfig.transportId = self.transport
        account.mediaConfig.transportConfig.port = free_udp_port(4)
        account.mediaConfig.transportConfig.boundAddress = host
        account.natConfig.iceEnabled = False
        self.account = AnsweringAccount()  # the calls Asterisk sends it, answered
        self.account.create(account)
        system.cli("trunk", "add", "--company", "1", name, host, "--transport", "tls",
                   "--port", str(config.port), "--qualify", "5")  # fmt: skip
        self.trunk = Trunk.get(Trunk.name == name)
        assert (self.trunk.transport, self.trunk.port) == ("tls", config.port)

    def wait_contact(self, state: str, because: str = "", timeout: float = 20) -> None:
        """Until Asterisk says ``state`` of the trunk's contact (and its log says ``because`` of its connections)."""
        log = self.system.instance.dir / "log" / "messages.log"
        host = self.trunk.host
        reason = f"Transport 'transport-tls' to remote '{host}' - {host}:{self.trunk.port} - {because}"
        deadline = time.monotonic() + timeout
        while (now := _trunk_contact(self.system, self.trunk.id)) != state or reason not in log.read_text():
            assert time.monotonic() < deadline, f"{self.trunk.name}: {now}, not {state} ({because})"
            self.endpoint.libHandleEvents(100)

    def wait_call(self, timeout: float = 15) -> pj.Call:
        """The first call Asterisk sent this carrier, once it is up."""
        deadline = time.monotonic() + timeout
        while not (self.account.incoming and self.account.incoming[0].confirmed):
            assert time.monotonic() < deadline, f"{self.trunk.name}: no call up"
            self.endpoint.libHandleEvents(100)
        return self.account.incoming[0]

    def close(self) -> None:
        self.system.cli("trunk", "delete", str(self.trunk.id))
        self.endpoint.hangupAllCalls()
        self.account.shutdown()
        self.endpoint.transportClose(self.transport)


TLS_FORWARD_LINE, FORWARDED_TO, TLS_FORWARD_CALLER = "+14045551811", "+14045551812", "+14045551813"


def test_a_trunk_over_tls_reaches_its_carrier_only_when_an_authority_vouches_for_its_certificate(
    running, peers, tmp_path
):
    """Carriers (pjsua2) take SIP over TLS with certificates an authority of the test's own signed. Asterisk
    qualifies their trunks over TLS (OPTIONS every 5 s): with the system's authorities it refuses the carrier's
    certificate (the carrier stays unreachable); trusting that authority ([asterisk] trunk_authorities) it reaches
    the carrier, which answers over TLS, and still refuses a certificate it vouches for that names another host."""
    authority = _authority(tmp_path)
    with contextlib.ExitStack() as stack:
        carrier = TlsCarrier(
            running,
            "TLS carrier",
            _signed(tmp_path, authority, "carrier", "IP:127.0.0.9"),
            "127.0.0.9",
        )
        stack.callback(carrier.close)
        misnamed = TlsCarrier(
            running, "TLS misnamed", _signed(tmp_path, authority, "other", "DNS:other.example"), "127.0.0.10"
        )
        stack.callback(misnamed.close)
        carrier.wait_contact("Unavail", "The certificate is untrusted")  # no system authority vouches for it
        with restarted_with(running, "LEADCENTER_ASTERISK_TRUNK_AUTHORITIES", authority[0]):
            carrier.wait_contact("Avail", "OK")
            # Vouched for, but for another name than the address dialled.
            misnamed.wait_contact("Unavail", "The server identity does not match")
            # A flow forwards a lead's call to a number through the trunk over TLS: the carrier takes it.
            admin = running.sign_in("admin@acme.example")
            with contextlib.closing(admin), contextlib.ExitStack() as cleanup:  # its rows go before the client
                forwarding_number(admin, cleanup, TLS_FORWARD_LINE, FORWARDED_TO, carrier.trunk.id, "Over TLS")
                caller = peers.call(TLS_FORWARD_CALLER, duration=4, did=TLS_FORWARD_LINE)
                forwarded = carrier.wait_call()
                assert f"sip:{FORWARDED_TO}@" in forwarded.getInfo().localUri, forwarded.getInfo().localUri
                deadline = time.monotonic() + 30
                while caller.sipp.proc.poll() is None and time.monotonic() < deadline:
                    carrier.endpoint.libHandleEvents(100)  # the carrier's media and BYE, while the caller talks
                assert caller.wait(5).check().answered
