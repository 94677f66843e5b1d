"""An upgrade keeps existing data: a database at schema version 1 (the foundation release, with the demo
company and a call) is migrated to the current version."""

import sqlite3
from pathlib import Path

from leadcenter import db, migrations
from leadcenter.accounts.models import Company, server_time_zone
from leadcenter.interactions.models import Interaction
from leadcenter.leads.models import Lead, LeadSearchTerm
from leadcenter.leads.services import search
from leadcenter.reports.models import create_triggers
from leadcenter.teams.models import Team

V1 = Path(__file__).parent / "fixtures" / "schema_v1_demo.sql"


def v1_database(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.executescript(V1.read_text())
    connection.executescript("""
        INSERT INTO lead (id, created_at, company_id, name, email, updated_at)
            VALUES (1, '2026-11-20 10:00:00', 1, 'Lee Caller', '', '2026-11-20 10:00:00');
        INSERT INTO lead_phone (id, lead_id, company_id, number) VALUES (1, 1, 1, '+14045551234');
        INSERT INTO interaction (id, created_at, company_id, lead_id, kind, direction, status, outcome,
            status_changed_at, started_at, answered_at, ended_at, talk_seconds, tracking_number_id, agent_id,
            team_id, lead_number, channel_id, recording, source, campaign, landing_page, referrer, keywords)
            VALUES (1, '2026-11-20 10:00:00', 1, 1, 'call', 'inbound', 'recent', 'answered',
            '2026-11-20 10:01:00', '2026-11-20 10:00:00', '2026-11-20 10:00:05', '2026-11-20 10:01:00', 55,
            1, 1, 1, '+14045551234', '1795737826.0', 'asterisk/spool/monitor/1795737826.0.wav', 'Google Ads',
            '', '', '', '');
    """)
    connection.commit()
    connection.close()


def test_version_1_database_is_migrated_with_its_data(tmp_path):
    path = tmp_path / "old.sqlite3"
    v1_database(path)
    database = db.open_sqlite(str(path))
    db.bind(database)
    assert migrations.current_version() == 1
    assert migrations.migrate() == len([m for m in migrations.MIGRATIONS if m[0] > 1])
    assert migrations.current_version() == migrations.LATEST
    call = Interaction.get_by_id(1)
    assert (call.outcome, call.talk_seconds, call.recording) == (
        "answered",
        55,
        "asterisk/spool/monitor/1795737826.0.wav",
    )
    assert (call.qualified, call.value_cents, call.notes) == (None, None, "")
    # Existing leads were indexed by the migration: findable by name and number at once.
    assert [lead.id for lead in search(call.company, "lee")] == [1]
    assert [lead.id for lead in search(call.company, "555-1234")] == [1]
    assert LeadSearchTerm.select().where(LeadSearchTerm.lead == 1).count() > 0
    assert Lead.get_by_id(1).merged_into is None
    # Migrating again does nothing.
    assert migrations.migrate() == 0
    database.close()


def test_a_new_database_is_created_at_the_latest_version(tmp_path):
    database = db.open_sqlite(str(tmp_path / "new.sqlite3"))
    db.bind(database)
    assert migrations.current_version() is None
    migrations.migrate()
    assert migrations.current_version() == migrations.LATEST
    columns = {c.name for c in database.get_columns("interaction")}
    assert {"qualified", "value_cents", "notes", "voicemail"} <= columns
    assert not [t for t in database.get_tables() if t.startswith("cluster_")]  # several nodes need PostgreSQL
    database.close()


def _shape(database) -> dict:
    """Each table's columns and indexed column lists: what the models expect of the schema."""
    return {
        table: (
            {c.name for c in database.get_columns(table)},
            sorted((tuple(i.columns), i.unique) for i in database.get_indexes(table)),
        )
        for table in database.get_tables()
    }


def _migrated(path: Path):
    """The database at ``path``, bound and brought to the latest schema."""
    database = db.open_sqlite(str(path))
    db.bind(database)
    migrations.migrate()
    return database


def _shape_of_a_new_database(tmp_path) -> dict:
    new = _migrated(tmp_path / "new.sqlite3")
    shape = _shape(new)
    new.close()
    return shape


def test_a_migrated_database_has_the_same_shape_as_a_new_one(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    v1_database(tmp_path / "old.sqlite3")
    old = _migrated(tmp_path / "old.sqlite3")
    assert _shape(old) == expected
    old.close()


def test_a_version_3_database_gets_the_text_idle_timer_and_keeps_its_threads(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    # A version 3 database: text_thread as it was, with a thread in it.
    old = _migrated(tmp_path / "v3.sqlite3")
    index = next(i.name for i in old.get_indexes("text_thread") if i.columns == ["idle_until"])
    old.execute_sql(f'DROP INDEX "{index}"')
    old.execute_sql('ALTER TABLE "text_thread" DROP COLUMN "idle_until"')
    old.execute_sql("UPDATE schema_version SET version = 3")
    old.execute_sql("PRAGMA foreign_keys = OFF")  # the thread's company, lead... do not matter here
    old.execute_sql(
        "INSERT INTO text_thread (id, created_at, company_id, lead_id, tracking_number_id, interaction_id,"
        " waiting_until) VALUES (7, '2026-11-26 10:00:00', 1, 1, 1, 1, '2026-11-26 22:00:00')"
    )
    assert migrations.migrate() == len([m for m in migrations.MIGRATIONS if m[0] > 3])
    assert migrations.current_version() == migrations.LATEST
    assert _shape(old) == expected
    assert old.execute_sql("SELECT waiting_until, idle_until FROM text_thread WHERE id = 7").fetchone() == (
        "2026-11-26 22:00:00",
        None,
    )
    old.close()


def _steps_after(version: int) -> int:
    return len([m for m in migrations.MIGRATIONS if m[0] > version])


def _assert_migrated_from(version: int, old, expected) -> None:
    """``old``, at ``version``, takes every later step and ends with a new database's shape."""
    assert migrations.migrate() == _steps_after(version) and migrations.current_version() == migrations.LATEST
    assert _shape(old) == expected


def test_a_version_24_database_gets_each_call_s_node_and_keeps_its_calls(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v24.sqlite3")
    old.execute_sql("PRAGMA foreign_keys = OFF")  # the call's company and lead do not matter here
    old.execute_sql('ALTER TABLE "interaction" DROP COLUMN "node"')
    old.execute_sql(
        "INSERT INTO interaction (id, created_at, company_id, lead_id, kind, direction, status, status_changed_at,"
        " started_at, lead_number, notes, source, campaign, landing_page, referrer, keywords, medium, click_id,"
        " channel_id) VALUES (5, '2026-11-26 10:00:00', 1, 1, 'call', 'inbound', 'active', '2026-11-26 10:01:00',"
        " '2026-11-26 10:00:00', '+14045551234', '', '', '', '', '', '', '', '', '1700000000.5')"
    )
    old.execute_sql("PRAGMA foreign_keys = ON")
    old.execute_sql("UPDATE schema_version SET version = 24")
    _assert_migrated_from(24, old, expected)
    # The one Asterisk's: every call before several nodes were driven.
    assert old.execute_sql("SELECT channel_id, node FROM interaction WHERE id = 5").fetchone() == ("1700000000.5", "")
    old.close()


def test_a_version_22_database_gets_the_interaction_lists_indexes(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v22.sqlite3")
    old.execute_sql('DROP INDEX "interaction_company_id_mailbox_agent_id_status_changed_at"')
    old.execute_sql('DROP INDEX "interaction_company_id_status_kind_started_at"')
    old.execute_sql("UPDATE schema_version SET version = 22")
    _assert_migrated_from(22, old, expected)
    old.close()


def _back_to_version_21(database) -> None:
    """Undo what version 22 adds: a conference or consult party's channel on its transfer, and why it failed."""
    for column in ("channel_id", "failure"):
        database.execute_sql(f'ALTER TABLE "call_transfer" DROP COLUMN "{column}"')
    database.execute_sql("UPDATE schema_version SET version = 21")


def test_a_version_21_database_gets_the_transfer_party_columns_and_keeps_its_transfers(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v21.sqlite3")
    _back_to_version_21(old)
    old.execute_sql("PRAGMA foreign_keys = OFF")  # the transfer's call does not matter here
    old.execute_sql(
        "INSERT INTO call_transfer (id, interaction_id, kind, to_number, at, outcome)"
        " VALUES (5, 1, 'conference', '+14045559403', '2026-11-26 10:00:00', 'completed')"
    )
    _assert_migrated_from(21, old, expected)
    assert old.execute_sql("SELECT kind, outcome, channel_id, failure FROM call_transfer WHERE id = 5").fetchone() == (
        "conference",
        "completed",
        "",
        "",
    )
    old.close()


def _back_to_version_19(database) -> None:
    """Undo what versions 21 and 20 add: the callbacks, the teams' callback settings, a call's original call; the
    agents' own voicemail (the mailbox column, handled, the email choice and the emails' attachments)."""
    database.execute_sql('DROP TABLE "callback"')
    for column in ("callback_enabled", "callback_attempts", "callback_retry_seconds"):
        database.execute_sql(f'ALTER TABLE "team" DROP COLUMN "{column}"')
    from playhouse.migrate import SqliteMigrator
    from playhouse.migrate import migrate as run

    # Rebuilds the table: SQLite cannot drop a column a foreign key names (the KPIs' triggers, which name the table,
    # are made again after it).
    for (trigger,) in database.execute_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        database.execute_sql(f'DROP TRIGGER "{trigger}"')
    for column in ("callback_of_id", "mailbox_agent_id"):
        run(SqliteMigrator(database).drop_column("interaction", column, legacy=True))
    create_triggers(database)
    for table, column in (
        ("interaction", "handled_at"),
        ("agent", "email_voicemail"),
        ("email_outbox", "attachments"),
        ("interaction", "node"),
    ):
        database.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    database.execute_sql("UPDATE schema_version SET version = 19")


def test_a_version_19_database_gets_the_callbacks_and_keeps_its_teams(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v19.sqlite3")
    _back_to_version_19(old)
    teams = old.execute_sql("SELECT id, name FROM team ORDER BY id").fetchall()
    _assert_migrated_from(19, old, expected)
    assert old.execute_sql("SELECT id, name, callback_enabled, callback_attempts FROM team ORDER BY id").fetchall() == [
        (*team, 0, 3) for team in teams
    ]
    old.close()


def _back_to_version_18(database) -> None:
    """Undo what versions 21, 20 and 19 add: (21 and 20 as above) call legs and transfers, a team's place-keeping on
    transfer."""
    _back_to_version_19(database)
    for table in ("call_leg", "call_transfer"):
        database.execute_sql(f'DROP TABLE "{table}"')
    database.execute_sql('ALTER TABLE "team" DROP COLUMN "transfer_keeps_place"')
    database.execute_sql("UPDATE schema_version SET version = 18")


def test_a_version_18_database_gets_the_call_legs_and_keeps_its_teams(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v18.sqlite3")
    Team.create(id=7, company=Company.create(id=3, name="Acme"), name="Sales")
    _back_to_version_18(old)
    old.execute_sql("PRAGMA foreign_keys = ON")  # as the app runs: dropping a table would cascade
    _assert_migrated_from(18, old, expected)
    # A team keeps a transferred call's place by arrival unless its admin says otherwise.
    assert old.execute_sql("SELECT company_id, transfer_keeps_place FROM team WHERE id = 7").fetchone() == (3, 1)
    old.close()


def test_a_version_19_database_gets_the_agents_voicemail_columns(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v19.sqlite3")
    _back_to_version_19(old)
    _assert_migrated_from(19, old, expected)
    old.close()


def _back_to_version_17(database) -> None:
    """Undo what versions 21, 20, 19 and 18 add: the callbacks, the agents' own voicemail, the call legs, the weekly
    summary emails."""
    _back_to_version_18(database)
    database.execute_sql('DROP TABLE "weekly_summary"')
    database.execute_sql("UPDATE schema_version SET version = 17")


def test_a_version_17_database_gets_the_weekly_summary_table(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v17.sqlite3")
    _back_to_version_17(old)
    _assert_migrated_from(17, old, expected)
    old.close()


def _insert_as_it_was(database, row) -> None:
    """Insert a model's row into an older table: only the columns that table has (later versions add the rest)."""
    present = {c.name for c in database.get_columns(row._meta.table_name)}
    values = {
        f.column_name: f.db_value(row.__data__.get(f.name))
        for f in row._meta.sorted_fields
        if f.column_name in present and f.name in row.__data__
    }
    database.execute_sql(
        f'INSERT INTO "{row._meta.table_name}" ({", ".join(values)}) VALUES ({", ".join("?" * len(values))})',
        list(values.values()),
    )


def _back_to_version_16(database) -> None:
    """Undo what versions 18 and 17 add: the monitors, and the companies' monitoring settings."""
    _back_to_version_17(database)
    database.execute_sql('DROP TABLE "monitor"')
    for column in ("monitor_roles", "monitor_notice"):
        database.execute_sql(f'ALTER TABLE "company" DROP COLUMN "{column}"')
    database.execute_sql("UPDATE schema_version SET version = 16")


def test_a_version_16_database_gets_the_monitors_and_keeps_its_companies(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v16.sqlite3")
    _back_to_version_16(old)
    old.execute_sql(
        "INSERT INTO company (id, created_at, name, time_zone, default_region) VALUES (3, '2026-11-26"
        " 10:00:00', 'Acme', 'UTC', 'US')"
    )
    _insert_as_it_was(old, Team(id=7, company=3, name="Sales"))
    old.execute_sql("PRAGMA foreign_keys = ON")  # as the app runs: dropping a table would cascade
    _assert_migrated_from(16, old, expected)
    # Monitoring as a new company has it: supervisors and admins may, agents are told.
    assert old.execute_sql("SELECT monitor_roles, monitor_notice FROM company WHERE id = 3").fetchone() == (
        "supervisor",
        1,
    )
    assert old.execute_sql("SELECT company_id FROM team WHERE id = 7").fetchone() == (3,)  # nothing cascaded
    old.close()


def _back_to_version_15(database) -> None:
    """Undo what versions 16 to 18 add: (versions 17 and 18 as above) each call's hold time and queue team, each
    team's service level, the KPIs' index."""
    from playhouse.migrate import SqliteMigrator
    from playhouse.migrate import migrate as run

    _back_to_version_16(database)

    database.execute_sql('DROP INDEX "interaction_company_id_kind_started_at"')
    database.execute_sql('DROP INDEX "interaction_transition_event_at"')
    database.execute_sql('DROP TABLE "kpi_day"')
    database.execute_sql('DROP TABLE "kpi_day_built"')
    database.execute_sql('DROP TABLE "kpi_slice"')
    database.execute_sql('DROP TABLE "kpi_zone"')
    for (trigger,) in database.execute_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        database.execute_sql(f'DROP TRIGGER "{trigger}"')
    migrator = SqliteMigrator(database)  # rebuilds the table: SQLite cannot drop a column a foreign key names
    run(migrator.drop_column("interaction", "queue_team_id", legacy=True))
    for table, column in (("interaction", "hold_seconds"), ("team", "service_level_seconds")):
        database.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    database.execute_sql("UPDATE schema_version SET version = 15")


def _back_to_version_12(database) -> None:
    """Undo what versions 15 and 13 add: the dialplans; the trunks' registration, transport, codecs and qualify, the
    numbers' texting."""
    _back_to_version_14(database)
    for table, columns in (
        ("trunk", ("auth", "username", "password", "transport", "codecs", "qualify_seconds")),
        ("tracking_number", ("texting",)),
    ):
        for column in columns:
            database.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    database.execute_sql("UPDATE schema_version SET version = 12")


def test_a_version_12_database_gets_the_trunk_and_texting_columns_and_keeps_its_trunks(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v12.sqlite3")
    _back_to_version_12(old)
    old.execute_sql("PRAGMA foreign_keys = OFF")  # the trunk's company does not matter here
    old.execute_sql(
        "INSERT INTO trunk (id, created_at, company_id, name, host, port) VALUES (2, '2026-11-26 10:00:00', 1,"
        " 'Carrier', '203.0.113.5', 5060)"
    )
    assert migrations.migrate() == _steps_after(12)
    assert migrations.current_version() == migrations.LATEST
    assert _shape(old) == expected
    # A trunk of before is what it was: recognised by its address, over UDP, G.711, not qualified.
    assert old.execute_sql(
        "SELECT auth, username, password, transport, codecs, qualify_seconds FROM trunk WHERE id = 2"
    ).fetchone() == ("ip", "", "", "udp", "ulaw,alaw", 0)
    old.close()


TEAM_COLUMNS_V12 = (
    "announce_wait_time",
    "announce_seconds",
    "max_wait_seconds",
    "ring_out",
    "wrap_up_seconds",
    "has_music",
)


def _back_to_version_11(database) -> None:
    """Undo what versions 15 to 12 add: the dialplans, the trunks' columns; the teams' settings and the members'
    order."""
    _back_to_version_12(database)
    for column in TEAM_COLUMNS_V12:
        database.execute_sql(f'ALTER TABLE "team" DROP COLUMN "{column}"')
    database.execute_sql('ALTER TABLE "team_member" DROP COLUMN "position"')
    database.execute_sql("UPDATE schema_version SET version = 11")


def test_a_version_11_database_gets_the_teams_settings_and_keeps_its_teams_and_members(tmp_path):
    """The columns are added in place: a rebuilt team table would take its members with it (ON DELETE CASCADE)."""
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v11.sqlite3")
    _back_to_version_11(old)
    old.execute_sql(
        "INSERT INTO company (id, created_at, name, default_region, time_zone)"
        " VALUES (5, '2026-11-26', 'Acme', 'US', 'UTC')"
    )
    old.execute_sql(
        "INSERT INTO user (id, created_at, email, name, password_hash, active) VALUES (6, '2026-11-26', 'a@b.c', 'A',"
        " 'x', 1)"
    )
    old.execute_sql(
        "INSERT INTO agent (id, created_at, company_id, user_id, display_name, chat_display_name, status,"
        " status_reason, status_changed_at, ring_device, email_new_chats, email_missed_chats) VALUES (7,"
        " '2026-11-26', 5, 6, 'Ann', 'Ann', 'available', '', '2026-11-26', 'webrtc', 0, 1)"
    )
    old.execute_sql(
        "INSERT INTO team (id, created_at, company_id, name, strategy, ring_seconds, announce_position)"
        " VALUES (3, '2026-11-26 10:00:00', 5, 'Sales', 'linear', 20, 1)"
    )
    old.execute_sql("INSERT INTO team_member (id, team_id, agent_id, penalty) VALUES (5, 3, 7, 2)")
    assert old.execute_sql("PRAGMA foreign_keys").fetchone() == (1,)
    _assert_migrated_from(11, old, expected)
    # A team of before keeps what it had and behaves as it did: 5 minutes' wait (the flows' old default), missed
    # calls make an agent Unavailable, wrap-up until Rejoin, the standard music.
    assert old.execute_sql(
        "SELECT strategy, ring_seconds, announce_position, announce_wait_time, announce_seconds, max_wait_seconds,"
        " ring_out, wrap_up_seconds, has_music FROM team WHERE id = 3"
    ).fetchone() == ("linear", 20, 1, 0, 30, 300, "unavailable", None, 0)
    assert old.execute_sql("SELECT penalty, position FROM team_member WHERE id = 5").fetchone() == (2, 0)
    old.close()


def _back_to_version_14(database) -> None:
    """Undo what versions 16 and 15 add: the KPIs' columns, rollup and triggers; the installation owner, the custom
    dialplan contexts and their versions."""
    _back_to_version_15(database)
    for table in ("dialplan_version", "custom_context"):
        database.execute_sql(f'DROP TABLE "{table}"')
    database.execute_sql('ALTER TABLE "user" DROP COLUMN "owner"')
    database.execute_sql("UPDATE schema_version SET version = 14")


def test_a_version_14_database_gets_the_owner_and_the_dialplan_tables_and_keeps_its_users(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v14.sqlite3")
    _back_to_version_14(old)
    old.execute_sql(
        "INSERT INTO user (id, created_at, email, name, password_hash, active)"
        " VALUES (5, '2026-11-26 10:00:00', 'ann@example.com', 'Ann', 'x', 1)"
    )
    old.execute_sql(
        "INSERT INTO company (id, created_at, name, default_region, time_zone)"
        " VALUES (4, '2026-11-26', 'Acme', 'US', 'UTC')"
    )
    old.execute_sql("INSERT INTO membership (user_id, company_id, role) VALUES (5, 4, 'admin')")
    _assert_migrated_from(14, old, expected)
    assert old.execute_sql("SELECT email, owner FROM user WHERE id = 5").fetchone() == ("ann@example.com", 0)
    assert old.execute_sql("SELECT role FROM membership WHERE user_id = 5").fetchone() == ("admin",)
    old.close()


def _back_to_version_10(database) -> None:
    """Undo what versions 15 to 11 add: the dialplans, the trunks' and numbers' columns, the teams' settings, the
    audit log, password links, the companies' time zone."""
    _back_to_version_11(database)
    database.execute_sql('DROP TABLE "audit_entry"')
    database.execute_sql('DROP TABLE "password_link"')
    database.execute_sql('ALTER TABLE "company" DROP COLUMN "time_zone"')
    database.execute_sql("UPDATE schema_version SET version = 10")


def test_a_version_10_database_gets_the_audit_log_links_and_time_zones_and_keeps_what_its_companies_have(tmp_path):
    """Adding a column to company must not rebuild the table: dropping the old one would cascade to every row
    that references a company (peewee's add_column does so for a NOT NULL column)."""
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v10.sqlite3")
    _back_to_version_10(old)
    old.execute_sql("INSERT INTO company (id, created_at, name, default_region) VALUES (5, '2026-11-26', 'Acme', 'US')")
    old.execute_sql(
        "INSERT INTO user (id, created_at, email, name, password_hash, active) VALUES (6, '2026-11-26', 'a@b.c', 'A',"
        " 'x', 1)"
    )
    old.execute_sql("INSERT INTO membership (user_id, company_id, role) VALUES (6, 5, 'admin')")
    _assert_migrated_from(10, old, expected)
    assert old.execute_sql("SELECT name, time_zone FROM company WHERE id = 5").fetchone() == (
        "Acme",
        server_time_zone(),
    )
    assert old.execute_sql("SELECT role FROM membership WHERE user_id = 6 AND company_id = 5").fetchone() == ("admin",)
    old.close()


def _back_to_version_9(database) -> None:
    """Undo what versions 16 to 10 add: the KPIs, the dialplans, the trunks' and numbers' columns, the teams'
    settings, the audit log, time zones, a form's site form name."""
    _back_to_version_10(database)
    database.execute_sql('ALTER TABLE "chat_session" DROP COLUMN "form_name"')
    database.execute_sql("UPDATE schema_version SET version = 9")


def _back_to_version_8(database) -> None:
    """Undo what versions 12 to 9 add: the site form's name, the visit tables and the attribution columns."""
    _back_to_version_9(database)
    for table in ("page_view", "visit_session", "number_pool", "visit_settings"):
        database.execute_sql(f'DROP TABLE "{table}"')
    for table, column in (
        ("interaction", "medium"),
        ("interaction", "click_id"),
        ("tracking_number", "swap_source"),
        ("tracking_number", "swap_rule"),
    ):
        database.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    index = next(i.name for i in database.get_indexes("tracking_number") if i.columns == ["pool_id"])
    database.execute_sql(f'DROP INDEX "{index}"')
    database.execute_sql('ALTER TABLE "tracking_number" DROP COLUMN "pool_id"')
    database.execute_sql("UPDATE schema_version SET version = 8")


def _back_to_version_7(database) -> None:
    """Undo what versions 9 and 8 add: the visits, the agents' email choices and the email outbox."""
    _back_to_version_8(database)
    database.execute_sql('DROP TABLE "email_outbox"')
    for column in ("email_new_chats", "email_missed_chats"):
        database.execute_sql(f'ALTER TABLE "agent" DROP COLUMN "{column}"')
    database.execute_sql("UPDATE schema_version SET version = 7")


def test_a_version_6_database_gets_the_chat_tables(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v6.sqlite3")
    _back_to_version_7(old)
    for table in ("chat_session", "visitor", "chat_widget"):
        old.execute_sql(f'DROP TABLE "{table}"')
    old.execute_sql("UPDATE schema_version SET version = 6")
    _assert_migrated_from(6, old, expected)
    old.close()


def test_a_version_8_database_gets_the_visit_tables_and_attribution_columns(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v8.sqlite3")
    _back_to_version_8(old)
    _assert_migrated_from(8, old, expected)
    old.close()


def test_a_version_9_database_gets_the_site_forms_name_and_keeps_its_chats(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v9.sqlite3")
    _back_to_version_9(old)
    old.execute_sql("PRAGMA foreign_keys = OFF")  # the session's interaction and visitor do not matter here
    old.execute_sql(
        "INSERT INTO chat_session (id, interaction_id, visitor_id, page_url, page_title, referrer, ended_by)"
        " VALUES (3, 1, 1, 'https://shop.example/', 'Shop', '', '')"
    )
    _assert_migrated_from(9, old, expected)
    assert old.execute_sql("SELECT page_url, form_name FROM chat_session WHERE id = 3").fetchone() == (
        "https://shop.example/",
        "",
    )
    old.close()


def test_a_version_7_database_gets_the_email_choices_and_outbox_and_keeps_its_agents(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v7.sqlite3")
    _back_to_version_7(old)
    old.execute_sql("PRAGMA foreign_keys = OFF")  # the agent's company and user do not matter here
    old.execute_sql(
        "INSERT INTO agent (id, created_at, company_id, user_id, display_name, chat_display_name, status,"
        " status_reason, status_changed_at, ring_device) VALUES (4, '2026-11-26 10:00:00', 1, 1, 'Ann', 'Ann',"
        " 'available', '', '2026-11-26 10:00:00', 'webrtc')"
    )
    _assert_migrated_from(7, old, expected)
    # An agent of before gets the defaults: missed chats by email, new ones not.
    assert old.execute_sql("SELECT email_new_chats, email_missed_chats FROM agent WHERE id = 4").fetchone() == (0, 1)
    old.close()


def test_a_version_15_database_gets_the_kpis_columns_and_keeps_its_calls_and_teams(tmp_path):
    expected = _shape_of_a_new_database(tmp_path)
    old = _migrated(tmp_path / "v15.sqlite3")
    old.execute_sql("PRAGMA foreign_keys = OFF")  # the rows' company, agent and lead do not matter here
    Team.create(id=7, company=1, name="Sales", service_level_seconds=45)  # the column goes with version 16
    _back_to_version_15(old)
    old.execute_sql("INSERT INTO team_member (id, team_id, agent_id, penalty, position) VALUES (8, 7, 1, 0, 0)")
    old.execute_sql(
        "INSERT INTO interaction (id, created_at, company_id, lead_id, kind, direction, status, status_changed_at,"
        " started_at, lead_number, notes, source, campaign, landing_page, referrer, keywords, medium, click_id)"
        " VALUES (5, '2026-11-26 10:00:00', 1, 1, 'call', 'inbound', 'recent', '2026-11-26 10:01:00',"
        " '2026-11-26 10:00:00', '+14045551234', '', '', '', '', '', '', '', '')"
    )
    old.execute_sql("PRAGMA foreign_keys = ON")  # as the app runs: dropping a table would cascade
    _assert_migrated_from(15, old, expected)
    assert old.execute_sql("SELECT service_level_seconds FROM team WHERE id = 7").fetchone() == (20,)
    # Added in place: a rebuilt team table would have cascaded to its members.
    assert old.execute_sql("SELECT team_id FROM team_member WHERE id = 8").fetchone() == (7,)
    assert old.execute_sql("SELECT hold_seconds, queue_team_id FROM interaction WHERE id = 5").fetchone() == (
        None,
        None,
    )
    old.close()


# -- PostgreSQL: a new database, and the latest steps, on the tests' real server -------------------------------------

_pg_names = iter(range(1_000_000))


def _new_postgresql(cluster):
    database = db.open_postgresql(cluster.create_database(f"migrations_{next(_pg_names)}"))
    db.bind(database)
    migrations.migrate()
    return database


def test_on_postgresql_a_database_at_version_19_takes_the_latest_steps_and_ends_as_a_new_one(postgresql_cluster):
    """The steps run on both engines: columns of the engine's types (a boolean is BOOLEAN), their defaults, the
    foreign keys and their indexes."""
    new = _new_postgresql(postgresql_cluster)
    expected = _shape(new)
    assert migrations.migrate() == 0  # at the latest already
    new.close()
    old = _new_postgresql(postgresql_cluster)
    Team.create(id=7, company=Company.create(id=3, name="Acme"), name="Sales")
    old.execute_sql('DROP TABLE "callback"')
    for table, column in (
        ("team", "callback_enabled"),
        ("team", "callback_attempts"),
        ("team", "callback_retry_seconds"),
        ("interaction", "callback_of_id"),
        ("interaction", "mailbox_agent_id"),
        ("interaction", "handled_at"),
        ("agent", "email_voicemail"),
        ("email_outbox", "attachments"),
        ("interaction", "node"),
    ):
        old.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    old.execute_sql("UPDATE schema_version SET version = 19")
    _assert_migrated_from(19, old, expected)
    assert old.execute_sql("SELECT callback_enabled, callback_attempts FROM team WHERE id = 7").fetchone() == (False, 3)
    assert Team.select().where(Team.callback_enabled == False).count() == 1  # noqa: E712 (SQL)
    old.close()


def test_on_postgresql_a_version_23_database_gets_the_cluster_tables_or_keeps_those_its_first_node_made(
    postgresql_cluster,
):
    """Before version 24 the first node made the cluster's tables as it started; now the migrations do."""
    from leadcenter import cluster

    new = _new_postgresql(postgresql_cluster)
    expected = _shape(new)
    assert {
        "cluster_event",
        "cluster_verb",
        "cluster_sign_in_failure",
        "cluster_rate",
        "cluster_window",
        "cluster_websocket",
    } <= set(expected)
    new.close()
    without = _new_postgresql(postgresql_cluster)
    for table in [t for t in without.get_tables() if t.startswith("cluster_")]:
        without.execute_sql(f'DROP TABLE "{table}"')
    without.execute_sql("UPDATE schema_version SET version = 23")
    _assert_migrated_from(23, without, expected)
    without.close()
    made_at_start = _new_postgresql(postgresql_cluster)
    cluster.create_tables(made_at_start)  # as a node started, again: nothing changes
    made_at_start.execute_sql("INSERT INTO cluster_sign_in_failure (key, at) VALUES ('address:192.0.2.1', 1.5)")
    made_at_start.execute_sql("UPDATE schema_version SET version = 23")
    _assert_migrated_from(23, made_at_start, expected)
    assert made_at_start.execute_sql("SELECT key, at FROM cluster_sign_in_failure").fetchall() == [
        ("address:192.0.2.1", 1.5)
    ]
    made_at_start.close()
