"""Every name Lead Center gives Asterisk's objects, written and read back in one place.

A name that carries an id comes as a pair: ``thing(id)`` writes it and ``parse_thing(text)`` reads the id back,
None for anything that is not such a name (another kind of endpoint, a queue Lead Center did not make, garbage
from an event), never an error. The rendered configuration, the hand-written dialplans (``dialplans/``) and
Asterisk's events all spell them this way; ``tests/unit/test_names.py`` checks that every name parses back to
what made it and that nothing else parses.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

# -- the controller's own accounts (manager.conf, ari.conf) and the ARI application it listens as -------------------
AMI_USER = "leadcenter"
ARI_USER = "leadcenter"
ARI_APP = "leadcenter"
# The header Kamailio (the SIP edge) names a carrier's trunk in, on the calls it hands an Asterisk node.
EDGE_TRUNK_HEADER = "X-LC-Trunk"
# The header Kamailio names a desk phone in, on the requests of the phone it authenticated.
EDGE_PHONE_HEADER = "X-LC-Phone"

_ID = r"([1-9][0-9]*)"  # a row's id as the database gives it: no sign, no leading zero


def _parse(pattern: re.Pattern, text: str | None) -> int | None:
    match = pattern.fullmatch(text or "")
    return int(match.group(1)) if match else None


# -- agents' devices ------------------------------------------------------------------------------------------------
Device = Literal["webrtc", "desk"]  # the browser softphone and the desk phone
DEVICES: tuple[Device, ...] = get_args(Device)
_DEVICE = "(?:" + "|".join(DEVICES) + ")"
_AGENT_ENDPOINT = re.compile(rf"{_DEVICE}{_ID}")
_AGENT_INTERFACE = re.compile(rf"PJSIP/({_DEVICE}[1-9][0-9]*)")
_AGENT_CHANNEL = re.compile(rf"PJSIP/{_DEVICE}{_ID}-[0-9a-f]+")


def endpoint(device: str, agent_id: int) -> str:
    """An agent's device: its PJSIP endpoint, AOR and auth, and the SIP username it registers with (desk7)."""
    return f"{device}{agent_id}"


def parse_endpoint(name: str | None) -> int | None:
    """The agent whose device endpoint this is (desk7 -> 7), e.g. lc-agent-answered's LC_ANSWERED_BY."""
    return _parse(_AGENT_ENDPOINT, name)


def interface(device: str, agent_id: int) -> str:
    """How queues, Dial and device states name an agent's device (PJSIP/desk7)."""
    return f"PJSIP/{endpoint(device, agent_id)}"


def parse_interface(text: str | None) -> str | None:
    """The endpoint of an agent's device interface (PJSIP/desk7 -> desk7)."""
    match = _AGENT_INTERFACE.fullmatch(text or "")
    return match.group(1) if match else None


def parse_channel(channel: str | None) -> int | None:
    """The agent whose device a channel is on: Asterisk names it after the endpoint (PJSIP/desk7-0000002a -> 7)."""
    return _parse(_AGENT_CHANNEL, channel)


# -- trunks ---------------------------------------------------------------------------------------------------------
_TRUNK_ENDPOINT = re.compile(rf"trunk{_ID}")
_TRUNK_CONTEXT = re.compile(rf"lc-trunk{_ID}")
_TRUNK_CHANNEL = re.compile(rf"PJSIP/trunk{_ID}-[0-9a-f]+")


def trunk_endpoint(trunk_id: int) -> str:
    """A trunk's PJSIP endpoint, AOR and identify (trunk1)."""
    return f"trunk{trunk_id}"


def parse_trunk_endpoint(name: str | None) -> int | None:
    return _parse(_TRUNK_ENDPOINT, name)


def trunk_context(trunk_id: int) -> str:
    """The context a trunk's calls enter: its tracking numbers' routes (lc-trunk1)."""
    return f"lc-{trunk_endpoint(trunk_id)}"


def parse_trunk_context(name: str | None) -> int | None:
    return _parse(_TRUNK_CONTEXT, name)


def external_dial(number: str, trunk_id: int) -> str:
    """How Dial reaches an external number through a trunk (PJSIP/+14045550123@trunk1)."""
    return f"PJSIP/{number}@{trunk_endpoint(trunk_id)}"


def parse_trunk_channel(channel: str | None) -> int | None:
    """The trunk a channel came in on or goes out through (PJSIP/trunk1-00000001 -> 1): a lead's call."""
    return _parse(_TRUNK_CHANNEL, channel)


# -- teams' queues --------------------------------------------------------------------------------------------------
_QUEUE = re.compile(rf"team{_ID}")
_QUEUE_MEMBER = re.compile(rf"agent{_ID}")


def queue(team_id: int) -> str:
    """A team's queue (team3)."""
    return f"team{team_id}"


def parse_queue(name: str | None) -> int | None:
    return _parse(_QUEUE, name)


def queue_member(agent_id: int) -> str:
    """How a queue names its member, in its events (MemberName) and status (Name) (agent7)."""
    return f"agent{agent_id}"


def parse_queue_member(name: str | None) -> int | None:
    return _parse(_QUEUE_MEMBER, name)


# -- call flows -----------------------------------------------------------------------------------------------------
_FLOW_CONTEXT = re.compile(rf"lc-flow-{_ID}")
_STEP_LABEL = re.compile(rf"step{_ID}")
_AFTER_STEP_LABEL = re.compile(rf"after{_ID}")


def flow_context(flow_id: int) -> str:
    """A flow's rendered context (lc-flow-2)."""
    return f"lc-flow-{flow_id}"


def parse_flow_context(name: str | None) -> int | None:
    return _parse(_FLOW_CONTEXT, name)


def step_label(number: int) -> str:
    """The priority label of a flow's step, counted from 1 (step1), where a call is sent on or back to."""
    return f"step{number}"


def parse_step_label(label: str | None) -> int | None:
    return _parse(_STEP_LABEL, label)


def after_step_label(number: int) -> str:
    """The priority label where a flow goes on once step ``number`` is over unanswered (after7)."""
    return f"after{number}"


def parse_after_step_label(label: str | None) -> int | None:
    return _parse(_AFTER_STEP_LABEL, label)


FLOW_END_LABEL = "flowend"  # a flow's last priority: every step went by


# -- the dialplan's fixed contexts (dialplans/*.conf), as the rendered files and the controller name them -----------
FROM_AGENT_CONTEXT = "lc-from-agent"  # what agents' devices dial
COLLEAGUE_CONTEXT = "lc-colleague"  # a desk phone dialled a colleague (consult call): extension = their ring device
INBOUND_CONTEXT = "lc-inbound"  # a call to a tracking number, before its flow
UNKNOWN_NUMBER_CONTEXT = "lc-unknown-number"  # a call to a number that is nobody's tracking number
RECORD = "lc-record"  # starts the recording (and plays the notice)
QUEUE_STEP = "lc-step-queue"
RING_AGENTS_STEP = "lc-step-ring-agents"
VOICEMAIL_STEP = "lc-step-voicemail"
FORWARD_STEP = "lc-step-forward"
STEPS_END = "lc-step-end"  # every step went by: missed
ANSWER_CONTEXT = "lc-answer"  # an agent pressed Answer: extension = their endpoint
OUTBOUND_CONTEXT = "lc-outbound"  # an agent's outbound call, once their device answers: extension = the lead's number
# Blind transfers (dialplans/transfer.conf): the controller redirects the lead's channel into one of them.
TRANSFER_AGENT_CONTEXT = "lc-transfer"  # to a colleague: extension = their ring device's endpoint
TRANSFER_TEAM_CONTEXT = "lc-transfer-team"  # into a team's queue: extension = the team's id
TRANSFER_NUMBER_CONTEXT = "lc-transfer-number"  # to an external number: extension = the number, E.164
REFER_CONTEXT = "lc-refer"  # a desk phone's transfer key (TRANSFER_CONTEXT of agents' legs): extension = agent id
NO_TRANSFER_CONTEXT = "lc-no-transfer"  # no such context: a REFER on an agent's outbound call is refused (404)
MONITOR_CONTEXT = "lc-monitor"  # a supervisor's device spying on a call (ChanSpy): extension = the mode
# A call with more than two people on it (dialplans/conference.conf): the extension is the interaction's id.
CONF_AGENT_CONTEXT = "lc-conf-agent"  # an agent joins the call's conference
CONF_LEAD_CONTEXT = "lc-conf-lead"  # the lead joins it
CONF_PARTY_CONTEXT = "lc-conf-party"  # an external party joins it
CONSULT_CONTEXT = "lc-consult"  # the agent's channel dials whom they consult, the lead waiting in the conference
AGENT_VOICEMAIL_CONTEXT = "lc-agent-voicemail"  # a caller sent to an agent's own mailbox: extension = the agent's id
CALLBACK_OFFER_CONTEXT = "lc-callback-offer"  # a queue's exit context: a waiting caller pressed 1 to be called back
CALLBACK_PLACE_CONTEXT = "lc-callback-place"  # a callback's Local channel holding the lead's place in the queue
CALLBACK_DIAL_CONTEXT = "lc-callback-dial"  # its other half, once an agent took the place: dials the lead
# The reason lc-rang-out pauses the agents a ring-agents step or an Answer from Incoming rang out with (app_queue's
# own, queues.conf's autopause, is "Auto-Pause").
RANG_OUT_PAUSE = "lc-rang-out"

# -- custom dialplan contexts (the installation owner's) --------------------------------------------------------------
# The generated contexts all begin with "lc-"; the owner's never do, so neither can shadow the other.
CUSTOM_PREFIX = "custom-"
DIALPLAN_CHECK_CONTEXT = "lc-dialplan-check"  # a text Asterisk reads before it is saved: no call ever reaches it
DIALPLAN_CHECK_END = "lc-dialplan-check-end"  # the check's last context: its line in Asterisk's log ends the check


def desk_context(company_id: int) -> str:
    """The context a company's desk phones dial in (routes.conf): their colleagues' extensions, then lc-from-agent."""
    return f"lc-desk-company{company_id}"


def custom_context(name: str) -> str:
    """The context a custom dialplan of this name is rendered as (custom-after-hours)."""
    return f"{CUSTOM_PREFIX}{name}"


def dialplan_check_end_label(nonce: str) -> str:
    """The (invalid, on purpose) priority of the check's last line: Asterisk logs it, naming this check."""
    return f"end-{nonce}"


# -- voicemail ------------------------------------------------------------------------------------------------------
VOICEMAIL_CONTEXT = "leadcenter"  # voicemail.conf's context of every mailbox
_COMPANY_MAILBOX = re.compile(rf"company{_ID}")
_AGENT_MAILBOX = re.compile(rf"agent{_ID}")
_MAILBOX_ADDRESS = re.compile(rf"((?:company|agent)[1-9][0-9]*)@{VOICEMAIL_CONTEXT}")


def company_mailbox(company_id: int) -> str:
    """The company's mailbox: voicemail steps without an agent (company1)."""
    return f"company{company_id}"


def parse_company_mailbox(name: str | None) -> int | None:
    return _parse(_COMPANY_MAILBOX, name)


def agent_mailbox(agent_id: int) -> str:
    """An agent's own mailbox (agent7)."""
    return f"agent{agent_id}"


def parse_agent_mailbox(name: str | None) -> int | None:
    return _parse(_AGENT_MAILBOX, name)


def mailbox_address(mailbox: str) -> str:
    """A mailbox with its context, as VoiceMail() and MessageWaiting name it (agent7@leadcenter)."""
    return f"{mailbox}@{VOICEMAIL_CONTEXT}"


def parse_mailbox_address(text: str | None) -> str | None:
    """The mailbox of one of our addresses (agent7@leadcenter -> agent7); None for another context's."""
    match = _MAILBOX_ADDRESS.fullmatch(text or "")
    return match.group(1) if match else None


# -- sounds ---------------------------------------------------------------------------------------------------------
_RECORDING_NOTICE = re.compile(rf"company{_ID}-recording-notice")


def recording_notice(company_id: int) -> str:
    """The sound a company's own recording notice is (lc-recording-notice plays it when the file exists)."""
    return f"company{company_id}-recording-notice"


def parse_recording_notice(name: str | None) -> int | None:
    return _parse(_RECORDING_NOTICE, name)


# -- hold music -----------------------------------------------------------------------------------------------------
MUSIC_DIRECTORY = "music"  # in the instance directory: one folder per music class of a team's own
_MUSIC_CLASS = re.compile(rf"lc-team{_ID}")


def music_class(team_id: int) -> str:
    """A team's own class of hold music (musiconhold.conf) and its folder under MUSIC_DIRECTORY (lc-team3)."""
    return f"lc-team{team_id}"


def parse_music_class(name: str | None) -> int | None:
    return _parse(_MUSIC_CLASS, name)


def flow_sound(company_id: int, sound: str) -> str:
    """A company's sound for its flows' greeting and IVR steps, by the name the admin gave it (company1-flow-menu)."""
    return f"company{company_id}-flow-{sound}"


# -- the AstDB ------------------------------------------------------------------------------------------------------
AVAILABLE_FAMILY = "lc_available"  # lc-step-ring-agents rings an agent when ${DB(lc_available/<agent id>)} is 1
_AVAILABLE_KEY = re.compile(rf"(?:/?{AVAILABLE_FAMILY}/)?{_ID}")


def available_key(agent_id: int) -> str:
    """An agent's key in AVAILABLE_FAMILY."""
    return str(agent_id)


def parse_available_key(key: str | None) -> int | None:
    """The agent of a key, bare (7) or as DBGetTree names it (/lc_available/7)."""
    return _parse(_AVAILABLE_KEY, key)


# -- channels the controller creates --------------------------------------------------------------------------------
_OUTBOUND_CHANNEL = re.compile(r"lc-out-([0-9a-z]+)")


def outbound_channel_id(token: str) -> str:
    """The id an agent's outbound call's first channel is created with (lc-out-<token>), also its interaction's
    call id: chosen before the channel exists, so nothing of it is missed."""
    return f"lc-out-{token}"


def parse_outbound_channel_id(channel_id: str | None) -> str | None:
    match = _OUTBOUND_CHANNEL.fullmatch(channel_id or "")
    return match.group(1) if match else None


_CALLBACK_PLACE = re.compile(rf"lc-callback-{_ID}-{_ID};2")
_CALLBACK_DIAL = re.compile(rf"lc-callback-{_ID}-{_ID}")


def callback_channel_ids(callback_id: int, placement: int) -> tuple[str, str]:
    """The ids of a callback's Local channel pair, its ``placement``-th time in the queue: the half that waits in the
    queue (lc-callback-<id>-<n>, also the id of that attempt's interaction's call) and the half that dials the lead
    (...-dial). Chosen before the channels exist, so nothing of them is missed, and told apart after a restart."""
    dial = f"lc-callback-{callback_id}-{placement}"
    return f"{dial};2", dial


def parse_callback_place(channel_id: str | None) -> int | None:
    """The callback whose place in a queue this channel holds."""
    match = _CALLBACK_PLACE.fullmatch(channel_id or "")
    return int(match.group(1)) if match else None


def parse_callback_dial(channel_id: str | None) -> str | None:
    """The place channel of a callback's dialling half."""
    return f"{channel_id};2" if _CALLBACK_DIAL.fullmatch(channel_id or "") else None


def callback_local() -> str:
    """What originates a callback's Local channel pair: its first half runs lc-callback-place. /n: never optimised
    away, so the place channel stays the call's (its hangup is the call's end)."""
    return f"Local/s@{CALLBACK_PLACE_CONTEXT}/n"


_MONITOR_CHANNEL = re.compile(r"lc-spy-([0-9a-z]+)")


def monitor_channel_id(token: str) -> str:
    """The id of a supervisor's device channel listening to a call (lc-spy-<token>): chosen before the channel
    exists, so its hangup is known for the monitor's."""
    return f"lc-spy-{token}"


def parse_monitor_channel_id(channel_id: str | None) -> str | None:
    match = _MONITOR_CHANNEL.fullmatch(channel_id or "")
    return match.group(1) if match else None


# -- ChanSpy's groups -----------------------------------------------------------------------------------------------
_SPY_GROUP = re.compile(rf"c{_ID}")


def spy_group(company_id: int) -> str:
    """The SPYGROUP every channel of a company's calls carries, and the only group its supervisors' ChanSpy may
    spy on (g(c1)): Asterisk itself keeps one company's monitors off another's calls."""
    return f"c{company_id}"


def parse_spy_group(text: str | None) -> int | None:
    return _parse(_SPY_GROUP, text)


# -- a call's conference (dialplans/conference.conf) ----------------------------------------------------------------
_CONFERENCE = re.compile(rf"lc-call-{_ID}")


def conference_name(interaction_id: int) -> str:
    """The ConfBridge of a call's people, as lc-conf-agent / lc-conf-party name it (lc-call-<interaction id>)."""
    return f"lc-call-{interaction_id}"


def parse_conference_name(name: str | None) -> int | None:
    """The interaction whose conference this is; None for any other ConfBridge."""
    return _parse(_CONFERENCE, name)


def conference_channel_id(token: str) -> str:
    """The id of a channel the controller originates into a call's conference (lc-conf-<token>)."""
    return f"lc-conf-{token}"


def is_conference_channel_id(channel_id: str | None) -> bool:
    return (channel_id or "").startswith("lc-conf-")


ANSWERED_BY = "LC_ANSWERED_BY"  # a lead channel's variable: the endpoint of the agent who has the call (lc-agent-left)


def device_call_variable(endpoint: str) -> str:
    """The global naming the call an agent's device is on ("<lead channel id>,<interaction id>", empty: none), which
    lc-colleague puts in the INVITE of a desk phone's consult call (X-LC-Call, X-LC-Interaction)."""
    return f"LC_CALL_{endpoint}"


def consult_variables(interaction_id: int) -> tuple[str, str]:
    """The globals lc-consult keeps while a call's consult goes on: the consulting agent's channel id, and the
    consulted party's."""
    return f"LC_CONSULT_AGENT_{interaction_id}", f"LC_CONSULT_PEER_{interaction_id}"
