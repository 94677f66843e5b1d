"""The KPIs' daily rollup: per company and UTC day, the sums every KPI and the channel and agent series are made
of, so that a year is a few thousand rows instead of a million interactions (reports/services.py).

A day is rolled up on the first read that needs it once it is over, and forgotten (its KpiDayBuilt row deleted,
by the triggers below, in the database itself) whenever anything it was made of changes: an interaction that began
that day (concluded late, classified, merged, deleted), a message or a conversation's move in an episode that began
that day, the end of a wrap-up after one of its calls, a team's service level threshold. The next read builds it
again, so the rollup is always what the interactions say now.
"""

from __future__ import annotations

from peewee import BooleanField, CharField, DateField, ForeignKeyField, IntegerField, TextField

from leadcenter.accounts.models import Company
from leadcenter.db import BaseModel, is_postgresql

# The measures summed per row; services.py defines each.
MEASURES = (
    "interactions",
    "answered",
    "handled",
    "talk",
    "hold",
    "wrapped",
    "wrap",
    "qualified",
    "queue_offered",
    "queue_short",
    "queue_abandoned",
    "queue_answered",
    "queue_within",
    "queue_wait",
    "missed",
    "voicemail",
    "episodes",
    "responded",
    "response",
    "resolved",
    "resolution",
)


class KpiDay(BaseModel):
    """The sums of one company's interactions that began on one UTC day, per kind, direction, queue team and agent
    (0: none). A conversation's episodes count on the day each began."""

    company = ForeignKeyField(Company, on_delete="CASCADE", index=False)
    company_id: IntegerField[int]  # the related row's id
    day = CharField()  # YYYY-MM-DD
    kind = CharField()
    direction = CharField()
    queue_team_id = IntegerField(default=0)
    agent_id = IntegerField(default=0)
    interactions = IntegerField(default=0)
    answered = IntegerField(default=0)
    handled = IntegerField(default=0)
    talk = IntegerField(default=0)
    hold = IntegerField(default=0)
    wrapped = IntegerField(default=0)
    wrap = IntegerField(default=0)
    qualified = IntegerField(default=0)
    queue_offered = IntegerField(default=0)
    queue_short = IntegerField(default=0)
    queue_abandoned = IntegerField(default=0)
    queue_answered = IntegerField(default=0)
    queue_within = IntegerField(default=0)
    queue_wait = IntegerField(default=0)
    missed = IntegerField(default=0)
    voicemail = IntegerField(default=0)
    episodes = IntegerField(default=0)
    responded = IntegerField(default=0)
    response = IntegerField(default=0)
    resolved = IntegerField(default=0)
    resolution = IntegerField(default=0)

    class Meta:
        table_name = "kpi_day"
        indexes = ((("company", "day", "agent_id"), False),)


# The measures of a slice.
SLICE_MEASURES = (
    "interactions",
    "qualified",
    "classified",
    "value_cents",
    "missed",
    "voicemail",
    "abandoned",
    "short_abandons",
)
# What a day is sliced by besides: the hour it began in, and each attribution column.
DIMENSIONS = ("hour", "source", "medium", "campaign", "keywords", "landing_page")


class KpiSlice(BaseModel):
    """The sums of one company's interactions that began on one UTC day, per value of one dimension (the hour of
    the day, a source, a campaign...), kind, direction and queue team (0: none): the hour and attribution series."""

    company = ForeignKeyField(Company, on_delete="CASCADE", index=False)
    company_id: IntegerField[int]  # the related row's id
    day = CharField()  # YYYY-MM-DD
    dimension = CharField()
    value = CharField()
    kind = CharField()
    direction = CharField()
    queue_team_id = IntegerField(default=0)
    interactions = IntegerField(default=0)
    qualified = IntegerField(default=0)
    classified = IntegerField(default=0)
    value_cents = IntegerField(default=0)
    missed = IntegerField(default=0)
    voicemail = IntegerField(default=0)
    abandoned = IntegerField(default=0)
    short_abandons = IntegerField(default=0)

    class Meta:
        table_name = "kpi_slice"
        indexes = ((("company", "dimension", "day"), False),)


class KpiDayBuilt(BaseModel):
    """The days of a company whose KpiDay rows (part day) or KpiSlice rows (part slice) are current."""

    company = ForeignKeyField(Company, on_delete="CASCADE", index=False)
    company_id: IntegerField[int]  # the related row's id
    day = CharField()
    part = CharField(default="day")

    class Meta:
        table_name = "kpi_day_built"
        indexes = ((("company", "day", "part"), True),)


class KpiZone(BaseModel):
    """The time zone a company's rollup days are local days of, and the least and greatest offset (minutes) of the
    days built: the triggers forget each local day a changed moment can be in."""

    company = ForeignKeyField(Company, on_delete="CASCADE", primary_key=True)
    company_id: IntegerField[int]  # the related row's id
    zone = CharField()
    low = IntegerField()
    high = IntegerField()

    class Meta:
        table_name = "kpi_zone"


class WeeklySummary(BaseModel):
    """A company's weekly summary email (reports/summary.py): on or off, to whom, and the week last summarised (its
    Monday, in the company's time zone): each week's goes once, whatever restarts come between."""

    company = ForeignKeyField(Company, on_delete="CASCADE", primary_key=True)
    company_id: IntegerField[int]  # the related row's id
    enabled = BooleanField(default=False)
    recipients = TextField(default="")  # email addresses, one a line
    last_week = DateField(null=True)  # the Monday of the last week summarised; null: none yet

    class Meta:
        table_name = "weekly_summary"


def _forget(company: str, moment: str, postgresql: bool) -> str:
    """Forget the local days ``moment`` (UTC) can be in (none while nothing is built: no kpi_zone row)."""
    if postgresql:
        bound = "(SELECT make_interval(mins => {}) FROM kpi_zone WHERE company_id = {})"
        day = "to_char(({}) + {}, 'YYYY-MM-DD')"
    else:
        bound = "(SELECT printf('%+d minutes', {}) FROM kpi_zone WHERE company_id = {})"
        day = "date({}, {})"
    low, high = (day.format(moment, bound.format(edge, company)) for edge in ("low", "high"))
    return f"DELETE FROM kpi_day_built WHERE company_id = {company} AND day BETWEEN {low} AND {high};"


# The start of the episode a conversation's message or move at ``moment`` belongs to: its start, or its latest
# reopening before then.
_EPISODE_START = """((SELECT max(began) FROM (
    SELECT started_at AS began FROM interaction WHERE id = {id}
    UNION ALL SELECT at FROM interaction_transition
        WHERE interaction_id = {id} AND event = 'reopen' AND at <= {at}) AS moments))"""


def _triggers(postgresql: bool) -> dict[str, tuple[str, str]]:
    """Each trigger's event and the statements it runs, in the engine's SQL."""

    def forget(company: str, moment: str) -> str:
        return _forget(company, moment, postgresql)

    utc_day = "date_trunc('day', OLD.started_at)" if postgresql else "date(OLD.started_at)"
    return {
        "kpi_interaction_inserted": ("AFTER INSERT ON interaction", forget("NEW.company_id", "NEW.started_at")),
        "kpi_interaction_updated": (
            "AFTER UPDATE ON interaction",
            forget("OLD.company_id", utc_day) + forget("NEW.company_id", "NEW.started_at"),
        ),
        "kpi_interaction_deleted": ("AFTER DELETE ON interaction", forget("OLD.company_id", "OLD.started_at")),
        "kpi_message_written": (
            "AFTER INSERT ON message",
            forget(
                "(SELECT company_id FROM interaction WHERE id = NEW.interaction_id)",
                _EPISODE_START.format(id="NEW.interaction_id", at="NEW.created_at"),
            ),
        ),
        "kpi_transition_recorded": (
            "AFTER INSERT ON interaction_transition",
            forget(
                "(SELECT company_id FROM interaction WHERE id = NEW.interaction_id)",
                _EPISODE_START.format(id="NEW.interaction_id", at="NEW.at"),
            ),
        ),
        # A status change ends the agent's previous state: if that was a wrap-up, the call that ended as it began
        # has its wrap-up now.
        "kpi_status_changed": (
            "AFTER INSERT ON agent_status_change",
            forget(
                "(SELECT company_id FROM agent WHERE id = NEW.agent_id)",
                """(SELECT i.started_at FROM interaction i WHERE
            i.company_id = (SELECT company_id FROM agent WHERE id = NEW.agent_id) AND i.agent_id = NEW.agent_id
            AND i.status = 'recent' AND i.status_changed_at = (
                SELECT at FROM agent_status_change WHERE agent_id = NEW.agent_id AND id < NEW.id
                AND to_reason = 'wrap_up' ORDER BY id DESC LIMIT 1))""",
            ),
        ),
        "kpi_threshold_changed": (
            "AFTER UPDATE OF service_level_seconds ON team",
            "DELETE FROM kpi_day_built WHERE company_id = NEW.company_id;",
        ),
        "kpi_time_zone_changed": (
            "AFTER UPDATE OF time_zone ON company",
            "DELETE FROM kpi_day_built WHERE company_id = NEW.id;",
        ),
    }


def create_triggers(database) -> None:
    """The triggers, as SQLite writes them or, on PostgreSQL, each a PL/pgSQL function run for each row."""
    postgresql = is_postgresql(database)
    for name, (event, body) in _triggers(postgresql).items():
        if postgresql:
            database.execute_sql(
                f'CREATE OR REPLACE FUNCTION "{name}"() RETURNS trigger LANGUAGE plpgsql AS '
                f"$$ BEGIN {body} RETURN NULL; END $$"
            )
            database.execute_sql(f'CREATE OR REPLACE TRIGGER "{name}" {event} FOR EACH ROW EXECUTE FUNCTION "{name}"()')
        else:
            database.execute_sql(f'CREATE TRIGGER IF NOT EXISTS "{name}" {event} BEGIN {body} END')
