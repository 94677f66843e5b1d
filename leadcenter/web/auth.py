"""Who is calling: a signed-in user (session cookie + CSRF token) or an integration (a company's API key).

- Sessions: Flask's signed cookie holds a random session id (its SHA-256 is a UserSession row), the company the
  user picked and a CSRF token; cookies are HttpOnly, SameSite=Strict, and Secure when the app is served over
  HTTPS. Signing out or changing the password revokes the row, so a copied cookie stops working at once. Every unsafe request made with a session
  must carry the token in ``X-CSRF-Token`` (the token comes with ``GET /api/v1/session``).
- API keys: ``Authorization: Bearer lc_<prefix>_<secret>``; only a SHA-256 of the key is stored. A key acts as an
  admin of its company. No CSRF token: browsers never send it by themselves.
- Sign-in attempts are rate limited per email and per client address.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from flask import current_app, request, session

from leadcenter.agents.models import Agent
from leadcenter.companies.models import ApiKey, Company, Membership, User
from leadcenter.companies.services import sessions_user
from leadcenter.web.api import ROLE_RANK, ApiError

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
        raise ApiError(403, "csrf-token-missing", "send the X-CSRF-Token header from GET /api/v1/session")


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


def current(required: bool = True) -> Principal | None:
    """The caller, from the Authorization header or the session cookie."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return _api_key_principal(header[7:].strip())
    user = session_user()
    found = principal_for(user, session.get("company_id")) if user else None
    if found is None and required:
        if user is not None and session.get("company_id") is None:
            raise ApiError(409, "company-not-selected", "pick a company first (PUT /api/v1/session/company)")
        raise ApiError(401, "not-signed-in", "sign in first (POST /api/v1/session)")
    if found is not None:
        check_csrf()
    return found


def require(role: str) -> Principal:
    principal = current()
    if not principal.at_least(role):
        raise ApiError(403, "forbidden", f"this needs the {role} role in {principal.company.name}")
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
        raise ApiError(401, "invalid-api-key", "the API key is not valid (revoked, mistyped or unknown)")
    now = current_app.controller.clock()
    if row.last_used_at is None or now - row.last_used_at >= KEY_USE_RESOLUTION:
        # A write a minute at most: a stream re-checks its key every few seconds, and each write takes SQLite's
        # write lock from the call recorder.
        ApiKey.update(last_used_at=now).where(ApiKey.id == row.id).execute()
    return Principal(row.company, "admin", api_key=row)


# -- sign-in rate limiting -------------------------------------------------------------------------------------

class AttemptLimiter:
    """At most ``limit`` failed sign-ins per key (an email, a client address) in ``window`` seconds."""

    def __init__(self, limit: int = 5, window: float = 300.0):
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if len(failures) >= self.limit:
                    wait = int(failures[0] + self.window - now) + 1
                    raise ApiError(429, "too-many-attempts", f"too many failed sign-ins; try again in {wait} s",
                                   headers={"Retry-After": str(wait)})

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
