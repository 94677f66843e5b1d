"""`leadcenter run`, as `make run` starts it: everything comes up with the demo company, and Ctrl-C stops
everything, Asterisk included, with nothing left running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import httpx
from harness import LEADCENTER, SECOND_PORTS, wait_for


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def processes_using(data_dir) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(data_dir) in cmdline or str(data_dir) in environ:
            found.append(f"{pid}: {cmdline}")
    return found


def test_run_starts_everything_and_ctrl_c_stops_everything(tmp_path):
    env = {**os.environ, **SECOND_PORTS, "LEADCENTER_PATHS_DATA_DIR": str(tmp_path)}
    run = subprocess.Popen(
        [*LEADCENTER, "run", "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _healthy("http://127.0.0.1:28080/healthz"), 30, what="/healthz 200")
        page = httpx.get("http://127.0.0.1:28080/", timeout=5)
        assert page.status_code == 200 and "Lead Center" in page.text
        assert all(
            listening(int(SECOND_PORTS[k])) for k in ("LEADCENTER_ASTERISK_AMI_PORT", "LEADCENTER_ASTERISK_HTTP_PORT")
        )
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        output, _ = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 0, output
    assert "Lead Center: http://127.0.0.1:28080" in output
    for email in ("admin@acme.example", "alice@acme.example", "bob@acme.example"):
        assert email in output
    assert "Lead Center stopped." in output
    assert processes_using(tmp_path) == []
    for port in ("LEADCENTER_HTTP_PORT", "LEADCENTER_ASTERISK_AMI_PORT", "LEADCENTER_ASTERISK_HTTP_PORT"):
        assert not listening(int(SECOND_PORTS[port])), port


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
