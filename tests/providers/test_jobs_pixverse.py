"""PixVerse's platform API as a job runner, through ``MockTransport``: the uploads that turn input
files into ids, the exact generation bodies and headers (the trace id that makes a retried
submission harmless), one result check per poll (generating, done, refused by moderation,
failed), a video PixVerse no longer knows, refusals in PixVerse's envelope and malformed answers.
Recorded payloads: ``fixtures/pixverse/`` (its README gives each source)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture, provider_config
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobKind, JobStatus, Submitted
from unigate.core.services import Modality
from unigate.errors import InvalidRequest, RateLimited, UpstreamError
from unigate.providers.elevenlabs import ElevenLabsMusic, ElevenLabsSpeaker
from unigate.providers.fal import FalJobs
from unigate.providers.pixverse import PixVerseJobs
from unigate.providers.registry import build_providers
from unigate.providers.stability import StabilityAudio
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport
from unigate.settings import EmbeddingModelSettings, LocalModelSettings, LocalSpeechSettings, Settings

BASE = "https://app-api.pixverse.ai"
VIDEO_ID = "341962258339968"
PNG = "data:image/png;base64,iVBORw0KGgo="
MP4 = "data:video/mp4;base64,AAAAGGZ0eXBtcDQy"
MP3 = "data:audio/mpeg;base64,SUQzBAAAAAAA"


def spec(upstream: str) -> ModelSpec:
    return ModelSpec(id=upstream, provider="pixverse", upstream_model=upstream, price=Price(0, 0), type="video")


def reply(name: str, status: int = 200) -> MockResponse:
    return MockResponse.json(fixture(f"pixverse/{name}.json"), status=status)


def answers(*replies: MockResponse) -> Callable[[Request], MockResponse]:
    left = list(replies)
    return lambda request: left.pop(0)


STARTED: list[PixVerseJobs] = []


@pytest.fixture(autouse=True)
async def closed() -> AsyncIterator[None]:
    """Every runner a test started is closed after it (its fetcher holds a connection pool)."""
    yield
    while STARTED:
        await STARTED.pop().close()


async def make(handler: Callable[[Request], MockResponse]) -> tuple[PixVerseJobs, MockTransport]:
    transport = MockTransport(handler)
    jobs = PixVerseJobs(provider_config("pixverse", BASE), transport=transport)
    await jobs.start()
    STARTED.append(jobs)
    return jobs, transport


def video(model: str, prompt: str | None = "A cat surfing a wave at sunset", **options: object) -> GenerationRequest:
    return GenerationRequest(model=model, kind=JobKind.VIDEO, prompt=prompt, options=options)


def uploaded(request: Request) -> tuple[str, bytes]:
    """The form field name and the bytes of a multipart upload."""
    head, _, rest = request.body.partition(b"\r\n\r\n")
    return head.split(b'name="')[1].split(b'"')[0].decode(), rest.split(b"\r\n--")[0]


async def test_text_to_video_sends_pixverses_body_under_the_jobs_reference() -> None:
    jobs, transport = await make(answers(reply("submitted")))
    request = video("pixverse/v5/text-to-video", resolution="1080p", aspect_ratio="9:16", seed=7, style="anime")
    job = await jobs.submit(request, spec("v5/text"), reference="job_abc")

    (sent,) = transport.requests
    assert (sent.method, sent.url) == ("POST", f"{BASE}/openapi/v2/video/text/generate")
    assert sent.headers["API-KEY"] == UPSTREAM_KEY
    assert sent.headers["Ai-trace-id"] == "job_abc"
    assert orjson.loads(sent.body) == {
        "model": "v5",
        "prompt": "A cat surfing a wave at sunset",
        "duration": 5,
        "seed": 7,
        "style": "anime",
        "aspect_ratio": "9:16",
        "quality": "1080p",
    }
    assert job == Submitted(VIDEO_ID)


async def test_image_to_video_uploads_the_image_first_and_sends_its_id() -> None:
    jobs, transport = await make(answers(reply("image_upload"), reply("submitted")))
    request = video("pixverse/v5-5-image-to-video", image_url=PNG, duration=8, generate_audio_switch=True)
    await jobs.submit(request, spec("v5.5/img"), reference="job_img")

    upload, generate = transport.requests
    assert (upload.method, upload.url) == ("POST", f"{BASE}/openapi/v2/image/upload")
    assert upload.headers["Ai-trace-id"] == "job_img-image_url"
    assert uploaded(upload) == ("image", b"\x89PNG\r\n\x1a\n")
    assert generate.url == f"{BASE}/openapi/v2/video/img/generate"
    assert orjson.loads(generate.body) == {
        "model": "v5.5",
        "prompt": "A cat surfing a wave at sunset",
        "duration": 8,
        "generate_audio_switch": True,
        "quality": "720p",
        "img_id": 30256912,
    }


async def test_a_transition_uploads_both_frames_and_speech_picks_pixverses_voice() -> None:
    jobs, transport = await make(
        answers(reply("image_upload"), reply("image_upload"), reply("tts_list"), reply("submitted"))
    )
    request = video(
        "pixverse/v5/transition",
        image_url=PNG,
        tail_image_url=PNG,
        lip_sync_tts_content="Hello there",
        lip_sync_tts_speaker="Harper",
    )
    await jobs.submit(request, spec("v5/transition"), reference="job_t")

    first, last, voices, generate = transport.requests
    assert [first.headers["Ai-trace-id"], last.headers["Ai-trace-id"]] == ["job_t-image_url", "job_t-tail_image_url"]
    assert (voices.method, voices.url) == ("GET", f"{BASE}/openapi/v2/video/lip_sync/tts_list?page_num=1&page_size=100")
    body = orjson.loads(generate.body)
    assert generate.url == f"{BASE}/openapi/v2/video/transition/generate"
    assert (body["first_frame_img"], body["last_frame_img"]) == (30256912, 30256912)
    assert (body["lip_sync_switch"], body["lip_sync_tts_content"], body["lip_sync_tts_speaker_id"]) == (
        True,
        "Hello there",
        "7",
    )
    assert "aspect_ratio" not in body


async def test_lip_sync_uploads_the_video_and_the_audio_or_speaks_a_script() -> None:
    jobs, transport = await make(answers(reply("media_upload_video"), reply("media_upload_audio"), reply("submitted")))
    await jobs.submit(
        video("pixverse/lip-sync", None, video_url=MP4, audio_url=MP3), spec("lip_sync"), reference="job_l"
    )
    movie, sound, generate = transport.requests
    assert [r.url for r in (movie, sound)] == [f"{BASE}/openapi/v2/media/upload"] * 2
    assert uploaded(movie)[0] == uploaded(sound)[0] == "file"
    assert generate.url == f"{BASE}/openapi/v2/video/lip_sync/generate"
    assert orjson.loads(generate.body) == {"video_media_id": 0, "audio_media_id": 0}

    jobs, transport = await make(answers(reply("media_upload_video"), reply("submitted")))
    script = video("pixverse/lip-sync", None, video_url=MP4, lip_sync_tts_content="Hi", lip_sync_tts_speaker="Auto")
    await jobs.submit(script, spec("lip_sync"), reference="job_l2")
    body = orjson.loads(transport.requests[-1].body)
    assert body == {"video_media_id": 0, "lip_sync_tts_speaker_id": "auto", "lip_sync_tts_content": "Hi"}

    with pytest.raises(InvalidRequest):
        jobs.check_job(video("pixverse/lip-sync", None, video_url=MP4), spec("lip_sync"))


async def test_a_job_is_polled_once_per_call_until_its_video_is_done() -> None:
    jobs, transport = await make(answers(reply("result_generating"), reply("result_done")))
    stored = Submitted(VIDEO_ID)
    assert (await jobs.poll(stored, spec("v5/text"))).status is JobStatus.GENERATING
    done = await jobs.poll(stored, spec("v5/text"))
    assert [(r.method, r.url) for r in transport.requests] == [
        ("GET", f"{BASE}/openapi/v2/video/result/{VIDEO_ID}")
    ] * 2
    traces = [r.headers["Ai-trace-id"] for r in transport.requests]
    assert len(set(traces)) == 2  # each request its own
    url = "https://media.pixverse.ai/pixverse%2Fmp4%2Fmedia%2Fweb%2F341962258339968.mp4"
    assert done.status is JobStatus.COMPLETED
    assert done.files == (GeneratedFile("video", url=url, content_type="video/mp4"),)
    assert done.details == {"seed": 1287344, "outputWidth": 1280, "outputHeight": 720}


async def test_moderation_failure_and_lost_videos_end_the_job() -> None:
    jobs, _ = await make(answers(reply("result_moderated"), reply("result_failed")))
    moderated = await jobs.poll(Submitted(VIDEO_ID), spec("v5/text"))
    assert (moderated.status, moderated.message) == (JobStatus.ERROR, "PixVerse's moderation refused the video.")
    failed = await jobs.poll(Submitted(VIDEO_ID), spec("v5/text"))
    assert (failed.status, failed.message) == (JobStatus.ERROR, "PixVerse failed to generate the video.")

    jobs, _ = await make(
        answers(reply("error_invalid_param"), MockResponse.json({"ErrCode": 404, "ErrMsg": "not found"}, status=404))
    )
    refused = await jobs.poll(Submitted(VIDEO_ID), spec("v5/text"))
    assert refused.status is JobStatus.ERROR
    assert refused.message.startswith(f"The pixverse provider no longer knows video {VIDEO_ID}: ")
    gone = await jobs.poll(Submitted(VIDEO_ID), spec("v5/text"))
    assert (gone.status, gone.message) == (JobStatus.ERROR, f"The pixverse provider no longer knows video {VIDEO_ID}.")


async def test_refusals_in_pixverses_envelope() -> None:
    jobs, _ = await make(answers(reply("error_invalid_param"), reply("error_concurrency")))
    with pytest.raises(InvalidRequest, match=r"\(400017\): invalid param"):
        await jobs.submit(video("pixverse/v5/text-to-video"), spec("v5/text"), reference="r")
    with pytest.raises(RateLimited):
        await jobs.submit(video("pixverse/v5/text-to-video"), spec("v5/text"), reference="r")


async def test_malformed_answers_are_asked_again() -> None:
    jobs, _ = await make(
        answers(MockResponse.json({"Resp": {"status": 1}}), MockResponse.json({"ErrCode": 0, "Resp": {"status": 3}}))
    )
    with pytest.raises(UpstreamError, match="without its ErrCode"):
        await jobs.poll(Submitted(VIDEO_ID), spec("v5/text"))
    with pytest.raises(UpstreamError, match="as status 3"):
        await jobs.poll(Submitted(VIDEO_ID), spec("v5/text"))

    jobs, _ = await make(answers(MockResponse.json({"ErrCode": 0, "ErrMsg": "success", "Resp": {}})))
    with pytest.raises(UpstreamError, match="without its video_id"):
        await jobs.submit(video("pixverse/v5/text-to-video"), spec("v5/text"), reference="r")


async def test_check_refuses_a_private_address_and_an_unknown_route_before_anything_is_sent() -> None:
    jobs, transport = await make(answers())
    with pytest.raises(InvalidRequest) as private:
        jobs.check_job(video("pixverse/v5/image-to-video", image_url="http://169.254.169.254/latest"), spec("v5/img"))
    assert private.value.param == "image_url"
    with pytest.raises(InvalidRequest):
        jobs.check_job(video("pixverse/v5/text-to-video"), spec("v5/extend"))
    assert transport.requests == []


async def test_the_jobs_c_providers_build_their_runners_on_their_keys() -> None:
    env = {"PIXVERSE_API_KEY": "p", "STABILITY_API_KEY": "s", "FAL_KEY": "f", "ELEVENLABS_API_KEY": "e"}
    off = Settings(local=LocalModelSettings(enabled=False), embeddings=EmbeddingModelSettings(enabled=False))
    _, services = build_providers(replace(off, provider_env=env, speech=LocalSpeechSettings(enabled=False)), models=[])
    assert isinstance(services.jobs("pixverse", Modality.VIDEO), PixVerseJobs)
    assert isinstance(services.jobs("stability", Modality.MUSIC), StabilityAudio)
    assert isinstance(services.jobs("elevenlabs", Modality.MUSIC), ElevenLabsMusic)
    assert isinstance(services.speaker("elevenlabs"), ElevenLabsSpeaker)  # beside it, on the same key
    fal = services.jobs("fal", Modality.VIDEO)
    assert isinstance(fal, FalJobs)
    assert services.jobs("fal", Modality.MUSIC) is services.jobs("fal", Modality.THREE_D) is fal
    assert {"pixverse", "fal"} <= services.serving(Modality.VIDEO)
    assert {"stability", "elevenlabs", "fal"} <= services.serving(Modality.MUSIC)
