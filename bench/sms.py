"""The `sms` suite: texts per second on one SMPP bind, from the durable outbox to submit_sm_resp, against the test
SMSC (npm `smpp` in server mode, tests/smsc) on loopback; and what is lost or doubled when the SMSC throttles.

Besides wall-clock texts per second (which moves with whatever else runs on the machine), each run reports the CPU
time our side spent per text (every thread of the process: pump, SMPP session, event bus), which does not.

Each run stores N single-part texts in the outbox (a file database, as in production) before the bind comes up,
then starts the link and the pump and times until every part is ``sent`` (submit_sm_resp OK written back),
or ``delivered`` when receipts are on. Window 1 (one submit_sm at a time, as plain smpplib does) is run for
comparison, on loopback and with the SMSC answering 20 ms late (as across a network), where the window counts.
Under throttling the SMSC refuses every 10th submit_sm with ESME_RTHROTTLED; lost = texts the SMSC never accepted,
duplicated = texts it accepted more than once.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TESTS_SMSC = Path(__file__).parents[1] / "tests" / "smsc"
PORT = 12776
LEAD = "+14045557000"
TIMEOUT = 120.0  # seconds for one run, at most


def _world(path: Path):
    from leadcenter import db, migrations
    from leadcenter.accounts.services import create_company
    from leadcenter.tracking_numbers.models import TrackingNumber
    from leadcenter.trunks.models import Trunk

    db.bind(db.open_sqlite(str(path)))
    migrations.migrate()
    company = create_company("Bench Co", "US")
    trunk = Trunk.create(company=company, name="Bench", host="127.0.0.1")
    return company, TrackingNumber.create(company=company, number="+14045550100", name="Bench line", trunk=trunk)


def _run(count: int, window: int, receipts: str, throttle_every: int = 0, latency_ms: int = 0) -> dict:
    sys.path.insert(0, str(TESTS_SMSC))
    from peer import PASSWORD, SYSTEM_ID, SmscPeer

    from leadcenter import clock
    from leadcenter.config import SmppSettings
    from leadcenter.events import EventBus
    from leadcenter.sms.smpp import SmppLink
    from leadcenter.texts.models import OutboxPart
    from leadcenter.texts.outbox import Outbox
    from leadcenter.texts.services import Texts

    with tempfile.TemporaryDirectory() as scratch:
        company, number = _world(Path(scratch) / "bench.sqlite3")
        bus = EventBus()
        bus.start()
        outbox = Outbox(bus, on_text=lambda delivery: None, clock=clock.system)
        texts = Texts(bus, outbox, served_numbers=None, clock=clock.system)
        bodies = [f"Bench text {n:06}" for n in range(count)]
        began = time.perf_counter()
        for body in bodies:
            texts.send(company, None, number, LEAD, body)
        stored_per_second = count / (time.perf_counter() - began)
        smsc = SmscPeer(PORT, receipts=receipts, latency_ms=latency_ms).start()
        if throttle_every:
            smsc.command(cmd="throttle", every=throttle_every, status=0x58)
        link = SmppLink(
            SmppSettings(host="127.0.0.1", port=PORT, system_id=SYSTEM_ID, password=PASSWORD, window=window),
            outbox.listener("smsc"),
        )
        outbox.attach(link, None)
        done = "sent" if receipts == "none" else "delivered"
        try:
            link.start()
            deadline = time.monotonic() + 10
            while not link.bound and time.monotonic() < deadline:
                time.sleep(0.01)
            began, began_cpu = time.perf_counter(), time.process_time()
            outbox.start()
            finished = 0
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                finished = OutboxPart.select().where(OutboxPart.status == done).count()
                if finished == count:
                    break
                time.sleep(0.02)
            elapsed = time.perf_counter() - began
            cpu = time.process_time() - began_cpu  # every thread of this process: pump, SMPP session, bus
            status = link.status()
        finally:
            outbox.stop()
            link.stop()
            smsc.stop()
            bus.stop()
        seen = Counter(e["text"] for e in smsc.seen("text"))
        return {
            "texts": count,
            "window": window,
            "receipts": receipts,
            "throttle_every": throttle_every,
            "smsc_latency_ms": latency_ms,
            f"all_{done}": finished == count,
            "seconds": round(elapsed, 3),
            "texts_per_second": round(finished / elapsed, 1),
            "stored_per_second": round(stored_per_second, 1),
            # What a text costs us, whatever else shares the cores: 1000 / this = texts per CPU-second.
            "cpu_ms_per_text": round(1000 * cpu / max(1, finished), 3),
            "throttled_answers": status["throttled"],
            "lost": len(set(bodies) - set(seen)),
            "duplicated": sum(n - 1 for n in seen.values() if n > 1),
        }


def run() -> dict:
    results = {}
    for name, args in (
        ("window_50", (3000, 50, "none")),
        ("window_1", (500, 1, "none")),
        ("window_50_smsc_20ms_away", (2000, 50, "none", 0, 20)),
        ("window_1_smsc_20ms_away", (100, 1, "none", 0, 20)),
        ("window_50_with_receipts", (2000, 50, "DELIVRD")),
        ("window_50_throttled_every_10th", (2000, 50, "none", 10)),
    ):
        results[name] = _run(*args)
        print(f"   {name}: {results[name]}")
    return results
