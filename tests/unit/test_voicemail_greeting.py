"""An agent's own voicemail greeting: a WAV Asterisk plays as it is, put where VoiceMail's `u` option finds it."""
import io
import wave

import pytest


def wav(seconds: float, rate: int = 8000, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(channels)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"\x10\x00" * int(seconds * rate) * channels)
    return out.getvalue()


@pytest.fixture
def agent(make_client, world):
    client = make_client()
    client.sign_in("agent1@a.example")
    return client


def put(client, data: bytes, content_type: str = "audio/wav"):
    return client.request("PUT", "/api/v1/me/voicemail-greeting", data=data, headers={"Content-Type": content_type})


def test_a_greeting_goes_to_the_agents_mailbox_and_can_be_played_and_removed(agent, world, controller):
    agent_id = world["a"]["agents"][0].id
    assert agent.get("/api/v1/me/voicemail-greeting")[1]["error"] == "no-greeting"
    greeting = wav(2.0)
    assert put(agent, greeting)[0] == 204
    stored = controller.settings.data_dir / "asterisk" / "spool" / "voicemail" / "leadcenter" / f"agent{agent_id}"
    assert (stored / "unavail.wav").read_bytes() == greeting
    played = agent.http.get("/api/v1/me/voicemail-greeting")
    assert played.status_code == 200 and played.data == greeting
    assert agent.delete("/api/v1/me/voicemail-greeting")[0] == 204
    assert not (stored / "unavail.wav").exists()
    assert agent.get("/api/v1/me/voicemail-greeting")[0] == 404


@pytest.mark.parametrize("data, problem", [
    (wav(2.0, rate=44100), "8000 Hz"),
    (wav(2.0, channels=2), "mono"),
    (wav(0.1), "0.5 to 60 seconds"),
    (b"RIFF not really", "not a WAV file"),
])
def test_what_asterisk_could_not_play_as_it_is_is_refused(agent, data, problem):
    status, body = put(agent, data)
    assert status == 422 and problem in body["fields"]["greeting"]


def test_only_wav_is_taken(agent):
    assert put(agent, wav(2.0), "audio/webm")[1]["error"] == "wav-required"
