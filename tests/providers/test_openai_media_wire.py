"""``OpenAIMedia`` over the real HTTP client (``H1Transport``) against the local emulator: the
multipart bodies read back by the standard library's MIME parser (a parser that is not ours),
speech arriving chunk by chunk off a chunked answer, and a departed client closing the upstream
connection mid-audio."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import time
from collections.abc import AsyncIterator
from email.message import Message

import pytest

from tests.providers.emulators import Emulator, Reply, fixture_json, json_reply, provider_config
from tests.providers.media_upstream import media_spec
from unigate.core.media import Blob, ImageRequest, Source, SpeechRequest, TranscriptionRequest
from unigate.providers.http import Upstream
from unigate.providers.openai_compat import parse_error
from unigate.providers.openai_media import OpenAIMedia, SpeechChunks
from unigate.providers.transport.h1 import H1Transport

WHISPER = media_spec("openai", "#g1_whisper-large", "whisper-1", "stt")
GPT_IMAGE_15 = media_spec("openai", "openai/gpt-image-1-5", "gpt-image-1.5")
TTS_1 = media_spec("openai", "openai/tts-1", "tts-1", "tts")
AUDIO = bytes(range(256)) * 64  # every byte value, CRLFs and boundary-like dashes included


@pytest.fixture
async def adapter(upstream: Emulator) -> AsyncIterator[OpenAIMedia]:
    config = provider_config("openai", upstream.url + "/v1")
    media = OpenAIMedia(Upstream(config, parse_error=parse_error, transport=H1Transport()))
    await media.start()
    yield media
    await media.close()


def mime(content_type: str, body: bytes) -> Message:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    return email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)


def parts(message: Message) -> list[tuple[str | None, str | None, bytes]]:
    out = []
    for part in message.iter_parts():  # type: ignore[attr-defined]
        payload = part.get_payload(decode=True)
        out.append((part.get_param("name", header="content-disposition"), part.get_filename(), payload))
    return out


async def test_a_transcription_upload_reads_back_with_a_standard_mime_parser(
    upstream: Emulator, adapter: OpenAIMedia
) -> None:
    upstream.queue(json_reply(fixture_json("openai_media/transcription_verbose_segments.json")))
    request = TranscriptionRequest(
        model="whisper",
        audio=Blob(AUDIO, "audio/mpeg", 'we"ird\r\nname.mp3'),
        duration_s=1.0,
        prompt="Ünïcode prompt",
        timestamps=frozenset({"word"}),
    )
    transcript = await adapter.transcribe(request, WHISPER)
    recorded = upstream.last
    assert (recorded.method, recorded.path) == ("POST", "/v1/audio/transcriptions")
    assert recorded.headers["authorization"].startswith("Bearer ")
    message = mime(recorded.headers["content-type"], recorded.body)
    assert parts(message) == [
        ("model", None, b"whisper-1"),
        ("response_format", None, b"verbose_json"),
        ("prompt", None, "Ünïcode prompt".encode()),
        ("timestamp_granularities[]", None, b"segment"),
        ("timestamp_granularities[]", None, b"word"),
        ("file", "we%22ird%0D%0Aname.mp3", AUDIO),  # quoted, never a header break
    ]
    assert transcript.segments[0].text == " The beach was a popular spot on a hot summer day."


async def test_an_edit_upload_reads_back_with_a_standard_mime_parser(upstream: Emulator, adapter: OpenAIMedia) -> None:
    upstream.queue(json_reply(fixture_json("openai_media/images_gpt_image.json")))
    first, second = Blob(AUDIO[:512], "image/png", "a.png"), Blob(AUDIO[512:], "image/png", "b.png")
    request = ImageRequest(model="m", prompt="Combine them", images=(Source(blob=first), Source(blob=second)))
    result = await adapter.generate(request, GPT_IMAGE_15)
    recorded = upstream.last
    assert recorded.path == "/v1/images/edits"
    message = mime(recorded.headers["content-type"], recorded.body)
    assert [p for p in parts(message) if p[1]] == [("image[]", "a.png", first.data), ("image[]", "b.png", second.data)]
    assert len(result.images) == 1


async def test_speech_arrives_chunk_by_chunk_off_the_wire(upstream: Emulator, adapter: OpenAIMedia) -> None:
    pieces = tuple(AUDIO[i : i + 4096] for i in range(0, len(AUDIO), 4096))
    upstream.queue(Reply(content_type="audio/mpeg", chunks=pieces, chunk_delay_s=0.05))
    started = time.monotonic()
    audio = await adapter.speak(SpeechRequest(model="tts", text="Hello there."), TTS_1)
    ready_after = time.monotonic() - started
    received = [chunk async for chunk in audio.chunks]
    total = time.monotonic() - started
    assert b"".join(received) == AUDIO
    assert len(received) >= 2
    assert audio.content_type == "audio/mpeg"
    assert ready_after < total / 2  # returned with the first chunk, not after the last
    assert upstream.last.body["input"] == "Hello there."


async def test_a_departed_listener_closes_the_upstream_connection(upstream: Emulator, adapter: OpenAIMedia) -> None:
    upstream.queue(Reply(content_type="audio/mpeg", chunks=(AUDIO[:1024],), end="hang"))
    audio = await adapter.speak(SpeechRequest(model="tts", text="Hello there."), TTS_1)
    assert isinstance(audio.chunks, SpeechChunks)
    assert await anext(audio.chunks) == AUDIO[:1024]
    closed_at = time.monotonic()
    await audio.chunks.aclose()
    for _ in range(100):
        if upstream.disconnected_at is not None:
            break
        await asyncio.sleep(0.01)
    assert upstream.disconnected_at is not None
    assert upstream.disconnected_at - closed_at < 1.0
