"""What the gateway forwards upstream: only the adapter's own headers and our own key, never the
client's key, cookies, other credentials or hop-by-hop headers, whatever the client sends; and a
client's image URL fetched only for the provider that needs the bytes, only from public addresses,
without the client's headers."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.providers.emulators import (
    UPSTREAM_KEY,
    Emulator,
    EmulatorThread,
    Reply,
    fixture,
    fixture_json,
    json_reply,
    model_spec,
    provider_config,
    sse_reply,
)
from tests.providers.resolvers import FakeResolver
from tests.serving import Server, fake_settings
from unigate.core.provider import Provider
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.fetch import Fetcher, FetchPolicy
from unigate.providers.gemini import GeminiProvider
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.router import Routes

GPT = model_spec("openai", "gpt-4o", id="openai/gpt-4o")
CLAUDE = model_spec("anthropic", "claude-sonnet-4-5", id="anthropic/claude-sonnet-4.5", max_output=4096)
GEMINI = model_spec("gemini", "gemini-2.5-flash", id="google/gemini-2.5-flash")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32

CLIENT_HEADERS = {
    "Cookie": "session=client-cookie",
    "X-Api-Key": "client-x-api-key",
    "X-Goog-Api-Key": "client-goog-key",
    "Api-Key": "client-azure-key",
    "Proxy-Authorization": "Basic Y2xpZW50LXByb3h5",
    "Connection": "keep-alive, X-Client-Hop",
    "X-Client-Hop": "client-hop",
    "Keep-Alive": "timeout=5",
    "TE": "trailers",
    "Trailer": "X-Client-Trailer",
    "X-Forwarded-For": "10.9.8.7",
    "Forwarded": "for=10.9.8.7",
    "Via": "1.1 client-proxy",
    "OpenAI-Organization": "org-client",
    "Anthropic-Version": "2020-01-01",
    "User-Agent": "client-agent/1.0",
}
HOP_BY_HOP = {"connection", "keep-alive", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"}
COMMON = {"host", "user-agent", "accept", "accept-encoding", "content-type", "content-length"}
OWN_HEADERS = {
    GPT.id: {"authorization": f"Bearer {UPSTREAM_KEY}"},
    CLAUDE.id: {"x-api-key": UPSTREAM_KEY, "anthropic-version": "2023-06-01"},
    GEMINI.id: {"x-goog-api-key": UPSTREAM_KEY},
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The fetcher may reach the emulator (127.0.0.1, exempted for the test) by the name images.test.
    policy = FetchPolicy(exempt=(ipaddress.ip_network("127.0.0.1/32"),))
    resolver = FakeResolver({"images.test": ["127.0.0.1"], "intranet.test": ["192.168.1.20"]})
    routes = Routes()
    gemini = GeminiProvider(provider_config("gemini", upstream.url), fetcher=Fetcher(policy, resolver=resolver))
    providers: dict[str, Provider] = {
        "openai": routes.router("openai", [OpenAICompatProvider(provider_config("openai", upstream.url + "/v1"))]),
        "anthropic": routes.router("anthropic", [AnthropicProvider(provider_config("anthropic", upstream.url))]),
        "gemini": routes.router("gemini", [gemini]),
    }
    data_dir: Path = tmp_path_factory.mktemp("forwarding")
    running = Server(
        fake_settings(data_dir, management_key="mk-test"), models=[GPT, CLAUDE, GEMINI], providers=providers
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def account(server: Server) -> tuple[str, int]:
    return server.new_key(credits=100_000_000)


@pytest.fixture
def fresh(upstream: Emulator) -> Emulator:
    upstream.replies.clear()
    upstream.requests.clear()
    return upstream


REPLIES: dict[str, Reply] = {
    GPT.id: json_reply(fixture_json("openai/gpt4o_vision.json")),
    CLAUDE.id: json_reply(fixture_json("anthropic/message.json")),
    GEMINI.id: json_reply(fixture_json("gemini/generate_content.json")),
}
STREAMS: dict[str, Reply] = {
    GPT.id: sse_reply(fixture("openai/stream_gpt4o.sse")),
    CLAUDE.id: sse_reply(fixture("anthropic/stream_basic.sse")),
    GEMINI.id: sse_reply(fixture("gemini/stream_basic.sse")),
}


def post(server: Server, key: str, body: dict[str, Any]) -> httpx2.Response:
    headers = {**CLIENT_HEADERS, "Authorization": f"Bearer {key}"}
    with httpx2.Client(timeout=30) as http:
        return http.post(f"{server.url}/v1/chat/completions", json=body, headers=headers)


def assert_only_our_headers(sent: dict[str, str], key: str, own: dict[str, str]) -> None:
    leaked = [(k, v) for k, v in sent.items() if key in v or "client" in v.lower() or "10.9.8.7" in v]
    assert leaked == []
    assert set(sent) <= COMMON | set(own), set(sent) - COMMON - set(own)
    assert not set(sent) & HOP_BY_HOP
    assert {k: sent[k] for k in own} == own
    assert sent["user-agent"] == "unigate/0.1"


@pytest.mark.parametrize("model", [GPT.id, CLAUDE.id, GEMINI.id])
@pytest.mark.parametrize("stream", [False, True])
def test_only_our_own_headers_reach_the_upstream(
    server: Server, account: tuple[str, int], fresh: Emulator, model: str, stream: bool
) -> None:
    fresh.queue(STREAMS[model] if stream else REPLIES[model])
    r = post(server, account[0], {"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": stream})
    assert r.status_code == 200, r.text
    assert_only_our_headers(fresh.last.headers, account[0], OWN_HEADERS[model])


def test_an_image_url_is_passed_on_to_providers_that_fetch_it_themselves(
    server: Server, account: tuple[str, int], fresh: Emulator
) -> None:
    url = "http://images.test/cat.png"
    fresh.queue(REPLIES[CLAUDE.id], REPLIES[GPT.id])
    for model in (CLAUDE.id, GPT.id):
        content = [{"type": "text", "text": "What?"}, {"type": "image_url", "image_url": {"url": url}}]
        r = post(server, account[0], {"model": model, "messages": [{"role": "user", "content": content}]})
        assert r.status_code == 200, r.text
    anthropic, openai = fresh.requests
    assert anthropic.body["messages"][0]["content"][1]["source"] == {"type": "url", "url": url}
    assert openai.body["messages"][0]["content"][1]["image_url"] == {"url": url}
    assert len(fresh.requests) == 2  # nothing fetched by the gateway


def test_gemini_gets_the_image_fetched_without_the_clients_headers(
    server: Server, account: tuple[str, int], fresh: Emulator
) -> None:
    port = fresh.url.rsplit(":", 1)[1]
    fresh.queue(Reply(body=PNG, content_type="image/png"), REPLIES[GEMINI.id])
    content = [{"type": "image_url", "image_url": {"url": f"http://images.test:{port}/cat.png"}}]
    r = post(server, account[0], {"model": GEMINI.id, "messages": [{"role": "user", "content": content}]})
    assert r.status_code == 200, r.text
    fetched, generate = fresh.requests
    assert (fetched.method, fetched.path) == ("GET", "/cat.png")
    leaked = [(k, v) for k, v in fetched.headers.items() if account[0] in v or "client" in v.lower()]
    assert leaked == []
    assert set(fetched.headers) == {"host", "user-agent", "accept", "accept-encoding", "connection"}
    assert fetched.headers["connection"] == "close"  # ours: one connection per fetch (fetch.py)
    part = generate.body["contents"][0]["parts"][0]
    assert part == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local address"),
        ("http://[::ffff:127.0.0.1]:8080/", "loopback (IPv4 in IPv6) address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "internal name"),
        ("http://2130706433/", "not a canonical name or address"),
        ("https://intranet.test/logo.png", "private address"),  # only known after resolving
    ],
    ids=["metadata-ip", "mapped-loopback", "metadata-name", "decimal-ip", "private-by-dns"],
)
def test_gemini_refuses_inward_urls_with_a_400_naming_the_part(
    server: Server, account: tuple[str, int], fresh: Emulator, url: str, reason: str
) -> None:
    before = server.balance(account[1])
    content = [{"type": "text", "text": "Look"}, {"type": "image_url", "image_url": {"url": url}}]
    r = post(server, account[0], {"model": GEMINI.id, "messages": [{"role": "user", "content": content}]})
    assert r.status_code == 400
    error = r.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (
        "messages[0].content[1]",
        "invalid_image_url",
        "invalid_request_error",
    )
    assert reason in error["message"]
    assert fresh.requests == []  # neither the URL nor the upstream was contacted
    assert server.balance(account[1]) == before
