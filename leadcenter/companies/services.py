"""Creating companies, users and memberships."""
from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

from leadcenter.companies.models import ROLES, Company, Membership, User
from leadcenter.db import database

MIN_PASSWORD_LENGTH = 8
# werkzeug's scrypt (n=2**15, r=8, p=1), salted. Unit tests lower the cost; the stored hash names its own.
PASSWORD_METHOD = "scrypt"


class AccountError(ValueError):
    pass


def create_company(name: str, default_region: str = "US") -> Company:
    return Company.create(name=name, default_region=default_region.upper())


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)


def create_user(email: str, name: str, password: str) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"{email!r} is not an email address")
    if User.select().where(User.email == email).exists():
        raise AccountError(f"a user with email {email} already exists")
    user = User(email=email, name=name)
    set_password(user, password)
    user.save()
    return user


def verify_password(user: User, password: str) -> bool:
    return user.active and check_password_hash(user.password_hash, password)


def add_member(user: User, company: Company, role: str) -> Membership:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    with database.atomic():
        membership, _ = Membership.get_or_create(user=user, company=company, defaults={"role": role})
        if membership.role != role:
            membership.role = role
            membership.save()
    return membership
