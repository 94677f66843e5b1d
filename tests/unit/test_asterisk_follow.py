"""Every Asterisk node's files rendered for it (issue 18, item 1): the generations the controller announces and each
node applies (generations.py), the follower that renders and reloads on each (follower.py), the console reload it
shares with `leadcenter asterisk reload`, the controller's side (reloads to its own node only, a node resynchronised
when its follower applied a change) and /healthz's section (tests/integration/test_asterisk_follow.py runs a real
follower beside two real nodes)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from test_asterisk_nodes import FakeNode, _router

from leadcenter import asterisk_config, cli, cluster, db, follower, generations
from leadcenter.health import Health
from leadcenter.telephony import nodes

T0 = dt.datetime(2026, 12, 7, 9, 30)
WAIT = 10.0


class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Node:
    """What a follower drives: ``files`` the render's answer in turn (an exception is raised), what it reloaded."""

    def __init__(self, *files):
        self.files = list(files)
        self.reloaded: list[set[str]] = []
        self.renders = 0

    def render(self) -> set[str]:
        self.renders += 1
        answer = self.files.pop(0) if self.files else set()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def reload(self, modules: set[str]) -> None:
        self.reloaded.append(modules)


def _row(node: str) -> dict:
    return next(n for n in generations.status()["nodes"] if n["node"] == node)


def test_the_controller_s_announcements_count_up_from_nothing(database):
    assert generations.current() == 0
    assert [generations.announce(T0), generations.announce(T0 + dt.timedelta(seconds=1))] == [1, 2]
    assert generations.current() == 2
    assert generations.AsteriskFiles.get_by_id(1).announced_at == T0 + dt.timedelta(seconds=1)
    assert generations.status() == {"generation": 2, "nodes": []}


def test_a_node_s_row_says_what_it_applied_and_why_it_failed_until_it_applies_again(database):
    for _ in range(3):
        generations.announce(T0)
    generations.applied("b", 2, {"app_queue.so"}, T0)
    assert _row("b") == {
        "node": "b",
        "generation": 2,
        "applied_at": "2026-12-07T09:30:00",
        "behind": 1,
        "error": None,
        "failed_at": None,
    }
    generations.failed("b", "FlowError: flow 3 steps.0: no team 9 in this company", T0 + dt.timedelta(minutes=1))
    failed = _row("b")
    assert (failed["generation"], failed["behind"], failed["failed_at"]) == (2, 1, "2026-12-07T09:31:00")
    assert failed["error"] == "FlowError: flow 3 steps.0: no team 9 in this company"
    generations.applied("b", 3, set(), T0 + dt.timedelta(minutes=2))
    assert _row("b")["error"] is None and _row("b")["behind"] == 0
    # A node failing before it ever applied anything has its row too.
    generations.failed("c", "ReloadFailed: Asterisk did not answer 'core reload'", T0)
    assert (_row("c")["generation"], _row("c")["behind"]) == (0, 3)


def test_the_follower_renders_at_start_then_only_for_a_new_generation(database):
    node, ticking = Node({"pbx_config.so"}, {"app_queue.so", "pbx_config.so"}), Ticking()
    keeper = follower.Follower("b", node.render, node.reload, lambda: T0, ticking)
    assert keeper.catch_up(force=True)  # at start: whatever the count (0 here: nothing announced yet)
    assert (node.renders, node.reloaded, _row("b")["generation"]) == (1, [{"pbx_config.so"}], 0)
    keeper.announced("1")  # nothing new: a notification of a generation it had
    keeper.tick()
    assert node.renders == 1
    generations.announce(T0)
    keeper.announced("1")
    assert node.reloaded[-1] == {"app_queue.so", "pbx_config.so"}
    assert (_row("b")["generation"], keeper.applied) == (1, 1)
    # A gap in its connection: announcements may have been lost, so it renders again whatever the count.
    keeper.on_gap()
    assert (node.renders, node.reloaded[-1]) == (3, set())


def test_a_follower_that_missed_an_announcement_reads_the_count_every_few_seconds(database):
    node, ticking = Node(set(), {"res_pjsip.so"}), Ticking()
    keeper = follower.Follower("b", node.render, node.reload, lambda: T0, ticking)
    keeper.catch_up(force=True)
    generations.announce(T0)  # its notification never came
    ticking.now += follower.LOOK_SECONDS - 0.1
    keeper.tick()
    assert node.renders == 1
    ticking.now += 0.2
    keeper.tick()
    assert (node.renders, node.reloaded[-1], _row("b")["generation"]) == (2, {"res_pjsip.so"}, 1)


def test_a_failed_render_is_recorded_retried_and_cleared_and_nothing_is_reloaded(database, caplog):
    refused = asterisk_config.FlowError("flow 3 steps.0: no team 9 in this company")
    node, ticking = Node(set(), refused, {"pbx_config.so"}), Ticking()
    keeper = follower.Follower("b", node.render, node.reload, lambda: T0, ticking)
    keeper.catch_up(force=True)
    generations.announce(T0)
    keeper.announced("1")
    assert node.reloaded == [set()]  # the failed render reloaded nothing
    assert _row("b")["error"] == "FlowError: flow 3 steps.0: no team 9 in this company"
    assert (_row("b")["generation"], _row("b")["behind"]) == (0, 1)
    assert "node b: Asterisk's files not applied: FlowError: flow 3 steps.0" in caplog.text
    ticking.now += follower.RETRY_SECONDS + 0.1  # the admin fixed it meanwhile: the retry applies it
    keeper.tick()
    assert node.reloaded[-1] == {"pbx_config.so"}
    assert (_row("b")["error"], _row("b")["generation"]) == (None, 1)


def test_a_reload_asterisk_does_not_answer_is_a_failure_and_is_asked_again_though_the_files_are_written(database):
    answering = False
    reloaded: list[set[str]] = []

    def reload(modules: set[str]) -> None:
        if not answering:
            raise asterisk_config.ReloadFailed("Asterisk did not answer 'module reload pbx_config.so'")
        reloaded.append(modules)

    node, ticking = Node({"pbx_config.so"}, set()), Ticking()  # the second render: the files as written already
    keeper = follower.Follower("b", node.render, reload, lambda: T0, ticking)
    assert not keeper.catch_up(force=True)
    assert _row("b")["error"] == "ReloadFailed: Asterisk did not answer 'module reload pbx_config.so'"
    answering = True
    ticking.now += follower.RETRY_SECONDS + 0.1
    keeper.tick()
    assert reloaded == [{"pbx_config.so"}] and _row("b")["error"] is None


class Console:
    """An Instance's console: what it was told; ``answers`` False: Asterisk is not there."""

    def __init__(self, answers: bool = True):
        self.commands: list[str] = []
        self.answers = answers

    def rx(self, command: str) -> str | None:
        self.commands.append(command)
        return "" if self.answers else None


def test_the_console_reload_names_each_module_s_command():
    console = Console()
    asterisk_config.reload_instance(console, {"pbx_config.so", "app_queue.so", "all", "res_pjsip.so"})  # type: ignore[arg-type]
    assert console.commands == [
        "core reload",
        "queue reload all",
        "module reload pbx_config.so",
        "module reload res_pjsip.so",
    ]
    with pytest.raises(asterisk_config.ReloadFailed, match=r"Asterisk did not answer 'module reload pbx_config\.so'"):
        asterisk_config.reload_instance(Console(answers=False), {"pbx_config.so"})  # type: ignore[arg-type]


def test_with_followers_the_controller_reloads_its_own_node_and_resyncs_a_node_that_applied():
    a, b = FakeNode("a"), FakeNode("b")
    followed = nodes.Nodes([a, b], "a", lambda key: None, lambda company: "a", followed=True)  # type: ignore[list-item]
    asyncio.run(followed.reload({"pbx_config.so"}))
    assert (a.done, b.done) == ([("reload", {"pbx_config.so"})], [])
    asyncio.run(followed.resync_node("b"))
    asyncio.run(followed.resync_node("gone"))  # a node no longer in [kamailio] nodes: nothing
    assert b.done == [("resync",)]
    # Without followers (SQLite), every node is asked, its files rendered for it by hand.
    a, b = FakeNode("a"), FakeNode("b")
    asyncio.run(_router(a, b).reload({"pbx_config.so"}))
    assert a.done == b.done == [("reload", {"pbx_config.so"})]


def test_the_health_of_a_followed_installation_names_each_node_s_generation(database):
    generations.announce(T0)
    generations.applied("b", 1, set(), T0)
    telephony = SimpleNamespace(connected=True, status=lambda: {"ami": "connected", "ari": "connected"})
    followed = Health(database, telephony, [], None, followed=True)()  # type: ignore[arg-type]
    assert followed["asterisk_files"] == {"generation": 1, "nodes": [_row("b")]}
    assert "asterisk_files" not in Health(database, telephony, [], None)()  # type: ignore[arg-type]


def test_follow_refuses_sqlite_and_a_node_not_in_the_nodes_setting(tmp_path):
    env = {"LEADCENTER_PATHS_DATA_DIR": str(tmp_path)}
    sqlite = CliRunner().invoke(cli.main, ["asterisk", "follow"], env=env)
    assert sqlite.exit_code == 1
    assert "follow needs the installation's PostgreSQL database ([database] url)" in sqlite.output
    env["LEADCENTER_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    unnamed = CliRunner().invoke(cli.main, ["asterisk", "follow"], env=env)
    assert unnamed.exit_code == 1 and "this node is not one of [kamailio] nodes" in unnamed.output


def test_an_announcement_and_an_applied_change_are_notified_to_the_listeners_at_commit(
    postgresql_database, postgresql_schema
):
    url, _ = postgresql_schema
    heard: list[tuple[str, str]] = []
    both = threading.Event()

    def hearing(channel: str):
        def heard_on(payload: str) -> None:
            heard.append((channel, payload))
            if len(heard) == 2:
                both.set()

        return heard_on

    listener = cluster.Listener(
        url,
        {channel: hearing(channel) for channel in (generations.CHANGED_CHANNEL, generations.APPLIED_CHANNEL)},
    )
    listener.start()
    try:
        assert listener.connected.wait(WAIT)
        generations.announce(T0)
        generations.applied("b", 1, {"pbx_config.so"}, T0)
        assert both.wait(WAIT)
    finally:
        listener.stop()
    assert heard[0] == (generations.CHANGED_CHANNEL, "1")
    assert heard[1][0] == generations.APPLIED_CHANNEL
    assert json.loads(heard[1][1]) == {"node": "b", "generation": 1, "modules": ["pbx_config.so"]}
    assert db.is_postgresql()
