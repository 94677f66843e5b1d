"""A desk phone as a real SIP user agent (PJSIP's pjsua2, no sound device): what SIPp's one-dialog scenarios cannot
be, a phone with two calls at once that transfers one into the other (REFER with Replaces, the attended transfer).

    with PjPhone(username, password, asterisk_port) as alice:   # registered
        lead = alice.wait_for_call()                            # answered as it rings
        alice.hold(lead)
        consult = alice.dial("2")                               # a colleague's extension
        alice.wait_until(lambda: consult.confirmed)
        alice.transfer(lead, consult)                           # REFER in the lead's call, Replaces the consult

PJSIP runs in the test's thread only (no worker threads): every wait polls its events, so callbacks never race the
test. One pjsua2 library per process, for the process's life (it cannot be made twice).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pjsua2 as pj
from sipp import HOST, free_udp_port

_library: pj.Endpoint | None = None


def endpoint() -> pj.Endpoint:
    """The process's one pjsua2 library, started at first use."""
    global _library
    if _library is None:
        endpoint = pj.Endpoint()
        endpoint.libCreate()
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0
        config.uaConfig.mainThreadOnly = True
        config.logConfig.level = 0
        config.logConfig.consoleLevel = 0
        endpoint.libInit(config)
        endpoint.audDevManager().setNullDev()
        endpoint.libStart()
        _library = endpoint
    return _library


class PjCall(pj.Call):
    def __init__(self, account: pj.Account, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.confirmed = False
        self.ended = False
        self.status = 0  # the last final status (the INVITE's answer; 200 for a call ended by BYE)
        self.transfer_status: list[int] = []  # each NOTIFY's sipfrag status (100, then 200 once transferred)
        self.transfer_done = False  # the last NOTIFY came
        self.refer_answers: list[int] = []  # the final answer to each REFER this phone sent
        # The INVITEs this phone sent in this call: the first, each sent again with credentials after a challenge
        # (pjsua reports no transaction of a challenged INVITE but its start), each re-INVITE.
        self.invites_sent = 0
        self.received: list[str] = []  # the requests Asterisk sent in this call (BYE, NOTIFY, re-INVITE...)
        self.sdp_received = self.sdp_sent = ""  # the last offer or answer each way

    def onCallSdpCreated(self, prm) -> None:
        self.sdp_sent, self.sdp_received = prm.sdp.wholeSdp, prm.remSdp.wholeSdp

    def onCallState(self, prm) -> None:
        info = self.getInfo()
        self.confirmed = self.confirmed or info.state == pj.PJSIP_INV_STATE_CONFIRMED
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.ended, self.status = True, info.lastStatusCode

    def onCallTsxState(self, prm) -> None:
        if prm.e.type != pj.PJSIP_EVENT_TSX_STATE:
            return
        tsx = prm.e.body.tsxState.tsx
        if tsx.role == pj.PJSIP_ROLE_UAS and tsx.state == pj.PJSIP_TSX_STATE_TRYING:
            self.received.append(tsx.method)
        elif tsx.role == pj.PJSIP_ROLE_UAC and tsx.method == "REFER" and tsx.state == pj.PJSIP_TSX_STATE_COMPLETED:
            self.refer_answers.append(tsx.statusCode)
        elif tsx.role == pj.PJSIP_ROLE_UAC and tsx.method == "INVITE" and tsx.state == pj.PJSIP_TSX_STATE_CALLING:
            self.invites_sent += 1

    def onCallTransferStatus(self, prm) -> None:
        self.transfer_status.append(prm.statusCode)
        self.transfer_done = self.transfer_done or prm.finalNotify


class AnsweringAccount(pj.Account):
    """An account that answers every call it is offered at once (``incoming``: those calls; ``invites``: each one's
    INVITE as it came)."""

    def __init__(self):
        super().__init__()
        self.registered = False
        self.incoming: list[PjCall] = []
        self.invites: list[str] = []

    def onRegState(self, prm) -> None:
        self.registered = prm.code == 200 and prm.expiration > 0

    def onIncomingCall(self, prm) -> None:
        self.invites.append(prm.rdata.wholeMsg)
        call = PjCall(self, prm.callId)
        self.incoming.append(call)
        answer = pj.CallOpParam()
        answer.statusCode = 200
        call.answer(answer)


class PjPhone:
    """``trusted_certificate``: the phone speaks SIP over TLS (1.2 or later) and accepts only a server certificate
    this PEM file vouches for (the server's own, when self-signed), for ``server``. ``host``: its own address (SIP
    and RTP), ``server`` the registrar's (both 127.0.0.1 by default). ``srtp``: the phone's SRTP
    (pjsua2's PJMEDIA_SRTP_*: optional offers and accepts SDES keys; off by default)."""

    def __init__(
        self,
        username: str,
        password: str,
        asterisk_port: int,
        *,
        trusted_certificate: str = "",
        srtp: int = pj.PJMEDIA_SRTP_DISABLED,
        host: str = HOST,
        server: str = HOST,
    ):
        self.username, self.password, self.asterisk_port = username, password, asterisk_port
        self.host, self.server = host, server
        self.trusted_certificate, self.srtp = trusted_certificate, srtp
        self.endpoint = endpoint()
        self.account: AnsweringAccount | None = None
        self.transport: int | None = None  # its SIP transport, closed with it: pjsua has 8 at most
        self.calls: list[PjCall] = []
        self.media_port = free_udp_port(4)  # its RTP port (RTCP the next)
        self._media: list[pj.AudioMedia] = []  # what speak_and_record plays and records, kept alive

    def _transport(self) -> int:
        transport = pj.TransportConfig()
        transport.port = free_udp_port()
        transport.boundAddress = self.host
        if not self.trusted_certificate:
            return self.endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        transport.tlsConfig.method = pj.PJSIP_TLSV1_2_METHOD
        transport.tlsConfig.CaListFile = self.trusted_certificate
        transport.tlsConfig.verifyServer = True
        return self.endpoint.transportCreate(pj.PJSIP_TRANSPORT_TLS, transport)

    def start(self, timeout: float = 10) -> PjPhone:
        config = pj.AccountConfig()
        server = f"{self.server}:{self.asterisk_port}"
        params = ";transport=tls" if self.trusted_certificate else ""
        config.idUri = f"sip:{self.username}@{server}"
        config.regConfig.registrarUri = f"sip:{server}{params}"
        config.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", self.username, 0, self.password))
        config.sipConfig.transportId = self.transport = self._transport()
        config.mediaConfig.transportConfig.port = self.media_port
        config.mediaConfig.transportConfig.boundAddress = self.host
        config.mediaConfig.srtpUse = self.srtp
        config.natConfig.iceEnabled = False
        config.natConfig.sdpNatRewriteUse = 0
        config.natConfig.contactRewriteUse = 0
        config.natConfig.viaRewriteUse = 0
        self.account = AnsweringAccount()
        self.account.create(config)
        self.wait_until(lambda: self.account.registered, timeout, "registered")
        return self

    def __enter__(self) -> PjPhone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.endpoint.hangupAllCalls()
        self.poll(0.5)
        if self.account is not None:
            self.account.shutdown()  # unregisters
            self.poll(0.5)
            self.account = None
        if self.transport is not None:
            self.endpoint.transportClose(self.transport)
            self.transport = None

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.endpoint.libHandleEvents(20)

    def wait_until(self, done: Callable[[], object], timeout: float = 10, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while not (value := done()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"phone {self.username}: not {what} after {timeout}s")
            self.endpoint.libHandleEvents(20)
        return value

    def wait_for_call(self, timeout: float = 15) -> PjCall:
        """The first call Asterisk rang this phone with, answered."""
        assert self.account is not None
        call = self.wait_until(lambda: self.account.incoming and self.account.incoming[0], timeout, "rung")
        self.wait_until(lambda: call.confirmed, timeout, "in the call")
        return call

    def dial(self, extension: str, headers: dict[str, str] | None = None) -> PjCall:
        """A call to ``extension``; its INVITE carries ``headers`` too."""
        call = PjCall(self.account)
        options = pj.CallOpParam(True)
        for name, value in (headers or {}).items():
            header = pj.SipHeader()
            header.hName, header.hValue = name, value
            options.txOption.headers.append(header)
        call.makeCall(f"sip:{extension}@{self.server}:{self.asterisk_port}", options)
        self.calls.append(call)
        return call

    def speak_and_record(self, call: PjCall, frequency: int, recording: str) -> None:
        """The phone says a steady tone into ``call`` and records what it hears into ``recording`` (a WAV file,
        complete once ``stop_media`` is called)."""
        media = call.getAudioMedia(-1)
        tone = pj.ToneGenerator()
        tone.createToneGenerator()
        desc = pj.ToneDesc()
        desc.freq1 = desc.freq2 = frequency
        desc.on_msec, desc.off_msec = 1000, 0
        tones = pj.ToneDescVector()
        tones.append(desc)
        tone.play(tones, True)
        tone.startTransmit(media)
        recorder = pj.AudioMediaRecorder()
        recorder.createRecorder(recording)
        media.startTransmit(recorder)
        self._media = [tone, recorder]

    def stop_media(self) -> None:
        """Stop the tone and close the recording (its WAV header is written when the recorder goes)."""
        self._media = []

    def hold(self, call: PjCall) -> None:
        call.setHold(pj.CallOpParam(True))

    def transfer(self, call: PjCall, into: PjCall, timeout: float = 10) -> list[int]:
        """The transfer key: REFER in ``call`` naming ``into``'s dialog (Replaces), as an attended transfer. As phones
        do, it hangs ``call`` up once the transfer succeeded (the last NOTIFY says 200). Returns the NOTIFYs'
        statuses."""
        call.xferReplaces(into, pj.CallOpParam(True))
        self.wait_until(lambda: call.transfer_done or call.ended, timeout, "told how the transfer went")
        if call.transfer_status[-1:] == [200] and not call.ended:
            call.hangup(pj.CallOpParam(True))
        return call.transfer_status
