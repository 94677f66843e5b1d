import threading

from leadcenter.events import EventBus


def test_events_arrive_in_order_on_the_dispatcher_thread():
    bus = EventBus()
    seen = []
    bus.subscribe("call.*", lambda e: seen.append((e.name, e.data["n"], threading.current_thread().name)))
    bus.start()
    for n in range(50):
        bus.publish("call.inbound" if n % 2 else "call.ended", n=n)
    bus.publish("lead.updated", n=99)
    assert bus.wait_idle(5)
    bus.stop()
    assert [n for _, n, _ in seen] == list(range(50))
    assert {thread for _, _, thread in seen} == {"event-dispatcher"}


def test_a_failing_subscriber_does_not_stop_the_others(caplog):
    bus = EventBus()
    seen = []
    bus.subscribe("*", lambda e: 1 / 0)
    bus.subscribe("*", lambda e: seen.append(e.seq))
    bus.start()
    first = bus.publish("a.b")
    second = bus.publish("a.c")
    assert bus.wait_idle(5)
    bus.stop()
    assert seen == [first.seq, second.seq]
    assert "ZeroDivisionError" in caplog.text


def test_another_nodes_event_reaches_only_the_subscribers_for_every_node_in_this_nodes_sequence():
    bus = EventBus()
    domain, everywhere = [], []
    bus.subscribe("lead.*", domain.append)
    bus.subscribe("lead.*", everywhere.append, everywhere=True)
    bus.start()
    own = bus.publish("lead.updated", company_id=1)
    at = own.at.replace(year=2020)
    remote = bus.publish_remote("lead.updated", {"company_id": 2}, at)
    assert bus.wait_idle(5)
    bus.stop()
    assert domain == [own]  # its domain reactions ran on the node that published it
    assert everywhere == [own, remote]
    assert (remote.seq, remote.at, remote.data) == (own.seq + 1, at, {"company_id": 2})


def test_an_immediate_subscriber_gets_each_event_on_the_publishing_thread_in_order_without_waiting_for_the_others():
    """The event streams' fan-out never waits behind the dispatcher's reactions to the events queued before."""
    bus = EventBus()
    release = threading.Event()
    reactions, handed_on = [], []
    bus.subscribe("call.*", lambda e: release.wait(5) and reactions.append(e.seq))  # a slow reaction
    bus.subscribe("*", lambda e: handed_on.append((e.seq, threading.current_thread().name)), immediate=True)
    bus.start()
    first = bus.publish("call.inbound")
    second = bus.publish("interaction.created")
    remote = bus.publish_remote("lead.updated", {}, first.at)  # not everywhere: not for this one
    assert handed_on == [(first.seq, "MainThread"), (second.seq, "MainThread")] and reactions == []
    release.set()
    assert bus.wait_idle(5)
    bus.stop()
    assert reactions == [first.seq] and remote.seq == second.seq + 1
