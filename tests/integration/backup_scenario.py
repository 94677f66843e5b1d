"""A backup taken during a call, restored into an empty data directory (and, on PostgreSQL, an empty database) and
run there: the restored installation's API answers with the same leads, interactions and recordings. The scenario
of tests/integration/test_backup.py (the suite's installation, on the suite's engine) and test_postgresql.py (an
installation on PostgreSQL whatever the suite's engine); each passes phone numbers of its own."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
from harness import LEADCENTER, System, wait_for
from sipp import Peers

from leadcenter import config, demo
from leadcenter.interactions.models import Interaction

ALICE, BOB = 1, 2
ADMIN = "admin@acme.example"


def _concluded(channel_id: str) -> Interaction:
    return wait_for(
        lambda: (i := Interaction.get_or_none(Interaction.channel_id == channel_id)) and i.status == "recent" and i,
        15,
        what=f"interaction of {channel_id} to conclude",
    )


def _signed_in(url: str, settings) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10)
    csrf = client.get("/api/v1/session").json()["csrf_token"]
    password = next(p for e, p, _ in demo.logins(settings) if e == ADMIN)
    answer = client.post("/api/v1/session", json={"email": ADMIN, "password": password}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def _what_the_api_says(client: httpx.Client, interaction_ids: list[int]) -> dict:
    interactions = {i: client.get(f"/api/v1/interactions/{i}").json() for i in interaction_ids}
    leads = {i["lead"]["id"]: client.get(f"/api/v1/leads/{i['lead']['id']}").json() for i in interactions.values()}
    return {"interactions": interactions, "leads": leads}


def _health(url: str) -> int:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code
    except httpx.HTTPError:
        return 0


def backup_during_a_call_restores_the_same(
    system: System, peers: Peers, tmp_path: Path, numbers: tuple[str, str], restored: dict[str, str]
) -> str:
    """A call recorded, then a backup while a second call (from ``numbers``) is on; restored with the settings
    ``restored`` (ports, data directory, [database] url) and run: the same API answers. Returns the backup's
    output."""
    recorded_number, during_number = numbers
    with peers.phone(ALICE), peers.phone(BOB):
        handle = peers.call(recorded_number, duration=6, caller_name="Rae Before")
        first = system.wait_interaction(lead_number=f"+1{recorded_number}", status="active", timeout=10)
        handle.wait(30).check()
        recorded = _concluded(first.channel_id)
        assert recorded.recording
        # A second call is on while the backup is taken.
        during = peers.call(during_number, duration=10, caller_name="Sam During")
        live = system.wait_interaction(lead_number=f"+1{during_number}", status="active", timeout=10)
        output = system.cli("backup", "--to", str(tmp_path / "backups"))
        during.wait(40).check()
    assert "Backup written" in output
    [made] = list((tmp_path / "backups").glob("leadcenter-backup-*.tar.gz"))
    assert made.stat().st_mode & 0o777 == 0o600
    admin = _signed_in(system.url, system.settings)
    before = _what_the_api_says(admin, [recorded.id])
    recording = admin.get(f"/api/v1/interactions/{recorded.id}/recording")
    assert recording.status_code == 200 and len(recording.content) > 10_000

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LEADCENTER_")}, **restored}
    done = subprocess.run([*LEADCENTER, "restore", str(made)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Restored" in done.stdout
    settings = config.load(env=env)
    url = f"http://127.0.0.1:{settings.http.port}"
    log = (tmp_path / "restored.log").open("wb")
    run = subprocess.Popen([*LEADCENTER, "run"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _health(url) == 200, 60, what="the restored installation's /healthz")
        client = _signed_in(url, settings)
        after = _what_the_api_says(client, [recorded.id])
        assert after == before
        again = client.get(f"/api/v1/interactions/{recorded.id}/recording")
        assert again.status_code == 200 and again.content == recording.content
        # The call that was on during the backup is there too: concluded by the restored controller (its channel is
        # on no Asterisk of the restored installation), its lead as it was.
        ongoing = wait_for(
            lambda: (i := client.get(f"/api/v1/interactions/{live.id}").json()).get("status") == "recent" and i,
            30,
            what="the call that was on during the backup, concluded",
        )
        assert ongoing["lead"]["name"] == "Sam During"
    finally:
        os.killpg(run.pid, signal.SIGINT)
        run.wait(30)
        log.close()
    return output
