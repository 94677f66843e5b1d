"""The time of day, as the domains read it: the only module that reads the system's wall clock.

A clock is a function returning the current time as a naive UTC datetime. The composition root builds one per
domain and hands it in (the texts domain's may be shifted: ``texts.clock_offset_seconds``); every timestamp a
domain stores or compares comes from its clock, so a test that fixes the clock gets the same answers whatever the
date is, and no comparison mixes a fixed time with the wall clock. ``tests/unit/test_clock.py`` checks that nothing
else under ``leadcenter/`` reads the wall clock.

Waits, timeouts and rates measure elapsed time with ``time.monotonic()``, which no clock setting moves.

The one default that reads this clock by itself is a row's ``created_at`` (``db.TimestampedModel``): when the row
was written, for the record; nothing compares it with a domain's clock (conversations order messages by the
``created_at`` the texts domain sets).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def system() -> dt.datetime:
    """Now, by the system's wall clock, in UTC (naive: the database stores UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def shifted(offset: dt.timedelta, base: Clock = system) -> Clock:
    """A clock ``offset`` ahead of ``base`` (behind when negative)."""
    if not offset:
        return base
    return lambda: base() + offset


def from_timestamp(seconds: float) -> dt.datetime:
    """A POSIX timestamp (Asterisk's event times) as naive UTC."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)
