"""The `leadcenter` command: run the system, manage Asterisk, the database and accounts from a shell."""

from __future__ import annotations

import logging
import os
import sys
import time

import click

from leadcenter import clock, credentials, datadir, db, demo, migrations
from leadcenter import config as config_module

log = logging.getLogger("leadcenter")


class Context:
    def __init__(self, settings: config_module.Settings):
        self.settings = settings
        self._db_open = False

    def open_db(self) -> None:
        if not self._db_open:
            datadir.make_private(self.settings.data_dir, shared=self.settings.asterisk_dir)
            db.bind(db.open_sqlite(str(self.settings.database_path)))
            migrations.migrate()
            self._db_open = True

    def instance(self):
        from leadcenter.pbx.process import Instance

        return Instance.from_settings(self.settings)

    def prepare_asterisk(self):
        """Build the Asterisk root if missing, lay out the instance directory and render every config file."""
        from leadcenter import asterisk_config
        from leadcenter.pbx import provision

        if not self.settings.asterisk.external:
            provision.provision(self.settings.asterisk_root, say=click.echo)
        self.open_db()
        instance = self.instance()
        instance.prepare()
        secrets = credentials.load_or_create(self.settings.data_dir)
        return instance, asterisk_config.write(self.settings, secrets, instance)

    def reconfigure(self) -> None:
        """After an account change from the shell: render the files and reload a running Asterisk."""
        instance, modules = self.prepare_asterisk()
        if instance.pid() is None:
            return
        for module in sorted(modules):
            command = {"app_queue.so": "queue reload all", "all": "core reload"}.get(module, f"module reload {module}")
            instance.rx(command)
        if modules:
            click.echo(f"Asterisk reloaded: {', '.join(sorted(modules))}")


pass_context = click.make_pass_decorator(Context)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s",
    )
    if not verbose:  # one line per ARI request (every resync) drowns what matters
        logging.getLogger("httpx").setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="LEADCENTER_CONFIG",
    help="TOML settings file (default: <data_dir>/leadcenter.toml when it exists).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """Lead Center: a self-hosted contact center on Asterisk.

    Settings come from defaults, then the TOML file, then LEADCENTER_<SECTION>_<KEY> environment
    variables; `leadcenter config` shows them all.
    """
    _setup_logging(verbose)
    os.umask(datadir.PRIVATE_UMASK)  # every file this command, the controller and Asterisk write is private
    try:
        ctx.obj = Context(config_module.load(config_path))
    except config_module.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("config")
@pass_context
def show_config(ctx: Context) -> None:
    """Show the settings in effect, with the environment variable for each."""
    click.echo(config_module.describe(ctx.settings))


# -- run -------------------------------------------------------------------------------------------------------


@main.command()
@click.option("--demo/--no-demo", "with_demo", default=False, help="Seed the demo company when the database is empty.")
@pass_context
def run(ctx: Context, with_demo: bool) -> None:
    """Start everything: Asterisk (unless already running), the controller and the web app. Ctrl-C stops all."""
    from leadcenter.controller import Controller
    from leadcenter.web.server import serve

    instance, _ = ctx.prepare_asterisk()
    if with_demo and demo.seed(ctx.settings, clock.system()) is not None:
        click.echo("Demo company seeded.")
        instance, _ = ctx.prepare_asterisk()
    started_here = not instance.external and instance.pid() is None
    if instance.external:
        click.echo(f"Asterisk is external: expecting it at {ctx.settings.asterisk.host}")
    elif started_here:
        click.echo("Starting Asterisk...")
        began = time.monotonic()
        pid = instance.start()
        click.echo(f"Asterisk running (pid {pid}), booted in {time.monotonic() - began:.1f} s")
    else:
        click.echo(f"Asterisk already running (pid {instance.pid()}): using it; it keeps running after exit")
    http = ctx.settings.http
    click.echo(
        f"\nLead Center: http://{http.host}:{http.port}"
        + (f"  and  https://{http.https_host}:{http.https_port}" if http.https_port else "")
    )
    logins = demo.logins(ctx.settings)
    for email, password, role in logins:
        click.echo(f"  {role:<6} {email}  password: {password}")
    if logins:
        click.echo("Sign in as an agent, then ring the demo line from another terminal: leadcenter demo call")
    site = None
    if with_demo and (company := demo.company()) is not None:
        try:
            site = demo.serve_site(ctx.settings, company)
        except OSError as exc:  # e.g. the port is taken: the demo goes on without its website
            click.echo(f"The demo website could not start on {demo.site_origin(ctx.settings)}: {exc.strerror}")
    if site is not None:
        click.echo(f"The demo company's website, where a visitor can chat: {demo.site_origin(ctx.settings)}")
    click.echo("Press Ctrl-C to stop.\n")
    try:
        serve(ctx.settings, Controller)
    finally:
        if site is not None:
            site.shutdown()
            site.server_close()
        if started_here:
            click.echo("Stopping Asterisk...")
            instance.stop()
        click.echo("Lead Center stopped.")


# -- asterisk --------------------------------------------------------------------------------------------------


@main.group()
def asterisk() -> None:
    """Provision, start, stop and inspect this installation's Asterisk."""


@asterisk.command()
@pass_context
def provision(ctx: Context) -> None:
    """Build the Debian sid root with Asterisk 22 (once per machine; reused when present)."""
    from leadcenter.pbx import provision as asterisk_root

    try:
        asterisk_root.provision(ctx.settings.asterisk_root, say=click.echo)
    except asterisk_root.ProvisionError as exc:
        raise click.ClickException(str(exc)) from None


@asterisk.command()
@pass_context
def start(ctx: Context) -> None:
    """Render the configuration and start Asterisk in the background."""
    instance, _ = ctx.prepare_asterisk()
    began = time.monotonic()
    pid = instance.start()
    click.echo(f"Asterisk running (pid {pid}), ready in {time.monotonic() - began:.1f} s")


@asterisk.command()
@pass_context
def stop(ctx: Context) -> None:
    """Stop Asterisk."""
    click.echo("Asterisk stopped." if ctx.instance().stop() else "Asterisk was not running.")


@asterisk.command()
@pass_context
def status(ctx: Context) -> None:
    """Say whether Asterisk is running (exit status 3 when not)."""
    instance = ctx.instance()
    pid = instance.pid()
    uptime = instance.rx("core show uptime seconds") if pid else None
    if pid is None or uptime is None:
        click.echo("Asterisk is not running.")
        sys.exit(3)
    click.echo(f"Asterisk is running (pid {pid}).\n{uptime.strip()}")


@asterisk.command(context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1)
@pass_context
def cli(ctx: Context, command: tuple[str, ...]) -> None:
    """Open Asterisk's console, or run one console COMMAND (e.g. `leadcenter asterisk cli pjsip show endpoints`)."""
    instance = ctx.instance()
    if instance.pid() is None:
        raise click.ClickException("Asterisk is not running (leadcenter asterisk start)")
    if not command:
        instance.cli()
    output = instance.rx(" ".join(command))
    if output is None:
        raise click.ClickException("Asterisk did not answer")
    click.echo(output, nl=False)


@asterisk.command()
@pass_context
def reload(ctx: Context) -> None:
    """Render the configuration from the database and reload what changed."""
    ctx.reconfigure()


# -- database and demo -----------------------------------------------------------------------------------------


@main.group("db")
def database() -> None:
    """The database."""


@database.command()
@pass_context
def migrate(ctx: Context) -> None:
    """Create the database or bring it to the current schema."""
    datadir.make_private(ctx.settings.data_dir, shared=ctx.settings.asterisk_dir)
    db.bind(db.open_sqlite(str(ctx.settings.database_path)))
    before = migrations.current_version()
    steps = migrations.migrate()
    click.echo(
        f"{ctx.settings.database_path}: schema version {migrations.LATEST}"
        + ("" if before == migrations.LATEST else f" (was {before or 'empty'}; {steps} step(s))")
    )


@main.group("demo", invoke_without_command=True)
@click.pass_context
def seed_demo(click_ctx: click.Context) -> None:
    """Seed the demo company (when the database is empty) and print its logins; `demo call` rings it."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(Context)
    assert ctx is not None, "main() made it"
    ctx.open_db()
    click.echo("Demo company seeded." if demo.seed(ctx.settings, clock.system()) else "The database already has data.")
    for email, password, role in demo.logins(ctx.settings):
        click.echo(f"  {role:<6} {email}  password: {password}")


DEMO_CALL_EVENTS = {
    "INVITE": "dialling: the call goes into the tracking number's flow (the agents see it in Incoming)",
    "ANSWERED": "connected (Asterisk answers to play the recording notice and the queue): the caller speaks for 7 s",
    "CANCELLED": "nobody answered: the caller gave up",
    "REJECTED": "refused by Asterisk (SIP {0}): is the number a tracking number of the demo trunk?",
    "HANGUP": "hung up by {0}",
}


@seed_demo.command("call")
@click.option("--to", "did", default=demo.NUMBERS[0][0], show_default=True, help="The tracking number to call.")
@click.option("--from", "caller", default="+14045550123", show_default=True, help="The caller's number.")
@click.option("--name", default="Demo Caller", show_default=True, help="The caller's name (caller ID).")
@click.option(
    "--seconds",
    default=60,
    show_default=True,
    type=click.IntRange(5, 3600),
    help="The caller hangs up this long after dialling, unless the agent hangs up first.",
)
@pass_context
def demo_call(ctx: Context, did: str, caller: str, name: str, seconds: int) -> None:
    """Call a tracking number as a lead would, from the demo carrier's address (SIPp on the demo trunk): the
    call goes through its flow and rings the agents; answer it in the app. Exit status 0 when an agent answered."""
    import shutil
    import tempfile
    from pathlib import Path

    from leadcenter.phones import InvalidNumber, to_e164
    from leadcenter.tracking_numbers.models import TrackingNumber

    sipp = shutil.which("sipp")
    if sipp is None:
        raise click.ClickException("SIPp is missing: install Debian's sip-tester (`make run` does)")
    ctx.open_db()
    number = TrackingNumber.get_or_none(TrackingNumber.number == did)
    if number is None:
        raise click.ClickException(f"{did} is not a tracking number: see GET /api/v1/tracking-numbers")
    try:
        caller = to_e164(caller, number.company.default_region)
    except InvalidNumber:
        raise click.ClickException(f"--from {caller!r} is not a phone number") from None
    placed_at = clock.system()
    click.echo(
        f"Calling {did} from {caller} ({name}) as the demo carrier "
        f"({ctx.settings.demo.trunk_host}:{ctx.settings.demo.trunk_port})..."
    )
    with tempfile.TemporaryDirectory(prefix="leadcenter-demo-call-") as folder:
        workdir = Path(folder)
        process = demo.start_call(ctx.settings, sipp, workdir, did, caller, name, seconds)
        shown, deadline = 0, time.monotonic() + seconds + 40
        try:
            while time.monotonic() < deadline:
                finished = process.poll() is not None
                events = demo.call_events(workdir)
                for kind, *details in events[shown:]:
                    if kind == "HANGUP":
                        details = ["the agent" if details[:1] == ["remote"] else "the caller"]
                    click.echo("  " + DEMO_CALL_EVENTS.get(kind, kind).format(*details, "?"))
                shown = len(events)
                if finished:
                    break
                time.sleep(0.2)
        except KeyboardInterrupt:
            click.echo("  stopped")
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(5)
        errors = (workdir / "errors.log").read_text(errors="replace").strip() if not shown else ""
    if errors:
        click.echo(errors[-2000:], err=True)
    row = demo.recorded_call(caller, placed_at)
    if row is None:
        click.echo("  no interaction was recorded: is `leadcenter run` running?")
    else:
        agent = f" by {row.agent.display_name}" if row.agent is not None else ""
        talk = f", talked {row.talk_seconds} s" if row.talk_seconds else ""
        click.echo(f"  in Recent: {row.outcome}{agent}{talk} (interaction {row.id})")
    sys.exit(0 if row is not None and row.outcome == "answered" else 1)


# -- accounts --------------------------------------------------------------------------------------------------


def _company(company_id: int):
    from leadcenter.accounts.models import Company

    company = Company.get_or_none(Company.id == company_id)
    if company is None:
        raise click.ClickException(f"no company {company_id} (leadcenter company list)")
    return company


def _user(email: str):
    from leadcenter.accounts.models import User

    user = User.get_or_none(User.email == email.strip().lower())
    if user is None:
        raise click.ClickException(f"no user {email} (leadcenter user list)")
    return user


@main.group()
def company() -> None:
    """Companies served by this installation."""


@company.command("add")
@click.argument("name")
@click.option("--region", default="US", show_default=True, help="Region for numbers written without +country.")
@pass_context
def company_add(ctx: Context, name: str, region: str) -> None:
    """Create a company."""
    from leadcenter.accounts.services import create_company

    ctx.open_db()
    click.echo(f"company {create_company(name, region).id} created: {name}")
    ctx.reconfigure()


@company.command("list")
@pass_context
def company_list(ctx: Context) -> None:
    """List companies."""
    from leadcenter.accounts.models import Company

    ctx.open_db()
    for row in Company.select().order_by(Company.id):
        click.echo(f"{row.id:>4}  {row.name}  (region {row.default_region})")


@company.command("api-key")
@click.argument("company_id", type=int)
@click.argument("name")
@pass_context
def company_api_key(ctx: Context, company_id: int, name: str) -> None:
    """Create an API key for an integration of a company (shown once; use as `Authorization: Bearer KEY`)."""
    from leadcenter.web.auth import new_api_key

    ctx.open_db()
    row, key = new_api_key(_company(company_id), name, None)
    click.echo(f"API key {row.prefix} ({name}) for {row.company.name}:\n{key}\nStore it now: it is not shown again.")


@company.command("chat-widget")
@click.argument("company_id", type=int)
@click.option(
    "--allow",
    "origins",
    multiple=True,
    metavar="ORIGIN",
    help="A site origin where the widget may run (https://www.example.com); repeat for several. Replaces the list.",
)
@click.option(
    "--url",
    "base_url",
    metavar="URL",
    help="Lead Center's address as the site's visitors reach it (default: the HTTPS listener, else the HTTP one).",
)
@pass_context
def company_chat_widget(ctx: Context, company_id: int, origins: tuple[str, ...], base_url: str | None) -> None:
    """Show the website snippet to paste into every page of the company's site, and where it may run."""
    from pydantic import ValidationError

    from leadcenter.chats.models import ChatWidget
    from leadcenter.chats.schemas import ChatWidgetChanges, ChatWidgetOut
    from leadcenter.chats.services import Chats

    ctx.open_db()
    widget = Chats.widget_of(_company(company_id))
    if origins:
        try:
            allowed = ChatWidgetChanges(allowed_origins=list(origins)).allowed_origins
        except ValidationError as exc:
            raise click.BadParameter(exc.errors()[0]["msg"], param_hint="--allow") from None
        ChatWidget.update(allowed_origins="\n".join(allowed)).where(ChatWidget.id == widget.id).execute()
        widget = ChatWidget.get_by_id(widget.id)
    http = ctx.settings.http
    url = (
        base_url
        or (f"https://{http.https_host}:{http.https_port}" if http.https_port else f"http://{http.host}:{http.port}")
    ).rstrip("/")
    shown = ChatWidgetOut.from_row(widget, url)
    click.echo(f"Paste into every page of the site:\n\n  {shown.snippet}\n")
    if shown.allowed_origins:
        click.echo("It runs on: " + ", ".join(shown.allowed_origins))
    else:
        click.echo("It runs on no site yet: name the site with --allow https://www.example.com")
    if not widget.enabled:
        click.echo('The widget is turned off (PATCH /api/v1/chat-widget {"enabled": true}).')


@main.group()
def user() -> None:
    """People who sign in, and their role in each company."""


ROLE = click.option("--role", type=click.Choice(["admin", "supervisor", "agent"]), default="agent", show_default=True)
COMPANY = click.option("--company", "company_id", type=int, required=True, help="Company id (leadcenter company list).")


def _enrol(user, company, role: str) -> None:
    """Make ``user`` a member of ``company``; an agent also gets SIP credentials for the softphone and a desk
    phone."""
    from leadcenter.accounts.services import add_member
    from leadcenter.agents.services import create_agent

    with db.database.atomic():
        add_member(user, company, role)
        if role == "agent":
            create_agent(company, user, devices=("webrtc", "desk"), now=clock.system())


@user.command("add")
@click.argument("email")
@click.option("--name", required=True, help="Full name.")
@COMPANY
@ROLE
@click.password_option(help="Password (asked for when not given).")
@pass_context
def user_add(ctx: Context, email: str, name: str, company_id: int, role: str, password: str) -> None:
    """Create a user in a company; an agent also gets SIP credentials for the softphone and a desk phone."""
    from leadcenter.accounts.models import User
    from leadcenter.accounts.services import AccountError, create_user

    ctx.open_db()
    company = _company(company_id)
    existing = User.get_or_none(User.email == email.strip().lower())
    if existing is not None:
        raise click.ClickException(
            f"{existing.email} already has an account; to add it to {company.name}: "
            f"leadcenter user join {existing.email} --company {company.id} --role {role}"
        )
    try:
        with db.database.atomic():
            first = not User.select().where(User.owner == True).exists()  # noqa: E712
            new = create_user(email, name, password)
            _enrol(new, company, role)
            if first:  # an installation's first user runs it (as `leadcenter run --demo` seeds it)
                new.owner = True
                new.save()
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {new.email} added to {company.name} as {role}" + (", the installation owner" if first else ""))
    ctx.reconfigure()


@user.command("join")
@click.argument("email")
@COMPANY
@ROLE
@pass_context
def user_join(ctx: Context, email: str, company_id: int, role: str) -> None:
    """Add an existing user to another company. They sign in with the password they have and pick the company
    in the app; an agent gets SIP credentials of their own there."""
    from leadcenter.accounts.models import Membership

    ctx.open_db()
    company, target = _company(company_id), _user(email)
    current = Membership.get_or_none(Membership.user == target, Membership.company == company)
    if current is not None:
        raise click.ClickException(f"{target.email} is already in {company.name} as {current.role}")
    _enrol(target, company, role)
    click.echo(f"user {target.email} added to {company.name} as {role}")
    ctx.reconfigure()


@user.command("list")
@pass_context
def user_list(ctx: Context) -> None:
    """List users and their companies."""
    from leadcenter.accounts.models import Company, Membership, User

    ctx.open_db()
    for row in (
        Membership.select(Membership, User, Company).join(User).switch(Membership).join(Company).order_by(User.email)
    ):
        owner = "  (installation owner)" if row.user.owner else ""
        click.echo(f"{row.user.email:<32} {row.user.name:<24} {row.role:<10} {row.company.name}{owner}")


@user.command("owner")
@click.argument("email")
@click.option("--revoke", is_flag=True, help="Take the installation owner's role away instead.")
@pass_context
def user_owner(ctx: Context, email: str, revoke: bool) -> None:
    """Make a user the installation owner (or, with --revoke, no longer): above every company's admins, the one
    who edits custom dialplan contexts in the console. An installation may have several."""
    ctx.open_db()
    target = _user(email)
    target.owner = not revoke
    target.save()
    click.echo(f"{target.email} is {'no longer' if revoke else 'now'} the installation owner")


@user.command("passwd")
@click.argument("email")
@click.password_option(help="New password (asked for when not given).")
@pass_context
def user_passwd(ctx: Context, email: str, password: str) -> None:
    """Set a user's password."""
    from leadcenter.accounts.services import AccountError, set_password

    ctx.open_db()
    target = _user(email)
    try:
        set_password(target, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    target.save()
    click.echo(f"password of {target.email} changed")


@main.group()
def agent() -> None:
    """Agents: status, ring device, SIP credentials."""


@agent.command("list")
@pass_context
def agent_list(ctx: Context) -> None:
    """List agents with their status and the device the queue rings."""
    from leadcenter.agents.models import Agent

    ctx.open_db()
    for row in Agent.select().order_by(Agent.id):
        click.echo(
            f"{row.id:>4}  {row.display_name:<24} {row.status:<12} rings {row.queue_interface:<16} "
            f"company {row.company_id}"
        )


@agent.command("sip")
@click.argument("agent_id", type=int)
@pass_context
def agent_sip(ctx: Context, agent_id: int) -> None:
    """Show the SIP accounts of an agent's devices, to set up a desk phone."""
    from leadcenter.agents.models import SipCredential

    ctx.open_db()
    s = ctx.settings.asterisk
    creds = list(SipCredential.select().where(SipCredential.agent == agent_id))
    if not creds:
        raise click.ClickException(f"no agent {agent_id} (leadcenter agent list)")
    for cred in creds:
        click.echo(
            f"{cred.device:<7} server {s.sip_host}:{s.sip_port}  username {cred.username}  password {cred.password}"
        )


@agent.command("ring")
@click.argument("agent_id", type=int)
@click.argument("device", type=click.Choice(["webrtc", "desk"]))
@pass_context
def agent_ring(ctx: Context, agent_id: int, device: str) -> None:
    """Choose which device the queue rings for an agent."""
    from leadcenter.agents.models import Agent, SipCredential

    ctx.open_db()
    row = Agent.get_or_none(Agent.id == agent_id)
    if row is None:
        raise click.ClickException(f"no agent {agent_id} (leadcenter agent list)")
    if not SipCredential.select().where(SipCredential.agent == row, SipCredential.device == device).exists():
        raise click.ClickException(f"agent {agent_id} has no {device} device")
    row.ring_device = device
    row.save()
    click.echo(f"agent {agent_id} now rings on {row.queue_interface}")
    ctx.reconfigure()


@main.group()
def sms() -> None:
    """Texting over SMPP."""


@sms.command("status")
@pass_context
def sms_status(ctx: Context) -> None:
    """The running controller's SMPP binds: state, counters, outbox backlog (exit status 3 unless all are bound)."""
    import httpx

    http = ctx.settings.http
    try:
        health = httpx.get(f"http://{http.host}:{http.port}/healthz", timeout=5).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise click.ClickException(f"the controller does not answer on {http.host}:{http.port}: {exc}") from None
    status = health.get("sms", {"state": "unknown"})
    click.echo(f"state: {status['state']}")
    if "outbox" in status:
        click.echo(f"outbox: {status['outbox']}")
    for smsc in status.get("smscs", []):
        click.echo(f"\n[{smsc['name']}]")
        for key, value in smsc.items():
            click.echo(f"{key}: {value}")
    if status.get("state") != "bound":
        sys.exit(3)
