"""Prompts API: agents record their voicemail greeting, admins the company's greeting and recording notice; each is
converted to what Asterisk plays, served back for listening, and removable; bad audio is refused."""
import io
import math
import struct
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
        audio.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate))) * channels
                                   for n in range(frames)))
    return out.getvalue()


@pytest.fixture
def agent(make_client, world):
    client = make_client()
    client.sign_in("agent1@a.example")
    return client


@pytest.fixture
def admin(make_client, world):
    client = make_client()
    client.sign_in("admin@a.example")
    return client


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
    for path, file in (("/api/v1/company/voicemail-greeting", f"spool/voicemail/leadcenter/company{company.id}/unavail.wav"),
                       ("/api/v1/company/recording-notice", f"sounds/company{company.id}-recording-notice.wav")):
        status, body = upload(agent, path, wav(1.0))
        assert (status, body["error"]) == (403, "forbidden")
        status, body = upload(admin, path, wav(1.5, rate=8000))
        assert (status, body["seconds"]) == (200, 1.5)
        assert (controller.instance.dir / file).is_file()
        assert agent.http.get(path).status_code == 200  # agents may listen
        assert admin.delete(path)[0] == 204 and not (controller.instance.dir / file).exists()


@pytest.mark.parametrize("data, content_type, status, error", [
    (b"not audio at all", "audio/wav", 422, "invalid-fields"),
    (None, "audio/wav", 422, "invalid-fields"),  # 0.2 s: too short to be a greeting
    (b"", "audio/wav", 400, "empty-upload"),
    (b"{}", "application/json", 415, "unsupported-media-type"),
])
def test_unusable_uploads_are_refused_and_nothing_is_stored(agent, world, controller, data, content_type, status,
                                                             error):
    body = wav(0.2) if data is None else data
    answer_status, answer = upload(agent, "/api/v1/me/voicemail-greeting", body, content_type)
    assert (answer_status, answer["error"]) == (status, error)
    assert not list(controller.instance.dir.rglob("*.wav"))


def test_an_upload_larger_than_the_limit_is_refused(agent, controller):
    from leadcenter.web.api import UPLOAD_BYTES

    status, body = upload(agent, "/api/v1/me/voicemail-greeting", b"\0" * (UPLOAD_BYTES + 1))
    assert status == 413 and body["status"] == 413
