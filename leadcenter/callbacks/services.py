"""Queue callback: a caller waiting in a team's queue presses 1 to be called back and hangs up; their place is kept.

How (dialplans/callback.conf): the team's queue leaves for lc-callback-offer on 1, which tells the controller
(``call.callback_asked``, with the caller's place) and says goodbye. The original call concludes as a callback and a
Callback row is due at once. The sweeper (thread ``callbacks-timer``, every second) puts each due callback in the
queue: a call interaction (outbound, Incoming, ``callback_of`` the original, its attribution) and a Local channel
pair originated over ARI whose first half waits in the queue at the lead's place; when the queue connects an agent
to it, the second half dials the lead on the tracking number's trunk with that number as caller ID. From there the
call recorder follows it like any queue call (offered, answered by the agent: Active, on a call; the lead picking up
is ``call.lead_answered``; the end concludes it answered, or missed if the lead never picked up, and the agent goes
to wrap-up). When the place's channel ends: the lead answered, done; an agent dialled them and they did not, another
attempt ``callback_retry_seconds`` later, up to ``callback_attempts`` dials, then failed; the place was lost before
an agent took it (Asterisk restarted), it goes back in the queue at once.

Durable: the rows say what is due and which channel holds each place; a restarted controller's resynchronisation
(``telephony.synced``) puts back in the queue the places Asterisk no longer has.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from leadcenter.callbacks.models import Callback
from leadcenter.clock import Clock
from leadcenter.db import database
from leadcenter.events import Bus, Event
from leadcenter.interactions import lifecycle, notifier
from leadcenter.interactions.models import Interaction
from leadcenter.pbx import names
from leadcenter.phones import InvalidNumber, to_e164
from leadcenter.teams.models import Team
from leadcenter.timers import Sweeper

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0
RING_SECONDS = 45  # how long the lead's phone rings on a callback
# What a callback's call takes from the call the lead asked in.
ATTRIBUTION = ("source", "campaign", "landing_page", "referrer", "keywords", "medium", "click_id")

Verb = TypeVar("Verb")


def _callable(number: str) -> bool:
    try:
        return number == to_e164(number)
    except InvalidNumber:
        return False


class CallbackVerbs(Protocol[Verb]):
    """What callbacks ask of the telephony layer (telephony/service.py)."""

    def place_callback(self, place_id: str, dial_id: str, lead_number: str, *, variables: dict) -> Verb: ...

    def submit(self, verb: Verb) -> concurrent.futures.Future: ...


class Callbacks:
    def __init__(
        self,
        bus: Bus,
        telephony: CallbackVerbs[Any],
        clock: Clock,
        record: bool = True,
        home: Callable[[int], str] = lambda company_id: "",
    ):
        """``home(company_id)``: the Asterisk node the company's callbacks are placed on ("": the one Asterisk)."""
        self.bus, self.telephony, self.clock, self.record, self.home = bus, telephony, clock, record, home
        self.timers = Sweeper("callbacks-timer", self.sweep, SWEEP_SECONDS)
        bus.subscribe("call.callback_asked", self.on_asked)
        bus.subscribe("call.ended", self.on_ended)
        bus.subscribe("telephony.synced", self.on_synced)

    # -- the caller asks ----------------------------------------------------------------------------------------
    def on_asked(self, event: Event) -> None:
        """The caller pressed 1 in a team's queue: the call concludes as a callback, which is due at once."""
        original = Interaction.get_or_none(Interaction.channel_id == event.data["channel_id"])
        team = Team.get_or_none(Team.id == names.parse_queue(event.data.get("queue")))
        if original is None or team is None or team.company_id != original.company_id:
            data = event.data
            log.warning("callback asked on call %s in queue %s: no call or team", data["channel_id"], data["queue"])
            return
        if not _callable(original.lead_number):  # a withheld or odd caller ID: nothing to call back
            log.warning("callback asked on call %s from %r: not a number to call", original.id, original.lead_number)
            return
        at = event.data["at"]
        with database.atomic():
            if lifecycle.can(original, "ask_callback"):
                lifecycle.move(original, "ask_callback", at)
            callback, created = Callback.get_or_create(
                original=original,
                defaults={
                    "company": original.company_id,
                    "team": team,
                    "position": max(1, event.data.get("position") or 1),
                    "next_at": at,
                },
            )
        if created:
            notifier.changed(self.bus, original)
            log.info("call %s: callback %s asked in queue %s", original.channel_id, callback.id, team.queue_name)

    # -- into the queue ----------------------------------------------------------------------------------------
    def sweep(self) -> int:
        """Put every due callback in its queue; returns how many."""
        now = self.clock()
        due = Callback.select().where(Callback.state == "waiting", Callback.next_at <= now).order_by(Callback.next_at)
        return sum(self.place(callback, now) for callback in due)

    def place(self, callback: Callback, now: dt.datetime) -> bool:
        """The callback's call (Incoming, at its lead's place in the queue) and the channel that holds the place."""
        original: Interaction = callback.original
        number = original.tracking_number
        if number is None:  # the tracking number was deleted: nothing to call from
            Callback.update(state="failed").where(Callback.id == callback.id).execute()
            return False
        place_id, dial_id = names.callback_channel_ids(callback.id, callback.placements + 1)
        with database.atomic():
            claimed = (
                Callback.update(state="queued", placements=Callback.placements + 1, channel_id=place_id, next_at=None)
                .where(Callback.id == callback.id, Callback.state == "waiting")
                .execute()
            )
            if not claimed:
                return False
            call = Interaction.create(
                company=original.company_id,
                lead=original.lead_id,
                kind="call",
                direction="outbound",
                tracking_number=number,
                lead_number=original.lead_number,
                channel_id=place_id,
                node=self.home(original.company_id),
                started_at=now,
                status_changed_at=now,
                queue_team=callback.team_id,
                callback_of=original,
                **{field: getattr(original, field) for field in ATTRIBUTION},
            )
        notifier.changed(self.bus, call, created=True)
        variables = {
            "LC_OUTBOUND": "1",  # resynchronisation: its interaction exists already
            "LC_COMPANY": str(original.company_id),
            "LC_NUMBER": str(number.id),
            "__SPYGROUP": names.spy_group(original.company_id),  # its supervisors may monitor the agent's call
            "LC_CALLBACK_QUEUE": names.queue(callback.team_id),
            "LC_CALLBACK_POSITION": str(callback.position),
            "LC_CALLBACK_RING_SECONDS": str(RING_SECONDS),
            "LC_TRUNK": number.trunk.endpoint_name,
            "LC_CALLER_ID": number.number,
            "LC_RECORD": "1" if self.record else "0",
        }
        self.telephony.submit(
            self.telephony.place_callback(place_id, dial_id, original.lead_number, variables=variables)
        )
        log.info("callback %s: place %s in queue %s", callback.id, place_id, names.queue(callback.team_id))
        return True

    # -- out of it ---------------------------------------------------------------------------------------------
    def on_ended(self, event: Event) -> None:
        """A callback's place channel ended: the lead answered (done), was dialled and did not (another attempt
        later, or failed), or the place was lost before an agent took it (back in the queue at once)."""
        channel_id = event.data["channel_id"]
        if names.parse_callback_place(channel_id) is None:
            return
        self.place_ended(channel_id, event.data["at"])

    def place_ended(self, channel_id: str, at: dt.datetime) -> None:
        callback = Callback.get_or_none(Callback.channel_id == channel_id, Callback.state == "queued")
        call = Interaction.get_or_none(Interaction.channel_id == channel_id)
        if callback is None or call is None:
            return
        team: Team = callback.team
        if call.answered_at is not None:
            changes: dict[str, Any] = {"state": "done"}
        elif call.agent_id is None:  # nobody took the place: it was lost, not dialled
            changes = {"state": "waiting", "next_at": at}
        elif callback.attempts + 1 < team.callback_attempts:
            changes = {
                "state": "waiting",
                "attempts": callback.attempts + 1,
                "next_at": at + dt.timedelta(seconds=team.callback_retry_seconds),
            }
        else:
            changes = {"state": "failed", "attempts": callback.attempts + 1}
        Callback.update(**changes).where(Callback.id == callback.id, Callback.state == "queued").execute()
        log.info("callback %s: call %s ended, now %s", callback.id, channel_id, changes["state"])

    def on_synced(self, event: Event) -> None:
        """After a (re)connect: a place Asterisk no longer has (it ended while the controller was away, or Asterisk
        restarted) is settled as its end would have been. Only places made before Asterisk was read can be missing."""
        up = {call["channel_id"] for call in event.data["calls"]}
        gone = Callback.select().where(Callback.state == "queued", Callback.channel_id.not_in(list(up) or [""]))
        for channel_id in [c.channel_id for c in gone if c.channel_id]:
            call = Interaction.get_or_none(Interaction.channel_id == channel_id)
            # Of several Asterisk nodes, the one that resynced has the places of its calls only.
            if call is not None and call.started_at < event.data["read_at"] and call.node == event.data.get("node", ""):
                self.place_ended(channel_id, self.clock())
