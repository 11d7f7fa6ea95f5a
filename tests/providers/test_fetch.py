"""Fetching client URLs without SSRF: every refused address class, literal and resolved, IPv6 and
legacy numeric forms, internal names, redirects into refused space, size, time and type limits,
and Gemini inlining a fetched image.

No test sends a packet beyond 127.0.0.1: names are resolved by ``FakeResolver``, and the one
address ever connected to is the emulator's, exempted with ``FetchPolicy.exempt`` for the test.
Public addresses appear only as inputs to the classifier.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from tests.providers.emulators import Emulator, Reply, chat, json_reply, model_spec, provider_config, user
from tests.providers.resolvers import FakeResolver
from unigate.core.chat import ImagePart
from unigate.errors import InvalidRequest
from unigate.providers.fetch import Fetcher, FetchError, FetchPolicy, blocked_class, vet_url
from unigate.providers.gemini import GeminiProvider

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def case_id(value: object) -> str:
    """A test id without the word "local": ``-k "not local"`` skips the embedded model's tests,
    not these."""
    return re.sub("local", "lcl", str(value), flags=re.IGNORECASE)


LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


NAMES = {
    "images.test": ["127.0.0.1"],
    "internal.test": ["10.0.0.7"],
    "metadata.test": ["169.254.169.254"],
    "loop6.test": ["::1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "mixed.test": ["8.8.8.8", "192.168.0.10"],  # one refused address refuses the name
}


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    made = Fetcher(FetchPolicy(exempt=LOOPBACK, timeout_s=2.0, max_bytes=4096), resolver=FakeResolver(NAMES))
    await made.start()
    yield made
    await made.close()


def port(upstream: Emulator) -> int:
    return int(upstream.url.rsplit(":", 1)[1])


def image(body: bytes = PNG, content_type: str = "image/png", **options: object) -> Reply:
    return replace(Reply(body=body, content_type=content_type), **options)  # type: ignore[arg-type]


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status=status, content_type="text/plain", headers={"Location": location})


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456:789a::1", "private"),
        ("100.64.0.1", "shared"),
        ("100.127.255.254", "shared"),
        ("169.254.169.254", "link-local"),
        ("169.254.0.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("fec0::1", "site-local"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "reserved"),
        ("198.18.0.1", "reserved"),
        ("2001:db8::1", "reserved"),
        ("::ffff:127.0.0.1", "loopback (IPv4 in IPv6)"),
        ("::ffff:169.254.169.254", "link-local (IPv4 in IPv6)"),
        ("::ffff:10.0.0.1", "private (IPv4 in IPv6)"),
        ("64:ff9b::a9fe:a9fe", "link-local (IPv4 in IPv6)"),  # NAT64 of the metadata address
        ("2002:7f00:1::1", "loopback (IPv4 in IPv6)"),  # 6to4 of 127.0.0.1
    ],
    ids=case_id,
)
def test_every_non_public_class_is_refused(address: str, kind: str) -> None:
    assert blocked_class(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_class(ipaddress.ip_address(address)) is None  # classified only: never contacted


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.0.0.1:8080/admin",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.0.1/router.png",
        "http://100.64.1.1/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://0.0.0.0:8000/",
        "http://[::1]/",
        "http://[::]/",
        "http://[fe80::1%25eth0]/",
        "http://[fd00::5]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://224.0.0.251/",
    ],
)
def test_literal_refused_addresses(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        vet_url(url, FetchPolicy())
    assert caught.value.reason == "blocked"
    assert "address" in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # decimal 127.0.0.1
        "http://0x7f000001/",  # hex
        "http://017700000001/",  # octal
        "http://0x7f.0.0.1/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://127.0.0.1./",
        "http://169.254.43518/",  # 169.254.169.254 in two parts
        "http://ex%41mple.com/",
    ],
)
def test_non_canonical_hosts_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="not a canonical name or address"):
        vet_url(url, FetchPolicy())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://localhost/", "internal name"),
        ("http://LOCALHOST./", "internal name"),
        ("http://api.localhost/", "internal name"),
        ("http://metadata.google.internal/computeMetadata/v1/", "internal name"),
        ("http://metadata/", "internal name"),
        ("http://printer.local/", "internal name"),
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.com/a.png", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("http://user:secret@example.com/a.png", "credentials"),
    ],
    ids=case_id,
)
def test_internal_names_other_schemes_and_credentials_are_refused(url: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        vet_url(url, FetchPolicy())


async def test_a_public_looking_name_is_fetched(upstream: Emulator, fetcher: Fetcher) -> None:
    upstream.queue(image())
    got = await fetcher.fetch(f"http://images.test:{port(upstream)}/cat.png?size=1")
    assert (got.data, got.media_type) == (PNG, "image/png")
    sent = upstream.last
    assert (sent.method, sent.path, sent.query) == ("GET", "/cat.png", {"size": "1"})
    assert "cookie" not in sent.headers


@pytest.mark.parametrize("name", ["internal.test", "metadata.test", "loop6.test", "mapped.test", "mixed.test"])
async def test_names_that_resolve_to_refused_addresses(fetcher: Fetcher, name: str) -> None:
    strict = Fetcher(replace(fetcher.policy, exempt=()), resolver=FakeResolver(NAMES))
    await strict.start()
    try:
        with pytest.raises(FetchError) as caught:
            await strict.fetch(f"http://{name}/a.png")
    finally:
        await strict.close()
    assert caught.value.reason == "blocked"
    assert name in caught.value.message


async def test_loopback_by_name_is_refused_without_the_exemption(upstream: Emulator) -> None:
    strict = Fetcher(FetchPolicy(), resolver=FakeResolver(NAMES))
    await strict.start()
    try:
        with pytest.raises(FetchError, match=r"images.test \(127.0.0.1\) is a loopback address"):
            await strict.fetch(f"http://images.test:{port(upstream)}/cat.png")
    finally:
        await strict.close()
    assert upstream.requests == []


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://internal.test/",
        "http://127.0.0.2:{port}/cat.png",  # loopback, but not the exempted 127.0.0.1
        "http://localhost:{port}/cat.png",
        "http://[::1]:{port}/cat.png",
        "file:///etc/passwd",
    ],
    ids=case_id,
)
async def test_a_redirect_into_refused_space_is_refused(upstream: Emulator, fetcher: Fetcher, target: str) -> None:
    upstream.queue(redirect(target.format(port=port(upstream))), image())
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(f"http://images.test:{port(upstream)}/go")
    assert caught.value.reason == "blocked"
    assert len(upstream.requests) == 1  # the redirect target was never contacted


async def test_redirects_are_followed_a_few_times_only(upstream: Emulator, fetcher: Fetcher) -> None:
    base = f"http://images.test:{port(upstream)}"
    upstream.queue(redirect("/two", 301), redirect(f"{base}/three", 307), image())
    got = await fetcher.fetch(f"{base}/one")
    assert got.data == PNG
    assert [r.path for r in upstream.requests] == ["/one", "/two", "/three"]
    upstream.queue(*(redirect(f"/hop{i}") for i in range(4)))
    with pytest.raises(FetchError, match="redirected more than 3 times"):
        await fetcher.fetch(f"{base}/hop")


async def test_size_limit_by_header_and_by_counting(upstream: Emulator, fetcher: Fetcher) -> None:
    big = PNG + b"\x00" * 5000
    upstream.queue(image(big), image(chunks=(big[:3000], big[3000:])))
    url = f"http://images.test:{port(upstream)}/big.png"
    with pytest.raises(FetchError, match="larger than 4096 bytes") as declared:
        await fetcher.fetch(url)
    with pytest.raises(FetchError, match="larger than 4096 bytes") as streamed:
        await fetcher.fetch(url)
    assert declared.value.reason == streamed.value.reason == "too_large"


async def test_time_limit(upstream: Emulator) -> None:
    quick = Fetcher(FetchPolicy(exempt=LOOPBACK, timeout_s=0.2), resolver=FakeResolver(NAMES))
    await quick.start()
    upstream.queue(image(delay_s=2.0))
    try:
        with pytest.raises(FetchError, match=r"longer than 0\.2 s") as caught:
            await quick.fetch(f"http://images.test:{port(upstream)}/slow.png")
    finally:
        await quick.close()
    assert caught.value.reason == "timeout"


async def test_types_errors_and_sniffing(upstream: Emulator, fetcher: Fetcher) -> None:
    url = f"http://images.test:{port(upstream)}/x"
    upstream.queue(
        image(b"<html>login</html>", "text/html"),
        json_reply({"error": "nope"}, status=404),
        image(PNG, "application/octet-stream"),
        image(b"%PDF-1.4 ...", "application/pdf"),
    )
    with pytest.raises(FetchError, match="serves text/html") as html:
        await fetcher.fetch(url)
    assert html.value.reason == "unsupported_type"
    with pytest.raises(FetchError, match="HTTP 404"):
        await fetcher.fetch(url)
    assert (await fetcher.fetch(url)).media_type == "image/png"
    assert (await fetcher.fetch(url)).media_type == "application/pdf"


async def test_an_unresolvable_name_fails_cleanly(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="could not be fetched") as caught:
        await fetcher.fetch("http://nowhere.test/a.png")
    assert caught.value.reason == "failed"


# ---- Gemini, the provider that needs the bytes -------------------------------------------------


@pytest.fixture
async def gemini(upstream: Emulator, fetcher: Fetcher) -> AsyncIterator[GeminiProvider]:
    provider = GeminiProvider(provider_config("gemini", upstream.url), fetcher=fetcher)
    await provider.start()
    yield provider
    await provider.close()


GEMINI = model_spec("gemini", "gemini-2.5-flash")
ANSWER = {
    "candidates": [{"content": {"parts": [{"text": "A cat."}], "role": "model"}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 300, "candidatesTokenCount": 3, "totalTokenCount": 303},
}


async def test_gemini_gets_a_fetched_image_inline(upstream: Emulator, gemini: GeminiProvider) -> None:
    upstream.queue(image(), json_reply(ANSWER))
    url = f"http://images.test:{port(upstream)}/cat.png"
    result = await gemini.complete(chat(user("What is this?", ImagePart(url))), GEMINI)
    assert result.choices[0].content == "A cat."
    fetched, generate = upstream.requests
    assert fetched.path == "/cat.png"
    assert generate.body["contents"][0]["parts"][1] == {
        "inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}
    }


async def test_gemini_refuses_a_metadata_url_before_anything_is_sent(
    upstream: Emulator, gemini: GeminiProvider
) -> None:
    request = chat(user("What is this?", ImagePart("http://169.254.169.254/latest/meta-data/")))
    with pytest.raises(InvalidRequest) as checked:
        gemini.check(request, GEMINI)  # before the gateway reserves any credit
    err = checked.value
    assert (err.status, err.param, err.code) == (400, "messages[0].content[1]", "invalid_image_url")
    assert "link-local address" in err.message
    with pytest.raises(InvalidRequest):
        await gemini.complete(request, GEMINI)
    assert upstream.requests == []


async def test_gemini_reports_a_name_that_resolves_inward_as_a_bad_request(
    upstream: Emulator, gemini: GeminiProvider
) -> None:
    request = chat(user("Look", ImagePart("https://internal.test/cat.png")), stream=True)
    gemini.check(request, GEMINI)  # no DNS in check: the name itself is fine
    with pytest.raises(InvalidRequest, match=r"messages\[0\].content\[1\] cannot be used: .*private address"):
        async for _ in gemini.stream(request, GEMINI):
            pass
    assert upstream.requests == []
