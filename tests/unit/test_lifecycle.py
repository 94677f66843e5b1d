import datetime as dt

import pytest

from leadcenter.accounts.services import create_company
from leadcenter.interactions import lifecycle
from leadcenter.interactions.models import Interaction, InteractionTransition
from leadcenter.leads.models import Lead

T0 = dt.datetime(2026, 11, 26, 12, 0, 0)


@pytest.fixture
def call(database):
    company = create_company("Acme")
    lead = Lead.create(company=company, name="Lee", updated_at=T0)
    return Interaction.create(company=company, lead=lead, kind="call", direction="inbound", started_at=T0,
                              status_changed_at=T0)


def test_answer_then_end_sets_timestamps_talk_time_and_outcome(call):
    lifecycle.apply(call, "answer", T0 + dt.timedelta(seconds=5))
    assert (call.status, call.answered_at) == ("active", T0 + dt.timedelta(seconds=5))
    lifecycle.apply(call, "end", T0 + dt.timedelta(seconds=65))
    stored = Interaction.get_by_id(call.id)
    assert (stored.status, stored.outcome, stored.talk_seconds) == ("recent", "answered", 60)
    assert stored.ended_at == T0 + dt.timedelta(seconds=65)
    moves = [(t.event, t.from_status, t.to_status) for t in InteractionTransition.select().order_by(InteractionTransition.id)]
    assert moves == [("answer", "incoming", "active"), ("end", "active", "recent")]


@pytest.mark.parametrize("event,outcome", [("abandon", "abandoned"), ("miss", "missed"),
                                           ("take_voicemail", "voicemail"), ("time_out", "timed_out")])
def test_concluding_an_incoming_interaction(call, event, outcome):
    lifecycle.apply(call, event, T0 + dt.timedelta(seconds=40))
    assert (call.status, call.outcome, call.talk_seconds) == ("recent", outcome, None)


def test_illegal_moves_are_rejected_and_change_nothing(call):
    with pytest.raises(lifecycle.IllegalTransition, match="no 'end' from 'incoming'"):
        lifecycle.apply(call, "end", T0)
    lifecycle.apply(call, "miss", T0)
    for event in ("answer", "miss", "end"):
        with pytest.raises(lifecycle.IllegalTransition):
            lifecycle.apply(call, event, T0)
    stored = Interaction.get_by_id(call.id)
    assert (stored.status, stored.outcome) == ("recent", "missed")
    assert InteractionTransition.select().count() == 1
