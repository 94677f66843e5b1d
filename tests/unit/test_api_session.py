"""Signing in and out through the API: sessions, CSRF, company choice, rate limiting, JSON errors."""

import pytest
from support import PASSWORD, T0

from leadcenter.agents.models import Agent, AgentStatusChange


def test_sign_in_with_one_company_selects_it(client, world):
    data = client.sign_in("agent1@a.example")
    assert data["authenticated"] is True
    assert data["company"] == {"id": world["a"]["company"].id, "name": "Company A", "role": "agent"}
    assert data["agent_id"] == world["a"]["agents"][0].id


@pytest.mark.parametrize(
    "before,after",
    [
        (("offline", ""), ("available", "")),  # signing on makes an agent Available, as the spec says
        (("unavailable", "wrap_up"), ("unavailable", "wrap_up")),  # wrap-up ends with Rejoin the Queue
        (("unavailable", "on_call"), ("unavailable", "on_call")),
    ],
)
def test_an_agent_who_signs_on_is_available_unless_handling_a_call(client, world, before, after):
    agent = world["a"]["agents"][0]
    Agent.update(status=before[0], status_reason=before[1]).where(Agent.id == agent.id).execute()
    client.sign_in("agent1@a.example")
    agent = Agent.get_by_id(agent.id)
    assert (agent.status, agent.status_reason) == after
    moves = [(c.event, c.to_status) for c in AgentStatusChange.select().where(AgentStatusChange.agent == agent)]
    assert moves == ([("sign_on", "available")] if before != after else [])


def test_an_agent_of_two_companies_is_available_in_the_one_picked(client, world):
    from leadcenter.agents.services import create_agent

    agent = create_agent(world["a"]["company"], world["both"], devices=("webrtc",), now=T0)
    Agent.update(status="offline").where(Agent.id == agent.id).execute()
    client.sign_in("both@example.com")
    assert Agent.get_by_id(agent.id).status == "offline"  # no company picked yet
    client.put("/api/v1/session/company", {"company_id": world["a"]["company"].id})
    assert Agent.get_by_id(agent.id).status == "available"


def test_session_cookie_flags(client, world):
    client.csrf = client.http.get("/api/v1/session").get_json()["csrf_token"]
    response = client.http.post(
        "/api/v1/session",
        json={"email": "agent1@a.example", "password": PASSWORD},
        headers={"X-CSRF-Token": client.csrf},
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_a_user_of_two_companies_picks_one(client, world):
    data = client.sign_in("both@example.com")
    assert data["company"] is None and {c["name"] for c in data["companies"]} == {"Company A", "Company B"}
    status, body = client.get("/api/v1/interactions")
    assert (status, body and body["error"]) in ((409, "company-not-selected"), (404, "not-found"))
    status, data = client.put("/api/v1/session/company", {"company_id": world["b"]["company"].id})
    assert status == 200 and data["company"]["role"] == "supervisor"


def test_picking_a_company_one_does_not_belong_to_is_refused(client, world):
    client.sign_in("agent1@a.example")
    status, body = client.put("/api/v1/session/company", {"company_id": world["b"]["company"].id})
    assert (status, body["error"]) == (403, "not-a-member")


def test_wrong_password(client, world):
    client.csrf = client.http.get("/api/v1/session").get_json()["csrf_token"]
    status, body = client.post("/api/v1/session", {"email": "agent1@a.example", "password": "nope"})
    assert (status, body["error"]) == (401, "wrong-credentials")
    assert body["request_id"] and body["status"] == 401


def test_sign_in_without_csrf_token_is_refused(client, world):
    status, body = client.post("/api/v1/session", {"email": "agent1@a.example", "password": PASSWORD})
    assert (status, body["error"]) == (403, "csrf-token-missing")


def test_unsafe_requests_need_the_csrf_token(client, world):
    client.sign_in("admin@a.example")
    client.csrf = "forged"
    status, body = client.delete("/api/v1/session")
    assert (status, body["error"]) == (403, "csrf-token-missing")


def test_sign_in_attempts_are_rate_limited(client, world):
    client.csrf = client.http.get("/api/v1/session").get_json()["csrf_token"]
    for _ in range(5):
        assert client.post("/api/v1/session", {"email": "agent2@a.example", "password": "bad"})[0] == 401
    response = client.http.post(
        "/api/v1/session",
        json={"email": "agent2@a.example", "password": PASSWORD},
        headers={"X-CSRF-Token": client.csrf},
    )
    assert response.status_code == 429 and response.get_json()["error"] == "too-many-attempts"
    assert int(response.headers["Retry-After"]) > 0


def test_signing_in_issues_a_new_csrf_token(client, world):
    """A token known before sign-in (planted with a pre-sign-in cookie: session fixation) is worthless after it."""
    before = client.http.get("/api/v1/session").get_json()["csrf_token"]
    client.csrf = before
    signed_in = client.post("/api/v1/session", {"email": "agent1@a.example", "password": PASSWORD})[1]
    assert signed_in["csrf_token"] != before
    assert client.http.get("/api/v1/session").get_json()["csrf_token"] == signed_in["csrf_token"]
    status, body = client.post("/api/v1/leads", {"name": "Planted"})
    assert (status, body["error"]) == (403, "csrf-token-missing")
    client.csrf = signed_in["csrf_token"]
    assert client.post("/api/v1/leads", {"name": "Mine"})[0] == 201


def test_sign_out(client, world):
    client.sign_in("agent1@a.example")
    assert client.delete("/api/v1/session")[0] == 204
    assert client.get("/api/v1/session")[1]["authenticated"] is False


def test_malformed_and_unknown_fields(client, world):
    client.csrf = client.http.get("/api/v1/session").get_json()["csrf_token"]
    response = client.http.post(
        "/api/v1/session", data="{not json", content_type="application/json", headers={"X-CSRF-Token": client.csrf}
    )
    assert (response.status_code, response.get_json()["error"]) == (400, "malformed-json")
    status, body = client.post("/api/v1/session", {"email": "a@a.example", "password": "x", "admin": True})
    assert (status, body["error"], body["fields"]) == (422, "invalid-fields", {"admin": "unknown field"})
    status, body = client.post("/api/v1/session", {"email": 5, "password": "x"})
    assert status == 422 and "email" in body["fields"]


def test_unknown_api_path_is_json_404(client):
    status, body = client.get("/api/v1/nothing-here")
    assert (status, body["error"]) == (404, "not-found")


def test_a_write_that_loses_a_race_gets_409_not_500(app, client, world, monkeypatch):
    from peewee import IntegrityError

    from leadcenter.leads import services

    def collide(*args, **kwargs):
        raise IntegrityError("UNIQUE constraint failed: lead_phone.company_id, lead_phone.number")

    monkeypatch.setattr(services, "create", collide)
    client.sign_in("agent1@a.example")
    status, body = client.post("/api/v1/leads", {"name": "Racer", "numbers": ["+14045559999"]})
    assert (status, body["error"]) == (409, "conflict")


def test_signing_out_revokes_the_session_everywhere(make_client, world):
    browser = make_client()
    browser.sign_in("agent1@a.example")
    copy = make_client()  # the same cookie in another place (a stolen or copied cookie)
    copy.http.set_cookie("session", browser.http.get_cookie("session").value)
    copy.csrf = browser.csrf
    assert copy.get("/api/v1/inbox")[0] == 200
    assert browser.delete("/api/v1/session")[0] == 204
    status, body = copy.get("/api/v1/inbox")
    assert (status, body["error"]) == (401, "not-signed-in")


def test_a_new_password_signs_the_account_out(make_client, world):
    from leadcenter.accounts.models import User
    from leadcenter.accounts.services import set_password

    browser = make_client()
    browser.sign_in("agent1@a.example")
    user = User.get(User.email == "agent1@a.example")
    set_password(user, "a brand new password")
    user.save()
    assert browser.get("/api/v1/inbox")[0] == 401
