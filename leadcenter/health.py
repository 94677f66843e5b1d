"""/healthz: whether the controller can do its job now. The database must answer, Asterisk's AMI and ARI links
must be up, and Kamailio running when it is the SIP edge; texting's state is reported but does not make the
controller unhealthy (calls go on without an SMSC)."""

from __future__ import annotations

import logging

from peewee import Database, DatabaseError, InterfaceError

from leadcenter import generations
from leadcenter.kamailio import Edge
from leadcenter.sms.smpp import SmppLink
from leadcenter.telephony.service import Telephony
from leadcenter.texts.outbox import Outbox

log = logging.getLogger(__name__)


class Health:
    def __init__(
        self,
        database: Database,
        telephony: Telephony,
        smscs: list[SmppLink],
        outbox: Outbox,
        edge: Edge | None = None,
        followed: bool = False,
    ):
        self.database, self.telephony, self.smscs, self.outbox = database, telephony, smscs, outbox
        self.edge = edge  # the Kamailio this controller runs ([kamailio] enabled): carriers' calls come through it
        self.followed = followed  # other Asterisk nodes' followers render their files: say how far each got

    def __call__(self) -> dict:
        try:
            self.database.execute_sql("SELECT 1").fetchone()
            database_ok = True
        except (DatabaseError, InterfaceError) as exc:  # any failure to answer means unhealthy; say which
            log.warning("health: database: %s", exc)
            database_ok = False
        edge = self.edge.status() if self.edge is not None else {"state": "off"}
        health = {
            "ok": database_ok and self.telephony.connected and edge["state"] != "down",
            "database": "ok" if database_ok else "unavailable",
            "asterisk": self.telephony.status(),
            "sms": self.sms_status(),
            "edge": edge,
        }
        if self.followed and database_ok:
            # Informative: a node behind or failing keeps its previous files and still takes calls.
            health["asterisk_files"] = generations.status()
        return health

    def sms_status(self) -> dict:
        """Each SMPP bind's state and counters and the outbox backlog; ``state`` is ``bound`` when every bind is."""
        if not self.smscs:
            return {"state": "off"}
        bound = [link.bound for link in self.smscs]
        state = "bound" if all(bound) else ("partly bound" if any(bound) else "down")
        return {"state": state, "smscs": [link.status() for link in self.smscs], "outbox": self.outbox.backlog()}
