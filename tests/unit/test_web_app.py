"""The agent app's static files (web/), as the controller serves them."""

from __future__ import annotations

import re
import unicodedata

import pytest

from leadcenter.web.app import WEB

SERVED = [
    *sorted(path for folder in ("js", "assets", "widget") for path in (WEB / folder).rglob("*") if path.is_file()),
    WEB / "index.html",
    WEB / "admin.html",
    WEB / "password.html",
]


def plain_text(character: str) -> bool:
    """Letters and punctuation every text font has (Latin-1 and the general punctuation: — … · • ‘ ’ “ ”)."""
    return ord(character) < 0x100 or 0x2000 <= ord(character) <= 0x206F


@pytest.mark.parametrize("path", SERVED, ids=lambda path: str(path.relative_to(WEB)))
def test_icons_ship_with_the_app_and_no_text_depends_on_the_machines_fonts(path):
    """An icon written as a character (an emoji, a pictograph, a dingbat, an arrow, a geometric shape) is drawn by
    whichever font the machine has, or as an empty box: the voicemail icon was one in Debian's Chromium. Icons are
    SVG in assets/icons.svg (html.js icon()); text is letters and punctuation."""
    found = [
        f"line {number}: {char!r} {unicodedata.name(char, hex(ord(char)))}"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for char in line
        if not plain_text(char)
    ]
    assert found == []


def test_every_icon_the_app_names_is_in_the_sprite():
    sprite = (WEB / "assets" / "icons.svg").read_text()
    symbols = set(re.findall(r'<symbol id="([a-z-]+)"', sprite))
    code = "\n".join(path.read_text() for path in (WEB / "js").rglob("*.js"))
    named = set(re.findall(r"\bicon\('([a-z-]+)'", code)) | set(re.findall(r"\bicon: '([a-z-]+)'", code))
    channels = set(
        re.search(r"const CHANNELS = new Set\(\[([^\]]*)\]\)", code)
        .group(1)
        .replace("'", "")
        .replace(" ", "")
        .split(",")
    )
    assert named and channels
    assert named | channels | {"interaction"} <= symbols
