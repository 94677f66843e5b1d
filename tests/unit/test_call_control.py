"""Call control over the telephony stand-in: what the agents' Decline and Answer ask of Asterisk, and what they
leave for the call recorder (the interaction moves only when Asterisk says the call did)."""

from support import reachable

from leadcenter.interactions.models import Interaction, InteractionDecline

CHANNEL = "1795737826.0"


def waiting_call(world, controller, queued=True) -> Interaction:
    interaction = world["a"]["interactions"][0]  # A's flow queues to Team A: both of A's agents
    Interaction.update(channel_id=CHANNEL).where(Interaction.id == interaction.id).execute()
    if queued:
        controller.offers.queued(CHANNEL)
    return Interaction.get_by_id(interaction.id)


def test_the_last_agent_to_decline_a_queued_call_sends_it_to_the_flow_s_next_step(world, controller):
    one, two = world["a"]["agents"]
    reachable(controller, one, two)
    call = waiting_call(world, controller)
    controller.offers.offered(CHANNEL, one.id, "1795737826.1")
    assert controller.call_control.decline(call, one) == (True, False)
    assert controller.telephony.verbs == [("hangup", ("1795737826.1",))]  # the queue rings the next agent
    controller.offers.offered(CHANNEL, two.id, "1795737826.2")
    assert controller.call_control.decline(call, two) == (True, True)
    # Leaving the queue cancels the ringing leg too: only the step changes.
    assert controller.telephony.verbs[1:] == [("next_step", (CHANNEL,))]
    assert Interaction.get_by_id(call.id).status == "incoming"  # the recorder moves it when Asterisk does
    assert [data["for_agents"] for name, data in controller.bus.published if name == "interaction.declined"] == [
        [one.id],
        [two.id],
    ]


def test_a_decline_while_a_colleague_can_still_take_the_call_asks_nothing_of_asterisk(world, controller):
    one, two = world["a"]["agents"]
    reachable(controller, one, two)
    call = waiting_call(world, controller)
    assert controller.call_control.decline(call, one) == (False, False)  # nothing rings for me: no leg to end
    assert controller.telephony.verbs == []
    assert [d.agent_id for d in InteractionDecline.select()] == [one.id]


def test_a_colleague_nothing_can_ring_does_not_keep_the_call_waiting(world, controller):
    one, _ = world["a"]["agents"]
    reachable(controller, one)  # agent 2's phone is not registered
    call = waiting_call(world, controller)
    assert controller.call_control.decline(call, one) == (False, True)
    assert controller.telephony.verbs == [("next_step", (CHANNEL,))]


def test_a_call_ringing_agents_directly_is_not_sent_on_by_declines(world, controller):
    """A ring-agents step ends by itself when its last leg is hung up: only the ringing leg is."""
    one, two = world["a"]["agents"]
    reachable(controller, one, two)
    call = waiting_call(world, controller, queued=False)
    controller.offers.offered(CHANNEL, one.id, "1795737826.1")
    controller.offers.offered(CHANNEL, two.id, "1795737826.2")
    controller.call_control.decline(call, one)
    assert controller.call_control.decline(call, two) == (True, False)
    assert controller.telephony.verbs == [("hangup", ("1795737826.1",)), ("hangup", ("1795737826.2",))]


def test_declining_a_text_leaves_it_for_the_others_and_asks_nothing_of_asterisk(world, controller):
    one, _ = world["a"]["agents"]
    thread = controller.texts.receive_text(world["a"]["number"], "+14045557000", "Hello?").interaction
    assert controller.call_control.decline(thread, one) == (False, False)
    assert controller.call_control.decline(thread, one) == (False, False)  # twice: still one decline
    assert controller.telephony.verbs == []
    assert InteractionDecline.select().where(InteractionDecline.interaction == thread).count() == 1
    assert Interaction.get_by_id(thread.id).status == "incoming"


def test_answer_of_a_call_that_ended_meanwhile_is_gone_and_moves_nothing(world, controller):
    one, _ = world["a"]["agents"]
    call = waiting_call(world, controller)
    controller.telephony.fails = True
    assert controller.call_control.answer(call, one) == "gone"
    assert [args[0] for args in controller.telephony.named("redirect")] == [CHANNEL]
    assert Interaction.get_by_id(call.id).status == "incoming"
    assert controller.bus.published == []
