"""The interactions API: inbox, timeline, reading, classifying, tags, audio; nothing of another company."""

import base64
import concurrent.futures
import dataclasses
import datetime as dt

import pytest
from support import T0

from leadcenter import cluster
from leadcenter.interactions.models import ClassificationChange, Interaction, InteractionTag, Message, Tag
from leadcenter.interactions.services import classify
from leadcenter.pbx import names
from leadcenter.web.auth import new_api_key
from leadcenter.wire import utc_iso


@pytest.fixture
def agent_a(make_client, world):
    client = make_client()
    client.sign_in("agent1@a.example")
    return client


def add_interaction(world, key="a", lead=0, **fields):
    side = world[key]
    lead = side["leads"][lead]
    fields.setdefault("started_at", T0)
    fields.setdefault("status_changed_at", fields["started_at"])
    return Interaction.create(
        company=side["company"],
        lead=lead,
        kind=fields.pop("kind", "call"),
        direction="inbound",
        lead_number=lead.phones[0].number,
        **fields,
    )


def test_get_an_interaction(agent_a, world):
    interaction = world["a"]["interactions"][0]
    agent = world["a"]["agents"][0]
    Interaction.update(
        agent=agent, source="Google Ads", campaign="spring", recording="asterisk/r.wav", talk_seconds=42
    ).where(Interaction.id == interaction.id).execute()
    classify(interaction, None, {"tags": ["roof", "hot"]}, T0)
    status, body = agent_a.get(f"/api/v1/interactions/{interaction.id}")
    assert status == 200
    number = world["a"]["number"]
    assert body["lead"] == {"id": interaction.lead_id, "name": "Lead0 A", "numbers": ["+14045551000"]}
    assert body["tracking_number"] == {"id": number.id, "number": "+14045550100", "name": "Line A"}
    assert body["agent"] == {"id": agent.id, "display_name": agent.display_name}
    assert (body["kind"], body["direction"], body["status"], body["outcome"]) == ("call", "inbound", "incoming", None)
    assert (body["source"], body["campaign"], body["talk_seconds"]) == ("Google Ads", "spring", 42)
    assert (body["tags"], body["message_count"], body["qualified"], body["notes"]) == (["hot", "roof"], 0, None, "")
    assert body["recording_url"] is None  # the call goes on: the recording is not there yet
    assert body["voicemail_url"] is None
    assert body["started_at"] == utc_iso(interaction.started_at)


def test_a_recording_is_offered_once_the_call_has_ended(agent_a, world):
    interaction = world["a"]["interactions"][0]
    Interaction.update(recording="asterisk/r.wav").where(Interaction.id == interaction.id).execute()
    for status, offered in (("incoming", False), ("active", False), ("recent", True)):
        Interaction.update(status=status).where(Interaction.id == interaction.id).execute()
        url = agent_a.get(f"/api/v1/interactions/{interaction.id}")[1]["recording_url"]
        assert url == (f"/api/v1/interactions/{interaction.id}/recording" if offered else None), status


def test_a_conversation_shows_its_newest_message_cut_to_a_preview(agent_a, world):
    thread = add_interaction(world, kind="text")
    Message.create(interaction=thread, direction="inbound", body="first")
    Message.create(interaction=thread, direction="outbound", body="ß" * 200, status="queued")
    status, body = agent_a.get(f"/api/v1/interactions/{thread.id}")
    assert status == 200 and body["message_count"] == 2
    assert (body["last_message"]["direction"], body["last_message"]["body"]) == ("outbound", "ß" * 160)
    call = world["a"]["interactions"][0]
    assert agent_a.get(f"/api/v1/interactions/{call.id}")[1]["last_message"] is None


def test_list_the_company_s_interactions_newest_first(agent_a, world):
    now = T0
    older = add_interaction(world, started_at=now - dt.timedelta(hours=1), status="recent", outcome="missed")
    text = add_interaction(world, kind="text", started_at=now + dt.timedelta(seconds=1))
    status, body = agent_a.get("/api/v1/interactions")
    assert status == 200
    assert [i["id"] for i in body] == [text.id] + [i.id for i in reversed(world["a"]["interactions"])] + [older.id]
    assert [i["id"] for i in agent_a.get("/api/v1/interactions?status=recent")[1]] == [older.id]
    assert [i["id"] for i in agent_a.get("/api/v1/interactions?kind=text&status=incoming")[1]] == [text.id]
    assert len(agent_a.get("/api/v1/interactions?limit=2")[1]) == 2


@pytest.mark.parametrize("query", ["status=gone", "kind=fax", "limit=201", "limit=0", "page=2"])
def test_list_refuses_bad_filters(agent_a, query):
    status, body = agent_a.get(f"/api/v1/interactions?{query}")
    assert (status, body["error"]) == (422, "invalid-fields")


def test_inbox_of_an_agent(agent_a, world):
    me, colleague = world["a"]["agents"]
    mine = add_interaction(world, status="active", agent=me)
    my_recent = add_interaction(world, status="recent", outcome="answered", agent=me)
    nobodys = add_interaction(world, status="recent", outcome="missed")
    add_interaction(world, status="active", agent=colleague)
    add_interaction(world, status="recent", outcome="answered", agent=colleague)
    status, box = agent_a.get("/api/v1/inbox")
    assert status == 200
    assert {i["id"] for i in box["incoming"]} == {i.id for i in world["a"]["interactions"]}
    assert [i["id"] for i in box["active"]] == [mine.id]
    assert {i["id"] for i in box["recent"]} == {my_recent.id, nobodys.id}
    assert box["active"][0]["agent"] == {"id": me.id, "display_name": me.display_name}


def test_inbox_without_an_agent_profile_is_incoming_only(make_client, world):
    add_interaction(world, status="recent", outcome="missed")
    client = make_client()
    client.sign_in("supervisor@a.example")
    status, box = client.get("/api/v1/inbox")
    assert status == 200
    assert ({i["id"] for i in box["incoming"]}, box["active"], box["recent"]) == (
        {i.id for i in world["a"]["interactions"]},
        [],
        [],
    )


def test_timeline_pages_over_every_interaction_once_newest_first(agent_a, world):
    lead = world["a"]["leads"][0]
    start = T0 - dt.timedelta(days=1)
    # Pairs share a start time, so paging must break ties by id.
    for n in range(24):
        add_interaction(world, started_at=start + dt.timedelta(minutes=n // 2))
    expected = [
        i.id
        for i in Interaction.select()
        .where(Interaction.lead == lead)
        .order_by(Interaction.started_at.desc(), Interaction.id.desc())
    ]
    assert len(expected) == 25
    seen, cursor, pages = [], None, 0
    while True:
        query = f"?before={cursor}" if cursor else ""
        status, page = agent_a.get(f"/api/v1/leads/{lead.id}/timeline{query}")
        assert status == 200
        seen += [i["id"] for i in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == expected and pages == 2
    status, page = agent_a.get(f"/api/v1/leads/{lead.id}/timeline?limit=25")
    assert [i["id"] for i in page["items"]] == expected and page["next"] is None


@pytest.mark.parametrize(
    "cursor",
    [
        "nonsense",
        base64.urlsafe_b64encode(b'["yesterday", 3]').decode(),
        base64.urlsafe_b64encode(b'["2024-01-01T00:00:00", "3"]').decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
    ],
)
def test_timeline_refuses_a_bad_cursor(agent_a, world, cursor):
    status, body = agent_a.get(f"/api/v1/leads/{world['a']['leads'][0].id}/timeline?before={cursor}")
    assert (status, body["error"]) == (422, "invalid-fields") and "before" in body["fields"]


def test_classification_is_partial_and_kept_with_who_and_when(agent_a, world, controller):
    interaction = world["a"]["interactions"][0]
    user = world["a"]["agents"][0].user
    status, body = agent_a.patch(f"/api/v1/interactions/{interaction.id}/classification", {"notes": "wants a quote"})
    assert (status, body["notes"]) == (200, "wants a quote")
    status, body = agent_a.patch(
        f"/api/v1/interactions/{interaction.id}/classification",
        {"tags": ["roof", "hot lead"], "qualified": True, "value_cents": 125000},
    )
    assert status == 200
    assert (body["notes"], body["tags"], body["qualified"], body["value_cents"]) == (
        "wants a quote",
        ["hot lead", "roof"],
        True,
        125000,
    )
    stored = Interaction.get_by_id(interaction.id)
    assert (stored.notes, stored.qualified, stored.value_cents) == ("wants a quote", True, 125000)
    changes = [
        (c.field, c.old_value, c.new_value, c.user_id)
        for c in ClassificationChange.select()
        .where(ClassificationChange.interaction == interaction)
        .order_by(ClassificationChange.id)
    ]
    assert changes == [
        ("notes", "", "wants a quote", user.id),
        ("qualified", None, "True", user.id),
        ("value_cents", None, "125000", user.id),
        ("tags", "", "hot lead, roof", user.id),
    ]
    # Each change is published with the interaction as it is now.
    assert [(name, data["company_id"], data["interaction"]["id"]) for name, data in controller.bus.published] == [
        ("interaction.updated", interaction.company_id, interaction.id)
    ] * 2
    first, second = (data["interaction"] for _, data in controller.bus.published)
    assert (first["notes"], first["tags"], first["qualified"], first["value_cents"]) == (
        "wants a quote",
        [],
        None,
        None,
    )
    assert (second["notes"], second["tags"], second["qualified"], second["value_cents"]) == (
        "wants a quote",
        ["hot lead", "roof"],
        True,
        125000,
    )

    status, history = agent_a.get(f"/api/v1/interactions/{interaction.id}/classification/history")
    assert status == 200
    assert [(h["field"], h["new_value"], h["user"]) for h in history] == [
        (field, new, {"id": user.id, "name": user.name}) for field, _, new, _ in changes
    ]


def test_a_classification_that_changes_nothing_records_nothing(agent_a, world, controller):
    interaction = world["a"]["interactions"][0]
    path = f"/api/v1/interactions/{interaction.id}/classification"
    assert agent_a.patch(path, {"notes": "same", "tags": ["a"]})[0] == 200
    controller.bus.published.clear()
    assert agent_a.patch(path, {"notes": "same", "tags": [" a "]})[0] == 200
    assert agent_a.patch(path, {})[0] == 200
    assert ClassificationChange.select().count() == 2
    assert controller.bus.published == []


def test_clearing_qualified_and_value(agent_a, world):
    interaction = world["a"]["interactions"][0]
    path = f"/api/v1/interactions/{interaction.id}/classification"
    agent_a.patch(path, {"qualified": False, "value_cents": 0})
    status, body = agent_a.patch(path, {"qualified": None, "value_cents": None, "tags": []})
    assert (status, body["qualified"], body["value_cents"]) == (200, None, None)
    assert Interaction.get_by_id(interaction.id).qualified is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"notes": "x" * 20_001}, "notes"),
        ({"value_cents": -1}, "value_cents"),
        ({"value_cents": 10**11 + 1}, "value_cents"),
        ({"value_cents": "lots"}, "value_cents"),
        ({"qualified": "maybe"}, "qualified"),
        ({"tags": "roof"}, "tags"),
        ({"tags": ["x" * 51]}, "tags.0"),
        ({"tags": ["ok", ""]}, "tags.1"),
        ({"tags": [f"t{n}" for n in range(31)]}, "tags"),
        ({"notes": "fine", "outcome": "answered"}, "outcome"),
    ],
)
def test_classification_refuses_bad_input_and_changes_nothing(agent_a, world, controller, body, field):
    interaction = world["a"]["interactions"][0]
    status, answer = agent_a.patch(f"/api/v1/interactions/{interaction.id}/classification", body)
    assert (status, answer["error"]) == (422, "invalid-fields") and field in answer["fields"]
    stored = Interaction.get_by_id(interaction.id)
    assert (stored.notes, stored.qualified, stored.value_cents, stored.outcome) == ("", None, None, None)
    assert (ClassificationChange.select().count(), InteractionTag.select().count(), Tag.select().count()) == (0, 0, 0)
    assert controller.bus.published == []


def test_oversize_notes_name_the_limit(agent_a, world):
    interaction = world["a"]["interactions"][0]
    _, answer = agent_a.patch(f"/api/v1/interactions/{interaction.id}/classification", {"notes": "x" * 20_001})
    assert "20000" in answer["fields"]["notes"]


def test_classification_by_an_integration_has_no_user(make_client, world):
    interaction = world["a"]["interactions"][0]
    client = make_client()
    client.bearer = new_api_key(world["a"]["company"], "CRM", None)[1]
    assert client.patch(f"/api/v1/interactions/{interaction.id}/classification", {"qualified": True})[0] == 200
    status, history = client.get(f"/api/v1/interactions/{interaction.id}/classification/history")
    assert status == 200 and [(h["field"], h["user"]) for h in history] == [("qualified", None)]


def test_tags_are_the_company_s_sorted(agent_a, world):
    classify(world["a"]["interactions"][0], None, {"tags": ["warm", "Roof"]}, T0)
    classify(world["a"]["interactions"][1], None, {"tags": ["asap"]}, T0)
    classify(world["b"]["interactions"][0], None, {"tags": ["secret b"]}, T0)
    assert agent_a.get("/api/v1/tags") == (200, ["Roof", "asap", "warm"])


@pytest.fixture
def data_dir(controller, tmp_path, monkeypatch):
    """The stand-in controller's data directory moved to a temporary one (never the repository's var/)."""
    settings = controller.settings
    data = tmp_path / "data"
    (data / "asterisk" / "spool" / "monitor").mkdir(parents=True)
    monkeypatch.setattr(
        controller,
        "settings",
        dataclasses.replace(settings, paths=dataclasses.replace(settings.paths, data_dir=str(data))),
    )
    return data


AUDIO = bytes(range(256)) * 4


def test_recording_is_served_with_ranges(agent_a, world, data_dir):
    interaction = world["a"]["interactions"][0]
    (data_dir / "asterisk/spool/monitor/call.wav").write_bytes(AUDIO)
    Interaction.update(recording="asterisk/spool/monitor/call.wav").where(Interaction.id == interaction.id).execute()
    path = f"/api/v1/interactions/{interaction.id}/recording"
    whole = agent_a.http.get(path)
    assert (whole.status_code, whole.data) == (200, AUDIO) and whole.mimetype.startswith("audio/")
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = agent_a.http.get(path, headers={"Range": "bytes=100-299"})
    assert part.status_code == 206 and part.data == AUDIO[100:300]
    assert part.headers["Content-Range"] == f"bytes 100-299/{len(AUDIO)}"


def test_voicemail_is_served(agent_a, world, data_dir):
    interaction = add_interaction(world, kind="voicemail", voicemail="asterisk/spool/monitor/vm.wav")
    (data_dir / "asterisk/spool/monitor/vm.wav").write_bytes(AUDIO)
    response = agent_a.http.get(f"/api/v1/interactions/{interaction.id}/voicemail", headers={"Range": "bytes=-4"})
    assert (response.status_code, response.data) == (206, AUDIO[-4:])


def test_a_message_in_an_agents_own_mailbox_is_played_by_them_and_supervisors_not_by_colleagues(
    make_client, world, data_dir
):
    alice = world["a"]["agents"][0]
    interaction = add_interaction(world, voicemail="asterisk/spool/monitor/vm.wav", mailbox_agent=alice)
    (data_dir / "asterisk/spool/monitor/vm.wav").write_bytes(AUDIO)
    path = f"/api/v1/interactions/{interaction.id}/voicemail"
    played = {}
    for email in ("agent1@a.example", "agent2@a.example", "supervisor@a.example", "admin@a.example"):
        client = make_client()
        client.sign_in(email)
        played[email] = client.http.get(path)
    assert {email: answer.status_code for email, answer in played.items()} == {
        "agent1@a.example": 200,
        "agent2@a.example": 403,
        "supervisor@a.example": 200,
        "admin@a.example": 200,
    }
    assert played["agent1@a.example"].data == AUDIO
    assert played["agent2@a.example"].get_json()["error"] == "not-your-voicemail"


@pytest.mark.parametrize(
    "stored", [None, "asterisk/spool/monitor/gone.wav", "../outside.wav", "{outside}", "asterisk/../../outside.wav"]
)
def test_audio_that_is_absent_or_outside_the_data_directory_is_not_found(agent_a, world, data_dir, stored):
    outside = data_dir.parent / "outside.wav"
    outside.write_bytes(AUDIO)
    interaction = world["a"]["interactions"][0]
    recording = stored and stored.format(outside=outside)
    Interaction.update(recording=recording).where(Interaction.id == interaction.id).execute()
    status, body = agent_a.get(f"/api/v1/interactions/{interaction.id}/recording")
    assert (status, body["error"]) == (404, "not-found")


def test_a_symlink_out_of_the_data_directory_is_not_followed(agent_a, world, data_dir):
    (data_dir.parent / "secret").write_bytes(b"secret")
    (data_dir / "asterisk/spool/monitor/link.wav").symlink_to(data_dir.parent / "secret")
    interaction = world["a"]["interactions"][0]
    Interaction.update(recording="asterisk/spool/monitor/link.wav").where(Interaction.id == interaction.id).execute()
    assert agent_a.get(f"/api/v1/interactions/{interaction.id}/recording")[0] == 404


def _company_rows(company):
    """A company's interactions with their classification, tags and history."""
    interactions = [
        (i.id, i.lead_id, i.status, i.qualified, i.value_cents, i.notes)
        for i in Interaction.select().where(Interaction.company == company).order_by(Interaction.id)
    ]
    tags = [
        (link.interaction_id, link.tag_id)
        for link in InteractionTag.select().join(Interaction).where(Interaction.company == company)
    ]
    history = [
        change.id for change in ClassificationChange.select().join(Interaction).where(Interaction.company == company)
    ]
    return interactions, tags, history, [t.name for t in Tag.select().where(Tag.company == company)]


def test_another_company_s_interactions_are_not_found(agent_a, world, controller, data_dir):
    theirs = world["b"]["interactions"][0]
    classify(theirs, None, {"notes": "B's notes", "tags": ["b-tag"]}, T0)
    (data_dir / "asterisk/spool/monitor/b.wav").write_bytes(AUDIO)
    Interaction.update(recording="asterisk/spool/monitor/b.wav", voicemail="asterisk/spool/monitor/b.wav").where(
        Interaction.id == theirs.id
    ).execute()
    before = _company_rows(world["b"]["company"])
    requests = [
        ("GET", f"/api/v1/interactions/{theirs.id}", None),
        ("PATCH", f"/api/v1/interactions/{theirs.id}/classification", {"notes": "mine now", "tags": []}),
        ("GET", f"/api/v1/interactions/{theirs.id}/classification/history", None),
        ("GET", f"/api/v1/interactions/{theirs.id}/recording", None),
        ("GET", f"/api/v1/interactions/{theirs.id}/voicemail", None),
        ("GET", f"/api/v1/leads/{theirs.lead_id}/timeline", None),
    ]
    for method, path, body in requests:
        status, answer = agent_a.request(method, path, body)
        assert (status, answer["error"]) == (404, "not-found"), (method, path)
    mine = {i.id for i in world["a"]["interactions"]}
    assert {i["id"] for i in agent_a.get("/api/v1/interactions")[1]} == mine
    assert {i["id"] for i in agent_a.get("/api/v1/inbox")[1]["incoming"]} == mine
    assert agent_a.get("/api/v1/tags")[1] == []
    assert _company_rows(world["b"]["company"]) == before
    assert controller.bus.published == []


def test_notes_keep_what_was_typed_including_spaces_and_lines(agent_a, world):
    interaction = world["a"]["interactions"][0]
    typed = "  Wants a quote for two bathrooms.\nCall back after 5 "
    status, body = agent_a.patch(f"/api/v1/interactions/{interaction.id}/classification", {"notes": typed})
    assert status == 200 and body["notes"] == typed
    assert Interaction.get_by_id(interaction.id).notes == typed


def test_decline_leaves_my_incoming_only_and_asks_the_call_to_move_on(agent_a, make_client, world, controller):
    interaction = world["a"]["interactions"][0]
    me = world["a"]["agents"][0]
    Interaction.update(channel_id="1795737826.0").where(Interaction.id == interaction.id).execute()
    controller.offers.offered("1795737826.0", me.id, "1795737826.7")  # my phone rings for it
    status, body = agent_a.post(f"/api/v1/interactions/{interaction.id}/decline")
    assert (status, body) == (
        200,
        {"interaction_id": interaction.id, "ringing_leg_hung_up": True, "passed_to_next_step": False},
    )
    # My ringing leg is hung up (the queue offers the call to the next agent at once); the call stays.
    assert controller.telephony.verbs == [("hangup", ("1795737826.7",))]
    assert (
        "interaction.declined",
        {"company_id": world["a"]["company"].id, "interaction_id": interaction.id, "for_agents": [me.id]},
    ) in controller.bus.published
    assert interaction.id not in [row["id"] for row in agent_a.get("/api/v1/inbox")[1]["incoming"]]
    colleague = make_client()
    colleague.sign_in("agent2@a.example")
    assert interaction.id in [row["id"] for row in colleague.get("/api/v1/inbox")[1]["incoming"]]


def test_answer_asks_for_the_call_to_ring_my_phone(agent_a, world, controller):
    interaction = world["a"]["interactions"][0]  # A's flow queues to Team A: both agents are offered its calls
    Interaction.update(channel_id="1795737826.0").where(Interaction.id == interaction.id).execute()
    status, body = agent_a.post(f"/api/v1/interactions/{interaction.id}/answer")
    assert (status, body) == (200, {"interaction_id": interaction.id, "ringing_already": False})
    # The call leaves the queue for the answer context, which rings my ring device.
    me = world["a"]["agents"][0]
    assert controller.telephony.verbs == [
        ("redirect", ("1795737826.0", names.ANSWER_CONTEXT, me.endpoint_name(me.ring_device)))
    ]


def test_answer_says_when_my_phone_already_rings_or_the_call_is_gone(agent_a, world, controller):
    interaction = world["a"]["interactions"][0]
    Interaction.update(channel_id="1795737826.0").where(Interaction.id == interaction.id).execute()
    me = world["a"]["agents"][0]
    controller.offers.offered("1795737826.0", me.id, "1795737826.7")  # the queue rings my phone for it
    status, body = agent_a.post(f"/api/v1/interactions/{interaction.id}/answer")
    assert (status, body["ringing_already"]) == (200, True)
    assert controller.telephony.verbs == []  # I pick it up there: the call is not moved
    controller.offers.withdrawn("1795737826.0", me.id)
    controller.telephony.fails = True  # the call ended (or someone answered it) meanwhile
    status, body = agent_a.post(f"/api/v1/interactions/{interaction.id}/answer")
    assert (status, body["error"]) == (409, "call-gone")
    assert [args[0] for args in controller.telephony.named("redirect")] == ["1795737826.0"]


def test_answer_is_refused_for_what_cannot_be_answered(agent_a, make_client, world, controller):
    from leadcenter.teams.models import TeamMember

    a = world["a"]
    call = a["interactions"][0]
    Interaction.update(channel_id="1795737826.0").where(Interaction.id == call.id).execute()
    text = add_interaction(world, kind="text", tracking_number=a["number"])
    over = add_interaction(
        world, channel_id="1795737826.9", tracking_number=a["number"], status="recent", outcome="missed"
    )
    for interaction, error in ((text, "not-a-call"), (over, "not-incoming")):
        status, body = agent_a.post(f"/api/v1/interactions/{interaction.id}/answer")
        assert (status, body["error"]) == (409, error)
    me, colleague = a["agents"]
    TeamMember.delete().where(TeamMember.agent == colleague).execute()  # the flow no longer offers to them
    other = make_client()
    other.sign_in("agent2@a.example")
    status, body = other.post(f"/api/v1/interactions/{call.id}/answer")
    assert (status, body["error"]) == (403, "not-offered")
    controller.availability.move(me, "go_offline", T0)
    status, body = agent_a.post(f"/api/v1/interactions/{call.id}/answer")
    assert (status, body["error"]) == (409, "agent-offline")
    status, body = agent_a.post(f"/api/v1/interactions/{world['b']['interactions'][0].id}/answer")
    assert status == 404
    assert controller.telephony.verbs == []


def test_hang_up_my_call_and_only_mine(agent_a, make_client, world, controller):
    me, colleague = world["a"]["agents"]
    mine = add_interaction(world, status="active", agent=me, channel_id="1795737826.1")
    theirs = add_interaction(world, status="active", agent=colleague, channel_id="1795737826.2")
    waiting = add_interaction(world, status="incoming", channel_id="1795737826.3")
    status, body = agent_a.post(f"/api/v1/interactions/{mine.id}/hangup")
    assert (status, body) == (200, {"interaction_id": mine.id, "hanging_up": True})
    status, body = agent_a.post(f"/api/v1/interactions/{theirs.id}/hangup")
    assert (status, body["error"]) == (403, "not-your-call")
    status, body = agent_a.post(f"/api/v1/interactions/{waiting.id}/hangup")
    assert (status, body["error"]) == (409, "not-active")
    supervisor = make_client()
    supervisor.sign_in("supervisor@a.example")
    assert supervisor.post(f"/api/v1/interactions/{theirs.id}/hangup")[0] == 200
    # The lead's channel is hung up (the agent's leg with it); the recorder concludes the call when Asterisk says so.
    assert controller.telephony.verbs == [("hang_up_call", ("1795737826.1",)), ("hang_up_call", ("1795737826.2",))]


def test_a_hang_up_on_a_web_node_with_no_controller_node_is_refused_503(agent_a, world, controller, monkeypatch):
    """cluster.RemoteTelephony's future, failed at once when no controller node is connected: nothing was asked."""
    mine = add_interaction(world, status="active", agent=world["a"]["agents"][0], channel_id="1795737826.4")

    def nobody_to_ask(verb) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_exception(cluster.ControllerUnavailable("no controller node is connected"))
        return future

    monkeypatch.setattr(controller.telephony, "submit", nobody_to_ask)
    status, body = agent_a.post(f"/api/v1/interactions/{mine.id}/hangup")
    assert (status, body["error"]) == (503, "controller-unavailable")
    assert Interaction.get_by_id(mine.id).status == "active"


def test_only_an_incoming_interaction_can_be_declined(agent_a, world):
    interaction = world["a"]["interactions"][1]
    interaction.status = "recent"
    interaction.save()
    status, body = agent_a.post(f"/api/v1/interactions/{interaction.id}/decline")
    assert (status, body["error"]) == (409, "not-incoming")


def test_incoming_is_for_the_agents_the_flow_offers_calls_to_and_not_while_offline(make_client, world, controller):
    from leadcenter.teams.models import TeamMember

    a = world["a"]
    interaction = a["interactions"][0]  # incoming, on A's number, whose flow queues to Team A (both agents)
    one, two = make_client(), make_client()
    one.sign_in("agent1@a.example")
    two.sign_in("agent2@a.example")
    assert interaction.id in [r["id"] for r in two.get("/api/v1/inbox")[1]["incoming"]]
    TeamMember.delete().where(TeamMember.agent == a["agents"][1]).execute()  # agent 2 leaves the team
    assert interaction.id not in [r["id"] for r in two.get("/api/v1/inbox")[1]["incoming"]]
    assert interaction.id in [r["id"] for r in one.get("/api/v1/inbox")[1]["incoming"]]
    controller.availability.move(a["agents"][0], "go_offline", T0)
    assert one.get("/api/v1/inbox")[1]["incoming"] == []


def test_everyone_declined_counts_the_agents_the_flow_offers_to_except_those_offline_or_unreachable(world, controller):
    from leadcenter.calls.services import everyone_declined
    from leadcenter.interactions.models import InteractionDecline

    interaction = world["a"]["interactions"][0]  # A's flow queues to Team A: both of A's agents
    one, two = world["a"]["agents"]
    reachable = {one.id, two.id}

    def declined() -> bool:
        return everyone_declined(interaction, lambda agent: agent.id in reachable)

    assert not declined()
    InteractionDecline.create(interaction=interaction, agent=one, at=T0)
    assert not declined()
    reachable.discard(two.id)  # their phone cannot ring: nobody else left to offer it to
    assert declined()
    reachable.add(two.id)
    controller.availability.move(two, "go_offline", T0)  # nobody else left to offer it to
    assert declined()
    controller.availability.move(two, "go_available", T0)
    InteractionDecline.create(interaction=interaction, agent=two, at=T0)
    assert declined()


def test_two_agents_respond_to_the_same_waiting_text_and_one_gets_it(make_client, world, controller, monkeypatch):
    """Agent 2's request read the conversation while it still waited; agent 1's Respond moved it before agent 2's
    went on: agent 2 is told it is taken, and it stays agent 1's, moved once."""
    from leadcenter.interactions.models import InteractionTransition

    thread = controller.texts.receive_text(world["a"]["number"], "+14045557000", "Hello?").interaction
    me, colleague = world["a"]["agents"]
    one, two = make_client(), make_client()
    one.sign_in("agent1@a.example")
    two.sign_in("agent2@a.example")
    controller.bus.published.clear()
    respond, held = controller.texts.respond, []

    def agent_1_first(interaction, agent):
        if agent.id == colleague.id:
            held.append(interaction.status)  # what agent 2's request read
            status, body = one.post(f"/api/v1/interactions/{thread.id}/respond")
            assert (status, body["status"], body["agent"]["id"]) == (200, "active", me.id)
        return respond(interaction, agent)

    monkeypatch.setattr(controller.texts, "respond", agent_1_first)
    status, body = two.post(f"/api/v1/interactions/{thread.id}/respond")
    assert held == ["incoming"]  # agent 2 read it waiting: a stale row, not a refused move
    assert status == 409 and body["error"] in ("illegal-transition", "conflict")
    stored = Interaction.get_by_id(thread.id)
    assert (stored.status, stored.agent_id) == ("active", me.id)
    assert [
        (t.event, t.to_status)
        for t in InteractionTransition.select().where(
            InteractionTransition.interaction == thread, InteractionTransition.event == "respond"
        )
    ] == [("respond", "active")]
    assert [
        (name, data["interaction"]["status"], data["interaction"]["agent"]["id"])
        for name, data in controller.bus.published
    ] == [("interaction.updated", "active", me.id)]


def test_respond_from_a_stale_row_is_a_conflict_and_changes_nothing(world, controller):
    """Both agents read the waiting conversation before either moved it: the first move wins, the second finds the
    row changed (Conflict) and writes nothing."""
    from leadcenter.interactions.lifecycle import Conflict
    from leadcenter.interactions.models import InteractionTransition
    from leadcenter.texts.models import TextThread

    thread = controller.texts.receive_text(world["a"]["number"], "+14045557000", "Hello?").interaction
    me, colleague = world["a"]["agents"]
    mine, theirs = Interaction.get_by_id(thread.id), Interaction.get_by_id(thread.id)
    controller.bus.published.clear()
    controller.texts.respond(mine, me)
    controller.clock.advance(seconds=1)
    with pytest.raises(Conflict):
        controller.texts.respond(theirs, colleague)
    stored = Interaction.get_by_id(thread.id)
    assert (stored.status, stored.agent_id, stored.answered_at) == ("active", me.id, T0)
    assert (
        InteractionTransition.select()
        .where(InteractionTransition.interaction == thread, InteractionTransition.event == "respond")
        .count()
        == 1
    )
    assert TextThread.get(TextThread.interaction == thread).idle_until == T0 + controller.texts.idle_timeout
    assert [name for name, _ in controller.bus.published] == ["interaction.updated"]
