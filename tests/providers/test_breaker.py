"""Circuit breakers and backoff: the state machine on a fake clock, then a router over two emulated
deployments that stops calling the failing one, half-opens after the cool-down, and closes or
re-opens on the trial's outcome."""

from __future__ import annotations

import pytest

from tests.providers.emulators import Emulator, chat, fixture_json, json_reply, model_spec, provider_config
from unigate.errors import InvalidRequest, Overloaded, RateLimited, UpstreamError, UpstreamTimeout
from unigate.providers.breaker import CircuitBreaker
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.retry import RetryPolicy, retryable
from unigate.providers.router import Router, Routes

GPT = model_spec("openai", "gpt-4o")
OK = fixture_json("openai/gpt4o_vision.json")
FAIL = {"error": {"message": "The server had an error", "type": "server_error"}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_closed_opens_after_k_consecutive_failures() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, cooldown_s=10.0, clock=clock)
    breaker.failure()
    breaker.failure()
    breaker.success()  # a success in between resets the count
    breaker.failure()
    breaker.failure()
    assert (breaker.state, breaker.allow()) == ("closed", True)
    breaker.failure()
    assert (breaker.state, breaker.allow()) == ("open", False)
    clock.now += 9.0
    assert breaker.allow() is False
    assert breaker.retry_after_s() == pytest.approx(1.0)


def test_half_open_lets_exactly_one_trial_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown_s=10.0, clock=clock)
    breaker.failure()
    clock.now += 10.0
    assert breaker.state == "half_open"
    assert breaker.allow() is True  # the trial
    assert breaker.allow() is False  # everyone else waits for its outcome
    breaker.success()
    assert (breaker.state, breaker.allow(), breaker.allow()) == ("closed", True, True)


def test_a_failed_trial_reopens_and_a_trial_without_verdict_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=2, cooldown_s=5.0, clock=clock)
    breaker.failure()
    breaker.failure()
    clock.now += 5.0
    assert breaker.allow()
    breaker.failure()  # one failed trial is enough, whatever ``failures`` says
    assert (breaker.state, breaker.allow()) == ("open", False)
    clock.now += 5.0
    assert breaker.allow()
    breaker.release()  # the client left during the trial
    assert breaker.allow()


def test_backoff_is_exponential_capped_jittered_and_honours_retry_after() -> None:
    policy = RetryPolicy(retries=3, backoff_base_s=1.0, backoff_max_s=4.0)
    assert [policy.backoff_s(n, rand=lambda: 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 4.0]
    assert [policy.backoff_s(n, rand=lambda: 0.0) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert policy.backoff_s(1, retry_after=3.0, rand=lambda: 0.0) == 3.0
    assert policy.backoff_s(1, retry_after=60.0) is None  # not worth waiting for within a request


def test_what_is_retried() -> None:
    assert all(retryable(e) for e in (RateLimited("x"), Overloaded("x"), UpstreamError("x"), UpstreamTimeout("x")))
    assert not retryable(InvalidRequest("x"))
    assert not retryable(ValueError("x"))


async def no_sleep(seconds: float) -> None:
    return None


async def two_deployments(upstream: Emulator, clock: Clock, *, failures: int = 2) -> Router:
    routes = Routes(
        retry=RetryPolicy(retries=0), breaker_failures=failures, breaker_cooldown_s=30.0, sleep=no_sleep, clock=clock
    )
    router = routes.router(
        "openai",
        [OpenAICompatProvider(provider_config("openai", f"{upstream.url}/{name}/v1")) for name in ("a", "b")],
    )
    await router.start()
    return router


def paths(upstream: Emulator) -> list[str]:
    return [r.path.split("/")[1] for r in upstream.requests]


async def test_an_open_breaker_skips_its_deployment_until_the_cooldown(upstream: Emulator) -> None:
    clock = Clock()
    router = await two_deployments(upstream, clock)
    a = router.deployments[0].breaker
    try:
        for _ in range(2):  # A fails, B answers: twice, and A's breaker opens
            upstream.queue(json_reply(FAIL, status=500), json_reply(OK))
            await router.complete(chat("hi"), GPT)
        assert (paths(upstream), a.state) == (["a", "b", "a", "b"], "open")

        upstream.queue(json_reply(OK))
        await router.complete(chat("hi"), GPT)
        assert paths(upstream)[4:] == ["b"]  # A is not called while open

        clock.now += 30.0  # cool-down over: A gets one trial, which fails, and re-opens
        upstream.queue(json_reply(FAIL, status=500), json_reply(OK))
        await router.complete(chat("hi"), GPT)
        assert (paths(upstream)[5:], a.state) == (["a", "b"], "open")

        clock.now += 30.0  # the next trial succeeds and closes it
        upstream.queue(json_reply(OK), json_reply(OK))
        await router.complete(chat("hi"), GPT)
        await router.complete(chat("hi"), GPT)
        assert (paths(upstream)[7:], a.state) == (["a", "a"], "closed")
    finally:
        await router.close()


async def test_when_every_breaker_is_open_nothing_is_called(upstream: Emulator) -> None:
    clock = Clock()
    router = await two_deployments(upstream, clock, failures=1)
    try:
        upstream.queue(json_reply(FAIL, status=500), json_reply(FAIL, status=502))
        with pytest.raises(UpstreamError):
            await router.complete(chat("hi"), GPT)
        clock.now += 10.0
        with pytest.raises(Overloaded) as caught:
            await router.complete(chat("hi"), GPT)
        assert (caught.value.status, caught.value.code) == (503, "upstream_unavailable")
        assert caught.value.headers == {"Retry-After": "20"}
        assert len(upstream.requests) == 2
    finally:
        await router.close()


async def test_a_client_error_is_neither_retried_nor_held_against_the_deployment(upstream: Emulator) -> None:
    clock = Clock()
    router = await two_deployments(upstream, clock, failures=1)
    bad = fixture_json("openai/error_bad_request.json")
    try:
        upstream.queue(json_reply(bad, status=400))
        with pytest.raises(InvalidRequest):
            await router.complete(chat("hi"), GPT)
        assert paths(upstream) == ["a"]
        assert router.deployments[0].breaker.state == "closed"
    finally:
        await router.close()
