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


AUTHS = ("ip", "register")  # recognised by its address alone; or also registering to the carrier
TRANSPORTS = ("udp", "tcp", "tls")
CODECS = ("ulaw", "alaw", "g722", "gsm", "opus")  # the codec modules Asterisk loads (asterisk/modules.conf)


class Trunk(TimestampedModel):
    """A SIP carrier peer. Calls from it are recognised by address and port, never accepted anonymously. A trunk
    with ``auth = register`` also registers to the carrier with a username and password (the carrier then sends
    its calls for that account here), and answers its digest challenges with them on calls we place."""

    company = ForeignKeyField(Company, backref="trunks", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    name = CharField()
    host = CharField()
    port = IntegerField(default=5060)
    auth = CharField(default="ip", choices=[(a, a) for a in AUTHS])
    username = CharField(default="")
    password = CharField(default="")  # the carrier's: Asterisk needs it in clear; never shown by the API
    transport = CharField(default="udp", choices=[(t, t) for t in TRANSPORTS])
    codecs = CharField(default="ulaw,alaw")  # in order of preference
    # How often Asterisk asks the carrier (SIP OPTIONS) whether it is there; 0: never (its state is then what the
    # registration says, or unknown).
    qualify_seconds = IntegerField(default=0)

    @property
    def endpoint_name(self) -> str:
        return names.trunk_endpoint(self.id)
