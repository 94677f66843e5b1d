"""Live queue figures from what Asterisk reports and the agents' availability."""

import datetime as dt

import pytest
from support import T0

from leadcenter.events import Event
from leadcenter.reports.services import local_date, time_zone
from leadcenter.teams.services import QueueBoard


def member(agent, device_state="NOT_INUSE", in_call=False):
    return {
        "agent_id": agent.id,
        "interface": agent.queue_interface,
        "device_state": device_state,
        "in_call": in_call,
        "paused": False,
        "reason": "",
    }


NO_CALLS_TODAY = {
    "day": None,  # the company's date at T0 (its time zone is the server's)
    "offered": 0,
    "answered": 0,
    "answered_within_threshold": 0,
    "service_level_seconds": 20,
    "service_level": None,
    "abandoned": 0,
    "short_abandons": 0,
    "abandonment_rate": None,
}


def counts(**some):
    return {
        "available": 0,
        "ringing": 0,
        "on_call": 0,
        "wrap_up": 0,
        "missed": 0,
        "unreachable": 0,
        "offline": 0,
        **some,
    }


def test_callers_waiting_and_each_agents_state(world, controller):
    team, (alice, bob) = world["a"]["team"], world["a"]["agents"]
    controller.availability.move(bob, "take_call", T0)
    controller.availability.move(bob, "end_call", T0)
    board = QueueBoard(controller.bus, controller.clock)
    controller.bus.published.clear()
    controller.clock.advance(seconds=3)
    board.on_status(
        Event(
            "queue.status",
            {
                "queue": team.queue_name,
                "waiting": 2,
                "longest_wait_seconds": 41,
                "members": [member(alice), member(bob)],
            },
            1,
            T0,
        )
    )
    name, data = controller.bus.published[-1]
    assert name == "queue.updated"
    assert data == {
        "company_id": world["a"]["company"].id,
        "team_id": team.id,
        "team_name": "Team A",
        "callers_waiting": 2,
        "longest_wait_seconds": 41,
        "agents": counts(available=1, wrap_up=1),
        "agent_states": {str(alice.id): "available", str(bob.id): "wrap_up"},
        "measured_at": (T0 + dt.timedelta(seconds=3)).replace(tzinfo=dt.UTC).isoformat(),
        "today": {**NO_CALLS_TODAY, "day": local_date(T0, time_zone(world["a"]["company"])).isoformat()},
    }


@pytest.mark.parametrize(
    "moves, device_state, in_call, shown",
    [
        ([], "NOT_INUSE", False, "available"),
        ([], "RINGING", False, "ringing"),  # being offered a call
        ([], "RINGINUSE", False, "ringing"),
        ([], "UNKNOWN", False, "available"),  # app_queue rings a member in UNKNOWN: so it counts
        ([], "UNAVAILABLE", False, "unreachable"),  # not registered, or a desk phone not answering qualify
        ([], "INVALID", False, "unreachable"),
        ([], "INUSE", False, "on_call"),  # a call the agent placed, or any other: ringinuse = no
        ([], "NOT_INUSE", True, "on_call"),
        (["take_call"], "INUSE", True, "on_call"),
        (["take_call", "end_call"], "NOT_INUSE", False, "wrap_up"),
        (["take_call", "end_call"], "UNAVAILABLE", False, "wrap_up"),
        (["miss_call"], "NOT_INUSE", False, "missed"),
        (["go_offline"], "NOT_INUSE", False, "offline"),
        (["go_offline"], "UNAVAILABLE", False, "offline"),
    ],
)
def test_each_agent_counts_once_in_the_presence_colleagues_see(world, controller, moves, device_state, in_call, shown):
    team, alice = world["a"]["team"], world["a"]["agents"][0]
    for move in moves:
        controller.availability.move(alice, move, T0)
    QueueBoard(controller.bus, controller.clock).on_status(
        Event(
            "queue.status",
            {
                "queue": team.queue_name,
                "waiting": 0,
                "longest_wait_seconds": 0,
                "members": [member(alice, device_state, in_call)],
            },
            1,
            T0,
        )
    )
    figures = controller.bus.published[-1][1]
    assert figures["agents"] == counts(**{shown: 1})
    assert figures["agent_states"] == {str(alice.id): shown}
    # The agents list says the same of her, from the device state the controller follows.
    controller.presence.on_device_state(
        Event(
            "telephony.device_state",
            {
                "endpoint": alice.endpoint_name(alice.ring_device),
                "agent_id": alice.id,
                "state": "INUSE" if in_call else device_state,
            },
            2,
            T0,
        )
    )
    assert controller.presence.of(alice) == shown


def test_queues_that_are_no_team_are_ignored(world, controller):
    QueueBoard(controller.bus, controller.clock).on_status(
        Event("queue.status", {"queue": "support", "waiting": 1, "longest_wait_seconds": 3, "members": []}, 1, T0)
    )
    assert controller.bus.published == []


def test_the_api_gives_each_team_s_last_figures_to_its_company_only(world, controller, make_client):
    team = world["a"]["team"]
    alice = world["a"]["agents"][0]
    client = make_client()
    client.sign_in("agent1@a.example")
    status, before = client.get("/api/v1/queues")
    assert status == 200 and [(q["team_name"], q["callers_waiting"], q["measured_at"]) for q in before] == [
        ("Team A", 0, None)
    ]  # nothing reported yet
    controller.queue_board.on_status(
        Event(
            "queue.status",
            {"queue": team.queue_name, "waiting": 1, "longest_wait_seconds": 7, "members": [member(alice)]},
            1,
            T0,
        )
    )
    status, now = client.get("/api/v1/queues")
    assert (now[0]["callers_waiting"], now[0]["longest_wait_seconds"], now[0]["agent_states"]) == (
        1,
        7,
        {str(alice.id): "available"},
    )
    assert now[0]["measured_at"] is not None
    b_team = world["b"]["team"]
    controller.queue_board.on_status(
        Event(
            "queue.status", {"queue": b_team.queue_name, "waiting": 5, "longest_wait_seconds": 9, "members": []}, 2, T0
        )
    )
    assert [q["team_id"] for q in client.get("/api/v1/queues")[1]] == [team.id]


def test_a_queue_on_several_asterisk_nodes_is_one_queue_until_a_node_is_lost(world, controller):
    """Callers wait on both nodes; Alice is in a call on node b and idle on node a: on a call. Node b lost, its callers
    no longer count."""
    team, (alice, bob) = world["a"]["team"], world["a"]["agents"]
    board = QueueBoard(controller.bus, controller.clock)

    def status(node, waiting, longest, *members):
        data = {"queue": team.queue_name, "waiting": waiting, "longest_wait_seconds": longest, "node": node}
        board.on_status(Event("queue.status", {**data, "members": list(members)}, 1, T0))
        return controller.bus.published[-1][1]

    status("a", 1, 12, member(alice), member(bob))
    both = status("b", 2, 30, member(alice, "INUSE", in_call=True), member(bob, "UNAVAILABLE"))
    assert (both["callers_waiting"], both["longest_wait_seconds"]) == (3, 30)
    assert both["agent_states"] == {str(alice.id): "on_call", str(bob.id): "available"}
    board.on_link_lost(Event("telephony.lost", {"link": "ami", "node": "b"}, 2, T0))
    name, left = controller.bus.published[-1]
    assert name == "queue.updated"
    assert (left["callers_waiting"], left["longest_wait_seconds"]) == (1, 12)
    assert left["agent_states"] == {str(alice.id): "available", str(bob.id): "available"}
