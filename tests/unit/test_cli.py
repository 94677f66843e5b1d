"""The `leadcenter` command's account commands, run as an operator would, on a data directory of their own
(Asterisk is `external` here: the commands render its configuration and reload nothing)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from support import PASSWORD

from leadcenter import db
from leadcenter.cli import main


@pytest.fixture
def leadcenter(tmp_path):
    """Run `leadcenter ARGS...`; the result (exit code and output)."""
    env = {"LEADCENTER_PATHS_DATA_DIR": str(tmp_path / "var"), "LEADCENTER_ASTERISK_EXTERNAL": "true"}

    def run(*args: str):
        return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)

    yield run
    db.database.close()


def memberships() -> set[tuple[str, str, str]]:
    from leadcenter.accounts.models import Company, Membership, User
    from leadcenter.agents.models import Agent

    rows = {
        (m.user.email, m.company.name, m.role)
        for m in Membership.select(Membership, User, Company).join(User).switch(Membership).join(Company)
    }
    agents = {(a.user.email, a.company.name, "agent") for a in Agent.select()}
    assert {row for row in rows if row[2] == "agent"} == agents  # every agent membership has its agent profile
    return rows


def test_an_existing_user_joins_another_company_with_the_role_given(leadcenter):
    for name in ("Acme Plumbing", "Bayside Dental"):
        assert leadcenter("company", "add", name).exit_code == 0
    added = leadcenter("user", "add", "Dana@Example.com", "--name", "Dana", "--company", "1", "--password", PASSWORD)
    assert added.exit_code == 0, added.output
    # `user add` with an email that has an account refuses, and says how to add it to the company.
    again = leadcenter("user", "add", "dana@example.com", "--name", "Dana", "--company", "2", "--password", PASSWORD)
    assert again.exit_code == 1
    assert "leadcenter user join dana@example.com --company 2 --role agent" in again.output
    joined = leadcenter("user", "join", "DANA@example.com", "--company", "2", "--role", "agent")
    assert (joined.exit_code, joined.output) == (0, "user dana@example.com added to Bayside Dental as agent\n")
    assert leadcenter("user", "join", "dana@example.com", "--company", "1", "--role", "admin").exit_code == 1
    assert memberships() == {
        ("dana@example.com", "Acme Plumbing", "agent"),
        ("dana@example.com", "Bayside Dental", "agent"),
    }
    from leadcenter.agents.models import Agent, SipCredential

    assert SipCredential.select().join(Agent).count() == 4  # a softphone and a desk phone in each company


@pytest.mark.parametrize(
    "args, said",
    [
        (("user", "join", "nobody@example.com", "--company", "1"), "no user nobody@example.com"),
        (("user", "join", "dana@example.com", "--company", "9"), "no company 9"),
        (("user", "join", "dana@example.com", "--company", "1"), "already in Acme Plumbing as supervisor"),
    ],
)
def test_join_refuses_what_it_cannot_do(leadcenter, args, said):
    leadcenter("company", "add", "Acme Plumbing")
    leadcenter(
        "user",
        "add",
        "dana@example.com",
        "--name",
        "Dana",
        "--company",
        "1",
        "--role",
        "supervisor",
        "--password",
        PASSWORD,
    )
    refused = leadcenter(*args)
    assert refused.exit_code == 1 and said in refused.output
    assert memberships() == {("dana@example.com", "Acme Plumbing", "supervisor")}


def test_the_chat_widgets_snippet_ready_to_paste_and_where_it_runs(leadcenter):
    from leadcenter.chats.models import ChatWidget

    assert leadcenter("company", "add", "Acme Plumbing").exit_code == 0
    shown = leadcenter("company", "chat-widget", "1")
    key = ChatWidget.get().public_key
    assert shown.exit_code == 0
    assert f'<script src="https://127.0.0.1:8443/s/{key}.js" async></script>' in shown.output
    assert "runs on no site yet" in shown.output
    shown = leadcenter(
        "company", "chat-widget", "1", "--url", "https://lc.acme.example/", "--allow", "https://www.acme.example/"
    )
    assert f'<script src="https://lc.acme.example/s/{key}.js" async></script>' in shown.output
    assert "It runs on: https://www.acme.example" in shown.output
    refused = leadcenter("company", "chat-widget", "1", "--allow", "acme")
    assert refused.exit_code == 2 and "--allow" in refused.output, refused.output
    assert ChatWidget.get().allowed_origins == "https://www.acme.example"  # unchanged


def test_the_first_user_is_the_installation_owner_and_user_owner_makes_or_unmakes_one(leadcenter):
    from leadcenter.accounts.models import User

    assert leadcenter("company", "add", "Acme Plumbing").exit_code == 0
    first = leadcenter("user", "add", "ann@example.com", "--name", "Ann", "--company", "1", "--role", "admin",
                       "--password", PASSWORD)  # fmt: skip
    assert first.output == "user ann@example.com added to Acme Plumbing as admin, the installation owner\n"
    second = leadcenter("user", "add", "bo@example.com", "--name", "Bo", "--company", "1", "--password", PASSWORD)
    assert second.output == "user bo@example.com added to Acme Plumbing as agent\n"
    assert [u.email for u in User.select().where(User.owner == True)] == ["ann@example.com"]  # noqa: E712
    made = leadcenter("user", "owner", "BO@example.com")
    assert (made.exit_code, made.output) == (0, "bo@example.com is now the installation owner\n")
    assert "(installation owner)" in leadcenter("user", "list").output
    unmade = leadcenter("user", "owner", "ann@example.com", "--revoke")
    assert (unmade.exit_code, unmade.output) == (0, "ann@example.com is no longer the installation owner\n")
    assert [u.email for u in User.select().where(User.owner == True)] == ["bo@example.com"]  # noqa: E712
    assert leadcenter("user", "owner", "nobody@example.com").exit_code == 1


def test_the_demo_seeds_its_admin_as_the_installation_owner(leadcenter):
    from leadcenter.accounts.models import User

    assert leadcenter("demo").exit_code == 0
    assert [u.email for u in User.select().where(User.owner == True)] == ["admin@acme.example"]  # noqa: E712
