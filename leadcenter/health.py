"""/healthz: whether the controller can do its job now. The database must answer and Asterisk's AMI and ARI links
must be up; texting's state is reported but does not make the controller unhealthy (calls go on without an SMSC)."""

from __future__ import annotations

import logging

from peewee import Database, DatabaseError, InterfaceError

from leadcenter.sms.smpp import SmppLink
from leadcenter.telephony.service import Telephony
from leadcenter.texts.outbox import Outbox

log = logging.getLogger(__name__)


class Health:
    def __init__(self, database: Database, telephony: Telephony, smscs: list[SmppLink], outbox: Outbox):
        self.database, self.telephony, self.smscs, self.outbox = database, telephony, smscs, outbox

    def __call__(self) -> dict:
        try:
            self.database.execute_sql("SELECT 1").fetchone()
            database_ok = True
        except (DatabaseError, InterfaceError) as exc:  # any failure to answer means unhealthy; say which
            log.warning("health: database: %s", exc)
            database_ok = False
        return {
            "ok": database_ok and self.telephony.connected,
            "database": "ok" if database_ok else "unavailable",
            "asterisk": self.telephony.status(),
            "sms": self.sms_status(),
        }

    def sms_status(self) -> dict:
        """Each SMPP bind's state and counters and the outbox backlog; ``state`` is ``bound`` when every bind is."""
        if not self.smscs:
            return {"state": "off"}
        bound = [link.bound for link in self.smscs]
        state = "bound" if all(bound) else ("partly bound" if any(bound) else "down")
        return {"state": state, "smscs": [link.status() for link in self.smscs], "outbox": self.outbox.backlog()}
