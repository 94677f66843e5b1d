"""Company A's admin (signed in, and with an API key) tries every API endpoint against company B: B's objects
are never found (404/403), collections never show B's data, and nothing of B changes. The endpoints come from
the API's own registry, so a new endpoint without a case here fails the test.

(The websocket's scoping is proved in test_stream.py: another company's events never arrive.)"""

from __future__ import annotations

import json

import pytest
from playhouse.shortcuts import model_to_dict
from support import T0

from leadcenter.accounts.models import ApiKey, Company, Invitation, Membership, PasswordLink
from leadcenter.agents.models import Agent, SipCredential
from leadcenter.audit.models import AuditEntry
from leadcenter.calls.legs import CallLeg
from leadcenter.chats.models import ChatWidget, Visitor
from leadcenter.dialplans.models import CustomContext
from leadcenter.flows.models import CallFlow, FlowVersion
from leadcenter.interactions.models import Interaction, InteractionTag, Tag
from leadcenter.leads.models import Lead, LeadPhone
from leadcenter.monitors.models import Monitor
from leadcenter.teams.models import Team, TeamMember
from leadcenter.texts.models import TextConsent
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk
from leadcenter.visits.models import NumberPool, VisitSettings
from leadcenter.web import api
from leadcenter.web.auth import new_api_key

# A valid body for each request model (with A's own objects where one is named), so that what the
# request meets is the company check, not validation.
BODIES = {
    "CompanyChanges": lambda a: {"name": "Renamed"},
    "WeeklySummaryChanges": lambda a: {"enabled": True, "recipients": ["boss@a.example"]},
    "NewMember": lambda a: {
        "email": "new@a.example",
        "name": "New Person",
        "password": "long enough pw",
        "role": "agent",
    },
    "MemberChanges": lambda a: {"role": "supervisor"},
    "NewApiKey": lambda a: {"name": "CRM"},
    "AgentChanges": lambda a: {"display_name": "Renamed"},
    "MyAgentChanges": lambda a: {"status": "offline"},
    "NewFlow": lambda a: {"name": "New flow", "steps": [{"type": "voicemail"}]},
    "FlowChanges": lambda a: {"name": "Renamed"},
    "Restore": lambda a: {},
    "ClassificationChanges": lambda a: {"notes": "x", "tags": ["t"]},
    "NewLead": lambda a: {"name": "New Lead"},
    "LeadChanges": lambda a: {"name": "Renamed"},
    "MergeRequest": lambda a: {"duplicate_id": a["leads"][1].id},
    "NewTrunk": lambda a: {"name": "New trunk", "host": "127.0.0.9", "port": 5099},
    "TrunkChanges": lambda a: {"name": "Renamed"},
    "NewTrackingNumber": lambda a: {
        "number": "+14045550177",
        "name": "New line",
        "source": "",
        "trunk": a["trunk"].id,
        "flow": None,
    },
    "TrackingNumberChanges": lambda a: {"name": "Renamed"},
    "NewTeam": lambda a: {"name": "New team"},
    "TeamChanges": lambda a: {"name": "Renamed"},
    "NewCall": lambda a: {"to": "+14045550123", "tracking_number_id": a["number"].id},
    "TransferRequest": lambda a: {"to": {"number": "+14045550123"}},
    "NewText": lambda a: {"to": "+14045550123", "body": "Hi", "tracking_number_id": a["number"].id},
    "Reply": lambda a: {"body": "Hi"},
    "Draft": lambda a: {"body": "Hi"},
    "ChatWidgetChanges": lambda a: {"greeting": "Hello", "team_id": a["team"].id},
    "VisitSettingsChanges": lambda a: {"session_minutes": 20},
    "NewNumberPool": lambda a: {"name": "Pool", "fallback_number": a["number"].id},
    "NumberPoolChanges": lambda a: {"hold_minutes": 10},
    "NewDialplan": lambda a: {"name": "mine", "text": "exten => s,1,Hangup()"},
    "DialplanChanges": lambda a: {"text": "exten => s,1,Hangup()"},
    "NewAgentProfile": lambda a: {"devices": ["webrtc"], "ring_device": "webrtc"},
    "LinkToken": lambda a: {"token": "not-a-link-token"},
    "NewPassword": lambda a: {"token": "not-a-link-token", "password": "long enough pw"},
    "Forgotten": lambda a: {"email": "agent1@b.example"},
    "NewOptOut": lambda a: {"number": "+14045551000"},
    "NewMonitor": lambda a: {"mode": "barge"},
    "MonitorChange": lambda a: {"mode": "barge"},
    "Party": lambda a: {"agent_id": a["agents"][1].id},
}

# B's object for each path parameter.
B_OBJECTS = {
    "user_id": lambda b: b["agents"][0].user_id,
    "api_key_id": lambda b: b["api_key"].id,
    "agent_id": lambda b: b["agents"][0].id,
    "flow_id": lambda b: b["flow"].id,
    "lead_id": lambda b: b["leads"][0].id,
    "interaction_id": lambda b: b["interactions"][0].id,
    "trunk_id": lambda b: b["trunk"].id,
    "number_id": lambda b: b["number"].id,
    "team_id": lambda b: b["team"].id,
    "invitation_id": lambda b: b["invitation"].id,
    "pool_id": lambda b: pool_of(b).id,
    "version": lambda b: 1,
    "sound": lambda b: "b-menu",
    "name": lambda b: custom_of(b).name,  # a custom dialplan context only B's flows may use (the owner's to edit)
    "number": lambda b: 1,
    "device": lambda b: "desk",  # with B's agent_id
    "phone": lambda b: b["opt_out"].number,  # a number B opted out
    "monitor_id": lambda b: monitor_of(b).id,  # B's supervisor listening to B's call
    "leg_id": lambda b: leg_of(b).id,  # B's agent on B's call
}


def pool_of(company_objects) -> NumberPool:
    return NumberPool.get_or_create(company=company_objects["company"], name="Pool")[0]


def leg_of(company_objects) -> CallLeg:
    return CallLeg.get_or_create(
        channel_id="1700000000.99",
        defaults={
            "interaction": company_objects["interactions"][0],
            "agent": company_objects["agents"][0],
            "joined_at": T0,
        },
    )[0]


def monitor_of(company_objects) -> Monitor:
    return Monitor.get_or_create(
        company=company_objects["company"],
        defaults={
            "interaction": company_objects["interactions"][0],
            "supervisor": company_objects["users"]["supervisor"],
            "device": "desk",
            "mode": "listen",
            "channel_id": "lc-spy-b",
            "started_at": T0,
        },
    )[0]


def custom_of(company_objects) -> CustomContext:
    return CustomContext.get_or_create(
        name="b-only", defaults={"text": "exten => s,1,Hangup()", "company": company_objects["company"]}
    )[0]


QUERIES = {"LeadSearch": "?q=Lead", "FlowSoundName": "?name=menu"}

# Create requests that name B's objects in their body: refused, nothing created.
NAMING_B = [
    ("POST", "/api/v1/teams", lambda a, b: {"name": "Mixed", "members": [b["agents"][0].id]}),
    ("POST", "/api/v1/flows", lambda a, b: {"name": "Mixed", "steps": [{"type": "queue", "team": b["team"].id}]}),
    (
        "POST",
        "/api/v1/flows",
        lambda a, b: {"name": "Mixed", "steps": [{"type": "ring_agents", "agents": [b["agents"][0].id]}]},
    ),
    (
        "POST",
        "/api/v1/tracking-numbers",
        lambda a, b: {"number": "+14045550178", "name": "Mixed", "source": "", "trunk": b["trunk"].id, "flow": None},
    ),
    (
        "POST",
        "/api/v1/tracking-numbers",
        lambda a, b: {
            "number": "+14045550179",
            "name": "Mixed",
            "source": "",
            "trunk": a["trunk"].id,
            "flow": b["flow"].id,
        },
    ),
    ("POST", "/api/v1/leads/{a_lead}/merge", lambda a, b: {"duplicate_id": b["leads"][0].id}),
    ("POST", "/api/v1/calls", lambda a, b: {"to": "+14045550123", "tracking_number_id": b["number"].id}),
    ("POST", "/api/v1/texts", lambda a, b: {"to": "+14045550123", "body": "Hi", "tracking_number_id": b["number"].id}),
    ("PATCH", "/api/v1/chat-widget", lambda a, b: {"team_id": b["team"].id}),
    ("POST", "/api/v1/number-pools", lambda a, b: {"name": "Mixed", "fallback_number": b["number"].id}),
    ("PATCH", "/api/v1/tracking-numbers/{a_number}", lambda a, b: {"pool": pool_of(b).id}),
    (
        "POST",
        "/api/v1/flows",
        lambda a, b: {"name": "Mixed", "steps": [{"type": "custom", "context": custom_of(b).name}]},
    ),
]

B_TEXTS = (
    "Company B",
    "Lead0 B",
    "Lead1 B",
    "Team B",
    "Flow B",
    "Trunk B",
    "Line B",
    "@b.example",
    "+4420794",
    "b-only",
)


def snapshot_of_b(company: Company) -> str:
    """Every row that belongs to company B, as text: compared before and after."""
    rows = []
    for model, where in (
        (Company, Company.id == company.id),
        (Membership, Membership.company == company),
        (ApiKey, ApiKey.company == company),
        (Invitation, Invitation.company == company),
        (Agent, Agent.company == company),
        (Team, Team.company == company),
        (CallFlow, CallFlow.company == company),
        (FlowVersion, FlowVersion.flow.in_(CallFlow.select(CallFlow.id).where(CallFlow.company == company))),
        (Trunk, Trunk.company == company),
        (TrackingNumber, TrackingNumber.company == company),
        (Lead, Lead.company == company),
        (LeadPhone, LeadPhone.company == company),
        (Interaction, Interaction.company == company),
        (Tag, Tag.company == company),
        (ChatWidget, ChatWidget.company == company),
        (Visitor, Visitor.company == company),
        (VisitSettings, VisitSettings.company == company),
        (NumberPool, NumberPool.company == company),
        (CustomContext, CustomContext.company == company),
        (PasswordLink, PasswordLink.company == company),
        (AuditEntry, AuditEntry.company == company),
        (TextConsent, TextConsent.company == company),
        (Monitor, Monitor.company == company),
    ):
        rows += [
            json.dumps(model_to_dict(row, recurse=False), default=str, sort_keys=True)
            for row in model.select().where(where).order_by(model._meta.primary_key)
        ]
    b_agents = Agent.select(Agent.id).where(Agent.company == company)
    rows += [
        json.dumps(model_to_dict(row, recurse=False), default=str, sort_keys=True)
        for row in TeamMember.select().where(TeamMember.agent.in_(b_agents)).order_by(TeamMember.id)
    ]
    rows += [
        json.dumps(model_to_dict(row, recurse=False), default=str, sort_keys=True)
        for row in SipCredential.select().where(SipCredential.agent.in_(b_agents)).order_by(SipCredential.id)
    ]
    rows += [
        json.dumps(model_to_dict(row, recurse=False), default=str, sort_keys=True)
        for row in InteractionTag.select().join(Interaction).where(Interaction.company == company)
    ]
    return "\n".join(rows)


@pytest.fixture(params=["session", "api-key"])
def attacker(request, make_client, world):
    """Company A's admin: signed in in a browser, or A's integration with an API key."""
    world["b"]["api_key"] = new_api_key(world["b"]["company"], "B's CRM", None)[0]
    pool_of(world["b"])
    lead = world["b"]["leads"][0]
    world["b"]["opt_out"] = TextConsent.create(
        company=world["b"]["company"], number=lead.phones[0].number, lead=lead, action="opt_out", keyword="STOP", at=T0
    )
    custom_of(world["b"])
    monitor_of(world["b"])
    world["b"]["invitation"] = Invitation.create(
        company=world["b"]["company"], user=world["a"]["users"]["admin"], role="agent"
    )
    client = make_client()
    if request.param == "session":
        client.sign_in("admin@a.example")
    else:
        client.bearer = new_api_key(world["a"]["company"], "A's CRM", None)[1]
    return client


def _requests(world):
    a, b = world["a"], world["b"]
    for endpoint in api.REGISTRY:
        if endpoint.roles == "public":
            continue
        assert all(p in B_OBJECTS for p in endpoint.path_params), f"add {endpoint.path_params} to B_OBJECTS"
        path = endpoint.path.format(**{p: B_OBJECTS[p](b) for p in endpoint.path_params})
        if endpoint.query is not None:
            path += QUERIES.get(endpoint.query.__name__, "")
        assert endpoint.body is None or endpoint.body.__name__ in BODIES, f"add {endpoint.body.__name__} to BODIES"
        body = BODIES[endpoint.body.__name__](a) if endpoint.body is not None else None
        yield endpoint, path, body


def test_company_b_is_invisible_and_untouchable_from_company_a(attacker, world):
    before = snapshot_of_b(world["b"]["company"])
    checked = 0
    for endpoint, path, body in _requests(world):
        if endpoint.upload:  # a file of the type it takes, so that the request reaches what it names
            status, data = attacker.request(
                endpoint.method, path, data=b"RIFF", headers={"Content-Type": endpoint.upload[0]}
            )
        else:
            status, data = attacker.request(endpoint.method, path, body)
        text = json.dumps(data)
        if endpoint.path_params:
            assert status in (403, 404), f"{endpoint.method} {path} -> {status} {text}"
        else:
            assert status < 500, f"{endpoint.method} {path} -> {status} {text}"
        leaked = [needle for needle in B_TEXTS if needle in text]
        assert not leaked, f"{endpoint.method} {path} showed {leaked}: {text}"
        checked += 1
    assert checked >= 45
    assert snapshot_of_b(world["b"]["company"]) == before


def test_creating_with_company_b_objects_in_the_body_is_refused(attacker, world):
    a, b = world["a"], world["b"]
    before = snapshot_of_b(b["company"])
    counts = (Team.select().count(), CallFlow.select().count(), TrackingNumber.select().count())
    for method, path, body in NAMING_B:
        named = path.format(a_lead=a["leads"][0].id, a_number=a["number"].id)
        status, data = attacker.request(method, named, body(a, b))
        assert status in (403, 404, 409, 422), f"{method} {path} -> {status} {data}"
    assert (Team.select().count(), CallFlow.select().count(), TrackingNumber.select().count()) == counts
    assert snapshot_of_b(b["company"]) == before
