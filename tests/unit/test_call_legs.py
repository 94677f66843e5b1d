"""Call legs (calls/legs.py): each party's time on a lead's call, and who is responsible for it."""

import datetime as dt

import pytest

from leadcenter.accounts.services import create_company, create_user
from leadcenter.agents.services import create_agent
from leadcenter.calls import legs
from leadcenter.interactions.models import Interaction
from leadcenter.interactions.schemas import InteractionOut
from leadcenter.leads.models import Lead

T0 = dt.datetime(2026, 11, 26, 12, 0, 0)


class Bus:
    def __init__(self):
        self.published = []

    def publish(self, name, **data):
        self.published.append((name, data))


@pytest.fixture
def call(database):
    company = create_company("Acme", "US")
    alice, bob = (
        create_agent(company, create_user(f"{name}@acme.example", name.title(), "password1"), now=T0)
        for name in ("alice", "bob")
    )
    lead = Lead.create(company=company, name="Lee", created_at=T0, updated_at=T0)
    interaction = Interaction.create(
        company=company,
        lead=lead,
        kind="call",
        direction="inbound",
        status="active",
        channel_id="lead.1",
        started_at=T0,
        answered_at=T0,
        status_changed_at=T0,
        agent=alice,
    )
    return dict(interaction=interaction, alice=alice, bob=bob)


def at(seconds):
    return T0 + dt.timedelta(seconds=seconds)


def test_the_call_moves_to_the_agent_who_joined_and_back_to_one_still_on(call):
    bus, interaction, alice, bob = Bus(), call["interaction"], call["alice"], call["bob"]
    legs.joined(bus, interaction, "alice.1", at(0), agent=alice)
    legs.joined(bus, interaction, "bob.1", at(30), agent=bob)
    assert Interaction.get_by_id(interaction.id).agent_id == bob.id
    assert [leg.channel_id for leg in legs.open_legs(interaction)] == ["alice.1", "bob.1"]
    legs.left(bus, "bob.1", at(50))  # a conference: Bob leaves, Alice is still on
    assert Interaction.get_by_id(interaction.id).agent_id == alice.id
    legs.left(bus, "alice.1", at(70))
    assert Interaction.get_by_id(interaction.id).agent_id == alice.id  # the last one stays responsible
    assert legs.open_legs(interaction) == []
    names = [name for name, _ in bus.published]
    assert names == ["interaction.updated", "call.leg_joined"] * 2 + ["interaction.updated", "call.leg_left"] * 2
    # The browser applies the event without refetching: it carries every leg.
    shown = [data for name, data in bus.published if name == "interaction.updated"][-1]["interaction"]["legs"]
    assert [(leg["agent_name"], leg["talk_seconds"], leg["left_at"] is not None) for leg in shown] == [
        ("Alice", 70, True),
        ("Bob", 20, True),
    ]


def test_joined_is_idempotent_per_channel_and_left_counts_once(call):
    bus, interaction = Bus(), call["interaction"]
    first = legs.joined(bus, interaction, "alice.1", at(0), agent=call["alice"])
    assert legs.joined(bus, interaction, "alice.1", at(5), agent=call["alice"]).id == first.id
    assert legs.left(bus, "alice.1", at(10)).left_at == at(10)
    assert legs.left(bus, "alice.1", at(20)) is None
    assert legs.left(bus, "nobody.1", at(20)) is None
    assert len(bus.published) == 4


def test_an_external_party_does_not_take_the_call(call):
    bus, interaction = Bus(), call["interaction"]
    leg = legs.joined(bus, interaction, "trunk.1", at(0), number="+14045550199")
    assert (leg.agent_id, leg.number) == (None, "+14045550199")
    out = InteractionOut.from_row(Interaction.get_by_id(interaction.id))
    assert out.agent.id == call["alice"].id
    assert [(leg.agent_id, leg.agent_name, leg.number, leg.left_at) for leg in out.legs] == [
        (None, "", "+14045550199", None)
    ]
    assert out.transfers == []


def test_an_agent_who_handed_the_call_on_leaves_it_nobodys_until_someone_joins(call):
    bus, interaction, alice, bob = Bus(), call["interaction"], call["alice"], call["bob"]
    legs.joined(bus, interaction, "alice.1", at(0), agent=alice)
    legs.CallTransfer.create(interaction=interaction, kind="blind", from_agent=alice, to_team=None, at=at(20))
    legs.left(bus, "alice.1", at(21))  # into a queue: out of her Active
    assert Interaction.get_by_id(interaction.id).agent_id is None
    legs.joined(bus, interaction, "bob.1", at(40), agent=bob)  # the queue connects Bob
    assert Interaction.get_by_id(interaction.id).agent_id == bob.id
