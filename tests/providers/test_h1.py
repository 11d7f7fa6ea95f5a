"""The upstream HTTP/1.1 client (``providers/transport/h1.py``) against raw servers that frame answers exactly
as a test says: keep-alive reuse, every framing (length, chunked, the connection's end), gzip,
streams larger than the pause threshold, broken and invalid answers, timeouts, TLS."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from unigate.providers.transport import h1
from unigate.providers.transport.h1 import H1Transport as Client
from unigate.providers.transport.h1 import HttpFailure

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[bool]]
"""Gets one request (head and body) and answers it; returns whether to keep the connection."""


class RawServer:
    """An HTTP server written by hand, so that each test controls the bytes of every answer."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}/v1/chat?x=1"
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if not await self.handler(reader, writer, request):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[RawServer]]]:
    servers: list[RawServer] = []

    async def start(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> RawServer:
        servers.append(await RawServer(handler).start(ssl_context))
        return servers[-1]

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    c = Client(user_agent="unigate-test")
    yield c
    await c.close()


def answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\n{''.join(h + chr(13) + chr(10) for h in headers)}\r\n".encode() + body


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


async def post(client: Client, url: str, *, total_s: float = 5.0, read_s: float | None = None) -> tuple[int, bytes]:
    response = await client.post(
        url, {"Authorization": "Bearer k"}, b'{"a":1}', connect_s=2.0, total_s=total_s, read_s=read_s
    )
    try:
        return response.status, await response.read()
    finally:
        response.close()


def keep(data: bytes) -> Handler:
    async def handle(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: bytes) -> bool:
        writer.write(data)
        await writer.drain()
        return True

    return handle


def then_close(data: bytes) -> Handler:
    async def handle(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: bytes) -> bool:
        writer.write(data)
        await writer.drain()
        return False

    return handle


async def test_requests_reuse_one_kept_alive_connection(
    serve: Callable[..., Awaitable[RawServer]], client: Client
) -> None:
    server = await serve(keep(answer(b'{"ok":true}', "Content-Length: 11")))
    for _ in range(3):
        assert await post(client, server.url) == (200, b'{"ok":true}')
    assert server.connections == 1
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/chat?x=1 HTTP/1.1"
    assert set(lines[1:]) == {
        b"Host: " + server.url.split("/")[2].encode(),
        b"User-Agent: unigate-test",
        b"Authorization: Bearer k",
        b"Content-Length: 7",
    }
    assert body == b'{"a":1}'


async def test_an_answer_with_connection_close_is_not_reused(
    serve: Callable[..., Awaitable[RawServer]], client: Client
) -> None:
    server = await serve(then_close(answer(b"{}", "Content-Length: 2", "Connection: close")))
    assert await post(client, server.url) == (200, b"{}")
    assert await post(client, server.url) == (200, b"{}")
    assert server.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_replaced(
    serve: Callable[..., Awaitable[RawServer]], client: Client
) -> None:
    # Says keep-alive, then closes: a server's idle timeout.
    server = await serve(then_close(answer(b"{}", "Content-Length: 2")))
    assert await post(client, server.url) == (200, b"{}")
    await asyncio.sleep(0.05)
    assert await post(client, server.url) == (200, b"{}")
    assert server.connections == 2


async def test_a_connection_idle_too_long_is_not_reused(
    serve: Callable[..., Awaitable[RawServer]], client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await serve(keep(answer(b"{}", "Content-Length: 2")))
    monkeypatch.setattr(h1, "KEEPALIVE_S", 0.0)
    await post(client, server.url)
    await post(client, server.url)
    assert server.connections == 2


async def test_an_informational_answer_is_skipped(serve: Callable[..., Awaitable[RawServer]], client: Client) -> None:
    server = await serve(keep(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + answer(b"{}", "Content-Length: 2")))
    assert await post(client, server.url) == (200, b"{}")
    assert await post(client, server.url) == (200, b"{}")
    assert server.connections == 1


async def test_an_idle_connection_that_receives_data_is_dropped(
    serve: Callable[..., Awaitable[RawServer]], client: Client
) -> None:
    async def then_408(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: bytes) -> bool:
        writer.write(answer(b"{}", "Content-Length: 2"))
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(answer(b"", "Content-Length: 0", status="408 Request Timeout"))
        await asyncio.sleep(1.0)  # and leaves the connection open without reading from it
        return False

    server = await serve(then_408)
    assert await post(client, server.url) == (200, b"{}")
    await asyncio.sleep(0.1)
    assert await post(client, server.url, total_s=0.5) == (200, b"{}")  # not sent into the deaf connection
    assert server.connections == 2


async def test_a_chunked_stream_arrives_whole_and_in_order(
    serve: Callable[..., Awaitable[RawServer]], client: Client
) -> None:
    pieces = [b"data: %d\n\n" % i for i in range(50)] + [b"x" * 700_000] * 4  # past the pause threshold
    server = await serve(keep(answer(chunked(*pieces), "Transfer-Encoding: chunked")))
    response = await client.post(server.url, {}, b"{}", connect_s=2.0, total_s=5.0, read_s=2.0)
    stream = response.chunks()
    received = [await anext(stream)]
    await asyncio.sleep(0.2)  # a slow reader: the socket stops being read past the threshold
    assert response._conn.paused
    assert response._conn.buffered < 2 * h1._PAUSE_BYTES
    received += [piece async for piece in stream]
    response.close()
    assert b"".join(received) == b"".join(pieces)
    assert await post(client, server.url) == (200, b"".join(pieces))  # read whole, and kept alive
    assert server.connections == 1


async def test_a_body_that_ends_with_the_connection(serve: Callable[..., Awaitable[RawServer]], client: Client) -> None:
    server = await serve(then_close(answer(b"data: 1\n\ndata: 2\n\n", "Content-Type: text/event-stream")))
    assert await post(client, server.url) == (200, b"data: 1\n\ndata: 2\n\n")


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_a_body_cut_short_is_a_failure_mid_body(
    serve: Callable[..., Awaitable[RawServer]], client: Client, framing: str
) -> None:
    cut = (
        answer(b'{"par', "Content-Length: 20")
        if framing == "length"
        else answer(b'5\r\n{"par\r\n', "Transfer-Encoding: chunked")
    )

    server = await serve(then_close(cut))
    with pytest.raises(HttpFailure, match="broke off") as failure:
        await post(client, server.url)
    assert failure.value.mid_body


async def test_a_connection_closed_before_any_answer(
    serve: Callable[..., Awaitable[RawServer]], client: Client
) -> None:
    async def hang_up(_: asyncio.StreamReader, __: asyncio.StreamWriter, ___: bytes) -> bool:
        return False

    server = await serve(hang_up)
    with pytest.raises(HttpFailure, match="closed before an answer") as failure:
        await post(client, server.url)
    assert not failure.value.mid_body


async def test_an_answer_that_is_not_http(serve: Callable[..., Awaitable[RawServer]], client: Client) -> None:
    server = await serve(keep(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"))
    with pytest.raises(HttpFailure, match="not valid HTTP"):
        await post(client, server.url)


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_a_gzip_answer_is_decoded(
    serve: Callable[..., Awaitable[RawServer]], client: Client, framing: str
) -> None:
    text = b'{"choices":[]}' * 100
    packed = gzip.compress(text)
    framed = (
        answer(packed, "Content-Encoding: gzip", f"Content-Length: {len(packed)}")
        if framing == "length"
        else answer(chunked(packed[:10], packed[10:]), "Content-Encoding: gzip", "Transfer-Encoding: chunked")
    )
    server = await serve(keep(framed))
    assert await post(client, server.url) == (200, text)
    response = await client.post(server.url, {}, b"{}", connect_s=2.0, total_s=5.0, read_s=2.0)
    assert b"".join([piece async for piece in response.chunks()]) == text
    response.close()


async def test_an_unknown_content_encoding_is_refused(
    serve: Callable[..., Awaitable[RawServer]], client: Client
) -> None:
    server = await serve(keep(answer(b"xx", "Content-Encoding: br", "Content-Length: 2")))
    with pytest.raises(HttpFailure, match="unsupported content encoding 'br'"):
        await post(client, server.url)


async def test_an_answer_past_the_size_limit_is_refused(
    serve: Callable[..., Awaitable[RawServer]], client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(h1, "MAX_BODY_BYTES", 1000)
    server = await serve(keep(answer(chunked(b"x" * 800, b"y" * 800, b"z" * 800), "Transfer-Encoding: chunked")))
    with pytest.raises(HttpFailure, match="larger than 1000 bytes"):
        await post(client, server.url)


async def test_a_header_with_a_line_break_is_never_sent(client: Client) -> None:
    with pytest.raises(HttpFailure, match="line break"):
        await client.post("http://127.0.0.1:9/", {"X-Key": "a\r\nInjected: 1"}, b"", connect_s=1.0, total_s=1.0)


async def test_only_http_urls(client: Client) -> None:
    with pytest.raises(HttpFailure, match="not an http"):
        await client.post("ftp://example.com/x", {}, b"", connect_s=1.0, total_s=1.0)


async def test_waits_are_bounded(serve: Callable[..., Awaitable[RawServer]], client: Client) -> None:
    async def slow(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.3)
        writer.write(b"2\r\n{}\r\n0\r\n\r\n")
        return True

    server = await serve(slow)
    with pytest.raises(TimeoutError):  # a gap longer than read_s
        await post(client, server.url, read_s=0.1)
    with pytest.raises(TimeoutError):  # the whole exchange longer than total_s
        await post(client, server.url, total_s=0.1)
    assert await post(client, server.url, read_s=1.0) == (200, b"{}")


async def test_leaving_a_stream_early_drops_its_connection(
    serve: Callable[..., Awaitable[RawServer]], client: Client
) -> None:
    async def two_pieces(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: bytes) -> bool:
        writer.write(answer(b"2\r\n{}\r\n", "Transfer-Encoding: chunked"))
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"2\r\n{}\r\n0\r\n\r\n")
        return True

    server = await serve(two_pieces)
    response = await client.post(server.url, {}, b"{}", connect_s=2.0, total_s=5.0, read_s=2.0)
    async for _ in response.chunks():
        break
    response.close()  # the answer is not over: its connection cannot carry another
    assert await post(client, server.url) == (200, b"{}{}")
    assert server.connections == 2
    assert await post(client, server.url) == (200, b"{}{}")  # this one was read to its end: kept
    assert server.connections == 2


async def test_https_with_the_trusted_certificate(
    serve: Callable[..., Awaitable[RawServer]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(  # noqa: ASYNC221 - a second's set-up before the servers start
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server = await serve(keep(answer(b"{}", "Content-Length: 2")), server_context)

    untrusting = Client(user_agent="t")  # the system's trust store does not know this certificate
    with pytest.raises(HttpFailure, match=r"could not connect.*CERTIFICATE_VERIFY_FAILED"):
        await post(untrusting, server.url)
    await untrusting.close()

    trusting = Client(user_agent="t", ssl_context=ssl.create_default_context(cafile=str(cert)))
    assert await post(trusting, server.url) == (200, b"{}")
    assert await post(trusting, server.url) == (200, b"{}")
    await trusting.close()
    assert server.connections == 1  # kept alive (the refused handshake never reached the server's handler)

    # How an operator trusts a private CA (a vLLM behind its own certificate): OpenSSL's variable.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    by_environment = Client(user_agent="t")
    assert await post(by_environment, server.url) == (200, b"{}")
    await by_environment.close()


async def test_a_host_that_cannot_be_encoded_is_a_connect_failure(client: Client) -> None:
    with pytest.raises(HttpFailure, match="could not connect"):  # IDNA: a label longer than 63 characters
        await client.post(f"http://{'a' * 64}.example/v1", {}, b"", connect_s=1.0, total_s=1.0)
