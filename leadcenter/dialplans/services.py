"""Custom dialplan contexts: the checks a text passes before Asterisk sees it, and its versions.

A custom context is raw dialplan, which can dial anything and run anything Asterisk runs, so only the installation
owner writes one (a company admin only names one in a flow step, when the owner allowed their company). The checks
here are the first line: the lines' kinds (``exten =>``, ``same =>``, ``include =>``: no ``#include`` or ``#exec``,
no header, no switch), the applications (ALLOWED_APPLICATIONS), the includes (generated contexts only), nothing
that writes the controller's own variables or Asterisk's database. Asterisk then reads it as a scratch context no
call reaches (``asterisk_config.DialplanCheck``): what it complains about (an unknown priority, a parenthesis left
open) refuses the save with its own words, and the running dialplan never sees the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from leadcenter.accounts.models import User
from leadcenter.clock import Clock
from leadcenter.db import database
from leadcenter.dialplans.models import CustomContext, DialplanVersion
from leadcenter.flows.models import CallFlow

NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
MAX_CHARS = 20_000
MAX_LINES = 400
ENTRY_EXTENSION = "s"  # a flow step sends its calls to s,1

# Applications a custom context may run (Asterisk's names are case-insensitive). Left out on purpose: those that run
# another application or command (Exec, TryExec, ExecIf, System), that write files (Record, MixMonitor), listen in
# (ChanSpy), move or hang up other channels (ChannelRedirect, SoftHangup, Originate), talk to the controller as if
# they were its own dialplan (UserEvent, Stasis) or change queue membership (AddQueueMember, PauseQueueMember...).
ALLOWED_APPLICATIONS = frozenset(
    name.lower()
    for name in (
        "Answer", "Background", "Busy", "Congestion", "Dial", "Echo", "Gosub", "GosubIf", "Goto", "GotoIf",
        "GotoIfTime", "Hangup", "Log", "MusicOnHold", "NoOp", "Playback", "Progress", "Queue", "Return", "Ringing",
        "SayAlpha", "SayDigits", "SayNumber", "SendDTMF", "Set", "StartMusicOnHold", "StopMusicOnHold", "Verbose",
        "VoiceMail", "Wait", "WaitExten",
    )
)  # fmt: skip
LINE_KINDS = ("exten", "same", "include")
_LINE = re.compile(r"(?P<kind>[A-Za-z_]+)\s*=>?\s*(?P<value>.*)")
_APPLICATION = re.compile(r"(?P<app>[A-Za-z][A-Za-z0-9_]*)\s*(?:\((?P<data>.*))?", re.DOTALL)
# Writes the controller relies on: its channel variables (LC_COMPANY, __LC_FLOW...), the company's spy group (a call
# put in another company's SPYGROUP could be listened to by that company's supervisors: dialplans/monitor.conf),
# Asterisk's database (the agents' availability flags), globals.
_FORBIDDEN_TARGET = re.compile(r"_*LC_\w*|_*SPYGROUP|(DB|GLOBAL|SHARED)\s*\(.*", re.IGNORECASE)
_FORBIDDEN_ANYWHERE = re.compile(r"\bDB_DELETE\s*\(|\bDB_DELETE_TREE\s*\(", re.IGNORECASE)


class DialplanUnchecked(RuntimeError):
    """Asterisk could not be asked, or did not finish reading the text in time: nothing was saved."""


class Asterisk(Protocol):
    """What the dialplans need of Asterisk (asterisk_config.DialplanCheck; a stand-in in the unit tests)."""

    def generated(self) -> dict[str, str]:
        """The generated dialplan's files, file name -> text, as rendered from the database now."""

    def complaints(self, context: str, text: str) -> list[str]:
        """What Asterisk says reading ``text`` as the context ``context`` ([] when it takes it), with nothing
        changed in the running dialplan; raises DialplanUnchecked when Asterisk cannot be asked."""


class InvalidDialplan(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{path}: {problem}" for path, problem in fields.items()))
        self.fields = fields


def _uncommented(line: str) -> str:
    """The line without its comment (``;`` starts one unless escaped as ``\\;``)."""
    for match in re.finditer(r";", line):
        if match.start() == 0 or line[match.start() - 1] != "\\":
            return line[: match.start()]
    return line


def _application_problem(command: str) -> str | None:
    match = _APPLICATION.fullmatch(command.strip())
    if match is None:
        return f"{command.strip()!r} is not an application call such as NoOp(...)"
    app, data = match["app"], match["data"] or ""
    if app.lower() not in ALLOWED_APPLICATIONS:
        return f"{app} is not an application a custom context may run (see docs/security.md)"
    target = data.split("=", 1)[0].strip()
    if app.lower() == "set" and _FORBIDDEN_TARGET.fullmatch(target):
        return f"Set({target}=...): the controller's variables and Asterisk's database are off limits"
    if _FORBIDDEN_ANYWHERE.search(data):
        return "deleting from Asterisk's database is off limits"
    return None


def check(text: str, generated: set[str]) -> None:
    """Raise InvalidDialplan (field ``text``: each problem with its line number) unless ``text`` is made of lines a
    custom context may have, runs only allowed applications, includes only contexts in ``generated`` and has an
    ``s`` extension. What is inside an extension line (priorities, labels, parentheses) is Asterisk's to judge."""
    if len(text) > MAX_CHARS or text.count("\n") >= MAX_LINES:
        raise InvalidDialplan({"text": f"at most {MAX_LINES} lines and {MAX_CHARS} characters"})
    problems: list[str] = []
    extensions = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = _uncommented(raw).strip()
        if not line:
            continue
        problem = None
        if line.startswith("#"):
            problem = "directives (#include, #exec...) are not allowed"
        elif line.startswith("["):
            problem = "write the context's lines only: its header [custom-<name>] is written for you"
        elif (match := _LINE.fullmatch(line)) is None or match["kind"].lower() not in LINE_KINDS:
            problem = "only exten =>, same => and include => lines (and ; comments)"
        else:
            kind, value = match["kind"].lower(), match["value"].strip()
            if kind == "include":
                if value not in generated:
                    problem = f"include => {value}: only a generated context (lc-...) may be included"
            else:
                parts = value.split(",", 2 if kind == "exten" else 1)
                if len(parts) < (3 if kind == "exten" else 2):
                    problem = (
                        "exten => needs an extension, a priority and an application"
                        if kind == "exten"
                        else "same => needs a priority and an application"
                    )
                else:
                    if kind == "exten":
                        extensions.add(parts[0].strip())
                    problem = _application_problem(parts[-1])
        if problem:
            problems.append(f"line {number}: {problem}")
    if not problems and ENTRY_EXTENSION not in extensions:
        problems.append("no s extension: a flow step sends its calls to s,1 (exten => s,1,...)")
    if problems:
        raise InvalidDialplan({"text": "; ".join(problems)})


def check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise InvalidDialplan(
            {"name": "lowercase letters, digits and '-', at most 40, starting with a letter or digit"}
        )


@dataclass(frozen=True)
class Saved:
    context: CustomContext
    version: DialplanVersion


def save(context: CustomContext, text: str, by: User | None, clock: Clock, restored_from: int | None = None) -> Saved:
    """Store ``text`` as the context's next version and make it the one in force (a new context gets version 1).
    In one transaction; the caller checked the text, and Asterisk took it."""
    with database.atomic():
        number = 1 if context.id is None else context.version + 1
        context.text, context.version = text, number
        context.save()
        version = DialplanVersion.create(
            context=context, number=number, text=text, saved_by=by, saved_at=clock(), restored_from=restored_from
        )
    return Saved(context, version)


def usable_by(company_id: int, name: str) -> CustomContext | None:
    """The custom context ``name`` when the company's flows may send calls into it."""
    context = CustomContext.get_or_none(CustomContext.name == name)
    if context is None or context.company_id not in (None, company_id):
        return None
    return context


def flows_using(name: str, other_than: int | None = None) -> list[str]:
    """The call flows (of any company, or of companies but ``other_than``) with a step into the custom context."""
    return [
        f"call flow {flow.name!r} of company {flow.company_id}"
        for flow in CallFlow.select().order_by(CallFlow.id)
        if flow.company_id != other_than
        and any(step.get("type") == "custom" and step.get("context") == name for step in flow.steps)
    ]
