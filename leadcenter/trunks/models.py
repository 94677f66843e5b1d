from __future__ import annotations

import ipaddress
import socket

from peewee import CharField, ForeignKeyField, IntegerField

from leadcenter.accounts.models import Company
from leadcenter.db import TimestampedModel
from leadcenter.pbx import names


def peer_address(host: str) -> str:
    """The one spelling of a trunk's address, as Asterisk's identify will match it: IPv4 dotted quad, IPv6
    compressed (an IPv4-mapped one as IPv4). Rows from before only IP addresses were accepted may hold the other
    forms the C resolver reads (127.1, 2130706433, 0x7f.1): those become the dotted quad too; a host name stays as
    written (lower case)."""
    host = host.strip().lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class Trunk(TimestampedModel):
    """A SIP carrier peer. Calls from it are recognised by address and port, never accepted anonymously."""

    company = ForeignKeyField(Company, backref="trunks", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    name = CharField()
    host = CharField()
    port = IntegerField(default=5060)

    @property
    def endpoint_name(self) -> str:
        return names.trunk_endpoint(self.id)
