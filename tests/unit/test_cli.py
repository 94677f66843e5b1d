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


def test_an_operator_sets_up_a_team_from_the_shell(leadcenter, tmp_path):
    """`leadcenter team add / set / list / delete`: the API's fields and checks, rendered into the queue."""
    assert leadcenter("company", "add", "Acme Plumbing").exit_code == 0
    for n in (1, 2):
        added = leadcenter(
            "user", "add", f"agent{n}@example.com", "--name", f"Agent {n}", "--company", "1", "--password", PASSWORD
        )
        assert added.exit_code == 0, added.output
    made = leadcenter(
        "team", "add", "Support", "--company", "1", "--strategy", "linear", "--member", "2", "--member", "1",
        "--wrap-up", "15", "--max-wait", "90", "--chats",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "linear" in made.output and "wrap-up 15 s" in made.output and "gets the website chats" in made.output
    queues = (tmp_path / "var" / "asterisk" / "etc" / "generated" / "queues.conf").read_text()
    assert "[team1] ; team Support\nstrategy = linear\n" in queues
    assert queues.index("agent2,PJSIP") < queues.index("agent1,PJSIP")  # the team's order
    changed = leadcenter(
        "team", "set", "1", "--wrap-up", "rejoin", "--ring-out", "available", "--penalty", "1=3",
        "--service-level", "30",
    )  # fmt: skip
    assert changed.exit_code == 0, changed.output
    assert "wrap-up until Rejoin" in changed.output and "1 (penalty 3)" in changed.output
    assert "service level within 30 s" in changed.output
    assert (
        "member = PJSIP/webrtc1,3,agent1"
        in (tmp_path / "var" / "asterisk" / "etc" / "generated" / "queues.conf").read_text()
    )
    refused = leadcenter("team", "set", "1", "--ring-seconds", "2")
    assert refused.exit_code == 2 and "--ring-seconds" in refused.output
    refused = leadcenter("team", "set", "1", "--service-level", "0")
    assert refused.exit_code == 2 and "--service-level" in refused.output
    refused = leadcenter("team", "set", "1", "--member", "99")
    assert refused.exit_code == 1 and "members.0: no agent 99 in this company" in refused.output
    assert "Support" in leadcenter("team", "list", "--company", "1").output
    deleted = leadcenter("team", "delete", "1")
    assert (deleted.exit_code, leadcenter("team", "list").output) == (0, "")


def test_trunks_and_tracking_numbers_from_the_shell(leadcenter, tmp_path):
    from leadcenter.audit.models import AuditEntry
    from leadcenter.flows.models import CallFlow
    from leadcenter.tracking_numbers.models import TrackingNumber
    from leadcenter.trunks.models import Trunk

    assert leadcenter("company", "add", "Acme Plumbing").exit_code == 0
    added = leadcenter(
        "trunk", "add", "--company", "1", "Carrier", "203.0.113.5", "--register", "acme-7", "--password", "s3cret",
        "--transport", "tcp", "--codecs", "g722,ulaw", "--qualify", "30",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "trunk 1 created: Carrier" in added.output
    trunk = Trunk.get_by_id(1)
    assert (trunk.auth, trunk.username, trunk.password, trunk.transport, trunk.codecs, trunk.qualify_seconds) == (
        "register", "acme-7", "s3cret", "tcp", "g722,ulaw", 30,
    )  # fmt: skip
    # The same rules as the API, with its words.
    refused = leadcenter("trunk", "add", "--company", "1", "Other", "sip.carrier.example")
    assert refused.exit_code == 2 and "not an IP address" in refused.output
    taken = leadcenter("trunk", "add", "--company", "1", "Twin", "203.0.113.5")
    assert taken.exit_code == 1 and "a trunk at 203.0.113.5:5060 exists already" in taken.output
    assert leadcenter("trunk", "set", "1", "--ip-only").exit_code == 0
    assert (Trunk.get_by_id(1).auth, Trunk.get_by_id(1).password) == ("ip", "")
    listed = leadcenter("trunk", "list", "--company", "1")
    assert listed.output == "   1  Carrier  203.0.113.5:5060 tcp  by address  codecs g722,ulaw, qualify every 30 s\n"
    # The rendered configuration follows.
    rendered = (tmp_path / "var" / "asterisk" / "etc" / "generated" / "pjsip_endpoints.conf").read_text()
    assert "allow = g722,ulaw" in rendered and "type = registration" not in rendered

    assert leadcenter("number", "add", "--company", "1", "404 555 0100", "Ads line", "--trunk", "1").exit_code == 0
    assert leadcenter("number", "set", "1", "--no-texting", "--source", "Google Ads").exit_code == 0
    number = TrackingNumber.get_by_id(1)
    assert (number.number, number.texting, number.source, number.flow_id) == ("+14045550100", False, "Google Ads", None)
    assert (
        "+14045550100  Ads line  trunk 1, no flow, no texting" in leadcenter("number", "list", "--company", "1").output
    )
    # A flow forwarding through the trunk keeps it too (the API's rule): its render would fail without it.
    forwarding = CallFlow.create(
        company=1, name="After hours", steps_json='[{"type": "forward", "trunk": 1, "number": "+14045550199"}]'
    )
    in_use = leadcenter("trunk", "delete", "1")
    assert in_use.exit_code == 1 and "tracking number +14045550100" in in_use.output
    assert "flow 'After hours'" in in_use.output
    assert leadcenter("number", "delete", "1").exit_code == 0
    forwarding.delete_instance()
    assert leadcenter("trunk", "delete", "1").exit_code == 0
    audit = [(e.actor, e.action, e.resource) for e in AuditEntry.select().order_by(AuditEntry.id)]
    assert audit == [
        ("system", "created", "trunk"),
        ("system", "updated", "trunk"),
        ("system", "created", "tracking_number"),
        ("system", "updated", "tracking_number"),
        ("system", "deleted", "tracking_number"),
        ("system", "deleted", "trunk"),
    ]
    assert not any("s3cret" in (e.before_json or "") + (e.after_json or "") for e in AuditEntry.select())


def test_an_operator_changes_a_flow_s_steps_lists_its_versions_and_restores_one(leadcenter, tmp_path):
    import json

    from leadcenter.audit.models import AuditEntry
    from leadcenter.flows.models import CallFlow

    assert leadcenter("company", "add", "Acme Plumbing").exit_code == 0
    leadcenter("flow", "list")  # opens the database
    flow = CallFlow.create(company=1, name="Main line")
    menu = [{"type": "ivr", "digits": {"1": {"steps": [{"type": "voicemail"}]}}}, {"type": "hangup"}]
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps(menu))
    saved = leadcenter("flow", "steps", str(flow.id), str(steps))
    assert saved.exit_code == 0 and "saved as version 2 and applied" in saved.output
    assert json.loads(leadcenter("flow", "show", str(flow.id)).output)["steps"][0]["digits"]["1"]["steps"] == [
        {"type": "voicemail", "agent": None}
    ]
    steps.write_text(json.dumps([{"type": "queue", "team": 99}]))
    refused = leadcenter("flow", "steps", str(flow.id), str(steps))
    assert refused.exit_code == 1 and "steps.0.team: no team 99 in this company" in refused.output
    versions = leadcenter("flow", "versions", str(flow.id)).output.splitlines()
    assert [line.split()[0] for line in versions] == ["2"] and "(current)" in versions[0]
    steps.write_text(json.dumps([{"type": "hangup"}]))
    leadcenter("flow", "steps", str(flow.id), str(steps))
    restored = leadcenter("flow", "restore", str(flow.id), "2")
    assert restored.exit_code == 0 and "version 4" in restored.output
    assert CallFlow.get_by_id(flow.id).steps[0]["type"] == "ivr"
    assert [e.action for e in AuditEntry.select().where(AuditEntry.resource == "flow")] == ["updated"] * 3
    assert "no version 9" in leadcenter("flow", "restore", str(flow.id), "9").output


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


def test_agent_sip_tells_how_a_desk_phone_registers_over_tls(leadcenter, tmp_path):
    assert leadcenter("company", "add", "Acme Plumbing").exit_code == 0
    assert leadcenter("user", "add", "dana@example.com", "--name", "Dana", "--company", "1", "--password", PASSWORD)
    shown = leadcenter("agent", "sip", "1")
    certificate = tmp_path / "var" / "tls" / "sip-self-signed.crt"
    assert f"server 127.0.0.1:5061, transport TLS, trusting {certificate}" in shown.output, shown.output
    assert "SRTP (SDES) is optional on desk phones' calls" in shown.output
    assert certificate.exists()  # the one Asterisk shows phones (installed beside its config)


def test_a_trunk_over_tls_from_the_shell_on_5061_and_only_with_sip_over_tls_on(leadcenter, monkeypatch):
    from leadcenter.trunks.models import Trunk

    assert leadcenter("company", "add", "Acme Plumbing").exit_code == 0
    added = leadcenter("trunk", "add", "--company", "1", "TLS carrier", "203.0.113.5", "--transport", "tls")
    assert added.exit_code == 0, added.output
    assert (Trunk.get_by_id(1).transport, Trunk.get_by_id(1).port) == ("tls", 5061)
    monkeypatch.setenv("LEADCENTER_ASTERISK_SIP_TLS_PORT", "0")
    refused = leadcenter("trunk", "add", "--company", "1", "Other", "203.0.113.6", "--transport", "tls")
    assert refused.exit_code == 1 and "SIP over TLS is off on this installation" in refused.output
    assert Trunk.select().count() == 1


def test_agent_sip_behind_the_edge_names_kamailio_s_ports(leadcenter, tmp_path, monkeypatch):
    for name, value in (("ENABLED", "true"), ("PORT", "5090"), ("TLS_PORT", "5091")):
        monkeypatch.setenv(f"LEADCENTER_KAMAILIO_{name}", value)
    assert leadcenter("company", "add", "Acme Plumbing").exit_code == 0
    assert leadcenter("user", "add", "dana@example.com", "--name", "Dana", "--company", "1", "--password", PASSWORD)
    shown = leadcenter("agent", "sip", "1").output
    certificate = tmp_path / "var" / "tls" / "sip-self-signed.crt"
    assert "server 127.0.0.1:5090  username desk1" in shown, shown
    assert "webrtc  the app's /sip relay  username webrtc1" in shown  # never through Kamailio
    assert f"server 127.0.0.1:5091, transport TLS, trusting {certificate}" in shown
