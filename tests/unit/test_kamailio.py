"""Kamailio, the SIP edge in front of the Asterisk nodes: the [kamailio] settings, its files rendered from the
database's specs (tested against exact text), where they are written and how, and the trunks Asterisk then knows by
Kamailio's header (tests/integration/test_kamailio.py runs it in front of two Asterisk nodes)."""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
from pathlib import Path

import pytest
from support import config_sections

from leadcenter import asterisk_config, config, kamailio
from leadcenter.credentials import Secrets
from leadcenter.pbx import render

EDGE = {
    "LEADCENTER_KAMAILIO_ENABLED": "true",
    "LEADCENTER_KAMAILIO_PORT": "5090",
    "LEADCENTER_KAMAILIO_NODES": "a=10.0.0.11:5060, b=10.0.0.12:5070, c=[fd00::13]:5060",
    "LEADCENTER_KAMAILIO_HOMES": "2=b, 3=c",
}

SNAPSHOT = kamailio.EdgeSnapshot(
    numbers=(("+14045551302", 2), ("+14045551301", 1), ("+14045551303", 3)),
    carriers=(("203.0.113.7:5060", "trunk1"), ("2001:db8::9:5070", "trunk2")),
    phones=(("desk5", "s3cret:with\\colon", 1), ("desk9", "pw", 2)),
)


def test_kamailio_is_off_by_default_and_make_run_stays_one_asterisk(tmp_path):
    settings = config.load(env={"LEADCENTER_PATHS_DATA_DIR": str(tmp_path)})
    assert not settings.kamailio.enabled
    assert asterisk_config.edge(settings, Secrets("a", "b", "c", edge_secret="e")) is None
    assert settings.kamailio.listen_host == "127.0.0.1"  # loopback unless configured


def test_without_nodes_the_one_node_is_this_installation_s_asterisk():
    settings = config.load(env={"LEADCENTER_KAMAILIO_ENABLED": "true", "LEADCENTER_ASTERISK_SIP_PORT": "15060"})
    assert config.kamailio_nodes(settings) == (config.KamailioNode("local", "127.0.0.1", 15060),)


@pytest.mark.parametrize(
    "env,message",
    [
        ({"LEADCENTER_KAMAILIO_NODES": "a=10.0.0.1"}, r"\[kamailio\] nodes: 'a=10.0.0.1' is not name=host:port"),
        ({"LEADCENTER_KAMAILIO_NODES": "a=10.0.0.1:5060, a=10.0.0.2:5060"}, "a name of its own: a, a"),
        ({"LEADCENTER_KAMAILIO_HOMES": "2=z"}, r"\[kamailio\] homes name no node called z"),
        ({"LEADCENTER_KAMAILIO_HOMES": "acme=a"}, "'acme=a' is not company_id=node"),
        ({"LEADCENTER_KAMAILIO_NODES": "a=127.0.0.1:5090", "LEADCENTER_KAMAILIO_PORT": "5090"}, "listens where"),
        ({"LEADCENTER_KAMAILIO_PROBE_SECONDS": "0"}, "at least 1"),
        ({"LEADCENTER_KAMAILIO_LISTEN_HOST": "0.0.0.0"}, "an address the Asterisk nodes reach, not 0.0.0.0"),
        ({"LEADCENTER_KAMAILIO_LISTEN_HOST": "::"}, "an address the Asterisk nodes reach, not ::"),
    ],
)
def test_bad_kamailio_settings_get_clear_errors(env, message):
    defaults = {"LEADCENTER_KAMAILIO_ENABLED": "true", "LEADCENTER_KAMAILIO_NODES": "a=10.0.0.1:5060"}
    with pytest.raises(config.ConfigError, match=message):
        config.load(env={**defaults, **env})


def test_each_node_is_a_set_with_its_standby_next():
    settings = config.load(env=EDGE)
    assert kamailio.render_dispatcher(config.kamailio_nodes(settings)) == (
        "# Rendered by Lead Center from [kamailio] nodes: setid destination flags priority attributes\n"
        "1 sip:10.0.0.11:5060 0 10 duid=a\n"
        "1 sip:10.0.0.12:5070 0 5 duid=b\n"
        "2 sip:10.0.0.12:5070 0 10 duid=b\n"
        "2 sip:[fd00::13]:5060 0 5 duid=c\n"
        "3 sip:[fd00::13]:5060 0 10 duid=c\n"
        "3 sip:10.0.0.11:5060 0 5 duid=a\n"
    )


def test_one_node_has_no_standby():
    settings = config.load(env={"LEADCENTER_KAMAILIO_ENABLED": "true", "LEADCENTER_ASTERISK_SIP_PORT": "5070"})
    assert kamailio.render_dispatcher(config.kamailio_nodes(settings)).splitlines()[1:] == [
        "1 sip:127.0.0.1:5070 0 10 duid=local"
    ]


def test_kamailio_on_asterisk_s_own_port_is_refused():
    with pytest.raises(config.ConfigError, match="listens where an Asterisk node does"):
        config.load(env={"LEADCENTER_KAMAILIO_ENABLED": "true"})  # both on 127.0.0.1:5060


def test_the_tables_map_numbers_to_their_company_s_home_and_phones_to_their_passwords():
    tables = kamailio.render_tables(config.load(env=EDGE), SNAPSHOT)
    header = kamailio.DB_TEXT_COLUMNS
    # Company 1 is in no home: the first node's set. Carriers send numbers without the +.
    assert tables["numbers"] == f"{header}\n1:14045551301:0:1:1:0\n2:14045551302:0:1:2:0\n3:14045551303:0:1:3:0\n"
    # db_text's separator and escape character are escaped in keys and values.
    assert tables["carriers"] == (
        f"{header}\n1:2001\\:db8\\:\\:9\\:5070:0:0:trunk2:0\n2:203.0.113.7\\:5060:0:0:trunk1:0\n"
    )
    assert tables["phones"] == f"{header}\n1:desk5:0:0:s3cret\\:with\\\\colon:0\n2:desk9:0:0:pw:0\n"
    assert tables["phone_sets"] == f"{header}\n1:desk5:0:1:1:0\n2:desk9:0:1:2:0\n"


def test_the_script_listens_where_configured_and_probes_the_nodes(tmp_path):
    settings = config.load(env={**EDGE, "LEADCENTER_KAMAILIO_PROBE_SECONDS": "3"})
    text = kamailio.render_cfg(settings, tmp_path, "nobody-knows-this")
    assert "listen=udp:127.0.0.1:5090\nlisten=tcp:127.0.0.1:5090\n" in text
    assert f'modparam("ctl", "binrpc", "unix:{tmp_path}/kamailio.ctl")\nmodparam("ctl", "mode", 0600)\n' in text
    assert 'modparam("dispatcher", "ds_ping_interval", 3)\nmodparam("dispatcher", "ds_probing_threshold", 2)\n' in text
    assert f'modparam("dispatcher", "list_file", "{tmp_path}/dispatcher.list")' in text
    assert f'modparam("htable", "db_url", "text://{tmp_path}/tables")' in text
    assert (
        'modparam("htable", "htable", "ban=>size=8;autoexpire=300;dbtable=ban;")\nmodparam("htable", "db_expires", 1)'
        in text
    )
    assert 'modparam("pike", "sampling_time_unit", 2)\nmodparam("pike", "reqs_density_per_unit", 30)\n' in text
    assert 'modparam("tm", "fr_timer", 2000)' in text
    # Unknown usernames are challenged against a password nobody has; the carrier's trunk is named to the node.
    assert text.count('$var(password) = "nobody-knows-this";') == 2
    assert 'append_hf("X-LC-Trunk: $sht(carriers=>$var(source))\\r\\n");' in text
    # A node's call to a carrier (in the table by address and port, or by address) leaves through the edge.
    assert "if ($sht(carriers=>$var(carrier)) != $null || $sht(carriers=>$rd) != $null) {" in text
    # A carrier over TCP or TLS is in the table by its address alone.
    assert "if ($sht(carriers=>$var(source)) == $null && $sht(carriers=>$si) != $null) {" in text
    # A phone is named to the node once authenticated; what any peer wrote in either header is dropped first.
    assert 'append_hf("X-LC-Phone: $au\\r\\n");\n\tconsume_credentials();' in text
    assert "\tif (!ds_is_from_list()) {\n" in text
    assert 'remove_hf("X-LC-Trunk");\n\t\tremove_hf("X-LC-Phone");\n' in text
    assert text.index('remove_hf("X-LC-Phone")') < text.index("if (has_totag())")  # in-dialog requests too
    assert "record_route();" in text and "{{" not in text


def test_an_ipv6_listen_address_is_bracketed(tmp_path):
    settings = config.load(env={**EDGE, "LEADCENTER_KAMAILIO_LISTEN_HOST": "::1"})
    assert "listen=udp:[::1]:5090\nlisten=tcp:[::1]:5090\n" in kamailio.render_cfg(settings, tmp_path, "x")


def test_the_edge_takes_numbers_carriers_and_desk_phones_from_asterisk_s_specs():
    snapshot = render.Snapshot(
        devices=(
            render.AgentDevice("webrtc5", "pw-web", "Alice", webrtc=True, agent_id=5, company_id=1),
            render.AgentDevice("desk5", "pw-desk", "Alice", webrtc=False, agent_id=5, company_id=1),
        ),
        trunks=(
            render.TrunkSpec(3, "Carrier", "203.0.113.7", 5070),
            render.TrunkSpec(4, "Over TLS", "203.0.113.8", 5061, transport="tls"),  # calls in from any port
        ),
        routes=(render.RouteSpec("trunk3", "+14045551301", "Ads", 2, 7, None),),
    )
    assert kamailio.edge_snapshot(snapshot) == kamailio.EdgeSnapshot(
        numbers=(("+14045551301", 2),),
        carriers=(("203.0.113.7:5070", "trunk3"), ("203.0.113.8", "trunk4")),
        phones=(("desk5", "pw-desk", 1),),  # browsers reach Asterisk through the app's relay, not the edge
    )


def test_files_are_private_and_only_changes_are_written(tmp_path):
    settings = config.load(env={**EDGE, "LEADCENTER_PATHS_DATA_DIR": str(tmp_path)})
    edge = kamailio.Edge(settings, "nobody-knows")
    assert edge.write(SNAPSHOT) == {
        "kamailio.cfg",
        "dispatcher.list",
        "tables/numbers",
        "tables/carriers",
        "tables/phones",
        "tables/phone_sets",
    }
    folder = tmp_path / "kamailio"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    numbers = folder / "tables" / "numbers"
    before = numbers.stat().st_mtime
    assert edge.write(SNAPSHOT) == set()
    fewer = kamailio.EdgeSnapshot(numbers=SNAPSHOT.numbers[:1], carriers=SNAPSHOT.carriers, phones=SNAPSHOT.phones)
    assert edge.write(fewer) == {"tables/numbers"}
    # db_text notices a table changed by its time in whole seconds: a rewrite within the second still looks newer.
    assert numbers.stat().st_mtime >= before + 1
    assert stat.S_IMODE(numbers.stat().st_mode) == 0o600


def test_the_ban_list_is_written_with_each_ban_s_end_and_never_rendered_over(tmp_path):
    assert (
        kamailio.render_bans({"203.0.113.9": 1796687357, "2001:db8::5": 1796687400})
        == (
            kamailio.DB_TEXT_COLUMNS + "\n"
            "1:2001\\:db8\\:\\:5:0:1:1:1796687400\n"  # db_text's separator escaped
            "2:203.0.113.9:0:1:1:1796687357\n"
        )
    )
    edge = kamailio.Edge(config.load(env={**EDGE, "LEADCENTER_PATHS_DATA_DIR": str(tmp_path)}), "x")
    edge.write(SNAPSHOT)
    assert edge.bans.read_text() == kamailio.DB_TEXT_COLUMNS + "\n"  # an empty list at first, for Kamailio to load
    assert stat.S_IMODE(os.stat(edge.bans).st_mode) == 0o600
    edge.bans.write_text(kamailio.render_bans({"203.0.113.9": 1796687357}))  # what stop kept
    edge.write(SNAPSHOT)
    assert "203.0.113.9" in edge.bans.read_text()


def test_what_changed_is_reloaded_over_rpc_and_the_script_is_not(tmp_path, monkeypatch):
    edge = kamailio.Edge(config.load(env={**EDGE, "LEADCENTER_PATHS_DATA_DIR": str(tmp_path)}), "x")
    asked = []
    monkeypatch.setattr(edge, "rpc", lambda *command, timeout=5.0: asked.append(command) or "ok")
    edge.reload({"kamailio.cfg", "dispatcher.list", "tables/numbers", "tables/phones"})
    assert asked == [("dispatcher.reload",), ("htable.reload", "numbers"), ("htable.reload", "phones")]
    monkeypatch.setattr(edge, "rpc", lambda *command, timeout=5.0: None)
    with pytest.raises(kamailio.KamailioError, match="did not reload tables/numbers"):
        edge.reload({"tables/numbers"})


LISTING = """{
\tNRSETS: 2
\tRECORDS: {
\t\tSET: {
\t\t\tID: 2
\t\t\tTARGETS: {
\t\t\t\tDEST: {
\t\t\t\t\tURI: sip:127.0.0.1:25060
\t\t\t\t\tFLAGS: AP
\t\t\t\t\tPRIORITY: 10
\t\t\t\t}
\t\t\t\tDEST: {
\t\t\t\t\tURI: sip:127.0.0.1:15060
\t\t\t\t\tFLAGS: IP
\t\t\t\t\tPRIORITY: 5
\t\t\t\t}
\t\t\t}
\t\t}
\t}
}
"""


def test_health_names_each_node_active_or_not_and_a_stopped_edge_down(tmp_path, monkeypatch):
    edge = kamailio.Edge(config.load(env={**EDGE, "LEADCENTER_PATHS_DATA_DIR": str(tmp_path)}), "x")
    assert edge.status() == {"state": "down"}  # not running: not even asked
    monkeypatch.setattr(edge, "pid", lambda: 4242)
    monkeypatch.setattr(edge, "rpc", lambda *command, timeout=5.0: LISTING if command == ("dispatcher.list",) else None)
    assert edge.status() == {
        "state": "running",
        "nodes": [{"uri": "sip:127.0.0.1:15060", "active": False}, {"uri": "sip:127.0.0.1:25060", "active": True}],
    }
    monkeypatch.setattr(edge, "rpc", lambda *command, timeout=5.0: None)  # running but not answering its socket
    assert edge.status() == {"state": "down"}


def test_behind_the_edge_asterisk_also_knows_a_trunk_by_kamailio_s_header():
    trunk = render.TrunkSpec(3, "Carrier", "203.0.113.7", 5070)
    alone = render.render_pjsip_endpoints(render.Snapshot(trunks=(trunk,)))
    behind = render.render_pjsip_endpoints(render.Snapshot(trunks=(trunk,), edge_address="127.0.0.1:5090"))
    identify = "[trunk3]\ntype = identify\nendpoint = trunk3\nmatch = 203.0.113.7:5070\n"
    assert identify in alone and "match_header" not in alone
    assert identify + "match_header = X-LC-Trunk: trunk3\n" in behind
    # That header is believed from Kamailio and the carrier only; alone, the address identifies the trunk.
    acl = "deny = 0.0.0.0/0.0.0.0,::/0\npermit = 127.0.0.1,203.0.113.7\n"
    assert "rtp_timeout = 60\n" + acl + "outbound_proxy = sip:127.0.0.1:5090\\;lr\n\n[trunk3]\ntype = aor\n" in behind
    assert "permit" not in alone and "outbound_proxy" not in alone
    registering = dataclasses.replace(trunk, registers=True, username="lc", password="pw")
    edge_v6 = render.Snapshot(trunks=(registering,), edge_address="[fd00::5]:5090")
    assert "permit" not in render.render_pjsip_endpoints(edge_v6)  # called at its contact from wherever
    ipv6 = dataclasses.replace(trunk, host="2001:db8::7")
    assert "permit = fd00::5,2001:db8::7\n" in render.render_pjsip_endpoints(
        dataclasses.replace(edge_v6, trunks=(ipv6,))
    )


def test_behind_the_edge_calls_to_a_carrier_known_by_its_address_leave_through_kamailio():
    """So the carrier sees one address, whichever node places the call; its qualify goes the same way. A trunk over
    TLS stays end to end (the node checks the carrier's certificate), and one that registers is its account's."""
    trunks = (
        render.TrunkSpec(3, "By address", "203.0.113.7", 5070),
        render.TrunkSpec(4, "Over TLS", "203.0.113.8", 5061, transport="tls"),
        render.TrunkSpec(5, "Registers", "203.0.113.9", 5060, registers=True, username="lc", password="pw"),
    )
    behind = render.render_pjsip_endpoints(render.Snapshot(trunks=trunks, edge_address="[fd00::5]:5090"))
    sections = config_sections(behind)
    proxied = [(s["name"], s["type"]) for s in sections if s.get("outbound_proxy") == "sip:[fd00::5]:5090\\;lr"]
    assert proxied == [("trunk3", "endpoint"), ("trunk3", "aor")]
    assert "outbound_proxy" not in render.render_pjsip_endpoints(render.Snapshot(trunks=trunks))


def test_behind_the_edge_a_desk_phone_is_reached_through_kamailio_and_a_browser_is_not():
    devices = (
        render.AgentDevice("desk7", "pw", "Alice", webrtc=False, agent_id=7, company_id=1),
        render.AgentDevice("webrtc7", "pw", "Alice", webrtc=True, agent_id=7, company_id=1),
    )
    alone = render.render_pjsip_endpoints(render.Snapshot(devices=devices, qualify_seconds=30))
    behind = render.render_pjsip_endpoints(
        render.Snapshot(devices=devices, qualify_seconds=30, edge_address="127.0.0.1:5090")
    )
    desk_aor = "[desk7]\ntype = aor\nmax_contacts = 1\nremove_existing = yes\nqualify_frequency = 30\n"
    assert desk_aor + "\n" in alone and "\ncontact =" not in alone
    assert desk_aor + "contact = sip:desk7@127.0.0.1:5090\nqualify_2xx_only = yes\n" in behind
    # Alone, Asterisk challenges the phone; behind the edge Kamailio has, and names the phone in a header that the
    # node believes from Kamailio's address only.
    desk_auth = "[desk7]\ntype = auth\nauth_type = userpass\nusername = desk7\npassword = pw\n"
    assert desk_auth in alone and "auth = desk7\n" in alone and "type = identify" not in alone
    assert "[desk7]\ntype = identify\nendpoint = desk7\nmatch_header = X-LC-Phone: desk7\n" in behind
    assert "auth = desk7\n" not in behind and desk_auth not in behind
    assert "deny = 0.0.0.0/0.0.0.0,::/0\npermit = 127.0.0.1\n" in behind
    assert "auth = webrtc7\n" in behind and "type = identify\nendpoint = webrtc7" not in behind  # via the relay
    assert behind.endswith("[webrtc7]\ntype = aor\nmax_contacts = 1\nremove_existing = yes\nqualify_frequency = 0\n")


def test_behind_an_ipv6_edge_a_desk_phone_is_taken_from_its_address():
    desk = render.AgentDevice("desk7", "pw", "Alice", webrtc=False, agent_id=7, company_id=1)
    behind = render.render_pjsip_endpoints(render.Snapshot(devices=(desk,), edge_address="[fd00::5]:5090"))
    assert "permit = fd00::5\n" in behind and "contact = sip:desk7@[fd00::5]:5090\n" in behind


def test_the_edge_secret_is_generated_with_the_others(tmp_path):
    from leadcenter import credentials

    generated = credentials.load_or_create(tmp_path)
    assert len(generated.edge_secret) >= 40
    assert credentials.load_or_create(tmp_path).edge_secret == generated.edge_secret
    assert stat.S_IMODE(os.stat(tmp_path / "secrets.toml").st_mode) == 0o600


TLS_EDGE = {**EDGE, "LEADCENTER_KAMAILIO_TLS_PORT": "5091"}


@pytest.mark.parametrize(
    "env,message",
    [
        ({"LEADCENTER_KAMAILIO_TLS_PORT": "5090"}, r"\[kamailio\] tls_port and port must differ \(both 5090\)"),
        (
            {"LEADCENTER_KAMAILIO_TLS_PORT": "5061"},  # Asterisk's own SIP over TLS, on the same 127.0.0.1
            r"\[kamailio\] tls_port 5061 is this installation's Asterisk's SIP over TLS port on the same address",
        ),
    ],
)
def test_bad_tls_ports_at_the_edge_get_clear_errors(env, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(env={**EDGE, **env})


def test_tls_at_the_edge_is_off_by_default_and_then_absent_from_the_script(tmp_path):
    settings = config.load(env=EDGE)
    assert settings.kamailio.tls_port == 0
    text = kamailio.render_cfg(settings, tmp_path, "x")
    assert "listen=tls" not in text and "tls.so" not in text
    assert "# SIP over TLS is off ([kamailio] tls_port = 0).\n" in text
    assert "tls.cfg" not in kamailio.render_files(settings, kamailio.EdgeSnapshot(), tmp_path, "x")
    # With Asterisk's own SIP over TLS elsewhere, 5061 at the edge is fine.
    moved = config.load(env={**EDGE, "LEADCENTER_KAMAILIO_TLS_PORT": "5061", "LEADCENTER_ASTERISK_SIP_TLS_PORT": "0"})
    assert moved.kamailio.tls_port == 5061


def test_with_a_tls_port_the_edge_listens_on_it_with_the_sip_certificate_over_tls_1_2_and_later(tmp_path):
    settings = config.load(env=TLS_EDGE)
    text = kamailio.render_cfg(settings, tmp_path, "x")
    assert "listen=udp:127.0.0.1:5090\nlisten=tcp:127.0.0.1:5090\nlisten=tls:127.0.0.1:5091\n" in text
    assert f'enable_tls=yes\nloadmodule "tls.so"\nmodparam("tls", "config", "{tmp_path}/tls.cfg")\n' in text
    # A phone's connection outlives its longest registration; the nodes reach it where its REGISTER came from.
    assert "tcp_connection_lifetime=3605\n" in text
    assert '\tfix_nated_register();\n\tif (!save("location")) {' in text
    certificate = (tmp_path / "sip.crt", tmp_path / "sip.key")
    files = kamailio.render_files(settings, kamailio.EdgeSnapshot(), tmp_path, "x", certificate)
    assert files["tls.cfg"] == (
        "# Rendered by Lead Center from [kamailio] tls_port and [asterisk] sip_certificate / sip_private_key.\n"
        "[server:default]\n"
        "method = TLSv1.2+\n"
        "verify_certificate = no\n"
        "require_certificate = no\n"
        f"certificate = {tmp_path}/sip.crt\n"
        f"private_key = {tmp_path}/sip.key\n"
        "\n"
        "[client:default]\n"
        "method = TLSv1.2+\n"
        "verify_certificate = yes\n"
        "require_certificate = yes\n"
    )
    with pytest.raises(kamailio.KamailioError, match="tls_port needs SIP over TLS's certificate and key"):
        kamailio.render_files(settings, kamailio.EdgeSnapshot(), tmp_path, "x")


def test_the_edge_s_tls_uses_the_configured_sip_certificate_or_the_generated_one_and_its_file_is_private(tmp_path):
    configured = {
        "LEADCENTER_ASTERISK_SIP_CERTIFICATE": "/etc/lc/sip.pem",
        "LEADCENTER_ASTERISK_SIP_PRIVATE_KEY": "/etc/lc/sip.key",
    }
    secrets = Secrets("a", "b", "c", edge_secret="e")
    edge = asterisk_config.edge(config.load(env={**TLS_EDGE, **configured}), secrets)
    assert edge is not None and edge.certificate == (Path("/etc/lc/sip.pem"), Path("/etc/lc/sip.key"))
    # None configured: the self-signed pair Asterisk's SIP over TLS uses, good for Kamailio's address too.
    settings = config.load(
        env={**TLS_EDGE, "LEADCENTER_KAMAILIO_LISTEN_HOST": "10.0.0.5", "LEADCENTER_PATHS_DATA_DIR": str(tmp_path)}
    )
    edge = asterisk_config.edge(settings, secrets)
    assert edge is not None and edge.certificate == asterisk_config.sip_certificate_files(settings)
    assert edge.certificate[0] == tmp_path / "tls" / "sip-self-signed.crt"
    names = subprocess.run(
        ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(edge.certificate[0])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "IP Address:10.0.0.5" in names and "IP Address:127.0.0.1" in names
    assert "tls.cfg" in edge.write(kamailio.EdgeSnapshot())
    assert stat.S_IMODE((tmp_path / "kamailio" / "tls.cfg").stat().st_mode) == 0o600
    assert kamailio.RELOADS["tls.cfg"] == ("tls.reload",)
