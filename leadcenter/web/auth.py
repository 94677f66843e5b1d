"""Who is calling: a signed-in user (session cookie + CSRF token) or an integration (a company's API key).

- Sessions: Flask's signed cookie holds a random session id (its SHA-256 is a UserSession row), the company the
  user picked and a CSRF token; cookies are HttpOnly, SameSite=Strict, and Secure when the app is served over
  HTTPS. Signing out or changing the password revokes the row, so a copied cookie stops working at once. Every unsafe request made with a session
  must carry the token in ``X-CSRF-Token`` (the token comes with ``GET /api/v1/session``).
- API keys: ``Authorization: Bearer lc_<prefix>_<secret>``; only a SHA-256 of the key is stored. A key acts as an
  admin of its company. No CSRF token: browsers never send it by themselves.
- Sign-in attempts are throttled so that guessing is slow and nobody can be locked out by someone else (see
  "sign-in throttling" below).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal, overload

from flask import after_this_request, current_app, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer

from leadcenter.accounts.models import ROLE_RANK, ApiKey, Company, Membership, User
from leadcenter.accounts.services import sessions_user
from leadcenter.agents.models import Agent
from leadcenter.errors import ApiError
from leadcenter.web import ports

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
KEY_PREFIX = "lc_"
KEY_USE_RESOLUTION = dt.timedelta(minutes=1)  # how precisely an API key's last use is recorded


@dataclass(frozen=True)
class Principal:
    company: Company
    role: str  # admin | supervisor | agent
    user: User | None = None  # None for an API key
    agent: Agent | None = None  # the user's agent profile in this company, if any
    api_key: ApiKey | None = None

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.headers.get("X-CSRF-Token", "")
    if request.method in UNSAFE and not hmac.compare_digest(sent, session.get("csrf", "") or "-"):
        raise ApiError("csrf-token-missing", "send the X-CSRF-Token header from GET /api/v1/session")


def principal_for(user: User, company_id: int | None) -> Principal | None:
    """The user's standing in a company they belong to; None when they do not belong to it."""
    membership = (Membership.select(Membership, Company).join(Company)
                  .where(Membership.user == user, Membership.company == company_id).first())
    if membership is None or not user.active:
        return None
    agent = Agent.get_or_none(Agent.user == user, Agent.company == membership.company)
    return Principal(membership.company, membership.role, user=user, agent=agent)


def session_user() -> User | None:
    """The user of this request's session cookie, while that session has not been revoked."""
    return sessions_user(session["sid"]) if session.get("sid") else None


@overload
def current(required: Literal[True] = True) -> Principal: ...
@overload
def current(required: bool) -> Principal | None: ...
def current(required: bool = True) -> Principal | None:
    """The caller, from the Authorization header or the session cookie."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return _api_key_principal(header[7:].strip())
    user = session_user()
    found = principal_for(user, session.get("company_id")) if user else None
    if found is None and required:
        if user is not None and session.get("company_id") is None:
            raise ApiError("company-not-selected", "pick a company first (PUT /api/v1/session/company)")
        raise ApiError("not-signed-in", "sign in first (POST /api/v1/session)")
    if found is not None:
        check_csrf()
    return found


OWNER = "owner"  # an endpoint only the installation owner may call (above every role of every company)


def require(role: str) -> Principal:
    principal = current()
    if role == OWNER:
        # A session's user only: an API key acts as a company's admin, never as the person running the server.
        if principal.user is None or not principal.user.owner:
            raise ApiError("owner-only", "only the installation owner may do this")
        return principal
    if not principal.at_least(role):
        raise ApiError("forbidden", f"this needs the {role} role in {principal.company.name}")
    return principal


# -- API keys --------------------------------------------------------------------------------------------------

def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key(company: Company, name: str, created_by: User | None) -> tuple[ApiKey, str]:
    """Create a key; the full key is returned once and never stored."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return ApiKey.create(company=company, name=name, prefix=prefix, key_hash=hash_key(key),
                         created_by=created_by), key


def _api_key_principal(key: str) -> Principal:
    parts = key.split("_", 2)
    row = ApiKey.get_or_none(ApiKey.prefix == parts[1]) if len(parts) == 3 and key.startswith(KEY_PREFIX) else None
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        raise ApiError("invalid-api-key", "the API key is not valid (revoked, mistyped or unknown)")
    now = ports.controller().clock()
    if row.last_used_at is None or now - row.last_used_at >= KEY_USE_RESOLUTION:
        # A write a minute at most: a stream re-checks its key every few seconds, and each write takes SQLite's
        # write lock from the call recorder.
        ApiKey.update(last_used_at=now).where(ApiKey.id == row.id).execute()
    return Principal(row.company, "admin", api_key=row)


# -- sign-in throttling ---------------------------------------------------------------------------------------
#
# Failures are counted per key in a sliding window. An attacker must not be able to lock anyone out, so no limit
# is per account alone or per address alone for everyone:
# - a client is known to an account when it carries that account's device cookie (set at each successful
#   sign-in: a browser the owner used before); it gets its own DEVICE_LIMIT and nothing else counts against it,
#   so the owner signs in from their browser while the account is under attack from anywhere;
# - any other client counts against PAIR_LIMIT for the account from its address (an attacker locks only
#   themselves out), and against the wider ACCOUNT_LIMIT (guesses from many addresses, a botnet) and ADDRESS_LIMIT
#   (one address trying many accounts: password spraying), which stop new clients only.
# What is left: while an account is under attack from many addresses, its owner on a browser they never signed
# in from waits (the window), as do new clients behind an address that is spraying.

DEVICE_COOKIE = "lc_device"
DEVICE_COOKIE_DAYS = 180
WINDOW = 15 * 60.0  # seconds
PAIR_LIMIT = 5
DEVICE_LIMIT = 5
ACCOUNT_LIMIT = 20
ADDRESS_LIMIT = 100
MAX_KEYS = 100_000  # counters kept (memory); beyond it, expired ones go, then the oldest


class AttemptLimiter:
    """Failed attempts per key in a sliding ``window`` of ``clock()`` seconds (a monotonic clock: setting the
    wall clock neither frees nor locks anyone)."""

    def __init__(self, window: float = WINDOW, clock=time.monotonic):
        self.window, self.clock = window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def check(self, limits: dict[str, int]) -> None:
        """429 with Retry-After while any key has had its limit of failures in the window."""
        waits = self._waits(limits, self.clock())
        if waits:
            wait = max(1, math.ceil(max(waits)))
            raise ApiError("too-many-attempts", f"too many failed sign-ins; try again in {wait} s",
                           headers={"Retry-After": str(wait)})

    def _waits(self, limits: dict[str, int], now: float) -> list[float]:
        """For each key at its limit, how long until its oldest counted failure leaves the window."""
        with self._lock:
            return [failures[-limit] + self.window - now for key, limit in limits.items()
                    if len(failures := self._recent(key, now)) >= limit]

    def failed(self, keys) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._failures) > MAX_KEYS:  # bounded memory under a spray of addresses and emails
                for key in [k for k in self._failures if not self._recent(k, now)]:
                    del self._failures[key]
                for key in list(self._failures)[:max(0, len(self._failures) - MAX_KEYS // 2)]:
                    del self._failures[key]  # still full: the longest-known keys go (next scan is far off)

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class SharedAttemptLimiter(AttemptLimiter):
    """The same rules with the failures in the database (``cluster_sign_in_failure``, cluster.py's tables), so that
    every node of an installation counts every node's (docs/architecture.md, "Several nodes"): a guesser spreading
    over N nodes gets one allowance, not N. Times are the wall clock's (``time.time``, the nodes' clocks kept in
    step): a monotonic clock is per machine. Expired failures are deleted as new ones come."""

    def __init__(self, database, window: float = WINDOW, clock=time.time):
        super().__init__(window, clock)
        self.database = database

    def _waits(self, limits: dict[str, int], now: float) -> list[float]:
        waits = []
        for key, limit in limits.items():
            row = self.database.execute_sql(
                "SELECT at FROM cluster_sign_in_failure WHERE key = %s AND at > %s ORDER BY at DESC OFFSET %s LIMIT 1",
                (key, now - self.window, limit - 1)).fetchone()
            if row is not None:
                waits.append(row[0] + self.window - now)
        return waits

    def failed(self, keys) -> None:
        now = self.clock()
        with self.database.atomic():
            self.database.execute_sql("DELETE FROM cluster_sign_in_failure WHERE at <= %s", (now - self.window,))
            for key in keys:
                self.database.execute_sql("INSERT INTO cluster_sign_in_failure (key, at) VALUES (%s, %s)", (key, now))

    def forget(self, key: str) -> None:
        self.database.execute_sql("DELETE FROM cluster_sign_in_failure WHERE key = %s", (key,))


def _device_signer() -> URLSafeTimedSerializer:
    key = current_app.secret_key
    assert key is not None, "create_app sets the secret key"
    return URLSafeTimedSerializer(key, salt="leadcenter-device")


def known_device(email: str) -> str | None:
    """The id of this browser's device cookie when it was issued to ``email``'s account (signed by us)."""
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie:
        return None
    try:
        owner, device = _device_signer().loads(cookie, max_age=DEVICE_COOKIE_DAYS * 86400)
    except (BadSignature, ValueError, TypeError):
        return None
    return device if hmac.compare_digest(str(owner).encode(), email.encode()) else None


def remember_device(email: str, device: str | None) -> None:
    """After a successful sign-in: the browser gets (or renews) the account's device cookie."""
    value = _device_signer().dumps([email, device or secrets.token_urlsafe(16)])

    @after_this_request
    def set_cookie(response):
        response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_COOKIE_DAYS * 86400, path="/api/v1/session",
                            httponly=True, samesite="Strict", secure=current_app.config["SESSION_COOKIE_SECURE"])
        return response


def sign_in_limits(email: str, device: str | None) -> dict[str, int]:
    """The keys a sign-in for ``email`` counts against, with their limits (see above)."""
    if device is not None:
        return {f"device:{device}": DEVICE_LIMIT}
    address = request.remote_addr or "-"
    return {f"pair:{email}|{address}": PAIR_LIMIT, f"account:{email}": ACCOUNT_LIMIT,
            f"address:{address}": ADDRESS_LIMIT}


def signed_in(limiter: AttemptLimiter, limits: dict[str, int]) -> None:
    """After a successful sign-in, this client's own failures are forgotten; those per account and per address
    count what others tried too, and stay."""
    for key in limits:
        if key.startswith(("pair:", "device:")):
            limiter.forget(key)
