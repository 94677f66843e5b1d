"""The telephony layer's verbs against the real Asterisk, from a second Telephony instance in the test process
(its own ARI application name, so the running controller is undisturbed). Each test asserts what the SIP peers
observed."""

from __future__ import annotations

import time
import wave

import pytest
from audio import loudest_second, seconds
from harness import ADS_LINE, wait_for
from sipp import SippPhone
from test_calls import ALICE

from leadcenter import clock, credentials
from leadcenter.controller import LoopThread
from leadcenter.events import EventBus
from leadcenter.telephony.service import Telephony

# SIPp's sample speech peaks at RMS ~0.1 over a second; G.711 silence decodes to ~0.0005.
SPOKEN = 0.03


@pytest.fixture
def telephony(running):
    bus = EventBus()
    published = []
    bus.subscribe("*", lambda event: published.append(event))
    bus.start()
    loop = LoopThread("test-telephony")
    loop.start()
    service = Telephony(
        running.settings,
        credentials.load_or_create(running.settings.data_dir),
        bus,
        clock.system,
        ari_app="leadcenter-test",
    )
    loop.run(service.start())
    wait_for(lambda: service.synced_at, 10, what="the test's telephony to connect and resync")
    service.published = published
    yield service
    loop.run(service.stop())
    loop.stop()
    bus.stop()


def carrier(running, tmp_path, **options) -> SippPhone:
    """The SIP peer behind the demo trunk, answering calls Asterisk sends out on it."""
    return SippPhone(
        "carrier", "", running.sip_port, running.trunk_port, registers=False, workdir=tmp_path / "carrier", **options
    )


def spoken(path, longest: float) -> bool:
    """The recording is complete, holds speech and is no longer than the call (MixMonitor finishes writing the
    file after the call)."""
    try:
        return loudest_second(path) > SPOKEN and seconds(path) <= longest
    except (OSError, EOFError, wave.Error):
        return False


def verb(telephony, coroutine, timeout: float = 10):
    return telephony.submit(coroutine).result(timeout)


def test_originate_places_an_outbound_call_with_the_tracking_number_as_caller_id(running, telephony, peers, tmp_path):
    with peers.phone(ALICE) as alice, carrier(running, tmp_path, speak=True) as lead:
        channel_id = verb(
            telephony,
            telephony.originate(
                "PJSIP/desk1",
                context="lc-outbound",
                extension="+14045551150",
                caller_id="Lead Center",
                variables={"LC_TRUNK": "trunk1", "LC_CALLER_ID": ADS_LINE, "LC_RECORD": "1"},
            ),
        )
        alice.wait_for("ANSWERED", timeout=10)
        lead.wait_for("ANSWERED", timeout=10)
        invite = lead.invites()[0]
        assert invite["from_user"] == ADS_LINE  # the caller ID the lead's phone shows
        channel = verb(telephony, telephony.ari.request("GET", f"/channels/{channel_id}"))
        # The recording is the lead's channel's (lc-outbound records it once they answer: it goes on after a transfer)
        trunk = [
            c
            for c in verb(telephony, telephony.ari.request("GET", "/channels"))
            if c["name"].startswith("PJSIP/trunk1-")
        ]
        time.sleep(5)  # some audio both ways
        verb(telephony, telephony.hangup(channel_id))
        alice.wait_for("HANGUP", timeout=5)
        lead.wait_for("HANGUP", timeout=5)
    assert channel["name"].startswith("PJSIP/desk1-") and len(trunk) == 1, trunk
    recording = running.settings.asterisk_dir / "spool" / "monitor" / f"{trunk[0]['id']}.wav"
    wait_for(lambda: spoken(recording, 10), 5, what=f"speech in {recording}")  # the lead spoke


def test_start_and_stop_recording_on_a_live_channel(running, telephony, peers, tmp_path):
    with peers.phone(ALICE) as alice, carrier(running, tmp_path, speak=True) as lead:
        channel_id = verb(
            telephony,
            telephony.originate(
                "PJSIP/desk1",
                context="lc-outbound",
                extension="+14045550151",
                variables={"LC_TRUNK": "trunk1", "LC_CALLER_ID": ADS_LINE, "LC_RECORD": "0"},
            ),
        )
        lead.wait_for("ANSWERED", timeout=10)
        name = verb(telephony, telephony.ari.request("GET", f"/channels/{channel_id}"))["name"]
        file = f"/srv/leadcenter/spool/monitor/verb-{channel_id}.wav"
        verb(telephony, telephony.start_recording(name, file))
        time.sleep(5)
        verb(telephony, telephony.stop_recording(name))
        verb(telephony, telephony.hangup(channel_id))
        alice.wait_for("HANGUP", timeout=5)
    recording = running.instance.host_path(file)
    wait_for(lambda: spoken(recording, 6), 5, what=f"speech in {recording}")
    # Without LC_RECORD the flow's own recording was not made.
    assert not (running.settings.asterisk_dir / "spool" / "monitor" / f"{channel_id}.wav").exists()


def test_redirect_moves_a_caller_out_of_the_queue(running, telephony, peers):
    handle = peers.call("+14045550160", duration=30)  # nobody registered: the caller waits in the queue
    call = wait_for(
        lambda: next(
            (
                c
                for c in telephony._lead_calls(verb(telephony, telephony.ari.request("GET", "/channels")))
                if c["caller_number"] == "+14045550160"
            ),
            None,
        ),
        10,
        what="the call to queue",
    )
    verb(telephony, telephony.redirect(call["channel"], "lc-step-end", "s"))
    result = handle.wait(15)
    assert result.hangup == "remote"  # Asterisk ended it long before the caller's 30 s


def test_pause_and_unpause_a_queue_member(running, telephony):
    def paused() -> bool:
        return next(
            m
            for m in verb(telephony, telephony._queue_status("team1"))["team1"]["members"]
            if m["interface"] == "PJSIP/desk1"
        )["paused"]

    verb(telephony, telephony.pause("PJSIP/desk1", True, "test"))
    assert paused() is True
    verb(telephony, telephony.pause("PJSIP/desk1", False))
    assert paused() is False


def test_reload_reloads_and_resyncs(running, telephony):
    before = telephony.synced_at
    verb(telephony, telephony.reload({"pbx_config.so", "app_queue.so"}))
    assert telephony.synced_at > before
    assert telephony.bus.wait_idle(5)  # the recording subscriber runs on the dispatcher thread
    assert any(e.name == "telephony.reloaded" for e in telephony.published)
