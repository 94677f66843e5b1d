"""Pool numbers under concurrent visitors, on a file database (each thread its own connection, as the web server's
request threads have): the IMMEDIATE transaction that reads the free numbers and takes one never lets two visitors
hold the same number."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.visits.models import NumberPool, VisitSession
from leadcenter.visits.services import settings_of

SITE_NUMBER = "+14045550100"
POOL_SIZE = 6
VISITORS = 8


@pytest.fixture
def database(file_database):
    return file_database


def test_concurrent_visitors_never_hold_the_same_pool_number(world, controller, file_database):
    a = world["a"]
    widget = controller.chats.widget_of(a["company"])
    settings = settings_of(a["company"])
    settings.site_number = SITE_NUMBER
    settings.save()
    pool = NumberPool.create(company=a["company"], name="Website")
    for n in range(POOL_SIZE):
        TrackingNumber.create(
            company=a["company"], number=f"+140455502{n:02d}", name=f"Pool {n}", trunk=a["trunk"], pool_id=pool.id
        )
    start = threading.Barrier(VISITORS)

    def visitor(_) -> str | None:
        try:
            start.wait(10)
            told = controller.visits.collect(widget, None, "view", "https://shop.example/", "", "", False)
            return told.numbers.get(SITE_NUMBER)
        finally:
            file_database.close()  # this thread's connection

    with concurrent.futures.ThreadPoolExecutor(VISITORS) as threads:
        shown = list(threads.map(visitor, range(VISITORS), timeout=30))  # a visitor's exception is raised here
    given = [number for number in shown if number is not None]
    assert len(given) == POOL_SIZE and len(set(given)) == POOL_SIZE  # each number to one visitor; two see the site's
    held = [s.tracking_number_id for s in VisitSession.select() if s.tracking_number_id is not None]
    assert len(held) == len(set(held)) == POOL_SIZE
