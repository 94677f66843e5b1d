"""Custom dialplan contexts: the checks a text passes before Asterisk reads it, the owner-only API (a company admin,
supervisor or API key gets 403 on every endpoint, and nothing changes), Asterisk's refusal leaving everything as it
was, versions and restore, the audit entries, the flow step that sends a call into a custom context, and how the
scratch check reads Asterisk's log."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import re

import pytest
from support import PASSWORD

from leadcenter import asterisk_config, generations
from leadcenter.accounts.services import add_member, create_user
from leadcenter.audit.models import AuditEntry
from leadcenter.dialplans import services
from leadcenter.dialplans.models import CustomContext, DialplanVersion
from leadcenter.flows.models import CallFlow
from leadcenter.pbx import names, render
from leadcenter.telephony.service import AsteriskRefused
from leadcenter.web import api
from leadcenter.web.auth import new_api_key

API = "/api/v1"
GENERATED = {"lc-inbound", "lc-step-end", "lc-flow-1"}
GOOD = """; after hours: a message, then the company's voicemail
exten => s,1,Answer()
 same => n,Playback(ss-noservice)
 same => n(mailbox),Goto(lc-step-end,s,1)
include => lc-step-end
exten => 1,1,Hangup(16)  ; a \\; escaped is no comment
"""


# -- the checks ------------------------------------------------------------------------------------------------


def test_a_context_of_allowed_lines_and_applications_passes():
    services.check(GOOD, GENERATED)


@pytest.mark.parametrize(
    "line, said",
    [
        ("#include /etc/passwd", "directives"),
        ("#exec rm -rf /", "directives"),
        ("[lc-inbound]", "header"),
        ("switch => Realtime/x@y", "only exten"),
        ("ignorepat => 9", "only exten"),
        ("exten s,1,NoOp()", "only exten"),
        ("include => lc-secret", "only a generated context"),
        ("include => custom-other", "only a generated context"),
        ("exten => s,1", "needs an extension, a priority and an application"),
        ("same => n", "needs a priority and an application"),
        ("same => n,System(rm -rf /)", "System is not an application"),
        ("same => n,ExecIf(1?System(x))", "ExecIf is not an application"),
        ("same => n,ChanSpy(PJSIP/webrtc1)", "ChanSpy is not"),
        ("same => n,MixMonitor(/tmp/x.wav)", "MixMonitor is not"),
        ("same => n,UserEvent(LeadCenterInbound,Company: 2)", "UserEvent is not"),
        ("same => n,Stasis(leadcenter)", "Stasis is not"),
        ("same => n,Set(__LC_COMPANY=2)", "the controller's variables"),
        ("same => n,Set(LC_FLOW=7)", "the controller's variables"),
        ("same => n,Set(__SPYGROUP=c2)", "the controller's variables"),  # another company could listen in
        ("same => n,Set(spygroup=c2)", "the controller's variables"),
        ("same => n,Set(DB(lc_available/1)=1)", "Asterisk's database"),
        ("same => n,Set(GLOBAL(LC_SOUNDS)=/tmp)", "Asterisk's database"),
        ("same => n,Set(x=${DB_DELETE(lc_available/1)})", "deleting"),
        ("same => n,1nvalid(x)", "not an application call"),
    ],
)
def test_what_a_custom_context_may_not_have_is_refused_with_its_line(line, said):
    text = "exten => s,1,NoOp()\n" + line + "\n"
    with pytest.raises(services.InvalidDialplan) as refused:
        services.check(text, GENERATED)
    assert refused.value.fields["text"].startswith("line 2: ") and said in refused.value.fields["text"]


def test_a_context_without_an_s_extension_is_refused():
    with pytest.raises(services.InvalidDialplan, match="no s extension"):
        services.check("exten => 1,1,NoOp()\n", GENERATED)


def test_an_oversized_text_is_refused():
    with pytest.raises(services.InvalidDialplan, match="at most"):
        services.check("exten => s,1,NoOp()\n" * (services.MAX_LINES + 1), GENERATED)


def test_the_generated_contexts_are_those_the_dialplan_files_define(world, controller):
    files = asterisk_config.generated_dialplan(controller.settings, controller.secrets)
    contexts = render.generated_contexts(files)
    assert {names.INBOUND_CONTEXT, names.QUEUE_STEP, names.flow_context(world["a"]["flow"].id)} <= contexts
    assert not {"general", "globals"} & contexts
    assert next(iter(files)) == "extensions.conf" and "generated/routes.conf" in files


# -- rendering -------------------------------------------------------------------------------------------------


def test_custom_contexts_are_rendered_under_their_headers():
    snapshot = render.Snapshot(
        custom_contexts=(
            render.CustomContextSpec("after-hours", "exten => s,1,Hangup()"),
            render.CustomContextSpec("b", "exten => s,1,NoOp()\n"),
        )
    )
    assert render.render_custom_contexts(snapshot) == (
        render.GENERATED_HEADER + "\n[custom-after-hours]\nexten => s,1,Hangup()\n\n[custom-b]\nexten => s,1,NoOp()\n"
    )


def test_the_check_file_puts_the_text_in_a_scratch_context_and_ends_with_a_line_naming_the_check():
    text = render.render_dialplan_check("exten => s,1,NoOp()", "abc")
    assert text == ("[lc-dialplan-check]\nexten => s,1,NoOp()\n[lc-dialplan-check-end]\nexten => s,end-abc,NoOp()\n")
    assert text.splitlines()[render.DIALPLAN_CHECK_OFFSET] == "exten => s,1,NoOp()"


def test_a_flow_step_into_a_custom_context_goes_to_its_s_extension():
    snapshot = render.Snapshot(
        flows=(render.FlowSpec(3, "Main", False, False, (render.StepSpec("custom", "after-hours"),)),)
    )
    assert " same => n,Goto(custom-after-hours,s,1)" in render.render_routes(snapshot).splitlines()


# -- the API ---------------------------------------------------------------------------------------------------


@pytest.fixture
def owner_user(world):
    user = create_user("owner@example.com", "Olive Owner", PASSWORD)
    user.owner = True
    user.save()
    add_member(user, world["a"]["company"], "admin")
    return user


@pytest.fixture
def owner(make_client, owner_user):
    client = make_client()
    client.sign_in("owner@example.com")
    return client


def _context(name: str) -> CustomContext:
    return CustomContext.get(CustomContext.name == name)


def test_the_owner_creates_a_context_asterisk_reads_it_first_then_it_is_rendered_and_live(
    owner, controller, owner_user
):
    status, data = owner.post(f"{API}/dialplans", {"name": "after-hours", "text": GOOD})
    assert status == 201, data
    assert data["context"] == "custom-after-hours" and data["version"] == 1 and data["company_id"] is None
    assert controller.dialplans.read == [("custom-after-hours", GOOD)]
    assert controller.reconfigured == 1
    files = asterisk_config.all_files(controller.settings, controller.secrets)
    assert "[custom-after-hours]\n" + GOOD in files["generated/extensions_custom.conf"]
    assert "#include generated/extensions_custom.conf" in files["extensions.conf"]
    assert "#tryinclude " + render.DIALPLAN_CHECK_FILE in files["extensions.conf"]
    version = DialplanVersion.get()
    assert (version.number, version.text, version.saved_by_id) == (1, GOOD, owner_user.id)
    entry = AuditEntry.get()
    assert (entry.company_id, entry.user_id, entry.action, entry.resource) == (
        None,
        owner_user.id,
        "created",
        "dialplan",
    )
    assert json.loads(entry.after_json)["text"] == GOOD


def test_what_asterisk_complains_about_is_refused_with_its_words_and_nothing_changes(owner, controller):
    assert owner.post(f"{API}/dialplans", {"name": "x", "text": GOOD})[0] == 201
    before = (
        controller.reconfigured,
        AuditEntry.select().count(),
        DialplanVersion.select().count(),
        _context("x").text,
    )
    said = "WARNING pbx_config.c: No closing parenthesis found? 'Playback(hello' at line 2"
    controller.dialplans.said = [said]
    status, data = owner.patch(f"{API}/dialplans/x", {"text": "exten => s,1,NoOp()\n same => n,Playback(hello\n"})
    assert (status, data["error"]) == (422, "asterisk-refused")
    assert said in data["message"] and data["fields"]["text"] == said
    status, data = owner.post(f"{API}/dialplans", {"name": "y", "text": GOOD})
    assert (status, data["error"]) == (422, "asterisk-refused")
    after = (controller.reconfigured, AuditEntry.select().count(), DialplanVersion.select().count(), _context("x").text)
    assert after == before and CustomContext.get_or_none(CustomContext.name == "y") is None


def test_when_asterisk_cannot_be_asked_nothing_is_saved(owner, controller):
    controller.dialplans.unreachable = True
    status, data = owner.post(f"{API}/dialplans", {"name": "x", "text": GOOD})
    assert (status, data["error"]) == (503, "asterisk-unavailable")
    assert CustomContext.select().count() == 0 and controller.reconfigured == 0


def test_our_checks_refuse_before_asterisk_is_asked(owner, controller):
    status, data = owner.post(f"{API}/dialplans", {"name": "x", "text": "exten => s,1,System(id)\n"})
    assert (status, data["error"]) == (422, "invalid-fields") and "System" in data["fields"]["text"]
    status, data = owner.post(f"{API}/dialplans", {"name": "Bad Name", "text": GOOD})
    assert (status, data["error"]) == (422, "invalid-fields") and "name" in data["fields"]
    status, data = owner.post(f"{API}/dialplans", {"name": "x", "text": GOOD, "company_id": 999})
    assert (status, data["fields"]) == (422, {"company_id": "no company 999"})
    assert controller.dialplans.read == [] and CustomContext.select().count() == 0


def test_every_version_is_kept_and_any_can_be_restored(owner, controller):
    owner.post(f"{API}/dialplans", {"name": "x", "text": GOOD})
    second = "exten => s,1,Hangup()\n"
    status, data = owner.patch(f"{API}/dialplans/x", {"text": second, "version": 1})
    assert (status, data["version"], data["text"]) == (200, 2, second)
    # An edit that started from version 1 is told that version 2 was saved meanwhile.
    status, data = owner.patch(f"{API}/dialplans/x", {"text": GOOD, "version": 1})
    assert (status, data["error"]) == (409, "conflict")
    status, data = owner.post(f"{API}/dialplans/x/versions/1/restore")
    assert (status, data["version"], data["text"]) == (200, 3, GOOD)
    status, versions = owner.get(f"{API}/dialplans/x/versions")
    assert [(v["number"], v["restored_from"], v["saved_by"]) for v in versions] == [
        (3, 1, "owner@example.com"),
        (2, None, "owner@example.com"),
        (1, None, "owner@example.com"),
    ]
    assert [e.action for e in AuditEntry.select().order_by(AuditEntry.id)] == ["created", "updated", "restored"]
    assert owner.post(f"{API}/dialplans/x/versions/9/restore")[0] == 404
    assert controller.dialplans.read[-1] == ("custom-x", GOOD)  # a restore is read by Asterisk as any save


def test_the_owner_reads_the_generated_dialplan(owner, world):
    status, data = owner.get(f"{API}/generated-dialplan")
    assert status == 200
    assert [f["name"] for f in data["files"]][:2] == ["extensions.conf", "dialplans/agents.conf"]
    assert names.flow_context(world["a"]["flow"].id) in data["contexts"]
    routes = next(f["text"] for f in data["files"] if f["name"] == "generated/routes.conf")
    assert f"[{names.flow_context(world['b']['flow'].id)}]" in routes


def _owner_endpoints():
    return [e for e in api.REGISTRY if e.roles == "owner"]


def test_every_dialplan_endpoint_is_the_owners():
    assert {(e.method, e.path) for e in _owner_endpoints()} == {
        ("GET", "/api/v1/dialplans"),
        ("POST", "/api/v1/dialplans"),
        ("GET", "/api/v1/generated-dialplan"),
        ("GET", "/api/v1/dialplans/{name}"),
        ("PATCH", "/api/v1/dialplans/{name}"),
        ("DELETE", "/api/v1/dialplans/{name}"),
        ("GET", "/api/v1/dialplans/{name}/versions"),
        ("POST", "/api/v1/dialplans/{name}/versions/{number}/restore"),
    }


@pytest.mark.parametrize("who", ["admin@a.example", "supervisor@a.example", "agent1@a.example", "api-key"])
def test_company_admins_and_api_keys_get_403_on_every_dialplan_endpoint_and_nothing_changes(
    who, owner, make_client, world, controller
):
    owner.post(f"{API}/dialplans", {"name": "x", "text": GOOD})
    reads, reconfigured = len(controller.dialplans.read), controller.reconfigured
    before = [(c.name, c.text, c.version) for c in CustomContext.select()], DialplanVersion.select().count()
    client = make_client()
    if who == "api-key":
        client.bearer = new_api_key(world["a"]["company"], "CRM", None)[1]
    else:
        client.sign_in(who)
    bodies = {"NewDialplan": {"name": "y", "text": GOOD}, "DialplanChanges": {"text": "exten => s,1,Hangup()"}}
    for endpoint in _owner_endpoints():
        path = endpoint.path.format(name="x", number=1)
        status, data = client.request(endpoint.method, path, bodies.get(getattr(endpoint.body, "__name__", "")))
        assert (status, data["error"]) == (403, "owner-only"), (endpoint.method, path, status, data)
        assert "exten" not in json.dumps(data)
    assert ([(c.name, c.text, c.version) for c in CustomContext.select()], DialplanVersion.select().count()) == before
    assert (len(controller.dialplans.read), controller.reconfigured) == (reads, reconfigured)


def test_a_company_admin_sees_no_raw_dialplan_anywhere_in_the_api(make_client, world, owner):
    owner.post(f"{API}/dialplans", {"name": "x", "text": GOOD})
    admin = make_client()
    admin.sign_in("admin@a.example")
    status, data = admin.get("/api/openapi.json")
    assert status == 200
    for path in ("/api/v1/flows", f"/api/v1/flows/{world['a']['flow'].id}", "/api/v1/session"):
        status, data = admin.get(path)
        assert status == 200 and "exten =>" not in json.dumps(data), path


# -- the flow step ---------------------------------------------------------------------------------------------


def test_a_flow_step_sends_calls_into_a_custom_context_its_company_may_use(owner, make_client, world, controller):
    a, b = world["a"]["company"], world["b"]["company"]
    assert owner.post(f"{API}/dialplans", {"name": "any", "text": GOOD})[0] == 201
    assert owner.post(f"{API}/dialplans", {"name": "b-only", "text": GOOD, "company_id": b.id})[0] == 201
    admin = make_client()
    admin.sign_in("admin@a.example")
    status, flow = admin.post(f"{API}/flows", {"name": "Night", "steps": [{"type": "custom", "context": "any"}]})
    assert status == 201 and flow["steps"] == [{"type": "custom", "context": "any"}]
    routes = asterisk_config.all_files(controller.settings, controller.secrets)["generated/routes.conf"]
    assert f" same => n,Goto({names.custom_context('any')},s,1)" in routes
    for name in ("b-only", "missing"):
        status, data = admin.post(f"{API}/flows", {"name": "N", "steps": [{"type": "custom", "context": name}]})
        assert (status, data["fields"]) == (422, {"steps.0.context": f"no custom context {name} for this company"})
    # The flow editor lists the names the company may use: never B's, never any dialplan.
    status, usable = admin.get(f"{API}/custom-contexts")
    assert (status, usable) == (200, [{"name": "any", "context": "custom-any"}])
    # A context a flow uses is not deleted, nor kept from the flow's company.
    status, data = owner.delete(f"{API}/dialplans/any")
    assert (status, data["error"]) == (409, "in-use") and "Night" in data["message"]
    status, data = owner.patch(f"{API}/dialplans/any", {"text": GOOD, "company_id": b.id})
    assert (status, data["error"]) == (409, "in-use")
    assert owner.delete(f"{API}/dialplans/b-only")[0] == 204
    assert CustomContext.get_or_none(CustomContext.name == "b-only") is None
    assert CallFlow.select().where(CallFlow.company == a).count() == 2


class _Answering:
    """A telephony stand-in whose checked reloads are answered when the test says: ``answers``, one future each."""

    def __init__(self):
        self.answers: list[concurrent.futures.Future] = []

    def submit(self, coroutine):
        coroutine.close()
        self.answers.append(concurrent.futures.Future())
        return self.answers[-1]

    async def reload_checked(self, modules, contexts):
        pass


def test_a_checked_change_reaches_the_other_nodes_only_once_asterisk_took_it(file_database, controller):
    for folder in ("generated", "dialplans"):  # what Instance.prepare makes
        (controller.instance.dir / "etc" / folder).mkdir(parents=True)
    telephony = _Answering()
    config = asterisk_config.AsteriskConfig(
        controller.settings, controller.secrets, controller.instance, telephony, lambda: dt.datetime(2026, 12, 6, 18)
    )
    before = generations.current()
    refused = config.apply_checked([names.flow_context(1)])
    assert not refused.done() and generations.current() == before  # Asterisk has not answered yet
    telephony.answers[0].set_exception(AsteriskRefused("There is no context lc-flow-1"))
    with pytest.raises(AsteriskRefused):
        refused.result(10)
    assert generations.current() == before  # the followers never load a change Asterisk refused
    taken = config.apply_checked([names.flow_context(1)])
    telephony.answers[1].set_result(None)
    taken.result(10)
    assert generations.current() == before + 1


# -- how the check reads Asterisk's log ------------------------------------------------------------------------


class _Asterisk:
    """A telephony stand-in for DialplanCheck: reloading the dialplan logs what Asterisk 22 logged for the check
    file (seen on this machine); the scratch context is there after the first reload."""

    def __init__(self, log, etc, complaints):
        self.log, self.etc, self.complaints, self.reloads = log, etc, complaints, 0

    def submit(self, coroutine):
        future = concurrent.futures.Future()
        future.set_result(asyncio.run(coroutine))
        return future

    async def reload_dialplan(self):
        self.reloads += 1
        text = (self.etc / render.DIALPLAN_CHECK_FILE).read_text()
        nonce = re.search(r"end-(\w+)", text)
        if nonce:
            path = f"/srv/leadcenter/etc/{render.DIALPLAN_CHECK_FILE}"
            lines = [f"[2026-12-06 18:55:07.879] WARNING[28967] pbx_config.c: {c} of {path}" for c in self.complaints]
            lines.append(
                f"[2026-12-06 18:55:07.879] NOTICE[28967] pbx.c: No such label 'end-{nonce[1]}' in extension 's'"
                f" in context '{names.DIALPLAN_CHECK_END}'"
            )
            said = "[2026-12-06 18:55:07.800] NOTICE[1] chan_pjsip.c: unrelated\n" + "\n".join(lines) + "\n"
            self.log.write_text(self.log.read_text() + said)

    async def has_context(self, context):
        return context == names.DIALPLAN_CHECK_CONTEXT and self.reloads == 1


@pytest.fixture
def check(controller):
    def make(complaints):
        instance = controller.instance
        (instance.dir / "log").mkdir(parents=True, exist_ok=True)
        (instance.dir / "etc" / "generated").mkdir(parents=True, exist_ok=True)
        (instance.dir / "log" / "messages.log").write_text("[2026-12-06 18:00:00.000] NOTICE[1] old line\n")
        telephony = _Asterisk(instance.dir / "log" / "messages.log", instance.dir / "etc", complaints)
        config = asterisk_config.AsteriskConfig(
            controller.settings, controller.secrets, instance, telephony, lambda: dt.datetime(2026, 12, 6, 18)
        )
        return asterisk_config.DialplanCheck(config, timeout=2), telephony

    return make


def test_the_check_returns_asterisks_complaints_about_the_text_numbered_as_the_owner_wrote_it(check, controller):
    dialplan_check, telephony = check(["No closing parenthesis found? 'Playback(hello' at line 3"])
    said = dialplan_check.complaints("custom-x", "exten => s,1,NoOp()\n same => n,Playback(hello\n")
    assert said == ["WARNING pbx_config.c: No closing parenthesis found? 'Playback(hello' at line 2"]
    # The scratch file is emptied and read again, so that the scratch context does not stay loaded.
    assert (controller.instance.dir / "etc" / render.DIALPLAN_CHECK_FILE).read_text() == ""
    assert telephony.reloads == 2


def test_the_check_of_a_text_asterisk_takes_says_nothing(check):
    dialplan_check, _ = check([])
    assert dialplan_check.complaints("custom-x", GOOD) == []


def test_the_check_gives_up_when_asterisk_never_finishes_reading(check, controller):
    dialplan_check, telephony = check([])
    telephony.complaints = None  # nothing is ever logged

    async def reload_quietly():
        pass

    telephony.reload_dialplan = reload_quietly
    with pytest.raises(services.DialplanUnchecked, match="did not finish"):
        dialplan_check.complaints("custom-x", GOOD)
    assert (controller.instance.dir / "etc" / render.DIALPLAN_CHECK_FILE).read_text() == ""
