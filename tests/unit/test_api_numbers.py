"""The admin API of numbers and trunks: trunks that register (credentials never shown), their live state from what
Asterisk reports, tracking numbers' texting switch, the opt-out list and the SMSC binds. Each write is checked in
the database, the rendered configuration, the events and the audit log."""

import pytest
from support import T0
from test_api_admin import API, assert_refused

from leadcenter import asterisk_config
from leadcenter.audit.models import AuditEntry
from leadcenter.events import Event
from leadcenter.pbx import render
from leadcenter.texts.models import TextConsent
from leadcenter.trunks.models import Trunk

REGISTERING = {
    "name": "Carrier account",
    "host": "203.0.113.9",
    "auth": "register",
    "username": "acme-7",
    "password": "s3cret",
    "transport": "tcp",
    "codecs": ["g722", "ulaw"],
    "qualify_seconds": 30,
}


def test_a_registering_trunk_keeps_its_password_to_itself(admin, world, controller):
    status, created = admin.post(f"{API}/trunks", REGISTERING)
    assert status == 201, created
    assert "password" not in created and created["has_password"]
    assert (created["auth"], created["username"], created["transport"], created["codecs"]) == (
        "register",
        "acme-7",
        "tcp",
        ["g722", "ulaw"],
    )
    trunk = Trunk.get_by_id(created["id"])
    assert (trunk.password, trunk.codecs, trunk.qualify_seconds) == ("s3cret", "g722,ulaw", 30)
    spec = next(t for t in asterisk_config.snapshot(controller.settings).trunks if t.id == trunk.id)
    assert (spec.registers, spec.username, spec.password, spec.transport) == (True, "acme-7", "s3cret", "tcp")
    assert "password = s3cret" in render.render_pjsip_endpoints(render.Snapshot(trunks=(spec,)))
    # A change that does not send the password keeps it; the audit log never holds it.
    status, updated = admin.patch(f"{API}/trunks/{trunk.id}", {"qualify_seconds": 0, "password": ""})
    assert status == 200 and Trunk.get_by_id(trunk.id).password == "s3cret"
    entries = list(AuditEntry.select().where(AuditEntry.resource == "trunk"))
    assert [e.action for e in entries] == ["created", "updated"]
    assert not any("s3cret" in (e.before_json or "") + (e.after_json or "") for e in entries)
    # No longer registering: its credentials go.
    assert admin.patch(f"{API}/trunks/{trunk.id}", {"auth": "ip"})[0] == 200
    trunk = Trunk.get_by_id(trunk.id)
    assert (trunk.auth, trunk.username, trunk.password) == ("ip", "", "")


def test_a_trunk_over_tls_is_on_5061_unless_told_and_asterisk_reaches_it_over_tls(admin, world, controller):
    status, created = admin.post(f"{API}/trunks", {**REGISTERING, "transport": "tls"})
    assert status == 201, created
    assert (created["transport"], created["port"]) == ("tls", 5061)
    spec = next(t for t in asterisk_config.snapshot(controller.settings).trunks if t.id == created["id"])
    text = render.render_pjsip_endpoints(render.Snapshot(trunks=(spec,)))
    assert "contact = sip:203.0.113.9:5061\\;transport=tls\n" in text
    assert "server_uri = sip:203.0.113.9:5061\\;transport=tls\n" in text and "transport = transport-tls\n" in text
    status, other = admin.post(
        f"{API}/trunks", {**REGISTERING, "host": "203.0.113.10", "transport": "tls", "port": 5071}
    )
    assert (status, other["port"]) == (201, 5071)
    # Known by its address alone (its carrier calls in from any port): the address is the trunk's on every port.
    status, refused = admin.post(f"{API}/trunks", {**REGISTERING, "transport": "tls", "port": 5072})
    assert (status, refused["error"]) == (409, "address-taken")


@pytest.mark.parametrize(
    "changes, fields",
    [
        ({"password": ""}, {"password"}),
        ({"username": ""}, {"username"}),
        ({"username": "a@b"}, {"username"}),
        ({"username": "a;b"}, {"username"}),
        ({"password": "x\n[evil]"}, {"password"}),
        ({"password": "a;b"}, {"password"}),
        ({"transport": "sctp"}, {"transport"}),
        ({"codecs": []}, {"codecs"}),
        ({"codecs": ["g729"]}, {"codecs.0"}),
        ({"codecs": ["ulaw", "ulaw"]}, {"codecs"}),
        ({"qualify_seconds": 2}, {"qualify_seconds"}),
        ({"qualify_seconds": 3601}, {"qualify_seconds"}),
        ({"auth": "digest"}, {"auth"}),
    ],
)
def test_registering_trunks_must_be_valid(admin, world, changes, fields):
    before = list(Trunk.select().tuples())
    assert_refused(admin.post(f"{API}/trunks", {**REGISTERING, **changes}), 422, "invalid-fields", fields)
    assert list(Trunk.select().tuples()) == before


def test_a_trunk_becomes_registering_only_with_its_credentials(admin, world):
    trunk = world["a"]["trunk"]
    assert_refused(
        admin.patch(f"{API}/trunks/{trunk.id}", {"auth": "register"}), 422, "invalid-fields", {"username", "password"}
    )
    changed = admin.patch(f"{API}/trunks/{trunk.id}", {"auth": "register", "username": "u", "password": "p"})
    assert changed[0] == 200 and changed[1]["auth"] == "register"


def _reported(controller, trunks: dict) -> None:
    controller.trunk_states.on_trunks(Event("telephony.trunks", {"trunks": trunks}, 1, T0))


def test_trunk_states_follow_what_asterisk_reports(admin, supervisor, agent, world, controller):
    ip_trunk = world["a"]["trunk"]
    registering = Trunk.get_by_id(admin.post(f"{API}/trunks", REGISTERING)[1]["id"])

    def states():
        status, body = supervisor.get(f"{API}/trunks/states")
        assert status == 200, body
        return {s["trunk"]: (s["state"], s["registration"], s["reachable"]) for s in body}

    assert states() == {ip_trunk.id: ("unknown", None, None), registering.id: ("unknown", None, None)}
    _reported(
        controller,
        {
            ip_trunk.id: {"reachable": True, "roundtrip_ms": 1.2},
            registering.id: {"registration": "Rejected", "reachable": True, "roundtrip_ms": 3.0},
        },
    )
    assert states() == {
        ip_trunk.id: ("reachable", None, True),
        registering.id: ("failing", "Rejected", True),
    }
    _reported(controller, {ip_trunk.id: {"reachable": False}, registering.id: {"registration": "Registered"}})
    assert states() == {ip_trunk.id: ("failing", None, False), registering.id: ("registered", "Registered", None)}
    changed = [d["trunk_state"] for n, d in controller.bus.published if n == "trunk.state_changed"]
    assert [(s["trunk"], s["state"]) for s in changed] == [
        (ip_trunk.id, "reachable"),
        (registering.id, "failing"),
        (ip_trunk.id, "failing"),
        (registering.id, "registered"),
    ]
    # Asterisk out of reach: nothing is known.
    controller.trunk_states.on_lost(Event("telephony.lost", {"link": "ami"}, 2, T0))
    assert {s[0] for s in states().values()} == {"unknown"}
    assert agent.get(f"{API}/trunks/states")[0] == 403
    # Another company's trunks are not in the list.
    assert world["b"]["trunk"].id not in states()


def test_with_several_asterisk_nodes_a_trunk_is_as_the_node_that_says_worst_of_it(supervisor, world, controller):
    """Node b cannot reach the carrier: the trunk fails (the calls node b places would); node b lost, node a's say."""
    trunk = world["a"]["trunk"]

    def reported(node, **said):
        controller.trunk_states.on_trunks(Event("telephony.trunks", {"trunks": {trunk.id: said}, "node": node}, 1, T0))
        return {s["trunk"]: s["state"] for s in supervisor.get(f"{API}/trunks/states")[1]}[trunk.id]

    assert reported("a", reachable=True) == "reachable"
    assert reported("b", reachable=False) == "failing"
    assert reported("a", reachable=True) == "failing"  # node a's news does not hide node b's
    controller.trunk_states.on_lost(Event("telephony.lost", {"link": "ami", "node": "b"}, 2, T0))
    assert {s["trunk"]: s["state"] for s in supervisor.get(f"{API}/trunks/states")[1]}[trunk.id] == "reachable"


def test_texting_is_switched_per_number(admin, world):
    number = world["a"]["number"]
    status, changed = admin.patch(f"{API}/tracking-numbers/{number.id}", {"texting": False})
    assert status == 200 and changed["texting"] is False
    assert_refused(
        admin.post(f"{API}/texts", {"to": "404 555 7000", "body": "Hi", "tracking_number_id": number.id}),
        409,
        "texting-unavailable",
    )


def test_the_opt_out_list(admin, supervisor, agent, world, controller):
    lead_phone = "+14045551000"  # the world's first lead of A
    assert supervisor.get(f"{API}/opt-outs") == (200, [])
    status, added = admin.post(f"{API}/opt-outs", {"number": "404 555 1000"})
    assert status == 201 and (added["number"], added["keyword"]) == (lead_phone, "ADMIN")
    assert added["lead_id"] == world["a"]["leads"][0].id
    assert admin.post(f"{API}/opt-outs", {"number": "+14045550999"})[0] == 201  # no lead has it
    assert [o["number"] for o in supervisor.get(f"{API}/opt-outs")[1]] == ["+14045550999", lead_phone]
    assert_refused(
        admin.post(f"{API}/texts", {"to": lead_phone, "body": "Hi", "tracking_number_id": world["a"]["number"].id}),
        409,
        "opted-out",
    )
    assert admin.post(f"{API}/opt-outs", {"number": "404 555 1000"})[0] == 201  # so already: the same answer
    assert TextConsent.select().where(TextConsent.number == lead_phone).count() == 1
    assert admin.delete(f"{API}/opt-outs/{lead_phone}")[0] == 204
    assert_refused(admin.delete(f"{API}/opt-outs/{lead_phone}"), 404, "not-found")
    assert [o["number"] for o in supervisor.get(f"{API}/opt-outs")[1]] == ["+14045550999"]
    consents = [(d["number"], d["action"]) for n, d in controller.bus.published if n == "consent.changed"]
    assert consents == [(lead_phone, "opt_out"), ("+14045550999", "opt_out"), (lead_phone, "opt_in")]
    audit = [(e.action, e.summary) for e in AuditEntry.select().where(AuditEntry.resource == "opt_out")]
    assert audit == [("created", lead_phone), ("created", "+14045550999"), ("deleted", lead_phone)]
    assert_refused(admin.post(f"{API}/opt-outs", {"number": "not a number"}), 422, "invalid-fields", {"number"})
    assert supervisor.post(f"{API}/opt-outs", {"number": "+14045550998"})[0] == 403
    assert agent.get(f"{API}/opt-outs")[0] == 403


def test_the_smsc_binds_and_the_numbers_each_sends_for(supervisor, world, controller):
    class Link:
        def __init__(self, name, numbers, state):
            self.name, self.state = name, state
            self.settings = type("S", (), {"numbers": numbers})()

        def status(self):
            return {"state": self.state, "bound_since": None, "last_error": ""}

    controller.smscs = [Link("main", "", "bound"), Link("second", "+14045550100", "connecting")]
    status, binds = supervisor.get(f"{API}/smscs")
    assert status == 200, binds
    assert [(b["name"], b["state"], b["numbers"]) for b in binds] == [
        ("main", "bound", []),
        ("second", "connecting", ["+14045550100"]),
    ]
