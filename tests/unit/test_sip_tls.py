"""SIP over TLS's certificate: the configured pair or a generated self-signed one, copied where the chrooted
Asterisk reads it, the key private to Asterisk's account (tests/integration/test_sip_tls.py: phones over TLS)."""

import stat
import subprocess
from pathlib import Path

import pytest

from leadcenter import asterisk_config, certificates, config
from leadcenter.pbx import render
from leadcenter.pbx.process import Instance


def _settings(tmp_path, **env):
    return config.load(env={"LEADCENTER_PATHS_DATA_DIR": str(tmp_path / "var"), **env})


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_self_signed_certificate_for_the_sip_host_is_generated_once_and_installed_for_asterisk(tmp_path):
    settings = _settings(tmp_path, LEADCENTER_ASTERISK_SIP_HOST="192.0.2.7")
    instance = Instance(tmp_path / "var" / "asterisk", tmp_path, external=True)  # external: Asterisk runs as root
    asterisk_config.install_sip_certificate(settings, instance)
    generated = tmp_path / "var" / "tls" / "sip-self-signed.crt"
    shown = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", generated],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "IP Address:192.0.2.7" in shown and "IP Address:127.0.0.1" in shown
    assert _mode(tmp_path / "var" / "tls" / "sip-self-signed.key") == 0o600
    certificate, key = instance.dir / render.SIP_CERTIFICATE, instance.dir / render.SIP_PRIVATE_KEY
    assert certificate.read_bytes() == generated.read_bytes()
    assert key.read_bytes() == (tmp_path / "var" / "tls" / "sip-self-signed.key").read_bytes()
    assert (_mode(key), _mode(certificate)) == (0o600, 0o640)
    installed = key.stat().st_ino
    asterisk_config.install_sip_certificate(settings, instance)  # every render: nothing changed, nothing written
    assert key.stat().st_ino == installed and generated.read_bytes() == certificate.read_bytes()


def test_a_configured_certificate_is_installed_and_a_new_one_replaces_it(tmp_path):
    (tmp_path / "site.crt").write_text("certificate one")
    (tmp_path / "site.key").write_text("key one")
    settings = _settings(
        tmp_path,
        LEADCENTER_ASTERISK_SIP_CERTIFICATE=str(tmp_path / "site.crt"),
        LEADCENTER_ASTERISK_SIP_PRIVATE_KEY=str(tmp_path / "site.key"),
    )
    instance = Instance(tmp_path / "var" / "asterisk", tmp_path, external=True)
    instance.dir.mkdir(parents=True)  # as Instance.prepare makes it
    asterisk_config.install_sip_certificate(settings, instance)
    (tmp_path / "site.key").write_text("key two")  # renewed
    asterisk_config.install_sip_certificate(settings, instance)
    assert (instance.dir / render.SIP_PRIVATE_KEY).read_text() == "key two"
    assert (instance.dir / render.SIP_CERTIFICATE).read_text() == "certificate one"
    assert not (tmp_path / "var" / "tls").exists()  # nothing generated, nothing else read


def test_sip_over_tls_off_installs_nothing(tmp_path):
    instance = Instance(tmp_path / "var" / "asterisk", tmp_path, external=True)
    asterisk_config.install_sip_certificate(_settings(tmp_path, LEADCENTER_ASTERISK_SIP_TLS_PORT="0"), instance)
    assert not (tmp_path / "var").exists()


def test_trunks_over_tls_are_checked_against_the_system_s_authorities_or_the_configured_ones(tmp_path):
    instance = Instance(tmp_path / "var" / "asterisk", tmp_path, external=True)
    asterisk_config.install_sip_certificate(_settings(tmp_path), instance)
    installed = instance.dir / render.TRUNK_AUTHORITIES
    assert installed.read_bytes() == Path(certificates.SYSTEM_AUTHORITIES).read_bytes()
    assert _mode(installed) == 0o640
    (tmp_path / "carriers-ca.pem").write_text("the carrier's authority")
    configured = _settings(tmp_path, LEADCENTER_ASTERISK_TRUNK_AUTHORITIES=str(tmp_path / "carriers-ca.pem"))
    asterisk_config.install_sip_certificate(configured, instance)
    assert installed.read_text() == "the carrier's authority"
    with pytest.raises(config.ConfigError, match=r"\[asterisk\] trunk_authorities: no file /nowhere/ca.pem"):
        _settings(tmp_path, LEADCENTER_ASTERISK_TRUNK_AUTHORITIES="/nowhere/ca.pem")


def test_a_certificate_without_its_key_is_a_configuration_error(tmp_path):
    with pytest.raises(config.ConfigError, match="sip_certificate and sip_private_key go together"):
        _settings(tmp_path, LEADCENTER_ASTERISK_SIP_CERTIFICATE=str(tmp_path / "site.crt"))


def test_sip_over_tls_listens_on_the_sip_host_by_default():
    asterisk = config.load(env={}).asterisk
    assert (asterisk.sip_host, asterisk.sip_tls_port) == ("127.0.0.1", 5061)


def test_desk_srtp_is_optional_or_required():
    assert config.load(env={}).asterisk.desk_srtp == "optional"
    assert config.load(env={"LEADCENTER_ASTERISK_DESK_SRTP": "required"}).asterisk.desk_srtp == "required"
    with pytest.raises(config.ConfigError, match="desk_srtp must be one of optional, required, not 'always'"):
        config.load(env={"LEADCENTER_ASTERISK_DESK_SRTP": "always"})
