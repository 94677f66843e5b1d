"""Every name Lead Center gives Asterisk's objects reads back as what made it, nothing else reads as one of them,
and no other module writes or takes one apart by hand (leadcenter/pbx/names.py is the one place)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import leadcenter
from leadcenter.pbx import names

IDS = (1, 7, 12, 99999, 2**63 - 1)

# (format, parse, what parsing the formatted name gives back)
PAIRS = [
    *[(lambda i, d=device: names.endpoint(d, i), names.parse_endpoint, lambda i: i) for device in names.DEVICES],
    *[
        (lambda i, d=device: names.interface(d, i), names.parse_interface, lambda i, d=device: names.endpoint(d, i))
        for device in names.DEVICES
    ],
    (names.trunk_endpoint, names.parse_trunk_endpoint, lambda i: i),
    (names.trunk_context, names.parse_trunk_context, lambda i: i),
    (names.queue, names.parse_queue, lambda i: i),
    (names.queue_member, names.parse_queue_member, lambda i: i),
    (names.flow_context, names.parse_flow_context, lambda i: i),
    (names.step_label, names.parse_step_label, lambda i: i),
    (names.after_step_label, names.parse_after_step_label, lambda i: i),
    (names.company_mailbox, names.parse_company_mailbox, lambda i: i),
    (names.agent_mailbox, names.parse_agent_mailbox, lambda i: i),
    (lambda i: names.mailbox_address(names.agent_mailbox(i)), names.parse_mailbox_address, names.agent_mailbox),
    (lambda i: names.mailbox_address(names.company_mailbox(i)), names.parse_mailbox_address, names.company_mailbox),
    (names.recording_notice, names.parse_recording_notice, lambda i: i),
    (names.music_class, names.parse_music_class, lambda i: i),
    (names.available_key, names.parse_available_key, lambda i: i),
    (lambda i: f"/{names.AVAILABLE_FAMILY}/{names.available_key(i)}", names.parse_available_key, lambda i: i),
    (lambda i: names.outbound_channel_id(f"{i:x}"), names.parse_outbound_channel_id, lambda i: f"{i:x}"),
    (lambda i: names.monitor_channel_id(f"{i:x}"), names.parse_monitor_channel_id, lambda i: f"{i:x}"),
    (names.spy_group, names.parse_spy_group, lambda i: i),
]
PARSERS = sorted(
    {parse for _, parse, _ in PAIRS} | {names.parse_channel, names.parse_trunk_channel},
    key=lambda parse: parse.__name__,
)


@pytest.mark.parametrize("write, parse, made_of", PAIRS)
def test_every_name_parses_back_to_what_made_it(write, parse, made_of):
    for i in IDS:
        assert parse(write(i)) == made_of(i), write(i)


def test_no_name_of_one_kind_reads_as_another():
    """Each parser takes its own kind only: a queue member (agent7) is no mailbox's owner by accident, a mailbox
    no endpoint, and so on (agent7 is both a queue member and a mailbox by design: the two pairs say so)."""
    same_text = {frozenset({names.parse_queue_member, names.parse_agent_mailbox})}
    for write, parse, _ in PAIRS:
        for other in PARSERS:
            if other is not parse and frozenset({parse, other}) not in same_text:
                assert other(write(7)) is None, (write(7), other.__name__)


FOREIGN = (
    None,
    "",
    "-7",
    "07",
    "+7",
    "x",
    "agent",
    "agent0",
    "agent07",
    "agent-7",
    "agent7x",
    " agent7",
    "agent7 ",
    "agent\u0663",
    "Agent7",
    "team",
    "team1.5",
    "desk",
    "PJSIP/",
    "PJSIP/desk",
    "PJSIP/desk7-",
    "PJSIP/desk7-XYZ",
    "SIP/desk7-0000002a",
    "PJSIP/desk7/sip:desk7@10.0.0.2",
    "PJSIP/alice-00000001",
    "Local/7@lc-answer-00000001;1",
    "lc-flow-",
    "lc-flow-x",
    "lc-trunk",
    "step",
    "step0",
    "company",
    "companyX",
    "agent7@default",
    "@leadcenter",
    "agent7@leadcenter@leadcenter",
    "/other/7",
    "/lc_available/",
    "lc-out-",
    "lc-out-AB/1",
)


@pytest.mark.parametrize("parse", PARSERS, ids=lambda parse: parse.__name__)
def test_foreign_strings_parse_to_none(parse):
    assert {text: parse(text) for text in FOREIGN if parse(text) is not None} == {}


@pytest.mark.parametrize(
    "channel, agent",
    [
        ("PJSIP/desk12-0000002a", 12),
        ("PJSIP/webrtc3-00000001", 3),
        ("PJSIP/desk7-6", 7),
        ("PJSIP/trunk1-00000001", None),
        ("PJSIP/desk12", None),
        ("desk12", None),
    ],
)
def test_agents_channels_name_their_agent(channel, agent):
    """Asterisk names a channel after its endpoint (PJSIP/desk12-0000002a); the tracker reads the agent from it."""
    assert names.parse_channel(channel) == agent
    assert names.parse_channel(f"{names.interface('desk', 5)}-0000002a") == 5


def test_trunk_channels_name_their_trunk():
    assert names.parse_trunk_channel(f"PJSIP/{names.trunk_endpoint(4)}-0000000b") == 4
    assert names.parse_trunk_channel("PJSIP/desk4-0000000b") is None


# -- no other module writes or parses a name ---------------------------------------------------------------------

ROOT = Path(leadcenter.__file__).parent
# What a name begins with, right before the id an f-string would put after it.
PREFIXES = (
    "team",
    "agent",
    "desk",
    "webrtc",
    "trunk",
    "company",
    "lc-flow-",
    "step",
    "PJSIP/",
    "lc-out-",
    "lc_available/",
    "lc-",
)
FIXED = {value for key, value in vars(names).items() if key.isupper() and isinstance(value, str)} - {"leadcenter"}
NAME_METHODS = {"startswith", "removeprefix", "partition", "rsplit", "split"}


def _docstrings(tree: ast.AST) -> set[int]:
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def test_names_are_written_and_read_only_in_names_py():
    """An f-string that puts an id after a name's prefix, a name spelt out as a literal, or a string method taking
    one apart, anywhere but pbx/names.py: use (or add) the pair there instead."""
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name == "pbx/names.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                for before, after in zip(node.values, node.values[1:], strict=False):
                    if (
                        isinstance(before, ast.Constant)
                        and isinstance(after, ast.FormattedValue)
                        and str(before.value).endswith(PREFIXES)
                    ):
                        offenders.append(f"{name}:{node.lineno} f-string {before.value!r}{{...}}")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and (node.value in FIXED or re.fullmatch(r"lc-[a-z-]+|PJSIP/\w*", node.value))
            ):
                offenders.append(f"{name}:{node.lineno} literal {node.value!r}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in NAME_METHODS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith(PREFIXES)
            ):
                offenders.append(f"{name}:{node.lineno} .{node.func.attr}({node.args[0].value!r})")
    assert offenders == []
