"""Visits on a file database (each thread its own connection, as the web server's request threads have): the
IMMEDIATE transaction that reads a pool's free numbers and takes one never lets two concurrent visitors hold the same
number; and the collection endpoint over the production web server (support.Serving)."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
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


def _collect_over_http(server: str, key: str, body: bytes, origin: str, chunked: bool = False):
    """The snippet's request to the production web server, as a browser sends it: text/plain, with its Origin."""
    connection = http.client.HTTPConnection(server, timeout=10)
    headers = {"Origin": origin, "Content-Type": "text/plain;charset=UTF-8"}
    if chunked:
        connection.putrequest("POST", f"/s/{key}/collect")
        for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
            connection.putheader(name, value)
        connection.endheaders()
        for start in range(0, len(body), 4096):
            piece = body[start : start + 4096]
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.send(b"0\r\n\r\n")
    else:
        connection.request("POST", f"/s/{key}/collect", body=body, headers=headers)
    response = connection.getresponse()
    answer = (response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(response.read() or b"null"))
    connection.close()
    return answer


def test_the_production_server_serves_the_snippets_visits_and_bounds_their_bodies(server, world, controller):
    widget = controller.chats.widget_of(world["a"]["company"])
    widget.allowed_origins = "https://shop.example"
    widget.save()
    view = {"visitor": None, "kind": "view", "page": {"url": "https://shop.example/", "title": "", "referrer": ""}}
    status, headers, body = _collect_over_http(
        server, widget.public_key, json.dumps(view).encode(), "https://shop.example"
    )
    assert status == 200 and headers["access-control-allow-origin"] == "https://shop.example", body
    assert len(body["visitor"]) == 22 and body["numbers"] == {}
    # A body over 8 KB, announced or streamed in chunks, is refused without being stored.
    padded = json.dumps({**view, "page": {**view["page"], "title": "x" * 9000}}).encode()
    for chunked in (False, True):
        status, _, refused = _collect_over_http(server, widget.public_key, padded, "https://shop.example", chunked)
        assert (status, refused["error"]) == (413, "request-entity-too-large")
    assert VisitSession.select().count() == 1
