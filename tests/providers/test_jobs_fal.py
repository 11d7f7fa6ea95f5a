"""fal's queue API as a job runner, through ``MockTransport``: the submission (the body each app
reads, the request id and URLs kept in the job's state), one status check per poll (queued,
running, completed with the answer's files), a failed request, a lost one, a malformed answer.
Recorded payloads: ``fixtures/fal/`` (queue statuses, errors) and ``fixtures/fal_jobs/`` (their
README gives each source)."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from tests.providers.emulators import UPSTREAM_KEY, fixture, provider_config
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobKind, JobStatus, Submitted
from unigate.core.media import Blob
from unigate.errors import InvalidRequest, UpstreamError, UpstreamTimeout
from unigate.providers.fal import FalJobs
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport

BASE = "https://queue.fal.run"
REQUEST_ID = "80e732af-660e-45cd-bd63-580e4f2a94cc"
STATUS_URL = f"{BASE}/fal-ai/ltx-2/requests/{REQUEST_ID}/status"
RESULT_URL = f"{BASE}/fal-ai/ltx-2/requests/{REQUEST_ID}"


def spec(app: str, kind: str = "video") -> ModelSpec:
    return ModelSpec(id=app, provider="fal", upstream_model=app, price=Price(0, 0), type=kind)


def answers(*replies: MockResponse) -> Callable[[Request], MockResponse]:
    left = list(replies)
    return lambda request: left.pop(0)


def status(name: str) -> MockResponse:
    return MockResponse.json(fixture(f"fal/status_{name}.json"), status=200 if name == "completed" else 202)


async def make(handler: Callable[[Request], MockResponse]) -> tuple[FalJobs, MockTransport]:
    transport = MockTransport(handler)
    jobs = FalJobs(provider_config("fal", BASE), transport=transport)
    await jobs.start()
    return jobs, transport


def video(prompt: str = "a dragon over the mountains", **options: object) -> GenerationRequest:
    return GenerationRequest(model="ltxv/ltxv-2", kind=JobKind.VIDEO, prompt=prompt, options=options)


async def test_a_job_is_submitted_then_polled_once_per_call_until_its_video_is_read() -> None:
    submitted = MockResponse.json(fixture("fal_jobs/submitted.json"))
    result = MockResponse.json(fixture("fal_jobs/ltx2_result.json"))
    jobs, transport = await make(
        answers(submitted, status("in_queue"), status("in_progress"), status("completed"), result)
    )
    model = spec("fal-ai/ltx-2/text-to-video")

    job = await jobs.submit(video(duration=8, generate_audio=False, aspect_ratio="16:9"), model, reference="job_1")
    assert job.upstream_id == REQUEST_ID
    assert job.state == {"app": "fal-ai/ltx-2/text-to-video", "status_url": STATUS_URL, "response_url": RESULT_URL}
    submit = transport.requests[0]
    assert (submit.method, submit.url) == ("POST", f"{BASE}/fal-ai/ltx-2/text-to-video")
    assert submit.headers["Authorization"] == f"Key {UPSTREAM_KEY}"
    assert orjson.loads(submit.body) == {
        "prompt": "a dragon over the mountains",
        "duration": 8,
        "generate_audio": False,
    }

    stored = Submitted(job.upstream_id, dict(job.state))  # as the row gives it back, on any replica
    assert (await jobs.poll(stored, model)).status is JobStatus.QUEUED
    assert (await jobs.poll(stored, model)).status is JobStatus.GENERATING
    done = await jobs.poll(stored, model)
    assert [(r.method, r.url) for r in transport.requests[1:]] == [("GET", STATUS_URL)] * 3 + [("GET", RESULT_URL)]
    assert done.status is JobStatus.COMPLETED
    url = "https://storage.googleapis.com/falserverless/example_outputs/ltxv-2-t2v-output.mp4"
    assert done.files == (GeneratedFile("video", url=url, content_type="video/mp4", filename="ltxv-2-t2v-output.mp4"),)
    assert done.details == {"seed": 42}


async def test_each_app_gets_its_own_names_and_an_image_goes_to_the_image_to_video_twin() -> None:
    jobs, transport = await make(lambda r: MockResponse.json(fixture("fal_jobs/submitted.json")))
    await jobs.submit(video(image_url="https://e.com/a.png"), spec("fal-ai/ltx-2/text-to-video/fast"), reference="r")
    foley = GenerationRequest(
        "tencent/hunyuan-video-foley", JobKind.VIDEO, "rain", {"video_url": "https://e.com/v.mp4"}
    )
    await jobs.submit(foley, spec("fal-ai/hunyuan-video-foley"), reference="r")
    part = GenerationRequest(
        "tencent/hunyuan-part", JobKind.THREE_D, None, {"mesh_url": "https://e.com/m.glb", "seed": 3}
    )
    await jobs.submit(part, spec("fal-ai/hunyuan-part", "3d"), reference="r")
    kandinsky = GenerationRequest("sber-ai/kandinsky5-t2v", JobKind.VIDEO, "a dog", {"duration": 10})
    await jobs.submit(kandinsky, spec("fal-ai/kandinsky5/text-to-video"), reference="r")
    fabric = GenerationRequest(
        "veed/fabric-1.0", JobKind.VIDEO, None, {"image_url": "https://e.com/a.png", "audio_url": "https://e.com/a.mp3"}
    )
    await jobs.submit(fabric, spec("veed/fabric-1.0"), reference="r")

    sent = [(r.url.removeprefix(BASE + "/"), orjson.loads(r.body)) for r in transport.requests]
    assert sent == [
        (
            "fal-ai/ltx-2/image-to-video/fast",
            {"prompt": "a dragon over the mountains", "image_url": "https://e.com/a.png"},
        ),
        ("fal-ai/hunyuan-video-foley", {"text_prompt": "rain", "video_url": "https://e.com/v.mp4"}),
        ("fal-ai/hunyuan-part", {"model_file_url": "https://e.com/m.glb", "seed": 3}),
        ("fal-ai/kandinsky5/text-to-video", {"prompt": "a dog", "duration": "10s"}),
        (
            "veed/fabric-1.0",
            {"image_url": "https://e.com/a.png", "audio_url": "https://e.com/a.mp3", "resolution": "480p"},
        ),
    ]


async def test_3d_and_music_answers_become_the_services_files() -> None:
    jobs, _ = await make(answers(status("completed"), MockResponse.json(fixture("fal_jobs/hunyuan_part_result.json"))))
    part = await jobs.poll(Submitted(REQUEST_ID, {"app": "fal-ai/hunyuan-part"}), spec("fal-ai/hunyuan-part", "3d"))
    assert [f.field for f in part.files] == ["segmented_mesh", "mask_1_mesh", "mask_2_mesh", "mask_3_mesh"]
    assert part.files[1].url == "https://v3.fal.media/files/lion/Csp8ZOZQsxpaOtDrvbe2G_mask_1.glb"
    assert part.details == {
        "best_mask_index": 2,
        "iou_scores": [0.49007099866867065, 0.5047933459281921, 0.4866638779640198],
        "seed": 3285486654,
    }

    jobs, transport = await make(
        answers(status("completed"), MockResponse.json(fixture("fal_jobs/lyria2_result.json")))
    )
    music = await jobs.poll(Submitted(REQUEST_ID, {"app": "fal-ai/lyria2"}), spec("fal-ai/lyria2", "music"))
    assert music.files == (
        GeneratedFile(
            "audio_file",
            url="https://v3.fal.media/files/lion/5N4F_QWb5K8rDSHfpUN0S_output.wav",
            content_type="audio/wav",
            filename="output.wav",
        ),
    )
    # No URL kept in the state: the documented paths on the configured host.
    assert [r.url for r in transport.requests] == [
        f"{BASE}/fal-ai/lyria2/requests/{REQUEST_ID}/status",
        f"{BASE}/fal-ai/lyria2/requests/{REQUEST_ID}",
    ]

    jobs, _ = await make(answers(status("completed"), MockResponse.json(fixture("fal_jobs/triposr_result.json"))))
    mesh = await jobs.poll(Submitted(REQUEST_ID, {"app": "fal-ai/triposr"}), spec("fal-ai/triposr", "3d"))
    assert [(f.field, f.filename) for f in mesh.files] == [("model_mesh", "model.glb")]
    assert set(mesh.details) == {"timings", "remeshing_dir"}


async def test_a_file_answered_inline_is_bytes() -> None:
    inline = {"audio": {"url": "data:audio/wav;base64,UklGRg==", "content_type": "audio/wav"}}
    jobs, _ = await make(answers(status("completed"), MockResponse.json(inline)))
    done = await jobs.poll(Submitted(REQUEST_ID, {"app": "fal-ai/lyria2"}), spec("fal-ai/lyria2", "music"))
    assert done.files == (GeneratedFile("audio_file", blob=Blob(b"RIFF", "audio/wav"), content_type="audio/wav"),)


async def test_a_failed_request_ends_the_job_with_fals_error() -> None:
    stored = Submitted(REQUEST_ID, {"app": "fal-ai/ltx-2/text-to-video"})
    jobs, _ = await make(answers(MockResponse.json(fixture("fal_jobs/status_failed.json"))))
    failed = await jobs.poll(stored, spec("fal-ai/ltx-2/text-to-video"))
    assert (failed.status, failed.message) == (
        JobStatus.ERROR,
        "The fal provider's request failed: Internal server error",
    )

    refused = MockResponse.json(fixture("fal/error_validation.json"), status=422)
    jobs, _ = await make(answers(status("completed"), refused))
    failed = await jobs.poll(stored, spec("fal-ai/ltx-2/text-to-video"))
    assert failed.status is JobStatus.ERROR
    assert "image_size: Image size is too large" in failed.message


async def test_a_request_fal_no_longer_knows_is_lost_and_transient_failures_raise() -> None:
    stored = Submitted(REQUEST_ID, {"app": "fal-ai/ltx-2/text-to-video"})
    jobs, _ = await make(answers(MockResponse.json({"detail": "Request not found"}, status=404)))
    lost = await jobs.poll(stored, spec("fal-ai/ltx-2/text-to-video"))
    assert (lost.status, lost.message) == (JobStatus.ERROR, f"The fal provider no longer knows request {REQUEST_ID}.")

    jobs, _ = await make(answers(MockResponse.json(fixture("fal/error_timeout.json"), status=504)))
    with pytest.raises(UpstreamTimeout):  # asked again later, until the job's deadline
        await jobs.poll(stored, spec("fal-ai/ltx-2/text-to-video"))


async def test_malformed_answers() -> None:
    stored = Submitted(REQUEST_ID, {"app": "fal-ai/triposr"})
    jobs, _ = await make(answers(MockResponse.json({"status": "EXPLODED"})))
    with pytest.raises(UpstreamError):  # an unknown state is asked again, until the deadline
        await jobs.poll(stored, spec("fal-ai/triposr", "3d"))

    jobs, _ = await make(answers(MockResponse(200, {"Content-Type": "application/json"}, b"{not json")))
    with pytest.raises(UpstreamError):
        await jobs.poll(stored, spec("fal-ai/triposr", "3d"))

    jobs, _ = await make(answers(status("completed"), MockResponse.json({"model_mesh": {"url": ""}, "timings": {}})))
    empty = await jobs.poll(stored, spec("fal-ai/triposr", "3d"))
    assert (empty.status, empty.message) == (
        JobStatus.ERROR,
        "The fal provider's answer for fal-ai/triposr holds no file.",
    )

    jobs, _ = await make(answers(MockResponse.json({"status_url": STATUS_URL})))
    with pytest.raises(UpstreamError, match="without a request_id"):
        await jobs.submit(video(), spec("fal-ai/ltx-2/text-to-video"), reference="r")
    with pytest.raises(UpstreamError, match="without its app"):
        await jobs.poll(Submitted(REQUEST_ID), spec("fal-ai/triposr", "3d"))


async def test_check_refuses_a_duration_that_is_not_whole_seconds_before_anything_is_sent() -> None:
    jobs, transport = await make(answers())
    bad = GenerationRequest("sber-ai/kandinsky5-t2v", JobKind.VIDEO, "a dog", {"duration": 5.5})
    with pytest.raises(InvalidRequest) as caught:
        jobs.check_job(bad, spec("fal-ai/kandinsky5/text-to-video"))
    assert caught.value.param == "duration"
    assert transport.requests == []
