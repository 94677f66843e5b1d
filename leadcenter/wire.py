"""The API's wire types, shared by every domain's request and response models (``schemas.py``) and by whatever else
builds the API's resources (the event stream): pydantic only, no web framework, so a domain's schemas import no
``web``. The web layer (``web/api.py``) validates requests against these models and renders them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, StringConstraints


class Schema(BaseModel):
    """Base of request and response models: unknown fields in a request are an error, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def utc_iso(moment: dt.datetime) -> str:
    """ISO 8601 with the offset: the database keeps UTC without a zone, and a browser would read a bare
    timestamp as local time."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).isoformat()


UtcDateTime = Annotated[dt.datetime, PlainSerializer(utc_iso, return_type=str, when_used="json")]

# Free text (notes, messages) is kept exactly as typed: Schema strips other strings.
Text = Annotated[str, StringConstraints(strip_whitespace=False)]

# What the database and date arithmetic can hold. Every whole number that comes in (ids above all) must fit
# SQLite's and PostgreSQL's 64-bit integers; every date must leave room for the day arithmetic done on it (a
# report's "30 days before", "the day after"). Values outside are refused as the field's fault, not a 500.
INT_RANGE = (-(2**63), 2**63 - 1)
DATE_RANGE = (dt.date(1900, 1, 1), dt.date(9000, 12, 31))
