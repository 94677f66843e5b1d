"""From the database to Asterisk's files: build the render inputs from rows, write what changed, say what to reload.

It reads every domain's models, so it sits above the domains, beside the composition root; ``pbx/`` below it only
renders plain specs and runs Asterisk."""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import re
import secrets as random
import threading
import time
from pathlib import Path

from leadcenter import generations
from leadcenter.accounts.models import Company, User
from leadcenter.agents.models import Agent, SipCredential, current_agents
from leadcenter.certificates import SYSTEM_AUTHORITIES, configured_or_generated
from leadcenter.clock import Clock
from leadcenter.config import Settings, system_name
from leadcenter.credentials import Secrets
from leadcenter.db import database
from leadcenter.dialplans.models import CustomContext
from leadcenter.dialplans.services import DialplanUnchecked
from leadcenter.flows.models import CallFlow
from leadcenter.kamailio import Edge, KamailioError, edge_snapshot
from leadcenter.pbx import names, render
from leadcenter.pbx.process import Instance
from leadcenter.pbx.provision import MOUNT
from leadcenter.resources import ASTERISK_TEMPLATES, DIALPLANS
from leadcenter.teams.models import Team, TeamMember
from leadcenter.telephony.ami import AmiError
from leadcenter.telephony.service import Telephony
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk, peer_address

log = logging.getLogger(__name__)

# What Asterisk must reload when a file changes (AMI "Reload" module, or a queue reload).
RELOADS = {
    "generated/pjsip_endpoints.conf": "res_pjsip.so",
    "pjsip.conf": "res_pjsip.so",
    "generated/queues.conf": "app_queue.so",
    "generated/musiconhold.conf": "res_musiconhold.so",
    "queues.conf": "app_queue.so",
    "generated/routes.conf": "pbx_config.so",
    "generated/extensions_custom.conf": "pbx_config.so",
    "extensions.conf": "pbx_config.so",
    "generated/voicemail.conf": "app_voicemail.so",
    "voicemail.conf": "app_voicemail.so",
    "musiconhold.conf": "res_musiconhold.so",
    "confbridge.conf": "app_confbridge.so",
}


# Addresses that name no interface: RTP bound to one of these listens on every address the machine has.
WILDCARD_ADDRESSES = {"", "0.0.0.0", "::", "[::]"}


def rtp_address(settings: Settings) -> str:
    """Where Asterisk's media sockets listen and what SDP names: ``asterisk.media_address``, else the SIP host
    (RTP on the address SIP listens on, never on every interface); empty when that is a wildcard (nothing more
    precise is known: set ``media_address``)."""
    address = settings.asterisk.media_address or settings.asterisk.sip_host
    return "" if address in WILDCARD_ADDRESSES else address


class FlowError(ValueError):
    """A call flow that cannot be rendered (a step naming something that does not exist)."""


def static_values(settings: Settings, secrets: Secrets) -> render.StaticValues:
    a = settings.asterisk
    return render.StaticValues(
        mount=MOUNT,
        bind_host=a.bind_host,
        ami_port=a.ami_port,
        ami_user=names.AMI_USER,
        ami_secret=secrets.ami_secret,
        ami_permit=a.ami_permit,
        http_port=a.http_port,
        ari_user=names.ARI_USER,
        ari_secret=secrets.ari_secret,
        sip_host=a.sip_host,
        sip_port=a.sip_port,
        rtp_start=a.rtp_start,
        rtp_end=a.rtp_end,
        ice_host_candidates=dict(pair.split("=>") for pair in a.ice_host_candidates.split(",") if "=>" in pair),
        sip_tls_port=a.sip_tls_port,
        system_name=system_name(settings),
    )


def sip_certificate_files(settings: Settings) -> tuple[Path, Path]:
    """SIP over TLS's certificate and key, Asterisk's and Kamailio's at the edge: the configured pair, or the
    self-signed one generated for the SIP host (and Kamailio's address when it takes SIP over TLS)."""
    a, k = settings.asterisk, settings.kamailio
    return configured_or_generated(
        a.sip_certificate,
        a.sip_private_key,
        "[asterisk] sip_certificate and sip_private_key",
        settings.data_dir / "tls",
        "sip-self-signed",
        a.sip_host,
        *([k.listen_host] if k.enabled and k.tls_port else []),
    )


def install_sip_certificate(settings: Settings, instance: Instance) -> None:
    """SIP over TLS's certificate and key, and the authorities trunks over TLS are checked against, copied where
    Asterisk reads them, inside its instance directory: the key its own and private (0600), as it runs as its own
    account, chrooted. Only what changed is written; Asterisk reads them when it starts (a pjsip reload keeps its
    transports)."""
    if not settings.asterisk.sip_tls_port:
        return
    certificate, key = sip_certificate_files(settings)
    authorities = Path(settings.asterisk.trunk_authorities or SYSTEM_AUTHORITIES)
    for source, installed, mode in (
        (certificate, render.SIP_CERTIFICATE, 0o640),
        (key, render.SIP_PRIVATE_KEY, 0o600),
        (authorities, render.TRUNK_AUTHORITIES, 0o640),
    ):
        data = source.read_bytes()
        if (instance.dir / installed).exists() and (instance.dir / installed).read_bytes() == data:
            continue
        instance.install_file(installed, data, mode)


_TIME_ZONE = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")


def company_time_zone(company: Company) -> str:
    """The IANA time zone business hours are read in: the company's (UTC should it not be a zone's name)."""
    zone = company.time_zone
    return zone if _TIME_ZONE.fullmatch(zone) else "UTC"


class _FlowSpecs:
    """A company's flows as render specs: what their steps name, looked up once."""

    def __init__(
        self, company: Company, usable: dict[int, Agent], trunks: dict[int, Trunk], custom: dict[str, CustomContext]
    ):
        self.company, self.usable, self.custom = company, usable, custom
        self.teams = {t.id: t for t in Team.select().where(Team.company == company)}
        self.agents = {a.id: a for a in Agent.select().where(Agent.company == company)}
        self.trunks = {t: trunk for t, trunk in trunks.items() if trunk.company_id == company.id}
        self.flows = {f.id for f in CallFlow.select(CallFlow.id).where(CallFlow.company == company)}

    def flow(self, flow: CallFlow) -> render.FlowSpec:
        return render.FlowSpec(
            flow.id, flow.name, flow.record, flow.announce_recording, self.steps(flow, flow.steps, "steps")
        )

    def steps(self, flow: CallFlow, steps: list[dict], path: str) -> tuple[render.AnyStep, ...]:
        return tuple(self.step(flow, step, f"{path}.{i}") for i, step in enumerate(steps))

    def branch(self, flow: CallFlow, branch: dict, path: str) -> render.BranchSpec:
        target = branch.get("flow")
        if target is not None and target not in self.flows:
            raise FlowError(f"flow {flow.id} {path}: no flow {target} in this company")
        return render.BranchSpec(self.steps(flow, branch.get("steps", []), f"{path}.steps"), target)

    def step(self, flow: CallFlow, step: dict, path: str) -> render.AnyStep:
        kind, timeout = step.get("type"), int(step.get("timeout", 0))
        if kind == "queue":
            team = self.teams.get(step.get("team", 0))  # no row has id 0
            if team is None:
                raise FlowError(f"flow {flow.id} {path}: no team {step.get('team')} in this company")
            # A step without a wait of its own waits the team's maximum.
            return render.StepSpec("queue", team.queue_name, timeout or team.max_wait_seconds)
        if kind == "ring_agents":
            missing = [a for a in step.get("agents", []) if a not in self.agents]
            if missing:
                raise FlowError(f"flow {flow.id} {path}: no agent(s) {missing} in this company")
            # Every agent of the step with a device; the dialplan rings those Available when the call comes.
            dial = "&".join(self.agents[a].queue_interface for a in step.get("agents", []) if a in self.usable)
            return render.StepSpec("ring_agents", dial, timeout or 30)
        if kind == "voicemail":
            agent_id = step.get("agent")
            if agent_id is not None and agent_id not in self.agents:
                raise FlowError(f"flow {flow.id} {path}: no agent {agent_id} in this company")
            mailbox = names.agent_mailbox(agent_id) if agent_id is not None else names.company_mailbox(flow.company_id)
            return render.StepSpec("voicemail", mailbox)
        if kind == "greeting":
            return render.StepSpec("greeting", flow_sound_path(flow.company_id, step["sound"]))
        if kind == "forward":
            trunk = self.trunks.get(step.get("trunk", 0))
            if trunk is None:
                raise FlowError(f"flow {flow.id} {path}: no trunk {step.get('trunk')} in this company")
            return render.StepSpec("forward", names.external_dial(step["number"], trunk.id), timeout or 30)
        if kind == "hangup":
            return render.StepSpec("hangup")
        if kind == "custom":
            context = self.custom.get(step.get("context", ""))
            if context is None or context.company_id not in (None, flow.company_id):
                raise FlowError(f"flow {flow.id} {path}: no custom context {step.get('context')!r} for its company")
            return render.StepSpec("custom", context.name)
        if kind == "hours":
            return render.HoursSpec(
                company_time_zone(self.company),
                tuple(("&".join(h["days"]), h["open"], h["close"]) for h in step.get("weekly", [])),
                tuple(day.replace("-", "") for day in step.get("holidays", [])),
                self.branch(flow, step.get("open", {}), f"{path}.open"),
                self.branch(flow, step.get("closed", {}), f"{path}.closed"),
            )
        if kind == "ivr":
            sound = step.get("sound")
            return render.IvrSpec(
                flow_sound_path(flow.company_id, sound) if sound else "",
                tuple(
                    (digit, self.branch(flow, branch, f"{path}.digits.{digit}"))
                    for digit, branch in sorted(step.get("digits", {}).items())
                ),
                int(step.get("timeout", 5)),
                int(step.get("attempts", 3)),
                self.branch(flow, step.get("no_input", {}), f"{path}.no_input"),
                self.branch(flow, step.get("invalid", {}), f"{path}.invalid"),
            )
        raise FlowError(f"flow {flow.id} {path}: unknown step type {kind!r}")


def flow_sound_path(company_id: int, sound: str) -> str:
    """Where a flow sound plays from, as the dialplan names it (without the extension: Asterisk picks the file)."""
    return "${LC_SOUNDS}/" + names.flow_sound(company_id, sound)


def snapshot(settings: Settings) -> render.Snapshot:
    """Read everything the generated files depend on."""
    # Only agents who still belong to their company and may sign in have devices Asterisk accepts.
    usable = {a.id: a for a in current_agents().join(User, on=(User.id == Agent.user)).where(User.active == True)}  # noqa: E712
    devices = [
        render.AgentDevice(
            cred.username,
            cred.password,
            usable[cred.agent_id].display_name,
            webrtc=cred.device == "webrtc",
            agent_id=cred.agent_id,
            company_id=usable[cred.agent_id].company_id,
            rings=usable[cred.agent_id].ring_device == cred.device,
            mailbox="" if cred.device == "webrtc" else names.mailbox_address(names.agent_mailbox(cred.agent_id)),
        )
        for cred in (
            SipCredential.select()
            .where(
                SipCredential.enabled == True,  # noqa: E712
                SipCredential.agent.in_(list(usable) or [0]),
            )
            .order_by(SipCredential.agent, SipCredential.device)
        )
    ]
    trunks = [
        render.TrunkSpec(
            t.id,
            t.name,
            peer_address(t.host),
            t.port,
            registers=t.auth == "register",
            username=t.username,
            password=t.password,
            transport=t.transport,
            codecs=tuple(t.codecs.split(",")),
            qualify_seconds=t.qualify_seconds,
        )
        for t in Trunk.select().order_by(Trunk.id)
    ]
    queues, music = [], []
    for team in Team.select().order_by(Team.id):
        members = tuple(
            render.QueueMemberSpec(usable[m.agent_id].queue_interface, names.queue_member(m.agent_id), m.penalty)
            for m in TeamMember.select().where(TeamMember.team == team).order_by(TeamMember.position, TeamMember.id)
            if m.agent_id in usable
        )
        music_class = names.music_class(team.id) if team.has_music else "default"
        queues.append(
            render.QueueSpec(
                team.queue_name,
                team.name,
                team.strategy,
                team.ring_seconds,
                team.announce_position,
                members,
                team.announce_wait_time,
                team.announce_seconds,
                music_class,
                team.callback_enabled,
            )
        )
        if team.has_music:
            music.append(render.MusicSpec(music_class, team.name, f"{MOUNT}/{Path(team.music_file).parent}"))
    routes = [
        render.RouteSpec(n.trunk.endpoint_name, n.number, n.name, n.company_id, n.id, n.flow_id)
        for n in TrackingNumber.select(TrackingNumber, Trunk).join(Trunk).order_by(TrackingNumber.id)
    ]
    trunk_rows = {t.id: t for t in Trunk.select()}
    custom = {c.name: c for c in CustomContext.select().order_by(CustomContext.name)}
    flows = []
    for company in Company.select().order_by(Company.id):
        specs = _FlowSpecs(company, usable, trunk_rows, custom)
        flows += [specs.flow(f) for f in CallFlow.select().where(CallFlow.company == company).order_by(CallFlow.id)]
    mailboxes = [render.MailboxSpec(names.company_mailbox(c.id), c.name) for c in Company.select().order_by(Company.id)]
    mailboxes += [
        render.MailboxSpec(names.agent_mailbox(a.id), a.display_name) for a in Agent.select().order_by(Agent.id)
    ]
    return render.Snapshot(
        tuple(devices),
        tuple(trunks),
        tuple(queues),
        tuple(music),
        tuple(routes),
        tuple(flows),
        tuple(mailboxes),
        rtp_address(settings),
        settings.asterisk.qualify_seconds,
        tuple(render.CustomContextSpec(c.name, c.text) for c in custom.values()),
        settings.asterisk.desk_srtp == "required",
        edge_address(settings),
    )


def edge_address(settings: Settings) -> str:
    """Kamailio's SIP address as the nodes reach it (host:port), when it is the edge; "" otherwise."""
    k = settings.kamailio
    if not k.enabled:
        return ""
    return f"[{k.listen_host}]:{k.port}" if ":" in k.listen_host else f"{k.listen_host}:{k.port}"


def all_files(settings: Settings, secrets: Secrets) -> dict[str, str]:
    templates = {p.name: p.read_text() for p in sorted(ASTERISK_TEMPLATES.glob("*.conf"))}
    files = render.render_static(templates, static_values(settings, secrets))
    files.update({f"dialplans/{p.name}": p.read_text() for p in sorted(DIALPLANS.glob("*.conf"))})
    files.update(render.render_generated(snapshot(settings)))
    return files


def write(settings: Settings, secrets: Secrets, instance: Instance) -> set[str]:
    """Render every file and write the ones that changed; returns the modules Asterisk must reload."""
    install_sip_certificate(settings, instance)
    return {reload_for(name) for name in instance.write_files(all_files(settings, secrets))}


class ReloadFailed(RuntimeError):
    """Asterisk did not answer a reload over its console."""


# The console command that reloads a module (asterisk -rx); the controller's way is AMI (Telephony.reload).
RELOAD_COMMANDS = {"app_queue.so": "queue reload all", "all": "core reload"}


def reload_instance(instance: Instance, modules: set[str]) -> None:
    """Have this host's running Asterisk reload ``modules`` over its console: the shell's way (`leadcenter asterisk
    reload`) and a follower's. ReloadFailed when it does not answer."""
    for module in sorted(modules):
        command = RELOAD_COMMANDS.get(module, f"module reload {module}")
        if instance.rx(command) is None:
            raise ReloadFailed(f"Asterisk did not answer {command!r}")


def edge(settings: Settings, secrets: Secrets) -> Edge | None:
    """The Kamailio in front of the Asterisk nodes, when [kamailio] enabled."""
    if not settings.kamailio.enabled:
        return None
    return Edge(settings, secrets.edge_secret, sip_certificate_files(settings) if settings.kamailio.tls_port else None)


def apply_edge(settings: Settings, edge: Edge) -> None:
    """Write the edge's tables and lists from the database and have a running Kamailio reload what changed. A
    refusal is logged, not raised: the admin's change is saved and Asterisk has it; Kamailio reads the files again at
    its next start."""
    changed = edge.write(edge_snapshot(snapshot(settings)))
    if changed and edge.pid() is not None:
        try:
            edge.reload(changed)
        except KamailioError as exc:
            log.error("%s", exc)


def reload_for(name: str) -> str:
    """The module to reload for a changed file; "all" for the fixed files no module reload covers."""
    if name.startswith("dialplans/"):
        return "pbx_config.so"
    return RELOADS.get(name, "all")


# The dialplan as Asterisk reads it, in the order extensions.conf includes it: what the owner sees read-only.
DIALPLAN_FILES = ("extensions.conf", *(f"dialplans/{p.name}" for p in sorted(DIALPLANS.glob("*.conf"))),
                  "generated/routes.conf")  # fmt: skip


def generated_dialplan(settings: Settings, secrets: Secrets) -> dict[str, str]:
    """The generated dialplan's files (name -> text), rendered from the database as they would be now."""
    files = all_files(settings, secrets)
    return {name: files[name] for name in DIALPLAN_FILES}


CHECK_SECONDS = 30.0  # the longest a checked change waits for Asterisk's word before it is given up


class AsteriskConfig:
    """The running controller's side of it: after an admin change, render from the database and have Asterisk
    reload what changed (on the telephony loop; the returned future resolves once it has), and announce the new
    generation to the other nodes' followers (generations.py)."""

    def __init__(self, settings: Settings, secrets: Secrets, instance: Instance, telephony: Telephony, clock: Clock):
        self.settings, self.secrets, self.instance, self.telephony = settings, secrets, instance, telephony
        self.clock = clock
        self.edge = edge(settings, secrets)
        # Held while the files are written, and through a dialplan check (its scratch file and its reloads).
        self.lock = threading.Lock()
        # Waits for Asterisk's word on a checked change, then announces it (database work: never on the loop).
        self._announcer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="asterisk-checked")

    def apply(self) -> concurrent.futures.Future:
        with self.lock:
            modules = write(self.settings, self.secrets, self.instance)
            if self.edge is not None:
                apply_edge(self.settings, self.edge)
            generations.announce(self.clock())
            return self.telephony.submit(self.telephony.reload(modules))

    def apply_checked(self, contexts: list[str]) -> concurrent.futures.Future:
        """As apply, then check that Asterisk's dialplan has ``contexts``: the future raises
        telephony.service.AsteriskRefused with Asterisk's message when it does not (the caller puts the database
        back and applies again, which restores the files). The other nodes' followers are told of the change only
        once Asterisk took it: a refused one never reaches them."""
        with self.lock:
            modules = write(self.settings, self.secrets, self.instance)
            if self.edge is not None:
                apply_edge(self.settings, self.edge)
            checked = self.telephony.submit(self.telephony.reload_checked(modules, contexts))
        return self._announcer.submit(self._announce_when_taken, checked)

    def _announce_when_taken(self, checked: concurrent.futures.Future) -> None:
        checked.result(CHECK_SECONDS)  # AsteriskRefused, or TimeoutError: nothing announced
        try:
            generations.announce(self.clock())
        finally:
            database.close()  # this thread's connection: a checked change (a flow saved) is rare


class DialplanCheck:
    """Asterisk reads a custom context's text before it is saved, as a scratch context no call reaches
    (``lc-dialplan-check`` in ``generated/dialplan_check.conf``, which extensions.conf ``#tryinclude``s), so that
    the running dialplan never sees a text Asterisk complains about. pbx_config takes a context with mistakes in it
    (a parenthesis left open, an unknown label) and only says so in its log: its complaints are the WARNING, ERROR
    and NOTICE lines of ``messages.log`` that name the scratch file or context. The log is written by Asterisk's
    logger thread, after the reload has answered; the check file's last line is a priority Asterisk refuses, naming
    this check, so its warning marks the end of what Asterisk said about the file (its lines are logged in order)."""

    def __init__(self, config: AsteriskConfig, timeout: float = 10.0):
        self.config, self.timeout = config, timeout

    @property
    def log(self) -> Path:
        return self.config.instance.dir / "log" / "messages.log"

    def generated(self) -> dict[str, str]:
        return generated_dialplan(self.config.settings, self.config.secrets)

    def complaints(self, context: str, text: str) -> list[str]:
        """What Asterisk says about ``text`` as the context ``context`` (custom-<name>); [] when it takes it. Raises
        DialplanUnchecked when Asterisk cannot be asked or does not finish in time."""
        nonce = random.token_hex(8)
        telephony, instance = self.config.telephony, self.config.instance
        with self.config.lock:
            start = self.log.stat().st_size if self.log.exists() else 0
            instance.write_files({render.DIALPLAN_CHECK_FILE: render.render_dialplan_check(text, nonce)})
            try:
                telephony.submit(telephony.reload_dialplan()).result(self.timeout)
                said = self._said(start, nonce)
                loaded = telephony.submit(telephony.has_context(names.DIALPLAN_CHECK_CONTEXT)).result(self.timeout)
                if not loaded and not said:
                    said = [f"Asterisk did not load the context {context}"]
            except (AmiError, TimeoutError) as exc:
                raise DialplanUnchecked(f"Asterisk could not read the dialplan: {exc or 'no answer'}") from exc
            finally:
                instance.write_files({render.DIALPLAN_CHECK_FILE: ""})
                # Unless Asterisk is gone: then the scratch context stays loaded until the next reload (no call
                # reaches it).
                with contextlib.suppress(AmiError, TimeoutError):
                    telephony.submit(telephony.reload_dialplan()).result(self.timeout)
        return [_in_text(line, context) for line in said]

    def _said(self, start: int, nonce: str) -> list[str]:
        """The log's lines about the check file, from ``start`` until the line that ends this check."""
        end = names.dialplan_check_end_label(nonce)
        deadline = time.monotonic() + self.timeout
        lines: list[str] = []
        position = start
        pending = ""
        while time.monotonic() < deadline:
            with open(self.log, "rb") as log:
                if log.seek(0, 2) < position:  # rotated meanwhile
                    position = 0
                log.seek(position)
                chunk = log.read()
            position += len(chunk)
            pending += chunk.decode(errors="replace")
            *complete, pending = pending.split("\n")
            for line in complete:
                if end in line:
                    return lines
                if (
                    render.DIALPLAN_CHECK_FILE.split("/")[-1] in line or f"'{names.DIALPLAN_CHECK_CONTEXT}'" in line
                ) and (names.DIALPLAN_CHECK_END not in line):
                    lines.append(line)
            time.sleep(0.02)
        raise DialplanUnchecked(f"Asterisk did not finish reading the dialplan in {self.timeout:.0f} s")


_LOG_PREFIX = re.compile(r"^\[[^\]]*\]\s*(\w+)\[\d+\](?:\[[^\]]*\])?:?\s*")
_FILE_LINE = re.compile(r"line (\d+) of \S*" + re.escape(render.DIALPLAN_CHECK_FILE.split("/")[-1]))


def _in_text(line: str, context: str) -> str:
    """A log line as the owner reads it: the level and Asterisk's words, the line numbered in their text."""
    line = _LOG_PREFIX.sub(lambda m: f"{m.group(1)} ", line.strip())
    line = _FILE_LINE.sub(lambda m: f"line {int(m.group(1)) - render.DIALPLAN_CHECK_OFFSET}", line)
    return line.replace(f"'{names.DIALPLAN_CHECK_CONTEXT}'", f"'{context}'")
