"""Each integration test file phones, texts and names numbers of its own (tests/README.md): the files of a worker
share one database in turn, and a test finds its interaction by the lead's number, so a number two files use makes
one of them read the other's call. Only the demo company's tracking numbers are everyone's."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from leadcenter import demo

INTEGRATION = Path(__file__).parents[1] / "integration"
# +14045551234, 4045551234, 404 555 1234, +1 404 555 1234, 404-555-1234: the spellings the tests type
PHONE_NUMBER = re.compile(r"(?<![\d+.])(?:\+1 ?)?([2-9]\d{2})[ -]?(\d{3})[ -]?(\d{4})(?![\d.])")
SHARED = {number for number, _, _ in demo.NUMBERS}


def numbers_by_file() -> dict[str, set[str]]:
    files_of: dict[str, set[str]] = defaultdict(set)
    for path in sorted(INTEGRATION.glob("test_*.py")):
        for match in PHONE_NUMBER.finditer(path.read_text()):
            files_of["+1" + "".join(match.groups())].add(path.name)
    return files_of


def test_no_phone_number_is_used_by_two_integration_test_files():
    files_of = numbers_by_file()
    assert len(files_of) > 50  # the pattern finds the tests' numbers at all
    shared = {number: sorted(files) for number, files in files_of.items() if len(files) > 1 and number not in SHARED}
    assert shared == {}


def test_the_pattern_reads_every_spelling_the_tests_type():
    text = '"+14045551234" "4045551235" "404 555 1236" "+1 404 555 1237" "404-555-1238" "127.0.0.1" "0177.0.0.1"'
    assert ["+1" + "".join(m.groups()) for m in PHONE_NUMBER.finditer(text)] == [
        f"+1404555123{digit}" for digit in range(4, 9)
    ]
