"""The prompts API: upload (PUT, a WAV file as the body), listen (GET, Range requests answered) and remove (DELETE:
callers hear the standard prompt again) an agent's own voicemail greeting, the company's greeting, and the notice
that flows with "announce recording" play."""

from __future__ import annotations

import re
import wave

from flask import Blueprint, send_file

from leadcenter.accounts.http import in_use
from leadcenter.agents.models import Agent
from leadcenter.audit.services import record
from leadcenter.errors import ApiError, invalid, not_found
from leadcenter.flows.models import CallFlow
from leadcenter.flows.schemas import FlowSoundList, FlowSoundName, FlowSoundOut
from leadcenter.flows.services import walk
from leadcenter.pbx import names
from leadcenter.prompts import audio
from leadcenter.prompts.schemas import PromptOut
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal

bp = Blueprint("prompts", __name__, url_prefix="/api/v1")

WAV = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave")


def _my_agent(principal: Principal) -> Agent:
    if principal.agent is None:
        raise ApiError("not-an-agent", "only agents have a mailbox of their own")
    return principal.agent


def _store(relative: str, upload: bytes, url: str) -> PromptOut:
    try:
        path = audio.install(ports.controller().instance, relative, upload)
    except audio.PromptError as exc:
        raise invalid({"body": str(exc)}, "the audio cannot be used") from None
    except audio.ConverterMissing as exc:
        raise ApiError("converter-missing", str(exc)) from None
    except audio.ConverterBusy as exc:
        raise ApiError("converter-busy", str(exc), headers={"Retry-After": "5"}) from None
    with wave.open(str(path)) as stored:
        return PromptOut(url=url, seconds=round(stored.getnframes() / stored.getframerate(), 2))


def _send(relative: str):
    path = ports.controller().instance.dir / relative
    if not path.is_file():
        raise not_found("recorded prompt (the standard one plays)")
    return send_file(path, mimetype="audio/wav", conditional=True)


def _remove(relative: str) -> None:
    (ports.controller().instance.dir / relative).unlink(missing_ok=True)


MY_GREETING = "/api/v1/me/voicemail-greeting"


@endpoint(
    bp,
    "PUT",
    "/me/voicemail-greeting",
    upload=WAV,
    response=PromptOut,
    summary="Record my voicemail greeting: callers who reach my mailbox hear it",
)
def put_my_greeting(principal: Principal, upload: bytes):
    agent = _my_agent(principal)
    relative = audio.greeting_file(names.agent_mailbox(agent.id))
    stored = _store(relative, upload, MY_GREETING)
    Agent.update(voicemail_greeting=relative).where(Agent.id == agent.id).execute()
    return stored


@endpoint(
    bp, "GET", "/me/voicemail-greeting", summary="My voicemail greeting (audio; 404 while the standard one plays)"
)
def get_my_greeting(principal: Principal):
    return _send(audio.greeting_file(names.agent_mailbox(_my_agent(principal).id)))


@endpoint(bp, "DELETE", "/me/voicemail-greeting", status=204, summary="Go back to the standard voicemail greeting")
def delete_my_greeting(principal: Principal):
    agent = _my_agent(principal)
    _remove(audio.greeting_file(names.agent_mailbox(agent.id)))
    Agent.update(voicemail_greeting=None).where(Agent.id == agent.id).execute()


COMPANY_GREETING = "/api/v1/company/voicemail-greeting"


@endpoint(
    bp,
    "PUT",
    "/company/voicemail-greeting",
    role="admin",
    upload=WAV,
    response=PromptOut,
    summary="Record the company mailbox's greeting (flows' voicemail steps without an agent)",
)
def put_company_greeting(principal: Principal, upload: bytes):
    stored = _store(audio.greeting_file(names.company_mailbox(principal.company.id)), upload, COMPANY_GREETING)
    record(principal, "recorded", "greeting", None, None, stored.model_dump(mode="json"), "the company mailbox's")
    return stored


@endpoint(
    bp,
    "GET",
    "/company/voicemail-greeting",
    summary="The company mailbox's greeting (audio; 404 while the standard one plays)",
)
def get_company_greeting(principal: Principal):
    return _send(audio.greeting_file(names.company_mailbox(principal.company.id)))


@endpoint(
    bp,
    "DELETE",
    "/company/voicemail-greeting",
    role="admin",
    status=204,
    summary="The company mailbox goes back to the standard greeting",
)
def delete_company_greeting(principal: Principal):
    _remove(audio.greeting_file(names.company_mailbox(principal.company.id)))
    record(principal, "deleted", "greeting", None, None, None, "the company mailbox's: the standard one plays")


NOTICE = "/api/v1/company/recording-notice"


@endpoint(
    bp,
    "PUT",
    "/company/recording-notice",
    role="admin",
    upload=WAV,
    response=PromptOut,
    summary='Record the company\'s "this call may be recorded" notice, played by flows that announce recording',
)
def put_recording_notice(principal: Principal, upload: bytes):
    stored = _store(audio.notice_file(principal.company.id), upload, NOTICE)
    record(principal, "recorded", "recording_notice", None, None, stored.model_dump(mode="json"))
    return stored


@endpoint(
    bp,
    "GET",
    "/company/recording-notice",
    summary="The company's recording notice (audio; 404 while Lead Center's standard notice plays)",
)
def get_recording_notice(principal: Principal):
    return _send(audio.notice_file(principal.company.id))


@endpoint(
    bp,
    "DELETE",
    "/company/recording-notice",
    role="admin",
    status=204,
    summary="Flows go back to Lead Center's standard recording notice",
)
def delete_recording_notice(principal: Principal):
    _remove(audio.notice_file(principal.company.id))
    record(principal, "deleted", "recording_notice", None, None, None, "the standard notice plays")


# -- the company's flow sounds: greetings and IVR menus -------------------------------------------------------------
FLOW_SOUNDS = "/api/v1/flow-sounds"
_SOUND_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def flow_sound_names(company_id: int) -> set[str]:
    """The names of the company's uploaded flow sounds."""
    folder = ports.controller().instance.dir / "sounds"
    prefix = names.flow_sound(company_id, "")
    return {p.stem[len(prefix) :] for p in folder.glob(f"{prefix}*.wav")} if folder.is_dir() else set()


def _sound(principal: Principal, name: str, exists: bool = True) -> str:
    """The file of the company's flow sound ``name``; 404 unless it ``exists`` (uploading makes it)."""
    if not _SOUND_NAME.fullmatch(name):
        raise invalid({"name": "lower-case letters, digits and '-', at most 40"})
    relative = audio.flow_sound_file(principal.company.id, name)
    if exists and not (ports.controller().instance.dir / relative).is_file():
        raise not_found(f"flow sound {name!r}")
    return relative


@endpoint(
    bp,
    "GET",
    "/flow-sounds",
    role="supervisor",
    response=FlowSoundList,
    summary="The company's sounds that flows' greeting and IVR menu steps play",
)
def list_flow_sounds(principal: Principal):
    sounds = []
    for name in sorted(flow_sound_names(principal.company.id)):
        with wave.open(str(ports.controller().instance.dir / _sound(principal, name))) as stored:
            seconds = round(stored.getnframes() / stored.getframerate(), 2)
        sounds.append(FlowSoundOut(name=name, url=f"{FLOW_SOUNDS}/{name}", seconds=seconds))
    return FlowSoundList(sounds)


@endpoint(
    bp,
    "POST",
    "/flow-sounds",
    role="admin",
    query=FlowSoundName,
    upload=WAV,
    response=PromptOut,
    summary="Upload or record a sound for flows (a greeting, an IVR menu) by name; a name taken is replaced, in "
    "every flow that plays it",
)
def put_flow_sound(principal: Principal, query: FlowSoundName, upload: bytes):
    stored = _store(_sound(principal, query.name, exists=False), upload, f"{FLOW_SOUNDS}/{query.name}")
    record(principal, "recorded", "flow_sound", None, None, stored.model_dump(mode="json"), query.name)
    return stored


@endpoint(bp, "GET", "/flow-sounds/<sound>", role="supervisor", summary="A flow sound (audio)")
def get_flow_sound(principal: Principal, sound: str):
    return _send(_sound(principal, sound))


@endpoint(
    bp,
    "DELETE",
    "/flow-sounds/<sound>",
    role="admin",
    status=204,
    summary="Delete a flow sound no flow plays",
)
def delete_flow_sound(principal: Principal, sound: str):
    relative = _sound(principal, sound)
    using = [
        f"flow {flow.name!r}"
        for flow in CallFlow.select().where(CallFlow.company == principal.company).order_by(CallFlow.id)
        if any(step.get("sound") == sound for _, step in walk(flow.steps))
    ]
    if using:
        raise in_use(f"flow sound {sound!r}", using)
    _remove(relative)
    record(principal, "deleted", "flow_sound", None, {"name": sound}, None, sound)
