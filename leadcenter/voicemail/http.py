"""The voicemail API: an agent marks a message in their own mailbox handled. It leaves their Incoming for their
Recent, and their mailbox's INBOX for Old: their desk phone's light goes off with the last one. The message itself
is the interaction's (GET /api/v1/interactions/<id>/voicemail plays it)."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.errors import ApiError
from leadcenter.interactions import notifier
from leadcenter.interactions.models import Interaction
from leadcenter.interactions.schemas import InteractionOut
from leadcenter.voicemail import services
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped

bp = Blueprint("voicemail", __name__, url_prefix="/api/v1")


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/handled",
    response=InteractionOut,
    summary="Mark a message in my own mailbox handled: it leaves my Incoming for my Recent (marking it again "
    "changes nothing)",
)
def mark_handled(principal: Principal, interaction_id: int):
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    if principal.agent is None:
        raise ApiError("not-an-agent", "only agents have a mailbox of their own")
    controller = ports.controller()
    try:
        changed = services.mark_handled(interaction, principal.agent, controller.clock())
    except services.NotYours:
        raise ApiError(
            "not-your-voicemail", "only the agent whose mailbox holds the message marks it handled"
        ) from None
    if changed:
        controller.handled_messages.file(interaction)  # the desk phone's light; the audio's path follows it
        notifier.changed(controller.bus, interaction)
    return InteractionOut.from_row(interaction)
