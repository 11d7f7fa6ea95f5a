"""The generation-job endpoints on the deterministic fake job models, through raw HTTP and the
official ``openai`` SDK's ``videos`` resource: create, poll, the stored file, the charge once,
refunds, refusals before any charge, and one account never seeing another's job."""

from __future__ import annotations

import time
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.serving import Server


def _post(server: Server, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _get(server: Server, key: str, path: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _until_ended(server: Server, key: str, path: str, job_id: str, *, within_s: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while True:
        answer = _get(server, key, f"{path}?generation_id={job_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if body["status"] in ("completed", "error"):
            return body
        assert time.monotonic() < deadline, f"the job is still {body['status']}"
        time.sleep(0.05)


def test_a_video_job_from_create_to_downloaded_file(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    created = _post(server, key, "/v2/video/generations", {"model": "fake/video", "prompt": "a wave WAIT:0.3"})
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["status"] == "queued"
    assert job["meta"]["usage"] == {"credits_used": 5_000, "usd_spent": 0.0025}  # reserved: 5 s at 1,000
    assert len(job["id"]) == 40  # 160 random bits
    done = _until_ended(server, key, "/v2/video/generations", job["id"])
    assert done["status"] == "completed", done
    assert done["video"]["content_type"] == "video/mp4"
    assert done["meta"]["usage"]["credits_used"] == 5_000
    file = httpx.get(done["video"]["url"])  # a signed link: no key needed
    assert file.status_code == 200
    assert file.content[4:8] == b"ftyp"
    assert done["video"]["file_size"] == len(file.content)
    assert server.balance(account) == 1_000_000 - 5_000
    assert server.usage_rows(account) == [("fake/video", 0, 0, 5_000, "ok")]
    assert server.open_reservations() == 0


def test_the_resolution_variant_prices_the_reservation(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    body = {"model": "fake/video", "prompt": "x", "duration": 4, "resolution": "1080p"}
    job = _post(server, key, "/v2/video/generations", body).json()
    assert job["meta"]["usage"]["credits_used"] == 8_000
    done = _until_ended(server, key, "/v2/video/generations", job["id"])
    assert done["meta"]["usage"]["credits_used"] == 8_000
    assert server.balance(account) == 1_000_000 - 8_000


def test_the_legacy_vendor_path_answers_the_same(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    job = _post(server, key, "/v2/generate/video/fake/generation", {"model": "fake/video", "prompt": "x"}).json()
    done = _until_ended(server, key, "/v2/generate/video/fake/generation", job["id"])
    assert done["status"] == "completed"
    assert "url" in done["video"]


def test_another_account_gets_404_as_for_no_job(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    other, _ = server.new_key(1_000_000)
    job = _post(server, key, "/v2/video/generations", {"model": "fake/video", "prompt": "x"}).json()
    theirs = _get(server, other, f"/v2/video/generations?generation_id={job['id']}")
    none = _get(server, other, "/v2/video/generations?generation_id=" + "0" * 40)
    assert theirs.status_code == none.status_code == 404
    assert theirs.json()["error"]["code"] == none.json()["error"]["code"] == "generation_not_found"
    assert _get(server, key, f"/v2/generate/audio?generation_id={job['id']}").status_code == 404  # not music


def test_a_job_that_fails_upstream_is_refunded(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    job = _post(server, key, "/v2/video/generations", {"model": "fake/video", "prompt": "FAIL"}).json()
    done = _until_ended(server, key, "/v2/video/generations", job["id"])
    assert done["status"] == "error"
    assert done["error"]["message"] == "The fake model could not make this."
    assert done["meta"]["usage"]["credits_used"] == 0
    assert "video" not in done
    assert server.balance(account) == 1_000_000
    assert server.usage_rows(account) == [("fake/video", 0, 0, 0, "error")]
    assert server.open_reservations() == 0


def test_a_lost_job_is_refunded(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    job = _post(server, key, "/v2/video/generations", {"model": "fake/video", "prompt": "LOST"}).json()
    done = _until_ended(server, key, "/v2/video/generations", job["id"])
    assert done["status"] == "error"
    assert "lost" in done["error"]["message"]
    assert server.balance(account) == 1_000_000


def test_a_transient_poll_failure_is_asked_again(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    job = _post(server, key, "/v2/video/generations", {"model": "fake/video", "prompt": "FLAKY"}).json()
    done = _until_ended(server, key, "/v2/video/generations", job["id"])
    assert done["status"] == "completed"
    assert server.balance(account) == 1_000_000 - 5_000


@pytest.mark.parametrize(
    ("prompt", "status", "code"),
    [("SUBMIT-FAIL", 502, "upstream_error"), ("REJECT", 400, "invalid_request"), ("REJECT-EARLY", 400, None)],
)
def test_a_refused_submission_charges_nothing(server: Server, prompt: str, status: int, code: str | None) -> None:
    key, account = server.new_key(1_000_000)
    answer = _post(server, key, "/v2/video/generations", {"model": "fake/video", "prompt": prompt})
    assert answer.status_code == status, answer.text
    if code is not None:
        assert answer.json()["error"]["code"] == code
    assert server.balance(account) == 1_000_000
    assert server.open_reservations() == 0


def test_documented_fields_are_checked_before_anything_is_charged(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    model = "google/veo-3.1-t2v-fast"
    unknown = _post(server, key, "/v2/video/generations", {"model": model, "prompt": "x", "frames": 3})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "frames"
    outside = _post(server, key, "/v2/video/generations", {"model": model, "prompt": "x", "duration": 7})
    assert outside.status_code == 400
    assert outside.json()["error"]["param"] == "duration"
    missing = _post(server, key, "/v2/video/generations", {"model": model})
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "prompt"
    private = _post(
        server,
        key,
        "/v2/video/generations",
        {"model": "google/veo-3.1-i2v", "prompt": "x", "image_url": "http://10.0.0.1/a.png"},
    )
    assert private.status_code == 400
    assert private.json()["error"]["code"] == "invalid_url"
    unconfigured = _post(server, key, "/v2/video/generations", {"model": model, "prompt": "x"})
    assert unconfigured.status_code == 503  # no Gemini key on this server
    assert server.balance(account) == 1_000_000
    assert server.usage_rows(account) == []


def test_a_model_of_another_type_names_its_endpoint(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    answer = _post(server, key, "/v2/video/generations", {"model": "fake/music", "prompt": "x"})
    assert answer.status_code == 400
    assert "POST /v2/generate/audio" in answer.json()["error"]["message"]


def test_a_balance_too_low_for_the_worst_case_is_402(server: Server) -> None:
    key, account = server.new_key(4_999)
    answer = _post(server, key, "/v2/video/generations", {"model": "fake/video", "prompt": "x"})
    assert answer.status_code == 402
    assert server.balance(account) == 4_999


def test_a_key_without_the_video_scope_is_refused(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    mk = {"Authorization": "Bearer mk-test"}
    changed = httpx.patch(f"{server.url}/v1/keys/{key[:8]}", headers=mk, json={"scopes": ["model:chat"]})
    assert changed.status_code == 200, changed.text
    answer = _post(server, key, "/v2/video/generations", {"model": "fake/video", "prompt": "x"})
    assert answer.status_code == 403
    assert server.balance(account) == 1_000_000


def test_music_runs_within_its_upstream_call_on_a_poller(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    created = _post(server, key, "/v2/generate/audio", {"model": "fake/music", "prompt": "a song WAIT:0.2"})
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["status"] == "queued"
    done = _until_ended(server, key, "/v2/generate/audio", job["id"])
    assert done["status"] == "completed", done
    assert done["audio_file"]["content_type"] == "audio/mpeg"
    assert httpx.get(done["audio_file"]["url"]).status_code == 200
    assert server.balance(account) == 1_000_000 - 5_000


def test_an_inline_run_the_upstream_refuses_ends_with_its_error(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    job = _post(server, key, "/v2/generate/audio", {"model": "fake/music", "prompt": "SUBMIT-FAIL"}).json()
    done = _until_ended(server, key, "/v2/generate/audio", job["id"])
    assert done["status"] == "error"
    assert done["error"] == {"name": "UpstreamError", "message": "The fake upstream could not take the job."}
    assert server.balance(account) == 1_000_000
    assert server.open_reservations() == 0


@pytest.mark.parametrize("path", ["/v2/generate/3d", "/v1/images/generations", "/images/generations"])
def test_3d_answers_the_mesh_within_the_request(server: Server, path: str) -> None:
    key, account = server.new_key(1_000_000)
    answer = _post(server, key, path, {"model": "fake/3d", "prompt": "a chair WAIT:0.2"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "completed"
    mesh = body["model_mesh"]
    assert mesh["file_name"] == "mesh.glb"
    assert mesh["content_type"] == "model/gltf-binary"
    assert httpx.get(mesh["url"]).status_code == 200
    assert body["meta"]["usage"]["credits_used"] == 3_000
    assert server.balance(account) == 1_000_000 - 3_000


def test_a_failed_3d_job_is_an_error_answer_and_refunded(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    answer = _post(server, key, "/v2/generate/3d", {"model": "fake/3d", "prompt": "FAIL"})
    assert answer.status_code == 502
    assert "could not make this" in answer.json()["error"]["message"]
    assert server.balance(account) == 1_000_000


def test_images_generations_still_serves_images(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    answer = _post(server, key, "/v1/images/generations", {"model": "fake/image", "prompt": "x"})
    assert answer.status_code == 200
    assert answer.json()["data"][0]["url"]


# openai marks `videos` deprecated: OpenAI shut its Sora API down on 2026-09-24. The resource
# still speaks to any server of the same shape, this one included.
SORA_SUNSET = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


@SORA_SUNSET
def test_the_openai_sdk_videos_resource(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    client = openai.OpenAI(api_key=key, base_url=f"{server.url}/v1", max_retries=0)
    video = client.videos.create_and_poll(
        model="fake/video", prompt="a wave WAIT:0.2", seconds="4", poll_interval_ms=50
    )
    assert video.status == "completed"
    assert video.progress == 100
    assert video.seconds == "4"
    content = client.videos.download_content(video.id)
    data = content.read()
    assert data[4:8] == b"ftyp"
    listed = client.videos.list()
    assert [v.id for v in listed.data] == [video.id]
    assert client.videos.retrieve(video.id).status == "completed"
    deleted = client.videos.delete(video.id)
    assert deleted.deleted is True
    assert server.balance(account) == 1_000_000 - 4_000
    other, _ = server.new_key(1_000_000)
    with pytest.raises(openai.NotFoundError):
        openai.OpenAI(api_key=other, base_url=f"{server.url}/v1", max_retries=0).videos.retrieve(video.id)


@SORA_SUNSET
def test_the_openai_sdk_sees_a_failed_video(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    client = openai.OpenAI(api_key=key, base_url=f"{server.url}/v1", max_retries=0)
    video = client.videos.create_and_poll(model="fake/video", prompt="FAIL", poll_interval_ms=50)
    assert video.status == "failed"
    assert video.error is not None
    assert video.error.message == "The fake model could not make this."
