"""The console's Teams page in Chromium against the real system: an admin creates a team with two agents, then
changes its strategy, wrap-up, callbacks and the members' order; Asterisk's queue follows at once, a bad value is said
next to its field, and the audit log lists the changes. Screenshot of the team's page."""

from __future__ import annotations

import contextlib
import re

from admin_console import AdminConsole
from browser import TIMEOUT_MS, Browser
from harness import wait_for
from playwright.sync_api import expect

from leadcenter.teams.models import Team, TeamMember

ALICE, BOB = 1, 2


def test_an_admin_creates_a_team_with_two_agents_and_changes_its_strategy(running, tmp_path):
    with Browser() as browser:
        admin = AdminConsole.open(browser, running, "#/teams")
        page = admin.page
        expect(page.locator(".teams-rows")).to_contain_text("Sales")
        form = page.locator("#new-team")
        form.get_by_label("Name").fill("Night desk")
        form.get_by_label("Alice Agent").check()
        form.get_by_label("Bob Agent").check()
        form.get_by_role("button", name="Create team").click()
        expect(admin.heading()).to_contain_text("Night desk", timeout=TIMEOUT_MS)
        team = Team.get(Team.name == "Night desk")
        queue = team.queue_name
        wait_for(
            lambda: "'leastrecent' strategy" in (running.instance.rx(f"queue show {queue}") or ""),
            5,
            what="the new team's queue in Asterisk",
        )
        members = page.locator(".team-members tbody tr")
        expect(members).to_have_count(2)
        expect(members.nth(0)).to_contain_text("Alice Agent")

        # A bad value is refused next to its field, and nothing changes.
        settings = page.locator("#team-form")
        settings.get_by_label("Ring each agent for (seconds)").fill("2")
        settings.get_by_role("button", name="Save").click()
        expect(settings.locator('.field-error[data-for="ring_seconds"]')).to_contain_text("greater than or equal to 5")
        assert Team.get_by_id(team.id).ring_seconds == 30

        settings.get_by_label("Ring each agent for (seconds)").fill("20")
        settings.get_by_label("Strategy").select_option("ringall")
        settings.get_by_label("After a call (wrap-up)").select_option("auto")
        settings.get_by_label("Wrap-up seconds").fill("15")
        settings.get_by_label("Penalty of Bob Agent").fill("2")
        settings.get_by_label("Waiting callers may press 1 to be called back, keeping their place").check()
        settings.get_by_label("Dial the lead at most (times)").fill("2")
        page.get_by_role("button", name="Move Bob Agent up").click()
        expect(members.nth(0)).to_contain_text("Bob Agent")
        settings.get_by_role("button", name="Save").click()
        expect(admin.toast()).to_contain_text("Night desk saved")
        shown = wait_for(
            lambda: (
                (text := running.instance.rx(f"queue show {queue}") or "") and "'ringall' strategy" in text and text
            ),
            5,
            what="the strategy live in Asterisk",
        )
        assert re.search(r"agent2 .*with penalty 2", shown) or "agent2" in shown
        saved = Team.get_by_id(team.id)
        assert (saved.strategy, saved.ring_seconds, saved.wrap_up_seconds) == ("ringall", 20, 15)
        assert (saved.callback_enabled, saved.callback_attempts, saved.callback_retry_seconds) == (True, 2, 300)
        order = TeamMember.select().where(TeamMember.team == team).order_by(TeamMember.position)
        assert [(m.agent_id, m.penalty) for m in order] == [(BOB, 2), (ALICE, 0)]
        admin.screenshot("teams", tmp_path)

        admin.go("#/audit")
        updated = page.locator(".audit-rows tbody tr", has_text="Night desk").first
        expect(updated).to_contain_text("Updated")
        expect(updated.locator(".changes")).to_contain_text("ringall")
        assert admin.errors == []
    with contextlib.closing(running.sign_in("admin@acme.example")) as client:
        assert client.delete(f"/api/v1/teams/{team.id}").status_code == 204
