"""A throw-away PostgreSQL server for the tests: Debian's postgresql-15, a cluster made in a temporary directory,
run as an unprivileged user (postgres refuses root) and reached only on a unix socket in that directory (no TCP
port, nothing else on the machine sees it). Fast and unsafe on purpose (fsync off): it lives as long as the tests.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path(os.environ.get("LEADCENTER_TEST_POSTGRESQL_BIN", "/usr/lib/postgresql/15/bin"))
# Who runs the server when the tests run as root.
UNPRIVILEGED = "nobody"
SETTINGS = {
    "listen_addresses": "",  # the unix socket only
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}


def engine() -> str:
    """The engine the tests' database runs on: LEADCENTER_TEST_DATABASE, sqlite by default."""
    engine = os.environ.get("LEADCENTER_TEST_DATABASE", "sqlite")
    if engine not in ("sqlite", "postgresql"):
        raise RuntimeError(f"LEADCENTER_TEST_DATABASE is sqlite or postgresql, not {engine!r}")
    return engine


def available() -> bool:
    return (BIN / "initdb").exists()


class Cluster:
    """``with Cluster() as cluster``: a running server; ``cluster.url(name)`` a database's URL. ``settings``
    change the server's (bench/api_queries.py gives it PostgreSQL's default shared_buffers)."""

    def __init__(self, **settings: str) -> None:
        self.settings = {**SETTINGS, **settings}
        self.directory = Path(tempfile.mkdtemp(prefix="leadcenter-postgresql-"))
        self.process: subprocess.Popen | None = None
        self._user = pwd.getpwnam(UNPRIVILEGED) if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        # The server's environment: none of the tests' (a shifted clock's LD_PRELOAD, the settings' variables).
        self._env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC"}

    @property
    def user(self) -> str:
        return self._user.pw_name

    def _run_as(self, *command: str | Path, **kwargs) -> subprocess.Popen:
        as_user = dict(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[]) if os.geteuid() == 0 else {}
        return subprocess.Popen([str(c) for c in command], env=self._env, **as_user, **kwargs)  # type: ignore[call-overload]

    def start(self) -> Cluster:
        os.chown(self.directory, self._user.pw_uid, self._user.pw_gid)
        data = self.directory / "data"
        log = (self.directory / "initdb.log").open("w")
        init = self._run_as(
            BIN / "initdb", "-D", data, "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync",
            # A linguistic collation by default, as a production server's usually is (SQLite's is by code point).
            "--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US",
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        if init.wait(120) != 0:
            raise RuntimeError(f"initdb failed: {(self.directory / 'initdb.log').read_text()}")
        options = [arg for name, value in self.settings.items() for arg in ("-c", f"{name}={value}")]
        self.process = self._run_as(
            BIN / "postgres", "-D", data, "-k", self.directory, *options,
            stdout=(self.directory / "server.log").open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        socket = self.directory / ".s.PGSQL.5432"
        deadline = time.monotonic() + 30
        while not self._accepting(socket):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not start: {(self.directory / 'server.log').read_text()}")
            threading_wait(0.05)
        return self

    def _accepting(self, socket: Path) -> bool:
        if not socket.exists():
            return False
        import psycopg2

        try:
            psycopg2.connect(self.url("postgres")).close()
        except psycopg2.OperationalError:
            return False
        return True

    def url(self, database: str) -> str:
        return f"postgresql:///{database}?host={self.directory}&user={self.user}"

    def execute(self, *statements: str, database: str = "postgres") -> None:
        """Run statements outside a transaction (CREATE DATABASE)."""
        import psycopg2

        connection = psycopg2.connect(self.url(database))
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            connection.close()

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``): its URL."""
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # smart shutdown would wait for clients: SIGTERM is "fast" for postgres
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(30)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def threading_wait(seconds: float) -> None:
    """time.sleep fails under libfaketime (the shifted-clock lanes); an Event's timed wait works."""
    import threading

    threading.Event().wait(seconds)
