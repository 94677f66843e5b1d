import datetime as dt

import pytest
from support import PASSWORD

from leadcenter.accounts.services import add_member, create_company, create_user
from leadcenter.agents.services import create_agent
from leadcenter.interactions import lifecycle
from leadcenter.interactions.models import Interaction, InteractionTransition
from leadcenter.leads.models import Lead

T0 = dt.datetime(2026, 11, 26, 12, 0, 0)


@pytest.fixture
def call(database):
    company = create_company("Acme")
    lead = Lead.create(company=company, name="Lee", updated_at=T0)
    return Interaction.create(
        company=company, lead=lead, kind="call", direction="inbound", started_at=T0, status_changed_at=T0
    )


def test_answer_then_end_sets_timestamps_talk_time_and_outcome(call):
    lifecycle.move(call, "answer", T0 + dt.timedelta(seconds=5))
    assert (call.status, call.answered_at) == ("active", T0 + dt.timedelta(seconds=5))
    lifecycle.move(call, "end", T0 + dt.timedelta(seconds=65))
    stored = Interaction.get_by_id(call.id)
    assert (stored.status, stored.outcome, stored.talk_seconds) == ("recent", "answered", 60)
    assert stored.ended_at == T0 + dt.timedelta(seconds=65)
    moves = [
        (t.event, t.from_status, t.to_status) for t in InteractionTransition.select().order_by(InteractionTransition.id)
    ]
    assert moves == [("answer", "incoming", "active"), ("end", "active", "recent")]


@pytest.mark.parametrize(
    "event,outcome",
    [("abandon", "abandoned"), ("miss", "missed"), ("take_voicemail", "voicemail"), ("time_out", "timed_out")],
)
def test_concluding_an_incoming_interaction(call, event, outcome):
    lifecycle.move(call, event, T0 + dt.timedelta(seconds=40))
    assert (call.status, call.outcome, call.talk_seconds) == ("recent", outcome, None)


def test_illegal_moves_are_rejected_and_change_nothing(call):
    with pytest.raises(lifecycle.IllegalTransition, match="is incoming: no 'end' from there"):
        lifecycle.move(call, "end", T0)
    lifecycle.move(call, "miss", T0)
    for event in ("answer", "miss", "end"):
        with pytest.raises(lifecycle.IllegalTransition):
            lifecycle.move(call, event, T0)
    stored = Interaction.get_by_id(call.id)
    assert (stored.status, stored.outcome) == ("recent", "missed")
    assert InteractionTransition.select().count() == 1


@pytest.fixture
def waiting_text(call):
    """A text conversation waiting in Incoming, and two agents who may take it."""
    company = call.company
    agents = []
    for n in (1, 2):
        user = create_user(f"agent{n}@acme.example", f"Agent{n}", PASSWORD)
        add_member(user, company, "agent")
        agents.append(create_agent(company, user, now=T0))
    text = Interaction.create(
        company=company, lead=call.lead, kind="text", direction="inbound", started_at=T0, status_changed_at=T0
    )
    return text, agents


def test_two_agents_responding_to_one_waiting_conversation_one_wins_the_other_gets_conflict(waiting_text):
    """Both read it waiting; both press Respond: the first takes it, the second is refused and writes nothing."""
    text, (first, second) = waiting_text
    seen_by_first, seen_by_second = Interaction.get_by_id(text.id), Interaction.get_by_id(text.id)
    took = T0 + dt.timedelta(seconds=5)
    lifecycle.move(seen_by_first, "respond", took, agent=first)
    with pytest.raises(lifecycle.Conflict):
        lifecycle.move(seen_by_second, "respond", took + dt.timedelta(seconds=1), agent=second)
    stored = Interaction.get_by_id(text.id)
    assert (stored.status, stored.agent_id, stored.answered_at, stored.status_changed_at) == (
        "active",
        first.id,
        took,
        took,
    )
    assert [(t.event, t.from_status, t.to_status, t.at) for t in InteractionTransition.select()] == [
        ("respond", "incoming", "active", took)
    ]


def test_responding_is_for_conversations_only(call):
    with pytest.raises(lifecycle.IllegalTransition):
        lifecycle.move(call, "respond", T0)
    assert (Interaction.get_by_id(call.id).status, InteractionTransition.select().count()) == ("incoming", 0)
