"""Fixtures: the real system (see harness.py), started once per session and brought back up when a test
left a part of it down. With pytest-xdist (`make test` runs three workers, a test file each at a time), each worker
gets a network namespace of its own, so that the systems of two workers, on the same fixed ports, never meet."""

import ctypes
import os
import subprocess

import browser
import durations
import postgresql
import pytest
from harness import SECOND_SMSC_PORT, System, add_ice_interface, set_ring_device, wait_for
from mailserver import SENDER, MailServer
from peer import SmscPeer
from sipp import Peers

from leadcenter import db

CLONE_NEWNET = 0x40000000


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _own_network_namespace()


def pytest_collection_modifyitems(items):
    """The longest files first (durations.py; a file not recorded yet counts as the median), each file's tests in
    their order: xdist (--no-loadscope-reorder) hands them out in this order, a file per worker at a time."""
    seconds = durations.recorded()
    typical = sorted(seconds.values())[len(seconds) // 2] if seconds else 0.0
    items.sort(key=lambda item: -seconds.get(item.path.name, typical))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report ends with the controller's log and what its browser tabs logged and asked: a failure
    seen once on a loaded machine is explained from the report, not by running it again."""
    report = (yield).get_result()
    if report.when == "setup":
        browser.TRANSCRIPT.clear()
    if report.when == "call" and report.failed:
        system = item.funcargs.get("running") or item.funcargs.get("system")
        if system is not None:
            report.sections.append(("controller log (last 150 lines)", system.log_tail(150)))
        if browser.TRANSCRIPT:
            report.sections.append(("browser tabs", "\n".join(browser.TRANSCRIPT)))


def _own_network_namespace() -> None:
    """This worker (and what it starts) in a new network namespace with its loopback up: the suite's parts listen on
    fixed ports. Called before the worker opens any socket; threads it starts later inherit it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET): the integration workers need root")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


@pytest.fixture(scope="session")
def database_url(request):
    """The installation's [database] url: none (SQLite in its data directory), or with LEADCENTER_TEST_DATABASE=
    postgresql a database on the worker's throw-away PostgreSQL server (tests/conftest.py: a unix socket only)."""
    if postgresql.engine() != "postgresql":
        return ""
    return request.getfixturevalue("postgresql_cluster").create_database("installation")


@pytest.fixture(scope="session")
def system(tmp_path_factory, database_url):
    system = System(tmp_path_factory.mktemp("leadcenter"), database_url=database_url)
    system.browser_media = add_ice_interface()
    system.cli("demo")
    for agent in ("1", "2"):  # the suite's SIPp desk phones answer for the demo agents (test_agent_app: browsers)
        system.cli("agent", "ring", agent, "desk")
    db.bind(system.open_database())  # the test process reads the database the controller writes
    system.start_asterisk()
    system.start_controller()
    yield system
    system.stop_controller()
    system.stop_asterisk()


@pytest.fixture
def running(system):
    """The system, brought back up if an earlier test left a part of it down."""
    if system.instance.pid() is None:
        system.start_asterisk()
    if system.controller is None or system.controller.poll() is not None:
        system.start_controller()
    system.wait_healthy(15)
    system.all_available()  # a queue call leaves its agent in wrap-up: each test starts with everyone back
    yield system
    # A SIPp peer killed mid-call sends no BYE: its call would hold an agent into the next test.
    system.instance.rx("channel request hangup all")


@pytest.fixture
def peers(running, tmp_path):
    """The test's SIP peers (desk phones, callers on the demo trunk), stopped when the test ends."""
    peers = Peers(running, tmp_path)
    yield peers
    peers.close()


@pytest.fixture(scope="module")
def smsc(system):
    """The test SMSC (npm `smpp` in server mode) the controller binds to."""
    peer = SmscPeer(system.settings.smpp.port).start()
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def second_smsc(system):
    """The SMSC the controller sends the Website line's texts to (see harness.CONFIG)."""
    peer = SmscPeer(SECOND_SMSC_PORT).start()
    yield peer
    peer.stop()


@pytest.fixture
def texting(running, smsc, second_smsc):
    """The system with its SMPP binds up to both test SMSCs, every receipt DELIVRD, nothing throttled."""
    if smsc.process.poll() is not None:  # a test killed it
        smsc.start()
    smsc.command(cmd="receipts", stat="DELIVRD")
    smsc.command(cmd="throttle", count=0)
    wait_for(lambda: running.sms_health().get("state") == "bound", 10, what="the SMPP binds")
    yield running


@pytest.fixture
def emailing(running):
    """The system restarted with email on, through the test's SMTP server (links in emails point at the system's
    own URL); restarted as it was at the end. Yields (system, the SMTP server)."""
    with MailServer() as smtp:
        running.stop_controller()
        running.start_controller(
            LEADCENTER_SMTP_HOST="127.0.0.1",
            LEADCENTER_SMTP_PORT=str(smtp.port),
            LEADCENTER_SMTP_SECURITY="none",
            LEADCENTER_SMTP_FROM_ADDRESS=f"Lead Center <{SENDER}>",
            LEADCENTER_SMTP_APP_URL=f"{running.url}/",
        )
        running.all_available()
        try:
            yield running, smtp
        finally:
            running.stop_controller()
            running.start_controller()


@pytest.fixture(scope="module")
def softphones(system):
    """For the module that asks, the demo agents ring on their browser softphones (their desk phones otherwise)."""
    if not system.browser_media:
        pytest.skip("browser calls need the private network namespace `make test` runs in")
    set_ring_device(system, "webrtc")
    yield system
    set_ring_device(system, "desk")
