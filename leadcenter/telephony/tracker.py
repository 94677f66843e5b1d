"""From Asterisk's events to domain events.

AMI tells us, per channel, what the dialplan and app_queue did; the tracker keeps the set of lead channels
(a caller on a trunk, announced by the dialplan's LeadCenterInbound UserEvent or found at resynchronisation)
and emits ``call.*`` and ``queue_member.*`` events about them. It holds no database and no sockets, so it is
tested by replaying AMI transcripts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping

from leadcenter.clock import Clock, from_timestamp
from leadcenter.pbx import names

log = logging.getLogger(__name__)

Publish = Callable[..., object]

# The dialplan contexts whose Dial rings agents outside a queue (app_queue's own dials are told by AgentCalled,
# AgentConnect and AgentRingNoAnswer, which carry the queue and the member).
_AGENT_DIAL_CONTEXTS = (names.RING_AGENTS_STEP, names.ANSWER_CONTEXT, names.TRANSFER_AGENT_CONTEXT)
# Every context that rings agents: how an agent's leg ended (DialEnd) is said the same way in all of them.
_RINGING_CONTEXTS = (names.QUEUE_STEP, *_AGENT_DIAL_CONTEXTS)
# AMI AttendedTransfer's parties, as (the lead, the colleague, the agent whose phone sent the REFER) prefixes.
# (the lead, the colleague, the agent's channel on the lead's call, the agent's channel on the consult call)
_ATTENDED_ROLES = (
    ("Transferee", "TransferTarget", "OrigTransferer", "SecondTransferer"),
    ("TransferTarget", "Transferee", "SecondTransferer", "OrigTransferer"),
)
_TRANSFER_KEYS = ("Result", "IsExternal", "DestType", "DestBridgeUniqueid", "DestApp")
# Why a party dialled into a call's conference or consult did not answer: by Dial's DIALSTATUS (a consult) and by
# its channel's hangup cause (a party originated into the conference; anything else: it could not be reached).
_UNANSWERED_STATUS = {
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CHANUNAVAIL": "unreachable",
    "CONGESTION": "unreachable",
}
_UNANSWERED_CAUSE = {17: "busy", 21: "refused", 0: "no_answer", 16: "no_answer", 18: "no_answer", 19: "no_answer"}


def _is_callback(channel_id: str) -> bool:
    """One of a queue callback's Local channel pair (names.callback_channel_ids)."""
    return names.parse_callback_place(channel_id) is not None or names.parse_callback_dial(channel_id) is not None


def as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class CallTracker:
    def __init__(self, publish: Publish, clock: Clock):
        # Events name a call by its id (interaction.channel_id, the X-LC-Call the apps know): the lead's channel of
        # an inbound call; for an agent's outbound call, the agent's channel it was placed from, whichever channel
        # the lead is on (the lead's own, once they answered: see _outbound_answered).
        self._publish = lambda name, **data: publish(name, **self._by_call(data))
        self.clock = clock
        # The leads' channels: an inbound caller's; an agent's outbound channel until the lead answers it, then the
        # lead's channel its Dial made. Their hangup ends the call.
        self.lead_channels: set[str] = set()
        # While a resynchronisation reads Asterisk, events keep coming: calls that begin or end meanwhile are kept
        # aside so that the snapshot, older than they are, does not undo them.
        self._began_during_sync: set[str] | None = None
        self._ended_during_sync: set[str] = set()
        # Agents' outbound calls not answered yet (the agent's channel; a subset of lead_channels): the lead
        # answering is a DialEnd of that channel.
        self.outbound_channels: set[str] = set()
        # Answered outbound calls: the lead's channel -> the call's id (the agent's channel), and back.
        self.call_of: dict[str, str] = {}
        self.lead_of: dict[str, str] = {}
        # Outbound calls whose originate is under way: a resynchronisation's snapshot may not show them yet.
        self.placing: set[str] = set()
        # The queue each lead channel last joined (QueueCallerJoin), so that a queue's agent leg that rang out can
        # name its queue (DialEnd does not): whose ring-out setting applies.
        self.queue_of: dict[str, str] = {}
        # The parties besides the lead who joined a call's conference, by channel id: interaction id.
        self.conference_parties: dict[str, int] = {}
        # The other parties' channels on a lead's call (an agent's answered leg, an external number a transfer
        # reached) -> the lead channel: their hangup ends their leg (call.party_left).
        self.party_of: dict[str, str] = {}
        # A desk phone's consult calls (lc-colleague): the agent's channel -> the colleague's (id, name) it dials. An
        # attended transfer sent before Dial has bridged the two names no transfer target (the consult is still
        # Dial's, DestType App): the colleague is the one this channel was dialling.
        self.consulting: dict[str, tuple[str, str]] = {}

    def event_time(self, message: Mapping) -> dt.datetime:
        """When Asterisk says the event happened (manager.conf timestampevents); when it does not say, now."""
        try:
            return from_timestamp(float(message["Timestamp"]))
        except (KeyError, ValueError):
            return self.clock()

    def track_callback(self, channel_id: str) -> None:
        """A queue callback's place channel: a lead channel from before it exists (its events are a queue caller's)."""
        self.lead_channels.add(channel_id)
        if self._began_during_sync is not None:
            self._began_during_sync.add(channel_id)

    def track_outbound(self, channel_id: str) -> None:
        self.lead_channels.add(channel_id)
        self.outbound_channels.add(channel_id)
        if self._began_during_sync is not None:
            self._began_during_sync.add(channel_id)

    def follow(self, parties: Mapping[str, str]) -> None:
        """Parties on lead calls (party channel -> the call's id) known from elsewhere (the database, after a
        restart): each hangup ends their leg as an answered party's does. Those of calls that are over are left."""
        for party, call_id in parties.items():
            if (lead := self.lead_channel(call_id)) in self.lead_channels:
                self.party_of.setdefault(party, lead)

    def outbound_calls(self) -> set[str]:
        """The agents' outbound calls followed now (their ids), answered or not."""
        return self.outbound_channels | set(self.lead_of)

    def follows(self, channel_id: str) -> bool:
        """Whether ``channel_id`` is a call's (its id, its lead's channel) or a party's on one that this tracker
        follows."""
        return channel_id in self.lead_channels or channel_id in self.lead_of or channel_id in self.party_of

    def lead_channel(self, call_id: str) -> str:
        """The channel the lead of call ``call_id`` is on now (what a transfer moves, what ends the call)."""
        return self.lead_of.get(call_id, call_id)

    def call_id(self, channel_id: str) -> str:
        """The id of the call whose lead is on ``channel_id``."""
        return self.call_of.get(channel_id, channel_id)

    def _by_call(self, data: dict) -> dict:
        if data.get("channel_id") in self.call_of:
            return {**data, "channel_id": self.call_of[data["channel_id"]]}
        return data

    def _outbound_answered(self, call_id: str, lead_channel_id: str) -> None:
        """The lead picked up an agent's outbound call: the call follows the lead's channel from now on (a transfer
        moves it, its hangup ends the call), and the agent's channel is a party on it, whose hangup ends their leg
        as an inbound call's agent leg's does."""
        self.outbound_channels.discard(call_id)
        self.lead_channels.discard(call_id)
        self.lead_channels.add(lead_channel_id)
        self.call_of[lead_channel_id], self.lead_of[call_id] = call_id, lead_channel_id
        self.party_of[call_id] = lead_channel_id
        if self._began_during_sync is not None:  # what the snapshot says of the call is older
            self._began_during_sync.add(lead_channel_id)
            self._ended_during_sync.add(call_id)

    def forget(self, channel_id: str) -> None:
        self.lead_channels.discard(channel_id)
        self.lead_of.pop(self.call_of.pop(channel_id, ""), None)
        # The lead gone, the recorder ends every leg of the call: its parties' hangups need no telling.
        self.party_of = {party: lead for party, lead in self.party_of.items() if lead != channel_id}
        self.outbound_channels.discard(channel_id)
        self.queue_of.pop(channel_id, None)

    def handle(self, message: Mapping) -> None:
        name = message.get("Event")
        handler = getattr(self, f"_on_{name}", None)
        if handler is not None:
            handler(message)

    # -- the dialplan's announcements -------------------------------------------------------------------------
    def _on_UserEvent(self, m: Mapping) -> None:
        kind = m.get("UserEvent")
        # A queue callback's call is its place channel's, though its dialling half records it (lc-callback-dial).
        channel_id = names.parse_callback_dial(m.get("Uniqueid")) or m.get("Uniqueid")
        if kind == "LeadCenterInbound" and channel_id is not None:
            self.lead_channels.add(channel_id)
            if self._began_during_sync is not None:
                self._began_during_sync.add(channel_id)
            self._publish(
                "call.inbound",
                channel_id=channel_id,
                channel=m.get("Channel"),
                caller_number=m.get("CallerIDNum", ""),
                caller_name=m.get("CallerIDName", ""),
                company_id=as_int(m.get("Company")),
                number_id=as_int(m.get("Number")),
                flow_id=as_int(m.get("Flow")),
                at=self.event_time(m),
            )
        elif kind == "LeadCenterRecording" and (call_id := self._recorded_call(channel_id, m)) is not None:
            self._publish("call.recording_started", channel_id=call_id, file=m.get("File"), at=self.event_time(m))
        elif kind == "LeadCenterFlowEnded" and channel_id in self.lead_channels:
            self._publish("call.flow_ended", channel_id=channel_id, at=self.event_time(m))
        elif kind == "LeadCenterCallback" and channel_id in self.lead_channels:
            self._publish(
                "call.callback_asked",
                channel_id=channel_id,
                queue=m.get("Queue"),
                position=as_int(m.get("Position")),
                at=self.event_time(m),
            )
        elif kind == "LeadCenterVoicemail" and channel_id in self.lead_channels:
            self._publish(
                "call.voicemail_left",
                channel_id=channel_id,
                channel=m.get("Channel"),
                mailbox=m.get("Mailbox"),
                status=m.get("Status", ""),
                at=self.event_time(m),
            )

    def _recorded_call(self, channel_id: str | None, m: Mapping) -> str | None:
        """The lead channel whose call a recording on ``channel_id`` is (None: no lead's call). lc-outbound records
        on the lead's leg once they answered (Dial's U), which Asterisk tells before the answer's DialEnd: that leg
        is not the call's lead channel yet, but its Linkedid is the agent's channel the call was placed from."""
        if channel_id in self.lead_channels:
            return channel_id
        return m["Linkedid"] if m.get("Linkedid") in self.outbound_channels else None

    # -- app_queue ---------------------------------------------------------------------------------------------
    def _on_QueueCallerJoin(self, m: Mapping) -> None:
        if m.get("Uniqueid") in self.lead_channels:
            self.queue_of[m["Uniqueid"]] = m.get("Queue", "")
            self._publish(
                "call.queued",
                channel_id=m["Uniqueid"],
                queue=m.get("Queue"),
                position=as_int(m.get("Position")),
                at=self.event_time(m),
            )

    def _on_AgentCalled(self, m: Mapping) -> None:
        if m.get("Uniqueid") in self.lead_channels:
            self._publish(
                "call.agent_offered",
                channel_id=m["Uniqueid"],
                queue=m.get("Queue"),
                agent_id=names.parse_queue_member(m.get("MemberName")),
                agent_channel=m.get("DestChannel"),
                agent_channel_id=m.get("DestUniqueid"),
                at=self.event_time(m),
            )

    def _on_AgentRingNoAnswer(self, m: Mapping) -> None:
        if m.get("Uniqueid") in self.lead_channels:
            self._publish(
                "call.agent_missed",
                channel_id=m["Uniqueid"],
                queue=m.get("Queue"),
                agent_id=names.parse_queue_member(m.get("MemberName")),
                ring_ms=as_int(m.get("RingTime")),
                at=self.event_time(m),
            )

    def _answered(
        self,
        channel_id: str,
        agent_id: int | None,
        agent_channel_id: str | None,
        at: dt.datetime,
        *,
        queue: str | None = None,
        hold_seconds: int | None = None,
    ) -> None:
        """call.answered: an agent took the lead's call, on ``agent_channel_id`` (a queue's, with how long the caller
        waited; a ring-agents step's or Answer's; a colleague an attended transfer joined to the lead)."""
        self._publish(
            "call.answered",
            channel_id=channel_id,
            queue=queue,
            agent_id=agent_id,
            agent_channel_id=agent_channel_id,
            hold_seconds=hold_seconds,
            at=at,
        )

    def _on_AgentConnect(self, m: Mapping) -> None:
        if m.get("Uniqueid") in self.lead_channels:
            self._party(m)
            self._answered(
                m["Uniqueid"],
                names.parse_queue_member(m.get("MemberName")),
                m.get("DestUniqueid"),
                self.event_time(m),
                queue=m.get("Queue"),
                hold_seconds=as_int(m.get("HoldTime")),
            )

    def _party(self, m: Mapping) -> None:
        """The answered callee of a lead's call (DestUniqueid) is on it until its channel hangs up."""
        if m.get("DestUniqueid"):
            self.party_of[m["DestUniqueid"]] = m["Uniqueid"]

    # -- Dial to agents outside a queue (ring-agents steps, an agent answering from Incoming) ----------------
    def _agent_dial(self, m: Mapping) -> int | None:
        """The agent a Dial of a lead's call rings, for the dials this tracker follows; None otherwise."""
        if m.get("Uniqueid") in self.lead_channels and m.get("Context") in _AGENT_DIAL_CONTEXTS:
            return names.parse_channel(m.get("DestChannel"))
        return None

    def _on_DialBegin(self, m: Mapping) -> None:
        if m.get("Context") == names.COLLEAGUE_CONTEXT and m.get("Uniqueid") and m.get("DestUniqueid"):
            self.consulting[m["Uniqueid"]] = (m["DestUniqueid"], m.get("DestChannel", ""))
            return
        if m.get("Context") == names.CONSULT_CONTEXT and as_int(m.get("Exten")) is not None:
            # lc-consult's Dial: the consulted party's channel, whose answer or not settles the consult.
            self._publish(
                "call.consult_dialled",
                interaction_id=as_int(m.get("Exten")),
                party_channel_id=m.get("DestUniqueid", ""),
                at=self.event_time(m),
            )
            return
        agent = self._agent_dial(m)
        if agent is not None:
            self._publish(
                "call.agent_offered",
                channel_id=m["Uniqueid"],
                queue=None,
                agent_id=agent,
                agent_channel=m.get("DestChannel"),
                agent_channel_id=m.get("DestUniqueid"),
                at=self.event_time(m),
            )

    def _on_DialEnd(self, m: Mapping) -> None:
        if m.get("Context") == names.CONSULT_CONTEXT:
            # Unanswered, lc-consult sends the agent back to the lead (CANCEL: the agent hung up meanwhile).
            failure = _UNANSWERED_STATUS.get(m.get("DialStatus", ""))
            if failure is not None:
                self._unanswered(m.get("DestUniqueid", ""), failure, m)
            return
        callback = names.parse_callback_dial(m.get("Uniqueid"))
        if callback is not None:
            # A queue callback's dialling half (lc-callback-dial): the lead answered the agent's call, or not (its
            # place channel's hangup follows). Told first: after a resync both halves are outbound channels too. The
            # agent's leg is the queue's (AgentConnect): the place channel is the lead's side of the call, not theirs.
            if m.get("DialStatus") == "ANSWER":
                self._publish("call.lead_answered", channel_id=callback, agent_channel_id=None, at=self.event_time(m))
            return
        outbound = m.get("Uniqueid") in self.outbound_channels or (
            m.get("Uniqueid") in self.lead_of and self.lead_of[m["Uniqueid"]] == m.get("DestUniqueid")
        )  # (a resync while the lead's phone rang already knew its channel)
        if outbound and m.get("DialStatus") == "ANSWER":
            # An agent's outbound call: lc-outbound's Dial of the lead answered. (Not a queue callback's place
            # channel, outbound too after a resync, whose queue's Dial of the agent answered: that is no lead.)
            if m.get("DestUniqueid") and m.get("Context") == names.OUTBOUND_CONTEXT:
                self._outbound_answered(m["Uniqueid"], m["DestUniqueid"])
            # The agent is on the channel the call was placed from: their leg starts with the talk.
            self._publish(
                "call.lead_answered", channel_id=m["Uniqueid"], agent_channel_id=m["Uniqueid"], at=self.event_time(m)
            )
            return
        if (
            m.get("Uniqueid") in self.lead_channels
            and m.get("Context") == names.TRANSFER_NUMBER_CONTEXT
            and m.get("DialStatus") == "ANSWER"
        ):
            self._party(m)  # a blind transfer to an external number: it answered
            self._publish(
                "call.party_answered",
                channel_id=m["Uniqueid"],
                party_channel_id=m.get("DestUniqueid"),
                number=m.get("Exten", ""),
                at=self.event_time(m),
            )
            return
        rung = names.parse_channel(m.get("DestChannel"))  # the agent whose leg this was, if an agent's
        if (
            m.get("DialStatus") == "NOANSWER"
            and m.get("Uniqueid") in self.lead_channels
            and m.get("Context") in _RINGING_CONTEXTS
            and rung is not None
        ):
            # An agent's leg rang out (the queue's or the step's ring time), or was hung up from our side (an app
            # Decline looks the same to Asterisk): whoever decides about missed offers tells them apart.
            self._publish(
                "call.agent_rang_out",
                channel_id=m["Uniqueid"],
                queue=self.queue_of.get(m["Uniqueid"]) if m.get("Context") == names.QUEUE_STEP else None,
                agent_id=rung,
                agent_channel_id=m.get("DestUniqueid"),
                at=self.event_time(m),
            )
        agent = self._agent_dial(m)
        if agent is None:
            return
        if m.get("DialStatus") == "ANSWER":
            self._party(m)
            self._answered(m["Uniqueid"], agent, m.get("DestUniqueid"), self.event_time(m))
        else:
            self._publish(
                "call.agent_missed",
                channel_id=m["Uniqueid"],
                queue=None,
                agent_id=agent,
                ring_ms=None,
                at=self.event_time(m),
            )

    def _on_QueueCallerAbandon(self, m: Mapping) -> None:
        # Sent when the caller hangs up in the queue and also when the queue step times out (the flow goes on):
        # whether the caller abandoned the call is only known from how the call ends.
        if m.get("Uniqueid") in self.lead_channels:
            self._publish(
                "call.left_queue",
                channel_id=m["Uniqueid"],
                queue=m.get("Queue"),
                hold_seconds=as_int(m.get("HoldTime")),
                at=self.event_time(m),
            )

    def _on_QueueMemberPause(self, m: Mapping) -> None:
        self._publish(
            "queue_member.paused",
            queue=m.get("Queue"),
            agent_id=names.parse_queue_member(m.get("MemberName")),
            paused=m.get("Paused") == "1",
            reason=m.get("PausedReason", ""),
            at=self.event_time(m),
        )

    # -- desk phones' transfer key (REFER) ----------------------------------------------------------------------
    def _on_BlindTransfer(self, m: Mapping) -> None:
        # The agent's phone sent the lead to a colleague's extension (lc-refer): lc-transfer rings them next.
        if m.get("TransfereeUniqueid") in self.lead_channels:
            self._publish(
                "call.referred",
                channel_id=m["TransfereeUniqueid"],
                agent_id=names.parse_channel(m.get("TransfererChannel")),
                extension=m.get("Extension", ""),
                succeeded=m.get("Result") == "Success",
                at=self.event_time(m),
            )

    def _on_AttendedTransfer(self, m: Mapping) -> None:
        """The agent's phone consulted a colleague (lc-colleague) and sent REFER with Replaces: Asterisk bridged the
        lead with the colleague and hangs up both of the agent's calls. Told as the blind REFER (call.referred, the
        colleague's agent id as the extension), then as the colleague answering the lead (call.answered): their leg
        is on the call from now until their channel hangs up."""
        # The REFER came in the lead's call (its Replaces naming the consult call) or, the other way round, in the
        # consult call: the lead is the transferee or the target, the colleague the other one.
        roles = [role for role in _ATTENDED_ROLES if m.get(f"{role[0]}Uniqueid") in self.lead_channels]
        log.info(
            "attended transfer (%s): %s",
            "a lead's call" if roles else "no lead's call",
            {key: value for key, value in m.items() if key.endswith(("Uniqueid", "Channel")) or key in _TRANSFER_KEYS},
        )
        if not roles:
            return
        lead, colleague, transferer, consulting = roles[0]
        lead_id, colleague_id = m[f"{lead}Uniqueid"], m.get(f"{colleague}Uniqueid") or ""
        colleague_channel = m.get(f"{colleague}Channel")
        if not colleague_id:  # the REFER came before Dial bridged the consult call: whom it was dialling
            colleague_id, colleague_channel = self.consulting.get(m.get(f"{consulting}Uniqueid") or "", ("", ""))
        to_agent = names.parse_channel(colleague_channel)
        succeeded = m.get("Result") == "Success" and to_agent is not None and bool(colleague_id)
        at = self.event_time(m)
        self._publish(
            "call.referred",
            channel_id=lead_id,
            agent_id=names.parse_channel(m.get(f"{transferer}Channel")),
            extension=str(to_agent or ""),
            succeeded=succeeded,
            at=at,
        )
        if succeeded:
            self.party_of[colleague_id] = lead_id
            self._answered(lead_id, to_agent, colleague_id, at)

    # -- hold ------------------------------------------------------------------------------------------------
    def _held_call(self, m: Mapping) -> str | None:
        """The call a channel belongs to: the channel itself (an outbound call's agent channel, a caller), or the
        call it is linked to (an agent's leg of an inbound call carries the caller's Linkedid; every channel of an
        outbound call, the lead's too, the agent's channel's)."""
        for key in ("Uniqueid", "Linkedid"):
            if m.get(key) in self.lead_channels or m.get(key) in self.lead_of:
                return m[key]
        return None

    def _on_Hold(self, m: Mapping) -> None:
        # Raised on the channel whose phone put the other side on hold (a re-INVITE sendonly), until its Unhold.
        channel_id = self._held_call(m)
        if channel_id is not None:
            self._publish("call.held", channel_id=channel_id, holder=m.get("Uniqueid"), at=self.event_time(m))

    def _on_Unhold(self, m: Mapping) -> None:
        channel_id = self._held_call(m)
        if channel_id is not None:
            self._publish("call.unheld", channel_id=channel_id, holder=m.get("Uniqueid"), at=self.event_time(m))

    # -- a call's conference (consult transfers, conferences) -------------------------------------------------
    def _on_ConfbridgeJoin(self, m: Mapping) -> None:
        """A party besides the lead joined a call's conference (ConfBridge lc-call-<interaction id>). They are on
        the call until their channel hangs up: an agent consulting a colleague leaves the conference (and comes
        back) while still on the call."""
        interaction_id = names.parse_conference_name(m.get("Conference"))
        channel_id = m.get("Uniqueid")
        if interaction_id is None or channel_id is None or channel_id in self.lead_channels:
            return
        self.conference_parties[channel_id] = interaction_id
        self._publish(
            "call.conference_joined",
            interaction_id=interaction_id,
            channel_id=channel_id,
            agent_id=names.parse_channel(m.get("Channel")),
            at=self.event_time(m),
        )

    def _unanswered(self, party_channel_id: str, failure: str, m: Mapping) -> None:
        self._publish(
            "call.party_unanswered", party_channel_id=party_channel_id, failure=failure, at=self.event_time(m)
        )

    # -- agents' devices ---------------------------------------------------------------------------------------
    def _on_DeviceStateChange(self, m: Mapping) -> None:
        """An agent's softphone or desk phone: registered or not, reachable (qualify) or not, free or in use."""
        endpoint = names.parse_interface(m.get("Device"))
        if endpoint is not None:
            self._publish(
                "telephony.device_state",
                endpoint=endpoint,
                agent_id=names.parse_endpoint(endpoint),
                state=m.get("State", ""),
                at=self.event_time(m),
            )

    # -- voicemail ---------------------------------------------------------------------------------------------
    def _on_MessageWaiting(self, m: Mapping) -> None:
        mailbox = names.parse_mailbox_address(m.get("Mailbox"))
        if mailbox is not None:
            self._publish(
                "voicemail.waiting",
                mailbox=mailbox,
                new=as_int(m.get("New")) or 0,
                old=as_int(m.get("Old")) or 0,
                at=self.event_time(m),
            )

    # -- channels ----------------------------------------------------------------------------------------------
    def _on_Hangup(self, m: Mapping) -> None:
        channel_id = m.get("Uniqueid")
        self.consulting.pop(channel_id or "", None)
        if channel_id in self.conference_parties:
            self._publish(
                "call.conference_left",
                interaction_id=self.conference_parties.pop(channel_id),
                channel_id=channel_id,
                at=self.event_time(m),
            )
        elif channel_id and names.is_conference_channel_id(channel_id):  # originated into a conference, never joined
            self._unanswered(channel_id, _UNANSWERED_CAUSE.get(as_int(m.get("Cause")) or 0, "unreachable"), m)
        if names.parse_monitor_channel_id(channel_id) is not None:  # a supervisor's monitor ended
            self._publish("call.monitor_ended", channel_id=channel_id, at=self.event_time(m))
        if channel_id in self.party_of:
            self._publish(
                "call.party_left",
                channel_id=self.party_of.pop(channel_id),
                party_channel_id=channel_id,
                at=self.event_time(m),
            )
        if channel_id in self.lead_channels:
            call_id = self.call_id(channel_id)
            self.forget(channel_id)
            if self._began_during_sync is not None:
                self._ended_during_sync.add(channel_id)
            self._publish(
                "call.ended",
                channel_id=call_id,
                cause=as_int(m.get("Cause")),
                cause_text=m.get("Cause-txt", ""),
                at=self.event_time(m),
            )

    # -- resynchronisation -------------------------------------------------------------------------------------
    def sync_started(self) -> None:
        """A resynchronisation is about to read Asterisk's channels."""
        self._began_during_sync, self._ended_during_sync = set(), set()

    def synced(self, calls: list[dict]) -> None:
        """The lead channels Asterisk had when read replace what we knew, except for calls that began or ended
        since the read started (their events are newer than the snapshot)."""
        began, ended = self._began_during_sync or set(), self._ended_during_sync
        # An answered outbound call is up as its lead's channel (lead_channel_id).
        leads = {call.get("lead_channel_id") or call["channel_id"]: call["channel_id"] for call in calls}
        began = began | self.placing
        self.lead_channels = (set(leads) | began) - ended
        # A queue callback's Local pair carries LC_OUTBOUND too, but its place is a lead's channel as a caller's is
        # (track_callback): no agent's call waiting for the lead to answer, whose Dial answered (a transfer's to a
        # colleague) would be taken for the lead picking up.
        self.outbound_channels = (
            {
                call["channel_id"]
                for call in calls
                if call.get("outbound") and not call.get("lead_channel_id") and not _is_callback(call["channel_id"])
            }
            | (self.outbound_channels & began)
        ) - ended
        self.call_of = {
            lead: call_id
            for lead, call_id in (*leads.items(), *((c, i) for c, i in self.call_of.items() if c in began))
            if lead != call_id and lead in self.lead_channels
        }
        self.lead_of = {call_id: lead for lead, call_id in self.call_of.items()}
        for lead, call_id in self.call_of.items():  # the agent's channel, if still up, is a party on its call
            self.party_of.setdefault(call_id, lead)
        self._began_during_sync, self._ended_during_sync = None, set()
