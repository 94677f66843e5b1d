"""The audit log: what each admin change records (who, what, before and after, secrets masked), in the change's
own transaction, and GET /api/v1/audit-log: newest first, filtered, paged, the caller's company only, for
supervisors and admins."""

import json

import pytest
from support import PASSWORD

from leadcenter.accounts.models import Company
from leadcenter.audit import services
from leadcenter.audit.models import AuditEntry
from leadcenter.teams.models import Team
from leadcenter.web.auth import Principal, new_api_key

API = "/api/v1"


def signed_in(make_client, email):
    client = make_client()
    client.sign_in(email, PASSWORD)
    return client


@pytest.fixture
def admin(make_client, world):
    return signed_in(make_client, "admin@a.example")


@pytest.fixture
def supervisor(make_client, world):
    return signed_in(make_client, "supervisor@a.example")


def entries(company: Company) -> list[AuditEntry]:
    return list(AuditEntry.select().where(AuditEntry.company == company).order_by(AuditEntry.id))


def test_a_config_rows_create_update_and_delete_are_recorded_with_before_and_after(admin, world):
    company, agents = world["a"]["company"], world["a"]["agents"]
    created = admin.post(f"{API}/teams", {"name": "Night", "members": [agents[0].id]})[1]
    changed = admin.patch(f"{API}/teams/{created['id']}", {"ring_seconds": 45, "members": [agents[1].id]})[1]
    assert admin.delete(f"{API}/teams/{created['id']}")[0] == 204
    admin_user = world["a"]["users"]["admin"]
    recorded = [
        (
            e.user_id,
            e.actor,
            e.action,
            e.resource,
            e.resource_id,
            e.summary,
            e.before_json and json.loads(e.before_json),
            e.after_json and json.loads(e.after_json),
        )
        for e in entries(company)
    ]
    assert recorded == [
        (admin_user.id, "admin@a.example", "created", "team", created["id"], "Night", None, created),
        (
            admin_user.id,
            "admin@a.example",
            "updated",
            "team",
            created["id"],
            "Night",
            created,
            changed,
        ),
        (admin_user.id, "admin@a.example", "deleted", "team", created["id"], "Night", changed, None),
    ]


def test_the_log_shows_what_changed_newest_first_to_supervisors(admin, supervisor, world):
    team = world["a"]["team"]
    admin.patch(f"{API}/teams/{team.id}", {"ring_seconds": 45, "name": "Day"})
    status, page = supervisor.get(f"{API}/audit-log")
    assert status == 200 and page["next"] is None
    [entry] = page["entries"]
    assert (entry["actor"], entry["action"], entry["resource"], entry["resource_id"], entry["summary"]) == (
        "admin@a.example",
        "updated",
        "team",
        team.id,
        "Day",
    )
    assert {c["field"]: (c["before"], c["after"]) for c in entry["changes"]} == {
        "name": ("Team A", "Day"),
        "ring_seconds": (30, 45),
    }


def test_a_refused_change_records_nothing(admin, world):
    assert admin.delete(f"{API}/teams/{world['a']['team'].id}")[1]["error"] == "in-use"  # Flow A queues to it
    assert admin.patch(f"{API}/teams/{world['a']['team'].id}", {"ring_seconds": 4})[0] == 422
    assert entries(world["a"]["company"]) == []


def test_an_api_keys_change_is_recorded_as_the_keys(client, world):
    row, key = new_api_key(world["a"]["company"], "CRM sync", None)
    client.bearer = key
    team_id = client.post(f"{API}/teams", {"name": "From the CRM"})[1]["id"]
    [entry] = entries(world["a"]["company"])
    assert (entry.user_id, entry.api_key_id, entry.actor, entry.resource_id) == (
        None,
        row.id,
        "API key CRM sync",
        team_id,
    )


def test_secrets_are_never_stored_and_a_changed_one_says_so(world):
    principal = Principal(world["a"]["company"], "admin", user=world["a"]["users"]["admin"])
    before = {
        "name": "Carrier",
        "password": "old-secret",
        "auth": {"sip_secret": "s1", "username": "u"},
        "key_hash": "abc",
        "api_key_id": 4,
        "token": "",
    }
    after = {
        "name": "Carrier",
        "password": "new-secret",
        "auth": {"sip_secret": "s1", "username": "u"},
        "key_hash": "abc",
        "api_key_id": 4,
        "token": "",
    }
    entry = services.record(principal, "updated", "trunk", 3, before, after)
    stored = entry.before_json + entry.after_json
    assert '"s1"' not in stored and "old-secret" not in stored and "new-secret" not in stored and "abc" not in stored
    assert json.loads(entry.after_json) == {
        "name": "Carrier",
        "password": services.CHANGED,
        "auth": {"sip_secret": services.MASKED, "username": "u"},
        "key_hash": services.MASKED,
        "api_key_id": 4,
        "token": "",
    }
    assert json.loads(entry.before_json)["password"] == services.MASKED


def test_an_entry_is_written_in_the_callers_transaction(world):
    principal = Principal(world["a"]["company"], "admin", user=world["a"]["users"]["admin"])
    from leadcenter.db import database

    with pytest.raises(RuntimeError), database.atomic():
        Team.update(name="Renamed").where(Team.id == world["a"]["team"].id).execute()
        services.record(principal, "updated", "team", world["a"]["team"].id, {"name": "Team A"}, {"name": "Renamed"})
        raise RuntimeError("the change fails after recording")
    assert entries(world["a"]["company"]) == [] and Team.get_by_id(world["a"]["team"].id).name == "Team A"


def test_filters_and_pages(admin, supervisor, world):
    agents = world["a"]["agents"]
    ids = [admin.post(f"{API}/teams", {"name": f"T{n}", "members": [agents[0].id]})[1]["id"] for n in range(5)]
    admin.delete(f"{API}/teams/{ids[0]}")
    admin.patch(f"{API}/trunks/{world['a']['trunk'].id}", {"name": "Carrier"})
    page = supervisor.get(f"{API}/audit-log?limit=3")[1]
    assert [(e["action"], e["resource"]) for e in page["entries"]] == [
        ("updated", "trunk"),
        ("deleted", "team"),
        ("created", "team"),
    ]
    older = supervisor.get(f"{API}/audit-log?limit=3&before={page['next']}")[1]
    assert [e["resource_id"] for e in older["entries"]] == [ids[3], ids[2], ids[1]] and older["next"] is not None
    assert [
        e["resource_id"] for e in supervisor.get(f"{API}/audit-log?resource=team&action=deleted")[1]["entries"]
    ] == [ids[0]]
    assert len(supervisor.get(f"{API}/audit-log?user_id={world['a']['users']['admin'].id}")[1]["entries"]) == 7
    assert supervisor.get(f"{API}/audit-log?user_id={world['a']['users']['supervisor'].id}")[1]["entries"] == []
    assert len(supervisor.get(f"{API}/audit-log?since=2000-01-01&until=2999-01-01T00:00:00Z")[1]["entries"]) == 7
    assert supervisor.get(f"{API}/audit-log?until=2000-01-01")[1]["entries"] == []
    assert supervisor.get(f"{API}/audit-log?limit=0")[1]["error"] == "invalid-fields"


def test_each_company_sees_its_own_log_and_agents_none(admin, make_client, world):
    admin.patch(f"{API}/teams/{world['a']['team'].id}", {"name": "Mine"})
    assert signed_in(make_client, "admin@b.example").get(f"{API}/audit-log")[1]["entries"] == []
    status, body = signed_in(make_client, "agent1@a.example").get(f"{API}/audit-log")
    assert (status, body["error"]) == (403, "forbidden")


def test_the_installation_owner_also_sees_the_installations_own_changes_and_nobody_else_does(make_client, world):
    owner = world["a"]["users"]["admin"]
    owner.owner = True
    owner.save()
    actor = Principal(world["a"]["company"], "admin", owner)
    services.record(actor, "created", "dialplan", 1, None, {"name": "x"}, "x", installation=True)
    seen = signed_in(make_client, "admin@a.example").get(f"{API}/audit-log")[1]["entries"]
    assert [(e["resource"], e["summary"]) for e in seen] == [("dialplan", "x")]
    for other in ("admin@b.example", "supervisor@a.example"):  # not owners: their company's changes only
        assert signed_in(make_client, other).get(f"{API}/audit-log")[1]["entries"] == []
