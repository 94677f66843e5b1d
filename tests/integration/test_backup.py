"""`leadcenter backup` while calls go on, then `leadcenter restore` into an empty data directory and `leadcenter run`
on it: the restored installation's API answers with the same leads, interactions and recordings."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx
import pytest
from harness import LEADCENTER, SECOND_PORTS, wait_for

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


def test_a_backup_taken_during_a_call_restores_into_an_installation_that_answers_the_same(running, peers, tmp_path):
    if running.settings.database.url:
        pytest.skip("leadcenter backup copies SQLite's file: on PostgreSQL it refuses (README: pg_dump)")
    with peers.phone(ALICE), peers.phone(BOB):
        handle = peers.call("4045557301", duration=6, caller_name="Rae Before")
        first = running.wait_interaction(lead_number="+14045557301", status="active", timeout=10)
        handle.wait(30).check()
        recorded = _concluded(first.channel_id)
        assert recorded.recording
        # A second call is on while the backup is taken.
        during = peers.call("4045557302", duration=10, caller_name="Sam During")
        live = running.wait_interaction(lead_number="+14045557302", status="active", timeout=10)
        output = running.cli("backup", "--to", str(tmp_path / "backups"))
        during.wait(40).check()
    assert "Backup written" in output
    [made] = list((tmp_path / "backups").glob("leadcenter-backup-*.tar.gz"))
    assert made.stat().st_mode & 0o777 == 0o600
    admin = _signed_in(running.url, running.settings)
    before = _what_the_api_says(admin, [recorded.id])
    recording = admin.get(f"/api/v1/interactions/{recorded.id}/recording")
    assert recording.status_code == 200 and len(recording.content) > 10_000

    restored_dir = tmp_path / "restored"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LEADCENTER_")},
        **SECOND_PORTS,
        "LEADCENTER_PATHS_DATA_DIR": str(restored_dir),
    }
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


def _health(url: str) -> int:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code
    except httpx.HTTPError:
        return 0
