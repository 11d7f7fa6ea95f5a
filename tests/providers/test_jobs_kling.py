"""Kling's video API through ``MockTransport``: the token each request carries, the body of each
endpoint (text, image, multi-image, effects, avatar, motion control), a task polled from
submitted to succeed, a failed one, one Kling lost, malformed answers and errors, and the
registration that pairs the access and secret keys. Recorded payloads: ``fixtures/kling/``."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest

from tests.providers.emulators import fixture_json
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.jobs import GeneratedFile, GenerationRequest, JobKind, JobStatus, Submitted
from unigate.errors import InvalidRequest, RateLimited, UpstreamError
from unigate.providers.kling import KLING, KlingVideo
from unigate.providers.kling.auth import LIFETIME_S, SKEW_S
from unigate.providers.registry import load_provider_configs
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import MockResponse, MockTransport
from unigate.settings import Settings, load_settings

BASE = "https://api-singapore.klingai.com"
NOW = 1_774_805_076.4
TASK = "867283741759111202"
SUCCEED = fixture_json("kling/succeed.json")


def spec(upstream: str) -> ModelSpec:
    return ModelSpec(id="kling-test", provider="kling", upstream_model=upstream, price=Price(0, 0), type="video")


def video(prompt: str | None = "A cat surfing", **options: Any) -> GenerationRequest:
    return GenerationRequest(model="kling-test", kind=JobKind.VIDEO, prompt=prompt, options=options)


def answers(*names: str, status: int = 200) -> Callable[[Request], MockResponse]:
    """``submitted.json`` for a POST, then each poll the next of ``names`` (the last repeats)."""
    left = list(names)

    def handler(request: Request) -> MockResponse:
        if request.method == "POST":
            return MockResponse.json(fixture_json("kling/submitted.json"))
        name = left.pop(0) if len(left) > 1 else left[0]
        return MockResponse.json(fixture_json(f"kling/{name}.json"), status=status)

    return handler


async def runner(handler: Callable[[Request], MockResponse], key: str = "ak-test:sk-test") -> KlingVideo:
    config = load_provider_configs({"KLING_ACCESS_KEY": "unused", "KLING_BASE_URL": BASE})["kling"]
    adapter = KlingVideo(replace(config, api_key=key), transport=MockTransport(handler), clock=lambda: NOW)
    await adapter.start()
    return adapter


def sent(adapter: KlingVideo) -> list[Request]:
    transport = adapter.upstream.transport
    assert isinstance(transport, MockTransport)
    return transport.requests


def claims_of(authorization: str, secret: str) -> dict[str, Any]:
    """The JWT's header and claims, after checking its HS256 signature with ``secret``."""
    scheme, _, jwt = authorization.partition(" ")
    assert scheme == "Bearer"
    header, claims, signature = jwt.split(".")
    expected = hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "==") == expected

    def part(text: str) -> dict[str, Any]:
        decoded: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return decoded

    return {"header": part(header), **part(claims)}


async def test_a_text_to_video_task_is_submitted_signed_and_polled_until_it_succeeds() -> None:
    kling = await runner(answers("processing", "succeed"))
    request = video(duration=10, aspect_ratio="9:16", negative_prompt="blur", cfg_scale=0.4, camera_control="down_back")
    submitted = await kling.submit(request, spec("text2video:kling-v1:pro"), reference="job-7")

    (post,) = sent(kling)
    assert (post.method, post.url) == ("POST", f"{BASE}/v1/videos/text2video")
    assert orjson.loads(post.body) == {
        "model_name": "kling-v1",
        "mode": "pro",
        "prompt": "A cat surfing",
        "negative_prompt": "blur",
        "cfg_scale": 0.4,
        "aspect_ratio": "9:16",
        "camera_control": {"type": "down_back"},
        "duration": "10",
        "external_task_id": "job-7",
    }
    token = claims_of(post.headers["Authorization"], "sk-test")
    assert token == {
        "header": {"alg": "HS256", "typ": "JWT"},
        "iss": "ak-test",
        "exp": int(NOW) + LIFETIME_S,
        "nbf": int(NOW) - SKEW_S,
    }
    assert submitted == Submitted(upstream_id=TASK, state={"endpoint": "text2video"})

    running = await kling.poll(submitted, spec("text2video:kling-v1:pro"))
    done = await kling.poll(submitted, spec("text2video:kling-v1:pro"))
    assert [r.url for r in sent(kling)[1:]] == [f"{BASE}/v1/videos/text2video/{TASK}"] * 2
    assert running.status is JobStatus.GENERATING
    assert done.status is JobStatus.COMPLETED
    url = SUCCEED["data"]["task_result"]["videos"][0]["url"]
    assert done.files == (GeneratedFile(field="video", url=url, content_type="video/mp4"),)
    assert done.duration_s == 5.1


async def test_image_to_video_sends_the_frames_as_kling_names_them() -> None:
    kling = await runner(answers("processing"))
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0").decode()
    request = video(
        image_url=f"data:image/jpeg;base64,{jpeg}",
        tail_image_url="https://example.com/last.png",
        duration=5,
        generate_audio=False,
    )
    submitted = await kling.submit(request, spec("image2video:kling-v2-1-master"), reference="job-8")
    assert orjson.loads(sent(kling)[0].body) == {
        "model_name": "kling-v2-1-master",
        "prompt": "A cat surfing",
        "image": jpeg,
        "image_tail": "https://example.com/last.png",
        "sound": "off",
        "duration": "5",
        "external_task_id": "job-8",
    }
    await kling.poll(submitted, spec("image2video:kling-v2-1-master"))
    assert sent(kling)[1].url == f"{BASE}/v1/videos/image2video/{TASK}"


async def test_v3_shots_split_the_duration_and_advanced_camera_control_is_a_simple_move() -> None:
    kling = await runner(answers("processing"))
    shots = video(None, multi_prompt=["wide shot", "close up", "fade"], duration=8, shot_type="intelligent")
    await kling.submit(shots, spec("text2video:kling-v3:std"), reference="job-9")
    camera = video(advanced_camera_control={"movement_type": "zoom", "movement_value": -4})
    await kling.submit(camera, spec("text2video:kling-v1-6:std"), reference="job-10")
    first, second = (orjson.loads(r.body) for r in sent(kling))
    assert first["multi_shot"] is True
    assert first["shot_type"] == "intelligence"
    assert first["multi_prompt"] == [
        {"index": 1, "prompt": "wide shot", "duration": "3"},
        {"index": 2, "prompt": "close up", "duration": "3"},
        {"index": 3, "prompt": "fade", "duration": "2"},
    ]
    assert "prompt" not in first
    assert second["camera_control"] == {"type": "simple", "config": {"zoom": -4}}


async def test_the_other_endpoints_get_their_own_bodies() -> None:
    kling = await runner(answers("processing"))
    cases = [
        ("multi-image2video:kling-v1-6:std", video(image_list=["https://e.com/a.png", "https://e.com/b.png"])),
        (
            "effects:kling-v1-6:pro",
            video(None, effect_scene="hug", image_url=["https://e.com/a.png", "https://e.com/b.png"]),
        ),
        ("avatar/image2video::std", video("talk", image_url="https://e.com/face.png", audio_url="https://e.com/a.mp3")),
        (
            "motion-control:kling-v2-6:pro",
            video(None, image_url="https://e.com/p.png", video_url="https://e.com/m.mp4", keep_audio=False, mode="std"),
        ),
    ]
    for upstream, request in cases:
        await kling.submit(request, spec(upstream), reference="r")
    bodies = [(r.url.removeprefix(f"{BASE}/v1/videos/"), orjson.loads(r.body)) for r in sent(kling)]
    assert bodies == [
        (
            "multi-image2video",
            {
                "model_name": "kling-v1-6",
                "mode": "std",
                "image_list": [{"image": "https://e.com/a.png"}, {"image": "https://e.com/b.png"}],
                "prompt": "A cat surfing",
                "external_task_id": "r",
            },
        ),
        (
            "effects",
            {
                "effect_scene": "hug",
                "input": {
                    "model_name": "kling-v1-6",
                    "mode": "pro",
                    "images": ["https://e.com/a.png", "https://e.com/b.png"],
                    "duration": "5",
                },
                "external_task_id": "r",
            },
        ),
        (
            "avatar/image2video",
            {
                "image": "https://e.com/face.png",
                "sound_file": "https://e.com/a.mp3",
                "prompt": "talk",
                "mode": "std",
                "external_task_id": "r",
            },
        ),
        (
            "motion-control",
            {
                "model_name": "kling-v2-6",
                "mode": "std",
                "image_url": "https://e.com/p.png",
                "video_url": "https://e.com/m.mp4",
                "character_orientation": "video",
                "keep_original_sound": "no",
                "external_task_id": "r",
            },
        ),
    ]


def test_what_kling_cannot_take_is_refused_before_anything_is_sent() -> None:
    kling = KlingVideo(
        load_provider_configs({"KLING_ACCESS_KEY": "a:b"})["kling"], transport=MockTransport(answers("processing"))
    )
    refused = [
        (
            video(image_url="https://e.com/a.png", elements=[{"reference_image_urls": ["x"]}]),
            "image2video:kling-v3:pro",
        ),
        (
            video(image_url="https://e.com/p.png", video_url="data:video/mp4;base64,AAAA"),
            "motion-control:kling-v2-6:pro",
        ),
        (
            video(image_url="https://e.com/a.png", tail_image_url="https://e.com/b.png", static_mask="m"),
            "image2video:kling-v1:pro",
        ),
        (video(multi_prompt=["a", "b", "c"], duration=2), "text2video:kling-v3:std"),
        (video(), "lip-sync:kling-v1:std"),
    ]
    params = []
    for request, upstream in refused:
        with pytest.raises(InvalidRequest) as caught:
            kling.check_job(request, spec(upstream))
        params.append(caught.value.param)
    assert params == ["elements", "video_url", "tail_image_url", "multi_prompt", "model"]


async def test_a_failed_task_ends_in_error_with_kling_s_reason() -> None:
    kling = await runner(answers("failed"))
    progress = await kling.poll(Submitted(TASK, {"endpoint": "image2video"}), spec("image2video:kling-v1:std"))
    assert progress.status is JobStatus.ERROR
    assert progress.message == "The kling provider's task failed: Failure to pass the risk control system"


async def test_a_task_kling_no_longer_knows_is_lost_not_retried() -> None:
    kling = await runner(lambda r: MockResponse.json({"code": 1203, "message": "task not found"}, status=404))
    progress = await kling.poll(Submitted(TASK, {"endpoint": "text2video"}), spec("text2video:kling-v1:std"))
    assert progress.status is JobStatus.ERROR
    assert "no longer knows task 867283741759111202" in progress.message


async def test_malformed_answers_raise_to_be_asked_again() -> None:
    not_json = await runner(lambda r: MockResponse(200, {"Content-Type": "application/json"}, b"<html>busy</html>"))
    with pytest.raises(UpstreamError, match="invalid JSON"):
        await not_json.poll(Submitted(TASK, {"endpoint": "text2video"}), spec("text2video:kling-v1:std"))
    odd = await runner(lambda r: MockResponse.json({"code": 0, "data": {"task_id": TASK, "task_status": "paused"}}))
    with pytest.raises(UpstreamError, match="unknown status"):
        await odd.poll(Submitted(TASK, {"endpoint": "text2video"}), spec("text2video:kling-v1:std"))
    no_id = await runner(lambda r: MockResponse.json({"code": 0, "data": {"task_status": "submitted"}}))
    with pytest.raises(UpstreamError, match="without a task_id"):
        await no_id.submit(video(), spec("text2video:kling-v1:std"), reference="r")
    empty = dict(SUCCEED, data={**SUCCEED["data"], "task_result": {"videos": []}})
    no_video = await runner(lambda r: MockResponse.json(empty))
    progress = await no_video.poll(Submitted(TASK, {"endpoint": "text2video"}), spec("text2video:kling-v1:std"))
    assert (progress.status, progress.message) == (
        JobStatus.ERROR,
        "The kling provider's task succeeded without a video.",
    )


async def test_kling_s_error_codes_become_our_errors() -> None:
    invalid = await runner(lambda r: MockResponse.json(fixture_json("kling/error_params.json"), status=400))
    with pytest.raises(InvalidRequest, match=r"Parameter value is invalid: duration \(code 1201\)"):
        await invalid.submit(video(), spec("text2video:kling-v1:std"), reference="r")
    refused = await runner(lambda r: MockResponse.json(fixture_json("kling/error_auth.json"), status=401))
    with pytest.raises(UpstreamError) as caught:
        await refused.submit(video(), spec("text2video:kling-v1:std"), reference="r")
    assert caught.value.code == "upstream_auth_failed"
    assert "KLING_ACCESS_KEY" in caught.value.message
    in_a_200 = await runner(
        lambda r: MockResponse.json({"code": 1303, "message": "parallel task over resource pack limit"})
    )
    with pytest.raises(RateLimited, match="rate limiting"):
        await in_a_200.submit(video(), spec("text2video:kling-v1:std"), reference="r")


async def test_a_key_without_its_secret_sends_nothing() -> None:
    kling = await runner(answers("processing"), key="ak-only")
    with pytest.raises(UpstreamError, match="KLING_SECRET_KEY"):
        await kling.submit(video(), spec("text2video:kling-v1:std"), reference="r")
    assert sent(kling) == []


def test_the_registration_pairs_the_access_key_with_the_secret_key() -> None:
    loaded = load_settings(env={"KLING_ACCESS_KEY": "ak", "KLING_SECRET_KEY": "sk", "HOME": "/root"})
    assert loaded.provider_env == {"KLING_ACCESS_KEY": "ak", "KLING_SECRET_KEY": "sk"}
    setup = KLING.settings(loaded)
    assert setup is not None
    assert [u.config.api_key for u in setup.deployments] == ["ak:sk"]
    without_secret = KLING.settings(Settings(provider_env={"KLING_ACCESS_KEY": "ak"}))
    assert without_secret is not None
    assert (without_secret.deployments, without_secret.missing) == ((), "KLING_SECRET_KEY")
    nothing = KLING.settings(Settings(provider_env={}))
    assert nothing is not None
    assert nothing.missing == "KLING_ACCESS_KEY"
    tables = {"kling": {"deployments": [{}, {"api_key_env": "KLING_EU_KEYS"}]}}
    env = {"KLING_ACCESS_KEY": "ak", "KLING_SECRET_KEY": "sk", "KLING_EU_KEYS": "ak2:sk2"}
    two = KLING.settings(Settings(provider_env=env, providers=tables))
    assert two is not None
    assert [u.config.api_key for u in two.deployments] == ["ak:sk", "ak2:sk2"]
