"""Trunks as carriers see them: a trunk that registers with a username and password to a SIPp registrar (which
challenges, checks the digest and accepts or refuses), and its live state as the API shows it: failing while the
password is wrong, registered once it is right, failing when the carrier stops answering, registered again when it
is back."""

from __future__ import annotations

import contextlib

from harness import wait_for
from sipp import _Sipp, free_udp_port

ADMIN = "admin@acme.example"
USER, SECRET = "acme-7", "carrier-secret"


def _registrar(workdir, port: int, run: int) -> _Sipp:
    return _Sipp(
        f"registrar{run}",
        workdir,
        "registrar.xml",
        ["-key", "user", USER, "-key", "secret", SECRET],
        port=port,
        max_time=240,
    )


def _state(admin, trunk_id: int) -> dict:
    states = admin.get("/api/v1/trunks/states")
    assert states.status_code == 200, states.text
    return next(s for s in states.json() if s["trunk"] == trunk_id)


def _logged(registrar: _Sipp, what: str) -> int:
    """REGISTERs (not unregisters) the registrar answered ``what`` (REGISTERED, REFUSED)."""
    return sum(1 for row in registrar.events() if row[0] == what and row[2] != "0")


def test_a_trunk_that_registers_is_shown_registered_and_failing_when_the_carrier_stops(running, tmp_path):
    port = free_udp_port()
    registrar = _registrar(tmp_path, port, 1)
    with contextlib.closing(running.sign_in(ADMIN)) as admin:
        created = admin.post(
            "/api/v1/trunks",
            json={
                "name": "Registering carrier",
                "host": "127.0.0.1",
                "port": port,
                "auth": "register",
                "username": USER,
                "password": "not-the-secret",
                "qualify_seconds": 5,
            },
        )
        assert created.status_code == 201, created.text
        trunk = created.json()
        assert trunk["has_password"] and "password" not in trunk
        try:
            # The registrar checks the digest: a wrong password is refused (403), and the trunk is failing.
            wait_for(lambda: _logged(registrar, "REFUSED"), 20, what=f"a refused REGISTER\n{registrar.report()}")
            # The carrier answers OPTIONS (reachable) but refuses the registration: failing all the same.
            failing = wait_for(
                lambda: (s := _state(admin, trunk["id"]))["reachable"] and s, 20, what="the trunk's qualify"
            )
            assert failing["state"] == "failing" and failing["registration"] in ("Rejected", "Unregistered")

            assert admin.patch(f"/api/v1/trunks/{trunk['id']}", json={"password": SECRET}).status_code == 200
            wait_for(lambda: _logged(registrar, "REGISTERED"), 20, what=f"an accepted REGISTER\n{registrar.report()}")
            registered = wait_for(
                lambda: (s := _state(admin, trunk["id"]))["state"] == "registered" and s,
                20,
                what="the trunk registered",
            )
            assert registered["registration"] == "Registered" and registered["roundtrip_ms"] is not None

            # The carrier goes away: its qualify OPTIONS go unanswered, within 5 s + Asterisk's 3 s timeout.
            registrar.stop()
            wait_for(lambda: _state(admin, trunk["id"])["state"] == "failing", 20, what="the trunk failing")
            assert _state(admin, trunk["id"])["reachable"] is False

            registrar = _registrar(tmp_path, port, 2)  # back: it answers OPTIONS again
            wait_for(lambda: _state(admin, trunk["id"])["state"] == "registered", 20, what="the trunk registered")
        finally:
            registrar.stop()
            assert admin.delete(f"/api/v1/trunks/{trunk['id']}").status_code == 204
