"""The issue's call flow, built through the API and called by a SIPp caller on the demo trunk: business hours ->
IVR menu (1: the Sales queue, 2: the company's voicemail); pressing a key is an RFC 4733 event in the caller's
audio. Outside the business hours (today is a holiday in the company's time zone) the closed branch plays its
greeting and hangs up. The clock is never faked: the hours are the flow's own data."""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo

import pytest
from harness import wait_for
from rtp_capture import RtpCapture
from test_calls import ALICE, BOB
from test_voicemail import tone

from leadcenter.flows.models import CallFlow
from leadcenter.teams.models import Team
from leadcenter.trunks.models import Trunk

LINE = "+14045550177"  # the tracking number the test gives the flow
CLOSED_HZ = 600  # the closed branch's greeting: far from hold music, the voicemail beep and DTMF tones
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture
def admin(running):
    with contextlib.closing(running.sign_in("admin@acme.example")) as client:
        yield client


def front_desk(sales: int, holidays: list[str]) -> list[dict]:
    return [
        {
            "type": "hours",
            "weekly": [{"days": EVERY_DAY, "open": "00:00", "close": "24:00"}],
            "holidays": holidays,
            "open": {
                "steps": [
                    {
                        "type": "ivr",
                        "timeout": 5,
                        "attempts": 3,
                        "digits": {
                            "1": {"steps": [{"type": "queue", "team": sales, "timeout": 60}]},
                            "2": {"steps": [{"type": "voicemail"}]},
                        },
                    }
                ]
            },
            "closed": {"steps": [{"type": "greeting", "sound": "closed"}, {"type": "hangup"}]},
        }
    ]


@pytest.fixture
def flow(running, admin):
    """The flow, saved through the API, and a tracking number of the demo trunk that sends calls to it."""
    sound = admin.post(
        "/api/v1/flow-sounds?name=closed", content=tone(CLOSED_HZ, 2.0), headers={"Content-Type": "audio/wav"}
    )
    assert sound.status_code == 200, sound.text
    sales = Team.get(Team.name == "Sales").id
    answer = admin.post("/api/v1/flows", json={"name": "Front desk", "steps": front_desk(sales, [])})
    assert answer.status_code == 201, answer.text
    created = answer.json()
    number = admin.post(
        "/api/v1/tracking-numbers",
        json={"number": LINE, "name": "Front desk line", "source": "", "trunk": Trunk.get().id, "flow": created["id"]},
    )
    assert number.status_code == 201, number.text
    wait_for(lambda: LINE in (running.instance.rx("dialplan show lc-trunk1") or ""), 10, what="the new line's route")
    yield created
    assert admin.delete(f"/api/v1/tracking-numbers/{number.json()['id']}").status_code == 204
    assert admin.delete(f"/api/v1/flows/{created['id']}").status_code == 204
    assert admin.delete("/api/v1/flow-sounds/closed").status_code == 204


def test_the_flow_is_in_asterisk_s_dialplan_as_saved(running, flow):
    shown = running.instance.rx(f"dialplan show lc-flow-{flow['id']}") or ""
    assert "GotoIfTime(00:00-23:59,mon&tue&wed&thu&fri&sat&sun" in shown
    assert "Read(LC_DIGIT,,1,,1,5)" in shown


def test_pressing_1_rings_the_sales_queue_s_agents(running, peers, flow):
    with peers.phone(ALICE) as alice, peers.phone(BOB) as bob:
        handle = peers.call("+14045550311", duration=14, did=LINE, key="1", press_at=2)
        handle.wait_for("PRESSED", timeout=10)
        wait_for(lambda: alice.count("INVITE") + bob.count("INVITE") >= 1, 10, what="the queue ringing an agent")
        result = handle.wait(40)
        assert result.answered
    call = wait_for(
        lambda: (i := running.interaction(lead_number="+14045550311")) and i.status == "recent" and i,
        15,
        what="the call to conclude",
    )
    assert call.outcome == "answered" and call.agent_id in (ALICE, BOB) and call.team.name == "Sales"


def test_pressing_2_reaches_the_company_s_voicemail(running, peers, flow):
    # Nobody's phone is up: only the key sends the call on. The caller speaks after the greeting and the beep.
    handle = peers.call("+14045550312", duration=18, did=LINE, key="2", press_at=2, speak_at=9)
    handle.wait_for("PRESSED", timeout=10)
    assert handle.wait(40).answered
    call = wait_for(
        lambda: (i := running.interaction(lead_number="+14045550312")) and i.status == "recent" and i,
        15,
        what="the call to conclude",
    )
    assert call.outcome == "voicemail" and call.agent_id is None
    assert (running.settings.data_dir / call.voicemail).exists()


def test_on_a_holiday_the_closed_branch_plays_and_hangs_up(running, peers, admin, flow):
    zone = zoneinfo.ZoneInfo(CallFlow.get_by_id(flow["id"]).company.time_zone)
    today = dt.datetime.now(zone).date()  # the company's today (and its neighbours: a test across midnight)
    holidays = [str(today + dt.timedelta(days=d)) for d in (-1, 0, 1)]
    sales = Team.get(Team.name == "Sales").id
    answer = admin.patch(
        f"/api/v1/flows/{flow['id']}", json={"version": flow["version"], "steps": front_desk(sales, holidays)}
    )
    assert answer.status_code == 200, answer.text
    asterisk = running.settings.asterisk
    with peers.phone(ALICE) as alice, RtpCapture(asterisk.rtp_start, asterisk.rtp_end) as heard:
        result = peers.call("+14045550313", duration=20, did=LINE, key="1", press_at=4).wait(40)
    assert result.answered and result.hangup == "remote"  # the closed branch's hang-up, not the caller's
    assert heard.tone_at(CLOSED_HZ), f"no {CLOSED_HZ} Hz greeting in {len(heard.samples) / 8000:.1f} s of audio"
    assert alice.count("INVITE") == 0  # the key pressed during the greeting reached no menu


def test_an_operator_changes_the_flow_from_the_shell_and_asterisk_has_it(running, flow, tmp_path):
    steps = tmp_path / "steps.json"
    steps.write_text('[{"type": "voicemail"}]')
    said = running.cli("flow", "steps", str(flow["id"]), str(steps))
    assert f"flow {flow['id']} 'Front desk' saved as version 2 and applied" in said
    shown = running.instance.rx(f"dialplan show lc-flow-{flow['id']}") or ""
    assert "lc-step-voicemail" in shown and "GotoIfTime" not in shown
    assert "(current)" in running.cli("flow", "versions", str(flow["id"])).splitlines()[0]
