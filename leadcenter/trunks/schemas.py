"""What the trunks endpoints accept and answer."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Literal

from pydantic import Field, RootModel, field_validator, model_validator

from leadcenter.accounts.schemas import Name, changes_of
from leadcenter.trunks.models import CODECS, Trunk, peer_address
from leadcenter.wire import Schema, UtcDateTime

Codec = Literal["ulaw", "alaw", "g722", "gsm", "opus"]
assert set(CODECS) == set(Codec.__args__)  # type: ignore[attr-defined]
# What may go in a SIP URI's user part and a pjsip.conf value: no ';', '@', ':', spaces or line breaks.
_SIP_USER = r"^[A-Za-z0-9_.!~*'()&=+-]+$"
TLS_PORT = 5061


class NewTrunk(Schema):
    name: Name
    host: str = Field(
        max_length=64,
        description="the carrier's IP address (v4 or v6), where its calls come from "
        "and ours go: calls are recognised by address and port",
    )
    port: int = Field(5060, ge=1, le=65535)
    auth: Literal["ip", "register"] = Field(
        "ip",
        description="ip: the carrier knows us by address; register: we also register to it with username and "
        "password (and answer its challenges with them on the calls we place)",
    )
    username: str = Field("", max_length=64, pattern=rf"{_SIP_USER}|^$", description="for auth register")
    password: str = Field(
        "", max_length=128, description="for auth register; never shown again (has_password says whether set)"
    )
    transport: Literal["udp", "tcp", "tls"] = Field(
        "udp",
        description="tls: SIP over TLS (port 5061 unless given; Asterisk's asterisk.sip_tls_port must be on), the "
        "carrier's certificate checked against the system's certificate authorities or asterisk.trunk_authorities",
    )
    codecs: list[Codec] = Field(
        ["ulaw", "alaw"], min_length=1, max_length=5, description="the audio codecs offered, in order of preference"
    )
    qualify_seconds: int = Field(
        0,
        ge=0,
        le=3600,
        description="how often Asterisk asks the carrier (SIP OPTIONS) whether it is there, at least 5; 0: never "
        "(the state is then the registration's, or unknown)",
    )

    @field_validator("qualify_seconds")
    @classmethod
    def often_enough(cls, seconds: int) -> int:
        if 0 < seconds < 5:
            raise ValueError("at least 5 seconds (or 0: never)")
        return seconds

    @model_validator(mode="after")
    def tls_port_by_default(self) -> NewTrunk:
        # SIP over TLS's own port, when none was given.
        if self.transport == "tls" and "port" not in self.model_fields_set:
            self.port = TLS_PORT
        return self

    @field_validator("codecs")
    @classmethod
    def each_once(cls, codecs: list[str]) -> list[str]:
        if len(set(codecs)) != len(codecs):
            raise ValueError("a codec named twice")
        return codecs

    @field_validator("password")
    @classmethod
    def one_line(cls, password: str) -> str:
        # Written into pjsip.conf: a line break or a ';' would end or cut the value.
        if any(c in password for c in "\r\n;") or password != password.strip():
            raise ValueError("no line breaks, ';' or surrounding spaces")
        return password

    @field_validator("host")
    @classmethod
    def ip_address(cls, host: str) -> str:
        # Only an address, in its one spelling: Asterisk matches a call's source address, so two spellings of one
        # address (127.1, 2130706433, a name resolving to it) would let a second trunk take the first one's calls;
        # a host name checked today may resolve to someone else's carrier tomorrow. It is also written into
        # pjsip.conf: nothing but an address may get there.
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                "not an IP address: write the carrier's signalling address, e.g. 203.0.113.5 "
                "(host names are not accepted)"
            ) from None
        if address.is_unspecified or address.is_multicast or getattr(address, "scope_id", None):
            raise ValueError("not the address of one peer")
        return peer_address(host)


if TYPE_CHECKING:  # to the checker: the model's fields, each of which may be left out
    TrunkChanges = NewTrunk
else:
    TrunkChanges = changes_of(NewTrunk, "TrunkChanges", "Only the fields sent change.")


class TrunkOut(Schema):
    id: int
    name: str
    host: str
    port: int
    auth: str
    username: str
    has_password: bool
    transport: str
    codecs: list[str]
    qualify_seconds: int
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, trunk: Trunk) -> TrunkOut:
        return cls(
            id=trunk.id,
            name=trunk.name,
            host=trunk.host,
            port=trunk.port,
            auth=trunk.auth,
            username=trunk.username,
            has_password=bool(trunk.password),
            transport=trunk.transport,
            codecs=trunk.codecs.split(","),
            qualify_seconds=trunk.qualify_seconds,
            created_at=trunk.created_at,
        )


TrunkStateName = Literal["registered", "reachable", "failing", "unknown"]


class TrunkStateOut(Schema):
    """A trunk now, as Asterisk reports it: its outbound registration and whether the carrier answers qualify."""

    trunk: int
    state: TrunkStateName = Field(
        description="registered: its registration is accepted and the carrier (when asked) answers; reachable: the "
        "carrier answers qualify OPTIONS; failing: the registration is refused or unanswered, or the carrier stopped "
        "answering; unknown: nothing asked yet (no registration, qualify off) or Asterisk not reached"
    )
    registration: str | None = Field(
        description="Asterisk's word for the registration (Registered, Unregistered, Rejected); null: it does not "
        "register"
    )
    reachable: bool | None = Field(description="the last qualify's answer; null: not qualified (or not yet)")
    roundtrip_ms: float | None = Field(description="the last qualify's round trip")
    since: UtcDateTime | None = Field(description="when the state last changed (null: not since the start)")


class TrunkStateList(RootModel[list[TrunkStateOut]]):
    pass


class TrunkList(RootModel[list[TrunkOut]]):
    pass
