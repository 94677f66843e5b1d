"""The event catalogue (catalogue.py) against the source and what is really published.

The source is read with ``ast``: every event name published is declared, public events go out only through their
domain's notifier (the row events through web/config_rows.py) and internal ones only by their literal name (the
telephony layer imports no domain), and every event declared is published somewhere. Then what the notifiers
publish for real rows, as each viewer's stream receives it, must fit the data model declared for it, which is what
/api/events.json documents for integrators.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import importlib
import re
from collections import defaultdict
from pathlib import Path

import pytest
from smpplib.consts import SMPP_ESME_RINVDSTADR
from support import PASSWORD, T0, ApiClient, RecordingBus

from leadcenter import catalogue
from leadcenter.catalogue import Viewer
from leadcenter.chats.schemas import Contact, Page
from leadcenter.events import Event
from leadcenter.interactions import lifecycle
from leadcenter.interactions import notifier as interactions_notifier
from leadcenter.pbx import names
from leadcenter.sms import encoding
from leadcenter.sms.smpp import Delivery
from leadcenter.texts.models import OutboxPart
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.voicemail.services import MailboxCounter

SOURCE = Path(catalogue.__file__).parent
CATALOGUE = "leadcenter.catalogue"
PUBLIC = {event.name for event in catalogue.EVENTS if event.public}
INTERNAL = {event.name for event in catalogue.EVENTS if not event.public}
VERBS = {"create": "created", "update": "updated", "delete": "deleted"}  # ConfigRows' methods -> their events


# -- reading the source ----------------------------------------------------------------------------------------


@functools.cache
def modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name."""
    out = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(), str(path))
    return out


def callee(call: ast.Call) -> str:
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def calls(tree: ast.AST, name_ends: str):
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call) and callee(node).endswith(name_ends))


def literal_names(method: str) -> dict[str, list[str]]:
    """The event names passed as a literal first argument to a call of ``*<method>`` (publish, _publish, the
    tracker's publish; subscribe), with where."""
    found = defaultdict(list)
    for module, tree in modules().items():
        for call in calls(tree, method):
            if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
                found[call.args[0].value].append(f"{module}:{call.lineno}")
    return found


def imported(tree: ast.Module, target: str) -> tuple[set[str], dict[str, str]]:
    """How a module reaches module ``target``: the local names bound to the module itself, and the local names
    bound to one of its attributes (local name -> attribute)."""
    package, _, leaf = target.rpartition(".")
    aliases, members = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {alias.asname for alias in node.names if alias.name == target and alias.asname}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            for alias in node.names:
                if node.module == package and alias.name == leaf:
                    aliases.add(alias.asname or alias.name)
                elif node.module == target:
                    members[alias.asname or alias.name] = alias.name
    return aliases, members


def references(tree: ast.AST, module: ast.Module, target: str) -> set[str]:
    """The attributes of module ``target`` that ``tree`` (a part of ``module``) uses."""
    aliases, members = imported(module, target)
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            used.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in members:
            used.add(members[node.id])
    return used


def events_of(value) -> set[str]:
    """The event names a catalogue attribute (or a notifier's table of them) stands for."""
    if isinstance(value, catalogue.EventType):
        return {value.name}
    if isinstance(value, dict) and value and all(isinstance(v, catalogue.EventType) for v in value.values()):
        return {v.name for v in value.values()}
    return set()


def used_elsewhere(module: str, attribute: str) -> list[str]:
    return [
        other for other, tree in modules().items() if other != module and attribute in references(tree, tree, module)
    ]


def notifier_modules() -> list[str]:
    return [module for module in modules() if module.endswith(".notifier")]


def notified() -> dict[str, set[str]]:
    """Public event name -> the notifier functions (module.function) that publish it and that another module
    uses."""
    found = defaultdict(set)
    for module in notifier_modules():
        tree, loaded = modules()[module], importlib.import_module(module)
        for function in (node for node in tree.body if isinstance(node, ast.FunctionDef)):
            names = set()
            for attribute in references(function, tree, CATALOGUE):
                names |= events_of(getattr(catalogue, attribute))
            for node in ast.walk(function):  # a table of the module's own (texts: MESSAGE_EVENTS)
                if isinstance(node, ast.Name) and node.id in vars(loaded):
                    names |= events_of(vars(loaded)[node.id])
            if names and used_elsewhere(module, function.name):
                for name in names:
                    found[name].add(f"{module}.{function.name}")
    return found


def config_rows_published() -> dict[str, set[str]]:
    """Row event name -> the modules whose ConfigRows of that noun call the method that publishes it."""
    found = defaultdict(set)
    for module, tree in modules().items():
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and callee(node.value) == "ConfigRows"
                and len(node.value.args) == 3
            ):
                continue
            noun, instance = node.value.args[2].value, node.targets[0].id
            for call in ast.walk(tree):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id == instance
                    and call.func.attr in VERBS
                ):
                    found[f"{noun}.{VERBS[call.func.attr]}"].add(module)
    return found


# -- what the source publishes is declared, and what is declared is published ----------------------------------


def test_every_event_name_published_by_name_is_a_declared_internal_event():
    """The telephony layer publishes by literal name; a public event published so would skip its notifier (and
    carry something else than the resource)."""
    published = literal_names("publish")
    assert published, "the scan found no literal publish at all"
    undeclared = {name: where for name, where in published.items() if name not in catalogue.BY_NAME}
    assert not undeclared, f"published but not in the catalogue: {undeclared}"
    public = {name: where for name, where in published.items() if name in PUBLIC}
    assert not public, f"public events must go through their notifier: {public}"


def bus_calls():
    """Calls of the event bus's publish: ``bus.publish``, ``self.bus.publish``, ``bus().publish``, and in the
    telephony layer the tracker's ``self._publish`` (the bus's publish, handed to it)."""
    for module, tree in modules().items():
        for call in calls(tree, "publish"):
            function = call.func
            if not isinstance(function, ast.Attribute):
                continue
            on_bus = function.attr == "publish" and re.search(r"(^|\.)bus(\(\))?$", ast.unparse(function.value))
            if on_bus or (function.attr == "_publish" and module.startswith("leadcenter.telephony.")):
                yield module, call


def test_the_bus_is_given_event_names_as_literals_outside_the_catalogue():
    """A name made at run time or held in a variable (an f-string, a concatenation) cannot be checked against
    the catalogue: only EventType.publish hands the bus a name that is not written out."""
    unchecked = [
        f"{module}:{call.lineno}: {ast.unparse(call)[:80]}"
        for module, call in bus_calls()
        if module != CATALOGUE and not (call.args and isinstance(call.args[0], ast.Constant))
    ]
    assert not unchecked
    assert sum(1 for _ in bus_calls()) > len(INTERNAL)  # the scan finds the telephony layer's calls


def test_every_event_subscribed_to_is_declared():
    subscribed = literal_names("subscribe")
    unknown = {
        pattern: where for pattern, where in subscribed.items() if not fnmatch.filter(catalogue.BY_NAME, pattern)
    }
    assert not unknown, f"subscribed to events that are not in the catalogue: {unknown}"


def test_every_event_type_of_the_catalogue_is_listed_once():
    declared = [value for value in vars(catalogue).values() if isinstance(value, catalogue.EventType)]
    declared += [*catalogue.ROW_EVENTS.values(), *catalogue.INTERNAL]
    assert {event.name for event in declared} <= set(catalogue.BY_NAME)
    assert len(catalogue.BY_NAME) == len(catalogue.EVENTS)  # no name declared twice
    assert all(catalogue.BY_NAME[event.name] is event for event in declared)
    for event in catalogue.EVENTS:
        assert (event.data is None) == (not event.public), event.name  # public ones say what they carry
        assert event.description, event.name


def test_catalogue_constants_the_source_uses_exist_and_public_ones_are_used_only_by_notifiers():
    for module, tree in modules().items():
        if module == CATALOGUE:
            continue
        for attribute in references(tree, tree, CATALOGUE):
            assert hasattr(catalogue, attribute), f"{module} uses catalogue.{attribute}, which is not there"
            if events_of(getattr(catalogue, attribute)) and attribute != "BY_NAME":
                assert module in [*notifier_modules(), "leadcenter.web.config_rows"], (
                    f"{module} publishes catalogue.{attribute} itself: public events go through a notifier"
                )


def test_every_public_event_is_published_by_a_notifier_something_calls():
    by_notifier, by_config_rows = notified(), config_rows_published()
    assert "leadcenter.web.config_rows" in used_elsewhere(CATALOGUE, "ROW_EVENTS")
    unpublished = PUBLIC - by_notifier.keys() - by_config_rows.keys()
    assert not unpublished, f"declared but never published: {sorted(unpublished)}"
    assert by_config_rows.keys() == {event.name for event in catalogue.ROW_EVENTS.values()}


def test_every_internal_event_is_published_by_name():
    assert INTERNAL - literal_names("publish").keys() == set()


# -- what integrators read -------------------------------------------------------------------------------------


def test_the_public_events_are_documented_with_the_schema_of_their_data(client):
    status, document = client.get("/api/events.json")
    assert status == 200
    documented = {entry["name"]: entry for entry in document["events"]}
    assert list(documented) == [event.name for event in catalogue.EVENTS if event.public]
    assert not documented.keys() & INTERNAL
    for name, entry in documented.items():
        kind = catalogue.BY_NAME[name]
        assert (entry["audience"], entry["description"]) == (kind.audience.value, kind.description)
        assert entry["data"] == kind.data.model_json_schema(), name
        assert entry["data"]["type"] == "object" and "company_id" in entry["data"]["required"], name
    inbox = documented["interaction.updated"]["data"]["properties"]
    assert "section" in inbox and "incoming_for" not in inbox  # what the stream sends, not what the bus carries


# -- what is published fits what is declared -------------------------------------------------------------------


def viewers(company, agents) -> list[Viewer]:
    """Every kind of stream of a company: each agent, an agent the event does not name, a supervisor, an admin
    (an API key is one)."""
    return [
        *(Viewer(company.id, "agent", agent.id) for agent in agents),
        Viewer(company.id, "agent", 10**9),
        Viewer(company.id, "supervisor", None),
        Viewer(company.id, "admin", None),
    ]


def received(name: str, data: dict, viewer: Viewer):
    """The event as ``viewer``'s stream gets it, validated against its declared data (None: not theirs)."""
    kind = catalogue.BY_NAME[name]
    variant = kind.audience.variant(data, viewer)
    return None if variant is None else kind.data.model_validate(kind.audience.data(data, variant))


def misfits(published, streams: list[Viewer]) -> tuple[set[str], dict[str, str]]:
    """Validate each public event as each stream receives it against its declared data: the names that reached a
    stream, and what did not fit (name -> the first error)."""
    reached, errors = set(), {}
    for name, data in published:
        for viewer in streams:
            try:
                if received(name, data, viewer) is not None:
                    reached.add(name)
            except ValueError as misfit:
                reached.add(name)
                errors.setdefault(name, f"as {viewer} gets it: {misfit}")
    return reached, errors


def publish_interactions(app, world, controller):
    """A call waits, one agent declines it, another answers it, it ends."""
    interaction, agent = world["a"]["interactions"][0], world["a"]["agents"][0]
    interactions_notifier.changed(controller.bus, interaction, created=True)
    interactions_notifier.declined(controller.bus, interaction, world["a"]["agents"][1])
    lifecycle.move(interaction, "answer", T0, agent=agent)
    interactions_notifier.changed(controller.bus, interaction)
    lifecycle.move(interaction, "end", T0)
    interactions_notifier.changed(controller.bus, interaction)


def publish_texts(app, world, controller):
    """A lead's text in, a reply sent and delivered, another refused by the SMSC, then the lead opts out."""
    outbox, texts = controller.outbox, controller.texts
    number, lead = world["a"]["number"], "+14045557000"

    def text_in(body):  # as the SMPP link hands the texts service a lead's text
        texts.receive(
            Delivery(
                source=lead,
                destination=number.number,
                data_coding=0,
                udhi=False,
                short_message=encoding.encode(body).parts[0],
            )
        )

    text_in("Hello?")  # interaction.created, message.received for the agents it waits for
    message = texts.send(world["a"]["company"], world["a"]["agents"][0], number, lead, "Hi, how can I help?")
    part = OutboxPart.get(OutboxPart.message == message)
    outbox._take(10)
    outbox.accepted([(part.id, "smsc-1")], "smsc")  # message.sent
    outbox.receipts(
        [Delivery(lead, number.number, 0, False, b"", receipt_for="smsc-1", receipt_state="DELIVRD")], "smsc"
    )  # message.delivered
    failing = texts.send(world["a"]["company"], None, number, lead, "Still there?")
    outbox._take(10)
    outbox.refused(OutboxPart.get(OutboxPart.message == failing).id, SMPP_ESME_RINVDSTADR)  # message.failed
    text_in("STOP")  # consent.changed


def publish_chats(app, world, controller):
    """A visitor starts a chat, types; an agent responds, writes, ends it."""
    chats, agent = controller.chats, world["a"]["agents"][0]
    widget = chats.widget_of(world["a"]["company"])
    page = Page(url="https://shop.example/", title="Shop")
    visitor = chats.visit(widget, None, page).visitor
    chat, _ = chats.start(widget, visitor, Contact(name="Ada", body="Hello?"), page)  # created, message.received
    chats.visitor_typing(visitor)  # chat.visitor_typing, to the agents it waits for
    chats.respond(chat, agent)
    chats.visitor_typing(visitor)  # to the agent who has it
    chats.reply(chat, agent, "Hi, how can I help?")  # message.sent
    chats.close(chat)


def publish_agents(app, world, controller):
    """An agent goes Offline; their softphone registers."""
    agent = world["a"]["agents"][0]
    controller.availability.choose(agent, "offline", T0)  # agent.status_changed
    registered = {"endpoint": agent.endpoint_name("webrtc"), "agent_id": agent.id, "state": "NOT_INUSE"}
    controller.presence.on_device_state(Event("telephony.device_state", registered, 1, T0))  # presence_changed


def publish_trunks(app, world, controller):
    """Asterisk reports the company's trunk answering qualify."""
    reported = {"trunks": {world["a"]["trunk"].id: {"reachable": True, "roundtrip_ms": 1.5}}}
    controller.trunk_states.on_trunks(Event("telephony.trunks", reported, 1, T0))  # trunk.state_changed


def publish_queues_and_voicemail(app, world, controller):
    """What the queue board and the mailbox counter make of what Asterisk reports."""
    team, agents = world["a"]["team"], world["a"]["agents"]
    members = [
        {
            "queue": names.queue(team.id),
            "interface": f"PJSIP/webrtc{agent.id}",
            "agent_id": agent.id,
            "paused": False,
            "reason": "",
            "device_state": "NOT_INUSE",
            "in_call": False,
        }
        for agent in agents
    ]
    controller.queue_board.on_status(
        Event(
            "queue.status",
            {"queue": names.queue(team.id), "waiting": 2, "longest_wait_seconds": 40, "members": members},
            1,
            T0,
        )
    )
    counter = MailboxCounter(controller.bus)
    for mailbox in (names.agent_mailbox(agents[0].id), names.company_mailbox(world["a"]["company"].id)):
        counter.on_waiting(Event("voicemail.waiting", {"mailbox": mailbox, "new": 2, "old": 1}, 2, T0))


def signed_in(app, email: str, password: str = PASSWORD) -> ApiClient:
    client = ApiClient(app.test_client())
    client.sign_in(email, password)
    return client


def publish_over_the_api(app, world, controller):
    """The accounts, agents, leads and configuration rows: what the API's endpoints publish."""
    admin, agent = signed_in(app, "admin@a.example"), signed_in(app, "agent1@a.example")
    a = world["a"]
    api = "/api/v1"
    answers = [
        admin.patch(f"{api}/company", {"name": "Acme"}),
        admin.post(
            f"{api}/users",
            {
                "email": "new@a.example",
                "name": "New",
                "password": "long enough",
                "role": "agent",
                "agent": {"devices": ["webrtc"]},
            },
        ),
        admin.patch(f"{api}/users/{a['users']['supervisor'].id}", {"name": "Sue"}),
        admin.delete(f"{api}/users/{world['both'].id}"),
        admin.patch(f"{api}/agents/{a['agents'][1].id}", {"display_name": "Bea"}),
        agent.patch(f"{api}/me/agent", {"status": "offline"}),
        agent.post(f"{api}/leads", {"name": "Dana", "numbers": ["404 555 0199"]}),
        agent.patch(f"{api}/leads/{a['leads'][0].id}", {"email": "lead0@a.example"}),
        agent.post(f"{api}/leads/{a['leads'][0].id}/merge", {"duplicate_id": a["leads"][1].id}),
    ]
    signed_in(app, "new@a.example", "long enough")  # accepts: user.created
    invitation = admin.post(
        f"{api}/users", {"email": "agent1@b.example", "name": "X", "password": "long enough", "role": "agent"}
    )[1]
    answers.append(admin.delete(f"{api}/invitations/{invitation['id']}"))
    key = admin.post(f"{api}/api-keys", {"name": "CRM"})[1]
    answers.append(admin.delete(f"{api}/api-keys/{key['id']}"))
    rows = {
        "trunks": ({"name": "Carrier", "host": "203.0.113.5"}, {"port": 5080}),
        "tracking-numbers": ({"number": "404 555 0177", "name": "Radio", "trunk": a["trunk"].id}, {"name": "R"}),
        "teams": ({"name": "Night", "members": [a["agents"][0].id]}, {"ring_seconds": 45}),
        "flows": ({"name": "After hours", "steps": [{"type": "voicemail"}]}, {"record": True}),
    }
    for path, (new, changes) in rows.items():
        status, row = admin.post(f"{api}/{path}", new)
        assert status == 201, row
        answers += [admin.patch(f"{api}/{path}/{row['id']}", changes), admin.delete(f"{api}/{path}/{row['id']}")]
    assert all(status < 300 for status, _ in answers), answers


def publish_visits(app, world, controller):
    """An admin sets up a pool of one number; two visitors take more than it has; the first one texts it."""
    admin, a = signed_in(app, "admin@a.example"), world["a"]
    api = "/api/v1"
    assert admin.patch(f"{api}/visit-settings", {"site_number": "404 555 0100"})[0] == 200  # settings.updated
    status, pool = admin.post(f"{api}/number-pools", {"name": "Site"})  # number_pool.created
    assert status == 201, pool
    assert admin.patch(f"{api}/number-pools/{pool['id']}", {"hold_minutes": 20})[0] == 200
    number = TrackingNumber.create(company=a["company"], number="+14045550161", name="Pool 1", trunk=a["trunk"])
    number.pool_id = pool["id"]
    number.save()
    widget = controller.chats.widget_of(a["company"])
    first, _ = [  # the second: number_pool.exhausted
        controller.visits.collect(widget, None, "view", "https://shop.example/?gclid=x", "Shop", "", False)
        for _ in range(2)
    ]
    controller.texts.receive_text(number, "+14045550142", "Hi")  # visit.joined
    controller.visits.collect(widget, first.visitor, "view", "https://shop.example/more", "", "", False)  # .updated
    assert admin.delete(f"{api}/number-pools/{pool['id']}")[0] == 204


def publish_monitors(app, world, controller):
    """Company A's supervisor listens to an agent's live call on their desk phone, whispers, then stops."""
    from leadcenter.agents.services import create_agent

    a, api = world["a"], "/api/v1"
    create_agent(a["company"], a["users"]["supervisor"], devices=("desk",), ring_device="desk", now=T0)
    call = a["interactions"][0]
    call.status, call.answered_at, call.agent, call.channel_id = "active", T0, a["agents"][0], "1700000000.5"
    call.save()
    supervisor = signed_in(app, "supervisor@a.example")
    status, monitor = supervisor.post(f"{api}/interactions/{call.id}/monitor", {"mode": "listen"})
    assert status == 201, monitor
    assert supervisor.patch(f"{api}/monitors/{monitor['id']}", {"mode": "whisper"})[0] == 200
    assert supervisor.delete(f"{api}/monitors/{monitor['id']}")[0] == 204


SCENARIOS = {
    "interactions": (publish_interactions, {"interaction.created", "interaction.updated", "interaction.declined"}),
    "texts": (
        publish_texts,
        {
            "interaction.created",
            "interaction.updated",
            "message.received",
            "message.queued",
            "message.sent",
            "message.delivered",
            "message.failed",
            "consent.changed",
        },
    ),
    "chats": (
        publish_chats,
        {"interaction.created", "interaction.updated", "message.received", "message.sent", "chat.visitor_typing"},
    ),
    "visits": (
        publish_visits,
        {
            "visit_settings.updated",
            "number_pool.created",
            "number_pool.updated",
            "number_pool.deleted",
            "number_pool.exhausted",
            "visit.joined",
            "visit.updated",
        },
    ),
    "agents": (publish_agents, {"agent.status_changed", "agent.presence_changed"}),
    "trunks": (publish_trunks, {"trunk.state_changed"}),
    "queues and voicemail": (publish_queues_and_voicemail, {"queue.updated", "voicemail.count_changed"}),
    "monitors": (publish_monitors, {"monitor.started", "monitor.updated", "monitor.ended"}),
    "over the API": (
        publish_over_the_api,
        {
            "company.updated",
            "user.created",
            "user.updated",
            "user.deleted",
            "invitation.created",
            "invitation.deleted",
            "api_key.created",
            "api_key.revoked",
            "agent.updated",
            "agent.status_changed",
            "lead.created",
            "lead.updated",
            "lead.merged",
            *(event.name for event in catalogue.ROW_EVENTS.values()),
        },
    ),
}


def test_the_scenarios_publish_every_public_event():
    assert set().union(*(names for _, names in SCENARIOS.values())) == PUBLIC


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_what_is_published_fits_the_declared_data_for_every_stream(scenario, app, world, controller):
    publish, expected = SCENARIOS[scenario]
    assert isinstance(controller.bus, RecordingBus)
    publish(app, world, controller)
    assert set(controller.bus.names()) <= set(catalogue.BY_NAME)
    published = [(name, data) for name, data in controller.bus.published if name in PUBLIC]
    assert {name for name, _ in published} >= expected
    reached, errors = misfits(published, viewers(world["a"]["company"], world["a"]["agents"]))
    assert reached >= expected and not errors, errors


def test_interaction_updated_fits_in_every_section(app, world, controller):
    interaction = world["a"]["interactions"][0]
    agent1, agent2 = world["a"]["agents"]
    supervisor = signed_in(app, "supervisor@a.example")
    seen = []
    for move, also in ((None, {}), ("answer", {"agent": agent1}), ("end", {})):
        if move:
            lifecycle.move(interaction, move, T0, **also)
        interactions_notifier.changed(controller.bus, interaction)
        name, data = controller.bus.published[-1]
        assert name == "interaction.updated"
        assert data["interaction"] == supervisor.get(f"/api/v1/interactions/{interaction.id}")[1]
        shown = [
            received(name, data, Viewer(interaction.company_id, role, agent))
            for role, agent in (("agent", agent1.id), ("agent", agent2.id), ("supervisor", None))
        ]
        assert all(event.interaction.id == interaction.id for event in shown)
        seen.append([event.section for event in shown])
    assert seen == [["incoming", "incoming", "incoming"], ["active", None, None], ["recent", None, None]]


def test_agent_status_changed_carries_the_agent_as_the_api_returns_it(app, world, controller):
    agent = world["a"]["agents"][0]
    controller.availability.move(agent, "go_offline", T0)
    [(name, data)] = controller.bus.published
    event = received(name, data, Viewer(agent.company_id, "agent", world["a"]["agents"][1].id))
    assert (name, event.agent.id, event.agent.status) == ("agent.status_changed", agent.id, "offline")
    assert data["agent"] == signed_in(app, "supervisor@a.example").get(f"/api/v1/agents/{agent.id}")[1]


def test_message_queued_carries_the_message_as_the_api_returns_it(app, world, controller):
    agent = signed_in(app, "agent1@a.example")
    status, message = agent.post(
        "/api/v1/texts", {"to": "+14045557000", "body": "Hello", "tracking_number_id": world["a"]["number"].id}
    )
    assert status == 201
    queued = [(name, data) for name, data in controller.bus.published if name.startswith("message.")]
    assert queued == [
        (
            "message.queued",
            {"company_id": world["a"]["company"].id, "interaction_id": message["interaction_id"], "message": message},
        )
    ]
    event = received(*queued[0], Viewer(world["a"]["company"].id, "agent", world["a"]["agents"][1].id))
    assert (event.message.id, event.message.status, event.message.body) == (message["id"], "queued", "Hello")
