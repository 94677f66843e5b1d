"""The live event stream: tenant scope, audiences, each user's inbox section, order, catch-up, Origin and session
checks, lagging clients.

The hub's rules are tested on the hub itself; the websocket's against the production web server (Hypercorn and the
gateway, support.Serving) with a real event bus, since the stand-in controller's bus only records and a test
client cannot upgrade.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import socket
import threading
import time

import pytest
from support import T0, WAIT, ApiClient, close_code, frames, live_controller, open_socket
from websockets.exceptions import InvalidStatus

from leadcenter import catalogue
from leadcenter.catalogue import Viewer
from leadcenter.events import Event
from leadcenter.interactions import lifecycle
from leadcenter.interactions import notifier as interactions_notifier
from leadcenter.interactions.models import InteractionDecline
from leadcenter.web import auth, stream

ALLOWED_ORIGIN = "https://app.example.com"

# Company 1's streams: agents 10 and 11, a supervisor without an agent profile and one with (12), an admin, an API
# key (an admin with no agent profile); company 2's admin.
AGENT_10, AGENT_11 = Viewer(1, "agent", 10), Viewer(1, "agent", 11)
SUPERVISOR, SUPERVISOR_AGENT = Viewer(1, "supervisor", None), Viewer(1, "supervisor", 12)
ADMIN, API_KEY = Viewer(1, "admin", 13), Viewer(1, "admin", None)
OTHER_ADMIN = Viewer(2, "admin", None)
EVERYONE = (AGENT_10, AGENT_11, SUPERVISOR, SUPERVISOR_AGENT, ADMIN, API_KEY, OTHER_ADMIN)


# -- the hub ---------------------------------------------------------------------------------------------------


def event(seq: int, name: str = "lead.updated", company_id: int = 1, **data) -> Event:
    """An event as its notifier shapes it: a lead changed by default, which the whole company receives."""
    if name == "lead.updated":
        data.setdefault(
            "lead",
            {
                "id": seq,
                "name": f"Lead {seq}",
                "email": "",
                "numbers": ["+14045550100"],
                "created_at": "2026-11-27T09:00:00Z",
                "updated_at": "2026-11-27T09:00:00Z",
                "merged_into_id": None,
            },
        )
    return Event(name, {"company_id": company_id, **data}, seq, T0)


def interaction_event(
    seq: int,
    status: str,
    agent: int | None = None,
    incoming_for=(),
    company_id: int = 1,
    name: str = "interaction.updated",
) -> Event:
    """interaction.created/updated as interactions/notifier.py publishes it: the interaction (a call) and the
    agents whose Incoming holds it."""
    at = "2026-11-27T09:00:00Z"
    interaction = {
        "id": 5,
        "kind": "call",
        "direction": "inbound",
        "status": status,
        "outcome": "answered" if status == "recent" else None,
        "lead": {"id": 7, "name": "", "numbers": ["+14045550100"]},
        "lead_number": "+14045550100",
        "call_id": "1795737826.5",
        "tracking_number": {"id": 1, "number": "+14045550199", "name": "Main"},
        "agent": {"id": agent, "display_name": f"Agent {agent}"} if agent is not None else None,
        "started_at": at,
        "answered_at": None,
        "ended_at": None,
        "status_changed_at": at,
        "talk_seconds": None,
        "source": "",
        "campaign": "",
        "landing_page": "",
        "referrer": "",
        "keywords": "",
        "qualified": None,
        "value_cents": None,
        "notes": "",
        "tags": [],
        "recording_url": None,
        "voicemail_url": None,
        "voicemail_seconds": None,
        "message_count": 0,
        "last_message": None,
    }
    return Event(
        name, {"company_id": company_id, "interaction": interaction, "incoming_for": list(incoming_for)}, seq, T0
    )


def seqs(texts) -> list[int]:
    return [json.loads(text)["seq"] for text in texts]


def drain(subscription: stream.Subscription) -> list[str]:
    texts = list(subscription.frames)
    subscription.frames.clear()
    return texts


def attach_all(hub: stream.Hub, viewers=EVERYONE) -> dict[Viewer, stream.Subscription]:
    return {viewer: hub.attach(viewer)[0] for viewer in viewers}


def received(streams: dict[Viewer, stream.Subscription]) -> dict[Viewer, list[int]]:
    return {viewer: seqs(drain(subscription)) for viewer, subscription in streams.items()}


def test_hub_sends_a_companys_events_to_that_company_only():
    hub = stream.Hub()
    a, _ = hub.attach(Viewer(1, "agent", 10))
    b, _ = hub.attach(Viewer(2, "admin", None))
    hub.fan_out(event(1, company_id=1))
    hub.fan_out(Event("telephony.synced", {"calls": []}, 2, T0))
    hub.fan_out(event(3, company_id=2))
    hub.fan_out(
        event(
            4,
            "interaction.updated",
            company_id=1,
            interaction={"id": 7, "status": "recent", "agent": None},
            incoming_for=[],
        )
    )
    assert seqs(drain(a)) == [1, 4] and seqs(drain(b)) == [3]


def test_company_events_reach_every_stream_of_the_company_and_no_other():
    hub = stream.Hub()
    streams = attach_all(hub)
    hub.fan_out(event(1))  # lead.updated
    hub.fan_out(event(2, "tracking_number.created", tracking_number={"id": 3}))  # agents pick a caller ID
    hub.fan_out(event(3, "agent.status_changed", agent={"id": 10, "status": "offline"}))
    assert received(streams) == {**{viewer: [1, 2, 3] for viewer in EVERYONE}, OTHER_ADMIN: []}


def test_supervisor_events_do_not_reach_agents():
    hub = stream.Hub()
    streams = attach_all(hub)
    hub.fan_out(event(1, "company.updated", company={"id": 1, "name": "Acme"}))
    hub.fan_out(event(2, "trunk.created", trunk={"id": 4}))
    hub.fan_out(event(3, "api_key.revoked", api_key={"id": 2}))
    assert received(streams) == {
        AGENT_10: [],
        AGENT_11: [],
        SUPERVISOR: [1, 2, 3],
        SUPERVISOR_AGENT: [1, 2, 3],
        ADMIN: [1, 2, 3],
        API_KEY: [1, 2, 3],
        OTHER_ADMIN: [],
    }


def test_events_for_named_agents_reach_them_and_everyone_who_is_not_an_agent():
    hub = stream.Hub()
    streams = attach_all(hub)
    hub.fan_out(event(1, "interaction.declined", interaction_id=5, for_agents=[11]))
    hub.fan_out(event(2, "interaction.declined", interaction_id=5, for_agents=[10]))
    hub.fan_out(event(3, "message.received", interaction_id=6, message={"id": 1}, for_agents=[10, 12]))
    hub.fan_out(event(4, "message.received", interaction_id=6, message={"id": 2}))  # names no one: everyone
    assert received(streams) == {
        AGENT_10: [2, 3, 4],
        AGENT_11: [1, 4],
        SUPERVISOR: [1, 2, 3, 4],
        SUPERVISOR_AGENT: [1, 2, 3, 4],
        ADMIN: [1, 2, 3, 4],
        API_KEY: [1, 2, 3, 4],
        OTHER_ADMIN: [],
    }


def sections(streams: dict[Viewer, stream.Subscription]) -> dict[Viewer, list]:
    """Each stream's frames as (seq, section); incoming_for must never be in them."""
    out = {}
    for viewer, subscription in streams.items():
        out[viewer] = []
        for text in drain(subscription):
            frame = json.loads(text)
            assert "incoming_for" not in frame["data"] and "section" in frame["data"], frame
            out[viewer].append((frame["seq"], frame["data"]["section"]))
    return out


def test_interaction_events_reach_everyone_with_where_it_is_in_their_own_inbox():
    hub = stream.Hub()
    streams = attach_all(hub)
    # A call waits for agent 10 (the flow offers it to them; agent 11 declined it or is not offered it).
    hub.fan_out(interaction_event(1, "incoming", incoming_for=[10], name="interaction.created"))
    # Agent 10 answers it, then concludes it.
    hub.fan_out(interaction_event(2, "active", agent=10))
    hub.fan_out(interaction_event(3, "recent", agent=10))
    # A call nobody answered: in every agent's Recent.
    hub.fan_out(interaction_event(4, "recent"))
    assert sections(streams) == {
        AGENT_10: [(1, "incoming"), (2, "active"), (3, "recent"), (4, "recent")],
        AGENT_11: [(1, None), (2, None), (3, None), (4, "recent")],
        SUPERVISOR: [(1, "incoming"), (2, None), (3, None), (4, None)],  # no agent profile: the company's waiting
        SUPERVISOR_AGENT: [(1, None), (2, None), (3, None), (4, "recent")],
        ADMIN: [(1, None), (2, None), (3, None), (4, "recent")],
        API_KEY: [(1, "incoming"), (2, None), (3, None), (4, None)],
        OTHER_ADMIN: [],
    }


def test_the_interaction_itself_arrives_as_published():
    hub = stream.Hub()
    agent, _ = hub.attach(AGENT_11)
    published = interaction_event(1, "incoming", incoming_for=[10])
    hub.fan_out(published)
    data = json.loads(drain(agent)[0])["data"]
    assert data == {"company_id": 1, "interaction": published.data["interaction"], "section": None}


def test_internal_events_never_leave_the_controller_even_with_a_company():
    hub = stream.Hub()
    streams = attach_all(hub)
    hub.fan_out(Event("call.answered", {"company_id": 1, "channel_id": "1.1", "agent_id": 10}, 1, T0))
    hub.fan_out(Event("telephony.connected", {"company_id": 1, "link": "ami"}, 2, T0))
    hub.fan_out(
        Event(
            "call.inbound", {"company_id": 1, "channel": "PJSIP/trunk1-00000001", "caller_number": "4045551234"}, 3, T0
        )
    )
    for seq, internal in enumerate(catalogue.INTERNAL, start=4):
        hub.fan_out(Event(internal.name, {"company_id": 1, "agent_id": 10, "for_agents": [10]}, seq, T0))
    last = len(catalogue.INTERNAL) + 4
    hub.fan_out(event(last))
    assert received(streams) == {**{viewer: [last] for viewer in EVERYONE}, OTHER_ADMIN: []}
    _, opening = hub.attach(ADMIN, since=0)
    assert seqs(opening[1:]) == [last]  # nor are they replayed


def test_an_undeclared_event_is_sent_to_no_one_and_logged(caplog):
    hub = stream.Hub()
    streams = attach_all(hub)
    with caplog.at_level(logging.ERROR, logger=stream.__name__):
        hub.fan_out(event(1, "interaction.notified", for_agents=[10]))
        hub.fan_out(event(2, "agent.status_change", agent={"id": 10}))
    hub.fan_out(event(3))
    assert received(streams) == {**{viewer: [3] for viewer in EVERYONE}, OTHER_ADMIN: []}
    assert "interaction.notified" in caplog.text and "agent.status_change" in caplog.text
    _, opening = hub.attach(ADMIN, since=0)
    assert seqs(opening[1:]) == [3]


def test_an_event_lacking_what_its_audience_reads_is_dropped_and_the_stream_goes_on(caplog):
    hub = stream.Hub()
    streams = attach_all(hub)
    with caplog.at_level(logging.ERROR, logger=stream.__name__):
        hub.fan_out(event(1, "interaction.updated", incoming_for=[10]))  # no interaction: a notifier's bug
    hub.fan_out(event(2))
    assert received(streams) == {**{viewer: [2] for viewer in EVERYONE}, OTHER_ADMIN: []}
    assert "interaction.updated #1" in caplog.text
    for viewer in EVERYONE:  # the replay is not broken by it either
        _, opening = hub.attach(viewer, since=0)
        assert seqs(opening[1:]) == ([] if viewer is OTHER_ADMIN else [2])


def test_the_wire_format_and_iso_datetimes():
    hub = stream.Hub()
    client, opening = hub.attach(ADMIN)
    hello = json.loads(opening[0])
    assert hello["event"] == "stream.hello" and hello["data"] == {
        "seq": 0,
        "company_id": 1,
        "role": "admin",
        "stream": hub.stream_id,
    }
    lead = {"id": 3, "updated_at": dt.datetime(2025, 3, 1, 9, 30, 5)}
    hub.fan_out(Event("lead.updated", {"company_id": 1, "lead": lead}, 7, T0))
    assert json.loads(drain(client)[0]) == {
        "seq": 7,
        "event": "lead.updated",
        "data": {"company_id": 1, "lead": {"id": 3, "updated_at": "2025-03-01T09:30:05+00:00"}},
        "at": "2026-11-27T09:00:00+00:00",
    }


def test_replay_after_since_then_live_ones():
    hub = stream.Hub()
    for seq in range(1, 11):
        hub.fan_out(event(seq, company_id=1 if seq % 3 else 2))
    client, opening = hub.attach(AGENT_10, since=4, stream_id=hub.stream_id)
    hello = json.loads(opening[0])
    assert hello["event"] == "stream.hello" and hello["seq"] == 4 and hello["data"]["seq"] == 10
    assert seqs(opening[1:]) == [5, 7, 8, 10]
    hub.fan_out(event(11, company_id=1))
    assert seqs(drain(client)) == [11]


def test_the_replay_gives_each_viewer_its_own_variant():
    hub = stream.Hub()
    hub.fan_out(interaction_event(1, "incoming", incoming_for=[10], name="interaction.created"))
    hub.fan_out(event(2, "interaction.declined", interaction_id=5, for_agents=[11]))
    hub.fan_out(interaction_event(3, "active", agent=10))
    hub.fan_out(event(4, "trunk.updated", trunk={"id": 4}))
    hub.fan_out(event(5))

    def replay(viewer):
        _, opening = hub.attach(viewer, since=0, stream_id=hub.stream_id)
        return [(f["seq"], f["data"].get("section", "-")) for f in map(json.loads, opening[1:])]

    assert replay(AGENT_10) == [(1, "incoming"), (3, "active"), (5, "-")]
    assert replay(AGENT_11) == [(1, None), (2, "-"), (3, None), (5, "-")]
    assert replay(SUPERVISOR) == [(1, "incoming"), (2, "-"), (3, None), (4, "-"), (5, "-")]
    assert replay(OTHER_ADMIN) == []


def test_each_variant_is_encoded_once_however_many_streams_receive_it(monkeypatch):
    encoded = []
    real = stream.encode
    monkeypatch.setattr(
        stream,
        "encode",
        lambda seq, name, data, at: encoded.append((seq, data.get("section"))) or real(seq, name, data, at),
    )
    hub = stream.Hub()
    agents = [hub.attach(Viewer(1, "agent", agent_id))[0] for agent_id in range(10, 20)]
    others = [hub.attach(Viewer(1, role, None))[0] for role in ("supervisor", "admin", "admin")]
    encoded.clear()  # the hellos

    hub.fan_out(event(1))  # the same for everyone
    hub.fan_out(interaction_event(2, "incoming", incoming_for=[10, 11], name="interaction.created"))
    hub.fan_out(interaction_event(3, "active", agent=10))
    assert sorted(encoded, key=repr) == sorted(
        [(1, None), (2, "incoming"), (2, None), (3, "active"), (3, None)], key=repr
    )
    texts = [drain(subscription) for subscription in agents + others]
    # Streams of one variant share the one text.
    assert all(mine[0] is texts[0][0] for mine in texts)
    # Offered (agents 10 and 11), and the company's waiting call for those without an agent profile.
    assert texts[0][1] is texts[1][1] is texts[-1][1]
    assert all(mine[1] is texts[2][1] for mine in texts[2:10]) and texts[2][1] is not texts[0][1]
    # Active for agent 10, in no one else's inbox.
    assert all(mine[2] is texts[1][2] for mine in texts[1:]) and texts[1][2] is not texts[0][2]

    encoded.clear()
    _, opening = hub.attach(Viewer(1, "agent", 19), since=0)  # a variant already encoded
    assert len(opening) == 4 and encoded == [(0, None)]  # only its hello


def test_replay_and_live_delivery_race_without_gap_or_duplicate():
    total = 5000
    hub = stream.Hub(queue_size=total, buffer_size=total)
    delivered = [0]
    # Halfway, the publisher waits for one stream to attach, so at least one attaches mid-flow even when a busy
    # machine would let the publisher run from first to last event without a switch.
    halfway, resume = threading.Event(), threading.Event()

    def publish():
        for seq in range(1, total + 1):
            hub.fan_out(event(seq, company_id=1))
            delivered[0] = seq
            if seq == total // 2:
                halfway.set()
                resume.wait(10)

    publisher = threading.Thread(target=publish)
    publisher.start()
    assert halfway.wait(10)
    attached = []
    while (publisher.is_alive() or not attached) and len(attached) < 100:
        since = delivered[0] // 2
        client, opening = hub.attach(Viewer(1, "admin", None), since=since)
        attached.append((since, client, opening))
        resume.set()
    publisher.join(10)
    overlapped = 0
    for since, client, opening in attached:
        replayed, live = seqs(opening[1:]), seqs(drain(client))
        assert replayed + live == list(range(since + 1, total + 1))
        overlapped += bool(replayed and live)
    assert overlapped  # some attached while events were flowing


def test_reset_when_the_buffer_no_longer_reaches_back_or_the_controller_restarted():
    hub = stream.Hub(buffer_size=5)
    for seq in range(1, 11):
        hub.fan_out(event(seq, company_id=1 if seq <= 8 else 2))

    def opening_events(**kwargs):
        _, opening = hub.attach(Viewer(1, "admin", None), **kwargs)
        return [json.loads(t)["event"] for t in opening]

    assert opening_events(since=3) == ["stream.hello", "stream.reset"]  # 4 and 5 were dropped
    assert opening_events(since=5) == ["stream.hello"] + ["lead.updated"] * 3  # 6, 7, 8
    assert opening_events(since=5, stream_id="from-before") == ["stream.hello", "stream.reset"]
    assert opening_events(since=11) == ["stream.hello", "stream.reset"]  # a seq this run never reached
    # Company 2 lost nothing: its events are all still there.
    _, opening = hub.attach(Viewer(2, "admin", None), since=0)
    assert seqs(opening[1:]) == [9, 10]


def test_a_full_queue_makes_a_stream_lagging_and_the_others_still_get_everything():
    hub = stream.Hub(queue_size=10)
    slow, _ = hub.attach(Viewer(1, "admin", None))
    fast, _ = hub.attach(Viewer(1, "admin", None))
    received = []
    for seq in range(1, 101):
        hub.fan_out(event(seq, company_id=1))
        received.extend(drain(fast))
    assert seqs(received) == list(range(1, 101))
    assert slow.lagging and seqs(drain(slow)) == list(range(1, 11))
    assert hub.streams() == 1


# -- the websocket, over a real server -------------------------------------------------------------------------
# -- the websocket, over a real server -------------------------------------------------------------------------


@pytest.fixture
def database(file_database):
    return file_database


@pytest.fixture
def controller(tmp_path):
    origins = {"LEADCENTER_HTTP_ALLOWED_ORIGINS": f"{ALLOWED_ORIGIN}, http://other:1"}
    with live_controller(tmp_path / "asterisk", origins) as controller:
        yield controller


@pytest.fixture
def hub(app) -> stream.Hub:
    return app.extensions["event_stream"]


def open_stream(server: str, query: str = "", **options):
    return open_socket(server, f"/api/v1/events{query}", **options)


def publish(controller, company, count: int = 1, name: str = "lead.updated", **data) -> list[int]:
    """Publish on the real bus (a lead changed, for the whole company, by default); the seqs, once the dispatcher
    has delivered them to the hub."""
    published = [
        controller.bus.publish(
            name,
            company_id=company.id,
            **({"lead": {"id": n, "name": f"Lead {n}"}} if name == "lead.updated" else {}),
            **data,
        ).seq
        for n in range(count)
    ]
    assert controller.bus.wait_idle(WAIT)
    return published


def test_events_of_my_company_arrive_in_order(server, controller, world, cookie_of):
    with open_stream(server, cookie=cookie_of("agent1@a.example")) as ws:
        hello = frames(ws, 1)[0]
        assert hello["event"] == "stream.hello"
        assert hello["data"]["company_id"] == world["a"]["company"].id and hello["data"]["role"] == "agent"
        published = publish(controller, world["a"]["company"], 20)
        received = frames(ws, 20)
    assert [f["seq"] for f in received] == published and published == sorted(published)
    assert [f["data"]["lead"]["name"] for f in received] == [f"Lead {n}" for n in range(20)]
    assert received[0]["event"] == "lead.updated" and received[0]["data"]["company_id"] == world["a"]["company"].id
    assert dt.datetime.fromisoformat(received[0]["at"]).tzinfo is not None


def test_another_companys_events_never_arrive(server, controller, world, cookie_of):
    a, b = world["a"]["company"], world["b"]["company"]
    with (
        open_stream(server, cookie=cookie_of("supervisor@a.example")) as on_a,
        open_stream(server, cookie=cookie_of("supervisor@b.example")) as on_b,
    ):
        frames(on_a, 1)
        frames(on_b, 1)
        expected = {a.id: [], b.id: []}
        for n in range(30):
            company = (a, b)[n % 2]
            expected[company.id] += publish(controller, company)
            controller.bus.publish("telephony.connected", link="ami")  # internal, no company
        # Delivery is in order, so a last event of A's (and of B's) arriving next proves nothing else came between.
        expected[a.id] += publish(controller, a)
        expected[b.id] += publish(controller, b)
        assert [f["seq"] for f in frames(on_a, len(expected[a.id]))] == expected[a.id]
        assert [f["seq"] for f in frames(on_b, len(expected[b.id]))] == expected[b.id]


def test_an_agent_does_not_see_what_is_private_to_another(server, controller, world, cookie_of):
    a = world["a"]["company"]
    agent1, agent2 = world["a"]["agents"]
    with (
        open_stream(server, cookie=cookie_of("agent1@a.example")) as agent,
        open_stream(server, cookie=cookie_of("supervisor@a.example")) as supervisor,
    ):
        frames(agent, 1)
        frames(supervisor, 1)
        interaction = world["a"]["interactions"][0]
        to_agent2 = publish(
            controller, a, name="interaction.declined", interaction_id=interaction.id, for_agents=[agent2.id]
        )
        for_supervisors = publish(controller, a, name="trunk.deleted", trunk_id=world["a"]["trunk"].id)
        to_agent1 = publish(
            controller, a, name="interaction.declined", interaction_id=interaction.id, for_agents=[agent1.id]
        )
        everyone = publish(controller, a)
        assert [f["seq"] for f in frames(agent, 2)] == to_agent1 + everyone
        assert [f["seq"] for f in frames(supervisor, 4)] == to_agent2 + for_supervisors + to_agent1 + everyone


def test_each_user_sees_an_interaction_where_their_inbox_has_it(server, app, controller, world, cookie_of):
    """What the stream says of an interaction (its ``section``) is where GET /api/v1/inbox puts it for that user,
    as the call waits (declined by one agent), is answered, and ends."""
    interaction = world["a"]["interactions"][0]
    agent1, agent2 = world["a"]["agents"]
    InteractionDecline.create(interaction=interaction, agent=agent2, at=T0)
    users = ("agent1@a.example", "agent2@a.example", "supervisor@a.example")
    inboxes = {}
    for email in users:
        inboxes[email] = ApiClient(app.test_client())
        inboxes[email].sign_in(email)

    def inbox_section(email):
        box = inboxes[email].get("/api/v1/inbox")[1]
        held = [
            section for section in ("incoming", "active", "recent") if interaction.id in {i["id"] for i in box[section]}
        ]
        assert len(held) <= 1
        return held[0] if held else None

    seen = []
    with contextlib.ExitStack() as opened:
        streams = {email: opened.enter_context(open_stream(server, cookie=cookie_of(email))) for email in users}
        for ws in streams.values():
            frames(ws, 1)
        for move, also in ((None, {}), ("answer", {"agent": agent1}), ("end", {})):
            if move is not None:
                lifecycle.move(interaction, move, T0, **also)
            interactions_notifier.changed(controller.bus, interaction)
            assert controller.bus.wait_idle(WAIT)
            arrived = {email: frames(ws, 1)[0] for email, ws in streams.items()}
            for email, frame in arrived.items():
                assert frame["event"] == "interaction.updated" and "incoming_for" not in frame["data"]
                # The interaction as the API returns it, so the client applies it without asking again.
                assert frame["data"]["interaction"] == inboxes[email].get(f"/api/v1/interactions/{interaction.id}")[1]
                assert frame["data"]["section"] == inbox_section(email), (email, move)
            seen.append(tuple(arrived[email]["data"]["section"] for email in users))
    assert seen == [("incoming", None, "incoming"), ("active", None, None), ("recent", None, None)]


# http://127.0.0.1 lacks the server's port: another origin.
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1", None])
def test_a_foreign_or_missing_origin_is_refused_before_the_upgrade(server, world, cookie_of, origin):
    with pytest.raises(InvalidStatus) as refused:
        open_stream(server, cookie=cookie_of("admin@a.example"), origin=origin)
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body)["error"] in ("origin-not-allowed", "origin-required")


def test_a_configured_origin_is_allowed(server, world, cookie_of):
    with open_stream(server, cookie=cookie_of("admin@a.example"), origin=ALLOWED_ORIGIN) as ws:
        assert frames(ws, 1)[0]["data"]["role"] == "admin"


@pytest.mark.parametrize("email, error", [(None, "not-signed-in"), ("both@example.com", "company-not-selected")])
def test_without_a_signed_in_company_the_stream_closes_with_4401(server, world, cookie_of, email, error):
    with open_stream(server, cookie=cookie_of(email) if email else None) as ws:
        assert close_code(ws) == (4401, error)


def test_an_integration_connects_with_an_api_key_and_no_origin(server, world):
    _, key = auth.new_api_key(world["b"]["company"], "dashboard", None)
    with open_stream(server, origin=None, headers={"Authorization": f"Bearer {key}"}) as ws:
        hello = frames(ws, 1)[0]
    assert hello["data"]["company_id"] == world["b"]["company"].id and hello["data"]["role"] == "admin"
    with open_stream(server, origin=None, headers={"Authorization": f"Bearer {key}x"}) as ws:
        assert close_code(ws) == (4401, "invalid-api-key")


def test_a_malformed_since_is_refused(server, world, cookie_of):
    with pytest.raises(InvalidStatus) as refused:
        open_stream(server, cookie=cookie_of("admin@a.example"), query="?since=-1")
    assert refused.value.response.status_code == 422


def test_the_stream_takes_no_messages(server, world, cookie_of):
    with open_stream(server, cookie=cookie_of("admin@a.example")) as ws:
        frames(ws, 1)
        ws.send("hello?")
        assert close_code(ws)[0] == 1008


def test_catching_up_with_since_gets_exactly_the_missed_events_then_live_ones(server, controller, world, cookie_of):
    a, b = world["a"]["company"], world["b"]["company"]
    cookie = cookie_of("agent1@a.example")
    with open_stream(server, cookie=cookie) as ws:
        stream_id = frames(ws, 1)[0]["data"]["stream"]
        seen = publish(controller, a, 5)
        publish(controller, b, 3)
        assert [f["seq"] for f in frames(ws, 5)] == seen
    missed = publish(controller, a, 4)
    publish(controller, b, 2)

    live = []  # published while the client reconnects: each lands in the replay or the queue, never both

    def publish_slowly():
        for _ in range(300):
            live.extend(publish(controller, a))
            time.sleep(0.001)

    publisher = threading.Thread(target=publish_slowly)
    publisher.start()
    with open_stream(server, cookie=cookie, query=f"?since={seen[-1]}&stream={stream_id}") as ws:
        assert frames(ws, 1)[0]["event"] == "stream.hello"
        publisher.join(60)  # slow under libfaketime (make test's shifted clock): the last one must come after it
        assert not publisher.is_alive()
        last = publish(controller, a)
        assert [f["seq"] for f in frames(ws, len(missed) + len(live) + 1)] == missed + live + last


def test_since_older_than_the_buffer_gets_a_reset_then_live_events(server, controller, hub, world, cookie_of):
    a = world["a"]["company"]
    hub.buffer_size = 10
    cookie = cookie_of("admin@a.example")
    with open_stream(server, cookie=cookie) as ws:
        hello = frames(ws, 1)[0]["data"]
    publish(controller, a, 30)
    with open_stream(server, cookie=cookie, query=f"?since={hello['seq']}&stream={hello['stream']}") as ws:
        opening = frames(ws, 2)
        assert [f["event"] for f in opening] == ["stream.hello", "stream.reset"]
        assert opening[1]["data"]["seq"] == opening[1]["seq"] == hello["seq"] + 30
        live = publish(controller, a)
        assert [f["seq"] for f in frames(ws, 1)] == live


def test_a_client_that_stops_reading_is_closed_as_lagging_and_the_others_get_everything(
    server, controller, hub, world, cookie_of
):
    a = world["a"]["company"]
    hub.queue_size = 50
    cookie = cookie_of("admin@a.example")
    # The slow client stops reading its socket once 2 messages wait unread, and advertises a tiny window, so the
    # server's sends soon block and its queue fills.
    small_window = socket.socket()
    small_window.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    small_window.connect(("127.0.0.1", int(server.rsplit(":", 1)[1])))
    with (
        open_stream(server, cookie=cookie) as fast,
        open_stream(server, cookie=cookie, sock=small_window, max_queue=2) as slow,
    ):
        frames(fast, 1)
        deadline = time.monotonic() + WAIT
        while hub.streams() < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert hub.streams() == 2
        published, received = [], []
        padding = "x" * 2000  # the kernel's socket buffers (some MB) hold a few thousand of these
        while hub.streams() == 2 and len(published) < 20_000:
            published += publish(controller, a, 25, padding=padding)
            received += frames(fast, 25)
        assert hub.streams() == 1  # the slow one was dropped from delivery
        published += publish(controller, a, 25)
        received += frames(fast, 25)
        assert [f["seq"] for f in received] == published

        # Once it reads again, the slow client gets what was already on its way, then the 4008 close.
        code, reason = close_code(slow, timeout=30)
        assert code == 4008 and "since" in reason


def test_signing_out_elsewhere_ends_an_open_stream(server, app, world, monkeypatch):
    monkeypatch.setattr(stream, "RECHECK_SECONDS", 0.2)
    browser = ApiClient(app.test_client())
    browser.sign_in("agent1@a.example")
    cookie = f"session={browser.http.get_cookie('session').value}"
    with open_stream(server, cookie=cookie) as ws:
        assert frames(ws, 1)[0]["event"] == "stream.hello"
        assert browser.delete("/api/v1/session")[0] == 204
        assert close_code(ws) == (4401, "session-ended")


def test_revoking_an_api_key_ends_its_stream(server, world, monkeypatch):
    monkeypatch.setattr(stream, "RECHECK_SECONDS", 0.2)
    row, key = auth.new_api_key(world["a"]["company"], "dashboard", None)
    with open_stream(server, origin=None, headers={"Authorization": f"Bearer {key}"}) as ws:
        assert frames(ws, 1)[0]["event"] == "stream.hello"
        row.revoked_at = row.created_at
        row.save()
        assert close_code(ws) == (4401, "session-ended")
