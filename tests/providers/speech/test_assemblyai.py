# Recorded payloads: tests/providers/fixtures/assemblyai/README.md (AssemblyAI's OpenAPI spec,
# AssemblyAI/assemblyai-api-spec, and its error cookbook).
"""AssemblyAI through ``MockTransport``: upload, create, poll with growing waits (slept on an
injected clock), the finished transcript in seconds, failures and deadlines typed, cancel."""

from __future__ import annotations

import asyncio

import pytest

from tests.providers.emulators import UPSTREAM_KEY
from tests.providers.speech.helpers import Replies, config, fixture_json, json_body, spec
from unigate.core.media import Blob, TranscriptionRequest
from unigate.errors import InvalidRequest, RateLimited, UnsupportedParameter, UpstreamError, UpstreamTimeout
from unigate.providers.assemblyai import AssemblyAITranscriber, PollPolicy
from unigate.providers.transport.mock import MockResponse

AUDIO = Blob(b"ID3\x04 an mp3 file", "audio/mpeg", "wildfires.mp3")
UNIVERSAL = spec("assemblyai", "universal-2", "stt", "aai/universal")
TRANSCRIPT_ID = "9ea68fd3-f953-42c1-9742-976c447fb463"


class FakeClock:
    """Time that passes only when the transcriber sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def answer(name: str) -> MockResponse:
    return MockResponse.json(fixture_json(f"assemblyai/{name}.json"))


def transcriber(transport: Replies, clock: FakeClock, poll: PollPolicy | None = None) -> AssemblyAITranscriber:
    policy = poll or PollPolicy()
    return AssemblyAITranscriber(config("assemblyai"), transport=transport, poll=policy, sleep=clock.sleep, clock=clock)


async def test_upload_create_and_poll_until_completed_with_growing_waits() -> None:
    transport = Replies(
        [
            answer("upload"),
            answer("transcript_queued"),
            answer("transcript_processing"),
            answer("transcript_processing"),
            answer("transcript_completed"),
        ]
    )
    clock = FakeClock()
    aai = transcriber(transport, clock)
    await aai.start()
    request = TranscriptionRequest(
        "aai/universal",
        AUDIO,
        duration_s=281.0,
        language="en_us",
        options={"speaker_labels": True, "punctuate": True, "word_boost": ["Peter de Carlo"], "boost_param": "high"},
    )

    result = await aai.transcribe(request, UNIVERSAL)

    upload, create, *polls = transport.requests
    assert (upload.method, upload.url) == ("POST", "https://api.assemblyai.com/v2/upload")
    assert upload.headers == {"authorization": UPSTREAM_KEY, "Content-Type": "application/octet-stream"}
    assert upload.body == AUDIO.data
    assert (create.method, create.url) == ("POST", "https://api.assemblyai.com/v2/transcript")
    assert create.headers["authorization"] == UPSTREAM_KEY
    assert json_body(create) == {
        "audio_url": "https://cdn.assemblyai.com/upload/f756988d-47e2-4ca3-96ce-04bb168f8f2a",
        "speech_models": ["universal-2"],
        "language_code": "en_us",
        "speaker_labels": True,
        "punctuate": True,
        "keyterms_prompt": ["Peter de Carlo"],  # the successor of word_boost; boost_param has none
    }
    assert [(p.method, p.url) for p in polls] == [
        ("GET", f"https://api.assemblyai.com/v2/transcript/{TRANSCRIPT_ID}")
    ] * 3
    assert clock.slept == [1.0, 1.5, 2.25]

    assert result.text.startswith("Smoke from hundreds of wildfires in Canada")
    assert result.language == "en_us"
    assert result.duration_s == 281.0
    assert len(result.words) == 15
    smoke = result.words[0]
    assert (smoke.word, smoke.start, smoke.end, smoke.confidence, smoke.speaker) == ("Smoke", 0.25, 0.65, 0.97465, None)
    (utterance,) = result.segments
    assert (utterance.start, utterance.end) == (0.25, 26.95)
    assert utterance.words[0].speaker == 0  # "A"
    assert result.native == fixture_json("assemblyai/transcript_completed.json")
    assert all(r.closed for r in transport.responses)


async def test_waits_stop_growing_at_the_policys_maximum() -> None:
    transport = Replies([answer("upload"), *[answer("transcript_processing")] * 5, answer("transcript_completed")])
    clock = FakeClock()
    aai = transcriber(transport, clock, PollPolicy(first_s=2.0, factor=2.0, max_s=5.0))
    await aai.start()

    await aai.transcribe(TranscriptionRequest("m", AUDIO, 1.0), UNIVERSAL)

    assert clock.slept == [2.0, 4.0, 5.0, 5.0, 5.0]


async def test_a_transcript_that_does_not_finish_by_the_deadline_is_a_504_and_polling_stops() -> None:
    transport = Replies([answer("upload"), *[answer("transcript_processing")] * 20])
    clock = FakeClock()
    aai = transcriber(transport, clock, PollPolicy(first_s=1.0, factor=2.0, max_s=4.0, deadline_s=10.0))
    await aai.start()

    with pytest.raises(UpstreamTimeout) as caught:
        await aai.transcribe(TranscriptionRequest("m", AUDIO, 1.0), UNIVERSAL)

    assert TRANSCRIPT_ID in caught.value.message
    assert clock.slept == [1.0, 2.0, 4.0]  # the next 4 s would pass the 10 s deadline
    assert len(transport.requests) == 1 + 1 + 3


async def test_the_deadline_defaults_to_the_providers_total_timeout() -> None:
    transport = Replies([answer("upload"), *[answer("transcript_processing")] * 200])
    clock = FakeClock()
    aai = transcriber(transport, clock, PollPolicy(first_s=10.0, factor=1.0, max_s=10.0))
    await aai.start()

    with pytest.raises(UpstreamTimeout):
        await aai.transcribe(TranscriptionRequest("m", AUDIO, 1.0), UNIVERSAL)

    assert sum(clock.slept) == config("assemblyai").timeouts.total_s == 600.0


async def test_cancelling_while_waiting_stops_the_polling() -> None:
    transport = Replies([answer("upload"), answer("transcript_queued"), answer("transcript_completed")])
    waiting = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waiting.set()
        await asyncio.Event().wait()  # a wait that only a cancel ends

    aai = AssemblyAITranscriber(config("assemblyai"), transport=transport, sleep=sleep)
    await aai.start()
    task = asyncio.create_task(aai.transcribe(TranscriptionRequest("m", AUDIO, 1.0), UNIVERSAL))
    await waiting.wait()
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(transport.requests) == 2  # upload and create; no poll after the cancel
    assert len(transport.queue) == 1


async def test_a_transcript_that_fails_on_its_audio_is_the_clients_error_else_the_upstreams() -> None:
    transport = Replies(
        [answer("upload"), answer("transcript_error"), answer("upload"), answer("transcript_server_error")]
    )
    aai = transcriber(transport, FakeClock())
    await aai.start()

    with pytest.raises(InvalidRequest, match="Audio duration is too short"):
        await aai.transcribe(TranscriptionRequest("m", AUDIO, 0.1), UNIVERSAL)
    with pytest.raises(UpstreamError, match="Server error, developers have been alerted"):
        await aai.transcribe(TranscriptionRequest("m", AUDIO, 1.0), UNIVERSAL)


async def test_http_errors_are_typed_and_a_wrong_key_is_not_echoed() -> None:
    unauthorized = MockResponse.json(fixture_json("assemblyai/error_unauthorized.json"), status=401)
    bad = MockResponse.json(fixture_json("assemblyai/error_bad_request.json"), status=400)
    limited = MockResponse.json(
        fixture_json("assemblyai/error_too_many_requests.json"), status=429, headers={"Retry-After": "7"}
    )
    transport = Replies([unauthorized, answer("upload"), bad, answer("upload"), answer("transcript_queued"), limited])
    aai = transcriber(transport, FakeClock())
    await aai.start()
    request = TranscriptionRequest("m", AUDIO, 1.0)

    with pytest.raises(UpstreamError) as auth:
        await aai.transcribe(request, UNIVERSAL)
    with pytest.raises(InvalidRequest, match="format_text must be a Boolean"):
        await aai.transcribe(request, UNIVERSAL)
    with pytest.raises(RateLimited) as limit:  # on a poll
        await aai.transcribe(request, UNIVERSAL)

    assert auth.value.code == "upstream_auth_failed"
    assert "ASSEMBLYAI_API_KEY" in auth.value.message
    assert "token missing" not in auth.value.message
    assert limit.value.headers == {"Retry-After": "7"}


def test_translation_is_refused_before_anything_is_sent() -> None:
    aai = AssemblyAITranscriber(config("assemblyai"), transport=Replies([]))
    with pytest.raises(UnsupportedParameter):
        aai.check_transcription(TranscriptionRequest("m", AUDIO, 1.0, task="translate"), UNIVERSAL)
