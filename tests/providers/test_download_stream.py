"""The streamed downloader (``FetchDownloader.open`` over ``Fetcher.stream``): a body passed on in
pieces as it arrives, under the fetcher's rules (private addresses and redirects into them
refused, a size limit by header and by counting, types sniffed from the first bytes) and its
stream's time limits (an idle limit per read, a total), every refusal a 400 with its code, raised
on entering for what the head shows and from ``chunks`` for what the body does; and the response
closed however the reader leaves.

As in ``test_fetch.py``, no packet leaves 127.0.0.1: names resolve through ``FakeResolver`` and the
one address connected to is the emulator's, exempted for the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from tests.providers.emulators import Emulator, json_reply
from tests.providers.resolvers import FakeResolver
from tests.providers.test_fetch import LOOPBACK, NAMES, image, port, redirect
from unigate.core.files import Download
from unigate.errors import InvalidRequest
from unigate.providers.download import FetchDownloader, download_policy
from unigate.providers.fetch import Fetcher, FetchPolicy

MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00" + b"\x00" * 48
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + b"\x00" * 40
LIMIT = 4 * 1024 * 1024


def make(policy: FetchPolicy) -> FetchDownloader:
    return FetchDownloader(Fetcher(policy, resolver=FakeResolver(NAMES)))


def policy(*, timeout_s: float = 2.0, idle_s: float = 2.0, stream_timeout_s: float = 5.0) -> FetchPolicy:
    return replace(
        download_policy(LIMIT), exempt=LOOPBACK, timeout_s=timeout_s, idle_s=idle_s, stream_timeout_s=stream_timeout_s
    )


@pytest.fixture
async def downloader() -> AsyncIterator[FetchDownloader]:
    made = make(policy())
    await made.start()
    yield made
    await made.close()


def url(upstream: Emulator, path: str = "/clip.mp4") -> str:
    return f"http://images.test:{port(upstream)}{path}"


async def pieces(download: Download) -> list[bytes]:
    return [piece async for piece in download.chunks]


async def collect(download: Download, into: list[bytes]) -> None:
    """The pieces into ``into`` until the end or an error (what arrived before it stays there)."""
    async for piece in download.chunks:
        into.append(piece)


def video(size: int, pieces: int, **options: object) -> tuple[bytes, object]:
    """An MP4 body of ``size`` bytes, and its reply sent in ``pieces`` chunks."""
    body = MP4 + bytes(i % 251 for i in range(size - len(MP4)))
    step = -(-len(body) // pieces)
    chunks = tuple(body[i : i + step] for i in range(0, len(body), step))
    return body, image(body, "video/mp4", chunks=chunks, **options)


async def test_a_large_body_arrives_in_pieces_as_it_is_sent(upstream: Emulator, downloader: FetchDownloader) -> None:
    body, reply = video(2 * 1024 * 1024, 8, chunk_delay_s=0.05)
    upstream.queue(reply)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    async with downloader.open(url(upstream, "/out/my%20clip.mp4?sig=1"), max_bytes=LIMIT) as download:
        assert (download.content_type, download.filename, download.size) == ("video/mp4", "my clip.mp4", None)
        got, times = [], []
        async for piece in download.chunks:
            got.append(piece)
            times.append(loop.time())
    assert b"".join(got) == body
    assert len(got) >= 8
    assert times[-1] - times[0] >= 0.25  # the first pieces were passed on while the server still sent


async def test_a_declared_length_is_the_size(upstream: Emulator, downloader: FetchDownloader) -> None:
    upstream.queue(image(MP4, "video/mp4"))
    async with downloader.open(url(upstream), max_bytes=LIMIT) as download:
        assert download.size == len(MP4)
        assert b"".join(await pieces(download)) == MP4


@pytest.mark.parametrize(
    "target", ["http://internal.test/a.mp4", "http://169.254.169.254/latest/meta-data/", "http://[::1]/a.mp4"]
)
async def test_a_private_address_is_refused_on_entering(downloader: FetchDownloader, target: str) -> None:
    with pytest.raises(InvalidRequest, match="address") as caught:
        async with downloader.open(target, max_bytes=LIMIT):
            raise AssertionError("entered")
    assert (caught.value.status, caught.value.code) == (400, "invalid_url")


async def test_loopback_by_name_is_refused_and_never_contacted(upstream: Emulator) -> None:
    strict = make(download_policy(LIMIT))
    await strict.start()
    try:
        with pytest.raises(InvalidRequest, match="loopback address"):
            async with strict.open(url(upstream), max_bytes=LIMIT):
                raise AssertionError("entered")
    finally:
        await strict.close()
    assert upstream.requests == []


async def test_redirects_are_vetted_hop_by_hop(upstream: Emulator, downloader: FetchDownloader) -> None:
    upstream.queue(redirect("/moved.mp4", 307), image(MP4, "video/mp4"), redirect("http://internal.test/x.mp4"))
    async with downloader.open(url(upstream), max_bytes=LIMIT) as download:
        assert b"".join(await pieces(download)) == MP4
    assert [r.path for r in upstream.requests] == ["/clip.mp4", "/moved.mp4"]
    with pytest.raises(InvalidRequest, match="private address") as caught:
        async with downloader.open(url(upstream), max_bytes=LIMIT):
            raise AssertionError("entered")
    assert caught.value.code == "invalid_url"
    assert len(upstream.requests) == 3  # internal.test never contacted


async def test_a_declared_length_over_the_limit_is_refused_on_entering(
    upstream: Emulator, downloader: FetchDownloader
) -> None:
    upstream.queue(image(MP4 + b"\x00" * 2000, "video/mp4"))
    with pytest.raises(InvalidRequest, match="larger than 1024 bytes") as caught:
        async with downloader.open(url(upstream), max_bytes=1024):
            raise AssertionError("entered")
    assert caught.value.code == "file_too_large"


async def test_an_undeclared_body_that_outgrows_the_limit_fails_from_its_chunks(
    upstream: Emulator, downloader: FetchDownloader
) -> None:
    body, reply = video(10_000, 10, chunk_delay_s=0.02)  # apart, so that the first pieces fit
    upstream.queue(reply)  # type: ignore[arg-type]
    got: list[bytes] = []
    async with downloader.open(url(upstream), max_bytes=4096) as download:
        assert download.size is None
        with pytest.raises(InvalidRequest, match="larger than 4096 bytes") as caught:
            await collect(download, got)
    assert caught.value.code == "file_too_large"
    assert 0 < sum(map(len, got)) <= 4096  # what was passed on stayed within the limit
    assert body.startswith(b"".join(got))


async def test_types_are_checked_and_sniffed_from_the_first_bytes(
    upstream: Emulator, downloader: FetchDownloader
) -> None:
    split = (WEBM[:5], WEBM[5:20], WEBM[20:])  # the type shows only once several pieces are in
    upstream.queue(image(b"<html>login</html>", "text/html"), image(WEBM, "application/octet-stream", chunks=split))
    with pytest.raises(InvalidRequest, match="serves text/html") as html:
        async with downloader.open(url(upstream), max_bytes=LIMIT):
            raise AssertionError("entered")
    assert html.value.code == "unsupported_file_type"
    async with downloader.open(url(upstream), max_bytes=LIMIT) as download:
        assert download.content_type == "video/webm"
        assert b"".join(await pieces(download)) == WEBM


async def test_an_error_status_is_refused_on_entering(upstream: Emulator, downloader: FetchDownloader) -> None:
    upstream.queue(json_reply({"error": "expired"}, status=403))
    with pytest.raises(InvalidRequest, match="HTTP 403") as caught:
        async with downloader.open(url(upstream), max_bytes=LIMIT):
            raise AssertionError("entered")
    assert caught.value.code == "url_unreachable"


@pytest.mark.parametrize("end", ["truncate", "reset"])
async def test_a_body_that_breaks_off_fails_from_its_chunks(
    upstream: Emulator, downloader: FetchDownloader, end: str
) -> None:
    _, reply = video(50_000, 5, end=end)
    upstream.queue(reply)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="broke off") as caught:
        async with downloader.open(url(upstream), max_bytes=LIMIT) as download:
            await pieces(download)
    assert caught.value.code == "url_unreachable"


async def test_a_slow_head_is_a_timeout_on_entering(upstream: Emulator) -> None:
    quick = make(policy(timeout_s=0.2))
    await quick.start()
    upstream.queue(image(MP4, "video/mp4", delay_s=2.0))
    try:
        with pytest.raises(InvalidRequest, match=r"no file within 0\.2 s") as caught:
            async with quick.open(url(upstream), max_bytes=LIMIT):
                raise AssertionError("entered")
    finally:
        await quick.close()
    assert caught.value.code == "url_timeout"


async def test_a_body_that_goes_quiet_or_drips_past_the_total_times_out(upstream: Emulator) -> None:
    quick = make(policy(idle_s=0.2, stream_timeout_s=0.6))
    await quick.start()
    _, quiet = video(2000, 2, chunk_delay_s=1.0)  # a gap longer than idle_s
    _, dripping = video(2000, 40, chunk_delay_s=0.05)  # never idle, but 2 s in all
    upstream.queue(quiet, dripping)  # type: ignore[arg-type]
    try:
        with pytest.raises(InvalidRequest, match=r"sent nothing for 0\.2 s") as idle:
            async with quick.open(url(upstream), max_bytes=LIMIT) as download:
                await pieces(download)
        with pytest.raises(InvalidRequest, match=r"took longer than 0\.6 s") as total:
            async with quick.open(url(upstream), max_bytes=LIMIT) as download:
                await pieces(download)
    finally:
        await quick.close()
    assert idle.value.code == total.value.code == "url_timeout"


async def wait_for_disconnect(upstream: Emulator) -> None:
    """Until the emulator sees the client leave (it records the time, as in ``test_routing.py``)."""
    for _ in range(200):  # 2 s at most
        if upstream.disconnected_at is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the server never saw the client leave")


async def test_a_reader_that_stops_early_closes_the_response(upstream: Emulator, downloader: FetchDownloader) -> None:
    upstream.queue(image(MP4, "video/mp4", chunks=(MP4,), end="hang"))
    async with downloader.open(url(upstream), max_bytes=LIMIT) as download:
        assert await anext(download.chunks) == MP4
    await wait_for_disconnect(upstream)  # the server saw us leave: the connection was dropped


async def test_a_cancelled_reader_closes_the_response(upstream: Emulator, downloader: FetchDownloader) -> None:
    upstream.queue(image(MP4, "video/mp4", chunks=(MP4,), end="hang"))
    started = asyncio.Event()

    async def reader() -> None:
        async with downloader.open(url(upstream), max_bytes=LIMIT) as download:
            async for _ in download.chunks:
                started.set()

    task = asyncio.create_task(reader())
    await asyncio.wait_for(started.wait(), 2.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for_disconnect(upstream)
