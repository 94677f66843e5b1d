"""People: invitations with a one-time link to set a password (handed over by the admin, or emailed), an admin's
reset link, Forgot password, role changes and deactivation, an agent's devices and SIP accounts, the company's time
zone; each change in the audit log with its before and after and never a secret."""

import json

import pytest
from support import PASSWORD, ApiClient, StandInController

from leadcenter.accounts.models import Company, Membership, PasswordLink, User
from leadcenter.agents.models import SipCredential
from leadcenter.audit.models import AuditEntry
from leadcenter.mail import OutboundEmail

API = "/api/v1"
APP_URL = "https://leads.acme.example/"


def signed_in(make_client, email, password=PASSWORD):
    client = make_client()
    client.sign_in(email, password)
    return client


@pytest.fixture
def admin(make_client, world):
    return signed_in(make_client, "admin@a.example")


@pytest.fixture
def email_on(tmp_path):
    """A controller whose email is on ([smtp] host set): links go to the outbox, never to the admin."""
    return StandInController(
        tmp_path / "asterisk",
        env={
            "LEADCENTER_SMTP_HOST": "127.0.0.1",
            "LEADCENTER_SMTP_SECURITY": "none",
            "LEADCENTER_SMTP_FROM_ADDRESS": "Lead Center <leads@acme.example>",
            "LEADCENTER_SMTP_APP_URL": APP_URL,
        },
    )


def audit(company: Company) -> list[tuple]:
    return [
        (e.actor, e.action, e.resource, e.resource_id, e.summary)
        for e in AuditEntry.select().where(AuditEntry.company == company).order_by(AuditEntry.id)
    ]


def token_of(link: str) -> str:
    address, _, token = link.partition("#")
    assert address.endswith("/password") and token
    return token


def invite(admin, email="new@a.example", **more):
    return admin.post(f"{API}/users", {"email": email, "name": "New Person", "role": "agent", **more})


def test_an_invitee_sets_their_password_through_the_link_the_admin_hands_over_and_signs_in(admin, client, world):
    company = world["a"]["company"]
    status, body = invite(admin, agent={"devices": ["webrtc"]})
    assert status == 202 and body["emailed"] is False and body["link"].startswith("http")
    token = token_of(body["link"])
    assert not PasswordLink.select().where(PasswordLink.token_hash == token).exists()  # only its hash is kept

    client.csrf = client.get(f"{API}/session")[1]["csrf_token"]
    status, info = client.post(f"{API}/password/link", {"token": token})
    assert status == 200 and (info["email"], info["name"], info["purpose"], info["sets_password"]) == (
        "new@a.example",
        "New Person",
        "invite",
        True,
    )
    assert info["company_name"] == "Company A"
    assert client.put(f"{API}/password", {"token": token, "password": "short"})[1]["fields"] == {
        "password": "a password needs at least 8 characters"
    }
    assert client.put(f"{API}/password", {"token": token, "password": "my own secret"})[0] == 204
    assert client.put(f"{API}/password", {"token": token, "password": "another one"})[1]["error"] == "link-invalid"

    session = signed_in(lambda: client, "new@a.example", "my own secret").get(f"{API}/session")[1]
    assert session["company"]["name"] == "Company A" and session["agent_id"] is not None  # the sign-in accepted
    user = User.get(User.email == "new@a.example")
    assert audit(company) == [
        ("admin@a.example", "invited", "invitation", body["id"], "new@a.example as agent"),
        ("new@a.example", "password_set", "user", user.id, "new@a.example, through a one-time link"),
    ]
    stored = "".join(e.before_json or "" for e in AuditEntry.select()) + "".join(
        e.after_json or "" for e in AuditEntry.select()
    )
    assert token not in stored and "my own secret" not in stored


def test_an_existing_accounts_link_only_says_to_sign_in(admin, client, world):
    body = invite(admin, email="agent1@b.example")[1]
    assert body["link"] and not body["emailed"]  # the same answer as for a new email
    token = token_of(body["link"])
    client.csrf = client.get(f"{API}/session")[1]["csrf_token"]
    assert client.post(f"{API}/password/link", {"token": token})[1]["sets_password"] is False
    assert client.put(f"{API}/password", {"token": token, "password": "taken over"})[1]["error"] == "password-kept"
    signed_in(lambda: client, "agent1@b.example")  # their own password still works


def test_a_link_expires_and_goes_with_its_revoked_invitation(admin, client, world, controller):
    first = invite(admin)[1]
    client.csrf = client.get(f"{API}/session")[1]["csrf_token"]
    controller.clock.advance(days=7, seconds=1)
    assert client.post(f"{API}/password/link", {"token": token_of(first["link"])})[1]["error"] == "link-invalid"
    assert admin.delete(f"{API}/invitations/{first['id']}")[0] == 204
    assert not PasswordLink.select().exists()
    assert ("admin@a.example", "revoked", "invitation", first["id"], "new@a.example") in audit(world["a"]["company"])


def test_with_email_on_the_invitee_gets_the_link_and_the_admin_never_sees_it(email_on, world):
    admin = ApiClient(email_on.app().test_client())
    admin.sign_in("admin@a.example")
    status, body = invite(admin)
    assert status == 202 and (body["link"], body["emailed"]) == (None, True)
    [email] = OutboundEmail.select()
    assert (email.to_address, email.subject) == ("new@a.example", "Join Company A on Lead Center")
    link = next(word for word in email.text.split() if word.startswith(APP_URL))
    assert link.startswith(f"{APP_URL}password#") and PasswordLink.select().count() == 1
    assert audit(world["a"]["company"])[0][4] == "new@a.example as agent (emailed a link)"


def test_an_admin_resets_a_users_password_with_a_link_and_their_sessions_end(admin, make_client, client, world):
    agent_user = world["a"]["agents"][0].user
    agent = signed_in(make_client, agent_user.email)
    status, body = admin.post(f"{API}/users/{agent_user.id}/password-link")
    assert status == 201 and body["user_id"] == agent_user.id and not body["emailed"]
    client.csrf = client.get(f"{API}/session")[1]["csrf_token"]
    assert client.post(f"{API}/password/link", {"token": token_of(body["link"])})[1]["purpose"] == "reset"
    assert client.put(f"{API}/password", {"token": token_of(body["link"]), "password": "brand new one"})[0] == 204
    assert agent.get(f"{API}/me/agent")[1]["error"] == "not-signed-in"  # signed out everywhere
    signed_in(make_client, agent_user.email, "brand new one")
    assert (
        "admin@a.example",
        "password_reset",
        "user",
        agent_user.id,
        f"{agent_user.email}: link handed to the admin",
    ) in audit(world["a"]["company"])


def test_an_account_of_another_company_too_is_not_this_admins_to_reset(admin, world):
    assert admin.post(f"{API}/users/{world['both'].id}/password-link")[1]["error"] == "shared-account"
    assert not PasswordLink.select().exists()


def test_forgot_password_emails_a_link_to_an_account_and_answers_the_same_for_any_email(email_on, world):
    client = ApiClient(email_on.app().test_client())
    client.csrf = client.get(f"{API}/session")[1]["csrf_token"]
    known = client.post(f"{API}/password/forgot", {"email": "Agent1@A.example"})
    unknown = client.post(f"{API}/password/forgot", {"email": "nobody@a.example"})
    assert known == unknown == (202, {"email_on": True})
    [email] = OutboundEmail.select()
    assert email.to_address == "agent1@a.example" and f"{APP_URL}password#" in email.text
    for _ in range(2):
        client.post(f"{API}/password/forgot", {"email": "agent1@a.example"})
    assert client.post(f"{API}/password/forgot", {"email": "agent1@a.example"})[1]["error"] == "too-many-attempts"


def test_forgot_password_without_email_sends_nothing_and_says_so(client, world):
    client.csrf = client.get(f"{API}/session")[1]["csrf_token"]
    assert client.post(f"{API}/password/forgot", {"email": "agent1@a.example"}) == (202, {"email_on": False})
    assert not PasswordLink.select().exists() and not OutboundEmail.select().exists()


def test_a_role_change_and_a_deactivation_are_recorded_and_the_deactivated_are_signed_out(admin, make_client, world):
    company, target = world["a"]["company"], world["a"]["agents"][1].user
    theirs = signed_in(make_client, target.email)
    assert admin.patch(f"{API}/users/{target.id}", {"role": "supervisor"})[0] == 200
    assert admin.patch(f"{API}/users/{target.id}", {"active": False})[0] == 200
    assert theirs.get(f"{API}/session")[1]["authenticated"] is False
    entries = admin.get(f"{API}/audit-log?resource=user")[1]["entries"]
    assert [
        (e["action"], e["resource_id"], [(c["field"], c["before"], c["after"]) for c in e["changes"]]) for e in entries
    ] == [
        ("deactivated", target.id, [("active", True, False)]),
        ("role_changed", target.id, [("role", "agent", "supervisor")]),
    ]
    assert Membership.get(Membership.user == target, Membership.company == company).role == "supervisor"


def test_the_company_time_zone(admin, world):
    status, body = admin.patch(f"{API}/company", {"time_zone": "America/New_York", "name": "Acme"})
    assert status == 200 and (body["time_zone"], body["name"]) == ("America/New_York", "Acme")
    assert admin.patch(f"{API}/company", {"time_zone": "Mars/Olympus"})[1]["fields"] == {
        "time_zone": "'Mars/Olympus' is not a time zone name (e.g. America/New_York, Europe/London, UTC)"
    }
    [entry] = admin.get(f"{API}/audit-log?resource=company")[1]["entries"]
    assert {c["field"] for c in entry["changes"]} == {"time_zone", "name"}


def test_api_keys_are_recorded_without_the_key(admin, world):
    issued = admin.post(f"{API}/api-keys", {"name": "CRM"})[1]
    assert admin.delete(f"{API}/api-keys/{issued['id']}")[0] == 204
    entries = admin.get(f"{API}/audit-log?resource=api_key")[1]["entries"]
    assert [(e["action"], e["summary"]) for e in entries] == [("revoked", "CRM"), ("created", "CRM")]
    assert issued["key"] not in json.dumps(entries)


def test_a_desk_phones_sip_account_is_renewed_on_demand_and_shown_in_that_answer(admin, world, controller):
    agent = world["a"]["agents"][0]
    old = SipCredential.get(SipCredential.agent == agent, SipCredential.device == "desk").password
    status, body = admin.put(f"{API}/agents/{agent.id}/devices/desk")
    assert status == 200 and [a["device"] for a in body["accounts"]] == ["desk"]
    new = body["accounts"][0]["password"]
    assert (
        new != old == old
        and SipCredential.get(SipCredential.agent == agent, SipCredential.device == "desk").password == new
    )
    assert controller.reconfigured == 1  # the old password stops registering
    [entry] = admin.get(f"{API}/audit-log?resource=agent")[1]["entries"]
    assert entry["action"] == "sip_account_renewed" and new not in json.dumps(entry) and old not in json.dumps(entry)


def test_devices_are_added_and_removed_but_not_the_one_the_queue_rings(admin, world):
    agent = world["a"]["agents"][0]
    assert admin.delete(f"{API}/agents/{agent.id}/devices/webrtc")[1]["error"] == "in-use"  # it rings webrtc
    assert admin.delete(f"{API}/agents/{agent.id}/devices/desk")[0] == 204
    assert admin.get(f"{API}/agents/{agent.id}")[1]["devices"] == ["webrtc"]
    assert admin.put(f"{API}/agents/{agent.id}/devices/desk")[0] == 200
    assert admin.patch(f"{API}/agents/{agent.id}", {"ring_device": "desk"})[1]["ring_device"] == "desk"
    assert admin.put(f"{API}/agents/{agent.id}/devices/pager")[1]["error"] == "not-found"
    actions = [e["action"] for e in admin.get(f"{API}/audit-log?resource=agent")[1]["entries"]]
    assert actions == ["updated", "device_added", "device_removed"]


def test_a_supervisor_is_made_an_agent_once(admin, world, controller):
    supervisor = world["a"]["users"]["supervisor"]
    status, body = admin.post(
        f"{API}/users/{supervisor.id}/agent", {"devices": ["webrtc", "desk"], "ring_device": "desk"}
    )
    assert status == 201 and body["agent_id"] is not None and body["role"] == "supervisor"
    agent = admin.get(f"{API}/agents/{body['agent_id']}")[1]
    assert (agent["devices"], agent["ring_device"]) == (["desk", "webrtc"], "desk") and controller.reconfigured == 1
    assert admin.post(f"{API}/users/{supervisor.id}/agent", {})[1]["error"] == "already-an-agent"
    [entry] = admin.get(f"{API}/audit-log?action=made_agent")[1]["entries"]
    assert [(c["field"], c["before"], c["after"]) for c in entry["changes"]] == [("agent_id", None, body["agent_id"])]
