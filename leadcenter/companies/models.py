from peewee import BooleanField, CharField, ForeignKeyField

from leadcenter.db import BaseModel, TimestampedModel

ROLES = ("admin", "supervisor", "agent")


class Company(TimestampedModel):
    name = CharField()
    # The region phone numbers are read in when written without a country code (ISO 3166 alpha-2).
    default_region = CharField(default="US")


class User(TimestampedModel):
    """Someone who signs in; belongs to one or more companies through Membership."""
    email = CharField(unique=True)
    name = CharField()
    password_hash = CharField()
    active = BooleanField(default=True)


class Membership(BaseModel):
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    company = ForeignKeyField(Company, backref="memberships", on_delete="CASCADE")
    role = CharField(choices=[(r, r) for r in ROLES])

    class Meta:
        indexes = ((("user", "company"), True),)
