"""Asterisk as an attacker on the machine or the network finds it: the controller's AMI account can do only what
the controller does, a failed sign-in of a SIP phone lands in the security log fail2ban reads, and media sockets
listen on the configured address only."""

from __future__ import annotations

import re
import socket
import subprocess

import pytest
from harness import wait_for
from sipp import SippPhone

from leadcenter import credentials
from leadcenter.pbx.names import AMI_USER

ALICE = 1


def ami(system, *actions: dict) -> list[dict]:
    """Log in as the controller does and send ``actions``; the response to each."""
    secret = credentials.load_or_create(system.settings.data_dir).ami_secret
    with socket.create_connection(("127.0.0.1", system.settings.asterisk.ami_port), timeout=5) as conn:
        reader = conn.makefile("rb")
        reader.readline()  # the banner
        answers = []
        for n, action in enumerate(
            ({"Action": "Login", "Username": AMI_USER, "Secret": secret, "Events": "off"}, *actions)
        ):
            message = {**action, "ActionID": str(n)}
            conn.sendall("".join(f"{k}: {v}\r\n" for k, v in message.items()).encode() + b"\r\n")
            while True:  # skip anything that is not this action's response
                fields = {}
                for line in iter(reader.readline, b"\r\n"):
                    key, _, value = line.decode().rstrip("\r\n").partition(": ")
                    fields[key] = value
                if fields.get("ActionID") == str(n) and "Response" in fields:
                    break
            answers.append(fields)
    assert answers[0]["Response"] == "Success", answers[0]
    return answers[1:]


def test_the_controllers_ami_account_cannot_run_commands_or_originate_or_rewrite_config(running):
    refused = ami(
        running,
        {"Action": "Command", "Command": "core show version"},
        {"Action": "Originate", "Channel": "Local/s@lc-step-end", "Application": "System", "Data": "touch /tmp/owned"},
        {
            "Action": "UpdateConfig",
            "SrcFilename": "manager.conf",
            "DstFilename": "manager.conf",
            "Action-000000": "append",
            "Cat-000000": AMI_USER,
            "Var-000000": "write",
            "Value-000000": "all",
        },
        {"Action": "QueueStatus", "Queue": "nothing"},
    )  # one it may send, for contrast
    assert [a["Response"] for a in refused] == ["Error", "Error", "Error", "Success"]
    assert all(a["Message"] == "Permission denied" for a in refused[:3])


def test_a_failed_sip_sign_in_lands_in_the_security_log(running, tmp_path):
    username, _ = running.sip_account(ALICE)
    intruder = SippPhone(username, "not-the-password", running.sip_port, workdir=tmp_path / "intruder")
    with pytest.raises(RuntimeError, match=f"REGISTER {username}"):  # refused: 401 again
        intruder.register(timeout=5)
    log = running.settings.asterisk_dir / "log" / "security.log"
    line = wait_for(
        lambda: (
            log.exists()
            and next(
                (
                    line
                    for line in log.read_text().splitlines()
                    if f'AccountID="{username}"' in line and "ChallengeResponseFailed" in line
                ),
                None,
            )
        ),
        5,
        what="the failed REGISTER in security.log",
    )
    # What fail2ban's asterisk filter keys on: the event and the remote address.
    assert re.search(r'RemoteAddress="IPV4/UDP/127\.0\.0\.1/\d+"', line), line


def test_media_sockets_listen_on_the_configured_address_only(running, peers):
    media = running.settings.asterisk

    def rtp_sockets() -> list[str]:
        shown = subprocess.run(["ss", "-Hlnu"], capture_output=True, text=True).stdout
        local = [line.split()[3] for line in shown.splitlines()]
        return [address for address in local if media.rtp_start <= int(address.rsplit(":", 1)[1]) <= media.rtp_end]

    with peers.phone(ALICE):
        caller = peers.call("+14045557401", duration=5)
        sockets = wait_for(
            lambda: len(rtp_sockets()) >= 4 and rtp_sockets(),
            15,
            what="the call's media sockets (RTP and RTCP of both legs)",
        )
        assert all(address.startswith("127.0.0.1:") for address in sockets), sockets  # never *: or 0.0.0.0:
        caller.wait(20).check()
