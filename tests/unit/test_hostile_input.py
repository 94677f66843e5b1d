"""Hostile input to every declared endpoint: out-of-range ids in the path, hostile values in every query field and
in every field of every body (nested ones too), and bodies that are not what they claim. Whatever comes in, the
answer is a JSON error with a status below 500: a 500 means some value reached code that could not take it (an
id beyond SQLite's 64-bit integers, a date whose arithmetic overflows, JSON nested deeper than the parser
recurses). The endpoints come from the API's own registry, so a new endpoint is fuzzed without changing the test.
"""

from __future__ import annotations

import base64
import copy
import json

import pytest
from support import PASSWORD
from test_tenant_isolation import BODIES

from leadcenter.accounts.services import add_member, create_user
from leadcenter.visits.models import NumberPool
from leadcenter.web import api

# Path ids SQLite cannot hold (it stores 64-bit signed integers), and the largest it can.
HOSTILE_IDS = [2**63, 2**64, 10**30, 2**63 - 1]


# Query values are strings: each is tried in every field, whatever its type.
def cursor(value) -> str:
    """A timeline cursor (the client gets them opaque, but can forge any)."""
    return base64.urlsafe_b64encode(json.dumps(value).encode() if not isinstance(value, bytes) else value).decode()


HOSTILE_QUERY = [
    "9223372036854775808",
    "-9223372036854775809",
    "1" + "0" * 40,
    "0001-01-01",
    "9999-12-31",
    "0000-00-00",
    "NaN",
    "-inf",
    "1e400",
    "\x00",
    "%",
    "\U0001f600",
    "x" * 10_000,
    "",
    " ",
    cursor(["2026-11-27T09:00:00", 2**63]),
    cursor(["0001-01-01T00:00:00", 1]),
    cursor(["9999-12-31T23:59:59", 1]),
    cursor(b"[" * 50_000 + b"]" * 50_000),
]

# JSON values tried in place of every value of a valid body, at every depth.
HOSTILE_JSON = [
    2**63,
    -(2**63) - 1,
    10**30,
    1e308,
    -1,
    0,
    True,
    None,
    "",
    "\x00",
    "\ud800",
    "x" * 100_000,
    "0001-01-01",
    "9999-12-31T23:59:59",
    [],
    {},
    [2**63],
    {"id": 2**63},
    json.loads("[" * 500 + "]" * 500),
]

# Bodies that are not a JSON object, or not JSON at all.
RAW_BODIES = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b"1e400",
    b"[1, 2]",
    b"null",
    b'"text"',
    b"\xff\xfe{}",
    b'{"a": NaN}',
    b'{"a": 1, "a": 2}',
    b"",
]

# Richer bodies than the tenant isolation test needs: the ids in nested places get fuzzed too.
RICH_BODIES = {
    "SignIn": lambda a: {"email": "nobody@a.example", "password": "not the password", "company_id": a["company"].id},
    "CompanyChoice": lambda a: {"company_id": a["company"].id},
    "NewFlow": lambda a: {
        "name": "Fuzzed",
        "record": True,
        "steps": [
            {"type": "queue", "team": a["team"].id, "timeout": 60},
            {"type": "ring_agents", "agents": [a["agents"][0].id], "timeout": 20},
            {"type": "voicemail", "agent": a["agents"][0].id},
            {
                "type": "hours",
                "weekly": [{"days": ["mon"], "open": "09:00", "close": "17:00"}],
                "holidays": ["2026-12-25"],
                "open": {"steps": [{"type": "ivr", "digits": {"1": {"flow": a["flow"].id}}, "timeout": 5}]},
                "closed": {"steps": [{"type": "forward", "number": "+14045550199", "trunk": a["trunk"].id}]},
            },
        ],
    },
    "NewMember": lambda a: {
        "email": "fuzz@a.example",
        "name": "Fuzz",
        "password": "long enough pw",
        "role": "agent",
        "agent": {"devices": ["webrtc", "desk"], "ring_device": "desk", "display_name": "Fuzz"},
    },
    "LeadChanges": lambda a: {"name": "Renamed", "email": "x@example.com", "numbers": ["+14045550188"]},
    "NewLead": lambda a: {"name": "New Lead", "numbers": ["+14045550189"]},
    "TeamChanges": lambda a: {"name": "Renamed", "members": [a["agents"][0].id]},
    "NewTeam": lambda a: {"name": "New team", "members": [a["agents"][0].id]},
    "Party": lambda a: {"agent_id": a["agents"][1].id},
}

# A's own objects for each path parameter, so that a hostile body or query reaches the view.
A_OBJECTS = {
    "user_id": lambda a: a["users"]["supervisor"].id,
    "api_key_id": lambda a: 1,
    "agent_id": lambda a: a["agents"][0].id,
    "flow_id": lambda a: a["flow"].id,
    "lead_id": lambda a: a["leads"][0].id,
    "interaction_id": lambda a: a["interactions"][0].id,
    "trunk_id": lambda a: a["trunk"].id,
    "number_id": lambda a: a["number"].id,
    "team_id": lambda a: a["team"].id,
    "invitation_id": lambda a: 1,
    "pool_id": lambda a: NumberPool.get_or_create(company=a["company"], name="Pool")[0].id,
    "version": lambda a: 1,
    "sound": lambda a: "menu",
    "name": lambda a: "after-hours",  # a custom dialplan context
    "number": lambda a: 1,  # its version
    "device": lambda a: "desk",
    "phone": lambda a: "+14045551000",
    "monitor_id": lambda a: 1,
    "leg_id": lambda a: 1,
}


def variants(value):
    """``value`` with each of its values in turn (the whole, then each item at every depth) replaced by each
    hostile value."""
    yield from HOSTILE_JSON
    if isinstance(value, dict):
        for key, item in value.items():
            for changed in variants(item):
                yield {**value, key: changed}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for changed in variants(item):
                yield [*value[:index], changed, *value[index + 1 :]]


def body_variants(model: type, a) -> list[dict]:
    base = (RICH_BODIES.get(model.__name__) or BODIES[model.__name__])(a)
    out = [copy.deepcopy(base)]
    for key in model.model_fields:  # fields the valid body leaves out get hostile values too
        out += [{**base, key: hostile} for hostile in HOSTILE_JSON]
    for changed in variants(base):
        if isinstance(changed, dict):
            out.append(changed)
    return out


def assert_answered(response, what: str) -> None:
    assert response.status_code < 500, f"{what} -> {response.status_code} {response.get_data(as_text=True)[:300]}"
    if response.status_code >= 400:
        body = response.get_json(silent=True)
        assert body is not None and body.get("error"), f"{what} -> {response.status_code}, not a JSON error"


# An admin of A who is also the installation owner: every endpoint an admin reaches and the owner's own (the
# dialplans'); the agent: what an agent reaches.
@pytest.fixture(params=["agent1@a.example", "owner@a.example"])
def caller(request, make_client, world):
    if request.param == "owner@a.example":  # the installation owner: the dialplan endpoints' only caller
        owner = create_user("owner@a.example", "Owner", PASSWORD)
        owner.owner = True
        owner.save()
        add_member(owner, world["a"]["company"], "admin")
    client = make_client()
    client.sign_in(request.param)
    return client


def ordered():
    """Every endpoint, signing out last."""
    return sorted(api.REGISTRY, key=lambda e: (e.method, e.path) == ("DELETE", "/api/v1/session"))


def call(client, method: str, path: str, **kwargs):
    headers = {"X-CSRF-Token": client.csrf}
    return client.http.open(path, method=method, headers=headers, **kwargs)


def test_out_of_range_ids_in_every_path_are_not_found(caller, world):
    checked = 0
    for endpoint in ordered():
        for name in endpoint.path_params:
            for hostile in HOSTILE_IDS:
                ids = {p: A_OBJECTS[p](world["a"]) for p in endpoint.path_params} | {name: hostile}
                path = endpoint.path.format(**ids)
                if endpoint.upload:  # a file of the type it takes, so that the request reaches the id
                    sent = {"data": b"RIFF", "content_type": endpoint.upload[0]}
                else:
                    sent = {"json": body_variants(endpoint.body, world["a"])[0] if endpoint.body else None}
                response = call(caller, endpoint.method, path, **sent)
                assert_answered(response, f"{endpoint.method} {path}")
                if caller.http.get("/api/v1/session").get_json()["company"] is not None:
                    assert response.status_code in (403, 404), f"{endpoint.method} {path} -> {response.status_code}"
                checked += 1
    assert checked >= 100


def test_hostile_values_in_every_query_field(caller, world):
    checked = 0
    for endpoint in ordered():
        if endpoint.query is None:
            continue
        path = endpoint.path.format(**{p: A_OBJECTS[p](world["a"]) for p in endpoint.path_params})
        for field in endpoint.query.model_fields:
            for hostile in HOSTILE_QUERY:
                response = call(caller, endpoint.method, path, query_string={field: hostile})
                assert_answered(response, f"{endpoint.method} {path}?{field}={hostile[:40]!r}")
                checked += 1
    assert checked >= 50


def test_hostile_values_in_every_body_field(caller, world):
    checked = 0
    for endpoint in ordered():
        if endpoint.body is None:
            continue
        path = endpoint.path.format(**{p: A_OBJECTS[p](world["a"]) for p in endpoint.path_params})
        for body in body_variants(endpoint.body, world["a"]):
            response = call(caller, endpoint.method, path, json=body)
            assert_answered(response, f"{endpoint.method} {path} {json.dumps(body)[:200]}")
            checked += 1
    assert checked >= 1000


def test_bodies_that_are_not_json_objects(caller, world):
    for endpoint in ordered():
        if endpoint.body is None:
            continue
        path = endpoint.path.format(**{p: A_OBJECTS[p](world["a"]) for p in endpoint.path_params})
        for raw in RAW_BODIES:
            response = call(caller, endpoint.method, path, data=raw, content_type="application/json")
            assert_answered(response, f"{endpoint.method} {path} {raw[:20]!r}")
            if endpoint.path != "/api/v1/session" or endpoint.method != "DELETE":
                assert response.status_code in (400, 401, 403, 409, 415, 422), (endpoint.path, raw[:20])
