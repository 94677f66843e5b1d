"""Asterisk configuration as pure functions: plain data in, file text out.

The fixed files are templates in the top-level ``asterisk/`` directory with ``{{name}}`` placeholders (Asterisk's
own ``${VAR}`` syntax stays untouched). The files that depend on the database (endpoints, queues, routes,
mailboxes) are rendered from the specs below, which ``leadcenter.asterisk_config.snapshot`` builds from rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from leadcenter.pbx import names

GENERATED_HEADER = "; Rendered from the Lead Center database by leadcenter.pbx.render: do not edit.\n"
TRUNK_RTP_TIMEOUT = 60  # seconds without audio from a trunk before Asterisk hangs the call up
# A trunk's registration: what it asks for, and how it keeps trying. A refused or unanswered registration is tried
# again for ever (max_retries is a count: a carrier down for a day is registered to again when it is back).
REGISTRATION_EXPIRATION = 3600
REGISTRATION_RETRY_SECONDS = 30
REGISTRATION_REFUSED_RETRY_SECONDS = 300  # 403 or a final error: a wrong password is not hammered
REGISTRATION_MAX_RETRIES = 1_000_000

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


class TemplateError(KeyError):
    pass


def fill(template: str, values: dict) -> str:
    """Replace every ``{{name}}``; a name without a value is an error, never an empty string."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise TemplateError(f"no value for {{{{{name}}}}}")
        return str(values[name])

    return _PLACEHOLDER.sub(value, template)


@dataclass(frozen=True)
class AgentDevice:
    """One SIP device of an agent: the browser softphone (webrtc) or a desk phone (desk)."""

    name: str  # endpoint, auth and aor name, also the SIP username
    password: str
    display_name: str
    webrtc: bool
    agent_id: int = 0
    company_id: int = 0
    rings: bool = False  # the agent's ring device: where a transfer to their extension rings
    mailbox: str = ""  # a desk phone's: its agent's own mailbox (agent7@leadcenter), for its message-waiting light


@dataclass(frozen=True)
class TrunkSpec:
    id: int
    label: str
    host: str
    port: int
    registers: bool = False  # also registers to the carrier with username and password
    username: str = ""
    password: str = ""
    transport: str = "udp"  # udp | tcp | tls
    codecs: tuple[str, ...] = ("ulaw", "alaw")
    qualify_seconds: int = 0  # 0: never asked

    @property
    def address(self) -> str:  # host:port, an IPv6 host in brackets
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def from_any_port(self) -> bool:  # over TCP or TLS the carrier calls in on connections of its own, from ports
        # of its choosing: it is known by its address alone
        return self.transport != "udp"

    @property
    def match(self) -> str:  # what Asterisk's identify knows the carrier's requests by
        return self.host if self.from_any_port else self.address

    @property
    def uri_params(self) -> str:  # UDP is SIP's default; TCP and TLS are asked for in the URI (never pinned on the
        # endpoint)
        return "" if self.transport == "udp" else f";transport={self.transport}"

    @property
    def name(self) -> str:  # its endpoint, AOR and identify
        return names.trunk_endpoint(self.id)

    @property
    def context(self) -> str:
        return names.trunk_context(self.id)


@dataclass(frozen=True)
class QueueMemberSpec:
    interface: str  # PJSIP/webrtc7
    member_name: str  # agent7: how queue events name the agent
    penalty: int = 0


@dataclass(frozen=True)
class QueueSpec:
    name: str
    label: str
    strategy: str
    ring_seconds: int
    announce_position: bool
    members: tuple[QueueMemberSpec, ...] = ()  # in the team's order (linear rings them in it)
    announce_wait_time: bool = False
    announce_seconds: int = 30  # how often the announcements repeat
    music_class: str = "default"
    callback: bool = False  # a waiting caller may press 1 to be called back (callbacks/)


@dataclass(frozen=True)
class MusicSpec:
    """A team's own hold music: a music-on-hold class playing the files of one directory."""

    name: str  # the class (lc-team3)
    label: str
    directory: str  # as Asterisk sees it (inside the root)


@dataclass(frozen=True)
class RouteSpec:
    """A tracking number on a trunk, and the flow its calls enter."""

    trunk: str  # the trunk's endpoint
    number: str  # E.164
    label: str
    company_id: int
    number_id: int
    flow_id: int | None


@dataclass(frozen=True)
class StepSpec:
    kind: str  # queue | ring_agents | voicemail | greeting | forward | hangup | custom
    target: str = ""  # queue name, dial string, mailbox, sound or custom context
    timeout: int = 0


@dataclass(frozen=True)
class BranchSpec:
    """Steps rendered in line (then the call goes on after the branching step), or another flow to go to."""

    steps: tuple[AnyStep, ...] = ()
    flow: int | None = None


@dataclass(frozen=True)
class HoursSpec:
    time_zone: str  # IANA
    weekly: tuple[tuple[str, str, str], ...]  # (days as GotoIfTime reads them: mon&tue, HH:MM open, HH:MM close)
    holidays: tuple[str, ...]  # YYYYMMDD
    open: BranchSpec
    closed: BranchSpec
    kind: str = "hours"


@dataclass(frozen=True)
class IvrSpec:
    prompt: str  # a sound, or "" (the menu waits in silence)
    digits: tuple[tuple[str, BranchSpec], ...]
    timeout: int
    attempts: int
    no_input: BranchSpec
    invalid: BranchSpec
    kind: str = "ivr"


AnyStep = StepSpec | HoursSpec | IvrSpec


@dataclass(frozen=True)
class FlowSpec:
    id: int
    label: str
    record: bool
    announce_recording: bool
    steps: tuple[AnyStep, ...] = ()


@dataclass(frozen=True)
class CustomContextSpec:
    """A custom dialplan context of the installation owner's: its name (rendered custom-<name>) and its lines."""

    name: str
    text: str


@dataclass(frozen=True)
class MailboxSpec:
    mailbox: str  # companyN or agentN
    label: str


@dataclass(frozen=True)
class Snapshot:
    """Everything the generated files are rendered from."""

    devices: tuple[AgentDevice, ...] = ()
    trunks: tuple[TrunkSpec, ...] = ()
    queues: tuple[QueueSpec, ...] = ()
    music: tuple[MusicSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    flows: tuple[FlowSpec, ...] = ()
    mailboxes: tuple[MailboxSpec, ...] = ()
    media_address: str = ""
    qualify_seconds: int = 30  # how often desk phones are asked (OPTIONS) whether they are still there
    custom_contexts: tuple[CustomContextSpec, ...] = ()
    desk_srtp_required: bool = False  # every desk phone call is SRTP (else only the phones that ask)
    # Kamailio's SIP address (host:port) when it hands Asterisk the carriers' calls ("": no edge): a trunk is also
    # known by the header Kamailio names it in, and desk phones registered there are reached through it.
    edge_address: str = ""

    @property
    def behind_edge(self) -> bool:
        return bool(self.edge_address)

    @property
    def edge_host(self) -> str:
        """Kamailio's address, which its requests to the nodes come from."""
        return self.edge_address.rsplit(":", 1)[0].strip("[]")


def _comment(text: str) -> str:
    # Labels are user data: keep them on one comment line.
    return " ".join(text.split()).replace(";", ",")


def _value(value: object) -> str:
    # A ';' would start a comment and cut the value; user data also never spans lines.
    return " ".join(str(value).split()).replace(";", r"\;")


def _section(name: str, pairs: list[tuple[str, object]], comment: str = "") -> str:
    head = f"[{name}]" + (f" ; {_comment(comment)}" if comment else "")
    body = "\n".join(f"{key} = {_value(value)}" for key, value in pairs)
    return f"{head}\n{body}\n"


def render_pjsip_endpoints(snapshot: Snapshot) -> str:
    parts = [GENERATED_HEADER]
    media = (
        [("media_address", snapshot.media_address), ("bind_rtp_to_media_address", "yes")]
        if snapshot.media_address
        else []
    )
    for device in snapshot.devices:
        at_edge = snapshot.behind_edge and not device.webrtc
        if device.webrtc:
            codecs = [("allow", "opus,ulaw,alaw"), ("webrtc", "yes"), ("dtls_auto_generate_cert", "yes")]
        else:
            # Desk phones behind an office NAT: answer to where requests come from (rport), send media back to
            # where it comes from, and reach the phone at the address and port its REGISTER came from (over TCP,
            # on the connection it registered on), not at the private Contact it wrote. SRTP (SDES) for the phones
            # that ask: Asterisk's own offer carries keys in RTP/AVP (optimistic), which a phone without SRTP
            # ignores (plain RTP, as before); or, required, in RTP/SAVP, and plain RTP is refused.
            codecs = [
                ("allow", "ulaw,alaw,g722"),
                ("rtp_symmetric", "yes"),
                ("force_rport", "yes"),
                ("rewrite_contact", "yes"),
                ("media_encryption", "sdes"),
                ("media_encryption_optimistic", "no" if snapshot.desk_srtp_required else "yes"),
            ]
        caller_id = device.display_name.replace('"', "'")
        # The agent's mailbox lights the phone's message-waiting indicator: NOTIFYs unsolicited (the endpoint's) or
        # to a phone that subscribes to message-summary (the AOR's).
        mailboxes = [("mailboxes", device.mailbox)] if device.mailbox else []
        parts.append(
            _section(
                device.name,
                [
                    ("type", "endpoint"),
                    ("context", _dialling_context(device)),
                    ("disallow", "all"),
                    *codecs,
                    *(_edge_phone_acl(snapshot) if at_edge else [("auth", device.name)]),
                    ("aors", device.name),
                    ("direct_media", "no"),
                    # A desk phone's transfer key sends REFER: Asterisk sends the lead to the transferer's
                    # TRANSFER_CONTEXT (lc-refer, set on agents' legs) at the extension named, a colleague's; the
                    # browser softphone transfers through the app.
                    ("allow_transfer", "no" if device.webrtc else "yes"),
                    ("callerid", f'"{caller_id}" <{device.name}>'),
                    ("send_pai", "yes"),
                    *mailboxes,
                    *media,
                ],
                comment=f"{'softphone' if device.webrtc else 'desk phone'} of {device.display_name}",
            )
        )
        if at_edge:
            # Kamailio authenticated the phone and names it in a header: the node takes the call as the phone's
            # without challenging it again, and from Kamailio's address only (the endpoint's ACL).
            parts.append(
                _section(
                    device.name,
                    [
                        ("type", "identify"),
                        ("endpoint", device.name),
                        ("match_header", f"{names.EDGE_PHONE_HEADER}: {device.name}"),
                    ],
                )
            )
        else:
            parts.append(
                _section(
                    device.name,
                    [
                        ("type", "auth"),
                        ("auth_type", "userpass"),
                        ("username", device.name),
                        ("password", device.password),
                    ],
                )
            )
        # A desk phone that dies without unregistering stops answering OPTIONS and is unreachable (never rung)
        # within qualify_seconds + 3 s; a browser's contact goes with its websocket. Behind the edge a desk phone
        # registers at Kamailio, which every node reaches it through: a static contact there, qualified through
        # it (Kamailio relays the OPTIONS to the phone, or answers 404 for a phone not registered: 2xx only counts).
        edge = (
            [("contact", f"sip:{device.name}@{snapshot.edge_address}"), ("qualify_2xx_only", "yes")] if at_edge else []
        )
        parts.append(
            _section(
                device.name,
                [
                    ("type", "aor"),
                    ("max_contacts", 1),
                    ("remove_existing", "yes"),
                    ("qualify_frequency", 0 if device.webrtc else snapshot.qualify_seconds),
                    *edge,
                    *mailboxes,
                ],
            )
        )
    identified: list[TrunkSpec] = []
    for trunk in snapshot.trunks:
        address = trunk.address
        parts.append(
            _section(
                trunk.name,
                [
                    ("type", "endpoint"),
                    ("context", trunk.context),
                    ("disallow", "all"),
                    ("allow", ",".join(trunk.codecs)),
                    ("aors", trunk.name),
                    # The carrier's challenges on the calls we place are answered with the account's credentials.
                    *([("outbound_auth", trunk.name)] if trunk.registers else []),
                    ("direct_media", "no"),
                    ("rtp_symmetric", "yes"),
                    ("allow_transfer", "no"),
                    ("send_pai", "yes"),
                    # Who has the call inside (a colleague, after a transfer) is not the carrier's business: Asterisk
                    # would tell it in a re-INVITE mid-call ("Bob Agent" <webrtc2>), which a carrier may not answer
                    # (the suite's SIPp carrier did not, and the lead's call was lost after an outbound transfer).
                    ("send_connected_line", "no"),
                    # A carrier that vanished mid-call (no BYE, no audio for a minute) must not hold a line and an
                    # agent.
                    ("rtp_timeout", TRUNK_RTP_TIMEOUT),
                    *media,
                    *(_edge_trunk_acl(snapshot, trunk) if snapshot.behind_edge and not trunk.registers else []),
                    *_out_through_edge(snapshot, trunk),
                ],
                comment=f"trunk {trunk.label}",
            )
        )
        aor: list[tuple[str, object]] = [("type", "aor"), ("contact", f"sip:{address}{trunk.uri_params}")]
        aor += _out_through_edge(snapshot, trunk)  # its qualify too
        if trunk.qualify_seconds:
            aor.append(("qualify_frequency", trunk.qualify_seconds))
        parts.append(_section(trunk.name, aor))
        if trunk.registers:
            parts.append(
                _section(
                    trunk.name,
                    [
                        ("type", "auth"),
                        ("auth_type", "userpass"),
                        ("username", trunk.username),
                        ("password", trunk.password),
                    ],
                )
            )
            parts.append(
                _section(
                    trunk.name,
                    [
                        ("type", "registration"),
                        ("server_uri", f"sip:{address}{trunk.uri_params}"),
                        ("client_uri", f"sip:{trunk.username}@{address}"),
                        ("contact_user", trunk.username),
                        ("outbound_auth", trunk.name),
                        ("transport", f"transport-{trunk.transport}"),
                        ("expiration", REGISTRATION_EXPIRATION),
                        ("retry_interval", REGISTRATION_RETRY_SECONDS),
                        ("forbidden_retry_interval", REGISTRATION_REFUSED_RETRY_SECONDS),
                        ("fatal_retry_interval", REGISTRATION_REFUSED_RETRY_SECONDS),
                        ("max_retries", REGISTRATION_MAX_RETRIES),
                        ("auth_rejection_permanent", "no"),  # a password put right at the carrier is tried again
                        ("max_random_initial_delay", 0),  # a new trunk's state is shown at once
                        # The carrier's calls to the registered contact are the trunk's, wherever they come from.
                        ("line", "yes"),
                        ("endpoint", trunk.name),
                    ],
                )
            )
        first = next((other for other in identified if _overlap(other, trunk)), None)
        if first is not None:
            # Two trunks at one address (rows from before addresses were compared as addresses, or before a trunk
            # over TCP or TLS took its whole address): the first keeps its calls; Asterisk would pick either.
            parts.append(f"; no identify for {trunk.name}: {trunk.match} is {first.name}'s\n")
            continue
        identified.append(trunk)
        identify: list[tuple[str, object]] = [("type", "identify"), ("endpoint", trunk.name), ("match", trunk.match)]
        if snapshot.behind_edge:
            # Either matches: the carrier's own address, or Kamailio's word for it (Asterisk must then take SIP
            # from Kamailio only: its sip_host on loopback or a private network).
            identify.append(("match_header", f"{names.EDGE_TRUNK_HEADER}: {trunk.name}"))
        parts.append(_section(trunk.name, identify))
    return "\n".join(parts)


def _edge_trunk_acl(snapshot: Snapshot, trunk: TrunkSpec) -> list[tuple[str, object]]:
    """Behind the edge a trunk is also known by the header Kamailio names it in: its requests are taken from
    Kamailio's address and the carrier's own only (403 to any other), or any host reaching the node could place calls
    as a carrier, through a company's flows to its forward steps. (A trunk that registers is called at its registered
    contact from wherever its carrier sends: no ACL.)"""
    return [("deny", "0.0.0.0/0.0.0.0,::/0"), ("permit", f"{snapshot.edge_host},{trunk.host}")]


def _out_through_edge(snapshot: Snapshot, trunk: TrunkSpec) -> list[tuple[str, object]]:
    """Behind the edge the calls placed through a carrier known by its address leave through Kamailio, so the carrier
    sees one address (the one it lets in) whichever node places them. Not a trunk over TLS (the node checks its
    carrier's certificate itself, end to end) nor one that registers (its carrier knows it by its account, and calls
    the contact it registered)."""
    if not snapshot.behind_edge or trunk.registers or trunk.transport == "tls":
        return []
    return [("outbound_proxy", f"sip:{snapshot.edge_address};lr")]


def _edge_phone_acl(snapshot: Snapshot) -> list[tuple[str, object]]:
    """A desk phone's endpoint behind the edge has no password at the node: requests in its name are taken from
    Kamailio's address only (403 to any other, of either address family)."""
    return [("deny", "0.0.0.0/0.0.0.0,::/0"), ("permit", snapshot.edge_host)]


def _overlap(one: TrunkSpec, other: TrunkSpec) -> bool:
    """Whether a request could match both trunks' identifies."""
    return one.host == other.host and (one.port == other.port or one.from_any_port or other.from_any_port)


def _dialling_context(device: AgentDevice) -> str:
    """Where a device's own calls go: a desk phone may dial its company's agents (the consult call of an attended
    transfer); the context is the company's, so which colleagues it reaches never depends on what the phone sends."""
    return (
        names.desk_context(device.company_id) if not device.webrtc and device.company_id else names.FROM_AGENT_CONTEXT
    )


def render_queues(snapshot: Snapshot) -> str:
    parts = [GENERATED_HEADER]
    for queue in snapshot.queues:
        pairs: list[tuple[str, object]] = [
            ("strategy", queue.strategy),
            ("timeout", queue.ring_seconds),
            ("retry", 1),
            ("timeoutpriority", "conf"),
            ("ringinuse", "no"),
            # An agent who lets a call ring out is paused in every queue at once, before the queue offers the call
            # again (retry): whatever the strategy, it goes to someone else. The controller keeps them Unavailable
            # (missed) until they choose Available, or unpauses them if they had declined it in the app (Asterisk
            # sees that hang-up as a ring-out too). A phone that answers busy or cannot be reached is not paused.
            ("autopause", "all"),
            ("wrapuptime", 0),  # wrap-up is a pause the agent ends with "Rejoin the Queue"
            ("joinempty", "yes"),
            ("leavewhenempty", "no"),
            ("setinterfacevar", "yes"),
            ("setqueueentryvar", "yes"),
            ("musicclass", queue.music_class),
            ("announce-position", "yes" if queue.announce_position else "no"),
            ("announce-holdtime", "yes" if queue.announce_wait_time else "no"),
            (
                "announce-frequency",
                queue.announce_seconds if queue.announce_position or queue.announce_wait_time else 0,
            ),
        ]
        pairs += _callback_exit(queue)
        pairs += [("member", f"{m.interface},{m.penalty},{m.member_name},{m.interface}") for m in queue.members]
        parts.append(_section(queue.name, pairs, comment=f"team {queue.label}"))
    return "\n".join(parts)


def _callback_exit(queue: QueueSpec) -> list[tuple[str, object]]:
    """A team offering callbacks: a waiting caller who presses a digit leaves the queue for that extension of the
    exit context, if it has one (1: be called back, lc-callback-offer); every announce_seconds they hear "press 1
    to call back" (Asterisk's own prompts)."""
    if not queue.callback:
        return []
    return [
        ("context", names.CALLBACK_OFFER_CONTEXT),
        ("periodic-announce", "vm-press,digits/1,vm-tocallback"),
        ("periodic-announce-frequency", queue.announce_seconds),
    ]


def render_music(snapshot: Snapshot) -> str:
    parts = [GENERATED_HEADER]
    for music in snapshot.music:
        parts.append(
            _section(music.name, [("mode", "files"), ("directory", music.directory)], comment=f"team {music.label}")
        )
    return "\n".join(parts)


def _did_forms(number: str) -> list[str]:
    """The forms a carrier may send a DID in: +E.164 and the same digits without '+'."""
    return [number, number.lstrip("+")]


def render_routes(snapshot: Snapshot) -> str:
    parts = [GENERATED_HEADER]
    for trunk in snapshot.trunks:
        lines = [f"[{trunk.context}] ; calls from trunk {_comment(trunk.label)}"]
        for route in (r for r in snapshot.routes if r.trunk == trunk.name):
            lines.append(f"; {_comment(route.label)}")
            for did in _did_forms(route.number):
                lines.append(f"exten => {did},1,Set(__LC_COMPANY={route.company_id})")
                # Every channel of the call (the agents' legs too) is in the company's spy group (lc-monitor).
                lines.append(f" same => n,Set(__SPYGROUP={names.spy_group(route.company_id)})")
                lines.append(f" same => n,Set(__LC_NUMBER={route.number_id})")
                lines.append(f" same => n,Set(__LC_TRACKING={route.number})")  # a forward step's caller ID
                lines.append(f" same => n,Set(__LC_FLOW={route.flow_id if route.flow_id is not None else ''})")
                lines.append(f" same => n,Goto({names.INBOUND_CONTEXT},s,1)")
        lines.append("exten => _[+0-9].,1,Set(LC_DIALED=${EXTEN})")
        lines.append(f" same => n,Goto({names.UNKNOWN_NUMBER_CONTEXT},s,1)")
        parts.append("\n".join(lines) + "\n")
    parts += _render_desk_dialling(snapshot)
    parts += [_render_refer(snapshot)] if any(d.rings and d.agent_id for d in snapshot.devices) else []
    parts += [_render_flow(flow) for flow in snapshot.flows]
    return "\n".join(parts)


def _render_refer(snapshot: Snapshot) -> str:
    """lc-refer: a desk phone's transfer key (REFER) names a colleague's extension, their agent id: the call rings
    their ring device (lc-transfer). Only an agent of the call's own company: any other extension, a number
    included, is not there, and Asterisk refuses the REFER (404) with the call going on."""
    lines = [f"[{names.REFER_CONTEXT}] ; desk phones' transfers to colleagues"]
    for device in (d for d in snapshot.devices if d.rings and d.agent_id):
        lines.append(f'exten => {device.agent_id},1,GotoIf($["${{LC_COMPANY}}" != "{device.company_id}"]?refused)')
        lines.append(f" same => n,Goto({names.TRANSFER_AGENT_CONTEXT},{device.name},1)")
        lines.append(" same => n(refused),Hangup(21)")
    return "\n".join(lines) + "\n"


def _render_desk_dialling(snapshot: Snapshot) -> list[str]:
    """lc-desk-companyN, the context of company N's desk phones: a colleague's extension (their agent id, as in
    lc-refer) rings their ring device (lc-colleague), the consult call before a REFER with Replaces (an attended
    transfer); anything else dialled falls to lc-from-agent, which refuses it (another company's agents included:
    they are not in this context)."""
    companies = sorted({d.company_id for d in snapshot.devices if not d.webrtc and d.company_id})
    parts = []
    for company_id in companies:
        lines = [f"[{names.desk_context(company_id)}] ; desk phones of company {company_id}: their colleagues"]
        for device in (d for d in snapshot.devices if d.rings and d.agent_id and d.company_id == company_id):
            lines.append(f"exten => {device.agent_id},1,Goto({names.COLLEAGUE_CONTEXT},{device.name},1)")
        lines.append(f"include => {names.FROM_AGENT_CONTEXT}")
        parts.append("\n".join(lines) + "\n")
    return parts


# A step's action: the Gosub into its fixed context in dialplans/steps.conf (or the line) for each leaf step type.
_LEAF_STEPS = {
    "queue": lambda step: f"Gosub({names.QUEUE_STEP},s,1({step.target},{step.timeout}))",
    "ring_agents": lambda step: f"Gosub({names.RING_AGENTS_STEP},s,1({step.target},{step.timeout}))",
    "voicemail": lambda step: f"Gosub({names.VOICEMAIL_STEP},s,1({step.target}))",
    "greeting": lambda step: f"Playback({step.target})",
    "forward": lambda step: f"Gosub({names.FORWARD_STEP},s,1({step.target},{step.timeout}))",
    "hangup": lambda step: "Hangup(16)",
    "custom": lambda step: f"Goto({names.custom_context(step.target)},s,1)",
}


def _render_flow(flow: FlowSpec) -> str:
    """One context, extension s. Every step, at any depth, gets a number K in depth-first order and two labels:
    stepK, where it starts (LC_STEP=K), and afterK, where the call goes on once the step is over without an answer
    (the controller sends a call there when everyone declined it). A branching step's branches are rendered in
    line after it, each ending at its afterK."""
    lines = [f"[{names.flow_context(flow.id)}] ; {_comment(flow.label)}", f"exten => s,1,NoOp(flow {flow.id})"]
    if flow.record:
        lines.append(f" same => n,Gosub({names.RECORD},s,1({1 if flow.announce_recording else 0}))")
    numbers = iter(range(1, 10_000))
    _render_steps(flow, flow.steps, names.FLOW_END_LABEL, numbers, lines)
    lines.append(f" same => n({names.FLOW_END_LABEL}),Goto({names.STEPS_END},s,1)")
    return "\n".join(lines) + "\n"


def _render_steps(flow: FlowSpec, steps, done: str, numbers, lines: list[str]) -> None:
    for index, step in enumerate(steps):
        number = next(numbers)
        after = names.after_step_label(number)
        lines.append(f" same => n({names.step_label(number)}),Set(LC_STEP={number})")
        if isinstance(step, HoursSpec):
            _render_hours(flow, step, number, numbers, lines)
        elif isinstance(step, IvrSpec):
            _render_ivr(flow, step, number, numbers, lines)
        elif step.kind in _LEAF_STEPS:
            lines.append(f" same => n,{_LEAF_STEPS[step.kind](step)}")
        else:
            raise ValueError(f"flow {flow.id}: unknown step type {step.kind!r}")
        last = index == len(steps) - 1
        lines.append(f" same => n({after}),{f'Goto({done})' if last else 'NoOp()'}")


def _render_branch(flow: FlowSpec, branch: BranchSpec, label: str, done: str, numbers, lines: list[str]) -> None:
    if branch.flow is not None:
        lines.append(f" same => n({label}),Goto({names.flow_context(branch.flow)},s,1)")
    elif not branch.steps:
        lines.append(f" same => n({label}),Goto({done})")
    else:
        lines.append(f" same => n({label}),NoOp({label})")
        _render_steps(flow, branch.steps, done, numbers, lines)


def _render_hours(flow: FlowSpec, step: HoursSpec, number: int, numbers, lines: list[str]) -> None:
    open_label, closed_label = f"open{number}", f"closed{number}"
    if step.holidays:
        lines.append(f" same => n,Set(LC_TODAY=${{STRFTIME(${{EPOCH}},{step.time_zone},%Y%m%d)}})")
        today = " | ".join(f"${{LC_TODAY}} = {day}" for day in step.holidays)
        lines.append(f" same => n,GotoIf($[{today}]?{closed_label})")
    for days, opens, closes in step.weekly:
        lines.append(f" same => n,GotoIfTime({opens}-{_last_minute(closes)},{days},*,*,{step.time_zone}?{open_label})")
    lines.append(f" same => n,Goto({closed_label})")
    after = names.after_step_label(number)
    _render_branch(flow, step.open, open_label, after, numbers, lines)
    _render_branch(flow, step.closed, closed_label, after, numbers, lines)


def _last_minute(closes: str) -> str:
    """GotoIfTime's ranges include their last minute: open until 17:00 is 16:59."""
    hours, minutes = map(int, closes.split(":"))
    total = hours * 60 + minutes - 1
    return f"{total // 60:02d}:{total % 60:02d}"


def _render_ivr(flow: FlowSpec, step: IvrSpec, number: int, numbers, lines: list[str]) -> None:
    menu, silent = f"menu{number}", f"silent{number}"
    no_input, invalid = f"noinput{number}", f"invalid{number}"
    lines.append(" same => n,Set(LC_TRIES=0)")
    lines.append(f" same => n({menu}),Set(LC_TRIES=$[${{LC_TRIES}} + 1])")
    lines.append(f" same => n,Read(LC_DIGIT,{step.prompt},1,,1,{step.timeout})")
    for digit, _ in step.digits:
        lines.append(f' same => n,GotoIf($["${{LC_DIGIT}}" = "{digit}"]?key{number}x{digit})')
    lines.append(f' same => n,GotoIf($["${{LC_DIGIT}}" = ""]?{silent})')
    lines.append(" same => n,Playback(invalid)")
    lines.append(f" same => n,GotoIf($[${{LC_TRIES}} < {step.attempts}]?{menu}:{invalid})")
    lines.append(f" same => n({silent}),GotoIf($[${{LC_TRIES}} < {step.attempts}]?{menu}:{no_input})")
    after = names.after_step_label(number)
    for digit, branch in step.digits:
        _render_branch(flow, branch, f"key{number}x{digit}", after, numbers, lines)
    _render_branch(flow, step.no_input, no_input, after, numbers, lines)
    _render_branch(flow, step.invalid, invalid, after, numbers, lines)


def render_voicemail(snapshot: Snapshot) -> str:
    lines = [GENERATED_HEADER.rstrip("\n")]
    for box in snapshot.mailboxes:
        # mailbox => password,name: no password, messages are read in the app, not over the phone.
        lines.append(f"{box.mailbox} => ,{_comment(box.label).replace(',', ' ')}")
    return "\n".join(lines) + "\n"


def _lines(text: str) -> str:
    return "\n".join(text.splitlines()) + "\n"


def render_custom_contexts(snapshot: Snapshot) -> str:
    """The installation owner's contexts, each under its header; the text was checked (dialplans.services.check)
    and read by Asterisk (asterisk_config.DialplanCheck) before it was saved."""
    parts = [GENERATED_HEADER]
    for context in snapshot.custom_contexts:
        parts.append(f"[{names.custom_context(context.name)}]\n" + _lines(context.text))
    return "\n".join(parts)


# The check file's first line is the scratch context's header: a line of the text is line + 1 of the file.
DIALPLAN_CHECK_OFFSET = 1


def render_dialplan_check(text: str, nonce: str) -> str:
    """A custom context's text as a scratch context no call reaches, for Asterisk to read before it is saved. Its
    last line has a priority Asterisk refuses, so that the warning about it (naming ``nonce``) marks the end of
    what Asterisk said about this file in its log."""
    return (
        f"[{names.DIALPLAN_CHECK_CONTEXT}]\n"
        + _lines(text)
        + f"[{names.DIALPLAN_CHECK_END}]\nexten => s,{names.dialplan_check_end_label(nonce)},NoOp()\n"
    )


_CONTEXT_HEADER = re.compile(r"^\[([^\]]+)\]", re.MULTILINE)
_NOT_CONTEXTS = {"general", "globals"}  # extensions.conf's sections of settings


def generated_contexts(files: dict[str, str]) -> set[str]:
    """The contexts the generated dialplan's files define: the ones a custom context may include."""
    return {name for text in files.values() for name in _CONTEXT_HEADER.findall(text) if name not in _NOT_CONTEXTS}


GENERATED = {
    "generated/pjsip_endpoints.conf": render_pjsip_endpoints,
    "generated/queues.conf": render_queues,
    "generated/musiconhold.conf": render_music,
    "generated/routes.conf": render_routes,
    "generated/voicemail.conf": render_voicemail,
    "generated/extensions_custom.conf": render_custom_contexts,
}
DIALPLAN_CHECK_FILE = "generated/dialplan_check.conf"  # written only while a check runs (#tryinclude)


def render_generated(snapshot: Snapshot) -> dict[str, str]:
    return {name: render(snapshot) for name, render in GENERATED.items()}


@dataclass(frozen=True)
class StaticValues:
    """The values the fixed templates need: where things are, what to bind, the secrets."""

    mount: str
    bind_host: str
    ami_port: int
    ami_user: str
    ami_secret: str
    ami_permit: str
    http_port: int
    ari_user: str
    ari_secret: str
    sip_host: str
    sip_port: int
    rtp_start: int
    rtp_end: int
    ice_host_candidates: dict = field(default_factory=dict)
    tone_country: str = "us"
    sip_tls_port: int = 0  # 0: no SIP over TLS
    system_name: str = ""  # asterisk.conf systemname: the node's name when the controller drives several

    def as_dict(self) -> dict:
        values = dict(self.__dict__)
        values["system_name"] = f"systemname = {self.system_name}" if self.system_name else "; systemname: none"
        values["sip_tls_transport"] = render_tls_transport(self.sip_host, self.sip_tls_port, self.mount)
        values["ice_host_candidates"] = "\n".join(
            f"{local} => {advertised}" for local, advertised in self.ice_host_candidates.items()
        )
        return values


# Where Asterisk reads SIP over TLS's certificate and key: copies in the instance directory (asterisk_config), since
# the configured files are outside its chroot and the key is root's.
SIP_CERTIFICATE = "tls/sip.crt"
SIP_PRIVATE_KEY = "tls/sip.key"
# The certificate authorities a TLS trunk's carrier is checked against: a copy of asterisk.trunk_authorities or of the
# system's bundle.
TRUNK_AUTHORITIES = "tls/trunk-authorities.pem"


def render_tls_transport(host: str, port: int, mount: str) -> str:
    """pjsip.conf's TLS transport, TLS 1.2 and 1.3. pjsip's method names one version (tlsv1_2 would refuse 1.3) or
    every one (sslv23) OpenSSL allows: Asterisk's OpenSSL 3 refuses 1.0 and 1.1 at its default security level
    (tests/integration/test_sip_tls.py checks each version against the running Asterisk)."""
    if not port:
        return "; SIP over TLS is off ([asterisk] sip_tls_port = 0).\n"
    return _section(
        "transport-tls",
        [
            ("type", "transport"),
            ("protocol", "tls"),
            ("bind", f"{host}:{port}"),
            ("cert_file", f"{mount}/{SIP_CERTIFICATE}"),
            ("priv_key_file", f"{mount}/{SIP_PRIVATE_KEY}"),
            ("method", "sslv23"),
            # Where Asterisk connects out (a carrier over TLS), the peer's certificate must be vouched for by these
            # authorities and name the address dialled; phones connecting in are not asked for one (verify_client).
            ("ca_list_file", f"{mount}/{TRUNK_AUTHORITIES}"),
            ("verify_server", "yes"),
        ],
    )


def render_static(templates: dict[str, str], values: StaticValues) -> dict[str, str]:
    filled = values.as_dict()
    return {name: fill(text, filled) for name, text in templates.items()}
