"""Rows the public requests read, remembered for a moment (leadcenter/memo.py): kept for its seconds on monotonic time,
forgotten at once by the process that changes them; the visits' site configuration and the chat widget as the
collection and the snippet read them."""

from __future__ import annotations

from support import T0

from leadcenter import memo
from leadcenter.chats.services import Chats
from leadcenter.events import Event, EventBus
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.visits.models import NumberPool
from leadcenter.visits.services import Visits, settings_of

SHOP = "https://shop.example"
SITE_NUMBER = "+14045550100"


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_read_once_a_period_and_afresh_once_forgotten():
    ticks, reads = Ticks(), []
    recent: memo.Recent[str, int] = memo.Recent(1.0, ticks)

    def load(key: str) -> int:
        reads.append(key)
        return len(reads)

    assert [recent.get("a", load), recent.get("a", load), recent.get("b", load)] == [1, 1, 2]
    ticks.now += 0.99
    assert recent.get("a", load) == 1
    ticks.now += 0.01  # a whole second since it was read
    assert recent.get("a", load) == 3
    assert recent.get("b", load) == 4  # b too
    recent.forget("a")
    assert recent.get("a", load) == 5 and recent.get("b", load) == 4
    recent.forget()
    assert recent.get("b", load) == 6
    assert memo.Recent(0, ticks).get("a", load) == 7  # 0 s: never kept


def test_a_scan_of_keys_keeps_at_most_the_bound(monkeypatch):
    monkeypatch.setattr(memo, "MAX_KEYS", 10)
    recent: memo.Recent[int, int] = memo.Recent(60.0, Ticks())
    for key in range(25):
        recent.get(key, lambda k: k)
    assert len(recent._kept) <= 10 and recent.get(24, lambda k: -1) == 24  # the newest stay


def _pooled(company, trunk, pool, number):
    return TrackingNumber.create(company=company, number=number, name=number, trunk=trunk, pool_id=pool.id)


def test_the_collection_sees_a_pool_change_at_once_when_told_and_within_its_seconds_otherwise(world):
    a = world["a"]
    bus = EventBus()
    visits = Visits(bus, lambda: T0, remember_seconds=60)
    widget = Chats.widget_of(a["company"])
    settings = settings_of(a["company"])
    settings.site_number = SITE_NUMBER
    settings.save()
    pool = NumberPool.create(company=a["company"], name="Website")
    first = _pooled(a["company"], a["trunk"], pool, "+14045550161")

    def shown() -> str | None:
        return visits.collect(widget, None, "view", f"{SHOP}/", "", "", False).numbers.get(SITE_NUMBER)

    assert shown() == first.number
    second = _pooled(a["company"], a["trunk"], pool, "+14045550162")
    assert shown() is None  # the pool as remembered: one number, held
    bus.deliver(Event("tracking_number.updated", {"company_id": a["company"].id}, 1, T0))
    assert shown() == second.number
    # Another company's change leaves this one's remembered.
    _pooled(a["company"], a["trunk"], pool, "+14045550163")
    bus.deliver(Event("number_pool.updated", {"company_id": world["b"]["company"].id}, 2, T0))
    assert shown() is None


def test_a_disabled_widget_is_refused_once_its_change_is_told(world):
    bus = EventBus()
    chats = Chats(bus, lambda: T0, remember_seconds=60)
    widget = Chats.widget_of(world["a"]["company"])
    assert chats.widget_by_key(widget.public_key).id == widget.id
    widget.enabled = False
    widget.save()
    assert chats.widget_by_key(widget.public_key) is not None  # remembered
    chats.widget_changed()
    assert chats.widget_by_key(widget.public_key) is None
    widget.enabled = True
    widget.save()
    bus.deliver(Event("team.updated", {"company_id": world["a"]["company"].id}, 1, T0))  # chat routing lives there
    assert chats.widget_by_key(widget.public_key).id == widget.id
