"""The demo company `make run` seeds, and its website: a business's own site on an origin of its own, whose pages
carry the company's chat snippet."""

from __future__ import annotations

import contextlib
import socket

import httpx
import pytest
from support import T0

from leadcenter import config, demo
from leadcenter.chats.models import ChatWidget
from leadcenter.teams.models import Team


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def settings(tmp_path):
    return config.load(
        env={
            "LEADCENTER_PATHS_DATA_DIR": str(tmp_path / "var"),
            "LEADCENTER_HTTP_PORT": "18123",
            "LEADCENTER_DEMO_SITE_PORT": str(free_port()),
        }
    )


def test_the_demo_companys_chats_go_to_sales_from_its_website_only(database, settings):
    company = demo.seed(settings, T0)
    assert company is not None and demo.company() == company
    widget = ChatWidget.get(ChatWidget.company == company)
    assert widget.team_id == Team.get(Team.name == "Sales").id
    assert widget.allowed_origins == demo.site_origin(settings) == f"http://127.0.0.1:{settings.demo.site_port}"
    assert demo.seed(settings, T0) is None  # once


def test_the_demo_website_serves_its_pages_with_the_snippet(database, settings):
    company = demo.seed(settings, T0)
    site = demo.serve_site(settings, company)
    assert site is not None
    try:
        key = ChatWidget.get(ChatWidget.company == company).public_key
        tag = f'<script src="http://127.0.0.1:18123/s/{key}.js" async></script>'
        for path in ("/", "/services.html"):
            page = httpx.get(demo.site_origin(settings) + path, timeout=5)
            assert page.status_code == 200 and page.text.count(tag) == 1 and "{snippet}" not in page.text, path
        assert httpx.get(demo.site_origin(settings) + "/site.css", timeout=5).headers["content-type"] == "text/css"
        assert httpx.get(demo.site_origin(settings) + "/../setup.cfg", timeout=5).status_code == 404
    finally:
        site.shutdown()
        site.server_close()


def test_no_demo_website_when_its_port_is_0(database, tmp_path):
    settings = config.load(env={"LEADCENTER_PATHS_DATA_DIR": str(tmp_path / "var"), "LEADCENTER_DEMO_SITE_PORT": "0"})
    assert demo.serve_site(settings, demo.seed(settings, T0)) is None
