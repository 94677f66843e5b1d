"""Every Asterisk node's files rendered for it (issue 18, item 1): behind Kamailio, node b's files are rendered by
`leadcenter asterisk follow` only (tests/integration/edge_nodes.py's NodeFollower; the test never renders them), over
the installation's PostgreSQL database. An admin's change through the API (a tracking number of Beta Plumbing,
whose home is node b) reaches node b: a carrier's call to the new number through Kamailio is answered on node b; the
controller's /healthz says which generation node b applied; a follower started again after a change it missed
catches up (its Asterisk reloaded, not restarted); a node whose Asterisk does not answer says why in its follower's log
and the controller's /healthz, and loads the change once it answers."""

from __future__ import annotations

import contextlib
import os
import signal

import httpx
import postgresql
import pytest
from browser import CHROMIUM, Browser
from edge_nodes import B_TRUNK_PORT, EDGE_PORT, NODE_B, WORLD, Edge, NodeFollower, edge_system
from harness import run_installation, wait_for
from sipp import SippCaller

from leadcenter.accounts.models import User
from leadcenter.agents.models import Agent

B_LINE, NEW_B_LINE, LATE_B_LINE, STALLED_B_LINE = "+14045551601", "+14045551602", "+14045551603", "+14045551604"
NEW_B_CALLER = "+14045551611"
BETA_ADMIN, BETA_PASSWORD = "admin@beta.example", "beta-admin-password-1601"
BETA_AGENT = "bea@beta.example"


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    folder = tmp_path_factory.mktemp("follow")
    with postgresql.Cluster() as cluster, contextlib.ExitStack() as stack:
        system = edge_system(folder, stack, database_url=cluster.create_database("lc"))
        system.cli("number", "add", "--company", "2", B_LINE, "Beta line", "--trunk", "2")
        system.cli(
            "user", "add", BETA_ADMIN, "--name", "Beta Admin", "--company", "2", "--role", "admin",
            "--password", BETA_PASSWORD,
        )  # fmt: skip
        system.cli(
            "user", "add", BETA_AGENT, "--name", "Bea Beta", "--company", "2", "--password", BETA_PASSWORD,
        )  # fmt: skip
        run_installation(system, stack)
        follower = NodeFollower(system, folder)
        stack.callback(follower.instance.stop)  # a follower started again leaves the Asterisk it found running
        stack.callback(follower.stop)
        follower.start()
        edge = Edge(system, follower.instance)
        edge.follower = follower  # type: ignore[attr-defined]
        yield edge


def _files(edge: Edge) -> dict:
    """The controller's /healthz section on Asterisk's files."""
    return edge.system.health()[1].get("asterisk_files", {})


def _node_b(edge: Edge) -> dict:
    return next((n for n in _files(edge).get("nodes", []) if n["node"] == "b"), {})


def _synced_at(edge: Edge, node: str) -> str | None:
    """When the controller last read ``node``'s calls (/healthz, ISO time)."""
    return edge.system.health()[1]["asterisk"]["nodes"].get(node, {}).get("synced_at")


def _beta_admin(edge: Edge) -> httpx.Client:
    client = httpx.Client(base_url=edge.system.url, timeout=5)
    csrf = client.get("/api/v1/session").json()["csrf_token"]
    answer = client.post(
        "/api/v1/session", json={"email": BETA_ADMIN, "password": BETA_PASSWORD}, headers={"X-CSRF-Token": csrf}
    )
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def _add_number(edge: Edge, number: str) -> None:
    with contextlib.closing(_beta_admin(edge)) as admin:
        created = admin.post("/api/v1/tracking-numbers", json={"number": number, "name": f"Beta {number}", "trunk": 2})
    assert created.status_code == 201, created.text


def _in_dialplan(edge: Edge, number: str) -> bool:
    """Whether node b's Asterisk has a route for ``number`` (Beta's carrier's context)."""
    return number in (edge.node_b.rx("dialplan show lc-trunk2") or "")


def _applied_everything(edge: Edge) -> bool:
    files = _files(edge)
    return bool(files) and _node_b(edge).get("generation") == files["generation"] and not _node_b(edge).get("error")


def test_the_follower_starts_node_b_with_its_files_and_the_controller_shows_its_generation(edge):
    follower = edge.follower  # type: ignore[attr-defined]
    wait_for(lambda: edge.node_b.pid() is not None, 60, what=f"node b started by its follower:\n{follower.log_tail()}")
    wait_for(lambda: _applied_everything(edge), 30, what=f"node b's generation: {_files(edge)}\n{follower.log_tail()}")
    assert _in_dialplan(edge, B_LINE.lstrip("+")) or _in_dialplan(edge, B_LINE)
    assert "systemname = b" in (edge.node_b.dir / "etc" / "asterisk.conf").read_text()
    assert _node_b(edge)["applied_at"] is not None and _node_b(edge)["behind"] == 0
    log = follower.log_tail()
    assert "Node b: following the controller's changes" in log and "node b: generation" in log
    # The controller drives node b (its AMI and ARI logins, from the secrets.toml copied there).
    wait_for(
        lambda: edge.system.health()[1]["asterisk"]["nodes"]["b"]["ami"] == "connected",
        20,
        what="the controller linked to node b",
    )


def test_an_admin_s_new_number_is_loaded_by_node_b_and_a_carrier_s_call_to_it_is_answered_there(edge, tmp_path):
    wait_for(lambda: _applied_everything(edge), 30, what=f"node b up to date: {_files(edge)}")
    before, synced_before = _files(edge)["generation"], _synced_at(edge, "b")
    assert not _in_dialplan(edge, NEW_B_LINE.lstrip("+"))
    _add_number(edge, NEW_B_LINE)
    wait_for(
        lambda: _files(edge)["generation"] > before and _applied_everything(edge),
        15,
        what=f"node b applied the change: {_files(edge)}\n{edge.follower.log_tail()}",  # type: ignore[attr-defined]
    )
    assert _in_dialplan(edge, NEW_B_LINE.lstrip("+"))
    # Told that node b applied it, the controller reads node b again (its follower's queue reload resets pauses).
    told = f"node b applied generation {_files(edge)['generation']}"
    wait_for(lambda: told in edge.system.log_tail(400), 10, what=f"the controller told: {told!r}")
    wait_for(lambda: (_synced_at(edge, "b") or "") > (synced_before or ""), 10, what="node b resynchronised")
    # Kamailio (reloaded by the controller) sends the number's call to Beta's home, node b, which has the route.
    assert edge.table("numbers", NEW_B_LINE.lstrip("+")) == "2"
    wait_for(lambda: edge.destinations().get(f"sip:{NODE_B}") == "AP", 15, what=f"node b active: {edge.destinations()}")
    call = SippCaller(tmp_path, host=WORLD, server=WORLD).start_call(
        NEW_B_LINE, NEW_B_CALLER, asterisk_port=EDGE_PORT, local_port=B_TRUNK_PORT, duration=10
    )
    try:
        call.wait_for("ANSWERED", 10)
        interaction = edge.system.wait_interaction(lead_number=NEW_B_CALLER)
        assert (interaction.node, interaction.company_id) == ("b", 2)
        assert interaction.tracking_number.number == NEW_B_LINE
    finally:
        call.kill()


def _contacts(instance) -> str:
    return instance.rx("pjsip show contacts") or ""


def test_a_browser_agent_s_softphone_registers_at_the_company_s_home_node(edge):
    """Beta's queues live on node b: the app's SIP relay takes Bea's softphone there, not to node a."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make setup)")
    wait_for(lambda: _applied_everything(edge), 30, what=f"node b up to date: {_files(edge)}")
    bea = edge.system.sip_account(_agent_id(BETA_AGENT), device="webrtc")[0]
    with Browser() as browser:
        browser.agent(edge.system, BETA_AGENT, password=BETA_PASSWORD)  # its softphone ready: registered
        wait_for(lambda: f"{bea}/" in _contacts(edge.node_b), 10, what=f"{bea} registered at node b")
        assert f"{bea}/" not in _contacts(edge.system.instance)


def _agent_id(email: str) -> int:
    return Agent.get(Agent.user == User.get(User.email == email)).id


def test_a_follower_that_was_down_during_a_change_catches_up_when_it_starts_again(edge):
    follower = edge.follower  # type: ignore[attr-defined]
    wait_for(lambda: _applied_everything(edge), 30, what=f"node b up to date: {_files(edge)}")
    asterisk_pid = edge.node_b.pid()
    follower.stop(signal.SIGKILL)  # its Asterisk keeps running, with the files it had
    _add_number(edge, LATE_B_LINE)
    wait_for(lambda: _node_b(edge).get("behind") == 1, 10, what=f"node b one generation behind: {_files(edge)}")
    # Nobody renders node b's files but its follower: its Asterisk does not have the number yet.
    assert not _in_dialplan(edge, LATE_B_LINE.lstrip("+"))
    follower.start()
    wait_for(lambda: _applied_everything(edge), 30, what=f"node b caught up: {_files(edge)}\n{follower.log_tail()}")
    assert _in_dialplan(edge, LATE_B_LINE.lstrip("+"))
    assert edge.node_b.pid() == asterisk_pid  # reloaded, not restarted
    applied = [line for line in follower.log_tail().splitlines() if "applied (changed:" in line]
    assert applied and "pbx_config.so" in applied[-1]


def test_a_node_whose_asterisk_does_not_answer_says_why_and_loads_the_change_once_it_does(edge):
    follower = edge.follower  # type: ignore[attr-defined]
    wait_for(lambda: _applied_everything(edge), 30, what=f"node b up to date: {_files(edge)}")
    asterisk_pid = edge.node_b.pid()
    assert asterisk_pid is not None
    os.kill(asterisk_pid, signal.SIGSTOP)  # hung: its console takes the connection and never answers
    try:
        _add_number(edge, STALLED_B_LINE)
        wait_for(
            lambda: "did not answer" in (_node_b(edge).get("error") or ""),
            40,
            what=f"node b's failure in /healthz: {_files(edge)}\n{follower.log_tail()}",
        )
        assert _node_b(edge)["behind"] == 1 and _node_b(edge)["failed_at"] is not None
        assert "node b: Asterisk's files not applied: ReloadFailed: Asterisk did not answer" in follower.log_tail()
    finally:
        os.kill(asterisk_pid, signal.SIGCONT)
    # Its files were written before the reload failed: the retry reloads them all the same.
    wait_for(lambda: _applied_everything(edge), 40, what=f"node b applied it: {_files(edge)}\n{follower.log_tail()}")
    assert _in_dialplan(edge, STALLED_B_LINE.lstrip("+"))
    assert "node b: Asterisk's files are right again" in follower.log_tail()
