"""The production compose file and its images agree with the code: this machine has no Docker engine to run them,
so what can drift silently (a renamed setting, the RTP range, where each service mounts the shared instance
directory) is checked here."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from leadcenter import config
from leadcenter.pbx.root import MOUNT

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def image_environment() -> dict[str, str]:
    """The LEADCENTER_* variables the leadcenter image sets with ENV."""
    text = (ROOT / "docker/leadcenter/Dockerfile").read_text()
    return dict(re.findall(r"\b(LEADCENTER_\w+)=(\S+)", text))


def service_environment(compose: dict) -> dict[str, str]:
    """What the leadcenter service's controller sees: the image's ENV, then compose's (with ${VAR:-default})."""
    values = image_environment()
    for name, value in compose["services"]["leadcenter"]["environment"].items():
        values[name] = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))
    return values


def test_every_variable_names_a_setting_and_the_controller_accepts_them(compose):
    environment = service_environment(compose)
    assert set(environment) - config.environment_names() == set()
    settings = config.load(env=environment)
    assert settings.asterisk.external  # Asterisk is the other service: `leadcenter run` does not start one
    assert (settings.http.host, settings.http.https_host) == ("0.0.0.0", "0.0.0.0")
    assert settings.asterisk.host == "asterisk"  # the service name on the compose network


def test_the_published_rtp_range_is_the_configured_one(compose):
    settings = config.load(env=service_environment(compose))
    published = [p for p in compose["services"]["asterisk"]["ports"] if p.endswith("/udp") and "-" in p]
    assert published == [f"{settings.asterisk.rtp_start}-{settings.asterisk.rtp_end}:"
                         f"{settings.asterisk.rtp_start}-{settings.asterisk.rtp_end}/udp"]


def test_both_services_share_the_instance_directory_where_each_expects_it(compose):
    settings = config.load(env=service_environment(compose))
    mounts = {service: dict(reversed(v.split(":")[:2]) for v in compose["services"][service]["volumes"])
              for service in ("leadcenter", "asterisk")}
    # The controller renders into <data_dir>/asterisk; Asterisk reads the same volume at the root's MOUNT, the
    # path the rendered configuration names.
    assert mounts["leadcenter"][str(settings.asterisk_dir)] == mounts["asterisk"][MOUNT] == "asterisk-instance"
    assert mounts["leadcenter"][str(settings.data_dir)] == "leadcenter-data"
    entrypoint = (ROOT / "docker/asterisk/entrypoint.sh").read_text()
    assert f"conf={MOUNT}/etc/asterisk.conf" in entrypoint


def test_ami_and_ari_are_not_published(compose):
    settings = config.load(env=service_environment(compose))
    published = " ".join(str(p) for s in compose["services"].values() for p in s.get("ports", []))
    for port in (settings.asterisk.ami_port, settings.asterisk.http_port):
        assert f":{port}" not in published and not published.startswith(f"{port}:")
    assert "127.0.0.1:8080:8080" in compose["services"]["leadcenter"]["ports"]  # plain HTTP: this machine only
