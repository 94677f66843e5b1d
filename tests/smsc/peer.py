"""Drive the test SMSC (smsc.js, npm `smpp` in server mode) from Python: start it, send it commands, wait for what
it saw. Used by the integration tests and the `sms` benchmark."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).parent
SYSTEM_ID = "leadcenter"
PASSWORD = "t3stonly"  # the test SMSC's own credential (SMPP allows 8 characters), loopback only


class SmscPeer:
    """One run of the SMSC process; ``events`` is everything it reported, in order."""

    def __init__(self, port: int, receipts: str = "DELIVRD", latency_ms: int = 0):
        self.port = port
        self.receipts = receipts
        self.latency_ms = latency_ms
        self.events: list[dict] = []
        self._changed = threading.Condition()
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> SmscPeer:
        node = shutil.which("node")
        assert node, "node is missing: `make test` installs it (Debian nodejs)"
        assert (HERE / "node_modules" / "smpp").is_dir(), "npm smpp is missing: `make test` installs it"
        started = len(self.seen("listening"))  # a restart keeps what the earlier run reported
        self.process = subprocess.Popen(
            [
                node,
                str(HERE / "smsc.js"),
                "--port",
                str(self.port),
                "--system-id",
                SYSTEM_ID,
                "--password",
                PASSWORD,
                "--receipts",
                self.receipts,
                "--latency-ms",
                str(self.latency_ms),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        self.wait_count("listening", started + 1, timeout)
        return self

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            event = json.loads(line)
            with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    def command(self, **command) -> None:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def seen(self, kind: str) -> list[dict]:
        with self._changed:
            return [e for e in self.events if e["event"] == kind]

    def wait(self, predicate, timeout: float, what: str = "an event") -> dict:
        """The first event (already seen or to come) matching ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout} s waiting for {what}; last events: {self.events[-5:]}"
                    )
                self._changed.wait(left)

    def wait_count(self, kind: str, count: int, timeout: float) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(matching := [e for e in self.events if e["event"] == kind]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s: {len(matching)} of {count} {kind} events")
                self._changed.wait(left)
            return matching

    def kill(self) -> None:
        """SIGKILL: no unbind, no goodbye; the ESME sees the connection drop."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
