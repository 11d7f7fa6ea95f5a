"""The proxy transport against a forward proxy the test runs on 127.0.0.1: requests go through it
when ``HTTP_PROXY``/``HTTPS_PROXY`` is set (absolute-URI for http, a ``CONNECT`` tunnel for https,
credentials as ``Proxy-Authorization``) and straight to the upstream for ``NO_PROXY`` hosts; how
the variables are read; and the SSRF-safe fetcher, which keeps off the proxy unless told, and
then still vets what it can.

The upstreams are named ``*.test``: only the proxy's own table resolves them to the emulator, so
an answer proves the request went through the proxy.
"""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from yarl import URL

from tests.providers.emulators import (
    UPSTREAM_KEY,
    Emulator,
    Reply,
    chat,
    fixture,
    json_reply,
    model_spec,
    provider_config,
    sse_reply,
)
from tests.providers.resolvers import FakeResolver
from tests.providers.transport.forward_proxy import ForwardProxy
from unigate.core.results import ChoiceDelta
from unigate.errors import UpstreamError
from unigate.providers.fetch import Fetcher, FetchError, FetchPolicy
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.transport import build_transport
from unigate.providers.transport.proxy import Proxies, ProxyTransport

GPT = model_spec("openai", "gpt-4o")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    made = ForwardProxy({"upstream.test": "127.0.0.1", "images.test": "127.0.0.1", "elsewhere.test": "127.0.0.1"})
    await made.start()
    yield made
    await made.close()


def port(emulator: Emulator) -> int:
    return int(emulator.url.rsplit(":", 1)[1])


async def openai_via(transport: ProxyTransport, base_url: str) -> OpenAICompatProvider:
    provider = OpenAICompatProvider(provider_config("openai", base_url), transport=transport)
    await provider.start()
    return provider


async def test_http_proxy_carries_completions_and_streams(upstream: Emulator, proxy: ForwardProxy) -> None:
    transport = build_transport(env={"HTTP_PROXY": proxy.url})
    assert isinstance(transport, ProxyTransport)  # auto: a proxy variable is set
    base = f"http://upstream.test:{port(upstream)}/v1"
    provider = await openai_via(transport, base)
    upstream.queue(json_reply(fixture("openai/tool_calls.json")), sse_reply(fixture("openai/stream_gpt4o.sse")))
    try:
        result = await provider.complete(chat("Hi"), GPT)
        events = [e async for e in provider.stream(chat("Hi"), GPT)]
    finally:
        await provider.close()
    assert result.choices[0].finish_reason == "tool_calls"
    assert [e.finish_reason for e in events if isinstance(e, ChoiceDelta) and e.finish_reason] == ["stop"]
    assert proxy.seen == [f"POST {base}/chat/completions"] * 2
    assert [(r.path, r.headers["authorization"]) for r in upstream.requests] == [
        ("/v1/chat/completions", f"Bearer {UPSTREAM_KEY}")
    ] * 2


async def test_no_proxy_hosts_are_reached_directly(upstream: Emulator, proxy: ForwardProxy) -> None:
    direct = build_transport(env={"HTTP_PROXY": proxy.url, "NO_PROXY": "example.com, 127.0.0.1"})
    proxied = build_transport(env={"HTTP_PROXY": proxy.url, "NO_PROXY": "example.com"})
    assert isinstance(direct, ProxyTransport)
    assert isinstance(proxied, ProxyTransport)
    upstream.queue(json_reply(fixture("openai/tool_calls.json")), json_reply(fixture("openai/tool_calls.json")))
    for transport in (direct, proxied):
        provider = await openai_via(transport, f"{upstream.url}/v1")
        try:
            await provider.complete(chat("Hi"), GPT)
        finally:
            await provider.close()
    assert proxy.seen == [f"POST {upstream.url}/v1/chat/completions"]  # the second one only
    assert len(upstream.requests) == 2


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


async def test_https_goes_through_a_connect_tunnel_with_credentials(tmp_path: Path) -> None:
    key, cert = certificate(tmp_path, "upstream.test")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    upstream = Emulator()
    await upstream.start(server_context)
    proxy = ForwardProxy({"upstream.test": "127.0.0.1"}, credentials=("ops", "s3cret"))
    await proxy.start()
    proxy_url = URL(proxy.url).with_user("ops").with_password("s3cret")
    transport = ProxyTransport(
        Proxies.from_env({"https_proxy": str(proxy_url)}), ssl_context=ssl.create_default_context(cafile=str(cert))
    )
    provider = await openai_via(transport, f"https://upstream.test:{port(upstream)}/v1")
    upstream.queue(json_reply(fixture("openai/tool_calls.json")))
    try:
        result = await provider.complete(chat("Hi"), GPT)
    finally:
        await provider.close()
        await proxy.close()
        await upstream.close()
    assert result.choices[0].finish_reason == "tool_calls"
    assert proxy.seen == [f"CONNECT upstream.test:{port(upstream)}"]
    assert b"\r\nProxy-Authorization: Basic b3BzOnMzY3JldA==\r\n" in proxy.heads[0]  # ops:s3cret
    assert upstream.last.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert UPSTREAM_KEY.encode() not in proxy.tunnelled  # TLS end to end: the proxy never sees the key
    assert "proxy-authorization" not in upstream.last.headers


async def test_a_proxy_that_refuses_is_a_typed_error() -> None:
    proxy = ForwardProxy(credentials=("ops", "right"))
    await proxy.start()
    transport = ProxyTransport(Proxies(https=proxy.url))
    provider = await openai_via(transport, "https://upstream.test/v1")
    try:
        with pytest.raises(UpstreamError, match=r"Could not reach the openai provider.*through the proxy") as failed:
            await provider.complete(chat("Hi"), GPT)
    finally:
        await provider.close()
        await proxy.close()
    assert failed.value.status == 502
    assert proxy.seen == ["CONNECT upstream.test:443"]


@pytest.mark.parametrize(
    ("env", "http", "https"),
    [
        ({"HTTPS_PROXY": "http://p:3128"}, None, "http://p:3128"),
        ({"http_proxy": "http://low:1", "HTTP_PROXY": "http://up:1"}, "http://low:1", None),
        ({"ALL_PROXY": "p:8080", "HTTPS_PROXY": "https://s:8443"}, "http://p:8080", "https://s:8443"),
        ({"HTTPS_PROXY": " ", "NO_PROXY": "*"}, None, None),
    ],
)
def test_the_variables(env: dict[str, str], http: str | None, https: str | None) -> None:
    proxies = Proxies.from_env(env)
    assert (proxies.http, proxies.https) == (http, https)


def test_socks_proxies_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match=r"ALL_PROXY='socks5://p:1080': only http:// and https://"):
        Proxies.from_env({"ALL_PROXY": "socks5://p:1080"})
    assert Proxies.from_env({"ALL_PROXY": "socks5://p:1080", "HTTPS_PROXY": "http://p", "HTTP_PROXY": "http://p"})


@pytest.mark.parametrize(
    ("url", "no_proxy", "direct"),
    [
        ("https://api.example.com/v1", "example.com", True),
        ("https://api.example.com/v1", ".example.com", True),
        ("https://api.example.com/v1", "*.example.com", True),
        ("https://example.com/v1", "example.com", True),
        ("https://badexample.com/v1", "example.com", False),
        ("https://api.example.com/v1", "*", True),
        ("http://10.1.2.3:8000/v1", "10.0.0.0/8", True),
        ("http://10.1.2.3:8000/v1", "10.1.2.3", True),
        ("http://10.1.2.3:8000/v1", "10.1.2.3:9000", False),
        ("http://10.1.2.3:8000/v1", "10.1.2.3:8000", True),
        ("http://[fd00::5]:8000/v1", "fd00::/8", True),
        ("http://[fd00::5]:8000/v1", "[fd00::5]:8000", True),
        ("http://vllm.internal:8000/v1", "example.com, vllm.internal", True),
        ("http://vllm.internal:8000/v1", "", False),
    ],
)
def test_no_proxy_rules(url: str, no_proxy: str, direct: bool) -> None:
    proxies = Proxies.from_env({"ALL_PROXY": "http://p:3128", "NO_PROXY": no_proxy})
    assert (proxies.for_url(URL(url)) is None) is direct


# ---- the SSRF-safe fetcher -----------------------------------------------------------------------

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)
NAMES = {
    "images.test": ["93.184.216.34"],  # public for our check; the proxy alone connects (to the emulator)
    "internal.test": ["10.0.0.7"],
    "direct.test": ["127.0.0.1"],
    "proxy.test": ["127.0.0.1"],
}


def image() -> Reply:
    return Reply(body=PNG, content_type="image/png")


async def fetch(fetcher: Fetcher, url: str) -> bytes:
    await fetcher.start()
    try:
        return (await fetcher.fetch(url)).data
    finally:
        await fetcher.close()


async def test_the_fetcher_ignores_the_proxy_variables(
    upstream: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    upstream.queue(image())
    fetcher = Fetcher(FetchPolicy(exempt=LOOPBACK), resolver=FakeResolver({"images.test": ["127.0.0.1"]}))
    assert await fetch(fetcher, f"http://images.test:{port(upstream)}/cat.png") == PNG
    assert proxy.seen == []  # direct, pinned to the vetted address


async def test_the_fetcher_through_the_proxy_still_vets_what_it_can(upstream: Emulator, proxy: ForwardProxy) -> None:
    resolver = FakeResolver(NAMES)
    via = Proxies(http=f"http://proxy.test:{URL(proxy.url).port}", no_proxy=("direct.test",))
    upstream.queue(image(), image(), image())

    def fetcher(policy: FetchPolicy | None = None) -> Fetcher:
        return Fetcher(policy or FetchPolicy(), resolver=resolver, proxies=via)

    # A name that resolves here to public addresses: through the proxy (whose own name is trusted).
    assert await fetch(fetcher(), f"http://images.test:{port(upstream)}/cat.png") == PNG
    # A name that does not resolve here: the proxy's to resolve and to judge.
    assert await fetch(fetcher(), f"http://elsewhere.test:{port(upstream)}/cat.png") == PNG
    assert proxy.seen == [
        f"GET http://images.test:{port(upstream)}/cat.png",
        f"GET http://elsewhere.test:{port(upstream)}/cat.png",
    ]
    # A name that resolves here to a private address, and a private literal: refused before the proxy.
    for url in ("http://internal.test/a.png", "http://10.0.0.7/a.png"):
        with pytest.raises(FetchError, match="private address") as refused:
            await fetch(fetcher(), url)
        assert refused.value.reason == "blocked"
    # A NO_PROXY host: direct and pinned, so loopback is refused unless exempted.
    with pytest.raises(FetchError, match=r"direct.test \(127.0.0.1\) is a loopback address"):
        await fetch(fetcher(), f"http://direct.test:{port(upstream)}/cat.png")
    assert await fetch(fetcher(FetchPolicy(exempt=LOOPBACK)), f"http://direct.test:{port(upstream)}/c.png") == PNG
    assert len(proxy.seen) == 2
    assert [r.path for r in upstream.requests] == ["/cat.png", "/cat.png", "/c.png"]
