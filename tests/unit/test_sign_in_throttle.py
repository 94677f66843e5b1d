"""Guessing passwords is throttled without handing an attacker a way to lock people out: failures count per account
and address, a browser the account signed in from before keeps its own allowance (its device cookie), and the
wider limits (per account, per address) apply to clients the account has never signed in from. The windows run on
an injected monotonic clock: no test sleeps. And a sign-in takes as long whether or not the email has an account."""

from __future__ import annotations

import statistics
import time

import pytest
from support import PASSWORD

from leadcenter.accounts import services
from leadcenter.accounts.models import User
from leadcenter.web import auth


class Monotonic:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic(app):
    clock = Monotonic()
    app.extensions["sign_in_limiter"] = auth.AttemptLimiter(clock=clock)
    return clock


class Browser:
    """One browser at one address: keeps its cookies (the device cookie among them) across sign-ins."""

    def __init__(self, make_client, address: str):
        self.client = make_client()
        self.address = address

    def sign_in(self, email: str, password: str = PASSWORD):
        http = self.client.http
        csrf = http.get("/api/v1/session", environ_base={"REMOTE_ADDR": self.address}).get_json()["csrf_token"]
        response = http.post(
            "/api/v1/session",
            json={"email": email, "password": password},
            headers={"X-CSRF-Token": csrf},
            environ_base={"REMOTE_ADDR": self.address},
        )
        if response.status_code == 200:
            http.delete(
                "/api/v1/session",
                headers={"X-CSRF-Token": response.get_json()["csrf_token"]},
                environ_base={"REMOTE_ADDR": self.address},
            )
        return response


def status(response) -> int:
    return response.status_code


@pytest.fixture
def browser(make_client):
    return lambda address: Browser(make_client, address)


def test_five_failures_from_one_address_make_that_address_wait_for_that_account(browser, world, monotonic):
    attacker = browser("203.0.113.9")
    assert [status(attacker.sign_in("agent1@a.example", "guess")) for _ in range(5)] == [401] * 5
    refused = attacker.sign_in("agent1@a.example", PASSWORD)  # even the right password waits
    assert (status(refused), refused.get_json()["error"]) == (429, "too-many-attempts")
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    monotonic.now += int(refused.headers["Retry-After"])
    assert status(attacker.sign_in("agent1@a.example", PASSWORD)) == 200


def test_an_attacker_cannot_lock_the_owner_out(browser, world, monotonic):
    alice = browser("198.51.100.7")
    assert status(alice.sign_in("agent1@a.example")) == 200  # her browser: the account signed in from it before
    for n in range(40):  # many addresses (a botnet), five guesses each until told to wait
        attacker = browser(f"203.0.113.{n}")
        while status(attacker.sign_in("agent1@a.example", "guess")) == 401:
            pass
    assert status(browser("203.0.113.200").sign_in("agent1@a.example", PASSWORD)) == 429  # new clients wait
    assert status(alice.sign_in("agent1@a.example")) == 200
    assert status(browser("198.51.100.7").sign_in("agent1@a.example", "typo")) == 429  # her address, new browser


def test_an_address_full_of_failures_does_not_lock_out_the_others_behind_it(browser, world, monotonic):
    office = "192.0.2.1"  # an office NAT, or the reverse proxy everyone comes through
    regular = browser(office)
    assert status(regular.sign_in("agent2@a.example")) == 200
    attacker = browser(office)
    for _ in range(5):
        attacker.sign_in("agent1@a.example", "guess")
    assert status(attacker.sign_in("agent1@a.example", PASSWORD)) == 429
    # The colleague behind the same address, in a browser never used before, is not the attacker's account.
    assert status(browser(office).sign_in("supervisor@a.example")) == 200
    assert status(regular.sign_in("agent2@a.example")) == 200


def test_spraying_many_accounts_from_one_address_is_throttled_but_known_browsers_still_sign_in(
    browser, world, monotonic
):
    regular = browser("192.0.2.1")
    assert status(regular.sign_in("agent2@a.example")) == 200
    sprayer = browser("192.0.2.1")
    answers = [status(sprayer.sign_in(f"user{n}@a.example", "Winter2026!")) for n in range(auth.ADDRESS_LIMIT + 5)]
    assert answers[: auth.ADDRESS_LIMIT] == [401] * auth.ADDRESS_LIMIT and set(answers[auth.ADDRESS_LIMIT :]) == {429}
    assert status(browser("192.0.2.1").sign_in("supervisor@a.example")) == 429
    assert status(regular.sign_in("agent2@a.example")) == 200


def test_a_device_cookie_is_for_its_own_account_and_has_its_own_allowance(browser, world, monotonic):
    alice = browser("198.51.100.7")
    assert status(alice.sign_in("agent1@a.example")) == 200
    for _ in range(5):
        assert status(alice.sign_in("agent1@a.example", "guess")) == 401
    assert status(alice.sign_in("agent1@a.example")) == 429  # a stolen device cookie is no free pass
    # It vouches for agent1 only: another account from this browser counts as a new client.
    for _ in range(5):
        alice.sign_in("agent2@a.example", "guess")
    assert status(alice.sign_in("agent2@a.example")) == 429
    forged = browser("198.51.100.8")
    forged.client.http.set_cookie(auth.DEVICE_COOKIE, "agent1@a.example.forged", path="/api/v1/session")
    for _ in range(5):
        forged.sign_in("agent1@a.example", "guess")
    assert status(forged.sign_in("agent1@a.example")) == 429


def test_every_sign_in_checks_one_password_hash_whether_or_not_the_account_exists(client, world, monkeypatch):
    checked = []
    real = services.check_password_hash
    monkeypatch.setattr(services, "check_password_hash", lambda hashed, pw: checked.append(hashed) or real(hashed, pw))
    inactive = User.get(User.email == "agent2@a.example")
    inactive.active = False
    inactive.save()
    client.csrf = client.http.get("/api/v1/session").get_json()["csrf_token"]
    for email, password in (
        ("nobody@a.example", "guess"),
        ("agent1@a.example", "guess"),
        ("agent2@a.example", PASSWORD),
        ("agent1@a.example", PASSWORD),
    ):
        before = len(checked)
        client.post("/api/v1/session", {"email": email, "password": password})
        assert len(checked) == before + 1, email
        assert checked[-1].split("$")[0] == services.PASSWORD_METHOD  # the same cost as a real account's


def test_a_wrong_email_takes_as_long_as_a_wrong_password(make_client, world, monkeypatch):
    """Measured with the real scrypt cost: before, 67 ms for an account's email and 1 ms for an unknown one."""
    monkeypatch.setattr(services, "PASSWORD_METHOD", "scrypt")
    accounts = ["agent1@a.example", "agent2@a.example", "admin@a.example", "supervisor@a.example"]
    for user in User.select().where(User.email.in_(accounts)):
        services.set_password(user, PASSWORD)
        user.save()
    client = make_client()
    client.csrf = client.http.get("/api/v1/session").get_json()["csrf_token"]

    def timed(email: str) -> float:
        started = time.perf_counter()
        assert client.post("/api/v1/session", {"email": email, "password": "wrong password"})[0] == 401
        return time.perf_counter() - started

    timed("warm-up@a.example")
    known, unknown = [], []
    for n in range(4):  # interleaved: load on the machine hits both alike; each email stays under 5 failures
        known.append(timed(accounts[n]))
        unknown.append(timed(f"nobody{n}@a.example"))
    assert statistics.median(unknown) > 0.5 * statistics.median(known), (known, unknown)


def test_a_device_cookie_and_an_email_of_any_characters(browser, world, monotonic):
    alice = browser("198.51.100.7")
    assert status(alice.sign_in("agent1@a.example")) == 200
    assert status(alice.sign_in("ägent1@a.example", "guess")) == 401  # compared as bytes, not a 500


def test_the_counters_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(auth, "MAX_KEYS", 100)
    clock = Monotonic()
    limiter = auth.AttemptLimiter(clock=clock)
    for n in range(1000):
        limiter.failed([f"pair:{n}"])
    assert len(limiter._failures) <= 100
    limiter.failed(["pair:mine"])
    with pytest.raises(auth.ApiError):
        limiter.check({"pair:mine": 1})
