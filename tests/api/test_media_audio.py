"""Speech, transcription and OCR endpoints through the official OpenAI SDK and raw HTTP, on the
deterministic fake models: shapes, formats, streaming, charges, upload limits, job isolation."""

from __future__ import annotations

import httpx2 as httpx
import openai
import pytest

from tests.serving import Server
from unigate.providers.fake_media import wav_header


def _client(server: Server, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{server.url}/v1", max_retries=0)


def _wav(seconds: float) -> bytes:
    frames = int(16_000 * seconds)
    return wav_header(frames) + b"\x00\x00" * frames


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_audio_speech_streams_bytes_with_the_cost_in_headers(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    with _client(server, key).audio.speech.with_streaming_response.create(
        model="fake/speech", voice="alloy", input="hello", response_format="wav"
    ) as response:
        audio = b"".join(response.iter_bytes())
        assert response.headers["x-credits-used"] == "50"
        assert response.headers["content-type"] == "audio/wav"
    assert audio.startswith(b"RIFF")
    assert len(audio) > 44
    assert server.usage_rows(account) == [("fake/speech", 0, 0, 50, "ok")]


def test_tts_answers_a_stored_file_or_streams(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    stored = httpx.post(
        f"{server.url}/v1/tts", headers=_auth(key), json={"model": "fake/speech", "text": "hi there", "voice": "x"}
    )
    assert stored.status_code == 200, stored.text
    body = stored.json()
    assert body["meta"]["usage"]["credits_used"] == 80
    downloaded = httpx.get(body["audio"]["url"])
    assert downloaded.content.startswith(b"RIFF")
    streamed = httpx.post(
        f"{server.url}/tts", headers=_auth(key), json={"model": "fake/speech", "text": "hi", "stream": True}
    )
    assert streamed.content.startswith(b"RIFF")
    assert server.balance(account) == 1_000_000 - 80 - 20


def test_speech_that_fails_costs_nothing(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    with pytest.raises(openai.APIStatusError) as caught:
        _client(server, key).audio.speech.create(model="fake/speech", voice="alloy", input="FAIL")
    assert caught.value.status_code == 502
    assert server.balance(account) == 1_000_000


def test_speech_rejects_bad_input(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    client = _client(server, key)
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="fake/speech", voice="alloy", input="")
    assert caught.value.body["param"] == "input"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="fake/speech", voice="alloy", input="x", speed=9)
    assert caught.value.body["param"] == "speed"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError, match=r"of type 'stt': use POST /v1/stt/create"):
        client.audio.speech.create(model="fake/transcribe", voice="alloy", input="x")


def test_transcriptions_in_every_format(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    client = _client(server, key)
    audio = ("a.wav", _wav(2.0), "audio/wav")
    plain = client.audio.transcriptions.create(model="fake/transcribe", file=audio)
    assert plain.text.endswith("bytes of audio")
    verbose = client.audio.transcriptions.create(
        model="fake/transcribe", file=audio, response_format="verbose_json", timestamp_granularities=["word", "segment"]
    )
    assert verbose.duration == pytest.approx(2.0)
    assert verbose.words is not None
    assert [w.word for w in verbose.words] == plain.text.split()
    assert verbose.segments is not None
    assert verbose.segments[0].end == pytest.approx(2.0)
    srt = client.audio.transcriptions.create(model="fake/transcribe", file=audio, response_format="srt")
    assert str(srt).startswith("1\n00:00:00,000 --> 00:00:02,000\n")
    vtt = client.audio.transcriptions.create(model="fake/transcribe", file=audio, response_format="vtt")
    assert str(vtt).startswith("WEBVTT")
    assert server.balance(account) == 1_000_000 - 4 * 200


def test_a_file_that_is_not_audio_is_400(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    with pytest.raises(openai.BadRequestError, match="not audio"):
        _client(server, key).audio.transcriptions.create(
            model="fake/transcribe", file=("a.wav", b"this is text", "audio/wav")
        )
    assert server.balance(account) == 1_000_000


def test_an_upload_over_the_limit_is_413_before_it_is_read(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    limit = server.settings.media.max_upload_bytes
    response = httpx.post(
        f"{server.url}/v1/audio/transcriptions",
        headers=_auth(key),
        data={"model": "fake/transcribe"},
        files={"file": ("big.wav", b"\x00" * (limit + 1), "audio/wav")},
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_stt_create_then_poll_and_other_accounts_see_nothing(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    other, _ = server.new_key(1_000_000)
    created = httpx.post(
        f"{server.url}/v1/stt/create",
        headers=_auth(key),
        data={"model": "fake/transcribe"},
        files={"audio": ("a.wav", _wav(1.0), "audio/wav")},
    )
    assert created.status_code == 200, created.text
    generation_id = created.json()["generation_id"]
    polled = httpx.get(f"{server.url}/v1/stt/{generation_id}", headers=_auth(key)).json()
    assert polled["status"] == "completed"
    assert polled["id"] == generation_id
    assert polled["result"]["text"].endswith("bytes of audio")
    assert polled["output"] == polled["result"]
    assert httpx.get(f"{server.url}/v1/stt/{generation_id}", headers=_auth(other)).status_code == 404
    assert httpx.get(f"{server.url}/v1/stt/not-an-id", headers=_auth(key)).status_code == 404
    assert server.balance(account) == 1_000_000 - 100


def test_ocr_reads_the_pages_asked(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    pdf = "data:application/pdf;base64,JVBERi0xLjQK"
    response = httpx.post(
        f"{server.url}/v1/ocr",
        headers=_auth(key),
        json={"model": "fake/ocr", "document": {"type": "document_url", "document_url": pdf}, "pages": [0, 3]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["index"] for p in body["pages"]] == [0, 3]
    assert body["usage_info"]["pages_processed"] == 2
    assert body["meta"]["usage"]["credits_used"] == 1_000
    assert server.balance(account) == 1_000_000 - 1_000


def test_ocr_rejects_a_document_it_cannot_read(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    response = httpx.post(
        f"{server.url}/v1/ocr",
        headers=_auth(key),
        json={"model": "fake/ocr", "document": {"type": "file_id", "file_id": "x"}},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "document.type"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/v1/models", "http://169.254.169.254/latest/meta-data", "http://localhost/a.pdf"]
)
def test_a_url_at_a_private_address_is_refused_before_anything(server: Server, url: str) -> None:
    key, account = server.new_key(1_000_000)
    response = httpx.post(
        f"{server.url}/v1/ocr",
        headers=_auth(key),
        json={"model": "fake/ocr", "document": {"type": "document_url", "document_url": url}},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_url"
    assert response.json()["error"]["param"] == "document.document_url"
    assert server.usage_rows(account) == []


def test_tts_takes_vibevoices_script_as_the_text(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    url, body = f"{server.url}/v1/tts", {"model": "microsoft/vibevoice-1.5b"}
    # The script is read as the text: the request passes the edge and reaches fal, not set here.
    unconfigured = httpx.post(url, headers=_auth(key), json={**body, "script": "Speaker 0: Hello there."})
    assert unconfigured.status_code == 503, unconfigured.text
    assert "FAL_KEY" in unconfigured.json()["error"]["message"]
    missing = httpx.post(url, headers=_auth(key), json=body)
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "script"
    assert server.balance(account) == 1_000_000
