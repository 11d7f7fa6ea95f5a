"""Fetching a URL that a client supplied (an ``image_url``, a job's input) or an upstream answered
with (a generated video to re-host), for whatever needs the bytes: under every rule of
``url_guard.py`` (public addresses only, pinned to the vetted one; no credentials, no internal
names; no proxy unless the operator asks), and these of its own:

* **Redirects** are followed by hand, at most ``max_redirects``, each hop vetted as the first URL.
* **Size**: ``max_bytes``. A larger ``Content-Length`` is refused before the body is read; a body
  is read in pieces and abandoned once over.
* **Time**. ``fetch`` holds a body whole: ``timeout_s`` bounds all of it, redirects included.
  ``stream`` passes a body on as it arrives, which for a large file may rightly take minutes, so
  one bound cannot serve: ``timeout_s`` still covers everything up to the first bytes (connect,
  redirects, headers, the bytes the type is sniffed from); then each read may wait ``idle_s`` at
  most, which ends a server gone quiet at once whatever the file's size, and the whole stream
  lives ``stream_timeout_s`` at most, which ends one that drips a byte at a time.
* **Types**: the policy's ``media_types``: images (JPEG, PNG, GIF, WebP, HEIC/HEIF) and PDF by
  default, audio and video too for the media endpoints (``media_types.py``), by ``Content-Type``;
  a missing or generic (``application/octet-stream``) type is sniffed from the first bytes.

Of the chat providers only Gemini needs the bytes (its ``fileData`` takes uploaded files, not web
URLs); OpenAI-compatible upstreams and Anthropic are sent the URL and fetch it themselves.
Failures raise ``FetchError`` with a ``reason``; the caller turns it into a 400 naming the field
(``messages[i].content[j]``, ``download.py``'s ``param``).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace

from aiohttp.abc import AbstractResolver
from yarl import URL

from unigate.providers.media_types import SNIFF_BYTES
from unigate.providers.media_types import media_type as sniffed_type
from unigate.providers.transport.base import HttpFailure, Request, Response
from unigate.providers.transport.proxy import Proxies, ProxyTransport
from unigate.providers.url_guard import (
    MEDIA_TYPES,
    FetchError,
    FetchPolicy,
    FetchReason,
    GuardedClient,
    GuardedResolver,
    blocked_class,
    guarded_transport,
    vet_url,
)

__all__ = [
    "MEDIA_TYPES",
    "FetchError",
    "FetchPolicy",
    "FetchReason",
    "Fetched",
    "Fetcher",
    "GuardedResolver",
    "Streamed",
    "blocked_class",
    "guarded_transport",
    "vet_url",
]

REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class Fetched:
    data: bytes
    media_type: str

    def data_uri(self) -> str:
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode()}"


@dataclass(frozen=True, slots=True)
class Streamed:
    """A body being fetched: its media type (from its first bytes if undeclared), its size when
    the server declared it, and its pieces, which raise ``FetchError`` when it outgrows the limit,
    breaks off or stalls."""

    media_type: str
    chunks: AsyncIterator[bytes]
    size: int | None = None


@contextmanager
def _failures(timed_out: str) -> Iterator[None]:
    """What a transport raises, as ``FetchError``; ``timed_out`` says which limit a timeout was."""
    try:
        yield
    except FetchError:
        raise
    except TimeoutError as exc:
        raise FetchError("timeout", timed_out) from exc
    except HttpFailure as exc:
        why = "the connection broke off" if exc.mid_body else "no connection"
        raise FetchError("failed", f"the URL could not be fetched ({why})") from exc
    except (OSError, ValueError) as exc:
        raise FetchError("failed", f"the URL could not be fetched ({type(exc).__name__})") from exc


def _too_large(max_bytes: int) -> FetchError:
    return FetchError("too_large", f"the file is larger than {max_bytes} bytes")


def _declared(headers: Mapping[str, str]) -> int | None:
    """The body's length as sent, if the server said (a decoded gzip body's is not known)."""
    length = headers.get("content-length", "")
    encoded = headers.get("content-encoding", "identity").lower() not in ("", "identity")
    return int(length) if length.isdigit() and not encoded else None


async def _read(resp: Response, max_bytes: int) -> bytes:
    body = bytearray()
    async for piece in resp.chunks():
        body += piece
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(body)


async def _head(pieces: AsyncIterator[bytes], max_bytes: int) -> bytes:
    """The first bytes of a stream, enough to sniff its type from (fewer if it is shorter)."""
    head = b""
    while len(head) < SNIFF_BYTES:
        piece = await anext(pieces, None)
        if piece is None:
            break
        head += piece
        if len(head) > max_bytes:
            raise _too_large(max_bytes)
    return head


async def _body(
    pieces: AsyncIterator[bytes], head: bytes, max_bytes: int, policy: FetchPolicy, deadline: float
) -> AsyncGenerator[bytes]:
    """``head``, then the rest of ``pieces``, each read within ``idle_s`` and all by ``deadline``."""
    loop = asyncio.get_running_loop()
    size = len(head)
    if head:
        yield head
    while True:
        quiet = loop.time() + policy.idle_s
        limit = f"the URL sent nothing for {policy.idle_s:g} s"
        if quiet >= deadline:
            limit = f"streaming the URL took longer than {policy.stream_timeout_s:g} s"
        with _failures(limit):
            async with asyncio.timeout_at(min(quiet, deadline)):
                piece = await anext(pieces, None)
        if piece is None:
            return
        size += len(piece)
        if size > max_bytes:
            raise _too_large(max_bytes)
        yield piece


class Fetcher:
    """A provider's (or the downloader's) means to fetch URLs under every rule of the module
    docstring: the policy and a ``GuardedClient`` (its vetting resolver and pinned transport),
    started and closed with its owner. ``proxies``: see ``GuardedClient``."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        resolver: AbstractResolver | None = None,
        proxies: Proxies | None = None,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self.client = GuardedClient(self.policy, resolver=resolver, proxies=proxies)

    @property
    def proxies(self) -> Proxies | None:
        return self.client.proxies

    @property
    def transport(self) -> ProxyTransport:
        return self.client.transport

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    def vet(self, url: str) -> None:
        """The checks that need no network, for a request's ``check`` (before credits are reserved)."""
        self.client.vet(url)

    async def fetch(self, url: str, *, max_bytes: int | None = None) -> Fetched:
        """The body and media type at ``url``, under every rule of the module docstring; at most
        ``max_bytes`` (default: the policy's)."""
        policy = self.policy
        limit = policy.max_bytes if max_bytes is None else max_bytes
        first = self.client.vet(url)
        whole = Request("GET", "", connect_s=policy.timeout_s, total_s=policy.timeout_s)
        with _failures(f"fetching the URL took longer than {policy.timeout_s:g} s"):
            async with asyncio.timeout(policy.timeout_s):
                resp = await self._answer(first, limit, whole)
                try:
                    data = await _read(resp, limit)
                finally:
                    resp.close()
        return Fetched(data, self._media_type(resp.headers, data[:SNIFF_BYTES]))

    @asynccontextmanager
    async def stream(self, url: str, *, max_bytes: int | None = None) -> AsyncIterator[Streamed]:
        """The body at ``url`` as it arrives, under the same rules as ``fetch`` and the stream's
        time limits (the module docstring); ``FetchError`` on entering for what its head shows,
        from ``chunks`` for what its body does. The response is closed when the context exits,
        however it exits (an error, a cancellation, a reader that stopped early)."""
        policy = self.policy
        limit = policy.max_bytes if max_bytes is None else max_bytes
        first = self.client.vet(url)
        deadline = asyncio.get_running_loop().time() + policy.stream_timeout_s
        streamed = Request("GET", "", connect_s=policy.timeout_s, total_s=policy.stream_timeout_s, read_s=policy.idle_s)
        resp: Response | None = None
        pieces: AsyncIterator[bytes] | None = None
        body: AsyncGenerator[bytes] | None = None
        try:
            with _failures(f"the URL sent no file within {policy.timeout_s:g} s"):
                async with asyncio.timeout(policy.timeout_s):
                    resp = await self._answer(first, limit, streamed)
                    pieces = resp.chunks()
                    head = await _head(pieces, limit)
            media_type = self._media_type(resp.headers, head)
            body = _body(pieces, head, limit, policy, deadline)
            yield Streamed(media_type, body, _declared(resp.headers))
        finally:
            if resp is not None:
                resp.close()  # first: a connection dropped mid-body tells the server we left
            for generator in (body, pieces):
                if isinstance(generator, AsyncGenerator):
                    await generator.aclose()

    async def _answer(self, url: URL, max_bytes: int, request: Request) -> Response:
        """The final answer's open response, redirects followed (each hop vetted), an error
        status or a declared size over ``max_bytes`` refused before its body is read."""
        for _ in range(self.policy.max_redirects + 1):
            resp = await self.client.send(replace(request, url=str(url)))
            try:
                target = self._redirect(resp, url, max_bytes)
            except BaseException:
                resp.close()
                raise
            if target is None:
                return resp
            resp.close()
            url = target
        raise FetchError("failed", f"the URL redirected more than {self.policy.max_redirects} times")

    def _redirect(self, resp: Response, url: URL, max_bytes: int) -> URL | None:
        """Where ``resp`` redirects to (vetted), or ``None`` for an answer whose body may be read."""
        if resp.status in REDIRECTS:
            location = resp.headers.get("location")
            if not location:
                raise FetchError("failed", f"the URL redirected (HTTP {resp.status}) without a Location")
            return self.client.vet(url.join(URL(location)))
        if resp.status >= 400:
            raise FetchError("failed", f"the URL answered HTTP {resp.status}")
        declared = _declared(resp.headers)
        if declared is not None and declared > max_bytes:
            raise _too_large(max_bytes)
        return None

    def _media_type(self, headers: Mapping[str, str], head: bytes) -> str:
        """The body's type, declared or sniffed from ``head``, if the policy accepts it."""
        media_type = sniffed_type(headers.get("content-type"), head[:SNIFF_BYTES])
        if media_type not in self.policy.media_types:
            accepted = "an image, PDF, audio or video" if self.policy.media_types - MEDIA_TYPES else "an image or PDF"
            served = media_type or "no declared type"
            raise FetchError("unsupported_type", f"the URL serves {served}, not {accepted}")
        return media_type
