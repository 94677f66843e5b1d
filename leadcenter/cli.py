"""The `leadcenter` command: run the system, manage Asterisk, the database and accounts from a shell."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from leadcenter import clock, credentials, datadir, db, demo, generations, migrations
from leadcenter import config as config_module

if TYPE_CHECKING:
    from leadcenter.accounts.models import Company

log = logging.getLogger("leadcenter")


class Context:
    def __init__(self, settings: config_module.Settings):
        self.settings = settings
        self._db_open = False

    def open_db(self) -> None:
        if not self._db_open:
            datadir.make_private(self.settings.data_dir, shared=self.settings.asterisk_dir)
            db.bind(db.open_database(self.settings.database.url, str(self.settings.database_path)))
            migrations.migrate()
            self._db_open = True

    def instance(self):
        from leadcenter.pbx.process import Instance

        return Instance.from_settings(self.settings)

    def prepare_asterisk(self):
        """Build the Asterisk root if missing, lay out the instance directory and render every config file."""
        from leadcenter import asterisk_config

        instance = self.laid_out_instance()
        secrets = credentials.load_or_create(self.settings.data_dir)
        return instance, asterisk_config.write(self.settings, secrets, instance)

    def laid_out_instance(self):
        """Build the Asterisk root if missing, open the database and lay out the instance directory."""
        from leadcenter.pbx import provision

        if not self.settings.asterisk.external:
            provision.provision(self.settings.asterisk_root, say=click.echo)
        self.open_db()
        instance = self.instance()
        instance.prepare()
        return instance

    def turn_server(self):
        """The coturn `leadcenter run` runs beside Asterisk ([turn] serve), with its rendered configuration."""
        from leadcenter import turn
        from leadcenter.web import tls

        settings = self.settings
        secret = credentials.turn_secret(settings, credentials.load_or_create(settings.data_dir))
        certificate = tls.certificate_files(settings) if settings.turn.tls_port else None
        return turn.TurnServer(settings, secret, certificate)

    def edge(self):
        """The Kamailio `leadcenter run` runs in front of the Asterisk nodes ([kamailio] enabled), or None."""
        from leadcenter import asterisk_config

        return asterisk_config.edge(self.settings, credentials.load_or_create(self.settings.data_dir))

    def reconfigure(self) -> None:
        """After an account change from the shell: render the files and reload a running Asterisk (and Kamailio)."""
        from leadcenter import asterisk_config

        if (edge := self.edge()) is not None:
            self.open_db()
            asterisk_config.apply_edge(self.settings, edge)
        instance, modules = self.prepare_asterisk()
        generations.announce(clock.system())  # the other nodes' followers render theirs
        if instance.pid() is None:
            return
        try:
            asterisk_config.reload_instance(instance, modules)
        except asterisk_config.ReloadFailed as exc:  # the change is saved; the files are written
            click.echo(f"{exc}: reload it with `leadcenter asterisk reload`", err=True)
            return
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
@click.option(
    "--web-only",
    is_flag=True,
    help="A web node: serve the app on this node's [http] ports over the controller node's PostgreSQL database.",
)
@pass_context
def run(ctx: Context, with_demo: bool, web_only: bool) -> None:
    """Start everything: Asterisk (unless already running), the controller and the web app. Ctrl-C stops all."""
    from leadcenter.controller import Controller
    from leadcenter.web.server import serve

    if web_only:
        _run_web_node(ctx.settings, functools.partial(Controller, web_only=True), serve)
        return
    leadership = _lead(ctx.settings)
    try:
        _run_controller(ctx, with_demo, Controller, serve)
    finally:
        if leadership is not None:
            leadership.stop()


def _lead(settings: config_module.Settings):
    """On PostgreSQL, one `leadcenter run` drives Asterisk (docs/architecture.md, "Several nodes"): wait here, as a
    standby, until this one holds the leadership lock; None on SQLite (one node)."""
    if not settings.database.url:
        return None
    from leadcenter import cluster

    leadership = cluster.Leadership(settings.database.url, on_lost=lambda: os.kill(os.getpid(), signal.SIGTERM))
    began = time.monotonic()
    try:
        leadership.take(standing_by=lambda: click.echo("Another controller node leads: standing by..."))
    except KeyboardInterrupt:
        leadership.stop()
        raise click.Abort() from None
    if time.monotonic() - began > cluster.LEADER_TRY_SECONDS:
        click.echo(f"This node leads now (after {time.monotonic() - began:.1f} s standing by).")
    leadership.watch()
    return leadership


def _run_controller(ctx: Context, with_demo: bool, build, serve) -> None:
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
    turn_server = ctx.turn_server() if ctx.settings.turn.serve else None
    turn_started_here = turn_server is not None and turn_server.pid() is None
    edge = ctx.edge()
    edge_started_here = edge is not None and edge.pid() is None
    try:
        if turn_server is not None:
            pid = _start_turn(turn_server)
            click.echo(f"TURN relay (coturn) running (pid {pid}): {', '.join(ctx.settings.turn.url_list)}")
        if edge is not None:
            _start_edge(ctx.settings, edge)
        click.echo("Press Ctrl-C to stop.\n")
        serve(ctx.settings, build)
    finally:
        if site is not None:
            site.shutdown()
            site.server_close()
        if started_here:
            click.echo("Stopping Asterisk...")
            instance.stop()
        if turn_server is not None and turn_started_here:
            turn_server.stop()
        if edge is not None and edge_started_here:
            edge.stop()
        click.echo("Lead Center stopped.")


def _run_web_node(settings: config_module.Settings, build, serve) -> None:
    """A web node (docs/architecture.md, "Several nodes"): the app only; Asterisk, its configuration and every
    controller thread are the controller node's."""
    if not settings.database.url:
        raise click.ClickException("--web-only needs [database] url: the PostgreSQL database of the controller node")
    http = settings.http
    click.echo(
        f"Lead Center web node: http://{http.host}:{http.port}"
        + (f"  and  https://{http.https_host}:{http.https_port}" if http.https_port else "")
        + f"\nAsterisk (the softphones' SIP): {settings.asterisk.host}:{settings.asterisk.http_port}"
        + "\nPress Ctrl-C to stop.\n"
    )
    serve(settings, build)
    click.echo("Lead Center web node stopped.")


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


@asterisk.command()
@pass_context
def follow(ctx: Context) -> None:
    """Keep this node's Asterisk on the controller's configuration: run on each other Asterisk node's host.

    With this node's settings (its data directory, its [asterisk] ports, the installation's [kamailio] and
    PostgreSQL [database] url; secrets.toml copied from the controller's data directory, whose AMI and ARI logins the
    controller uses): renders this node's files from the database, starts its Asterisk (or reloads what changed in
    a running one), then renders again and reloads only the changed modules whenever the controller applies a
    change. Each node's applied generation shows in the controller's /healthz. Ctrl-C stops (and stops the
    Asterisk it started).
    """
    from leadcenter import asterisk_config, cluster, follower

    settings = ctx.settings
    if not settings.database.url:
        raise click.ClickException(
            "follow needs the installation's PostgreSQL database ([database] url): on SQLite (one box) render "
            "another node's files with `leadcenter asterisk reload` run for it"
        )
    node = config_module.system_name(settings)
    if not node:
        raise click.ClickException(
            "this node is not one of [kamailio] nodes (each with its AMI and HTTP ports), by its [asterisk] "
            "sip_host:sip_port: set the same [kamailio] settings as the controller's and this node's own ports"
        )
    instance = ctx.laid_out_instance()
    secrets = credentials.load_or_create(settings.data_dir)
    started_here = not instance.external and instance.pid() is None

    def reload(modules: set[str]) -> None:
        if instance.pid() is None and not instance.external:
            click.echo(f"Node {node}: starting Asterisk...")
            click.echo(f"Node {node}: Asterisk running (pid {instance.start()})")
        else:
            asterisk_config.reload_instance(instance, modules)

    keeper = follower.Follower(node, lambda: asterisk_config.write(settings, secrets, instance), reload, clock.system)
    keeper.catch_up(force=True)
    listener = cluster.Listener(
        settings.database.url,
        {generations.CHANGED_CHANNEL: keeper.announced},
        on_gap=keeper.on_gap,
        tick=keeper.tick,
        name="asterisk-follower",
    )
    listener.start()
    click.echo(f"Node {node}: following the controller's changes. Press Ctrl-C to stop.")
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        threading.Event().wait()  # until Ctrl-C or SIGTERM: the listener's thread does the work
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()
        if started_here and instance.pid() is not None:
            click.echo(f"Node {node}: stopping Asterisk...")
            instance.stop()
        click.echo(f"Node {node}: stopped following.")


def _start_edge(settings: config_module.Settings, edge) -> None:
    from leadcenter import asterisk_config, kamailio

    try:
        pid = edge.start(kamailio.edge_snapshot(asterisk_config.snapshot(settings)))
    except kamailio.KamailioError as exc:
        raise click.ClickException(str(exc)) from None
    nodes = ", ".join(f"{node.name} ({node.host}:{node.port})" for node in config_module.kamailio_nodes(settings))
    kamailio_settings = settings.kamailio
    click.echo(f"SIP edge (Kamailio) running (pid {pid}) on {kamailio_settings.listen_host}:{kamailio_settings.port}")
    click.echo(f"  in front of the Asterisk nodes {nodes}")


# -- turn ------------------------------------------------------------------------------------------------------


def _start_turn(server) -> int:
    from leadcenter.turn import TurnError

    try:
        return server.start()
    except TurnError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def turn() -> None:
    """The TURN relay (coturn) for agents' browsers outside the server's network ([turn] in the settings)."""


@turn.command("start")
@pass_context
def turn_start(ctx: Context) -> None:
    """Render coturn's configuration into <data_dir>/turn/ and start it in the background."""
    if not ctx.settings.turn.enabled:
        raise click.ClickException("TURN is off: set [turn] urls (what browsers are told) first")
    click.echo(f"TURN (coturn) running (pid {_start_turn(ctx.turn_server())})")


@turn.command("stop")
@pass_context
def turn_stop(ctx: Context) -> None:
    """Stop the coturn Lead Center started."""
    click.echo("TURN stopped." if ctx.turn_server().stop() else "TURN was not running.")


# -- database and demo -----------------------------------------------------------------------------------------


@main.group("db")
def database() -> None:
    """The database."""


@database.command()
@pass_context
def migrate(ctx: Context) -> None:
    """Create the database or bring it to the current schema."""
    datadir.make_private(ctx.settings.data_dir, shared=ctx.settings.asterisk_dir)
    db.bind(db.open_database(ctx.settings.database.url, str(ctx.settings.database_path)))
    before = migrations.current_version()
    steps = migrations.migrate()
    click.echo(
        f"{ctx.settings.database_name}: schema version {migrations.LATEST}"
        + ("" if before == migrations.LATEST else f" (was {before or 'empty'}; {steps} step(s))")
    )


@database.command("copy")
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SQLite database to copy  [default: <data_dir>/leadcenter.sqlite3]",
)
@click.option(
    "--to",
    "target",
    metavar="URL",
    help="The empty PostgreSQL database, postgresql://user:password@host/name  [default: [database] url]",
)
@pass_context
def copy_database(ctx: Context, source: Path | None, target: str | None) -> None:
    """Copy an SQLite installation's data into an empty PostgreSQL database, to switch to PostgreSQL.

    \b
    1. createdb leadcenter (as a PostgreSQL user who may create tables in it)
    2. leadcenter db copy --to postgresql://USER:PASSWORD@HOST/leadcenter
       (while Lead Center runs, to rehearse; it reads one consistent moment)
    3. stop Lead Center, copy again into a new empty database, set [database] url to it, start Lead Center.

    The schema is made by the migrations, the rows copied table by table in one transaction (all or nothing),
    the id sequences set after the greatest ids, and each table's rows counted on both sides. The SQLite file is
    only read; a PostgreSQL database that has any table is refused."""
    from leadcenter import dbcopy

    url = target or ctx.settings.database.url
    if not url:
        raise click.ClickException("no PostgreSQL database: give --to URL or set [database] url")
    source = source or ctx.settings.database_path
    try:
        with dbcopy.Copy(source, db.open_postgresql(url)) as copy:
            plan = copy.plan()
            total = sum(table.rows for table in plan)
            click.echo(f"Copying {total} rows of {len(plan)} tables from {source}")
            with click.progressbar(length=total, label="rows", show_pos=True, item_show_func=str) as bar:
                copy.run(plan, lambda table, rows: bar.update(rows, table.name))
    except dbcopy.CopyError as exc:
        raise click.ClickException(str(exc)) from None
    except db.OperationalError as exc:  # unreachable, refused, no such database
        raise click.ClickException(f"PostgreSQL: {exc}".strip()) from None
    click.echo(f"Copied: {', '.join(f'{t.name} {t.rows}' for t in plan if t.rows)}")
    click.echo("Set [database] url (LEADCENTER_DATABASE_URL) to this database to run Lead Center on it.")


@main.command("backup")
@click.option(
    "--to",
    "target",
    type=click.Path(file_okay=False, path_type=Path),
    help="The directory to write it in  [default: <data_dir>/backups]",
)
@click.option(
    "--keep",
    type=click.IntRange(1, None),
    help="Then delete all but this many newest backups in that directory.",
)
@pass_context
def backup_command(ctx: Context, target: Path | None, keep: int | None) -> None:
    """Back up the installation while it runs: the database (one consistent moment: SQLite's online backup, or
    pg_dump of a PostgreSQL one), recordings, voicemail, greetings, flow sounds, configuration and secrets, into one
    private .tar.gz file. Run it from cron or a systemd timer (README, \"Backups\"); restore it with
    `leadcenter restore`."""
    from leadcenter import backup

    target = target or ctx.settings.data_dir / "backups"
    try:
        backup.create(
            ctx.settings.data_dir, target, clock.system(), say=click.echo, database_url=ctx.settings.database.url
        )
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if keep is not None:
        backup.prune(target, keep, say=click.echo)


@main.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def restore_command(ctx: Context, source: Path) -> None:
    """Restore a backup made by `leadcenter backup` into this installation's data directory, which must have no
    database yet (stop Lead Center, move the old data directory away); a PostgreSQL backup's database into the
    empty database [database] url names (createdb). Every file is checked against the backup's manifest before
    anything is written. Then `leadcenter run` starts it (migrating the database if needed)."""
    from leadcenter import backup

    try:
        backup.restore(
            source, ctx.settings.data_dir, migrations.LATEST, say=click.echo, database_url=ctx.settings.database.url
        )
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    datadir.make_private(ctx.settings.data_dir, shared=ctx.settings.asterisk_dir)
    click.echo(f"Start it with: leadcenter run (data directory {ctx.settings.data_dir})")


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
    s, k = ctx.settings.asterisk, ctx.settings.kamailio
    # Behind the edge desk phones register at Kamailio, over TLS at its own port.
    host, port, tls_port = (
        (k.listen_host, k.port, k.tls_port) if k.enabled else (s.sip_host, s.sip_port, s.sip_tls_port)
    )
    creds = list(SipCredential.select().where(SipCredential.agent == agent_id))
    if not creds:
        raise click.ClickException(f"no agent {agent_id} (leadcenter agent list)")
    for cred in creds:
        # The browser's softphone reaches Asterisk through the app's websocket relay, wherever the phones register.
        where = "the app's /sip relay" if cred.device == "webrtc" else f"server {host}:{port}"
        click.echo(f"{cred.device:<7} {where}  username {cred.username}  password {cred.password}")
    if tls_port:
        from leadcenter import asterisk_config

        certificate = asterisk_config.sip_certificate_files(ctx.settings)[0]
        click.echo(
            f"A desk phone may register over TLS instead: server {host}:{tls_port}, transport TLS, "
            f"trusting {certificate}; SRTP (SDES) is {s.desk_srtp} on desk phones' calls."
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
def team() -> None:
    """Teams: who a team's queue rings and how (the same settings as the admin console's Teams page)."""


def _team(team_id: int):
    from leadcenter.teams.models import Team

    row = Team.get_or_none(Team.id == team_id)
    if row is None:
        raise click.ClickException(f"no team {team_id} (leadcenter team list)")
    return row


def _team_changes(options: dict, model) -> dict:
    """The options given, checked by the API's own schema (NewTeam or TeamChanges); only those given."""
    from pydantic import ValidationError

    given = {name: value for name, value in options.items() if value is not None and value != ()}
    if "wrap_up_seconds" in given:
        given["wrap_up_seconds"] = None if given["wrap_up_seconds"] == "rejoin" else given["wrap_up_seconds"]
    if "members" in given:
        given["members"] = list(given["members"])
    if "penalties" in given:
        try:
            given["penalties"] = {int(a): int(p) for a, p in (pair.split("=", 1) for pair in given["penalties"])}
        except ValueError:
            raise click.BadParameter("AGENT_ID=PENALTY, e.g. 7=2", param_hint="--penalty") from None
    try:
        return model.model_validate(given).model_dump(include=set(given))
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise click.BadParameter(problem["msg"], param_hint="--" + str(problem["loc"][0]).replace("_", "-")) from None


def _save_team(ctx: Context, row, changes: dict) -> None:
    from leadcenter.db import database
    from leadcenter.errors import ApiError
    from leadcenter.teams import services

    after = services.extras(changes)
    try:
        with database.atomic():
            for name, value in changes.items():
                setattr(row, name, value)
            row.save()
            after(row)
    except ApiError as exc:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or exc.message) from None
    _show_team(row)
    ctx.reconfigure()


def _show_team(row) -> None:
    from leadcenter.teams.schemas import TeamOut

    shown = TeamOut.from_row(row)
    wrap_up = "until Rejoin" if shown.wrap_up_seconds is None else f"{shown.wrap_up_seconds} s"
    members = ", ".join(f"{a} (penalty {shown.penalties[str(a)]})" for a in shown.members) or "none"
    click.echo(
        f"{shown.id:>4}  {shown.name}  company {row.company_id}: {shown.strategy}, rings each agent "
        f"{shown.ring_seconds} s, callers wait up to {shown.max_wait_seconds} s, wrap-up {wrap_up}, "
        f"a ring-out leaves the agent {shown.ring_out}, service level within {shown.service_level_seconds} s"
        f"{', gets the website chats' if shown.chats else ''}"
        f"{', own hold music' if shown.music else ''}\n      members (agent ids, in order): {members}"
    )


def _team_options(command):
    """The options `team add` and `team set` share, named as the API's fields."""
    from leadcenter.teams.models import RING_OUTS, STRATEGIES

    options = [
        click.option("--strategy", type=click.Choice(STRATEGIES), help="Who is offered a call first."),
        click.option("--ring-seconds", type=int, help="How long an agent rings before the next is tried."),
        click.option("--max-wait", "max_wait_seconds", type=int, help="The longest a caller waits (seconds)."),
        click.option("--ring-out", type=click.Choice(RING_OUTS), help="An agent who lets a call ring out becomes."),
        click.option(
            "--wrap-up",
            "wrap_up_seconds",
            metavar="SECONDS|rejoin",
            type=WRAP_UP,
            help="After a call: available again after SECONDS, or when the agent presses Rejoin the Queue.",
        ),
        click.option(
            "--service-level", "service_level_seconds", type=int, help="Service level: the share answered within N s."
        ),
        click.option("--announce-position/--no-announce-position", default=None, help="Tell callers their place."),
        click.option("--announce-wait-time/--no-announce-wait-time", default=None, help="Tell callers the wait."),
        click.option("--announce-seconds", type=int, help="How often the announcements repeat."),
        click.option("--chats/--no-chats", default=None, help="The website's chats go to this team."),
        click.option("--member", "members", type=int, multiple=True, help="An agent id, in order; repeat. Replaces."),
        click.option("--penalty", "penalties", multiple=True, metavar="AGENT_ID=N", help="A member's penalty."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


class _WrapUp(click.ParamType):
    name = "wrap-up"

    def convert(self, value, param, ctx):
        if value in ("rejoin", None) or isinstance(value, int):
            return value
        try:
            return int(value)
        except ValueError:
            self.fail("a number of seconds, or rejoin", param, ctx)


WRAP_UP = _WrapUp()


@team.command("list")
@click.option("--company", "company_id", type=int, help="Only this company's teams.")
@pass_context
def team_list(ctx: Context, company_id: int | None) -> None:
    """List teams with their settings and members."""
    from leadcenter.teams.models import Team

    ctx.open_db()
    query = Team.select().order_by(Team.company, Team.name, Team.id)
    if company_id is not None:
        query = query.where(Team.company == _company(company_id))
    for row in query:
        _show_team(row)


@team.command("add")
@click.argument("name")
@COMPANY
@_team_options
@pass_context
def team_add(ctx: Context, name: str, company_id: int, **options) -> None:
    """Create a team (its queue is in Asterisk at once)."""
    from leadcenter.teams.models import Team
    from leadcenter.teams.schemas import NewTeam

    ctx.open_db()
    company = _company(company_id)
    changes = _team_changes({"name": name, **options}, NewTeam)
    _save_team(ctx, Team(company=company), changes)


@team.command("set")
@click.argument("team_id", type=int)
@click.option("--name", help="The team's name.")
@_team_options
@pass_context
def team_set(ctx: Context, team_id: int, **options) -> None:
    """Change a team: only the options given change (--member replaces the members, in that order)."""
    from leadcenter.teams.schemas import TeamChanges

    ctx.open_db()
    row = _team(team_id)
    _save_team(ctx, row, _team_changes(options, TeamChanges))


@team.command("delete")
@click.argument("team_id", type=int)
@pass_context
def team_delete(ctx: Context, team_id: int) -> None:
    """Delete a team no call flow sends calls to."""
    from leadcenter.flows.services import flows_naming

    ctx.open_db()
    row = _team(team_id)
    using = flows_naming(row.company, team=row.id)
    if using:
        raise click.ClickException(
            f"flows {', '.join(repr(f.name) for f in using)} send calls to it: change them first"
        )
    row.delete_instance()
    (ctx.instance().dir / row.music_file).unlink(missing_ok=True)
    click.echo(f"team {team_id} deleted")
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


# -- trunks and tracking numbers --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Operator:
    """Who makes a change from the shell, as the audit log names them ("system": no user, no API key)."""

    company: Company
    user: None = None
    api_key: None = None


def _checked(schema, values: dict) -> dict:
    """``values`` (the options given) through the API's own schema: its rules and messages."""
    from pydantic import ValidationError

    try:
        return schema.model_validate(values).model_dump(exclude_unset=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise click.BadParameter(first["msg"], param_hint="--" + str(first["loc"][0]).replace("_", "-")) from None


def _save_row(ctx: Context, row, resource: str, columns, out) -> None:
    """Save a trunk or a tracking number as the API does (its columns' checks, one transaction with its audit
    entry), then render and reload Asterisk. The running controller's screens learn of it at their next read."""
    from leadcenter.audit.services import record
    from leadcenter.errors import ApiError

    new = row.id is None
    try:
        with db.database.atomic():
            before = None if new else out.from_row(row).model_dump(mode="json")
            for name, value in columns(row).items():
                setattr(row, name, value)
            row.save()
            after = out.from_row(row).model_dump(mode="json")
            record(_Operator(row.company), "created" if new else "updated", resource, row.id, before, after, row.name)
    except ApiError as exc:
        details = "; ".join(f"{field}: {why}" for field, why in (exc.fields or {}).items())
        raise click.ClickException(f"{exc.message}{' (' + details + ')' if details else ''}") from None
    click.echo(f"{resource.replace('_', ' ')} {row.id} {'created' if new else 'changed'}: {row.name}")
    ctx.reconfigure()


def _delete_row(ctx: Context, row, resource: str, out, users: list[str]) -> None:
    from leadcenter.audit.services import record

    if users:
        raise click.ClickException(f"{row.name!r} is used by {', '.join(users)}; change or delete those first")
    with db.database.atomic():
        record(
            _Operator(row.company),
            "deleted",
            resource,
            row.id,
            out.from_row(row).model_dump(mode="json"),
            None,
            row.name,
        )
        row.delete_instance()
    click.echo(f"{resource.replace('_', ' ')} {row.id} deleted: {row.name}")
    ctx.reconfigure()


def _given(**options) -> dict:
    """The options given on the command line (None: not given)."""
    return {name: value for name, value in options.items() if value is not None}


TRUNK_OPTIONS = [
    click.option("--port", type=int, help="The carrier's SIP port (default 5060, 5061 over TLS)."),
    click.option("--register", "username", metavar="USERNAME", help="Register to the carrier as this account."),
    click.option("--password", help="The account's password (with --register)."),
    click.option("--ip-only", is_flag=True, default=None, help="Stop registering: recognised by address alone."),
    click.option("--transport", type=click.Choice(["udp", "tcp", "tls"])),
    click.option("--codecs", metavar="LIST", help="Audio codecs in order of preference, e.g. g722,ulaw,alaw."),
    click.option("--qualify", "qualify_seconds", type=int, help="Ask the carrier every N s if it is there (0: never)."),
]


def _trunk_options(function):
    for option in reversed(TRUNK_OPTIONS):
        function = option(function)
    return function


def _trunk_values(username, password, ip_only, codecs, **rest) -> dict:
    values = _given(username=username, password=password, **rest)
    if username is not None:
        values["auth"] = "register"
    if ip_only:
        values["auth"] = "ip"
    if codecs is not None:
        values["codecs"] = [c.strip() for c in codecs.split(",") if c.strip()]
    return values


@main.group()
def trunk() -> None:
    """SIP trunks: the carriers calls arrive from and go out through."""


@trunk.command("list")
@COMPANY
@pass_context
def trunk_list(ctx: Context, company_id: int) -> None:
    """List a company's trunks."""
    from leadcenter.trunks.models import Trunk

    ctx.open_db()
    for row in Trunk.select().where(Trunk.company == _company(company_id)).order_by(Trunk.id):
        auth = f"registers as {row.username}" if row.auth == "register" else "by address"
        qualify = f", qualify every {row.qualify_seconds} s" if row.qualify_seconds else ""
        click.echo(
            f"{row.id:>4}  {row.name}  {row.host}:{row.port} {row.transport}  {auth}  codecs {row.codecs}{qualify}"
        )


@trunk.command("add")
@COMPANY
@click.argument("name")
@click.argument("host")
@_trunk_options
@pass_context
def trunk_add(ctx: Context, company_id: int, name: str, host: str, **options) -> None:
    """Add a trunk: the carrier at HOST (an IP address), recognised by address, or registering with --register."""
    from leadcenter.trunks.models import Trunk
    from leadcenter.trunks.schemas import NewTrunk

    ctx.open_db()
    values = _checked(NewTrunk, {"name": name, "host": host, **_trunk_values(**options)})
    _save_trunk(ctx, Trunk(company=_company(company_id)), values)


def _save_trunk(ctx: Context, row, values) -> None:
    """Save a trunk's checked ``values`` into ``row`` (new or not): TLS only while Asterisk's SIP over TLS is on."""
    from leadcenter.trunks.schemas import TrunkOut
    from leadcenter.trunks.services import trunk_columns

    tls_on = ctx.settings.asterisk.sip_tls_port > 0
    _save_row(ctx, row, "trunk", lambda trunk: trunk_columns(trunk, values, tls_on=tls_on), TrunkOut)


def _trunk(trunk_id: int):
    from leadcenter.trunks.models import Trunk

    row = Trunk.get_or_none(Trunk.id == trunk_id)
    if row is None:
        raise click.ClickException(f"no trunk {trunk_id} (leadcenter trunk list --company N)")
    return row


@trunk.command("set")
@click.argument("trunk_id", type=int)
@click.option("--name")
@click.option("--host")
@_trunk_options
@pass_context
def trunk_set(ctx: Context, trunk_id: int, name: str | None, host: str | None, **options) -> None:
    """Change a trunk: only the options given."""
    from leadcenter.trunks.schemas import TrunkChanges

    ctx.open_db()
    row = _trunk(trunk_id)
    values = _checked(TrunkChanges, {**_given(name=name, host=host), **_trunk_values(**options)})
    _save_trunk(ctx, row, values)


@trunk.command("delete")
@click.argument("trunk_id", type=int)
@pass_context
def trunk_delete(ctx: Context, trunk_id: int) -> None:
    """Delete a trunk no tracking number is on and no flow forwards through."""
    from leadcenter.trunks.schemas import TrunkOut
    from leadcenter.trunks.services import trunk_users

    ctx.open_db()
    row = _trunk(trunk_id)
    _delete_row(ctx, row, "trunk", TrunkOut, trunk_users(row))


@trunk.command("status")
@pass_context
def trunk_status(ctx: Context) -> None:
    """What Asterisk says of the trunks now: each registration, and each carrier's qualify (pjsip show ...)."""
    instance = ctx.instance()
    if instance.pid() is None:
        raise click.ClickException("Asterisk is not running")
    for command in ("pjsip show registrations", "pjsip show contacts"):
        click.echo(instance.rx(command).rstrip())


@main.group()
def number() -> None:
    """Tracking numbers: a company's phone numbers, each on a trunk and entering a call flow."""


NUMBER_OPTIONS = [
    click.option("--source", help="The marketing source it stands for, e.g. 'Google Ads'."),
    click.option("--flow", type=int, help="The call flow its calls enter (0: none)."),
    click.option("--pool", type=int, help="The number pool website visitors are shown it from (0: none)."),
    click.option("--texting/--no-texting", default=None, help="Whether it sends and takes texts."),
]


def _number_options(function):
    for option in reversed(NUMBER_OPTIONS):
        function = option(function)
    return function


def _number_values(flow, pool, **rest) -> dict:
    values = _given(**rest)
    for name, value in (("flow", flow), ("pool", pool)):
        if value is not None:
            values[name] = value or None
    return values


@number.command("list")
@COMPANY
@pass_context
def number_list(ctx: Context, company_id: int) -> None:
    """List a company's tracking numbers."""
    from leadcenter.tracking_numbers.models import TrackingNumber

    ctx.open_db()
    rows = TrackingNumber.select().where(TrackingNumber.company == _company(company_id)).order_by(TrackingNumber.id)
    for row in rows:
        flow = f"flow {row.flow_id}" if row.flow_id else "no flow"
        texting = "texting" if row.texting else "no texting"
        pool = f", pool {row.pool_id}" if row.pool_id else ""
        click.echo(
            f"{row.id:>4}  {row.number}  {row.name}  trunk {row.trunk_id}, {flow}, {texting}{pool}  {row.source}"
        )


@number.command("add")
@COMPANY
@click.argument("phone")
@click.argument("name")
@click.option("--trunk", "trunk_id", type=int, required=True, help="The trunk its calls arrive on.")
@_number_options
@pass_context
def number_add(ctx: Context, company_id: int, phone: str, name: str, trunk_id: int, **options) -> None:
    """Add a tracking number (read in the company's region) on one of its trunks."""
    from leadcenter.tracking_numbers.models import TrackingNumber
    from leadcenter.tracking_numbers.schemas import NewTrackingNumber, TrackingNumberOut
    from leadcenter.tracking_numbers.services import number_columns

    ctx.open_db()
    company = _company(company_id)
    values = _checked(
        NewTrackingNumber, {"number": phone, "name": name, "trunk": trunk_id, **_number_values(**options)}
    )
    row = TrackingNumber(company=company)
    _save_row(ctx, row, "tracking_number", lambda n: number_columns(company, values, n.id), TrackingNumberOut)


def _number(number_id: int):
    from leadcenter.tracking_numbers.models import TrackingNumber

    row = TrackingNumber.get_or_none(TrackingNumber.id == number_id)
    if row is None:
        raise click.ClickException(f"no tracking number {number_id} (leadcenter number list --company N)")
    return row


@number.command("set")
@click.argument("number_id", type=int)
@click.option("--number", "phone", help="Another phone number.")
@click.option("--name")
@click.option("--trunk", "trunk_id", type=int)
@_number_options
@pass_context
def number_set(
    ctx: Context, number_id: int, phone: str | None, name: str | None, trunk_id: int | None, **options
) -> None:
    """Change a tracking number: only the options given."""
    from leadcenter.tracking_numbers.schemas import TrackingNumberChanges, TrackingNumberOut
    from leadcenter.tracking_numbers.services import number_columns

    ctx.open_db()
    row = _number(number_id)
    values = _checked(
        TrackingNumberChanges, {**_given(number=phone, name=name, trunk=trunk_id), **_number_values(**options)}
    )
    _save_row(ctx, row, "tracking_number", lambda n: number_columns(n.company, values, n.id), TrackingNumberOut)


@number.command("delete")
@click.argument("number_id", type=int)
@pass_context
def number_delete(ctx: Context, number_id: int) -> None:
    """Delete a tracking number (its past interactions keep their source)."""
    from leadcenter.tracking_numbers.schemas import TrackingNumberOut

    ctx.open_db()
    _delete_row(ctx, _number(number_id), "tracking_number", TrackingNumberOut, [])


# -- call flows ------------------------------------------------------------------------------------------------


@main.group()
def flow() -> None:
    """Call flows: list, show, change the steps (JSON, as the API takes them), versions and restore."""


def _flow(flow_id: int):
    from leadcenter.flows.models import CallFlow

    row = CallFlow.get_or_none(CallFlow.id == flow_id)
    if row is None:
        raise click.ClickException(f"no flow {flow_id} (leadcenter flow list)")
    return row


def _save_flow(ctx: Context, row, changes: dict) -> None:
    """Check the changes against the flow's company, save them as a new version (audited), apply them; when the
    running Asterisk then lacks the flow's context, put the flow back and fail with what Asterisk said."""
    from leadcenter.audit.services import record
    from leadcenter.flows.schemas import FlowOut
    from leadcenter.flows.services import InvalidSteps, checked_steps, flow_columns, keep_version
    from leadcenter.pbx import names

    sounds_dir = ctx.instance().dir / "sounds"
    prefix = names.flow_sound(row.company_id, "")
    sounds = {p.stem[len(prefix) :] for p in sounds_dir.glob(f"{prefix}*.wav")}
    if "steps" in changes:
        try:
            changes["steps"] = checked_steps(row.company, changes["steps"], sounds)
        except InvalidSteps as exc:
            raise click.ClickException(f"the steps are not valid: {exc}") from None
    before, before_out = flow_columns(row), FlowOut.from_row(row).model_dump(mode="json")
    with db.database.atomic():
        for name, value in {**changes, "version": row.version + 1}.items():
            setattr(row, name, value)
        row.save()
        keep_version(row, None)
        record(
            _Operator(row.company), "updated", "flow", row.id, before_out, FlowOut.from_row(row).model_dump(mode="json")
        )
    ctx.reconfigure()
    instance = ctx.instance()
    shown = instance.rx(f"dialplan show {names.flow_context(row.id)}") if instance.pid() is not None else None
    if shown is not None and f"Context '{names.flow_context(row.id)}' created" not in shown:
        with db.database.atomic():
            for name, value in {**before, "version": row.version - 1}.items():
                setattr(row, name, value)
            row.save()
        ctx.reconfigure()
        raise click.ClickException(f"Asterisk refused the flow; it is back as it was. Asterisk said: {shown.strip()}")
    click.echo(f"flow {row.id} {row.name!r} saved as version {row.version} and applied")


@flow.command("list")
@pass_context
def flow_list(ctx: Context) -> None:
    """List every company's flows and the tracking numbers that send calls to them."""
    from leadcenter.flows.models import CallFlow
    from leadcenter.tracking_numbers.models import TrackingNumber

    ctx.open_db()
    for row in CallFlow.select().order_by(CallFlow.company, CallFlow.id):
        numbers = [n.number for n in TrackingNumber.select().where(TrackingNumber.flow == row)]
        click.echo(
            f"{row.id:>4}  {row.name:<24} version {row.version:<4} company {row.company_id:<4} "
            f"{', '.join(numbers) or 'no number'}"
        )


@flow.command("show")
@click.argument("flow_id", type=int)
@pass_context
def flow_show(ctx: Context, flow_id: int) -> None:
    """Print a flow as the API shows it (JSON): its steps are what `flow steps` takes."""
    from leadcenter.flows.schemas import FlowOut

    ctx.open_db()
    click.echo(FlowOut.from_row(_flow(flow_id)).model_dump_json(indent=2))


@flow.command("steps")
@click.argument("flow_id", type=int)
@click.argument("steps_file", type=click.File("r"))
@pass_context
def flow_steps(ctx: Context, flow_id: int, steps_file) -> None:
    """Replace a flow's steps with the JSON list in STEPS_FILE ('-': standard input), checked as the API checks
    them, and apply it."""
    import json

    ctx.open_db()
    try:
        steps = json.load(steps_file)
    except ValueError as exc:
        raise click.ClickException(f"not JSON: {exc}") from None
    _save_flow(ctx, _flow(flow_id), {"steps": steps})


@flow.command("versions")
@click.argument("flow_id", type=int)
@pass_context
def flow_versions(ctx: Context, flow_id: int) -> None:
    """List a flow's saved versions, newest first."""
    from leadcenter.flows.models import FlowVersion

    ctx.open_db()
    row = _flow(flow_id)
    for kept in FlowVersion.select().where(FlowVersion.flow == row).order_by(FlowVersion.version.desc()):
        who = kept.saved_by.email if kept.saved_by is not None else "the command line or an API key"
        current = "  (current)" if kept.version == row.version else ""
        click.echo(f"{kept.version:>4}  {kept.created_at:%Y-%m-%d %H:%M}  {kept.name:<24} {who}{current}")


@flow.command("restore")
@click.argument("flow_id", type=int)
@click.argument("version", type=int)
@pass_context
def flow_restore(ctx: Context, flow_id: int, version: int) -> None:
    """Make an earlier version the flow again (saved as a new version) and apply it."""
    from leadcenter.flows.models import FlowVersion
    from leadcenter.flows.services import flow_columns

    ctx.open_db()
    row = _flow(flow_id)
    kept = FlowVersion.get_or_none(FlowVersion.flow == row, FlowVersion.version == version)
    if kept is None:
        raise click.ClickException(f"flow {flow_id} has no version {version} (leadcenter flow versions {flow_id})")
    _save_flow(ctx, row, flow_columns(kept))
