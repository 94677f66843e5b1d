"""Files on disk, as another local user of the machine finds them after a day's work: the data directory (the
database with the agents' SIP passwords, leads and password hashes; the secrets; the recordings; the rendered
Asterisk config) is readable by Lead Center and its Asterisk account only, and Asterisk runs as an account of
its own."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from harness import LEADCENTER, wait_for

from leadcenter.interactions.models import Interaction
from leadcenter.pbx import provision as asterisk_root

ALICE = 1
STRANGER = "nobody"  # a local account with no business in Lead Center's files


def as_stranger(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["setpriv", "--reuid", STRANGER, "--regid", "nogroup", "--clear-groups", *command],
        capture_output=True,
        text=True,
    )


def described(path: Path) -> str:
    """What `stat` shows anyone: mode, owner, group."""
    return subprocess.run(
        ["stat", "-c", "%a %U %G", str(path)], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_another_local_user_reads_nothing_of_lead_center(running, peers):
    with peers.phone(ALICE):  # a recorded call (the demo flow records)
        peers.call("+14045557591", duration=4).wait(20).check()
    row = wait_for(
        lambda: (
            (i := Interaction.get_or_none(Interaction.lead_number == "+14045557591")) and i.status == "recent" and i
        ),
        10,
        what="the call to conclude",
    )
    data, instance = running.settings.data_dir, running.settings.asterisk_dir
    recording = data / row.recording
    private = {  # what only the account Lead Center runs as may read
        data: "700 root root",
        data / "secrets.toml": "600 root root",
        data / "leadcenter.toml": "600 root root",
        data / "tls/sip-self-signed.key": "600 root root",  # SIP over TLS's generated key
    }
    if not running.settings.database.url:  # the SQLite file (on PostgreSQL the server keeps the data)
        private[running.settings.database_path] = "600 root root"
    shared = {  # root's, read by Asterisk through its group; or Asterisk's own
        instance: f"750 root {asterisk_root.HOST_ACCOUNT}",
        instance / "etc/generated/pjsip_endpoints.conf": f"640 root {asterisk_root.HOST_ACCOUNT}",
        instance / "etc/manager.conf": f"640 root {asterisk_root.HOST_ACCOUNT}",
        # The copy of the SIP key Asterisk reads: its account's alone.
        instance / "tls/sip.key": f"600 {asterisk_root.HOST_ACCOUNT} {asterisk_root.HOST_ACCOUNT}",
    }
    for path, expected in {**private, **shared}.items():
        assert described(path) == expected, path
    account = f"{asterisk_root.HOST_ACCOUNT} {asterisk_root.HOST_ACCOUNT}"
    for path in (recording, instance / "log/security.log", instance / "lib/astdb.sqlite3"):
        mode, owner = described(path).split(" ", 1)
        assert owner == account and int(mode, 8) & 0o007 == 0, (path, mode, owner)
    # Whatever the modes say, another account gets nothing: not the database, not a recording, not a password.
    for path in (*private, recording, instance / "etc/generated/pjsip_endpoints.conf", instance / "tls/sip.key"):
        refused = as_stranger("cat", str(path)) if path.is_file() else as_stranger("ls", str(path))
        assert refused.returncode != 0 and "Permission denied" in refused.stderr, path


def test_asterisk_runs_as_an_account_of_its_own(running):
    account = pwd.getpwnam(asterisk_root.HOST_ACCOUNT)
    assert account.pw_shell == "/usr/sbin/nologin"
    # The root's asterisk user is that account: what Asterisk writes belongs to it on the host, not to whoever
    # had the package's uid there (postgres, group _ssh, on this machine).
    assert asterisk_root.account(running.settings.asterisk_root, "asterisk") == (account.pw_uid, account.pw_gid)
    pid = running.instance.pid()
    status = Path(f"/proc/{pid}/status").read_text()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert set(uid_line.split()[1:]) == {str(account.pw_uid)}
    members = [user.pw_name for user in pwd.getpwall() if user.pw_gid == account.pw_gid]
    assert members == [asterisk_root.HOST_ACCOUNT]  # its group gives the config's secrets to nobody else


def test_a_new_or_older_installation_is_private(running, tmp_path):
    data = tmp_path / "var"
    database = data / "leadcenter.sqlite3"
    migrate = [*LEADCENTER, "db", "migrate"]
    env = {**running.env, "LEADCENTER_PATHS_DATA_DIR": str(data), "LEADCENTER_DATABASE_URL": ""}  # SQLite's file
    subprocess.run(migrate, env=env, check=True, capture_output=True)
    assert (described(data), described(database)) == ("700 root root", "600 root root")
    # What earlier versions left: a data directory anyone could list, a database anyone could read.
    data.chmod(0o755)
    database.chmod(0o644)
    subprocess.run(migrate, env=env, check=True, capture_output=True)
    assert (described(data), described(database)) == ("700 root root", "600 root root")
    # The running instance: a recording as the old Asterisk uid left it, before `leadcenter asterisk reload` (any
    # command that prepares Asterisk) gives it to Asterisk's account, private.
    old = running.settings.asterisk_dir / "spool/monitor/older-version.wav"
    old.write_bytes(b"RIFF")
    os.chown(old, 101, 101)
    old.chmod(0o644)
    running.cli("asterisk", "reload")
    mode, owner, group = described(old).split()
    assert (owner, group) == (asterisk_root.HOST_ACCOUNT,) * 2 and int(mode, 8) & 0o007 == 0
    old.unlink()


def test_provision_brings_an_existing_root_to_the_host_account_once(running, tmp_path):
    # A root as `leadcenter asterisk provision` built it before: the package's asterisk user at uid 101, its
    # files owned by 101. Provisioning again gives them the host account, says so, and the next time does nothing.
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    shutil.copy(running.settings.asterisk_root / asterisk_root.STAMP, root / asterisk_root.STAMP)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nasterisk:x:101:101:Asterisk PBX daemon:/var/lib/asterisk:/usr/sbin/nologin\n"
    )
    (root / "etc/group").write_text("root:x:0:\ndialout:x:20:asterisk\nasterisk:x:101:\n")
    spool = root / "var/spool/asterisk"
    spool.mkdir(parents=True)
    (spool / "file").write_text("x")
    for path in (spool, spool / "file"):
        os.chown(path, 101, 101)
    said = []
    asterisk_root.provision(root, say=said.append)
    account = pwd.getpwnam(asterisk_root.HOST_ACCOUNT)
    assert asterisk_root.account(root, "asterisk") == (account.pw_uid, account.pw_gid)
    assert "dialout:x:20:asterisk" in (root / "etc/group").read_text()
    assert {(os.lstat(p).st_uid, os.lstat(p).st_gid) for p in (spool, spool / "file")} == {
        (account.pw_uid, account.pw_gid)
    }
    assert any("takes the ids of" in line for line in said), said
    said.clear()
    asterisk_root.provision(root, say=said.append)
    assert said == [
        (
            f"Asterisk root ready: {root} (Asterisk {asterisk_root.asterisk_version(root)}, runs as "
            f"{asterisk_root.HOST_ACCOUNT})"
        )
    ]
