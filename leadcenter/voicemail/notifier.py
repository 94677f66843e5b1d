"""The voicemail domain's event (catalogue.py): a mailbox's message counts, for its company (and agent)."""

from __future__ import annotations

from leadcenter import catalogue
from leadcenter.events import Publisher


def count_changed(bus: Publisher, company_id: int, agent_id: int | None, mailbox: str, new: int, old: int) -> None:
    catalogue.VOICEMAIL_COUNT_CHANGED.publish(
        bus, company_id=company_id, agent_id=agent_id, mailbox=mailbox, new=new, old=old
    )
