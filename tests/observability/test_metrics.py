"""``GET /metrics``: the counters a request moves, scraped as Prometheus would."""

from __future__ import annotations

import re

import httpx2

from tests.serving import Server

MODEL = "fake/echo"


def _scrape(server: Server) -> dict[str, float]:
    r = httpx2.get(f"{server.url}/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def _delta(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


def _chat(server: Server, key: str, content: str, *, stream: bool = False) -> httpx2.Response:
    return httpx2.post(
        f"{server.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": MODEL, "messages": [{"role": "user", "content": content}], "max_tokens": 8, "stream": stream},
    )


def test_a_chat_request_moves_the_counters(server: Server) -> None:
    key, account = server.new_key(credits=1_000_000)
    before = _scrape(server)
    r = _chat(server, key, "one two three")
    assert r.status_code == 200
    credits = r.json()["meta"]["usage"]["credits_used"]
    r = _chat(server, key, "four five", stream=True)
    assert r.status_code == 200
    after = _scrape(server)

    route = 'route="/v1/chat/completions"'
    assert _delta(before, after, f'unigate_requests_total{{{route},status="200"}}') == 2
    assert _delta(before, after, f"unigate_request_duration_seconds_count{{{route}}}") == 2
    assert _delta(before, after, f'unigate_request_duration_seconds_bucket{{le="+Inf",{route}}}') == 2
    assert _delta(before, after, f'unigate_tokens_total{{kind="completion",model="{MODEL}"}}') == 5
    assert _delta(before, after, f'unigate_tokens_total{{kind="prompt",model="{MODEL}"}}') == 5
    ledger = sum(row[3] for row in server.usage_rows(account))
    assert _delta(before, after, f'unigate_credits_total{{model="{MODEL}"}}') == ledger > credits
    assert _delta(before, after, f'unigate_model_requests_total{{model="{MODEL}",status="ok"}}') == 2
    assert after["unigate_streams_in_flight"] == 0


def test_errors_are_counted_by_status_and_by_provider(server: Server) -> None:
    key, _ = server.new_key(credits=1_000_000)
    before = _scrape(server)
    assert _chat(server, key, "FAIL").status_code == 502
    assert _chat(server, "0" * 32, "hi").status_code == 401
    assert httpx2.get(f"{server.url}/no/such/path").status_code == 404
    after = _scrape(server)
    assert _delta(before, after, 'unigate_requests_total{route="/v1/chat/completions",status="502"}') == 1
    assert _delta(before, after, 'unigate_requests_total{route="/v1/chat/completions",status="401"}') == 1
    assert _delta(before, after, 'unigate_requests_total{route="unmatched",status="404"}') == 1
    assert _delta(before, after, 'unigate_upstream_errors_total{code="upstream_error",provider="fake"}') == 1
    assert _delta(before, after, f'unigate_model_requests_total{{model="{MODEL}",status="error"}}') == 1


def test_the_exposition_names_every_metric(server: Server) -> None:
    text = httpx2.get(f"{server.url}/metrics").text
    for name in (
        "unigate_requests_total",
        "unigate_request_duration_seconds",
        "unigate_model_requests_total",
        "unigate_tokens_total",
        "unigate_credits_total",
        "unigate_upstream_errors_total",
        "unigate_streams_in_flight",
    ):
        assert re.search(rf"^# TYPE {name} ", text, re.M), name
    assert "_created" not in text
