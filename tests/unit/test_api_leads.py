"""The leads API: search, read, create, edit, merge; every id outside the caller's company is a 404."""

import pytest

from leadcenter.interactions.models import Interaction
from leadcenter.leads.models import Lead, LeadPhone, LeadSearchTerm
from leadcenter.leads.services import search
from leadcenter.wire import utc_iso


@pytest.fixture
def agent_a(make_client, world):
    client = make_client()
    client.sign_in("agent1@a.example")
    return client


def numbers_of(lead_id):
    return [p.number for p in LeadPhone.select().where(LeadPhone.lead == lead_id).order_by(LeadPhone.id)]


def test_search_by_name_and_by_number_stays_in_the_company(agent_a, world):
    lead1 = world["a"]["leads"][1]
    status, found = agent_a.get("/api/v1/leads?q=lead1")
    assert status == 200
    assert found == [
        {
            "id": lead1.id,
            "name": "Lead1 A",
            "email": "",
            "numbers": ["+14045551001"],
            "created_at": utc_iso(lead1.created_at),
            "updated_at": utc_iso(lead1.updated_at),
            "merged_into_id": None,
        }
    ]
    assert [lead["id"] for lead in agent_a.get("/api/v1/leads?q=(404) 555-1001")[1]] == [lead1.id]
    assert {lead["name"] for lead in agent_a.get("/api/v1/leads?q=lead")[1]} == {"Lead0 A", "Lead1 A", "Lead2 A"}
    assert len(agent_a.get("/api/v1/leads?q=lead&limit=2")[1]) == 2


@pytest.mark.parametrize("query", ["", "?q=", "?q=%20%20", "?q=lead&limit=0", "?q=lead&limit=lots", "?q=x&page=2"])
def test_search_needs_a_query_and_a_sane_limit(agent_a, query):
    status, body = agent_a.get(f"/api/v1/leads{query}")
    assert (status, body["error"]) == (422, "invalid-fields")


def test_get_a_lead(agent_a, world):
    lead = world["a"]["leads"][0]
    status, body = agent_a.get(f"/api/v1/leads/{lead.id}")
    assert status == 200
    assert (body["id"], body["name"], body["numbers"], body["merged_into_id"]) == (
        lead.id,
        "Lead0 A",
        ["+14045551000"],
        None,
    )


def test_supervisors_and_admins_use_it_too_and_strangers_do_not(make_client, world):
    lead = world["a"]["leads"][0]
    for email in ("supervisor@a.example", "admin@a.example"):
        client = make_client()
        client.sign_in(email)
        assert client.get(f"/api/v1/leads/{lead.id}")[0] == 200
    status, body = make_client().get(f"/api/v1/leads/{lead.id}")
    assert (status, body["error"]) == (401, "not-signed-in")


def test_create_a_lead_reads_numbers_in_the_company_region(agent_a, world, controller):
    status, body = agent_a.post(
        "/api/v1/leads",
        {
            "name": " Dana Scully ",
            "email": "dana@fbi.example",
            "numbers": ["(404) 555-0199", "+1 404 555 0199", "404-555-0198"],
        },
    )
    assert status == 201
    lead = Lead.get_by_id(body["id"])
    assert (lead.company_id, lead.name, lead.email) == (world["a"]["company"].id, "Dana Scully", "dana@fbi.example")
    assert body["numbers"] == numbers_of(lead.id) == ["+14045550199", "+14045550198"]
    assert [found.id for found in search(world["a"]["company"], "scully")] == [lead.id]
    # The lead as the API returns it, so the other tabs show it without asking.
    assert controller.bus.published == [("lead.created", {"company_id": lead.company_id, "lead": body})]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "X", "numbers": ["+14045550199", "12"]}, "numbers.1"),
        ({"name": "X", "numbers": ["not a number"]}, "numbers.0"),
        ({"name": "X", "colour": "red"}, "colour"),
        ({"name": 5}, "name"),
        ({"name": "X", "numbers": "+14045550199"}, "numbers"),
        ({"name": "x" * 201}, "name"),
        ({"name": "X", "email": "no-at-sign"}, "email"),
        ({"name": "X", "email": "a@" + "b" * 253}, "email"),
        ({"name": "X", "numbers": [f"+1404555{2000 + i}" for i in range(11)]}, "numbers"),
        ({}, "body"),
    ],
)
def test_create_refuses_bad_input_and_creates_nothing(agent_a, controller, body, field):
    leads, phones = Lead.select().count(), LeadPhone.select().count()
    status, answer = agent_a.post("/api/v1/leads", body)
    assert (status, answer["error"]) == (422, "invalid-fields")
    assert field in answer["fields"]
    assert (Lead.select().count(), LeadPhone.select().count()) == (leads, phones)
    assert controller.bus.published == []


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"name": "X", "email": "no-at-sign"}, {"email": "not an email address"}),
        (
            {"name": "X", "numbers": ["not a number", "12", "+999 123", "404 555 01000"]},
            {
                "numbers.0": "'not a number' is not a phone number",
                "numbers.1": "'12' is too short to be a phone number",
                "numbers.2": "'+999 123' does not start with a valid country code",
                "numbers.3": "'404 555 01000' is too long to be a phone number",
            },
        ),
        ({"email": ""}, {"body": "a lead needs a name, an email or a number"}),
    ],
)
def test_what_is_wrong_with_a_field_is_said_in_words_for_the_person_who_typed_it(agent_a, body, fields):
    """The app shows these under the field: our validators' sentences as written, never pydantic's
    "Value error, ..." nor phonenumbers' "(1) The string supplied did not seem to be a phone number."."""
    status, answer = agent_a.post("/api/v1/leads", body)
    assert (status, answer["fields"]) == (422, fields)


def test_every_validator_sentence_reaches_the_client_as_written():
    from pydantic import field_validator

    from leadcenter.errors import ApiError
    from leadcenter.web.api import _validate
    from leadcenter.wire import Schema

    class Form(Schema):
        colour: str

        @field_validator("colour")
        @classmethod
        def known(cls, colour: str) -> str:
            if colour != "red":
                raise ValueError(f"{colour} is not red")
            return colour

    with pytest.raises(ApiError) as refused:
        _validate(Form, {"colour": "blue"}, "body")
    assert refused.value.fields == {"colour": "blue is not red"}


def test_create_with_a_number_of_another_lead_is_a_conflict(agent_a, world):
    leads = Lead.select().count()
    status, body = agent_a.post("/api/v1/leads", {"name": "Copy", "numbers": ["404 555 1000"]})
    assert (status, body["error"]) == (409, "number-taken")
    assert "+14045551000" in body["message"]
    assert Lead.select().count() == leads


def test_a_number_of_another_company_is_free(agent_a, world):
    """Numbers are unique per company: company B's lead's number can be a lead of company A too."""
    status, body = agent_a.post("/api/v1/leads", {"numbers": ["+442079401000"]})
    assert status == 201 and body["numbers"] == ["+442079401000"]


def test_patch_changes_only_the_fields_sent(agent_a, world, controller):
    lead = world["a"]["leads"][0]
    status, body = agent_a.patch(f"/api/v1/leads/{lead.id}", {"email": "lead0@a.example"})
    assert status == 200
    assert (body["name"], body["email"], body["numbers"]) == ("Lead0 A", "lead0@a.example", ["+14045551000"])
    assert Lead.get_by_id(lead.id).email == "lead0@a.example"
    assert controller.bus.published == [("lead.updated", {"company_id": lead.company_id, "lead": body})]
    assert agent_a.get(f"/api/v1/leads/{lead.id}")[1] == body


def test_patch_numbers_replaces_them_and_keeps_the_lead_searchable(agent_a, world):
    lead = world["a"]["leads"][0]
    status, body = agent_a.patch(f"/api/v1/leads/{lead.id}", {"numbers": ["404 555 0142"], "name": "Renamed"})
    assert status == 200 and body["numbers"] == numbers_of(lead.id) == ["+14045550142"]
    company = world["a"]["company"]
    assert [found.id for found in search(company, "0142")] == [lead.id]
    assert search(company, "5551000") == [] and search(company, "lead0") == []


def test_an_empty_patch_changes_nothing(agent_a, world, controller):
    lead = world["a"]["leads"][0]
    status, body = agent_a.patch(f"/api/v1/leads/{lead.id}", {})
    assert status == 200 and body["updated_at"] == utc_iso(lead.updated_at)
    assert controller.bus.published == []


@pytest.mark.parametrize(
    "body, status, error",
    [
        ({"numbers": ["+14045551001"]}, 409, "number-taken"),
        ({"numbers": ["12"]}, 422, "invalid-fields"),
        ({"name": None}, 422, "invalid-fields"),
        ({"id": 5}, 422, "invalid-fields"),
    ],
)
def test_patch_refuses_bad_changes_and_changes_nothing(agent_a, world, controller, body, status, error):
    lead = world["a"]["leads"][0]
    answer = agent_a.patch(f"/api/v1/leads/{lead.id}", body)
    assert (answer[0], answer[1]["error"]) == (status, error)
    assert numbers_of(lead.id) == ["+14045551000"] and Lead.get_by_id(lead.id).name == "Lead0 A"
    assert controller.bus.published == []


def test_merge_moves_numbers_and_interactions_to_the_survivor(agent_a, world, controller):
    survivor, duplicate = world["a"]["leads"][0], world["a"]["leads"][1]
    moved = world["a"]["interactions"][1]
    status, body = agent_a.post(f"/api/v1/leads/{survivor.id}/merge", {"duplicate_id": duplicate.id})
    assert status == 200
    assert (body["id"], body["numbers"]) == (survivor.id, ["+14045551000", "+14045551001"])
    assert Interaction.get_by_id(moved.id).lead_id == survivor.id
    assert controller.bus.published == [
        ("lead.merged", {"company_id": survivor.company_id, "lead": body, "duplicate_id": duplicate.id})
    ]
    status, merged = agent_a.get(f"/api/v1/leads/{duplicate.id}")
    assert (status, merged["merged_into_id"], merged["numbers"]) == (200, survivor.id, [])


def test_a_merged_lead_is_read_only(agent_a, world):
    survivor, duplicate, other = world["a"]["leads"]
    assert agent_a.post(f"/api/v1/leads/{survivor.id}/merge", {"duplicate_id": duplicate.id})[0] == 200
    status, body = agent_a.patch(f"/api/v1/leads/{duplicate.id}", {"name": "Ghost"})
    assert (status, body["error"]) == (409, "lead-merged") and f"lead {survivor.id}" in body["message"]
    for path, duplicate_id in (
        (f"/api/v1/leads/{other.id}/merge", duplicate.id),
        (f"/api/v1/leads/{duplicate.id}/merge", other.id),
    ):
        status, body = agent_a.post(path, {"duplicate_id": duplicate_id})
        assert (status, body["error"]) == (409, "merge-refused")
    assert Lead.get_by_id(duplicate.id).name == "Lead1 A"
    assert Lead.get_by_id(other.id).merged_into_id is None


def test_a_lead_cannot_be_merged_into_itself(agent_a, world):
    lead = world["a"]["leads"][0]
    status, body = agent_a.post(f"/api/v1/leads/{lead.id}/merge", {"duplicate_id": lead.id})
    assert (status, body["fields"]) == (422, {"duplicate_id": "a lead cannot be merged into itself"})


def _company_rows(company):
    """Everything of a company's leads, to show a refused request left it alone."""
    leads = [
        (lead.id, lead.name, lead.email, lead.merged_into_id, lead.updated_at)
        for lead in Lead.select().where(Lead.company == company).order_by(Lead.id)
    ]
    phones = [
        (p.lead_id, p.number) for p in LeadPhone.select().where(LeadPhone.company == company).order_by(LeadPhone.id)
    ]
    terms = [
        (t.lead_id, t.term)
        for t in LeadSearchTerm.select().where(LeadSearchTerm.company == company).order_by(LeadSearchTerm.id)
    ]
    interactions = [(i.id, i.lead_id) for i in Interaction.select().where(Interaction.company == company)]
    return leads, phones, terms, interactions


def test_another_company_s_leads_are_not_found(agent_a, world, controller):
    theirs, other = world["b"]["leads"][0], world["b"]["leads"][1]
    mine = world["a"]["leads"][0]
    before = _company_rows(world["b"]["company"])
    requests = [
        ("GET", f"/api/v1/leads/{theirs.id}", None),
        ("PATCH", f"/api/v1/leads/{theirs.id}", {"name": "Taken over"}),
        ("POST", f"/api/v1/leads/{theirs.id}/merge", {"duplicate_id": other.id}),
        ("POST", f"/api/v1/leads/{mine.id}/merge", {"duplicate_id": theirs.id}),
        ("POST", f"/api/v1/leads/{theirs.id}/merge", {"duplicate_id": mine.id}),
    ]
    for method, path, body in requests:
        status, answer = agent_a.request(method, path, body)
        assert (status, answer["error"]) == (404, "not-found"), (method, path)
    assert agent_a.get("/api/v1/leads?q=lead0")[1] == [agent_a.get(f"/api/v1/leads/{mine.id}")[1]]
    assert _company_rows(world["b"]["company"]) == before
    assert controller.bus.published == []
