"""The production compose file and its images agree with the code: this machine has no Docker engine to run them,
so what can drift silently (a renamed setting, the RTP range, where each service mounts the shared instance
directory) is checked here."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from leadcenter import config
from leadcenter.cli import main
from leadcenter.pbx.provision import MOUNT

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def image_environment() -> dict[str, str]:
    """The LEADCENTER_* variables the leadcenter image sets with ENV."""
    text = (ROOT / "docker/leadcenter/Dockerfile").read_text()
    return dict(re.findall(r"\b(LEADCENTER_\w+)=(\S+)", text))


def service_environment(compose: dict, dotenv: dict[str, str] | None = None) -> dict[str, str]:
    """What the leadcenter service's controller sees: the image's ENV, then compose's, each ${VAR:-default} from
    ``dotenv`` (what an operator's .env file sets) or its default."""
    values = image_environment()
    for name, value in compose["services"]["leadcenter"]["environment"].items():
        values[name] = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: (dotenv or {}).get(m.group(1), m.group(2)), str(value))
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
    assert published == [
        (
            f"{settings.asterisk.rtp_start}-{settings.asterisk.rtp_end}:"
            f"{settings.asterisk.rtp_start}-{settings.asterisk.rtp_end}/udp"
        )
    ]


def test_both_services_share_the_instance_directory_where_each_expects_it(compose):
    settings = config.load(env=service_environment(compose))
    mounts = {
        service: dict(reversed(v.split(":")[:2]) for v in compose["services"][service]["volumes"])
        for service in ("leadcenter", "asterisk")
    }
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


def test_texting_is_configured_from_the_operators_env_file_and_off_without_it(compose):
    assert config.load(env=service_environment(compose)).smpp.host == ""  # off until configured
    dotenv = {
        "SMPP_HOST": "smpp.provider.example",
        "SMPP_PORT": "2776",
        "SMPP_SYSTEM_ID": "acme",
        "SMPP_PASSWORD": "s3cret",
        "SMPP_SYSTEM_TYPE": "vma",
        "SMPP_NUMBERS": "+14045550100,+14045550101",
    }
    smpp = config.load(env=service_environment(compose, dotenv)).smpp
    assert (smpp.host, smpp.port, smpp.system_id, smpp.password, smpp.system_type, smpp.numbers) == (
        "smpp.provider.example",
        2776,
        "acme",
        "s3cret",
        "vma",
        "+14045550100,+14045550101",
    )
    # The secret comes from outside: the compose file names it, never holds it.
    assert compose["services"]["leadcenter"]["environment"]["LEADCENTER_SMPP_PASSWORD"] == "${SMPP_PASSWORD:-}"


def test_postgresql_and_a_second_web_node_are_options_off_by_default(compose):
    """`docker compose up` runs Asterisk and the controller as before; the profiles add PostgreSQL (postgresql) and
    a second web node with it (nodes)."""
    services = compose["services"]
    assert {name for name, service in services.items() if "profiles" not in service} == {"leadcenter", "asterisk"}
    assert set(services["postgres"]["profiles"]) == {"postgresql", "nodes"}
    assert services["web2"]["profiles"] == ["nodes"] and services["web2"]["depends_on"] == ["postgres"]
    assert config.load(env=service_environment(compose)).database.url == ""  # SQLite until DATABASE_URL is set


def test_the_database_url_and_its_password_come_from_the_operators_env_file(compose):
    url = "postgresql://leadcenter:pw@postgres:5432/leadcenter"
    assert config.load(env=service_environment(compose, {"DATABASE_URL": url})).database.url == url
    postgres = compose["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-}"  # named, never held
    assert (postgres["environment"]["POSTGRES_USER"], postgres["environment"]["POSTGRES_DB"]) == (
        "leadcenter",
        "leadcenter",
    )
    assert "ports" not in postgres  # the compose network's services only
    assert urlsplit(url).hostname in compose["services"]  # the example names the service


def test_the_second_web_node_is_the_controller_s_image_and_settings_as_a_web_node(compose):
    """Same image, settings and data volume (its secrets.toml signs every node's sessions), run --web-only, on
    ports of its own, its plain HTTP on this machine only."""
    controller, web = compose["services"]["leadcenter"], compose["services"]["web2"]
    assert web["build"] == controller["build"] and web["environment"] == controller["environment"]
    assert web["volumes"] == controller["volumes"]
    assert web["command"] == ["leadcenter", "run", "--web-only"]
    assert "command" not in controller  # the image's: leadcenter run, the controller node
    published = {port.rsplit(":", 2)[-2] for port in controller["ports"] + web["ports"]}
    assert len(published) == len(controller["ports"] + web["ports"])  # no host port twice
    assert "127.0.0.1:8081:8080" in web["ports"]
    assert "--web-only" in {option for param in main.commands["run"].params for option in param.opts}


# Every program the code runs, and where it must be installed. In the compose deployment the leadcenter image runs
# the controller with Asterisk in its own image (asterisk.external), so the tools that build and run the local
# Asterisk root, and the demo caller, are for `make run` on a machine (the Makefile's packages) only.
TOOLS = {
    "openssl": ("openssl", "image"),  # the self-signed certificate (web/https.py)
    "sox": ("sox", "image"),  # greeting and notice uploads (prompts/audio.py)
    "sipp": ("sip-tester", "machine"),  # `leadcenter demo call`: the demo carrier on this machine
    "unshare": ("util-linux", "machine"),  # the local Asterisk's private mount namespace
    "chroot": ("coreutils", "machine"),  # the local Asterisk root
    "debootstrap": ("debootstrap", "machine"),  # building the Asterisk root
    # The SIP edge in front of the Asterisk nodes ([kamailio] enabled): `leadcenter run` on a machine only (the
    # compose deployment has no Kamailio service).
    "kamailio": ("kamailio", "machine"),
    "kamcmd": ("kamailio", "machine"),  # its RPC: the live reloads
}
RUNNERS = {"run", "Popen", "check_call", "check_output", "call", "execvp", "_run"}


def programs_the_code_runs() -> set[str]:
    """The first word of every command list given to subprocess / os.exec* (or a helper that passes it on, or
    returned by a function that builds one), and every name given to shutil.which."""
    found = set()
    for source in (ROOT / "leadcenter").rglob("*.py"):
        tree = ast.parse(source.read_text())
        builders = {
            f.name: r.value
            for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef)
            for r in ast.walk(f)
            if isinstance(r, ast.Return) and isinstance(r.value, ast.List)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "which" and node.args and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
            if name not in RUNNERS or not node.args:
                continue
            command = node.args[0]
            if isinstance(command, ast.Call):  # self._chrooted(...): the list its function returns
                command = builders.get(getattr(command.func, "attr", getattr(command.func, "id", "")))
            if isinstance(command, ast.List) and command.elts and isinstance(command.elts[0], ast.Constant):
                found.add(Path(command.elts[0].value).name)
    return found


def image_packages() -> set[str]:
    text = (ROOT / "docker/leadcenter/Dockerfile").read_text()
    return {
        word
        for install in re.findall(r"apt-get install([^&]*)", text)  # up to the next &&
        for word in install.replace("\\", " ").split()
        if not word.startswith("-")
    }


def test_every_program_the_code_runs_is_installed_where_it_runs():
    programs = programs_the_code_runs()
    assert {"openssl", "sox", "sipp", "unshare", "chroot"} <= programs  # the scan finds them
    assert programs - set(TOOLS) == set(), "say in TOOLS where each new program must be installed"
    packages = image_packages()
    assert {"python3", "openssl", "sox"} <= packages
    for program, (package, where) in TOOLS.items():
        if where == "image":
            assert package in packages, f"{program}: add {package} to docker/leadcenter/Dockerfile"
    machine = set(
        re.search(r"SYSTEM_PACKAGES := ((?:[^\n]*\\\n)*[^\n]*)", (ROOT / "Makefile").read_text())
        .group(1)
        .replace("\\", " ")
        .split()
    )
    for program, (package, _) in TOOLS.items():
        assert package in machine | {"coreutils"}, f"{program}: add {package} to the Makefile's SYSTEM_PACKAGES"
