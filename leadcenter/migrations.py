"""The migrations: every table, and the schema version an upgrade migrates from.

A new database gets the current tables and the latest version in one step. An existing one runs, in order, each
migration newer than its recorded version (see MIGRATIONS), so upgrades keep their data.
"""

from __future__ import annotations

import logging

from peewee import SQL, Field, IntegerField

from leadcenter import cluster, generations
from leadcenter.accounts.models import (
    ApiKey,
    Company,
    Invitation,
    Membership,
    PasswordLink,
    User,
    UserSession,
    server_time_zone,
)
from leadcenter.agents.models import Agent, AgentStatusChange, SipCredential
from leadcenter.audit.models import AuditEntry
from leadcenter.callbacks.models import Callback
from leadcenter.chats.models import ChatSession, ChatWidget, Visitor
from leadcenter.db import POSTGRESQL_TEXT, BaseModel, database, is_postgresql
from leadcenter.dialplans.models import CustomContext, DialplanVersion
from leadcenter.flows.models import CallFlow, FlowVersion
from leadcenter.interactions.models import (
    MAILBOX_INDEX,
    CallLeg,
    CallTransfer,
    ClassificationChange,
    Interaction,
    InteractionDecline,
    InteractionTag,
    InteractionTransition,
    Message,
    Tag,
)
from leadcenter.leads.models import Lead, LeadPhone, LeadSearchTerm
from leadcenter.mail import OutboundEmail
from leadcenter.monitors.models import Monitor
from leadcenter.reports.models import KpiDay, KpiDayBuilt, KpiSlice, KpiZone, WeeklySummary, create_triggers
from leadcenter.teams.models import Team, TeamMember
from leadcenter.texts.models import InboundPart, MessageTransition, OutboxPart, TextConsent, TextThread
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk
from leadcenter.visits.models import NumberPool, PageView, VisitSession, VisitSettings

log = logging.getLogger(__name__)

MODELS = [
    Company,
    User,
    Membership,
    ApiKey,
    UserSession,
    Agent,
    AgentStatusChange,
    SipCredential,
    CallFlow,
    FlowVersion,
    Trunk,
    TrackingNumber,
    Team,
    TeamMember,
    Lead,
    LeadPhone,
    LeadSearchTerm,
    Interaction,
    InteractionTransition,
    InteractionDecline,
    Message,
    Tag,
    InteractionTag,
    ClassificationChange,
    TextThread,
    OutboxPart,
    InboundPart,
    TextConsent,
    Invitation,
    MessageTransition,
    ChatWidget,
    Visitor,
    ChatSession,
    OutboundEmail,
    VisitSettings,
    NumberPool,
    VisitSession,
    PageView,
    AuditEntry,
    PasswordLink,
    CustomContext,
    DialplanVersion,
    KpiDay,
    KpiSlice,
    KpiDayBuilt,
    KpiZone,
    Monitor,
    WeeklySummary,
    CallLeg,
    CallTransfer,
    Callback,
    generations.AsteriskFiles,
    generations.AsteriskNodeFiles,
]


def _v2_accounts_leads_classification(migrator) -> None:
    from playhouse.migrate import migrate as run

    run(
        migrator.add_column("agent", "voicemail_greeting", Agent.voicemail_greeting),
        migrator.add_column("agent", "status_reason", Agent.status_reason),
        migrator.add_column("lead", "merged_into_id", Lead.merged_into),
        migrator.add_column("interaction", "voicemail", Interaction.voicemail),
        migrator.add_column("interaction", "duration_seconds", Interaction.duration_seconds),
        migrator.add_column("interaction", "qualified", Interaction.qualified),
        migrator.add_column("interaction", "value_cents", Interaction.value_cents),
        migrator.add_column("interaction", "notes", Interaction.notes),
        migrator.add_index("interaction", ("company_id", "agent_id", "status", "status_changed_at"), False),
        migrator.add_index("interaction", ("company_id", "started_at"), False),
        migrator.add_index("interaction", ("company_id", "status", "status_changed_at"), False),
    )
    database.create_tables(
        [
            ApiKey,
            UserSession,
            AgentStatusChange,
            LeadSearchTerm,
            InteractionDecline,
            Message,
            Tag,
            InteractionTag,
            ClassificationChange,
        ]
    )
    from leadcenter.leads.services import index_lead  # existing leads become searchable

    for lead in Lead.select():
        index_lead(lead)


def _v3_texts(migrator) -> None:
    from playhouse.migrate import migrate as run

    # Version 2 creates the message table from the current model: from a version 1 database it already has them.
    present = {column.name for column in database.get_columns("message")}
    run(
        migrator.add_column("company", "text_help_reply", Company.text_help_reply),
        *[
            migrator.add_column("message", field.column_name, field)
            for field in (Message.sent_at, Message.delivered_at, Message.failed_at)
            if field.column_name not in present
        ],
    )
    database.create_tables([TextThread, OutboxPart, InboundPart, TextConsent])


def _v4_text_idle_timer(migrator) -> None:
    from playhouse.migrate import migrate as run

    # Version 3 creates the table from the current model: from a version 1 or 2 database it already has the column.
    if "idle_until" not in {column.name for column in database.get_columns("text_thread")}:
        run(migrator.add_column("text_thread", "idle_until", TextThread.idle_until))  # and its index


def _v5_invitations(migrator) -> None:
    database.create_tables([Invitation])


def _v6_message_transitions(migrator) -> None:
    database.create_tables([MessageTransition])


def _v7_chats(migrator) -> None:
    database.create_tables([ChatWidget, Visitor, ChatSession])


def _v8_email_notifications(migrator) -> None:
    from playhouse.migrate import migrate as run

    present = {column.name for column in database.get_columns("agent")}
    run(
        *[
            migrator.add_column("agent", field.column_name, field)
            for field in (Agent.email_new_chats, Agent.email_missed_chats)
            if field.column_name not in present
        ]
    )
    database.create_tables([OutboundEmail])


def _v9_visits(migrator) -> None:
    from playhouse.migrate import migrate as run

    # A column already there is skipped (a test brings a new database back to an older version number).
    added: list[tuple[str, Field]] = [
        ("interaction", Interaction.medium),
        ("interaction", Interaction.click_id),
        ("tracking_number", TrackingNumber.pool_id),  # and its index
        ("tracking_number", TrackingNumber.swap_source),
        ("tracking_number", TrackingNumber.swap_rule),
    ]
    present = {table: {c.name for c in database.get_columns(table)} for table in ("interaction", "tracking_number")}
    run(
        *[
            migrator.add_column(table, field.column_name, field)
            for table, field in added
            if field.column_name not in present[table]
        ]
    )
    database.create_tables([VisitSettings, NumberPool, VisitSession, PageView])


def _v10_site_forms(migrator) -> None:
    from playhouse.migrate import migrate as run

    if ChatSession.form_name.column_name not in {c.name for c in database.get_columns("chat_session")}:
        run(migrator.add_column("chat_session", ChatSession.form_name.column_name, ChatSession.form_name))


def _v12_teams(migrator) -> None:
    # In place, as v11 does: migrator.add_column rebuilds the table for a NOT NULL column, and dropping the old team
    # table would cascade to its members (and null the team of every interaction and chat widget).
    _add_in_place(Team.announce_wait_time, False)
    _add_in_place(Team.announce_seconds, 30)
    _add_in_place(Team.max_wait_seconds, 300)  # what the flows' queue steps waited by default
    _add_in_place(Team.ring_out, "unavailable")
    _add_nullable(migrator, Team.wrap_up_seconds)
    _add_in_place(Team.has_music, False)
    # Every member at 0: the order stays the one they joined in (then by id) until an admin orders them.
    _add_in_place(TeamMember.position, 0)


def _add_in_place(field: Field, default: bool | int | str) -> bool:
    """Add a NOT NULL column with a default by the engine's own ALTER TABLE, unless its table has it (a test brings a
    new database back to an older version number). Not migrator.add_column: for a NOT NULL column it rebuilds the
    table on SQLite, and dropping the old table cascades to every row that references it. The column's type is the
    field's on the engine (SQLite's INTEGER for a boolean, PostgreSQL's BOOLEAN). Returns whether it was added."""
    table = field.model._meta.table_name
    if field.column_name in {c.name for c in database.get_columns(table)}:
        return False
    context = database.obj.get_sql_context()
    kind = context.sql(field.ddl_datatype(context)).query()[0]
    if is_postgresql() and field.field_type in ("VARCHAR", "TEXT"):
        kind = POSTGRESQL_TEXT  # as a new database's (db.SerialisedPostgresqlDatabase.as_sqlite_text)
    database.execute_sql(
        f'ALTER TABLE "{table}" ADD COLUMN "{field.column_name}" {kind} NOT NULL DEFAULT {_literal(default)}'
    )
    return True


def _literal(value: bool | int | str) -> str:
    """A default as SQL: booleans as the engine writes them (SQLite has 1 and 0)."""
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE") if is_postgresql() else str(int(value))
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def _add_nullable(migrator, *fields: Field) -> None:
    """Add each nullable column (and its index) its table lacks, through peewee's migrator."""
    from playhouse.migrate import migrate as run

    for field in fields:
        table = field.model._meta.table_name
        if field.column_name not in {c.name for c in database.get_columns(table)}:
            run(migrator.add_column(table, field.column_name, field))
            if is_postgresql():
                database.obj.as_sqlite_text(field.model, field)


def _v11_admin_console(migrator) -> None:
    if _add_in_place(Company.time_zone, "UTC"):
        Company.update(time_zone=server_time_zone()).execute()
    database.create_tables([AuditEntry, PasswordLink])


def _v13_trunks_numbers(migrator) -> None:
    # In place: peewee's add_column makes a NOT NULL column by rebuilding the table, and dropping the old ``trunk``
    # breaks its tracking numbers' foreign keys.
    _add_in_place(Trunk.auth, "ip")
    _add_in_place(Trunk.username, "")
    _add_in_place(Trunk.password, "")
    _add_in_place(Trunk.transport, "udp")
    _add_in_place(Trunk.codecs, "ulaw,alaw")
    _add_in_place(Trunk.qualify_seconds, 0)
    _add_in_place(TrackingNumber.texting, True)


def _v14_flow_versions(migrator) -> None:
    _add_in_place(CallFlow.version, 1)
    database.create_tables([FlowVersion])
    # Each flow's present steps are its first version.
    for flow in CallFlow.select():
        FlowVersion.get_or_create(
            flow=flow,
            version=flow.version,
            defaults=dict(
                name=flow.name,
                steps_json=flow.steps_json,
                record=flow.record,
                announce_recording=flow.announce_recording,
                created_at=flow.created_at,
            ),
        )


def _v15_dialplans(migrator) -> None:
    _add_in_place(User.owner, False)
    database.create_tables([CustomContext, DialplanVersion])


def _v16_kpis(migrator) -> None:
    from playhouse.migrate import migrate as run

    _add_nullable(migrator, Interaction.hold_seconds, Interaction.queue_team)
    _add_in_place(Team.service_level_seconds, 20)
    if "interaction_company_id_kind_started_at" not in {i.name for i in database.get_indexes("interaction")}:
        run(migrator.add_index("interaction", ("company_id", "kind", "started_at"), False))
    if "interaction_transition_event_at" not in {i.name for i in database.get_indexes("interaction_transition")}:
        run(migrator.add_index("interaction_transition", ("event", "at"), False))
    database.create_tables([KpiDay, KpiSlice, KpiDayBuilt, KpiZone])
    create_triggers(database)


def _v17_monitors(migrator) -> None:
    _add_in_place(Company.monitor_roles, "supervisor")
    _add_in_place(Company.monitor_notice, True)
    database.create_tables([Monitor])


def _v18_weekly_summary(migrator) -> None:
    database.create_tables([WeeklySummary])


def _v19_call_legs(migrator) -> None:
    _add_in_place(Team.transfer_keeps_place, True)
    database.create_tables([CallLeg, CallTransfer])


def _v20_agent_voicemail(migrator) -> None:
    _add_nullable(migrator, Interaction.mailbox_agent, Interaction.handled_at)
    _add_in_place(Agent.email_voicemail, False)
    _add_in_place(OutboundEmail.attachments, "[]")


def _v21_callbacks(migrator) -> None:
    _add_in_place(Team.callback_enabled, False)
    _add_in_place(Team.callback_attempts, 3)
    _add_in_place(Team.callback_retry_seconds, 300)
    _add_nullable(migrator, Interaction.callback_of)
    database.create_tables([Callback])


def _v22_transfer_parties(migrator) -> None:
    _add_in_place(CallTransfer.channel_id, "")
    _add_in_place(CallTransfer.failure, "")


def _v23_interaction_lists(migrator) -> None:
    from playhouse.migrate import migrate as run

    present = {i.name for i in database.get_indexes("interaction")}
    if MAILBOX_INDEX not in present:
        columns = ("company_id", "mailbox_agent_id", "status_changed_at")
        run(migrator.add_index("interaction", columns, False, where=SQL('"mailbox_agent_id" IS NOT NULL')))
    if "interaction_company_id_status_kind_started_at" not in present:
        run(migrator.add_index("interaction", ("company_id", "status", "kind", "started_at"), False))


def _v24_cluster_tables(migrator) -> None:
    _cluster_tables()


def _v25_call_nodes(migrator) -> None:
    _add_in_place(Interaction.node, "")


def _v26_asterisk_generations(migrator) -> None:
    database.create_tables([generations.AsteriskFiles, generations.AsteriskNodeFiles])


def _cluster_tables() -> None:
    """The tables through which several nodes share events, verbs and limits (cluster.py). Several nodes need
    PostgreSQL, so on SQLite (one node: the same things in the process's memory) there are none. Before version 24
    the first node made them as it started: IF NOT EXISTS leaves those as they are."""
    if is_postgresql():
        cluster.create_tables(database.obj)


# (version, description, function(migrator)) in order; version 1 is the first released schema.
MIGRATIONS: list = [
    (
        2,
        (
            "API keys, revocable sessions, agent availability history, lead search and merge, messages, "
            "classification with tags and its history"
        ),
        _v2_accounts_leads_classification,
    ),
    (3, "texts: threads, the SMS outbox, inbound parts, opt-outs; message delivery timestamps; HELP reply", _v3_texts),
    (4, "texts: the Active conversations' idle timer", _v4_text_idle_timer),
    (5, "invitations: an account joins another company only when its owner accepts", _v5_invitations),
    (6, "texts: every move of a message's delivery", _v6_message_transitions),
    (7, "website chat: the company's chat widget, its visitors, each chat's visit", _v7_chats),
    (8, "email notifications: each agent's choices, the email outbox", _v8_email_notifications),
    (9, "website visits: sessions and their pages, number pools, source numbers, attribution columns", _v9_visits),
    (10, "website forms: the name of the site's form a form interaction came from", _v10_site_forms),
    (11, "admin console: the audit log, one-time password links, each company's time zone", _v11_admin_console),
    (
        12,
        "teams: maximum wait, ring-out and wrap-up choices, wait-time announcements, hold music, the members' order",
        _v12_teams,
    ),
    (13, "trunks: registration, transport, codecs, qualify; tracking numbers: texting", _v13_trunks_numbers),
    (
        14,
        "call flows: a version per save, kept and restorable; the flow's version for concurrent edits",
        _v14_flow_versions,
    ),
    (15, "dialplans: the installation owner, custom dialplan contexts and their versions", _v15_dialplans),
    (
        16,
        "KPIs: each call's hold time and the team whose queue it entered, each team's service level, the daily rollup",
        _v16_kpis,
    ),
    (17, "monitors: supervisors listening to calls; who may, and whether agents are told", _v17_monitors),
    (18, "reports: each company's weekly summary email, its recipients and the last week sent", _v18_weekly_summary),
    (19, "calls: each party's leg of a call, the transfers between people, a team's place-keeping", _v19_call_legs),
    (
        20,
        "agents' own voicemail: the mailbox a message is in and when it was handled, email with the recording",
        _v20_agent_voicemail,
    ),
    (21, "queue callback: each team's settings, the callbacks, a callback's call's original call", _v21_callbacks),
    (
        22,
        "transfers: the channel of a conference's or consult's party, and why it did not answer",
        _v22_transfer_parties,
    ),
    (
        23,
        "indexes: an agent's own mailbox in their inbox; the interactions of a status and a kind",
        _v23_interaction_lists,
    ),
    (
        24,
        "several nodes: the cluster's tables (events, verbs, sign-in failures, rates, websockets), PostgreSQL only",
        _v24_cluster_tables,
    ),
    (25, "several Asterisk nodes: the node each call is on", _v25_call_nodes),
    (
        26,
        "several Asterisk nodes: the generation of Asterisk's files, and the one each node applied",
        _v26_asterisk_generations,
    ),
]
LATEST = max([1] + [version for version, _, _ in MIGRATIONS])


class SchemaVersion(BaseModel):
    version = IntegerField()


def current_version() -> int | None:
    if not database.table_exists("schema_version"):
        return None
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else None


def migrate() -> int:
    """Bring the bound database to LATEST; returns the number of steps applied."""
    from playhouse.migrate import SchemaMigrator

    version = current_version()
    with database.atomic():
        if version is None:
            database.create_tables([SchemaVersion, *MODELS])
            create_triggers(database)
            _cluster_tables()
            SchemaVersion.create(version=LATEST)
            log.info("database created at schema version %s", LATEST)
            return 1
        steps = [(v, what, fn) for v, what, fn in MIGRATIONS if v > version]
        migrator = SchemaMigrator.from_database(database.obj)
        for v, what, fn in steps:
            log.info("migrating to schema version %s: %s", v, what)
            fn(migrator)
            SchemaVersion.create(version=v)
    return len(steps)
