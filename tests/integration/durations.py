"""The integration files' running times, which `make test` starts longest first (conftest.py): with a file per
worker at a time, a long file started last is the run's tail (xdist's own order, by number of tests, put the visits'
one 94 s test last).

    make integration PYTEST_ARGS=--junitxml=/tmp/integration.xml
    .venv/bin/python tests/integration/durations.py /tmp/integration.xml > tests/integration/durations.json
"""

from __future__ import annotations

import collections
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

RECORDED = Path(__file__).with_name("durations.json")


def file_seconds(junit_xml: str) -> dict[str, float]:
    """Each test file's seconds (its tests' setup, call and teardown) in a JUnit XML report, longest first."""
    seconds: collections.Counter[str] = collections.Counter()
    for case in ET.parse(junit_xml).iter("testcase"):
        seconds[case.get("classname", "").rsplit(".", 1)[-1] + ".py"] += float(case.get("time", 0))
    return {name: round(total, 1) for name, total in seconds.most_common()}


def recorded() -> dict[str, float]:
    return json.loads(RECORDED.read_text()) if RECORDED.exists() else {}


if __name__ == "__main__":
    print(json.dumps(file_seconds(sys.argv[1]), indent=1))
