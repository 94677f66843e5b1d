"""The admin API: company, users, API keys, agents, teams, flows, trunks and tracking numbers.

Every write is checked in the database, in Asterisk re-renders (controller.reconfigured) and in the events
published; every refusal leaves the database as it was.
"""

import datetime as dt

import pytest
from support import PASSWORD, T0, signed_in

from leadcenter import asterisk_config
from leadcenter.accounts.models import ApiKey, Company, Invitation, Membership, PasswordLink, User
from leadcenter.accounts.services import create_user
from leadcenter.agents.models import Agent, SipCredential
from leadcenter.agents.services import create_agent
from leadcenter.audit.models import AuditEntry
from leadcenter.flows.models import CallFlow
from leadcenter.pbx import render
from leadcenter.teams.models import Team, TeamMember
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk
from leadcenter.web.auth import new_api_key
from leadcenter.wire import utc_iso

API = "/api/v1"


def state(company: Company) -> dict:
    """Everything the admin API can change about a company, to show that a refused request changed nothing."""
    return {
        "company": (company.name, Company.get_by_id(company.id).default_region),
        "members": sorted(
            (m.user_id, m.role, m.user.name, m.user.active, m.user.password_hash)
            for m in Membership.select().where(Membership.company == company)
        ),
        "agents": sorted(
            (a.id, a.display_name, a.chat_display_name, a.status, a.ring_device)
            for a in Agent.select().where(Agent.company == company)
        ),
        "links": sorted(
            (k.user_id, k.token_hash) for k in PasswordLink.select().where(PasswordLink.company == company)
        ),
        "audit": AuditEntry.select().where(AuditEntry.company == company).count(),
        "sip": sorted(
            (c.agent_id, c.device, c.password, c.enabled)
            for c in SipCredential.select().join(Agent).where(Agent.company == company)
        ),
        "teams": sorted(
            (
                t.id,
                t.name,
                t.strategy,
                t.ring_seconds,
                t.announce_position,
                tuple(m.agent_id for m in t.members.order_by(TeamMember.id)),
            )
            for t in Team.select().where(Team.company == company)
        ),
        "flows": sorted(
            (f.id, f.name, f.record, f.announce_recording, f.steps_json)
            for f in CallFlow.select().where(CallFlow.company == company)
        ),
        "trunks": sorted((t.id, t.name, t.host, t.port) for t in Trunk.select().where(Trunk.company == company)),
        "numbers": sorted(
            (n.id, n.number, n.name, n.source, n.trunk_id, n.flow_id)
            for n in TrackingNumber.select().where(TrackingNumber.company == company)
        ),
        "api_keys": sorted((k.id, k.name, k.revoked_at) for k in ApiKey.select().where(ApiKey.company == company)),
    }


def assert_refused(response, status, error, fields=None):
    code, body = response
    assert (code, body["error"]) == (status, error), body
    if fields is not None:
        assert set(body["fields"]) == set(fields), body["fields"]
    return body


# -- company ---------------------------------------------------------------------------------------------------


def test_rename_the_company_and_change_its_region(admin, world, controller):
    company = world["a"]["company"]
    status, body = admin.patch(f"{API}/company", {"name": "Acme A", "default_region": "gb"})
    assert status == 200
    assert (body["id"], body["name"], body["default_region"]) == (company.id, "Acme A", "GB")
    row = Company.get_by_id(company.id)
    assert (row.name, row.default_region) == ("Acme A", "GB")
    assert controller.reconfigured == 1  # the name labels the company's mailbox
    # Each event carries the resource as the API returns it: the other tabs apply it without asking again.
    assert controller.bus.published == [("company.updated", {"company_id": company.id, "company": body})]
    assert admin.get(f"{API}/company")[1] == body


def test_changing_the_region_alone_renders_nothing(admin, controller):
    assert admin.patch(f"{API}/company", {"default_region": "DE"})[0] == 200
    assert controller.reconfigured == 0 and controller.bus.names() == ["company.updated"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"default_region": "ZZ"}, "default_region"),
        ({"default_region": "USA"}, "default_region"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "A", "plan": "gold"}, "plan"),
    ],
)
def test_company_changes_must_be_valid(admin, world, controller, body, field):
    before = state(world["a"]["company"])
    assert_refused(admin.patch(f"{API}/company", body), 422, "invalid-fields", [field])
    assert state(world["a"]["company"]) == before and controller.reconfigured == 0


# -- users -----------------------------------------------------------------------------------------------------


def test_users_are_the_members_of_my_company(supervisor, world):
    status, users = supervisor.get(f"{API}/users")
    assert status == 200
    by_email = {u["email"]: u for u in users}
    assert set(by_email) == {
        "admin@a.example",
        "supervisor@a.example",
        "agent1@a.example",
        "agent2@a.example",
        "both@example.com",
    }
    assert by_email["admin@a.example"]["role"] == "admin" and by_email["admin@a.example"]["agent_id"] is None
    assert by_email["agent1@a.example"]["agent_id"] == world["a"]["agents"][0].id
    assert by_email["both@example.com"]["role"] == "agent"  # their role in A, not B's supervisor


def test_inviting_a_new_email_creates_the_account_and_its_first_sign_in_accepts(admin, world, controller, make_client):
    company = world["a"]["company"]
    status, body = admin.post(
        f"{API}/users",
        {
            "email": "New.Agent@A.example",
            "name": "New Agent",
            "password": "long enough",
            "role": "agent",
            "agent": {"devices": ["webrtc", "desk"], "ring_device": "desk"},
        },
    )
    assert status == 202, body
    invitation = Invitation.get_by_id(body["id"])
    assert body == {
        "id": invitation.id,
        "email": "new.agent@a.example",
        "role": "agent",
        "agent": True,
        "created_at": utc_iso(invitation.created_at),
        "link": None,  # the admin set the password
        "emailed": False,
    }
    user = User.get(User.email == "new.agent@a.example")
    assert not Membership.select().where(Membership.user == user).exists()  # not a user of A until they sign in
    assert [i["id"] for i in admin.get(f"{API}/invitations")[1]] == [invitation.id]
    assert controller.reconfigured == 0
    shown = {name: value for name, value in body.items() if name not in ("link", "emailed")}
    assert controller.bus.published == [("invitation.created", {"company_id": company.id, "invitation": shown})]

    new_agent = signed_in(make_client, "new.agent@a.example", "long enough")
    agent = Agent.get(Agent.user == user, Agent.company == company)
    assert new_agent.get(f"{API}/me/agent")[1]["id"] == agent.id
    assert Membership.get(Membership.user == user).role == "agent"
    assert (agent.display_name, agent.ring_device) == ("New Agent", "desk")
    assert sorted(c.device for c in agent.sip_credentials) == ["desk", "webrtc"]
    assert controller.reconfigured == 1
    member = admin.get(f"{API}/users/{user.id}")[1]
    assert (member["role"], member["agent_id"]) == ("agent", agent.id)
    assert controller.bus.published[-1] == ("user.created", {"company_id": company.id, "user": member})
    assert admin.get(f"{API}/invitations")[1] == []


def test_inviting_someone_who_is_not_an_agent(admin, controller, make_client):
    status, body = admin.post(
        f"{API}/users", {"email": "sup2@a.example", "name": "Sup Two", "password": "long enough", "role": "supervisor"}
    )
    assert status == 202 and (body["role"], body["agent"]) == ("supervisor", False)
    session = signed_in(make_client, "sup2@a.example", "long enough").get(f"{API}/session")[1]
    assert (session["company"]["role"], session["agent_id"]) == ("supervisor", None)
    assert controller.reconfigured == 0 and controller.bus.names() == ["invitation.created", "user.created"]


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"email": "n@a.example", "role": "agent"}, {"name"}),
        ({"email": "agent1@b.example", "role": "agent"}, {"name"}),  # the same for an existing account
        ({"email": "n@a.example", "name": "N", "password": "short", "role": "agent"}, {"password"}),
        ({"email": "agent1@b.example", "name": "N", "password": "short", "role": "agent"}, {"password"}),
        ({"email": "not-an-email", "name": "N", "password": "long enough", "role": "agent"}, {"email"}),
        ({"email": "n@a.example", "name": "N", "password": "long enough", "role": "owner"}, {"role"}),
        (
            {
                "email": "n@a.example",
                "name": "N",
                "password": "long enough",
                "role": "agent",
                "agent": {"devices": ["webrtc"], "ring_device": "desk"},
            },
            {"agent"},
        ),
        (
            {
                "email": "n@a.example",
                "name": "N",
                "password": "long enough",
                "role": "agent",
                "agent": {"devices": ["pager"]},
            },
            {"agent.devices.0"},
        ),
    ],
)
def test_invitations_must_be_valid(admin, world, controller, body, fields):
    before = state(world["a"]["company"])
    assert_refused(admin.post(f"{API}/users", body), 422, "invalid-fields", fields)
    assert state(world["a"]["company"]) == before and not User.select().where(User.email == "n@a.example").exists()
    assert not Invitation.select().exists()


def test_an_existing_account_joins_only_when_its_owner_accepts(admin, world, controller, make_client):
    company = world["a"]["company"]
    existing = User.get(User.email == "agent1@b.example")
    status, body = admin.post(
        f"{API}/users",
        {"email": "agent1@b.example", "name": "Renamed", "password": "the admin's guess", "role": "supervisor"},
    )
    assert status == 202, body
    assert not Membership.select().where(Membership.user == existing, Membership.company == company).exists()
    kept = User.get_by_id(existing.id)  # nothing of the account is the admin's to set
    assert (kept.name, kept.password_hash) == (existing.name, existing.password_hash)
    assert admin.get(f"{API}/users/{existing.id}")[0] == 404

    owner = make_client()
    session = owner.sign_in("agent1@b.example")  # their own password; their own company
    assert session["company"]["name"] == "Company B"
    assert session["invitations"] == [
        {"id": body["id"], "company_id": company.id, "company_name": "Company A", "role": "supervisor"}
    ]
    status, session = owner.post(f"{API}/session/invitations/{body['id']}/accept")
    assert status == 200 and {c["name"] for c in session["companies"]} == {"Company A", "Company B"}
    assert session["invitations"] == [] and session["company"]["name"] == "Company B"
    assert admin.get(f"{API}/users/{existing.id}")[1]["role"] == "supervisor"
    member = admin.get(f"{API}/users/{existing.id}")[1]
    assert (member["id"], member["agent_id"]) == (existing.id, None)
    assert controller.bus.published[-1] == ("user.created", {"company_id": company.id, "user": member})


def test_the_answer_is_the_same_whether_or_not_the_email_has_an_account(admin, world, monkeypatch):
    """Status, fields and work done (one password hash each): nothing tells the admin which emails exist."""
    from leadcenter.accounts import services

    hashed = []
    real = services.generate_password_hash
    monkeypatch.setattr(services, "generate_password_hash", lambda *a, **k: hashed.append(1) or real(*a, **k))
    answers = {}
    for email in ("agent1@b.example", "nobody@elsewhere.example"):
        before = len(hashed)
        status, body = admin.post(
            f"{API}/users",
            {
                "email": email,
                "name": "Someone",
                "password": "long enough",
                "role": "agent",
                "agent": {"devices": ["webrtc"]},
            },
        )
        answers[email] = (status, sorted(body), body["role"], body["agent"], len(hashed) - before)
    assert (
        answers["agent1@b.example"]
        == answers["nobody@elsewhere.example"]
        == (202, ["agent", "created_at", "email", "emailed", "id", "link", "role"], "agent", True, 1)
    )


def test_declining_and_revoking(admin, world, make_client):
    owner = make_client()
    invited = admin.post(
        f"{API}/users", {"email": "agent1@b.example", "name": "X", "password": "long enough", "role": "agent"}
    )[1]
    owner.sign_in("agent1@b.example")
    assert owner.delete(f"{API}/session/invitations/{invited['id']}")[0] == 204
    assert owner.get(f"{API}/session")[1]["invitations"] == [] and admin.get(f"{API}/invitations")[1] == []
    assert len(owner.get(f"{API}/session")[1]["companies"]) == 1

    again = admin.post(
        f"{API}/users", {"email": "agent1@b.example", "name": "X", "password": "long enough", "role": "agent"}
    )[1]
    assert admin.delete(f"{API}/invitations/{again['id']}")[0] == 204
    assert_refused(owner.post(f"{API}/session/invitations/{again['id']}/accept"), 404, "not-found")
    assert (
        not Membership.select()
        .where(
            Membership.company == world["a"]["company"], Membership.user == User.get(User.email == "agent1@b.example")
        )
        .exists()
    )


def test_only_the_invited_account_can_answer(admin, world, make_client):
    invited = admin.post(
        f"{API}/users", {"email": "agent1@b.example", "name": "X", "password": "long enough", "role": "admin"}
    )[1]
    other = make_client()
    other.sign_in("agent2@b.example")
    assert_refused(other.post(f"{API}/session/invitations/{invited['id']}/accept"), 404, "not-found")
    assert_refused(other.delete(f"{API}/session/invitations/{invited['id']}"), 404, "not-found")
    assert_refused(make_client().post(f"{API}/session/invitations/{invited['id']}/accept"), 401, "not-signed-in")
    assert Invitation.select().count() == 1


def test_an_account_invited_nowhere_else_signs_in_to_answer(admin, world, make_client):
    """An account with no company but an invitation signs in (to accept it); with neither it is refused."""
    lonely = create_user("lonely@example.com", "Lonely", PASSWORD)
    client = make_client()
    client.csrf = client.http.get(f"{API}/session").get_json()["csrf_token"]
    assert_refused(
        client.post(f"{API}/session", {"email": "lonely@example.com", "password": PASSWORD}), 403, "no-company"
    )
    invited = admin.post(
        f"{API}/users", {"email": "lonely@example.com", "name": "X", "password": "long enough", "role": "agent"}
    )[1]
    session = client.sign_in("lonely@example.com")
    assert session["company"] is None and [i["id"] for i in session["invitations"]] == [invited["id"]]
    session = client.post(f"{API}/session/invitations/{invited['id']}/accept")[1]
    assert session["company"]["name"] == "Company A" and lonely.id == session["user"]["id"]


def test_a_member_or_someone_invited_is_not_invited_twice(admin, world):
    assert_refused(
        admin.post(
            f"{API}/users", {"email": "agent2@a.example", "name": "X", "password": "long enough", "role": "admin"}
        ),
        409,
        "already-a-member",
    )
    assert Membership.get(Membership.user == world["a"]["agents"][1].user).role == "agent"
    body = {"email": "agent1@b.example", "name": "X", "password": "long enough", "role": "agent"}
    assert admin.post(f"{API}/users", body)[0] == 202
    assert_refused(admin.post(f"{API}/users", body), 409, "already-invited")


def test_change_a_users_role_name_and_active_flag(admin, world, controller):
    user = world["a"]["users"]["supervisor"]
    status, body = admin.patch(f"{API}/users/{user.id}", {"role": "admin", "name": "Sue", "active": False})
    assert status == 200 and (body["role"], body["name"], body["active"]) == ("admin", "Sue", False)
    assert Membership.get(Membership.user == user).role == "admin"
    assert (User.get_by_id(user.id).name, User.get_by_id(user.id).active) == ("Sue", False)
    assert controller.reconfigured == 0
    assert controller.bus.published == [("user.updated", {"company_id": world["a"]["company"].id, "user": body})]
    assert admin.get(f"{API}/users/{user.id}")[1] == body


def test_an_account_in_another_company_too_keeps_its_name_and_active_flag(admin, world):
    both = world["both"]
    body = assert_refused(admin.patch(f"{API}/users/{both.id}", {"name": "Renamed"}), 409, "shared-account")
    assert "name" in body["message"]
    assert_refused(admin.patch(f"{API}/users/{both.id}", {"active": False}), 409, "shared-account")
    assert admin.patch(f"{API}/users/{both.id}", {"role": "supervisor"})[0] == 200  # the role is A's own
    assert (User.get_by_id(both.id).name, User.get_by_id(both.id).active) == ("Both Companies", True)


def test_the_last_admin_stays(admin, world):
    me = world["a"]["users"]["admin"]
    assert_refused(admin.patch(f"{API}/users/{me.id}", {"role": "supervisor"}), 409, "last-admin")
    assert_refused(admin.patch(f"{API}/users/{me.id}", {"active": False}), 409, "own-account")
    assert_refused(admin.delete(f"{API}/users/{me.id}"), 409, "own-account")
    # With another admin, one may step down.
    admin.patch(f"{API}/users/{world['a']['users']['supervisor'].id}", {"role": "admin"})
    assert admin.patch(f"{API}/users/{me.id}", {"role": "supervisor"})[0] == 200


def test_an_api_key_cannot_remove_the_last_admin(client, world):
    _, client.bearer = new_api_key(world["a"]["company"], "ops", None)
    assert_refused(client.delete(f"{API}/users/{world['a']['users']['admin'].id}"), 409, "last-admin")
    assert Membership.select().where(Membership.user == world["a"]["users"]["admin"]).exists()


def test_removing_an_agent_keeps_the_account_and_the_history(admin, world, controller):
    company = world["a"]["company"]
    agent = create_agent(company, world["both"], devices=("webrtc", "desk"), now=T0)
    TeamMember.create(team=world["a"]["team"], agent=agent)
    assert admin.delete(f"{API}/users/{world['both'].id}")[0] == 204
    assert not Membership.select().where(Membership.user == world["both"], Membership.company == company).exists()
    assert Membership.get(Membership.user == world["both"]).company_id == world["b"]["company"].id
    retired = Agent.get_by_id(agent.id)  # kept: past interactions name it
    assert retired.status == "offline"
    assert not retired.sip_credentials.exists() and not retired.team_memberships.exists()
    assert agent.id not in {a["id"] for a in admin.get(f"{API}/agents")[1]}
    assert controller.reconfigured == 1
    assert controller.bus.published == [("user.deleted", {"company_id": company.id, "user_id": world["both"].id})]


def test_a_removed_agent_who_returns_gets_the_profile_back(admin, world, make_client):
    agent = world["a"]["agents"][1]
    flow = world["a"]["flow"]  # names the team only
    assert admin.delete(f"{API}/users/{agent.user_id}")[0] == 204
    status, body = admin.post(
        f"{API}/users",
        {
            "email": "agent2@a.example",
            "name": "X",
            "password": "long enough",
            "role": "agent",
            "agent": {"devices": ["desk"], "ring_device": "desk"},
        },
    )
    assert status == 202 and body["agent"] is True
    owner = make_client()
    session = owner.sign_in("agent2@a.example")
    assert session["company"] is None  # in no company now: they sign in to answer
    session = owner.post(f"{API}/session/invitations/{body['id']}/accept")[1]
    assert session["agent_id"] == agent.id
    returned = Agent.get_by_id(agent.id)
    assert (returned.status, returned.ring_device) == ("available", "desk")
    assert [c.device for c in returned.sip_credentials] == ["desk"]
    assert CallFlow.get_by_id(flow.id).steps == flow.steps


def test_an_agent_a_flow_rings_cannot_be_removed(admin, world):
    agent = world["a"]["agents"][0]
    flow = world["a"]["flow"]
    flow.steps = [{"type": "ring_agents", "agents": [agent.id], "timeout": 20}]
    flow.save()
    before = state(world["a"]["company"])
    body = assert_refused(admin.delete(f"{API}/users/{agent.user_id}"), 409, "in-use")
    assert "Flow A" in body["message"]
    assert state(world["a"]["company"]) == before


# -- API keys --------------------------------------------------------------------------------------------------


def test_api_key_lifecycle(admin, world, controller, client):
    status, issued = admin.post(f"{API}/api-keys", {"name": "CRM sync"})
    assert status == 201 and issued["key"].startswith(f"lc_{issued['prefix']}_")
    row = ApiKey.get_by_id(issued["id"])
    assert (row.name, row.created_by_id, row.company_id) == (
        "CRM sync",
        world["a"]["users"]["admin"].id,
        world["a"]["company"].id,
    )
    assert issued["key"] not in (row.key_hash, row.prefix)

    client.bearer = issued["key"]
    status, teams = client.get(f"{API}/teams")
    assert status == 200 and [t["name"] for t in teams] == ["Team A"]

    listed = admin.get(f"{API}/api-keys")[1]
    assert [k["name"] for k in listed] == ["CRM sync"] and "key" not in listed[0]
    assert listed[0]["last_used_at"] is not None and listed[0]["revoked_at"] is None

    assert admin.delete(f"{API}/api-keys/{issued['id']}")[0] == 204
    assert ApiKey.get_by_id(issued["id"]).revoked_at is not None
    assert admin.get(f"{API}/api-keys")[1][0]["revoked_at"] is not None
    assert_refused(client.get(f"{API}/teams"), 401, "invalid-api-key")
    assert controller.bus.names() == ["api_key.created", "api_key.revoked"] and controller.reconfigured == 0


def test_an_api_keys_last_use_is_written_at_most_once_a_minute(world, controller, client):
    """Its streams re-check a key every few seconds: each use must not be a write (SQLite has one writer)."""
    row, key = new_api_key(world["a"]["company"], "dashboard", None)
    client.bearer = key
    used = []
    for seconds in (0, 30, 59, 61, 90):
        controller.clock.now = T0 + dt.timedelta(seconds=seconds)
        assert client.get(f"{API}/teams")[0] == 200
        used.append(ApiKey.get_by_id(row.id).last_used_at)
    assert used == [T0] * 3 + [T0 + dt.timedelta(seconds=61)] * 2


def test_revoking_twice_keeps_the_first_time(admin, world, controller):
    row, _ = new_api_key(world["a"]["company"], "old", None)
    assert admin.delete(f"{API}/api-keys/{row.id}")[0] == 204
    revoked_at = ApiKey.get_by_id(row.id).revoked_at
    assert admin.delete(f"{API}/api-keys/{row.id}")[0] == 204
    assert ApiKey.get_by_id(row.id).revoked_at == revoked_at and controller.bus.names() == ["api_key.revoked"]


# -- agents ----------------------------------------------------------------------------------------------------


def test_agents_see_their_colleagues(agent, world):
    status, agents = agent.get(f"{API}/agents")
    assert status == 200
    first = world["a"]["agents"][0]
    assert [a["display_name"] for a in agents] == ["Agent1 A", "Agent2 A"]
    assert agents[0] == {
        "id": first.id,
        "user_id": first.user_id,
        "display_name": "Agent1 A",
        "chat_display_name": "Agent1 A",
        "status": "available",
        "status_reason": "",
        "status_changed_at": utc_iso(first.status_changed_at),
        "presence": "unreachable",
        "presence_since": utc_iso(first.status_changed_at),
        "ring_device": "webrtc",
        "devices": ["desk", "webrtc"],
    }


def test_change_an_agents_settings(admin, world, controller):
    target = world["a"]["agents"][1]
    status, body = admin.patch(f"{API}/agents/{target.id}", {"display_name": "Bea", "ring_device": "desk"})
    assert status == 200 and (body["display_name"], body["ring_device"]) == ("Bea", "desk")
    assert (Agent.get_by_id(target.id).display_name, Agent.get_by_id(target.id).ring_device) == ("Bea", "desk")
    assert controller.reconfigured == 1
    assert controller.bus.published == [("agent.updated", {"company_id": world["a"]["company"].id, "agent": body})]
    assert admin.get(f"{API}/agents/{target.id}")[1] == body
    # The chat name is not in Asterisk's configuration.
    assert admin.patch(f"{API}/agents/{target.id}", {"chat_display_name": "B."})[0] == 200
    assert controller.reconfigured == 1


def test_an_agent_rings_only_on_a_device_they_have(admin, world):
    user = create_user("soft@a.example", "Soft Only", PASSWORD)
    soft_only = create_agent(world["a"]["company"], user, devices=("webrtc",), now=T0)
    assert_refused(
        admin.patch(f"{API}/agents/{soft_only.id}", {"ring_device": "desk"}), 422, "invalid-fields", {"ring_device"}
    )
    assert_refused(
        admin.patch(f"{API}/agents/{soft_only.id}", {"ring_device": "fax"}), 422, "invalid-fields", {"ring_device"}
    )
    assert Agent.get_by_id(soft_only.id).ring_device == "webrtc"


def test_the_sip_accounts_of_an_agent(admin, supervisor, world, controller):
    target = world["a"]["agents"][0]
    status, body = admin.get(f"{API}/agents/{target.id}/sip")
    assert status == 200
    passwords = {c.device: c.password for c in target.sip_credentials}
    assert body == {
        "agent_id": target.id,
        "registrar_host": controller.settings.asterisk.sip_host,
        "registrar_port": controller.settings.asterisk.sip_port,
        "accounts": [
            {"device": "desk", "username": f"desk{target.id}", "password": passwords["desk"]},
            {"device": "webrtc", "username": f"webrtc{target.id}", "password": passwords["webrtc"]},
        ],
    }
    assert_refused(supervisor.get(f"{API}/agents/{target.id}/sip"), 403, "forbidden")


def test_my_agent_profile_and_status(agent, world, controller):
    me = world["a"]["agents"][0]
    assert agent.get(f"{API}/me/agent")[1]["id"] == me.id
    controller.clock.advance(seconds=1)
    status, body = agent.patch(f"{API}/me/agent", {"status": "offline", "chat_display_name": "Alex"})
    assert status == 200 and (body["status"], body["chat_display_name"]) == ("offline", "Alex")
    row = Agent.get_by_id(me.id)
    assert (row.status, row.chat_display_name) == ("offline", "Alex")
    assert row.status_changed_at > me.status_changed_at
    company_id = world["a"]["company"].id
    assert controller.bus.names() == ["agent.updated", "agent.status_changed"]
    renamed, moved = (data for _, data in controller.bus.published)
    assert (renamed["company_id"], renamed["agent"]["id"], renamed["agent"]["chat_display_name"]) == (
        company_id,
        me.id,
        "Alex",
    )
    # The event carries the agent as colleagues see it: the profile less the agent's own email choices.
    own = {"email_new_chats", "email_missed_chats", "email_voicemail", "email_address", "email_configured"}
    assert moved == {"company_id": company_id, "agent": {k: v for k, v in body.items() if k not in own}}
    assert (body["status"], body["status_reason"]) == ("offline", "")
    assert controller.reconfigured == 0
    # The same status again is no change.
    agent.patch(f"{API}/me/agent", {"status": "offline"})
    assert controller.bus.names().count("agent.status_changed") == 1


@pytest.mark.parametrize(
    "body, field",
    [({"status": "unavailable"}, "status"), ({"status": None}, "status"), ({"display_name": "Me"}, "display_name")],
)
def test_agents_set_only_their_chat_name_and_available_or_offline(agent, world, body, field):
    before = state(world["a"]["company"])
    assert_refused(agent.patch(f"{API}/me/agent", body), 422, "invalid-fields", [field])
    assert state(world["a"]["company"]) == before


def test_no_agent_profile(admin):
    """409 like every other agent's endpoint a user without an agent profile calls (one error id, one status)."""
    assert_refused(admin.get(f"{API}/me/agent"), 409, "not-an-agent")
    assert_refused(admin.patch(f"{API}/me/agent", {"status": "offline"}), 409, "not-an-agent")


# -- teams -----------------------------------------------------------------------------------------------------


def test_create_a_team(admin, world, controller):
    agents = world["a"]["agents"]
    status, body = admin.post(
        f"{API}/teams",
        {
            "name": "Night shift",
            "strategy": "ringall",
            "ring_seconds": 20,
            "announce_position": True,
            "callback_enabled": True,
            "callback_attempts": 2,
            "callback_retry_seconds": 60,
            "transfer_keeps_place": False,
            "members": [agents[1].id, agents[0].id],
            "penalties": {agents[0].id: 3},
        },
    )
    assert status == 201, body
    team = Team.get_by_id(body["id"])
    assert body == {
        "id": team.id,
        "name": "Night shift",
        "strategy": "ringall",
        "ring_seconds": 20,
        "max_wait_seconds": 300,
        "ring_out": "unavailable",
        "wrap_up_seconds": None,
        "service_level_seconds": 20,
        "announce_position": True,
        "announce_wait_time": False,
        "announce_seconds": 30,
        "callback_enabled": True,
        "callback_attempts": 2,
        "callback_retry_seconds": 60,
        "transfer_keeps_place": False,
        "chats": False,
        "music": False,
        "members": [agents[1].id, agents[0].id],
        "penalties": {str(agents[1].id): 0, str(agents[0].id): 3},
        "created_at": utc_iso(team.created_at),
    }
    assert (team.company_id, team.strategy) == (world["a"]["company"].id, "ringall")
    assert [m.agent_id for m in team.members.order_by(TeamMember.id)] == [agents[1].id, agents[0].id]
    assert controller.reconfigured == 1
    assert controller.bus.published == [("team.created", {"company_id": world["a"]["company"].id, "team": body})]


def test_a_new_team_gets_the_defaults(admin):
    body = admin.post(f"{API}/teams", {"name": "Plain"})[1]
    assert (body["strategy"], body["ring_seconds"], body["announce_position"], body["members"]) == (
        "leastrecent",
        30,
        False,
        [],
    )


def test_change_a_team(admin, world, controller):
    team, agents = world["a"]["team"], world["a"]["agents"]
    staying = TeamMember.get(TeamMember.team == team, TeamMember.agent == agents[1])
    status, body = admin.patch(f"{API}/teams/{team.id}", {"ring_seconds": 45, "members": [agents[1].id]})
    assert status == 200 and (body["ring_seconds"], body["members"], body["name"]) == (45, [agents[1].id], "Team A")
    assert [m.id for m in team.members] == [staying.id]  # kept, with its penalty
    assert Team.get_by_id(team.id).ring_seconds == 45
    assert controller.reconfigured == 1
    assert controller.bus.published == [("team.updated", {"company_id": world["a"]["company"].id, "team": body})]
    assert admin.get(f"{API}/teams/{team.id}")[1] == body


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"ring_seconds": 4}, {"ring_seconds"}),
        ({"ring_seconds": 301}, {"ring_seconds"}),
        ({"ring_seconds": "soon"}, {"ring_seconds"}),
        ({"strategy": "roundrobin"}, {"strategy"}),
        ({"name": "  "}, {"name"}),
        ({"members": "all"}, {"members"}),
        ({"members": [999999]}, {"members.0"}),
        ({"queue": "sales"}, {"queue"}),
    ],
)
def test_team_changes_must_be_valid(admin, world, controller, body, fields):
    before = state(world["a"]["company"])
    assert_refused(admin.patch(f"{API}/teams/{world['a']['team'].id}", body), 422, "invalid-fields", fields)
    assert state(world["a"]["company"]) == before and controller.reconfigured == 0


def test_a_team_has_only_my_agents_each_once(admin, world):
    mine, theirs = world["a"]["agents"][0].id, world["b"]["agents"][0].id
    before = state(world["a"]["company"])
    assert_refused(
        admin.post(f"{API}/teams", {"name": "Mixed", "members": [mine, theirs]}), 422, "invalid-fields", {"members.1"}
    )
    assert_refused(
        admin.post(f"{API}/teams", {"name": "Twice", "members": [mine, mine]}), 422, "invalid-fields", {"members"}
    )
    assert state(world["a"]["company"]) == before


def test_a_team_a_flow_sends_calls_to_cannot_be_deleted(admin, world, controller):
    team = world["a"]["team"]
    body = assert_refused(admin.delete(f"{API}/teams/{team.id}"), 409, "in-use")
    assert "Flow A" in body["message"] and Team.get_or_none(Team.id == team.id) is not None
    assert controller.reconfigured == 0


def test_delete_a_team(admin, world, controller):
    team_id = admin.post(f"{API}/teams", {"name": "Temp", "members": [world["a"]["agents"][0].id]})[1]["id"]
    assert admin.delete(f"{API}/teams/{team_id}")[0] == 204
    assert Team.get_or_none(Team.id == team_id) is None
    assert not TeamMember.select().where(TeamMember.team == team_id).exists()
    assert controller.reconfigured == 2 and controller.bus.names() == ["team.created", "team.deleted"]


# -- call flows ------------------------------------------------------------------------------------------------


def test_create_a_flow(admin, world, controller):
    team, agents = world["a"]["team"], world["a"]["agents"]
    steps = [
        {"type": "ring_agents", "agents": [agents[0].id, agents[1].id], "timeout": 20},
        {"type": "queue", "team": team.id, "timeout": 120},
        {"type": "voicemail", "agent": agents[0].id},
        {"type": "voicemail"},
    ]
    status, body = admin.post(
        f"{API}/flows", {"name": "After hours", "record": True, "announce_recording": True, "steps": steps}
    )
    assert status == 201, body
    flow = CallFlow.get_by_id(body["id"])
    assert body["steps"] == [
        steps[0],
        steps[1],
        {"type": "voicemail", "agent": agents[0].id},
        {"type": "voicemail", "agent": None},
    ]
    assert flow.steps == steps and (flow.name, flow.record, flow.announce_recording) == ("After hours", True, True)
    assert flow.company_id == world["a"]["company"].id
    assert controller.reconfigured == 1
    assert controller.bus.published == [("flow.created", {"company_id": world["a"]["company"].id, "flow": body})]


def test_step_timeouts_have_defaults(admin, world):
    body = admin.post(
        f"{API}/flows",
        {
            "name": "Short",
            "steps": [
                {"type": "queue", "team": world["a"]["team"].id},
                {"type": "ring_agents", "agents": [world["a"]["agents"][0].id]},
            ],
        },
    )[1]
    # A queue step without a wait of its own waits the team's maximum (rendered from the team: test_render_teams).
    assert [step.get("timeout") for step in body["steps"]] == [None, 30]


def _steps_cases():
    """(steps, the fields the 422 names), with ids of company A (a) and B (b)."""
    return [
        (lambda a, b: [{"type": "queue", "team": b["team"].id}], {"steps.0.team"}),
        (
            lambda a, b: [
                {"type": "voicemail"},
                {"type": "ring_agents", "agents": [a["agents"][0].id, b["agents"][0].id]},
            ],
            {"steps.1.agents.1"},
        ),
        (lambda a, b: [{"type": "voicemail", "agent": b["agents"][0].id}], {"steps.0.agent"}),
        (lambda a, b: [{"type": "queue", "team": a["team"].id, "timeout": 4}], {"steps.0.timeout"}),
        (lambda a, b: [{"type": "queue", "team": a["team"].id, "timeout": 3601}], {"steps.0.timeout"}),
        (lambda a, b: [{"type": "queue", "team": a["team"].id, "skip": True}], {"steps.0.skip"}),
        (lambda a, b: [{"type": "ring_agents", "agents": []}], {"steps.0.agents"}),
        (lambda a, b: [{"type": "ring_agents", "agents": [a["agents"][0].id] * 2}], {"steps.0.agents"}),
        (lambda a, b: [{"type": "flow", "flow": a["flow"].id}], {"steps.0"}),
        (lambda a, b: [{"team": a["team"].id}], {"steps.0"}),
        (lambda a, b: [], {"steps"}),
        (lambda a, b: [{"type": "voicemail"}] * 21, {"steps"}),
        (lambda a, b: "voicemail", {"steps"}),
    ]


@pytest.mark.parametrize("make_steps, fields", _steps_cases())
def test_flow_steps_must_be_valid_and_name_only_my_teams_and_agents(admin, world, controller, make_steps, fields):
    steps = make_steps(world["a"], world["b"])
    before = state(world["a"]["company"])
    assert_refused(admin.post(f"{API}/flows", {"name": "Bad", "steps": steps}), 422, "invalid-fields", fields)
    assert_refused(admin.patch(f"{API}/flows/{world['a']['flow'].id}", {"steps": steps}), 422, "invalid-fields", fields)
    assert state(world["a"]["company"]) == before and controller.reconfigured == 0


def test_a_removed_agent_cannot_be_named_in_a_flow(admin, world):
    agent = create_agent(world["a"]["company"], world["both"], now=T0)
    assert admin.delete(f"{API}/users/{world['both'].id}")[0] == 204
    assert_refused(
        admin.post(f"{API}/flows", {"name": "X", "steps": [{"type": "voicemail", "agent": agent.id}]}),
        422,
        "invalid-fields",
        {"steps.0.agent"},
    )


def test_change_a_flow(admin, world, controller):
    flow = world["a"]["flow"]
    status, body = admin.patch(f"{API}/flows/{flow.id}", {"name": "Main"})
    assert status == 200 and body["steps"] == flow.steps  # untouched when not sent
    status, body = admin.patch(f"{API}/flows/{flow.id}", {"steps": [{"type": "voicemail"}], "record": True})
    assert status == 200
    row = CallFlow.get_by_id(flow.id)
    assert (row.name, row.record, row.steps) == ("Main", True, [{"type": "voicemail"}])
    assert controller.reconfigured == 2
    assert controller.bus.published[-1] == ("flow.updated", {"company_id": world["a"]["company"].id, "flow": body})
    assert (body["name"], body["record"], body["steps"]) == ("Main", True, [{"type": "voicemail", "agent": None}])


def test_a_flow_a_number_sends_calls_to_cannot_be_deleted(admin, world, controller):
    flow, number = world["a"]["flow"], world["a"]["number"]
    body = assert_refused(admin.delete(f"{API}/flows/{flow.id}"), 409, "in-use")
    assert number.number in body["message"]
    assert admin.patch(f"{API}/tracking-numbers/{number.id}", {"flow": None})[0] == 200
    assert admin.delete(f"{API}/flows/{flow.id}")[0] == 204
    assert CallFlow.get_or_none(CallFlow.id == flow.id) is None
    assert controller.bus.names() == ["tracking_number.updated", "flow.deleted"] and controller.reconfigured == 2


def test_what_the_api_saves_asterisk_can_render(admin, world, controller):
    a = world["a"]
    leaving = create_agent(a["company"], world["both"], now=T0)
    team_id = admin.post(f"{API}/teams", {"name": "Overflow", "members": [a["agents"][1].id, leaving.id]})[1]["id"]
    flow_id = admin.post(
        f"{API}/flows",
        {
            "name": "Overflow",
            "record": True,
            "steps": [
                {"type": "ring_agents", "agents": [a["agents"][0].id, a["agents"][1].id]},
                {"type": "queue", "team": team_id},
                {"type": "voicemail", "agent": a["agents"][1].id},
            ],
        },
    )[1]["id"]
    trunk_id = admin.post(f"{API}/trunks", {"name": "Carrier", "host": "192.0.2.7", "port": 5090})[1]["id"]
    admin.post(
        f"{API}/tracking-numbers", {"number": "404 555 0142", "name": "Radio", "trunk": trunk_id, "flow": flow_id}
    )
    assert admin.delete(f"{API}/users/{world['both'].id}")[0] == 204
    files = render.render_generated(asterisk_config.snapshot(controller.settings))
    assert f"[lc-flow-{flow_id}]" in files["generated/routes.conf"]
    assert f"__LC_FLOW={flow_id}" in files["generated/routes.conf"]
    assert f"Gosub(lc-step-queue,s,1(team{team_id},300))" in files["generated/routes.conf"]
    assert "match = 192.0.2.7:5090" in files["generated/pjsip_endpoints.conf"]
    assert f"webrtc{leaving.id}" not in files["generated/pjsip_endpoints.conf"] + files["generated/queues.conf"]


# -- trunks ----------------------------------------------------------------------------------------------------


def test_trunk_lifecycle(admin, world, controller):
    status, created = admin.post(f"{API}/trunks", {"name": "Carrier", "host": "203.0.113.5"})
    assert status == 201 and (created["host"], created["port"]) == ("203.0.113.5", 5060)
    trunk = Trunk.get_by_id(created["id"])
    assert (trunk.company_id, trunk.name) == (world["a"]["company"].id, "Carrier")
    status, updated = admin.patch(f"{API}/trunks/{trunk.id}", {"host": "2001:DB8:0::10", "port": 5080})
    assert status == 200 and updated["host"] == "2001:db8::10"  # one spelling per address
    assert (Trunk.get_by_id(trunk.id).host, Trunk.get_by_id(trunk.id).port) == ("2001:db8::10", 5080)
    assert admin.delete(f"{API}/trunks/{trunk.id}")[0] == 204
    assert Trunk.get_or_none(Trunk.id == trunk.id) is None
    assert controller.reconfigured == 3
    assert controller.bus.published == [
        ("trunk.created", {"company_id": world["a"]["company"].id, "trunk": created}),
        ("trunk.updated", {"company_id": world["a"]["company"].id, "trunk": updated}),
        ("trunk.deleted", {"company_id": world["a"]["company"].id, "trunk_id": trunk.id}),
    ]


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"name": "T", "host": "bad host"}, {"host"}),
        ({"name": "T", "host": "192.0.2.1\n[evil]"}, {"host"}),
        ({"name": "T", "host": "192.0.2.1;x"}, {"host"}),
        ({"name": "T", "host": "sip.carrier.example"}, {"host"}),  # a name may resolve elsewhere tomorrow
        ({"name": "T", "host": "0.0.0.0"}, {"host"}),
        ({"name": "T", "host": "::"}, {"host"}),
        ({"name": "T", "host": "224.0.0.1"}, {"host"}),
        ({"name": "T", "host": "fe80::1%eth0"}, {"host"}),
        ({"name": "T", "host": "192.0.2.0/24"}, {"host"}),
        ({"name": "T", "host": "192.0.2.1", "port": 0}, {"port"}),
        ({"name": "T", "host": "192.0.2.1", "port": 65536}, {"port"}),
        ({"host": "192.0.2.1"}, {"name"}),
    ],
)
def test_trunks_must_be_valid(admin, world, body, fields):
    before = state(world["a"]["company"])
    assert_refused(admin.post(f"{API}/trunks", body), 422, "invalid-fields", fields)
    assert state(world["a"]["company"]) == before


def test_a_trunk_address_belongs_to_one_trunk(admin, world):
    theirs = world["b"]["trunk"]
    assert_refused(
        admin.post(f"{API}/trunks", {"name": "Mine", "host": theirs.host, "port": theirs.port}),
        409,
        "address-taken",
        {"host"},
    )
    assert_refused(admin.patch(f"{API}/trunks/{world['a']['trunk'].id}", {"port": theirs.port}), 409, "address-taken")
    assert Trunk.get_by_id(world["a"]["trunk"].id).port == 5070


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_a_trunk_over_tcp_or_tls_takes_its_whole_address(admin, world, transport):
    """Its carrier calls in from any port, so Asterisk knows it by its address alone: no other trunk may be there,
    on any port (B's carrier is at 127.0.0.1:5071, A's at 127.0.0.1:5070)."""
    before = [(t.host, t.port, t.transport) for t in Trunk.select().order_by(Trunk.id)]
    mine = {"name": "Mine", "host": "127.0.0.1", "port": 5090, "transport": transport}
    assert_refused(admin.post(f"{API}/trunks", mine), 409, "address-taken", {"host"})
    switched = admin.patch(f"{API}/trunks/{world['a']['trunk'].id}", {"transport": transport})
    assert_refused(switched, 409, "address-taken")
    assert [(t.host, t.port, t.transport) for t in Trunk.select().order_by(Trunk.id)] == before
    elsewhere = admin.post(f"{API}/trunks", {**mine, "host": "192.0.2.7"})
    assert elsewhere[0] == 201, elsewhere
    udp_beside = {"name": "Beside", "host": "192.0.2.7", "port": 5060}
    assert_refused(admin.post(f"{API}/trunks", udp_beside), 409, "address-taken", {"host"})


# Company B's carrier is at 127.0.0.1:5071: every other way of writing that address.
OTHER_SPELLINGS = [
    "localhost",
    "LOCALHOST",
    "localhost.",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f.1",
    "0x7f000001",
    "0177.0.0.1",
    "017700000001",
    "127.000.000.001",
    "127.0.0.01",
    "::ffff:127.0.0.1",
    "::FFFF:7f00:1",
    "0:0:0:0:0:ffff:127.0.0.1",
    "127.0.0.1.",
    "[127.0.0.1]",
    "127.0.0.1:5071",
    "::ffff:7f00:0001",
]


@pytest.mark.parametrize("spelling", OTHER_SPELLINGS)
def test_another_companys_carrier_cannot_be_taken_by_spelling_its_address_otherwise(admin, world, controller, spelling):
    """Asterisk's identify matches the address, however it is written; B's carrier must stay B's trunk's alone."""
    theirs = world["b"]["trunk"]
    mine = world["a"]["trunk"]
    status, body = admin.post(f"{API}/trunks", {"name": "Mine", "host": spelling, "port": theirs.port})
    assert (status, body["error"]) in ((409, "address-taken"), (422, "invalid-fields")), body
    status, body = admin.patch(f"{API}/trunks/{mine.id}", {"host": spelling, "port": theirs.port})
    assert (status, body["error"]) in ((409, "address-taken"), (422, "invalid-fields")), body
    assert [(t.host, t.port) for t in Trunk.select().order_by(Trunk.id)] == [("127.0.0.1", 5070), ("127.0.0.1", 5071)]
    text = render.render_pjsip_endpoints(asterisk_config.snapshot(controller.settings))
    assert text.count("match = 127.0.0.1:5071") == 1


def test_a_trunk_with_numbers_cannot_be_deleted(admin, world):
    body = assert_refused(admin.delete(f"{API}/trunks/{world['a']['trunk'].id}"), 409, "in-use")
    assert world["a"]["number"].number in body["message"]


# -- tracking numbers ------------------------------------------------------------------------------------------


def test_tracking_number_lifecycle(admin, world, controller):
    a = world["a"]
    status, created = admin.post(
        f"{API}/tracking-numbers",
        {"number": "(404) 555-0199", "name": "Billboard", "source": "Billboard", "trunk": a["trunk"].id},
    )
    assert status == 201, created
    number = TrackingNumber.get_by_id(created["id"])
    assert created == {
        "id": number.id,
        "number": "+14045550199",
        "name": "Billboard",
        "source": "Billboard",
        "trunk": a["trunk"].id,
        "flow": None,
        "pool": None,
        "swap_source": "",
        "swap_rule": None,
        "texting": True,
        "created_at": utc_iso(number.created_at),
    }
    assert (number.number, number.company_id, number.flow_id) == ("+14045550199", a["company"].id, None)
    status, updated = admin.patch(f"{API}/tracking-numbers/{number.id}", {"flow": a["flow"].id, "number": "4045550198"})
    assert status == 200 and (updated["flow"], updated["number"]) == (a["flow"].id, "+14045550198")
    assert TrackingNumber.get_by_id(number.id).flow_id == a["flow"].id
    assert admin.delete(f"{API}/tracking-numbers/{number.id}")[0] == 204
    assert TrackingNumber.get_or_none(TrackingNumber.id == number.id) is None
    assert controller.reconfigured == 3
    assert controller.bus.published == [
        ("tracking_number.created", {"company_id": a["company"].id, "tracking_number": created}),
        ("tracking_number.updated", {"company_id": a["company"].id, "tracking_number": updated}),
        ("tracking_number.deleted", {"company_id": a["company"].id, "tracking_number_id": number.id}),
    ]


def test_numbers_are_read_in_the_company_region(make_client, world):
    admin_b = signed_in(make_client, "admin@b.example")
    status, body = admin_b.post(
        f"{API}/tracking-numbers", {"number": "020 7946 0999", "name": "London", "trunk": world["b"]["trunk"].id}
    )
    assert status == 201 and body["number"] == "+442079460999"


def test_a_number_is_one_companys_tracking_number(admin, world):
    theirs = world["b"]["number"].number
    before = state(world["a"]["company"])
    body = assert_refused(
        admin.post(f"{API}/tracking-numbers", {"number": theirs, "name": "Mine", "trunk": world["a"]["trunk"].id}),
        409,
        "number-taken",
        {"number"},
    )
    assert theirs in body["message"]
    assert_refused(
        admin.patch(f"{API}/tracking-numbers/{world['a']['number'].id}", {"number": theirs}), 409, "number-taken"
    )
    assert state(world["a"]["company"]) == before
    # Its own number again is no conflict.
    assert (
        admin.patch(f"{API}/tracking-numbers/{world['a']['number'].id}", {"number": world["a"]["number"].number})[0]
        == 200
    )


@pytest.mark.parametrize(
    "changes, fields",
    [
        ({"number": "12"}, {"number"}),
        ({"number": "call me"}, {"number"}),
        ({"trunk": "b"}, {"trunk"}),
        ({"trunk": 999999}, {"trunk"}),
        ({"flow": 999999}, {"flow"}),
        ({"trunk": None}, {"trunk"}),
        ({"name": ""}, {"name"}),
    ],
)
def test_tracking_numbers_must_be_valid(admin, world, changes, fields):
    a = world["a"]
    before = state(a["company"])
    body = {"number": "+14045550177", "name": "New", "trunk": a["trunk"].id, **changes}
    assert_refused(admin.post(f"{API}/tracking-numbers", body), 422, "invalid-fields", fields)
    assert_refused(admin.patch(f"{API}/tracking-numbers/{a['number'].id}", changes), 422, "invalid-fields", fields)
    assert state(a["company"]) == before


def test_a_number_goes_only_on_my_trunk_and_into_my_flow(admin, world):
    a, b = world["a"], world["b"]
    before = state(a["company"])
    for changes, field in (({"trunk": b["trunk"].id}, "trunk"), ({"flow": b["flow"].id}, "flow")):
        body = assert_refused(
            admin.patch(f"{API}/tracking-numbers/{a['number'].id}", changes), 422, "invalid-fields", {field}
        )
        assert body["fields"][field] == f"no {field} {changes[field]} in this company"
    assert state(a["company"]) == before


def test_agents_read_the_tracking_numbers_for_caller_ids(agent, world):
    status, numbers = agent.get(f"{API}/tracking-numbers")
    assert status == 200 and [n["number"] for n in numbers] == [world["a"]["number"].number]


# -- who may do what -------------------------------------------------------------------------------------------


def _reads(w):
    a = w["a"]
    return [
        "/company",
        "/users",
        f"/users/{a['users']['admin'].id}",
        "/api-keys",
        "/audit-log",
        f"/agents/{a['agents'][0].id}",
        "/teams",
        f"/teams/{a['team'].id}",
        "/flows",
        f"/flows/{a['flow'].id}",
        "/trunks",
        f"/trunks/{a['trunk'].id}",
        f"/tracking-numbers/{a['number'].id}",
    ]


def _writes(w):
    a = w["a"]
    return [
        ("PATCH", "/company", {"name": "X"}),
        ("POST", "/users", {"email": "x@a.example", "name": "X", "password": "long enough", "role": "agent"}),
        ("PATCH", f"/users/{a['users']['supervisor'].id}", {"role": "admin"}),
        ("DELETE", f"/users/{a['agents'][1].user_id}", None),
        ("POST", "/api-keys", {"name": "X"}),
        ("POST", f"/users/{a['agents'][1].user_id}/password-link", None),
        ("POST", f"/users/{a['users']['supervisor'].id}/agent", {"devices": ["webrtc"]}),
        ("PATCH", f"/agents/{a['agents'][0].id}", {"display_name": "X"}),
        ("PUT", f"/agents/{a['agents'][0].id}/devices/desk", None),
        ("DELETE", f"/agents/{a['agents'][0].id}/devices/desk", None),
        ("POST", "/teams", {"name": "X"}),
        ("PATCH", f"/teams/{a['team'].id}", {"name": "X"}),
        ("DELETE", f"/teams/{a['team'].id}", None),
        ("POST", "/flows", {"name": "X", "steps": [{"type": "voicemail"}]}),
        ("PATCH", f"/flows/{a['flow'].id}", {"name": "X"}),
        ("DELETE", f"/flows/{a['flow'].id}", None),
        ("POST", "/trunks", {"name": "X", "host": "192.0.2.99"}),
        ("PATCH", f"/trunks/{a['trunk'].id}", {"name": "X"}),
        ("DELETE", f"/trunks/{a['trunk'].id}", None),
        ("POST", "/tracking-numbers", {"number": "+14045550111", "name": "X", "trunk": a["trunk"].id}),
        ("PATCH", f"/tracking-numbers/{a['number'].id}", {"name": "X"}),
        ("DELETE", f"/tracking-numbers/{a['number'].id}", None),
    ]


def test_supervisors_read_everything_and_write_nothing(supervisor, world, controller):
    for path in _reads(world):
        assert supervisor.get(API + path)[0] == 200, path
    before = state(world["a"]["company"])
    for method, path, body in [
        *_writes(world),
        ("DELETE", "/api-keys/1", None),
        ("GET", f"/agents/{world['a']['agents'][0].id}/sip", None),
    ]:
        assert_refused(supervisor.request(method, API + path, body), 403, "forbidden")
    assert state(world["a"]["company"]) == before and controller.reconfigured == 0 and controller.bus.published == []


def test_agents_read_what_the_agent_app_needs(agent, world, controller):
    for path in ("/agents", "/tracking-numbers", "/me/agent"):
        assert agent.get(API + path)[0] == 200, path
    before = state(world["a"]["company"])
    for path in _reads(world):
        assert_refused(agent.get(API + path), 403, "forbidden")
    for method, path, body in _writes(world):
        assert_refused(agent.request(method, API + path, body), 403, "forbidden")
    assert state(world["a"]["company"]) == before and controller.reconfigured == 0 and controller.bus.published == []


def test_nothing_without_signing_in(client, world):
    assert_refused(client.get(f"{API}/teams"), 401, "not-signed-in")
    client.bearer = "lc_00000000_forged"
    assert_refused(client.get(f"{API}/teams"), 401, "invalid-api-key")


# -- another company's ids -------------------------------------------------------------------------------------


def _b_ids(w):
    b = w["b"]
    key, _ = new_api_key(b["company"], "B's key", None)
    agent, user = b["agents"][0], b["users"]["supervisor"]
    return [
        ("GET", f"/users/{user.id}", None),
        ("PATCH", f"/users/{user.id}", {"role": "admin"}),
        ("DELETE", f"/users/{user.id}", None),
        ("DELETE", f"/users/{agent.user_id}", None),
        ("DELETE", f"/api-keys/{key.id}", None),
        ("GET", f"/agents/{agent.id}", None),
        ("PATCH", f"/agents/{agent.id}", {"display_name": "X"}),
        ("GET", f"/agents/{agent.id}/sip", None),
        ("POST", f"/users/{user.id}/password-link", None),
        ("POST", f"/users/{user.id}/agent", {"devices": ["webrtc"]}),
        ("PUT", f"/agents/{agent.id}/devices/desk", None),
        ("DELETE", f"/agents/{agent.id}/devices/desk", None),
        ("GET", f"/teams/{b['team'].id}", None),
        ("PATCH", f"/teams/{b['team'].id}", {"name": "X"}),
        ("DELETE", f"/teams/{b['team'].id}", None),
        ("GET", f"/flows/{b['flow'].id}", None),
        ("PATCH", f"/flows/{b['flow'].id}", {"name": "X"}),
        ("DELETE", f"/flows/{b['flow'].id}", None),
        ("GET", f"/trunks/{b['trunk'].id}", None),
        ("PATCH", f"/trunks/{b['trunk'].id}", {"name": "X"}),
        ("DELETE", f"/trunks/{b['trunk'].id}", None),
        ("GET", f"/tracking-numbers/{b['number'].id}", None),
        ("PATCH", f"/tracking-numbers/{b['number'].id}", {"name": "X"}),
        ("DELETE", f"/tracking-numbers/{b['number'].id}", None),
    ]


def test_another_companys_ids_are_not_found(admin, world, controller):
    requests = _b_ids(world)
    before = state(world["b"]["company"])
    for method, path, body in requests:
        refusal = assert_refused(admin.request(method, API + path, body), 404, "not-found")
        assert refusal["message"].startswith("no such "), (method, path)  # the row's 404, not the route's
    assert state(world["b"]["company"]) == before
    assert controller.reconfigured == 0 and controller.bus.published == []


def test_another_companys_rows_are_in_no_list(admin, world):
    b = world["b"]
    new_api_key(b["company"], "B's key", None)
    listed = {
        path: {item["id"] for item in admin.get(API + path)[1]}
        for path in ("/users", "/agents", "/teams", "/flows", "/trunks", "/tracking-numbers", "/api-keys")
    }
    assert listed["/users"].isdisjoint({u.id for u in b["users"].values()} | {a.user_id for a in b["agents"]})
    assert listed["/agents"].isdisjoint({a.id for a in b["agents"]})
    assert b["team"].id not in listed["/teams"] and b["flow"].id not in listed["/flows"]
    assert b["trunk"].id not in listed["/trunks"] and b["number"].id not in listed["/tracking-numbers"]
    assert listed["/api-keys"] == set()
