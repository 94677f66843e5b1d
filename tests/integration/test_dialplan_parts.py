"""Every dialplan application and function Lead Center's dialplans use is one the running Asterisk has: modules.conf
loads modules one by one, and a call that reaches a function of a module left out goes on as if it were false
(DIALPLAN_EXISTS was: a transfer nobody answered never reached the colleague's mailbox). Asterisk itself is asked,
for the fixed dialplans and for what the controller rendered."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = re.compile(r"\b([A-Z][A-Z0-9_]+)\(")  # ${CUT(...)}, Set(PJSIP_HEADER(add,...)=...)
APPLICATION = re.compile(r"^\s*(?:exten\s*=>\s*[^,]+,|same\s*=>\s*)[^,]+,\s*([A-Za-z][A-Za-z0-9]*)\(", re.M)


def dialplan_texts(running) -> list[str]:
    """The fixed dialplans and the rendered routes and flows (not the owner's custom contexts: theirs to write)."""
    etc = running.instance.etc
    paths = [etc / "extensions.conf", *(ROOT / "dialplans").glob("*.conf"), etc / "generated" / "routes.conf"]
    return [p.read_text() for p in paths]


def test_every_application_and_function_the_dialplans_use_is_loaded(running):
    texts = dialplan_texts(running)
    code = [re.sub(r";.*", "", text) for text in texts]  # comments name things too
    applications = {app for text in code for app in APPLICATION.findall(text)}
    functions = {f for text in code for f in FUNCTION.findall(text)} - {app.upper() for app in applications}
    assert {"Dial", "Queue", "ConfBridge", "VoiceMail"} <= applications and {"DIALPLAN_EXISTS", "CUT"} <= functions
    shown = {app: running.instance.rx(f"core show application {app}") or "" for app in sorted(applications)}
    missing_applications = [app for app, text in shown.items() if "is (are) not registered" in text or not text]
    shown = {f: running.instance.rx(f"core show function {f}") or "" for f in sorted(functions)}
    missing_functions = [f for f, text in shown.items() if "No function by that name" in text or not text]
    assert (missing_applications, missing_functions) == ([], [])
