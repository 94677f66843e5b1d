"""Call flows with branches: business hours, IVR menus, greetings, forwards and hang-ups; their checks and field
errors at any depth; versions kept and restored; two admins saving the same flow; Asterisk refusing a save."""

import pytest
from test_api_admin import API, assert_refused, signed_in, state
from test_api_prompts import wav

from leadcenter import asterisk_config
from leadcenter.flows.models import CallFlow, FlowVersion
from leadcenter.pbx import render


@pytest.fixture
def admin(make_client, world):
    return signed_in(make_client, "admin@a.example")


def hours_then_menu(a) -> list[dict]:
    """The issue's flow: business hours -> IVR (1 sales, 2 voicemail); closed: the company's voicemail."""
    return [
        {
            "type": "hours",
            "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}],
            "holidays": ["2026-12-25"],
            "open": {
                "steps": [
                    {
                        "type": "ivr",
                        "digits": {
                            "1": {"steps": [{"type": "queue", "team": a["team"].id}]},
                            "2": {"steps": [{"type": "voicemail"}]},
                        },
                    }
                ]
            },
            "closed": {"steps": [{"type": "voicemail", "agent": a["agents"][0].id}]},
        },
        {"type": "hangup"},
    ]


def test_a_flow_of_business_hours_and_an_ivr_menu_is_saved_applied_and_kept_as_version_1(admin, world, controller):
    a = world["a"]
    status, body = admin.post(f"{API}/flows", {"name": "Front desk", "steps": hours_then_menu(a)})
    assert status == 201, body
    menu = body["steps"][0]["open"]["steps"][0]
    nowhere = {"steps": [], "flow": None}  # the call goes on after the menu
    assert (menu["timeout"], menu["attempts"], menu["no_input"], menu["invalid"]) == (5, 3, nowhere, nowhere)
    assert body["version"] == 1
    assert controller.checked == [[f"lc-flow-{body['id']}"]]
    kept = FlowVersion.get(FlowVersion.flow == body["id"])
    assert (kept.version, kept.steps, kept.saved_by.email) == (
        1,
        CallFlow.get_by_id(body["id"]).steps,
        "admin@a.example",
    )


def test_the_business_hours_are_read_in_the_company_s_time_zone(admin, world, controller):
    a = world["a"]
    assert admin.patch(f"{API}/company", {"time_zone": "America/New_York"})[0] == 200
    flow_id = admin.post(f"{API}/flows", {"name": "Front desk", "steps": hours_then_menu(a)})[1]["id"]
    spec = next(f for f in asterisk_config.snapshot(controller.settings).flows if f.id == flow_id)
    hours = spec.steps[0]
    assert isinstance(hours, render.HoursSpec)
    assert (hours.time_zone, hours.weekly, hours.holidays) == (
        "America/New_York",
        (("mon&tue&wed&thu&fri", "09:00", "17:00"),),
        ("20261225",),
    )
    menu = hours.open.steps[0]
    assert [digit for digit, _ in menu.digits] == ["1", "2"]
    assert menu.digits[0][1].steps == (render.StepSpec("queue", a["team"].queue_name, 300),)
    assert hours.closed.steps == (render.StepSpec("voicemail", f"agent{a['agents'][0].id}"),)
    text = render.render_routes(asterisk_config.snapshot(controller.settings))
    assert "GotoIfTime(09:00-16:59,mon&tue&wed&thu&fri,*,*,America/New_York?open1)" in text


def _nested_cases():
    """(steps, the fields the 422 names) with company A's (a) and B's (b) objects."""

    def menu(branch: dict) -> list[dict]:
        return [{"type": "ivr", "digits": {"1": branch}}]

    return [
        (lambda a, b: menu({"steps": [{"type": "queue", "team": b["team"].id}]}), {"steps.0.digits.1.steps.0.team"}),
        (lambda a, b: menu({"flow": b["flow"].id}), {"steps.0.digits.1.flow"}),
        (lambda a, b: menu({"flow": a["flow"].id, "steps": [{"type": "hangup"}]}), {"steps.0.digits.1"}),
        (lambda a, b: [{"type": "ivr", "digits": {}}], {"steps.0.digits"}),
        (lambda a, b: [{"type": "ivr", "digits": {"10": {}}}], {"steps.0.digits.10.[key]"}),
        (lambda a, b: [{"type": "ivr", "digits": {"1": {}}, "timeout": 0}], {"steps.0.timeout"}),
        (
            lambda a, b: [{"type": "hours", "weekly": [{"days": ["mon"], "open": "17:00", "close": "09:00"}]}],
            {"steps.0.weekly.0"},
        ),
        (
            lambda a, b: [{"type": "hours", "weekly": [{"days": ["someday"], "open": "25:00", "close": "09:00"}]}],
            {"steps.0.weekly.0.days.0", "steps.0.weekly.0.open"},
        ),
        (lambda a, b: [{"type": "hours", "weekly": [], "holidays": ["2026-02-30"]}], {"steps.0.holidays.0"}),
        (
            lambda a, b: [
                {
                    "type": "hours",
                    "weekly": [],
                    "closed": {"steps": [{"type": "voicemail", "agent": b["agents"][0].id}]},
                }
            ],
            {"steps.0.closed.steps.0.agent"},
        ),
        (lambda a, b: [{"type": "forward", "number": "+14045550199", "trunk": b["trunk"].id}], {"steps.0.trunk"}),
        (lambda a, b: [{"type": "forward", "number": "4045550199", "trunk": a["trunk"].id}], {"steps.0.number"}),
        (lambda a, b: [{"type": "greeting", "sound": "never-uploaded"}], {"steps.0.sound"}),
        (lambda a, b: [{"type": "greeting", "sound": "../../etc/passwd"}], {"steps.0.sound"}),
        (lambda a, b: [{"type": "hangup", "after": 3}], {"steps.0.after"}),
        (lambda a, b: menu({"steps": [{"type": "hangup"}] * 21}), {"steps.0.digits.1.steps"}),
        (
            lambda a, b: [{"type": "ivr", "digits": {d: {"steps": [{"type": "hangup"}] * 20} for d in "123456"}}],
            {"steps"},
        ),
    ]


@pytest.mark.parametrize("make_steps, fields", _nested_cases())
def test_field_errors_name_the_field_at_any_depth_and_nothing_is_applied(admin, world, controller, make_steps, fields):
    steps = make_steps(world["a"], world["b"])
    before = state(world["a"]["company"])
    assert_refused(admin.post(f"{API}/flows", {"name": "Bad", "steps": steps}), 422, "invalid-fields", fields)
    assert_refused(admin.patch(f"{API}/flows/{world['a']['flow'].id}", {"steps": steps}), 422, "invalid-fields", fields)
    assert state(world["a"]["company"]) == before and controller.reconfigured == 0 and controller.checked == []


def test_a_greeting_plays_a_sound_the_company_uploaded(admin, world, controller):
    status, body = admin.request("POST", f"{API}/flow-sounds?name=welcome", data=wav(1.0), content_type="audio/wav")
    assert status == 200, body
    assert admin.get(f"{API}/flow-sounds")[1] == [
        {"name": "welcome", "url": f"{API}/flow-sounds/welcome", "seconds": 1.0}
    ]
    status, flow = admin.post(f"{API}/flows", {"name": "Hi", "steps": [{"type": "greeting", "sound": "welcome"}]})
    assert status == 201, flow
    company = world["a"]["company"].id
    assert (controller.instance.dir / f"sounds/company{company}-flow-welcome.wav").is_file()
    text = render.render_routes(asterisk_config.snapshot(controller.settings))
    assert f"Playback(${{LC_SOUNDS}}/company{company}-flow-welcome)" in text
    assert_refused(admin.delete(f"{API}/flow-sounds/welcome"), 409, "in-use")
    assert admin.delete(f"{API}/flows/{flow['id']}")[0] == 204
    assert admin.delete(f"{API}/flow-sounds/welcome")[0] == 204
    assert admin.get(f"{API}/flow-sounds")[1] == []
    audit = admin.get(f"{API}/audit-log?resource=flow_sound")[1]
    entries = audit["entries"] if isinstance(audit, dict) else audit
    assert [(e["action"], e["summary"]) for e in entries] == [("deleted", "welcome"), ("recorded", "welcome")]


def test_a_change_made_to_an_older_version_is_refused_and_the_newer_one_stays(admin, make_client, world, controller):
    a = world["a"]
    flow = admin.post(f"{API}/flows", {"name": "Front desk", "steps": [{"type": "voicemail"}]})[1]
    other = make_client()
    other.sign_in("admin@a.example")
    status, first = other.patch(f"{API}/flows/{flow['id']}", {"version": 1, "steps": hours_then_menu(a)})
    assert status == 200 and first["version"] == 2
    body = assert_refused(admin.patch(f"{API}/flows/{flow['id']}", {"version": 1, "name": "Mine"}), 409, "changed")
    assert "version 2" in body["message"]
    now = admin.get(f"{API}/flows/{flow['id']}")[1]
    assert (now["name"], now["steps"], now["version"]) == ("Front desk", first["steps"], 2)
    assert admin.patch(f"{API}/flows/{flow['id']}", {"version": 2, "name": "Mine"})[1]["version"] == 3


def test_every_save_is_kept_and_an_earlier_version_can_be_restored(admin, world, controller):
    a = world["a"]
    flow = admin.post(f"{API}/flows", {"name": "Front desk", "steps": hours_then_menu(a)})[1]
    admin.patch(f"{API}/flows/{flow['id']}", {"version": 1, "name": "Lunch", "steps": [{"type": "voicemail"}]})
    versions = admin.get(f"{API}/flows/{flow['id']}/versions")[1]
    assert [(v["version"], v["name"], v["saved_by"]) for v in versions] == [
        (2, "Lunch", "admin@a.example"),
        (1, "Front desk", "admin@a.example"),
    ]
    assert versions[1]["steps"] == flow["steps"]
    assert_refused(admin.post(f"{API}/flows/{flow['id']}/versions/1/restore", {"version": 1}), 409, "changed")
    status, restored = admin.post(f"{API}/flows/{flow['id']}/versions/1/restore", {"version": 2})
    assert status == 200, restored
    assert (restored["name"], restored["steps"], restored["version"]) == ("Front desk", flow["steps"], 3)
    assert admin.get(f"{API}/flows/{flow['id']}/versions")[1][0]["version"] == 3
    audit = admin.get(f"{API}/audit-log?resource=flow")[1]
    entries = audit["entries"] if isinstance(audit, dict) else audit
    assert [e["action"] for e in entries if e["resource_id"] == flow["id"]] == ["updated", "updated", "created"]
    assert_refused(admin.post(f"{API}/flows/{flow['id']}/versions/9/restore", {}), 404, "not-found")


def test_a_version_naming_what_is_gone_is_not_restored(admin, world, controller):
    team = admin.post(f"{API}/teams", {"name": "Temp"})[1]
    flow = admin.post(f"{API}/flows", {"name": "F", "steps": [{"type": "queue", "team": team["id"]}]})[1]
    admin.patch(f"{API}/flows/{flow['id']}", {"steps": [{"type": "voicemail"}]})
    assert admin.delete(f"{API}/teams/{team['id']}")[0] == 204
    assert_refused(
        admin.post(f"{API}/flows/{flow['id']}/versions/1/restore", {}), 422, "invalid-fields", {"steps.0.team"}
    )
    assert CallFlow.get_by_id(flow["id"]).steps == [{"type": "voicemail"}]


def test_when_asterisk_refuses_a_save_the_flow_stays_as_it_was(admin, world, controller):
    a = world["a"]
    flow = admin.post(f"{API}/flows", {"name": "Front desk", "steps": [{"type": "voicemail"}]})[1]
    controller.refusal = "Did not find context lc-flow-9"
    body = assert_refused(
        admin.patch(f"{API}/flows/{flow['id']}", {"version": 1, "steps": hours_then_menu(a)}), 422, "asterisk-refused"
    )
    assert "Did not find context lc-flow-9" in body["message"]
    row = CallFlow.get_by_id(flow["id"])
    assert (row.steps, row.version) == ([{"type": "voicemail"}], 1)
    assert [v.version for v in FlowVersion.select().where(FlowVersion.flow == row.id)] == [1]
    count = CallFlow.select().count()
    assert_refused(admin.post(f"{API}/flows", {"name": "New", "steps": [{"type": "hangup"}]}), 422, "asterisk-refused")
    assert CallFlow.select().count() == count
    controller.refusal = None
    assert admin.patch(f"{API}/flows/{flow['id']}", {"version": 1, "name": "Again"})[1]["version"] == 2


def test_a_flow_another_flow_sends_calls_to_cannot_be_deleted(admin, world):
    target = admin.post(f"{API}/flows", {"name": "Sales line", "steps": [{"type": "voicemail"}]})[1]
    admin.post(
        f"{API}/flows",
        {"name": "Menu", "steps": [{"type": "ivr", "digits": {"1": {"flow": target["id"]}}}]},
    )
    body = assert_refused(admin.delete(f"{API}/flows/{target['id']}"), 409, "in-use")
    assert "flow 'Menu'" in body["message"]


def test_a_supervisor_reads_flows_and_versions_but_cannot_save_or_restore(make_client, world):
    supervisor = make_client()
    supervisor.sign_in("supervisor@a.example")
    flow = world["a"]["flow"]
    assert supervisor.get(f"{API}/flows/{flow.id}/versions")[0] == 200
    assert_refused(supervisor.patch(f"{API}/flows/{flow.id}", {"name": "X"}), 403, "forbidden")
    assert_refused(supervisor.post(f"{API}/flows/{flow.id}/versions/1/restore", {}), 403, "forbidden")


def test_a_trunk_a_forward_step_dials_through_cannot_be_deleted(admin, world):
    trunk = admin.post(f"{API}/trunks", {"name": "Outbound", "host": "127.0.0.9", "port": 5099})[1]
    forward = {"type": "forward", "number": "+14045550199", "trunk": trunk["id"]}
    flow = admin.post(
        f"{API}/flows", {"name": "Overflow", "steps": [{"type": "hours", "weekly": [], "closed": {"steps": [forward]}}]}
    )[1]
    body = assert_refused(admin.delete(f"{API}/trunks/{trunk['id']}"), 409, "in-use")
    assert "flow 'Overflow'" in body["message"]
    assert admin.delete(f"{API}/flows/{flow['id']}")[0] == 204
    assert admin.delete(f"{API}/trunks/{trunk['id']}")[0] == 204
