"""Fixtures: the real system (see harness.py), started once per session and brought back up when a test
left a part of it down."""
import pytest
from harness import System, add_ice_interface
from sipp import Peers

from leadcenter import db


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    system = System(tmp_path_factory.mktemp("leadcenter"))
    system.browser_media = add_ice_interface()
    system.cli("demo")
    # The test process reads the same database the controller writes (SQLite in WAL mode).
    db.bind(db.open_sqlite(str(system.settings.database_path)))
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
