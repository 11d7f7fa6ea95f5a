"""MiniMax's Hailuo video and music through ``MockTransport``: the video task submitted, polled
from queueing to success and its file retrieved; a failed task, a lost one, malformed answers;
the music call that is the whole job (a URL or hex audio). Recorded payloads: ``fixtures/minimax/``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture_json, provider_config
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobKind, JobStatus, Submitted
from unigate.core.media import Blob
from unigate.core.services import Modality
from unigate.errors import InvalidRequest, UpstreamError
from unigate.providers.minimax_music import MiniMaxMusic
from unigate.providers.minimax_video import MiniMaxVideo
from unigate.providers.registration import Upstream
from unigate.providers.registry import REGISTRY
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://api.minimax.io/v1"
TASK = "106916112212032"
DOWNLOAD = fixture_json("minimax/files_retrieve.json")["file"]["download_url"]


def spec(upstream: str, kind: str = "video") -> ModelSpec:
    return ModelSpec(id="mm-test", provider="minimax", upstream_model=upstream, price=Price(0, 0), type=kind)


def job(kind: JobKind = JobKind.VIDEO, prompt: str | None = "A fox in the snow", **options: Any) -> GenerationRequest:
    return GenerationRequest(model="mm-test", kind=kind, prompt=prompt, options=options)


def video_upstream(*polls: str) -> Callable[[Request], MockResponse]:
    left = list(polls)

    def handler(request: Request) -> MockResponse:
        if request.method == "POST":
            return MockResponse.json(fixture_json("minimax/video_submitted.json"))
        if "/files/retrieve" in request.url:
            return MockResponse.json(fixture_json("minimax/files_retrieve.json"))
        name = left.pop(0) if len(left) > 1 else left[0]
        return MockResponse.json(fixture_json(f"minimax/{name}.json"))

    return handler


async def started(cls: Any, handler: Callable[[Request], MockResponse]) -> Any:
    adapter = cls(provider_config("minimax", BASE), transport=MockTransport(handler))
    await adapter.start()
    return adapter


def sent(adapter: Any) -> list[Request]:
    transport = adapter.upstream.transport
    assert isinstance(transport, MockTransport)
    return list(transport.requests)


async def test_a_hailuo_task_is_submitted_polled_and_its_file_retrieved() -> None:
    runner = await started(MiniMaxVideo, video_upstream("video_queueing", "video_processing", "video_success"))
    request = job(
        image_url="https://e.com/first.png",
        last_image_url="https://e.com/last.png",
        duration=6,
        resolution="1080P",
        enhance_prompt=False,
    )
    submitted = await runner.submit(request, spec("MiniMax-Hailuo-02"), reference="job-1")
    post = sent(runner)[0]
    assert (post.url, post.headers["Authorization"]) == (f"{BASE}/video_generation", f"Bearer {UPSTREAM_KEY}")
    assert orjson.loads(post.body) == {
        "model": "MiniMax-Hailuo-02",
        "prompt": "A fox in the snow",
        "prompt_optimizer": False,
        "first_frame_image": "https://e.com/first.png",
        "last_frame_image": "https://e.com/last.png",
        "duration": 6,
        "resolution": "1080P",
    }
    assert submitted == Submitted(upstream_id=TASK)
    progress = [await runner.poll(submitted, spec("MiniMax-Hailuo-02")) for _ in range(3)]
    assert [p.status for p in progress] == [JobStatus.QUEUED, JobStatus.GENERATING, JobStatus.COMPLETED]
    assert [r.url for r in sent(runner)[1:]] == [f"{BASE}/query/video_generation?task_id={TASK}"] * 3 + [
        f"{BASE}/files/retrieve?file_id=313992866418884"
    ]
    done = progress[-1]
    assert done.files == (GeneratedFile(field="video", url=DOWNLOAD, content_type="video/mp4", filename="output.mp4"),)
    assert done.details == {"video_width": 1366, "video_height": 768}


async def test_video_01_from_an_image_is_i2v_01_and_the_live_model_needs_one() -> None:
    runner = await started(MiniMaxVideo, video_upstream("video_queueing"))
    await runner.submit(job(image_url="data:image/png;base64,iVBORw0KGgo="), spec("T2V-01"), reference="r")
    assert orjson.loads(sent(runner)[0].body)["model"] == "I2V-01"
    with pytest.raises(InvalidRequest) as caught:
        runner.check_job(job(), spec("I2V-01-live"))
    assert caught.value.param == "image_url"


async def test_a_failed_task_ends_with_minimax_s_reason_and_a_lost_one_says_so() -> None:
    runner = await started(MiniMaxVideo, video_upstream("video_fail"))
    failed = await runner.poll(Submitted(TASK), spec("T2V-01"))
    assert (failed.status, failed.message) == (
        JobStatus.ERROR,
        "The minimax provider's video task failed: input new_sensitive",
    )
    gone = await started(
        MiniMaxVideo, lambda r: MockResponse(404, {"Content-Type": "text/plain"}, b"404 page not found")
    )
    lost = await gone.poll(Submitted(TASK), spec("T2V-01"))
    assert lost.status is JobStatus.ERROR
    assert "no longer knows task 106916112212032" in lost.message


async def test_malformed_or_refused_answers_raise() -> None:
    odd = await started(MiniMaxVideo, lambda r: MockResponse.json({"task_id": TASK, "status": "Dreaming"}))
    with pytest.raises(UpstreamError, match="unknown status"):
        await odd.poll(Submitted(TASK), spec("T2V-01"))
    listy = await started(MiniMaxVideo, lambda r: MockResponse.json([1, 2]))
    with pytest.raises(UpstreamError, match="not a JSON object"):
        await listy.poll(Submitted(TASK), spec("T2V-01"))
    limited = await started(MiniMaxVideo, lambda r: MockResponse.json(fixture_json("minimax/t2a_v2_rate_limit.json")))
    with pytest.raises(Exception, match="rate limit"):
        await limited.submit(job(), spec("T2V-01"), reference="r")


async def test_music_is_made_within_the_call_and_answered_as_a_link() -> None:
    runner = await started(MiniMaxMusic, lambda r: MockResponse.json(fixture_json("minimax/music_url.json")))
    assert runner.inline is True
    request = job(
        JobKind.MUSIC,
        "Indie folk, rainy night",
        lyrics="[Verse]\nRain on the glass",
        audio_setting={"audio_sample_rate": 44100, "bitrate": 256000, "format": "mp3"},
    )
    submitted = await runner.submit(request, spec("music-2.0", "music"), reference="job-2")
    (post,) = sent(runner)
    assert post.url == f"{BASE}/music_generation"
    assert orjson.loads(post.body) == {
        "model": "music-2.0",
        "output_format": "url",
        "prompt": "Indie folk, rainy night",
        "lyrics": "[Verse]\nRain on the glass",
        "audio_setting": {"sample_rate": 44100, "bitrate": 256000, "format": "mp3"},
    }
    answer = fixture_json("minimax/music_url.json")
    assert submitted.upstream_id == answer["trace_id"]
    outcome = submitted.outcome
    assert outcome is not None
    assert outcome.status is JobStatus.COMPLETED
    assert outcome.files == (
        GeneratedFile(field="audio_file", url=answer["data"]["audio"], content_type="audio/mpeg", filename="music.mp3"),
    )
    assert outcome.duration_s == 25.364


async def test_hex_music_is_kept_as_bytes_and_a_cover_sends_its_song() -> None:
    runner = await started(MiniMaxMusic, lambda r: MockResponse.json(fixture_json("minimax/music_hex.json")))
    cover = job(JobKind.MUSIC, "Jazz version", reference_audio_url="data:audio/mpeg;base64,SUQz")
    submitted = await runner.submit(cover, spec("music-cover", "music"), reference="job-3")
    assert orjson.loads(sent(runner)[0].body) == {
        "model": "music-cover",
        "output_format": "url",
        "prompt": "Jazz version",
        "audio_base64": "SUQz",
    }
    assert submitted.outcome is not None
    assert submitted.outcome.files == (
        GeneratedFile(field="audio_file", blob=Blob(b"abc", "audio/mpeg", "music.mp3"), content_type="audio/mpeg"),
    )
    assert submitted.outcome.duration_s == 1.0
    assert (await runner.poll(submitted, spec("music-cover", "music"))).status is JobStatus.ERROR


async def test_music_without_audio_or_input_fails_clearly() -> None:
    empty = await started(
        MiniMaxMusic, lambda r: MockResponse.json({"data": {"status": 2}, "base_resp": {"status_code": 0}})
    )
    with pytest.raises(UpstreamError, match="without audio"):
        await empty.submit(job(JobKind.MUSIC, "x"), spec("music-2.6", "music"), reference="r")
    with pytest.raises(InvalidRequest):
        empty.check_job(job(JobKind.MUSIC, None), spec("music-2.6", "music"))


def test_minimax_serves_video_and_music_beside_chat_and_speech() -> None:
    assert {Modality.CHAT, Modality.SPEECH, Modality.VIDEO, Modality.MUSIC} <= REGISTRY["minimax"].serves
    built = REGISTRY["minimax"].factory(
        Upstream(provider_config("minimax", BASE), MockTransport(lambda r: MockResponse()))
    )
    assert isinstance(built.video, MiniMaxVideo)
    assert isinstance(built.music, MiniMaxMusic)
