"""The Asterisk config renderers are pure: the same snapshot always gives exactly this text."""

import re

import pytest
from support import config_sections

from leadcenter.pbx import names, render
from leadcenter.resources import DIALPLANS
from leadcenter.telephony.service import QUEUE_CHANGES, TRUNK_CHANGES

SNAPSHOT = render.Snapshot(
    devices=(
        render.AgentDevice("webrtc7", "pw1", "Alice; Agent", webrtc=True),
        render.AgentDevice("desk7", "pw2", 'Al "Desk"', webrtc=False, mailbox="agent7@leadcenter"),
    ),
    trunks=(render.TrunkSpec(1, "Carrier", "127.0.0.1", 5070),),
    queues=(
        render.QueueSpec(
            "team3",
            "Sales",
            "rrmemory",
            30,
            False,
            (render.QueueMemberSpec("PJSIP/desk7", "agent7"), render.QueueMemberSpec("PJSIP/webrtc8", "agent8", 2)),
        ),
    ),
    routes=(
        render.RouteSpec("trunk1", "+14045550100", "Google Ads", 1, 4, 2),
        render.RouteSpec("trunk1", "+14045550101", "No flow yet", 1, 5, None),
    ),
    flows=(
        render.FlowSpec(
            2,
            "Main line",
            True,
            True,
            (
                render.StepSpec("ring_agents", "PJSIP/desk7&PJSIP/webrtc8", 20),
                render.StepSpec("queue", "team3", 120),
                render.StepSpec("voicemail", "company1"),
            ),
        ),
    ),
    mailboxes=(render.MailboxSpec("company1", "Acme, Inc."), render.MailboxSpec("agent7", "Alice")),
)


def test_pjsip_endpoints():
    assert (
        render.render_pjsip_endpoints(SNAPSHOT)
        == render.GENERATED_HEADER
        + """
[webrtc7] ; softphone of Alice, Agent
type = endpoint
context = lc-from-agent
disallow = all
allow = opus,ulaw,alaw
webrtc = yes
dtls_auto_generate_cert = yes
auth = webrtc7
aors = webrtc7
direct_media = no
allow_transfer = no
callerid = "Alice\\; Agent" <webrtc7>
send_pai = yes

[webrtc7]
type = auth
auth_type = userpass
username = webrtc7
password = pw1

[webrtc7]
type = aor
max_contacts = 1
remove_existing = yes
qualify_frequency = 0

[desk7] ; desk phone of Al "Desk"
type = endpoint
context = lc-from-agent
disallow = all
allow = ulaw,alaw,g722
rtp_symmetric = yes
force_rport = yes
rewrite_contact = yes
media_encryption = sdes
media_encryption_optimistic = yes
auth = desk7
aors = desk7
direct_media = no
allow_transfer = yes
callerid = "Al 'Desk'" <desk7>
send_pai = yes
mailboxes = agent7@leadcenter

[desk7]
type = auth
auth_type = userpass
username = desk7
password = pw2

[desk7]
type = aor
max_contacts = 1
remove_existing = yes
qualify_frequency = 30
mailboxes = agent7@leadcenter

[trunk1] ; trunk Carrier
type = endpoint
context = lc-trunk1
disallow = all
allow = ulaw,alaw
aors = trunk1
direct_media = no
rtp_symmetric = yes
allow_transfer = no
send_pai = yes
send_connected_line = no
rtp_timeout = 60

[trunk1]
type = aor
contact = sip:127.0.0.1:5070

[trunk1]
type = identify
endpoint = trunk1
match = 127.0.0.1:5070
"""
    )


def test_media_address_is_applied_to_every_endpoint():
    text = render.render_pjsip_endpoints(
        render.Snapshot(devices=SNAPSHOT.devices, trunks=SNAPSHOT.trunks, media_address="198.18.0.1")
    )
    assert text.count("media_address = 198.18.0.1") == 3
    assert text.count("bind_rtp_to_media_address = yes") == 3


def test_queues():
    assert (
        render.render_queues(SNAPSHOT)
        == render.GENERATED_HEADER
        + """
[team3] ; team Sales
strategy = rrmemory
timeout = 30
retry = 1
timeoutpriority = conf
ringinuse = no
autopause = all
wrapuptime = 0
joinempty = yes
leavewhenempty = no
setinterfacevar = yes
setqueueentryvar = yes
musicclass = default
announce-position = no
announce-holdtime = no
announce-frequency = 0
member = PJSIP/desk7,0,agent7,PJSIP/desk7
member = PJSIP/webrtc8,2,agent8,PJSIP/webrtc8
"""
    )


TEAM_WITH_ITS_OWN_MUSIC = render.Snapshot(
    queues=(
        render.QueueSpec(
            "team4",
            "Support; nights",
            "linear",
            15,
            False,
            (render.QueueMemberSpec("PJSIP/webrtc9", "agent9"), render.QueueMemberSpec("PJSIP/desk7", "agent7", 1)),
            announce_wait_time=True,
            announce_seconds=45,
            music_class="lc-team4",
        ),
    ),
    music=(render.MusicSpec("lc-team4", "Support; nights", "/srv/leadcenter/music/lc-team4"),),
)


def test_a_team_with_its_own_music_and_wait_time_announcements():
    """Members in the team's order, the wait time announced every 45 s, the team's music class: its own files."""
    assert render.render_queues(TEAM_WITH_ITS_OWN_MUSIC).endswith(
        """musicclass = lc-team4
announce-position = no
announce-holdtime = yes
announce-frequency = 45
member = PJSIP/webrtc9,0,agent9,PJSIP/webrtc9
member = PJSIP/desk7,1,agent7,PJSIP/desk7
"""
    )
    assert (
        render.render_music(TEAM_WITH_ITS_OWN_MUSIC)
        == render.GENERATED_HEADER
        + """
[lc-team4] ; team Support, nights
mode = files
directory = /srv/leadcenter/music/lc-team4
"""
    )
    assert render.render_music(SNAPSHOT) == render.GENERATED_HEADER
    assert "generated/musiconhold.conf" in render.render_generated(SNAPSHOT)


def test_a_team_offering_callbacks_lets_a_waiting_caller_press_1_and_tells_them_so():
    """The queue's exit context is lc-callback-offer (its extension 1: be called back), announced as often as the
    team's other announcements; a team without callbacks has no exit context, so no digit leaves its queue."""
    team = render.QueueSpec("team5", "Sales", "leastrecent", 30, False, announce_seconds=40, callback=True)
    assert render.render_queues(render.Snapshot(queues=(team,))).endswith(
        """announce-frequency = 0
context = lc-callback-offer
periodic-announce = vm-press,digits/1,vm-tocallback
periodic-announce-frequency = 40
"""
    )
    assert "context" not in render.render_queues(SNAPSHOT)


def test_routes_and_flows():
    assert (
        render.render_routes(SNAPSHOT)
        == render.GENERATED_HEADER
        + """
[lc-trunk1] ; calls from trunk Carrier
; Google Ads
exten => +14045550100,1,Set(__LC_COMPANY=1)
 same => n,Set(__SPYGROUP=c1)
 same => n,Set(__LC_NUMBER=4)
 same => n,Set(__LC_TRACKING=+14045550100)
 same => n,Set(__LC_FLOW=2)
 same => n,Goto(lc-inbound,s,1)
exten => 14045550100,1,Set(__LC_COMPANY=1)
 same => n,Set(__SPYGROUP=c1)
 same => n,Set(__LC_NUMBER=4)
 same => n,Set(__LC_TRACKING=+14045550100)
 same => n,Set(__LC_FLOW=2)
 same => n,Goto(lc-inbound,s,1)
; No flow yet
exten => +14045550101,1,Set(__LC_COMPANY=1)
 same => n,Set(__SPYGROUP=c1)
 same => n,Set(__LC_NUMBER=5)
 same => n,Set(__LC_TRACKING=+14045550101)
 same => n,Set(__LC_FLOW=)
 same => n,Goto(lc-inbound,s,1)
exten => 14045550101,1,Set(__LC_COMPANY=1)
 same => n,Set(__SPYGROUP=c1)
 same => n,Set(__LC_NUMBER=5)
 same => n,Set(__LC_TRACKING=+14045550101)
 same => n,Set(__LC_FLOW=)
 same => n,Goto(lc-inbound,s,1)
exten => _[+0-9].,1,Set(LC_DIALED=${EXTEN})
 same => n,Goto(lc-unknown-number,s,1)

[lc-flow-2] ; Main line
exten => s,1,NoOp(flow 2)
 same => n,Gosub(lc-record,s,1(1))
 same => n(step1),Set(LC_STEP=1)
 same => n,Gosub(lc-step-ring-agents,s,1(PJSIP/desk7&PJSIP/webrtc8,20))
 same => n(after1),NoOp()
 same => n(step2),Set(LC_STEP=2)
 same => n,Gosub(lc-step-queue,s,1(team3,120))
 same => n(after2),NoOp()
 same => n(step3),Set(LC_STEP=3)
 same => n,Gosub(lc-step-voicemail,s,1(company1))
 same => n(after3),Goto(flowend)
 same => n(flowend),Goto(lc-step-end,s,1)
"""
    )


def test_a_flow_with_business_hours_an_ivr_menu_and_branches():
    """Every step at any depth is numbered depth first (stepK where it starts, afterK where the call goes on);
    branches are rendered in line and end at their branching step's afterK, or go to another flow."""
    sales = render.BranchSpec((render.StepSpec("queue", "team3", 300),))
    menu = render.IvrSpec(
        "${LC_SOUNDS}/company1-flow-menu",
        (
            ("1", sales),
            ("2", render.BranchSpec((render.StepSpec("voicemail", "company1"),))),
            ("9", render.BranchSpec(flow=4)),
        ),
        5,
        3,
        render.BranchSpec(),
        render.BranchSpec((render.StepSpec("hangup"),)),
    )
    hours = render.HoursSpec(
        "Europe/Berlin",
        (("mon&tue&wed&thu&fri", "09:00", "17:00"), ("sat", "10:00", "24:00")),
        ("20261224", "20261225"),
        render.BranchSpec((render.StepSpec("greeting", "${LC_SOUNDS}/company1-flow-hello"), menu)),
        render.BranchSpec(flow=5),
    )
    forward = render.StepSpec("forward", "PJSIP/+14045550199@trunk1", 25)
    flow = render.FlowSpec(3, "Hours", False, False, (hours, forward))
    assert (
        render.render_routes(render.Snapshot(flows=(flow,)))
        == render.GENERATED_HEADER
        + """
[lc-flow-3] ; Hours
exten => s,1,NoOp(flow 3)
 same => n(step1),Set(LC_STEP=1)
 same => n,Set(LC_TODAY=${STRFTIME(${EPOCH},Europe/Berlin,%Y%m%d)})
 same => n,GotoIf($[${LC_TODAY} = 20261224 | ${LC_TODAY} = 20261225]?closed1)
 same => n,GotoIfTime(09:00-16:59,mon&tue&wed&thu&fri,*,*,Europe/Berlin?open1)
 same => n,GotoIfTime(10:00-23:59,sat,*,*,Europe/Berlin?open1)
 same => n,Goto(closed1)
 same => n(open1),NoOp(open1)
 same => n(step2),Set(LC_STEP=2)
 same => n,Playback(${LC_SOUNDS}/company1-flow-hello)
 same => n(after2),NoOp()
 same => n(step3),Set(LC_STEP=3)
 same => n,Set(LC_TRIES=0)
 same => n(menu3),Set(LC_TRIES=$[${LC_TRIES} + 1])
 same => n,Read(LC_DIGIT,${LC_SOUNDS}/company1-flow-menu,1,,1,5)
 same => n,GotoIf($["${LC_DIGIT}" = "1"]?key3x1)
 same => n,GotoIf($["${LC_DIGIT}" = "2"]?key3x2)
 same => n,GotoIf($["${LC_DIGIT}" = "9"]?key3x9)
 same => n,GotoIf($["${LC_DIGIT}" = ""]?silent3)
 same => n,Playback(invalid)
 same => n,GotoIf($[${LC_TRIES} < 3]?menu3:invalid3)
 same => n(silent3),GotoIf($[${LC_TRIES} < 3]?menu3:noinput3)
 same => n(key3x1),NoOp(key3x1)
 same => n(step4),Set(LC_STEP=4)
 same => n,Gosub(lc-step-queue,s,1(team3,300))
 same => n(after4),Goto(after3)
 same => n(key3x2),NoOp(key3x2)
 same => n(step5),Set(LC_STEP=5)
 same => n,Gosub(lc-step-voicemail,s,1(company1))
 same => n(after5),Goto(after3)
 same => n(key3x9),Goto(lc-flow-4,s,1)
 same => n(noinput3),Goto(after3)
 same => n(invalid3),NoOp(invalid3)
 same => n(step6),Set(LC_STEP=6)
 same => n,Hangup(16)
 same => n(after6),Goto(after3)
 same => n(after3),Goto(after1)
 same => n(closed1),Goto(lc-flow-5,s,1)
 same => n(after1),NoOp()
 same => n(step7),Set(LC_STEP=7)
 same => n,Gosub(lc-step-forward,s,1(PJSIP/+14045550199@trunk1,25))
 same => n(after7),Goto(flowend)
 same => n(flowend),Goto(lc-step-end,s,1)
"""
    )


def test_voicemail_boxes():
    assert render.render_voicemail(SNAPSHOT) == render.GENERATED_HEADER + (
        "company1 => ,Acme  Inc.\nagent7 => ,Alice\n"
    )


def test_unknown_step_type_is_refused():
    flow = render.FlowSpec(9, "Bad", False, False, (render.StepSpec("teleport", "x"),))
    with pytest.raises(ValueError, match="unknown step type 'teleport'"):
        render.render_routes(render.Snapshot(flows=(flow,)))


def test_fill_replaces_placeholders_and_leaves_asterisk_variables():
    assert render.fill("port={{port}} x=${EXTEN}", {"port": 5038}) == "port=5038 x=${EXTEN}"


def test_fill_refuses_a_missing_value():
    with pytest.raises(render.TemplateError, match="secret"):
        render.fill("secret={{secret}}", {})


def test_static_templates_bind_loopback_and_carry_generated_secrets():
    from leadcenter import asterisk_config, config
    from leadcenter.credentials import Secrets
    from leadcenter.resources import ASTERISK_TEMPLATES

    settings = config.load(env={})
    secrets = Secrets(ami_secret="s3cret-ami", ari_secret="s3cret-ari", session_key="k")
    templates = {p.name: p.read_text() for p in ASTERISK_TEMPLATES.glob("*.conf")}
    files = render.render_static(templates, asterisk_config.static_values(settings, secrets))
    assert "bindaddr = 127.0.0.1\nport = 5038" in files["manager.conf"]
    assert "secret = s3cret-ami" in files["manager.conf"]
    assert "permit = 127.0.0.1/255.255.255.255" in files["manager.conf"]
    assert "bindaddr = 127.0.0.1\nbindport = 8088" in files["http.conf"]
    assert "password = s3cret-ari" in files["ari.conf"]
    assert "bind = 127.0.0.1:5060" in files["pjsip.conf"]
    assert render.render_tls_transport("127.0.0.1", 5061, "/srv/leadcenter") in files["pjsip.conf"]
    modules = files["modules.conf"]
    assert "autoload = no" in modules
    for absent in ("chan_iax2", "pbx_dundi", "chan_unistim", "res_pjsip_endpoint_identifier_anonymous"):
        assert absent not in modules
    assert "{{" not in "".join(files.values())


def test_an_ipv6_trunk_is_bracketed_and_one_address_is_identified_once():
    trunks = (
        render.TrunkSpec(1, "A's carrier", "127.0.0.1", 5070),
        render.TrunkSpec(2, "B, the same address", "127.0.0.1", 5070),
        render.TrunkSpec(3, "IPv6", "2001:db8::5", 5060),
    )
    text = render.render_pjsip_endpoints(render.Snapshot(trunks=trunks))
    assert text.count("match = 127.0.0.1:5070") == 1
    assert "endpoint = trunk2" not in text and "; no identify for trunk2: 127.0.0.1:5070 is trunk1's" in text
    assert "contact = sip:[2001:db8::5]:5060" in text and "match = [2001:db8::5]:5060" in text


def test_a_trunk_that_registers_over_tcp_with_its_codecs_and_qualify():
    trunk = render.TrunkSpec(
        4,
        "Carrier; main",
        "203.0.113.5",
        5080,
        registers=True,
        username="acme-7",
        password="s3cret",
        transport="tcp",
        codecs=("g722", "ulaw"),
        qualify_seconds=20,
    )
    assert render.render_pjsip_endpoints(render.Snapshot(trunks=(trunk,))) == (
        render.GENERATED_HEADER
        + """
[trunk4] ; trunk Carrier, main
type = endpoint
context = lc-trunk4
disallow = all
allow = g722,ulaw
aors = trunk4
outbound_auth = trunk4
direct_media = no
rtp_symmetric = yes
allow_transfer = no
send_pai = yes
send_connected_line = no
rtp_timeout = 60

[trunk4]
type = aor
contact = sip:203.0.113.5:5080\\;transport=tcp
qualify_frequency = 20

[trunk4]
type = auth
auth_type = userpass
username = acme-7
password = s3cret

[trunk4]
type = registration
server_uri = sip:203.0.113.5:5080\\;transport=tcp
client_uri = sip:acme-7@203.0.113.5:5080
contact_user = acme-7
outbound_auth = trunk4
transport = transport-tcp
expiration = 3600
retry_interval = 30
forbidden_retry_interval = 300
fatal_retry_interval = 300
max_retries = 1000000
auth_rejection_permanent = no
max_random_initial_delay = 0
line = yes
endpoint = trunk4

[trunk4]
type = identify
endpoint = trunk4
match = 203.0.113.5
"""
    )


def test_a_carrier_over_tcp_or_tls_is_known_by_its_address_alone_and_over_udp_by_its_port_too():
    """A carrier over TCP or TLS calls in on connections of its own, from ports of its choosing."""
    trunks = (
        render.TrunkSpec(1, "UDP", "192.0.2.1", 5070),
        render.TrunkSpec(2, "TLS", "2001:db8::7", 5061, transport="tls"),
        render.TrunkSpec(3, "TCP", "192.0.2.3", 5080, transport="tcp"),
    )
    text = render.render_pjsip_endpoints(render.Snapshot(trunks=trunks))
    matches = [s["match"] for s in config_sections(text) if s.get("type") == "identify"]
    assert matches == ["192.0.2.1:5070", "2001:db8::7", "192.0.2.3"]
    # Rows from before a trunk over TCP or TLS took its whole address: the first trunk at it keeps its calls.
    later = (
        render.TrunkSpec(4, "UDP beside", "192.0.2.3", 5060),
        render.TrunkSpec(5, "TCP beside", "192.0.2.1", 5080, transport="tcp"),
    )
    text = render.render_pjsip_endpoints(render.Snapshot(trunks=trunks + later))
    assert [s["match"] for s in config_sections(text) if s.get("type") == "identify"] == matches
    assert "; no identify for trunk4: 192.0.2.3:5060 is trunk3's" in text
    assert "; no identify for trunk5: 192.0.2.1 is trunk1's" in text
    assert "contact = sip:[2001:db8::7]:5061\\;transport=tls" in text


def test_a_trunk_that_does_not_register_has_no_credentials_and_qualify_only_when_asked():
    text = render.render_pjsip_endpoints(
        render.Snapshot(trunks=(render.TrunkSpec(1, "IP", "2001:db8::5", 5060, qualify_seconds=60),))
    )
    assert [s.get("type") for s in config_sections(text)] == ["endpoint", "aor", "identify"]
    assert "outbound_auth" not in text and "qualify_frequency = 60" in text
    registering = render.TrunkSpec(2, "IPv6 account", "2001:db8::6", 5060, registers=True, username="u", password="p")
    text = render.render_pjsip_endpoints(render.Snapshot(trunks=(registering,)))
    assert "server_uri = sip:[2001:db8::6]:5060\n" in text and "client_uri = sip:u@[2001:db8::6]:5060" in text
    assert "transport = transport-udp" in text and "qualify_frequency" not in text


def test_only_desk_phones_accept_a_transfer():
    # A desk phone's transfer key (REFER) goes to lc-refer (the agent legs' TRANSFER_CONTEXT); a carrier's REFER
    # or the browser softphone's is declined (the app transfers through the API).
    endpoints = {
        s["aors"]: s for s in config_sections(render.render_pjsip_endpoints(SNAPSHOT)) if s.get("type") == "endpoint"
    }
    assert {name: e["allow_transfer"] for name, e in endpoints.items()} == {
        "desk7": "yes",
        "webrtc7": "no",
        "trunk1": "no",
    }


def test_a_desk_phones_transfer_key_reaches_only_the_ring_device_of_a_colleague_of_the_same_company():
    devices = (
        render.AgentDevice("desk7", "pw", "Al", webrtc=False, agent_id=7, company_id=1, rings=True),
        render.AgentDevice("webrtc7", "pw", "Al", webrtc=True, agent_id=7, company_id=1, rings=False),
        render.AgentDevice("webrtc8", "pw", "Bo", webrtc=True, agent_id=8, company_id=2, rings=True),
    )
    text = render.render_routes(render.Snapshot(devices=devices))
    assert text.endswith(
        "[lc-refer] ; desk phones' transfers to colleagues\n"
        'exten => 7,1,GotoIf($["${LC_COMPANY}" != "1"]?refused)\n'
        " same => n,Goto(lc-transfer,desk7,1)\n"
        " same => n(refused),Hangup(21)\n"
        'exten => 8,1,GotoIf($["${LC_COMPANY}" != "2"]?refused)\n'
        " same => n,Goto(lc-transfer,webrtc8,1)\n"
        " same => n(refused),Hangup(21)\n"
    )


def test_a_desk_phone_dials_only_the_ring_devices_of_its_own_companys_agents():
    """The consult call of an attended transfer: the company comes from the endpoint's rendered context, never from
    what the phone sends; anything else (a number, another company's agent) falls to lc-from-agent, which refuses."""
    devices = (
        render.AgentDevice("desk7", "pw", "Al", webrtc=False, agent_id=7, company_id=1, rings=True),
        render.AgentDevice("webrtc7", "pw", "Al", webrtc=True, agent_id=7, company_id=1, rings=False),
        render.AgentDevice("desk8", "pw", "Bo", webrtc=False, agent_id=8, company_id=1, rings=False),
        render.AgentDevice("webrtc8", "pw", "Bo", webrtc=True, agent_id=8, company_id=1, rings=True),
        render.AgentDevice("desk9", "pw", "Cy", webrtc=False, agent_id=9, company_id=2, rings=True),
    )
    snapshot = render.Snapshot(devices=devices)
    rendered = config_sections(render.render_pjsip_endpoints(snapshot))
    endpoints = {s["aors"]: s["context"] for s in rendered if "context" in s}
    assert endpoints == {
        "desk7": "lc-desk-company1",
        "webrtc7": "lc-from-agent",  # the browser softphone dials nothing: the app places calls
        "desk8": "lc-desk-company1",
        "webrtc8": "lc-from-agent",
        "desk9": "lc-desk-company2",
    }
    assert (
        "[lc-desk-company1] ; desk phones of company 1: their colleagues\n"
        "exten => 7,1,Goto(lc-colleague,desk7,1)\n"
        "exten => 8,1,Goto(lc-colleague,webrtc8,1)\n"
        "include => lc-from-agent\n"
        "\n"
        "[lc-desk-company2] ; desk phones of company 2: their colleagues\n"
        "exten => 9,1,Goto(lc-colleague,desk9,1)\n"
        "include => lc-from-agent\n"
    ) in render.render_routes(snapshot)
    agents = (DIALPLANS / "agents.conf").read_text()
    # Only the colleague's own device is dialled; the INVITE names the call the desk phone is on, if any.
    assert (
        "[lc-colleague]\n"
        "exten => _[a-z].,1,Set(LC_ON_CALL=${LC_CALL_${CHANNEL(endpoint)}})\n"
        ' same => n,GotoIf($["${LC_ON_CALL}" = ""]?alone)\n'
        " same => n,Dial(PJSIP/${EXTEN},30,b(lc-transfer-leg^s^1(${LC_ON_CALL})))\n"
        " same => n,Hangup()\n"
        " same => n(alone),Dial(PJSIP/${EXTEN},30)\n"
        " same => n,Hangup()\n"
    ) in agents
    assert "[lc-from-agent]\nexten => _X.,1,Hangup(21)\nexten => _+X.,1,Hangup(21)\n" in agents


def test_desk_phones_are_reached_where_their_requests_come_from():
    # Behind an office NAT: responses to the source port, media back to its source, and calls to the address and
    # port (over TCP, the connection) the REGISTER came from, never to the private Contact.
    desk = next(s for s in config_sections(render.render_pjsip_endpoints(SNAPSHOT)) if s.get("aors") == "desk7")
    assert (desk["force_rport"], desk["rtp_symmetric"], desk["rewrite_contact"]) == ("yes", "yes", "yes")


# What each AMI action the controller sends requires (`manager show command <Action>`, Asterisk 22: any one of
# the classes) and the class of each event it reads (the events' Privilege header).
AMI_ACTION_RIGHTS = {
    "DBGetTree": {"system", "reporting"},
    "DBPut": {"system"},
    "QueueStatus": set(),
    "Redirect": {"call"},
    "Setvar": {"call"},
    "QueuePause": {"agent"},
    "MixMonitor": {"system"},
    "StopMixMonitor": {"system", "call"},
    "QueueReload": set(),
    "Reload": {"system", "config"},
    "DeviceStateList": {"call", "reporting"},
    "PJSIPShowRegistrationsOutbound": {"system"},
    "PJSIPShowEndpoints": {"system"},
    "PJSIPShowEndpoint": {"system"},
    "PJSIPRegister": {"system"},
    "ShowDialPlan": {"config", "reporting"},
    "VoicemailMove": {"user"},
}
AMI_EVENT_CLASSES = {
    "Hangup": "call",
    "DialBegin": "call",
    "DialEnd": "call",
    "Hold": "call",
    "BlindTransfer": "call",
    "AttendedTransfer": "call",
    "Unhold": "call",
    "MessageWaiting": "call",
    "ConfbridgeJoin": "call",
    "DeviceStateChange": "call",
    "UserEvent": "user",
    **dict.fromkeys(QUEUE_CHANGES, "agent"),  # the queue events after which its figures are read again
    **dict.fromkeys(TRUNK_CHANGES, "system"),  # the trunks' registration and qualify: read again after them
}


def _ami_rights() -> dict[str, set[str]]:
    from leadcenter import asterisk_config, config
    from leadcenter.credentials import Secrets
    from leadcenter.pbx import names
    from leadcenter.resources import ASTERISK_TEMPLATES

    template = {"manager.conf": (ASTERISK_TEMPLATES / "manager.conf").read_text()}
    values = asterisk_config.static_values(config.load(env={}), Secrets("ami", "ari", "key"))
    text = render.render_static(template, values)["manager.conf"]
    user = text.split(f"[{names.AMI_USER}]", 1)[1]
    return {key: set(user.split(f"\n{key} = ", 1)[1].split("\n", 1)[0].split(",")) for key in ("read", "write")}


def test_the_ami_account_has_the_rights_the_controller_uses_and_no_others():
    import re
    from pathlib import Path

    import leadcenter
    from leadcenter.telephony.tracker import CallTracker

    source = "\n".join(p.read_text() for p in Path(leadcenter.__file__).parent.rglob("*.py"))
    actions = set(re.findall(r'"Action":\s*"(\w+)"', source))
    events = (
        {name[len("_on_") :] for name in dir(CallTracker) if name.startswith("_on_")} | QUEUE_CHANGES | TRUNK_CHANGES
    )
    unknown = (actions - set(AMI_ACTION_RIGHTS)) | (events - set(AMI_EVENT_CLASSES))
    assert not unknown, f"add the rights of {unknown} to the tables above (and to manager.conf if needed)"
    rights = _ami_rights()
    for action in actions:
        needed = AMI_ACTION_RIGHTS[action]
        assert not needed or needed & rights["write"], f"AMI action {action} needs one of {needed}"
    assert rights["read"] == {AMI_EVENT_CLASSES[event] for event in events}
    # Never the rights to run CLI commands, rewrite config files or originate into System() (a shell).
    assert not rights["write"] & {"command", "config", "originate", "all"}
    for right in rights["write"]:  # each one is the only way to some action
        fewer = rights["write"] - {right}
        assert any(needed and not needed & fewer for needed in map(AMI_ACTION_RIGHTS.get, actions)), right


def test_asterisk_logs_security_events_to_a_file_fail2ban_reads():
    from leadcenter.resources import ASTERISK_TEMPLATES

    logger = (ASTERISK_TEMPLATES / "logger.conf").read_text()
    modules = (ASTERISK_TEMPLATES / "modules.conf").read_text()
    assert "\nsecurity.log => security\n" in logger
    assert "\nload = res_security_log.so\n" in modules  # the module that turns security events into log lines


def test_only_the_controller_sends_a_channel_into_the_spy_context_and_it_spies_within_one_company():
    """lc-monitor (dialplans/monitor.conf) is no endpoint's context and no context includes it; each mode's ChanSpy
    runs on the target and within the group the controller set, after a check that both are there (ChanSpy without
    them would spy on any channel)."""
    endpoints = [s for s in config_sections(render.render_pjsip_endpoints(SNAPSHOT)) if s.get("type") == "endpoint"]
    assert {e["context"] for e in endpoints} == {names.FROM_AGENT_CONTEXT, names.trunk_context(1)}
    generated = render.render_routes(SNAPSHOT) + "".join(p.read_text() for p in DIALPLANS.glob("*.conf"))
    assert re.search(r"include\s*=>\s*lc-monitor", generated) is None
    text = (DIALPLANS / "monitor.conf").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith(";")]
    assert lines[lines.index(f"[{names.MONITOR_CONTEXT}]") + 1 :][:9] == [
        "exten => listen,1,Gosub(lc-monitor-check,s,1)",
        "same => n,ChanSpy(${LC_SPY_TARGET},qEg(${LC_SPY_GROUP}))",
        "same => n,Hangup()",
        "exten => whisper,1,Gosub(lc-monitor-check,s,1)",
        "same => n,ChanSpy(${LC_SPY_TARGET},qEwg(${LC_SPY_GROUP}))",
        "same => n,Hangup()",
        "exten => barge,1,Gosub(lc-monitor-check,s,1)",
        "same => n,ChanSpy(${LC_SPY_TARGET},qEBg(${LC_SPY_GROUP}))",
        "same => n,Hangup()",
    ]
    assert 'GotoIf($["${LC_SPY_TARGET}" = "" | "${LC_SPY_GROUP}" = ""]?refuse)' in text


def test_only_the_controller_sends_a_caller_to_an_agents_own_mailbox():
    """lc-agent-voicemail (dialplans/voicemail.conf, extension = the agent's id) leaves the message in that agent's
    mailbox as a flow's voicemail step naming them does; it is in the dialplan, and no endpoint's context nor any
    include reaches it (a phone cannot dial into a colleague's mailbox)."""
    from leadcenter.resources import ASTERISK_TEMPLATES

    assert "\n#include dialplans/voicemail.conf\n" in (ASTERISK_TEMPLATES / "extensions.conf").read_text()
    endpoints = [s for s in config_sections(render.render_pjsip_endpoints(SNAPSHOT)) if s.get("type") == "endpoint"]
    assert names.AGENT_VOICEMAIL_CONTEXT not in {e["context"] for e in endpoints}
    generated = render.render_routes(SNAPSHOT) + "".join(p.read_text() for p in DIALPLANS.glob("*.conf"))
    assert re.search(rf"include\s*=>\s*{names.AGENT_VOICEMAIL_CONTEXT}", generated) is None
    text = (DIALPLANS / "voicemail.conf").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith(";")]
    assert lines[lines.index(f"[{names.AGENT_VOICEMAIL_CONTEXT}]") + 1 :][:2] == [
        f"exten => _[1-9]!,1,Gosub({names.VOICEMAIL_STEP},s,1(agent${{EXTEN}}))",
        "same => n,Hangup()",
    ]


def test_sip_over_tls_listens_with_the_installed_certificate_on_tls_1_2_and_later():
    assert render.render_tls_transport("192.0.2.7", 5061, "/srv/leadcenter") == (
        """[transport-tls]
type = transport
protocol = tls
bind = 192.0.2.7:5061
cert_file = /srv/leadcenter/tls/sip.crt
priv_key_file = /srv/leadcenter/tls/sip.key
method = sslv23
ca_list_file = /srv/leadcenter/tls/trunk-authorities.pem
verify_server = yes
"""
    )


def test_sip_over_tls_off_renders_no_transport():
    from leadcenter import asterisk_config, config
    from leadcenter.credentials import Secrets
    from leadcenter.resources import ASTERISK_TEMPLATES

    settings = config.load(env={"LEADCENTER_ASTERISK_SIP_TLS_PORT": "0"})
    template = {"pjsip.conf": (ASTERISK_TEMPLATES / "pjsip.conf").read_text()}
    text = render.render_static(template, asterisk_config.static_values(settings, Secrets("a", "b", "c")))["pjsip.conf"]
    assert "protocol = tls" not in text and "; SIP over TLS is off ([asterisk] sip_tls_port = 0)." in text


def test_desk_phones_take_srtp_when_they_ask_and_browsers_keep_dtls():
    # SDES keys in the SDP: offered in RTP/AVP (optimistic) so that a phone without SRTP still gets plain RTP, and
    # accepted from a phone offering RTP/SAVP. Browsers' media is DTLS-SRTP (webrtc = yes), never SDES.
    desk, softphone = (
        next(s for s in config_sections(render.render_pjsip_endpoints(SNAPSHOT)) if s.get("aors") == name)
        for name in ("desk7", "webrtc7")
    )
    assert (desk["media_encryption"], desk["media_encryption_optimistic"]) == ("sdes", "yes")
    assert "media_encryption" not in softphone and softphone["webrtc"] == "yes"
    # Required ([asterisk] desk_srtp): keys in RTP/SAVP, and a phone's plain RTP is refused.
    required = render.Snapshot(devices=SNAPSHOT.devices, desk_srtp_required=True)
    desk = next(s for s in config_sections(render.render_pjsip_endpoints(required)) if s.get("aors") == "desk7")
    assert (desk["media_encryption"], desk["media_encryption_optimistic"]) == ("sdes", "no")
