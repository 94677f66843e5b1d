"""Nothing under leadcenter/ reads the wall clock except leadcenter/clock.py and the places that hand its clock out.

A domain that stamps a row with the wall clock while comparing it with an injected clock passes its tests only
while the real date is before the tests' fixed one (the outbox did, until 27 November 2026). So the rule is
checked on the source: a call of datetime.now / utcnow / today or time.time, or a use of ``clock.system``, is
allowed only where listed below, each with its reason. ``make check`` also runs the unit tests with the wall clock
a year ahead and a day behind (see tests/README.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

import leadcenter

ROOT = Path(leadcenter.__file__).parent

# Reading the wall clock directly (datetime.now and friends, time.time): the clock module only.
WALL_CLOCK_READERS = {"clock.py"}
# Using the system clock (clock.system): the composition roots that hand clocks to the domains, and the defaults
# of infrastructure whose times are only shown, never compared with a domain's.
SYSTEM_CLOCK_USERS = {
    "clock.py": "defines it",
    "controller.py": "the composition root: builds every domain's clock",
    "cli.py": "the command line's composition root (seeding the demo, creating accounts)",
    "db.py": "a row's created_at, for the record",
    "events.py": "when an event was published (the controller injects its clock)",
    "web/stream.py": "the time on a stream's hello frame (the controller injects its clock)",
    "sms/smpp.py": "when a bind came up, shown in /healthz (the controller injects its clock)",
    "accounts/services.py": "when a session was revoked, for the record",
}
WALL_CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
}


def _sources():
    for path in sorted(ROOT.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def _dotted(node: ast.AST) -> tuple[str, ...]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return tuple(reversed(parts))


def test_only_the_clock_module_reads_the_wall_clock():
    offenders = []
    for name, tree in _sources():
        if name in WALL_CLOCK_READERS:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _dotted(node.func)[-2:] in WALL_CLOCK_CALLS:
                offenders.append(f"{name}:{node.lineno} {'.'.join(_dotted(node.func))}()")
    assert offenders == [], "read the time from the domain's clock (leadcenter/clock.py) instead"


def test_the_system_clock_is_handed_out_only_by_the_composition_roots():
    offenders = []
    for name, tree in _sources():
        if name in SYSTEM_CLOCK_USERS:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "leadcenter.clock"
                and any(alias.name == "system" for alias in node.names)
            ):
                offenders.append(f"{name}:{node.lineno} imports clock.system")
            if isinstance(node, ast.Attribute) and _dotted(node)[-2:] == ("clock", "system"):
                offenders.append(f"{name}:{node.lineno} uses clock.system")
    assert offenders == [], "take a clock from the composition root (controller.py) instead"


def test_no_model_field_defaults_to_the_time():
    """A default of "now" is a clock read nobody injected: rows get their times from their domain's clock.
    (TimestampedModel.created_at is the one exception; see clock.py.)"""
    offenders = []
    for name, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _dotted(node.func)[-1:] == ("DateTimeField",):
                for keyword in node.keywords:
                    if keyword.arg == "default" and not (
                        name == "db.py" and _dotted(keyword.value) == ("clock", "system")
                    ):
                        offenders.append(f"{name}:{node.lineno}")
    assert offenders == []
