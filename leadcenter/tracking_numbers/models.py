from __future__ import annotations

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from leadcenter.accounts.models import Company
from leadcenter.db import TimestampedModel
from leadcenter.flows.models import CallFlow
from leadcenter.trunks.models import Trunk

# A source number is shown to visitors whose session has this source (visits/sources.py); custom: swap_rule says.
SWAP_SOURCES = (
    "",
    "google_ads",
    "google_organic",
    "bing_ads",
    "bing_organic",
    "facebook",
    "yelp",
    "direct",
    "custom",
)


class TrackingNumber(TimestampedModel):
    company = ForeignKeyField(Company, backref="tracking_numbers", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    number = CharField(unique=True)  # E.164
    name = CharField()
    source = CharField(default="")  # the marketing source the number is tied to, e.g. "Google Ads"
    trunk = ForeignKeyField(Trunk, backref="numbers", on_delete="RESTRICT")
    trunk_id: IntegerField[int]  # the related row's id
    flow = ForeignKeyField(CallFlow, null=True, backref="numbers", on_delete="SET NULL")
    flow_id: IntegerField[int | None]  # the related row's id
    # Website visitors (visits/): the pool it is shown from, one visitor session at a time (an id, not a foreign
    # key: the pool names its fallback tracking number, and the visits domain sits above this one)...
    pool_id = IntegerField(null=True, index=True)
    # ...or the source whose visitors are shown it, with the rule for "custom" (JSON: {"param", "equals"|"contains",
    # "name" for landing_param}).
    swap_source = CharField(default="", choices=[(s, s) for s in SWAP_SOURCES])
    swap_rule = TextField(default="")
    # Whether it sends and takes texts: off, sends from it are refused and texts to it are refused to the SMSC
    # (a number the carrier does not enable for SMS, or one the business keeps for calls).
    texting = BooleanField(default=True)
