"""TURN for browser agents: the [turn] settings, the shared secret, the credentials (coturn's shared-secret REST
scheme) and the turnserver.conf rendered for coturn (see tests/integration/test_turn_relay.py for a call through it)."""

import datetime as dt
import stat
from pathlib import Path

import pytest

from leadcenter import config, credentials, turn


def test_a_credential_is_the_expiry_and_who_signed_with_the_secret():
    issued = turn.credential("north", "agent7", dt.datetime(2025, 11, 27, 8), dt.timedelta(hours=1))
    # openssl dgst -sha1 -hmac north -binary <<< "1764234000:agent7" (no newline) | base64
    assert issued == turn.TurnCredential(
        "1764234000:agent7", "V7nZ4cPn7s3YOxEzUZwGZu2pJyU=", dt.datetime(2025, 11, 27, 9)
    )


def test_turn_is_off_by_default():
    settings = config.load(env={})
    assert not settings.turn.enabled
    assert (settings.turn.serve, settings.turn.relay_only, settings.turn.credential_seconds) == (False, False, 3600)


def test_urls_are_a_list_as_browsers_take_them():
    settings = config.load(
        env={"LEADCENTER_TURN_URLS": " turn:t.example:3478?transport=udp,turns:t.example:443?transport=tcp ,"}
    )
    assert settings.turn.url_list == ("turn:t.example:3478?transport=udp", "turns:t.example:443?transport=tcp")


@pytest.mark.parametrize(
    "env,message",
    [
        ({"LEADCENTER_TURN_URLS": "https://t.example"}, "must start with turn:, turns: or stun:"),
        ({"LEADCENTER_TURN_CREDENTIAL_SECONDS": "5"}, "at least 60"),
        ({"LEADCENTER_TURN_RELAY_PORT_START": "5000", "LEADCENTER_TURN_RELAY_PORT_END": "4000"}, "a range of ports"),
        # coturn's peer lists take addresses: a host name must be spelled out as [turn] peers
        ({"LEADCENTER_TURN_SERVE": "true", "LEADCENTER_ASTERISK_SIP_HOST": "pbx.example"}, r"\[turn\] peers:"),
        ({"LEADCENTER_TURN_SERVE": "true", "LEADCENTER_TURN_PEERS": "10.0.0.5, nowhere"}, r"\[turn\] peers:"),
    ],
)
def test_bad_turn_settings_get_clear_errors(env, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(env=env)


def test_the_relay_reaches_asterisks_media_addresses_only():
    settings = config.load(
        env={
            "LEADCENTER_ASTERISK_MEDIA_ADDRESS": "192.0.2.10",
            "LEADCENTER_ASTERISK_ICE_HOST_CANDIDATES": "10.1.0.2=>192.0.2.10,10.1.0.3=>198.51.100.7",
        }
    )
    assert config.turn_peers(settings) == ("192.0.2.10", "198.51.100.7")
    assert config.turn_peers(config.load(env={})) == ("127.0.0.1",)  # sip_host, when there is no media address
    named = config.load(env={"LEADCENTER_TURN_PEERS": "203.0.113.4, 2001:db8::4"})
    assert config.turn_peers(named) == ("203.0.113.4", "2001:db8::4")


def test_behind_kamailio_the_relay_reaches_every_node_s_media():
    """Nodes on hosts of their own: a browser agent's call may be on any of them (each node's media on its SIP
    address, as Asterisk's default is)."""
    edge = {
        "LEADCENTER_KAMAILIO_ENABLED": "true",
        "LEADCENTER_KAMAILIO_LISTEN_HOST": "10.0.0.1",
        "LEADCENTER_ASTERISK_SIP_HOST": "10.0.0.11",
        "LEADCENTER_KAMAILIO_NODES": "a=10.0.0.11:5060/5038/8088, b=10.0.0.12:5060/5038/8088",
    }
    assert config.turn_peers(config.load(env=edge)) == ("10.0.0.11", "10.0.0.12")
    chosen = config.load(env={**edge, "LEADCENTER_TURN_PEERS": "10.0.1.11, 10.0.1.12"})
    assert config.turn_peers(chosen) == ("10.0.1.11", "10.0.1.12")
    rendered = turn.render_conf(config.load(env=edge), "secret", turn.TurnFiles(Path("/srv/turn")))
    assert "allowed-peer-ip=10.0.0.11\nallowed-peer-ip=10.0.0.12\n" in rendered
    with pytest.raises(config.ConfigError, match=r"\[turn\] peers:"):  # coturn's lists take addresses, not names
        config.load(env={**edge, "LEADCENTER_TURN_SERVE": "true", "LEADCENTER_KAMAILIO_NODES": "a=pbx-b.example:5060"})


def test_the_secret_is_generated_once_privately_unless_set(tmp_path):
    generated = credentials.load_or_create(tmp_path)
    path = tmp_path / "secrets.toml"
    assert len(generated.turn_secret) >= 40 and f'turn_secret = "{generated.turn_secret}"' in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials.load_or_create(tmp_path) == generated
    assert credentials.turn_secret(config.load(env={}), generated) == generated.turn_secret
    chosen = config.load(env={"LEADCENTER_TURN_SECRET": "shared-with-a-coturn-elsewhere"})
    assert credentials.turn_secret(chosen, generated) == "shared-with-a-coturn-elsewhere"
    assert 'secret = "(set)"' in config.describe(chosen)  # `leadcenter config` output gets pasted into tickets


def test_an_installation_from_before_turn_gets_its_secret_and_keeps_the_others(tmp_path):
    (tmp_path / "secrets.toml").write_text('ami_secret = "a"\nari_secret = "b"\nsession_key = "k"\n')
    kept = credentials.load_or_create(tmp_path)
    assert (kept.ami_secret, kept.ari_secret, kept.session_key) == ("a", "b", "k") and kept.turn_secret


FILES = turn.TurnFiles(Path("/srv/lc/turn"), Path("/srv/lc/tls/cert.pem"), Path("/srv/lc/tls/key.pem"))


def test_coturn_config_for_a_server_on_the_internet():
    settings = config.load(
        env={
            "LEADCENTER_TURN_URLS": "turn:turn.example:3478?transport=udp, turns:turn.example:443?transport=tcp",
            "LEADCENTER_TURN_REALM": "acme",
            "LEADCENTER_TURN_LISTEN_HOST": "203.0.113.4",
            "LEADCENTER_TURN_TLS_PORT": "443",
            "LEADCENTER_TURN_RELAY_PORT_START": "40000",
            "LEADCENTER_TURN_RELAY_PORT_END": "40999",
            "LEADCENTER_ASTERISK_MEDIA_ADDRESS": "10.1.0.2",
        }
    )
    assert turn.render_conf(settings, "s3cret", FILES) == (
        "# Rendered by Lead Center from [turn] at each start: edit leadcenter.toml, not this file.\n"
        "realm=acme\n"
        "use-auth-secret\n"
        "static-auth-secret=s3cret\n"
        "fingerprint\n"
        "listening-ip=203.0.113.4\n"
        "listening-port=3478\n"
        "tls-listening-port=443\n"
        "cert=/srv/lc/tls/cert.pem\n"
        "pkey=/srv/lc/tls/key.pem\n"
        "no-tlsv1\n"
        "no-tlsv1_1\n"
        "no-dtls\n"
        "min-port=40000\n"
        "max-port=40999\n"
        "no-cli\n"
        "no-multicast-peers\n"
        "denied-peer-ip=0.0.0.0-255.255.255.255\n"
        "denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n"
        "allowed-peer-ip=10.1.0.2\n"
        "proc-user=turnserver\n"
        "proc-group=turnserver\n"
        "pidfile=/srv/lc/turn/turnserver.pid\n"
        "log-file=stdout\n"
        "simple-log\n"
    )


def test_coturn_config_without_tls_relaying_to_asterisk_on_loopback():
    settings = config.load(
        env={"LEADCENTER_TURN_URLS": "turn:198.18.5.1:443?transport=tcp", "LEADCENTER_TURN_PORT": "443"}
    )
    conf = turn.render_conf(settings, "s3cret", turn.TurnFiles(Path("/srv/lc/turn")))
    lines = conf.splitlines()
    assert (
        "listening-port=443" in lines
        and "no-tls" in lines
        and not any(line.startswith("listening-ip") for line in lines)
    )
    assert not any(line.startswith(("tls-listening-port", "cert=", "pkey=")) for line in lines)
    # Asterisk on this machine's loopback: coturn refuses loopback peers unless told
    assert lines[lines.index("allowed-peer-ip=127.0.0.1") + 1] == "allow-loopback-peers"
    # never the CLI, never anonymous relays, never a relay to anything but Asterisk
    assert "no-cli" in lines and "use-auth-secret" in lines and "no-auth" not in lines
    assert [line for line in lines if line.startswith("allowed-peer-ip")] == ["allowed-peer-ip=127.0.0.1"]


def test_the_shell_will_not_start_coturn_without_turn_and_stops_only_its_own(tmp_path):
    from click.testing import CliRunner

    from leadcenter.cli import main

    env = {"LEADCENTER_PATHS_DATA_DIR": str(tmp_path / "var")}
    refused = CliRunner(env=env).invoke(main, ["turn", "start"])
    assert refused.exit_code == 1 and "TURN is off: set [turn] urls" in refused.output
    stopped = CliRunner(env=env).invoke(main, ["turn", "stop"])
    assert (stopped.exit_code, stopped.output) == (0, "TURN was not running.\n")
