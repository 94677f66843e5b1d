"""The agent app's hot queries on a big database (issue 3): inbox, timeline pages and lead search.

Seeds a SQLite file in a temporary directory with the current schema (``migrations.migrate``) and
- 3 companies (80% / 15% / 5% of the rows), 30 agents with users and memberships, a team and tracking numbers each;
- 100,000 leads with one US number each, ~70% named, ~40% with an email, and the search terms
  ``leads.services.search_terms`` gives them (what ``index_lead`` stores);
- 1,000,000 interactions over the last year, in time order: mostly calls and texts, mostly concluded ("recent")
  with a realistic outcome mix, the newest few hundred still incoming or active; every lead has at least one,
  and HEAVY_LEADS leads have 100 to 400 each.
The seed bulk-loads (synchronous=off, journal_mode=off, secondary indexes dropped and rebuilt afterwards from the
exact statements ``migrate`` created), then puts the file back in WAL mode.

Then it opens the file afresh with ``db.open_sqlite`` (the app's pragmas, a cold SQLite page cache, no model
objects from the seed) and times SAMPLES random calls of each service:
- ``interactions.services.inbox(company, agent)`` for a random agent;
- ``timeline(lead)``, half for heavy leads, half for any lead, and the second page through the cursor for leads
  with more than one page;
- ``leads.services.search(company, q)`` for 3-letter name prefixes, last 4 digits, full E.164 numbers and emails.
Goal: p99 under 10 ms each. The seed time and the database size are recorded too.

And the interactions report (``GET /interactions/report.csv``): the biggest company's last 30 days through
``interactions.services.report`` into CSV, as the endpoint writes it (to a sink that only counts bytes): rows per
second and the peak of Python memory allocated meanwhile (tracemalloc), which must not grow with the rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import os
import random
import tempfile
import time
from pathlib import Path

from bench.stats import summary

LEADS = 100_000
INTERACTIONS = 1_000_000
COMPANY_SHARES = (0.80, 0.15, 0.05)
AGENTS_PER_COMPANY = (20, 7, 3)
HEAVY_LEADS = 300
HEAVY_RANGE = (100, 400)
OPEN_INCOMING, OPEN_ACTIVE = 300, 600  # the newest interactions, still waiting or in progress
SAMPLES = 1000
GOAL_MS = 10.0
CHUNK = 10_000
SEED = 3

FIRST_NAMES = """james mary robert patricia john jennifer michael linda david elizabeth william barbara richard susan
joseph jessica thomas sarah charles karen christopher lisa daniel nancy matthew betty anthony margaret mark sandra
donald ashley steven kimberly paul emily andrew donna joshua michelle kenneth carol kevin amanda brian dorothy
george melissa timothy deborah ronald stephanie edward rebecca jason sharon jeffrey laura ryan cynthia jacob kathleen
gary amy nicholas angela eric shirley jonathan anna stephen brenda larry pamela justin emma scott nicole brandon
helen benjamin samantha samuel katherine gregory christine alexander debra frank rachel patrick carolyn raymond
janet jack catherine dennis maria jerry heather tyler diane aaron ruth jose julie adam olivia nathan joyce henry
virginia douglas victoria zachary kelly peter lauren kyle christina ethan joan walter evelyn noah judith jeremy
megan christian andrea keith cheryl roger hannah terry jacqueline gerald martha harold gloria sean teresa austin
ann carl sara arthur madison lawrence frances dylan kathryn jesse janice jordan jean bryan abigail billy alice joe
julia bruce judy gabriel sophia logan grace albert denise willie amber alan doris juan marilyn wayne danielle elijah
beverly randy isabella roy theresa vincent diana ralph natalie eugene brittany russell charlotte bobby marie mason
kayla philip alexis louis lori""".split()
LAST_NAMES = """smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez
wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis
robinson walker young allen king wright scott torres nguyen hill flores green adams nelson baker hall rivera
campbell mitchell carter roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris
morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward
richardson watson brooks chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo sanders patel
myers long ross foster jimenez powell jenkins perry russell sullivan bell coleman butler henderson barnes gonzales
fisher vasquez simmons romero jordan patterson alexander hamilton graham reynolds griffin wallace moreno west cole
hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford castro marshall owens harrison fernandez
mcdonald woods washington kennedy wells vargas henry chen freeman webb tucker guzman burns crawford olson simpson
porter hunter gordon mendez silva shaw snyder mason dixon munoz hunt hicks holmes palmer wagner black robertson
boyd rose stone salazar fox warren mills meyer rice schmidt garza daniels ferguson nichols stephens soto weaver
ryan gardner payne grant dunn kelley spencer hawkins arnold pierce vazquez hansen peters santos hart bradley
knight elliott cunningham duncan armstrong hudson carroll lane riley andrews alvarado ray delgado berry perkins
hoffman johnston matthews pena richards contreras willis carpenter lawrence sandoval""".split()
EMAIL_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "aol.com",
    "comcast.net",
    "example.com",
    "proton.me",
    "att.net",
)
AREA_CODES = (
    201,
    202,
    203,
    205,
    206,
    207,
    208,
    209,
    210,
    212,
    213,
    214,
    215,
    216,
    217,
    218,
    219,
    224,
    225,
    228,
    229,
    231,
    234,
    239,
    240,
    248,
    251,
    252,
    253,
    254,
    256,
    260,
    262,
    267,
    269,
    270,
    272,
    276,
    281,
    301,
    302,
    303,
    304,
    305,
    307,
    308,
    309,
    310,
    312,
    313,
    314,
    315,
    316,
    317,
    318,
    319,
    320,
    321,
    323,
    325,
    330,
    331,
    334,
    336,
    337,
    339,
    347,
    351,
    352,
    360,
    361,
    385,
    386,
    401,
    402,
    404,
    405,
    406,
    407,
    408,
    409,
    410,
    412,
    413,
    414,
    415,
    417,
    419,
    423,
    424,
    425,
    430,
    432,
    434,
    435,
    440,
    443,
    469,
    470,
    475,
    478,
    479,
    480,
    484,
    501,
    502,
    503,
    504,
    505,
    507,
    508,
    509,
    510,
    512,
    513,
    515,
    516,
    517,
    518,
    520,
    530,
    540,
    541,
    551,
    559,
    561,
    562,
    563,
    567,
    570,
    571,
    573,
    574,
    580,
    585,
    586,
    601,
    602,
    603,
    605,
    606,
    607,
    608,
    609,
    610,
    612,
    614,
    615,
    616,
    617,
    618,
    619,
    620,
    623,
    626,
    630,
    631,
    636,
    641,
    646,
    650,
    651,
    657,
    660,
    661,
    662,
    678,
    682,
    701,
    702,
    703,
    704,
    706,
    707,
    708,
    712,
    713,
    714,
    715,
    716,
    717,
    718,
    719,
    720,
    724,
    727,
    731,
    732,
    734,
    740,
    747,
    754,
    757,
    760,
    762,
    763,
    765,
    770,
    772,
    773,
    774,
    775,
    781,
    785,
    786,
    801,
    802,
    803,
    804,
    805,
    806,
    808,
    810,
    812,
    813,
    814,
    815,
    816,
    817,
    818,
    828,
    830,
    831,
    832,
    843,
    845,
    847,
    848,
    850,
    856,
    857,
    858,
    859,
    860,
    862,
    863,
    864,
    865,
    870,
    901,
    903,
    904,
    906,
    907,
    908,
    909,
    910,
    912,
    913,
    914,
    915,
    916,
    917,
    918,
    919,
    920,
    925,
    928,
    931,
    936,
    937,
    940,
    941,
    947,
    949,
    951,
    952,
    954,
    956,
    959,
    970,
    971,
    972,
    973,
    978,
    979,
    980,
    985,
    989,
)
SOURCES = ("Google Ads", "Organic search", "Facebook", "Direct", "Yelp", "Referral")
# kind -> weight; direction share inbound
KINDS = (
    ("call", 0.60, 0.75),
    ("text", 0.30, 0.70),
    ("chat", 0.04, 1.0),
    ("voicemail", 0.03, 1.0),
    ("form", 0.02, 1.0),
    ("visit", 0.01, 1.0),
)
NOTES = (
    "Wants a quote",
    "Call back tomorrow",
    "Existing customer",
    "Asked about pricing",
    "Wrong number",
    "Booked an appointment",
)
YEAR = 365 * 86400


def _stamp(epoch: dt.datetime, seconds: float) -> str:
    """A timestamp as the app stores it (sqlite3 adapts datetimes with isoformat(' '))."""
    return (epoch + dt.timedelta(seconds=seconds)).isoformat(" ")


def _bulk_sql(model, varied: tuple[str, ...]) -> tuple[str, tuple]:
    """INSERT for ``varied`` columns, followed by every other column of the model at its default; so a column
    added to the model later cannot be forgotten here."""
    fields = [f for f in model._meta.sorted_fields if f.column_name not in varied and not f.primary_key]
    known = {f.column_name for f in model._meta.sorted_fields}
    if unknown := set(varied) - known:
        raise RuntimeError(f"{model.__name__} has no column(s) {sorted(unknown)}")
    constant = tuple(f.db_value(f.default() if callable(f.default) else f.default) for f in fields)
    columns = list(varied) + [f.column_name for f in fields]
    sql = (
        f'INSERT INTO "{model._meta.table_name}" ({", ".join(chr(34) + c + chr(34) for c in columns)}) '
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    return sql, constant


def _insert(db, model, varied: tuple[str, ...], rows) -> int:
    """executemany in chunks of CHUNK rows, one transaction per chunk."""
    sql, constant = _bulk_sql(model, varied)
    cursor = db.cursor()
    count, chunk = 0, []
    for row in rows:
        chunk.append(row + constant)
        if len(chunk) >= CHUNK:
            with db.atomic():
                cursor.executemany(sql, chunk)
            count += len(chunk)
            chunk = []
    if chunk:
        with db.atomic():
            cursor.executemany(sql, chunk)
        count += len(chunk)
    return count


def _phone_numbers(rng: random.Random, count: int) -> list[str]:
    """Distinct plausible US numbers (NANP: exchange 200-999, not N11), E.164."""
    seen: set[str] = set()
    out = []
    for _ in range(count * 2):
        if len(out) == count:
            break
        exchange = rng.randint(200, 999)
        if exchange % 100 == 11:
            continue
        number = f"+1{rng.choice(AREA_CODES)}{exchange}{rng.randint(0, 9999):04d}"
        if number not in seen:
            seen.add(number)
            out.append(number)
    if len(out) < count:
        raise RuntimeError("could not draw enough distinct numbers")
    return out


def _seed_small(now: dt.datetime) -> dict:
    """Companies, users, agents, teams, trunks and tracking numbers, through the models (a few dozen rows)."""
    from leadcenter.accounts.models import Company, Membership, User
    from leadcenter.agents.models import Agent
    from leadcenter.flows.models import CallFlow
    from leadcenter.teams.models import Team, TeamMember
    from leadcenter.tracking_numbers.models import TrackingNumber
    from leadcenter.trunks.models import Trunk

    companies = []
    for index, agents_wanted in enumerate(AGENTS_PER_COMPANY):
        company = Company.create(
            name=f"Company {index + 1}", default_region="US", created_at=now - dt.timedelta(days=400)
        )
        trunk = Trunk.create(company=company, name="carrier", host=f"192.0.2.{index + 1}")
        team = Team.create(company=company, name="Sales")
        # Every number's calls queue to the team, so each agent's Incoming holds the company's waiting calls.
        flow = CallFlow.create(
            company=company, name="Main line", steps_json=f'[{{"type": "queue", "team": {team.id}, "timeout": 300}}]'
        )
        tracking = [
            TrackingNumber.create(
                company=company,
                number=f"+1800555{index:02d}{n:02d}",
                name=f"line {n}",
                source=SOURCES[n % len(SOURCES)],
                trunk=trunk,
                flow=flow,
            )
            for n in range(6)
        ]
        agents = []
        for n in range(agents_wanted):
            user = User.create(
                email=f"agent{index}-{n}@company{index}.example",
                name=f"Agent {index}-{n}",
                password_hash="scrypt:not-a-real-hash",
            )
            Membership.create(user=user, company=company, role="agent")
            agent = Agent.create(company=company, user=user, display_name=f"Agent {n + 1}", status_changed_at=now)
            TeamMember.create(team=team, agent=agent)
            agents.append(agent.id)
        companies.append(
            {"id": company.id, "team": team.id, "agents": agents, "tracking": [(t.id, t.source) for t in tracking]}
        )
    return {"companies": companies}


def _plan(rng: random.Random, now_s: float) -> tuple[list, list]:
    """Which lead each interaction belongs to and when it started (seconds since the epoch), in time order;
    and per lead (company index, first contact). Lead ids are given in order of first contact."""
    company_of = rng.choices(range(len(COMPANY_SHARES)), weights=COMPANY_SHARES, k=LEADS)
    counts = [1] * LEADS
    heavy = set(rng.sample(range(LEADS), HEAVY_LEADS))
    for lead in heavy:
        counts[lead] = rng.randint(*HEAVY_RANGE)
    rest = INTERACTIONS - sum(counts)
    ordinary = [lead for lead in range(LEADS) if lead not in heavy]
    weights = [rng.lognormvariate(0, 0.9) for _ in ordinary]
    for lead in rng.choices(ordinary, weights=weights, k=rest):
        counts[lead] += 1
    plan, first = [], []
    for lead in range(LEADS):
        if lead in heavy:  # a regular: since the first half of the year, all year long
            start = now_s - YEAR + rng.random() * YEAR / 2
            span = now_s - start
        else:  # most leads come back within weeks
            start = now_s - rng.random() * YEAR
            span = min(now_s - start, rng.expovariate(1 / (30 * 86400)) * (counts[lead] > 1))
        first.append(start)
        plan.append((start, lead))
        plan.extend((start + rng.random() * span, lead) for _ in range(counts[lead] - 1))
    plan.sort()
    order = sorted(range(LEADS), key=first.__getitem__)
    lead_id = [0] * LEADS
    for rank, lead in enumerate(order):
        lead_id[lead] = rank + 1
    leads = [(lead_id[lead], company_of[lead], first[lead], counts[lead]) for lead in order]
    return [(started, lead_id[lead]) for started, lead in plan], leads


def _lead_rows(rng, leads, numbers, companies, epoch, last_seen):
    from leadcenter.leads.models import Lead
    from leadcenter.leads.services import search_terms

    people, terms, phones = [], [], []
    for (lead_id, company, first, _), number in zip(leads, numbers, strict=True):
        name = email = ""
        if rng.random() < 0.7:
            given, family = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            name = f"{given.title()} {family.title()}"
            if rng.random() < 0.55:
                email = f"{given}.{family}{rng.randint(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"
        elif rng.random() < 0.1:
            email = f"user{lead_id}@{rng.choice(EMAIL_DOMAINS)}"
        company_id = companies[company]["id"]
        people.append((lead_id, _stamp(epoch, first), company_id, name, email, _stamp(epoch, last_seen[lead_id])))
        phones.append((lead_id, company_id, number))
        terms.extend(
            (company_id, lead_id, term) for term in sorted(search_terms(Lead(name=name, email=email), [number]))
        )
    return people, phones, terms


INTERACTION_COLUMNS = (
    "id",
    "created_at",
    "company_id",
    "lead_id",
    "kind",
    "direction",
    "status",
    "outcome",
    "status_changed_at",
    "started_at",
    "answered_at",
    "ended_at",
    "talk_seconds",
    "tracking_number_id",
    "agent_id",
    "team_id",
    "lead_number",
    "channel_id",
    "recording",
    "voicemail",
    "duration_seconds",
    "qualified",
    "value_cents",
    "notes",
    "source",
)


def _interaction_rows(rng, plan, lead_info, companies, epoch, now_s):
    """One tuple per planned interaction (INTERACTION_COLUMNS), generated lazily in id order."""
    kinds = [k for k, _, _ in KINDS]
    kind_weights = [w for _, w, _ in KINDS]
    inbound_share = {k: share for k, _, share in KINDS}
    agent_weights = {i: [rng.uniform(0.5, 1.5) for _ in c["agents"]] for i, c in enumerate(companies)}
    open_from = len(plan) - OPEN_INCOMING - OPEN_ACTIVE
    open_status = ["incoming"] * OPEN_INCOMING + ["active"] * OPEN_ACTIVE
    rng.shuffle(open_status)
    for index, (started, lead_id) in enumerate(plan):
        company_index, number = lead_info[lead_id]
        company = companies[company_index]
        kind = rng.choices(kinds, kind_weights)[0]
        inbound = rng.random() < inbound_share[kind]
        status = open_status[index - open_from] if index >= open_from else "recent"
        if status != "recent":
            started = min(started, now_s - 5)
            kind = "call" if kind not in ("call", "text", "chat") else kind
        agent = team = tracking = outcome = answered = ended = talk = None
        recording = voicemail = duration = qualified = value = channel = None
        notes, source = "", ""
        if inbound and kind in ("call", "text"):
            tracking, source = rng.choice(company["tracking"])
        elif inbound:
            source = rng.choice(SOURCES)
        r = rng.random()
        if status == "recent":
            if kind == "voicemail" or (kind == "call" and inbound and 0.88 <= r < 0.98):
                outcome = "voicemail"
            elif kind == "call" and inbound:
                outcome = "answered" if r < 0.70 else "missed" if r < 0.80 else "abandoned" if r < 0.88 else "timed_out"
            elif kind == "call":
                outcome = "answered" if r < 0.6 else "missed"
            elif kind == "chat":
                outcome = "answered" if r < 0.8 else "abandoned"
            elif kind == "text":
                outcome = "answered" if not inbound or r < 0.85 else "timed_out"
            else:
                outcome = "answered" if r < 0.5 else "timed_out"
        handled = status == "active" or outcome == "answered" or (not inbound and status == "recent")
        if handled:
            agent = rng.choices(company["agents"], agent_weights[company_index])[0]
            team = company["team"] if inbound and kind == "call" else None
        ring = rng.uniform(2, 25) if kind == "call" else rng.uniform(10, 900)
        if status == "active" or outcome == "answered":
            answered = started + min(ring, max(0.0, now_s - started - 1))
        if status == "recent":
            if answered is not None:
                talk = int(rng.expovariate(1 / 180)) if kind == "call" else int(rng.uniform(60, 3600))
                ended = answered + talk
            else:
                ended = started + (rng.uniform(30, 90) if outcome == "voicemail" else ring)
            ended = min(ended, now_s)
        if kind == "call":
            channel = f"{int(started)}.{index}"
            if answered is not None:
                recording = f"recordings/{_stamp(epoch, started)[:10].replace('-', '/')}/{channel}.wav"
        if outcome == "voicemail":
            duration = int(rng.uniform(5, 90))
            voicemail = f"voicemail/{index}.wav"
        if outcome == "answered" and rng.random() < 0.3:
            qualified = rng.random() < 0.6
            if qualified and rng.random() < 0.5:
                value = rng.randint(10, 5000) * 100
            if rng.random() < 0.3:
                notes = rng.choice(NOTES)
        changed = ended if status == "recent" else answered if status == "active" else started
        yield (
            index + 1,
            _stamp(epoch, started),
            company["id"],
            lead_id,
            kind,
            "inbound" if inbound else "outbound",
            status,
            outcome,
            _stamp(epoch, changed),
            _stamp(epoch, started),
            None if answered is None else _stamp(epoch, answered),
            None if ended is None else _stamp(epoch, ended),
            talk,
            tracking,
            agent,
            team,
            number,
            channel,
            recording,
            voicemail,
            duration,
            qualified,
            value,
            notes,
            source,
        )


def seed(path: Path) -> dict:
    """Build the database at ``path``; returns what the measurement needs (plain values) and the seed figures."""
    from leadcenter import clock, db, migrations
    from leadcenter.interactions.models import Interaction
    from leadcenter.leads.models import Lead, LeadPhone, LeadSearchTerm

    rng = random.Random(SEED)
    began = time.monotonic()
    database = db.open_sqlite(str(path))
    db.bind(database)
    database.connect()
    migrations.migrate()
    now = clock.system().replace(microsecond=0)
    epoch = dt.datetime(1970, 1, 1)
    now_s = (now - epoch).total_seconds()
    small = _seed_small(now)
    companies = small["companies"]

    plan, leads = _plan(rng, now_s)
    numbers = _phone_numbers(rng, LEADS)
    last_seen: dict[int, float] = {}
    for started, lead_id in plan:
        last_seen[lead_id] = started
    people, phones, terms = _lead_rows(rng, leads, numbers, companies, epoch, last_seen)
    planned = time.monotonic() - began

    # Bulk load: no journal, no fsync, FK checks off (the rows are consistent by construction), and the secondary
    # indexes of the big tables rebuilt once at the end (a sorted build beats a million random b-tree inserts).
    database.execute_sql("PRAGMA journal_mode=off")
    database.execute_sql("PRAGMA synchronous=off")
    database.execute_sql("PRAGMA foreign_keys=off")
    database.execute_sql("PRAGMA cache_size=-1000000")
    database.execute_sql("PRAGMA temp_store=memory")
    tables = [m._meta.table_name for m in (Lead, LeadPhone, LeadSearchTerm, Interaction)]
    indexes = database.execute_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({', '.join('?' * len(tables))})",
        tables,
    ).fetchall()
    for name, _ in indexes:
        database.execute_sql(f'DROP INDEX "{name}"')
    _insert(database, Lead, ("id", "created_at", "company_id", "name", "email", "updated_at"), iter(people))
    _insert(database, LeadPhone, ("lead_id", "company_id", "number"), iter(phones))
    _insert(database, LeadSearchTerm, ("company_id", "lead_id", "term"), iter(terms))
    lead_info = {lead_id: (company, number) for (lead_id, company, _, _), number in zip(leads, numbers, strict=True)}
    count = _insert(
        database, Interaction, INTERACTION_COLUMNS, _interaction_rows(rng, plan, lead_info, companies, epoch, now_s)
    )
    loaded = time.monotonic() - began - planned
    for _, sql in indexes:
        database.execute_sql(sql)
    indexed = time.monotonic() - began - planned - loaded
    database.execute_sql("PRAGMA foreign_keys=on")
    if database.execute_sql("PRAGMA foreign_key_check").fetchone() is not None:
        raise RuntimeError("the seed broke a foreign key")
    database.execute_sql("PRAGMA journal_mode=wal")
    database.close()
    with open(path, "rb") as written:  # get the seed's dirty pages to disk now, not while measuring
        os.fsync(written.fileno())
    seconds = time.monotonic() - began

    # What the samples are drawn from (plain values only).
    heavy = [lead_id for lead_id, _, _, n in leads if n >= HEAVY_RANGE[0]]
    paged = [lead_id for lead_id, _, _, n in leads if n > 20]
    named = [
        (companies[c]["id"], name) for (_, c, _, _), (_, _, _, name, _, _) in zip(leads, people, strict=True) if name
    ]
    emails = [
        (companies[c]["id"], email) for (_, c, _, _), (_, _, _, _, email, _) in zip(leads, people, strict=True) if email
    ]
    dialled = [(companies[c]["id"], number) for (_, c, _, _), number in zip(leads, numbers, strict=True)]
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return {
        "figures": {
            "leads": len(people),
            "interactions": count,
            "search_terms": len(terms),
            "heavy_leads": len(heavy),
            "seconds": round(seconds, 1),
            "generate_s": round(planned, 1),
            "insert_s": round(loaded, 1),
            "index_s": round(indexed, 1),
            "db_bytes": size,
        },
        "heavy": heavy,
        "paged": paged,
        "named": named,
        "emails": emails,
        "dialled": dialled,
        "lead_ids": [lead_id for lead_id, _, _, _ in leads],
        "agents": [a for c in companies for a in c["agents"]],
        "company_ids": [c["id"] for c in companies],
    }


def _time(calls, samples):
    """Run ``calls(sample)`` for each sample; (wall milliseconds, CPU milliseconds of this thread, rows) each.
    The CPU time is what the query costs whatever else the machine is doing (make bench may share its cores)."""
    took, cpu, rows = [], [], []
    for sample in samples:
        began, began_cpu = time.perf_counter(), time.thread_time()
        n = calls(sample)
        took.append((time.perf_counter() - began) * 1000)
        cpu.append((time.thread_time() - began_cpu) * 1000)
        rows.append(n)
    return took, cpu, rows


def draw(data: dict) -> dict:
    """The random inputs of every measured call, as plain values (so the seed's big lists can go first)."""
    rng = random.Random(SEED + 1)
    return {
        "inbox": [rng.choice(data["agents"]) for _ in range(SAMPLES)],
        # half heavy leads (100+ interactions), half any lead
        "timeline_page1": [
            rng.choice(data["heavy"]) if i % 2 else rng.choice(data["lead_ids"]) for i in range(SAMPLES)
        ],
        "timeline_page2": [rng.choice(data["paged"]) for _ in range(SAMPLES)],  # leads with a second page
        "search_name_prefix": [
            (c, rng.choice(name.split())[:3].lower()) for c, name in rng.choices(data["named"], k=SAMPLES)
        ],
        "search_last4": [(c, number[-4:]) for c, number in rng.choices(data["dialled"], k=SAMPLES)],
        "search_e164": [(c, number) for c, number in rng.choices(data["dialled"], k=SAMPLES)],
        "search_email": [(c, email) for c, email in rng.choices(data["emails"], k=SAMPLES)],
        # GET /interactions: the company's newest, with or without a status and a kind filter
        "interaction_list": [
            (rng.choice(data["company_ids"]), rng.choice([None, "recent", "incoming"]), rng.choice([None, "call"]))
            for _ in range(SAMPLES)
        ],
    }


def measure(database, samples: dict) -> dict:
    """Time the samples' calls on ``database`` (an opened handle of either engine, bound here)."""
    from leadcenter import db
    from leadcenter.accounts.models import Company
    from leadcenter.agents.models import Agent
    from leadcenter.interactions.services import inbox, newest_first, timeline
    from leadcenter.leads.models import Lead
    from leadcenter.leads.services import search

    db.bind(database)
    database.connect()
    companies = {c.id: c for c in Company.select()}
    agents = {a.id: a for a in Agent.select()}
    results, cpu, rows = {}, {}, {}

    def count_inbox(agent_id):
        agent = agents[agent_id]
        box = inbox(companies[agent.company_id], agent)
        return len(box.incoming) + len(box.active) + len(box.recent)

    results["inbox"], cpu["inbox"], rows["inbox"] = _time(count_inbox, samples["inbox"])

    # timeline: the lead is loaded untimed first (the API resolves it before asking for the page)
    leads = [Lead.get_by_id(i) for i in samples["timeline_page1"]]
    results["timeline_page1"], cpu["timeline_page1"], rows["timeline_page1"] = _time(
        lambda lead: len(timeline(lead)[0]), leads
    )
    cursors = [(lead, timeline(lead)[1]) for lead in (Lead.get_by_id(i) for i in samples["timeline_page2"])]
    database.close()  # the first pages above warmed the connection's cache for these leads: start the 2nd pages cold
    database.connect()
    results["timeline_page2"], cpu["timeline_page2"], rows["timeline_page2"] = _time(
        lambda pair: len(timeline(pair[0], before=pair[1])[0]), cursors
    )

    def searcher(pair):
        company_id, q = pair
        return len(search(companies[company_id], q))

    for name in ("search_name_prefix", "search_last4", "search_e164", "search_email"):
        results[name], cpu[name], rows[name] = _time(searcher, samples[name])
    results["interaction_list"], cpu["interaction_list"], rows["interaction_list"] = _time(
        lambda args: len(newest_first(companies[args[0]], status=args[1], kind=args[2])), samples["interaction_list"]
    )
    export = measure_report(companies[min(companies)])  # the first company: 80% of the rows
    database.close()
    out = {}
    for name, took in results.items():
        out[name] = summary(took, unit="ms")
        out[name]["cpu"] = summary(cpu[name], unit="ms")
        out[name]["mean_rows"] = round(sum(rows[name]) / len(rows[name]), 1)
        out[name]["goal_ms"] = GOAL_MS
        out[name]["ok"] = out[name]["p99"] < GOAL_MS
    out["report_export"] = export
    return out


class _CountingSink:
    """Where the CSV goes: counted, not kept (the endpoint streams it to the client)."""

    bytes = 0

    def write(self, text: str) -> None:
        self.bytes += len(text)


def _export(company, since, until) -> tuple[int, int]:
    """The report written as CSV to a counting sink, as the endpoint writes it: (rows, bytes)."""
    from leadcenter.interactions.services import REPORT_COLUMNS, report

    sink = _CountingSink()
    writer = csv.writer(sink)
    writer.writerow(REPORT_COLUMNS)
    count = 0
    for row in report(company, since, until):
        writer.writerow(row)
        count += 1
    return count, sink.bytes


def measure_report(company, days: int = 30) -> dict:
    """The report of ``company``'s last ``days`` days: rows, seconds and rows/s; then the same export again under
    tracemalloc (which slows it several times) for the peak of Python memory allocated meanwhile."""
    import tracemalloc

    from leadcenter import clock

    until = clock.system()
    since = until - dt.timedelta(days=days)
    gc.collect()
    began = time.perf_counter()
    count, written = _export(company, since, until)
    seconds = time.perf_counter() - began
    tracemalloc.start()
    _export(company, since, until)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "days": days,
        "rows": count,
        "seconds": round(seconds, 2),
        "rows_per_s": round(count / seconds),
        "csv_mib": round(written / 2**20, 1),
        "peak_alloc_mib": round(peak / 2**20, 1),
    }


def copy_to_postgresql(path: Path, url: str) -> dict:
    """The seeded SQLite file into the empty PostgreSQL database at ``url`` by `leadcenter db copy`'s machinery,
    then ANALYZE (autovacuum would, soon after a load this size; SQLite's side has no statistics and needs none for
    these plans). Returns the copy's figures."""
    from leadcenter import db, dbcopy

    target = db.open_postgresql(url)
    began = time.monotonic()
    with dbcopy.Copy(path, target) as copy:
        plan = copy.plan()
        copy.run(plan, lambda table, rows: None)
    copied = time.monotonic() - began
    target.execute_sql("ANALYZE")
    size = target.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0]
    version = target.execute_sql("SHOW server_version").fetchone()[0]
    target.close()
    return {
        "rows": sum(t.rows for t in plan),
        "copy_s": round(copied, 1),
        "analyze_s": round(time.monotonic() - began - copied, 1),
        "db_bytes": size,
        "server_version": version,
    }


def _print(result: dict) -> None:
    print(
        f"  {'query':<20} {'n':>5} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'cpu p50':>8} {'cpu p99':>8} "
        f"{'rows':>5}  goal p99 < {GOAL_MS:g} ms"
    )
    for name, s in result.items():
        if name == "report_export":
            continue
        print(
            f"  {name:<20} {s['n']:>5} {s['p50']:>7.2f} {s['p99']:>7.2f} {s['max']:>7.2f} {s['cpu']['p50']:>8.2f} "
            f"{s['cpu']['p99']:>8.2f} {s['mean_rows']:>5}  {'ok' if s['ok'] else 'MISSED'}"
        )
    export = result["report_export"]
    print(
        f"  report.csv: {export['rows']:,} rows ({export['days']} days of the biggest company, "
        f"{export['csv_mib']} MiB of CSV) in {export['seconds']} s = {export['rows_per_s']:,} rows/s; "
        f"peak Python allocation {export['peak_alloc_mib']} MiB"
    )


def run() -> dict:
    """The queries on SQLite, then (when Debian's PostgreSQL server is installed) the same database copied into a
    throw-away PostgreSQL server (tests/postgresql.py, with PostgreSQL's default shared_buffers) and the same calls
    timed there."""
    from leadcenter import db
    from tests import postgresql

    with tempfile.TemporaryDirectory(prefix="lc-bench-queries-") as tmp:
        path = Path(tmp) / "leadcenter.sqlite3"
        data = seed(path)
        figures = data["figures"]
        print(
            f"  seeded {figures['leads']:,} leads, {figures['interactions']:,} interactions, "
            f"{figures['search_terms']:,} search terms in {figures['seconds']} s "
            f"(generate {figures['generate_s']} s, insert {figures['insert_s']} s, "
            f"indexes {figures['index_s']} s); database {figures['db_bytes'] / 2**20:.0f} MiB"
        )
        samples = draw(data)
        del data  # a server's heap holds no million-row lists: keep the collector's full passes realistic
        gc.collect()
        print("  SQLite:")
        result = measure(db.open_sqlite(str(path)), samples)
        _print(result)
        result["seed"] = figures
        if not postgresql.available():
            print(f"  PostgreSQL: not installed ({postgresql.BIN}), skipped")
            return result
        with postgresql.Cluster(shared_buffers="128MB") as cluster:
            url = cluster.create_database("bench")
            copied = copy_to_postgresql(path, url)
            print(
                f"  PostgreSQL {copied['server_version']}: {copied['rows']:,} rows copied in {copied['copy_s']} s "
                f"(db copy), ANALYZE {copied['analyze_s']} s; database {copied['db_bytes'] / 2**20:.0f} MiB"
            )
            result["postgresql"] = measure(db.open_postgresql(url), samples)
            _print(result["postgresql"])
            result["postgresql"]["copy"] = copied
    return result
