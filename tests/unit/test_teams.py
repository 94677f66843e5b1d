"""Teams as an admin sets them up: the members' order and penalties, the maximum wait, what happens to an agent who
lets a call ring out, wrap-up (Rejoin, or automatic after N seconds), announcements, hold music and the website's
chats; each lands in what Asterisk is rendered from. And the wrap-up timer that ends automatic wrap-ups."""

import pytest
from support import T0, Clock, RecordingBus
from test_api_prompts import upload, wav

from leadcenter import asterisk_config
from leadcenter.agents.availability import Availability
from leadcenter.agents.models import Agent, AgentStatusChange
from leadcenter.agents.presence import Presence
from leadcenter.chats.models import ChatWidget
from leadcenter.pbx import names, render
from leadcenter.teams.models import Team, TeamMember
from leadcenter.teams.services import WrapUpTimer

API = "/api/v1"


def rendered(controller) -> dict[str, str]:
    return render.render_generated(asterisk_config.snapshot(controller.settings))


def queue_section(files: dict[str, str], team_id: int) -> str:
    text = files["generated/queues.conf"]
    return text[text.index(f"[{names.queue(team_id)}]") :].split("\n\n")[0]


def test_a_team_s_settings_are_what_its_queue_is_rendered_with(admin, world, controller):
    first, second = world["a"]["agents"]
    status, body = admin.post(
        f"{API}/teams",
        {
            "name": "Support",
            "strategy": "linear",
            "ring_seconds": 15,
            "max_wait_seconds": 90,
            "ring_out": "available",
            "wrap_up_seconds": 20,
            "announce_position": True,
            "announce_wait_time": True,
            "announce_seconds": 45,
            "members": [second.id, first.id],
            "penalties": {second.id: 2},
        },
    )
    assert status == 201, body
    assert (body["max_wait_seconds"], body["ring_out"], body["wrap_up_seconds"]) == (90, "available", 20)
    assert body["members"] == [second.id, first.id]
    assert body["penalties"] == {str(second.id): 2, str(first.id): 0}
    section = queue_section(rendered(controller), body["id"])
    assert "strategy = linear\ntimeout = 15\n" in section
    assert "announce-position = yes\nannounce-holdtime = yes\nannounce-frequency = 45\n" in section
    # Linear rings the members in the team's order, the lowest penalty first for the other strategies.
    assert section.rstrip("\n").endswith(
        f"member = PJSIP/webrtc{second.id},2,agent{second.id},PJSIP/webrtc{second.id}\n"
        f"member = PJSIP/webrtc{first.id},0,agent{first.id},PJSIP/webrtc{first.id}"
    )


def test_members_are_reordered_and_keep_their_penalty_unless_it_is_set(admin, world):
    team = world["a"]["team"]
    first, second = world["a"]["agents"]
    assert admin.patch(f"{API}/teams/{team.id}", {"penalties": {first.id: 5}})[1]["penalties"][str(first.id)] == 5
    status, body = admin.patch(f"{API}/teams/{team.id}", {"members": [second.id, first.id]})
    assert status == 200 and body["members"] == [second.id, first.id]
    assert body["penalties"] == {str(second.id): 0, str(first.id): 5}
    assert [m.agent_id for m in TeamMember.select().where(TeamMember.team == team).order_by(TeamMember.position)] == [
        second.id,
        first.id,
    ]


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"penalties": {"999999": 1}}, {"penalties.999999"}),
        ({"members": [], "penalties": {"AGENT": 1}}, {"penalties.AGENT"}),
        ({"penalties": {"AGENT": 101}}, {"penalties"}),
        ({"max_wait_seconds": 5}, {"max_wait_seconds"}),
        ({"wrap_up_seconds": -1}, {"wrap_up_seconds"}),
        ({"wrap_up_seconds": 3601}, {"wrap_up_seconds"}),
        ({"ring_out": "offline"}, {"ring_out"}),
        ({"announce_seconds": 5}, {"announce_seconds"}),
        ({"service_level_seconds": 0}, {"service_level_seconds"}),
        ({"service_level_seconds": 3601}, {"service_level_seconds"}),
        ({"chats": "yes please"}, {"chats"}),
    ],
)
def test_team_settings_must_be_valid(admin, world, controller, body, fields):
    agent = world["a"]["agents"][0].id
    body = {
        k: ({str(agent) if a == "AGENT" else a: p for a, p in v.items()} if k == "penalties" else v)
        for k, v in body.items()
    }
    fields = {f.replace("AGENT", str(agent)) for f in fields}
    status, answer = admin.patch(f"{API}/teams/{world['a']['team'].id}", body)
    assert (status, answer["error"], set(answer["fields"])) == (422, "invalid-fields", fields)
    assert controller.reconfigured == 0
    assert [m.penalty for m in TeamMember.select()] == [0] * TeamMember.select().count()


def test_wrap_up_goes_back_to_rejoin_with_null(admin, world):
    team = world["a"]["team"]
    assert admin.patch(f"{API}/teams/{team.id}", {"wrap_up_seconds": 0})[1]["wrap_up_seconds"] == 0
    assert admin.patch(f"{API}/teams/{team.id}", {"wrap_up_seconds": None})[1]["wrap_up_seconds"] is None
    assert Team.get_by_id(team.id).wrap_up_seconds is None


def test_a_queue_step_without_a_wait_of_its_own_waits_the_team_s_maximum(admin, world, controller):
    team = world["a"]["team"]
    flow_id = admin.post(f"{API}/flows", {"name": "Team's wait", "steps": [{"type": "queue", "team": team.id}]})[1][
        "id"
    ]
    admin.patch(f"{API}/teams/{team.id}", {"max_wait_seconds": 45})
    routes = rendered(controller)["generated/routes.conf"]
    assert f"Gosub(lc-step-queue,s,1({team.queue_name},45))" in routes.split(f"[lc-flow-{flow_id}]")[1]
    # The demo's flow says 60 s itself: the step's own wait stands.
    assert f"Gosub(lc-step-queue,s,1({team.queue_name},60))" in routes


def test_the_website_s_chats_go_to_the_team_that_asks_for_them(admin, world, controller):
    team = world["a"]["team"]
    other = admin.post(f"{API}/teams", {"name": "Chat desk", "chats": True})[1]
    widget = ChatWidget.get(ChatWidget.company == world["a"]["company"])
    assert widget.team_id == other["id"] and other["chats"] is True
    assert admin.patch(f"{API}/teams/{team.id}", {"chats": True})[1]["chats"] is True
    assert admin.get(f"{API}/teams/{other['id']}")[1]["chats"] is False  # one team gets them
    assert admin.get(f"{API}/chat-widget")[1]["team_id"] == team.id
    # A team that had them and no longer wants them: every agent of the company gets them again.
    assert admin.patch(f"{API}/teams/{team.id}", {"chats": False})[1]["chats"] is False
    assert ChatWidget.get_by_id(widget.id).team_id is None
    # Company B's widget is not touched.
    assert not ChatWidget.select().where(ChatWidget.company == world["b"]["company"], ChatWidget.team.is_null(False))


def test_a_team_s_own_hold_music_is_played_to_its_callers(admin, supervisor, world, controller):
    team = world["a"]["team"]
    path = f"{API}/teams/{team.id}/music"
    assert supervisor.get(path)[0] == 404  # the standard music
    assert upload(supervisor, path, wav(2.0))[0] == 403
    status, body = upload(admin, path, wav(2.0, rate=44100, channels=2))
    assert (status, body) == (200, {"url": path, "seconds": 2.0})
    stored = controller.instance.dir / "music" / names.music_class(team.id) / "music.wav"
    assert stored.is_file()
    assert admin.get(f"{API}/teams/{team.id}")[1]["music"] is True
    assert controller.bus.names()[-1] == "team.updated" and controller.reconfigured == 1
    files = rendered(controller)
    assert f"musicclass = {names.music_class(team.id)}\n" in queue_section(files, team.id)
    assert f"[{names.music_class(team.id)}] ; team Team A\nmode = files\n" in files["generated/musiconhold.conf"]
    assert f"directory = /srv/leadcenter/music/{names.music_class(team.id)}\n" in files["generated/musiconhold.conf"]
    assert supervisor.http.get(path).data[:4] == b"RIFF"
    assert admin.delete(path)[0] == 204
    assert not stored.exists() and Team.get_by_id(team.id).has_music is False
    assert "musicclass = default\n" in queue_section(rendered(controller), team.id)


def test_bad_music_is_refused_and_changes_nothing(admin, world, controller):
    team = world["a"]["team"]
    status, body = upload(admin, f"{API}/teams/{team.id}/music", b"RIFF....WAVEnot really")
    assert (status, body["error"]) == (422, "invalid-fields")
    assert Team.get_by_id(team.id).has_music is False and controller.reconfigured == 0


# -- the wrap-up timer --------------------------------------------------------------------------------------------


@pytest.fixture
def wrap_up(world):
    """Agent one in wrap-up since T0 after a call of team A's queue; the timer over a clock the test moves."""
    agent, interaction = world["a"]["agents"][0], world["a"]["interactions"][0]
    interaction.agent, interaction.team = agent, world["a"]["team"]
    interaction.save()
    Agent.update(status="unavailable", status_reason="wrap_up", status_changed_at=T0).where(
        Agent.id == agent.id
    ).execute()
    clock, bus = Clock(), RecordingBus()
    return WrapUpTimer(Availability(bus, Presence(bus).seen), clock), clock, bus, agent


def status(agent):
    stored = Agent.get_by_id(agent.id)
    return stored.status, stored.status_reason


def test_automatic_wrap_up_rejoins_the_agent_after_the_team_s_seconds(wrap_up, world):
    timer, clock, bus, agent = wrap_up
    Team.update(wrap_up_seconds=20).where(Team.id == world["a"]["team"].id).execute()
    clock.advance(seconds=19)
    assert timer.sweep() == 0 and status(agent) == ("unavailable", "wrap_up")
    clock.advance(seconds=1)
    assert timer.sweep() == 1 and status(agent) == ("available", "")
    assert [c.event for c in AgentStatusChange.select()] == ["rejoin"]
    assert bus.names() == ["agent.status_changed"]  # the pause keeper unpauses them on it
    assert timer.sweep() == 0


def test_manual_wrap_up_waits_for_rejoin_however_long(wrap_up):
    timer, clock, _, agent = wrap_up
    clock.advance(hours=10)
    assert timer.sweep() == 0 and status(agent) == ("unavailable", "wrap_up")


def test_a_call_from_outside_a_queue_ends_automatically_only_when_every_team_of_the_agent_s_does(wrap_up, world):
    """A ring-agents step's call, or one taken with Answer from Incoming, has no team: the agent's teams decide,
    the longest of their wrap-ups, and any team that wants Rejoin keeps them until they rejoin."""
    timer, clock, _, agent = wrap_up
    world["a"]["interactions"][0].team = None
    world["a"]["interactions"][0].save()
    night = Team.create(company=world["a"]["company"], name="Night", wrap_up_seconds=60)
    TeamMember.create(team=night, agent=agent)
    clock.advance(minutes=5)
    assert timer.sweep() == 0  # team A wants Rejoin
    Team.update(wrap_up_seconds=10).where(Team.id == world["a"]["team"].id).execute()
    clock.now = T0
    clock.advance(seconds=59)
    assert timer.sweep() == 0
    clock.advance(seconds=1)
    assert timer.sweep() == 1 and status(agent) == ("available", "")


def test_an_agent_who_moved_meanwhile_is_left_as_they_are(wrap_up, world):
    timer, clock, bus, agent = wrap_up
    Team.update(wrap_up_seconds=0).where(Team.id == world["a"]["team"].id).execute()
    Agent.update(status="offline", status_reason="").where(Agent.id == agent.id).execute()
    clock.advance(seconds=1)
    assert timer.sweep() == 0 and status(agent) == ("offline", "") and bus.published == []
