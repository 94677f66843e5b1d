"""Prompts API: agents record their voicemail greeting, admins the company's greeting and recording notice; each is
converted to what Asterisk plays, served back for listening, and removable; bad audio is refused."""

import io
import math
import os
import struct
import subprocess
import wave

import pytest


def wav(seconds: float, rate: int = 48000, channels: int = 1) -> bytes:
    """A 440 Hz tone, the way a browser or a phone app would send a recording."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(channels)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        frames = int(seconds * rate)
        audio.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate))) * channels for n in range(frames)
            )
        )
    return out.getvalue()


def upload(client, path, data, content_type="audio/wav"):
    return client.request("PUT", path, data=data, content_type=content_type)


def test_an_agent_records_their_greeting_and_asterisk_finds_it_in_their_mailbox(agent, world, controller):
    me = world["a"]["agents"][0]
    status, body = upload(agent, "/api/v1/me/voicemail-greeting", wav(3.0, rate=48000, channels=2))
    assert (status, body) == (200, {"url": "/api/v1/me/voicemail-greeting", "seconds": 3.0})
    stored = controller.instance.dir / f"spool/voicemail/leadcenter/agent{me.id}/unavail.wav"
    with wave.open(str(stored)) as audio:  # what Asterisk plays without transcoding
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
    me = type(me).get_by_id(me.id)
    assert me.voicemail_greeting == f"spool/voicemail/leadcenter/agent{me.id}/unavail.wav"
    listened = agent.http.get("/api/v1/me/voicemail-greeting", headers={"Range": "bytes=0-3"})
    assert (listened.status_code, listened.data) == (206, b"RIFF")
    status, _ = agent.delete("/api/v1/me/voicemail-greeting")
    assert status == 204 and not stored.exists()
    assert type(me).get_by_id(me.id).voicemail_greeting is None
    status, body = agent.get("/api/v1/me/voicemail-greeting")
    assert (status, body["error"]) == (404, "not-found")


def test_admins_record_the_company_greeting_and_recording_notice(admin, agent, world, controller):
    company = world["a"]["company"]
    for path, file in (
        ("/api/v1/company/voicemail-greeting", f"spool/voicemail/leadcenter/company{company.id}/unavail.wav"),
        ("/api/v1/company/recording-notice", f"sounds/company{company.id}-recording-notice.wav"),
    ):
        status, body = upload(agent, path, wav(1.0))
        assert (status, body["error"]) == (403, "forbidden")
        status, body = upload(admin, path, wav(1.5, rate=8000))
        assert (status, body["seconds"]) == (200, 1.5)
        assert (controller.instance.dir / file).is_file()
        assert agent.http.get(path).status_code == 200  # agents may listen
        assert admin.delete(path)[0] == 204 and not (controller.instance.dir / file).exists()


@pytest.mark.parametrize(
    "data, content_type, status, error",
    [
        (b"not audio at all", "audio/wav", 422, "invalid-fields"),
        (None, "audio/wav", 422, "invalid-fields"),  # 0.2 s: too short to be a greeting
        (b"", "audio/wav", 400, "empty-upload"),
        (b"{}", "application/json", 415, "unsupported-media-type"),
    ],
)
def test_unusable_uploads_are_refused_and_nothing_is_stored(
    agent, world, controller, data, content_type, status, error
):
    body = wav(0.2) if data is None else data
    answer_status, answer = upload(agent, "/api/v1/me/voicemail-greeting", body, content_type)
    assert (answer_status, answer["error"]) == (status, error)
    assert not list(controller.instance.dir.rglob("*.wav"))


def test_an_upload_larger_than_the_limit_is_refused(agent, controller):
    from leadcenter.web.api import UPLOAD_BYTES

    status, body = upload(agent, "/api/v1/me/voicemail-greeting", b"\0" * (UPLOAD_BYTES + 1))
    assert status == 413 and body["status"] == 413


# -- hostile audio ---------------------------------------------------------------------------------------------


def riff(
    fmt_tag: int,
    channels: int,
    rate: int,
    bits: int,
    data: bytes,
    data_size: int | None = None,
    fact_frames: int | None = None,
) -> bytes:
    """A WAV file as written by hand: the header says what the sender wants it to say."""
    block_align = max(1, channels * bits // 8)
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block_align, block_align, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if fact_frames is not None:
        chunks += b"fact" + struct.pack("<II", 4, fact_frames)
    chunks += b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


@pytest.fixture
def conversions(monkeypatch):
    """Every sox run, with the size of what it wrote."""
    from leadcenter.prompts import audio

    runs = []
    real = audio.run_sox

    def spy(command):
        done = real(command)
        target = next(arg for arg in command if str(arg).endswith("prompt.wav"))
        runs.append(os.path.getsize(target) if os.path.exists(target) else 0)
        return done

    monkeypatch.setattr(audio, "run_sox", spy)
    return runs


def tone(samples: int, bits: int = 16) -> bytes:
    return bytes(range(256)) * (samples * bits // 8 // 256)


@pytest.mark.parametrize(
    "audio, why",
    [
        (riff(1, 1, 1, 16, tone(2048)), "sample rate"),  # 1 Hz: 2048 samples are 34 minutes at 8 kHz
        (riff(1, 1, 1, 8, tone(4096, 8)), "sample rate"),
        (riff(1, 2, 3, 16, tone(2048)), "sample rate"),
        (riff(1, 0, 8000, 16, tone(2048)), "channels"),
        (riff(1, 200, 8000, 16, tone(2048)), "channels"),
        (riff(1, 1, 8000, 0, tone(2048)), "bits"),
        (riff(1, 1, 8000, 16, tone(8000 * 200)), "lasts"),  # the data says 200 s
        (riff(0x31, 1, 8000, 0, tone(2048), fact_frames=8000 * 3600), "lasts"),  # GSM claiming an hour
        (b"RIFF\x10\x00\x00\x00WAVEfmt \x02\x00\x00\x00\x01\x00", "WAV"),  # a header cut short
        (b"RIFF" + struct.pack("<I", 2**32 - 1) + b"WAVE" + b"junk" + struct.pack("<I", 2**32 - 1), "WAV"),
        (b"RIFX" + b"\x00" * 40, "WAV"),
    ],
)
def test_a_header_that_would_blow_up_is_refused_before_converting(agent, controller, conversions, audio, why):
    """The decompression bomb: 64 KiB claiming 1 Hz made sox write 1 GB before the length was checked."""
    status, body = upload(agent, "/api/v1/me/voicemail-greeting", audio)
    assert (status, body["error"]) == (422, "invalid-fields"), body
    assert why in body["fields"]["body"]
    assert conversions == []  # sox never ran
    assert not list(controller.instance.dir.rglob("*.wav"))


def test_what_sox_writes_is_capped_whatever_the_header_claims(agent, controller, conversions, tmp_path):
    """A compressed recording (GSM 6.10: 13 kbit/s) whose header tells no length: 10 minutes of it decode to 9.6 MB.
    The conversion stops at the longest a prompt may last, and the upload is refused."""
    source, gsm = tmp_path / "long.wav", tmp_path / "long-gsm.wav"
    source.write_bytes(wav(600.0, rate=8000))
    subprocess.run(["sox", str(source), "-e", "gsm-full-rate", str(gsm)], check=True)
    data = gsm.read_bytes()
    data = data.replace(b"fact", b"junk")  # no sample count to check beforehand
    status, body = upload(agent, "/api/v1/me/voicemail-greeting", data)
    assert (status, body["error"]) == (422, "invalid-fields") and "lasts" in body["fields"]["body"]
    from leadcenter.prompts.audio import MAX_SECONDS

    assert len(conversions) == 1 and conversions[0] <= (MAX_SECONDS + 1) * 8000 * 2 + 1024


def test_conversions_at_once_are_bounded(agent, controller, monkeypatch):
    from leadcenter.prompts import audio

    monkeypatch.setattr(audio, "QUEUE_SECONDS", 0.05)
    held = [audio.CONVERSIONS.acquire(timeout=1) for _ in range(audio.CONCURRENT_CONVERSIONS)]
    try:
        assert all(held)
        response = agent.http.put(
            "/api/v1/me/voicemail-greeting",
            data=wav(1.0),
            content_type="audio/wav",
            headers={"X-CSRF-Token": agent.csrf},
        )
        assert (response.status_code, response.get_json()["error"]) == (503, "converter-busy")
        assert int(response.headers["Retry-After"]) >= 1
    finally:
        for _ in held:
            audio.CONVERSIONS.release()
    assert upload(agent, "/api/v1/me/voicemail-greeting", wav(1.0))[0] == 200


def test_a_missing_sox_is_a_clear_error_not_a_500(agent, controller, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sox on it
    status, body = upload(agent, "/api/v1/me/voicemail-greeting", wav(1.0))
    assert (status, body["error"]) == (503, "converter-missing")
    assert "sox" in body["message"]


def test_a_conversion_that_hangs_is_stopped(monkeypatch):
    from leadcenter.prompts import audio

    monkeypatch.setattr(audio, "CONVERT_SECONDS", 0.2)
    with pytest.raises(audio.PromptError, match="too long"):
        audio.run_sox(["sleep", "10"])
