"""The media downloader: a URL's body as a ``Blob`` under the fetcher's rules (private addresses
refused, redirects vetted, a size limit per call), audio and video accepted and told apart by
their first bytes when the server does not say, and every refusal a 400 naming the field.

As in ``test_fetch.py``, no packet leaves 127.0.0.1: names resolve through ``FakeResolver`` and
the one address connected to is the emulator's, exempted for the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.providers.emulators import Emulator, json_reply
from tests.providers.resolvers import FakeResolver
from tests.providers.test_fetch import LOOPBACK, NAMES, PNG, image, port, redirect
from unigate.errors import InvalidRequest
from unigate.providers.download import FetchDownloader, download_policy, downloader_for
from unigate.providers.fetch import Fetcher
from unigate.providers.media_types import DOWNLOAD_TYPES, media_type, sniff
from unigate.settings import MediaSettings, Settings

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 40
LIMIT = 64 * 1024


@pytest.fixture
async def downloader() -> AsyncIterator[FetchDownloader]:
    policy = replace(download_policy(LIMIT), exempt=LOOPBACK, timeout_s=2.0)
    made = FetchDownloader(Fetcher(policy, resolver=FakeResolver(NAMES)))
    await made.start()
    yield made
    await made.close()


def url(upstream: Emulator, path: str = "/speech.wav") -> str:
    return f"http://images.test:{port(upstream)}{path}"


async def test_an_audio_url_becomes_a_blob(upstream: Emulator, downloader: FetchDownloader) -> None:
    upstream.queue(image(WAV, "audio/x-wav"))
    blob = await downloader.download(url(upstream, "/my%20speech.wav?sig=1"), max_bytes=LIMIT)
    assert (blob.data, blob.content_type, blob.filename) == (WAV, "audio/wav", "my speech.wav")
    assert "audio/wav" in upstream.last.headers["accept"]


@pytest.mark.parametrize(
    "target",
    ["http://internal.test/a.wav", "http://169.254.169.254/latest/meta-data/", "http://[::1]/a.wav"],
)
async def test_a_private_address_is_refused_naming_the_field(downloader: FetchDownloader, target: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await downloader.download(target, max_bytes=LIMIT, param="url")
    err = caught.value
    assert (err.status, err.param, err.code) == (400, "url", "invalid_url")
    assert err.message.startswith("The URL at url cannot be used: the URL's host")
    assert "address" in err.message


async def test_loopback_by_name_is_refused_and_never_contacted(upstream: Emulator) -> None:
    strict = FetchDownloader(Fetcher(download_policy(LIMIT), resolver=FakeResolver(NAMES)))
    await strict.start()
    try:
        with pytest.raises(InvalidRequest, match="loopback address") as caught:
            await strict.download(url(upstream), max_bytes=LIMIT)
    finally:
        await strict.close()
    assert caught.value.code == "invalid_url"
    assert upstream.requests == []


async def test_a_redirect_into_private_space_is_refused(upstream: Emulator, downloader: FetchDownloader) -> None:
    upstream.queue(redirect("http://internal.test/secret.wav"))
    with pytest.raises(InvalidRequest, match="private address") as caught:
        await downloader.download(url(upstream), max_bytes=LIMIT, param="image_url")
    assert caught.value.param == "image_url"
    assert len(upstream.requests) == 1


async def test_the_callers_size_limit_holds_by_header_and_by_counting(
    upstream: Emulator, downloader: FetchDownloader
) -> None:
    body = WAV + b"\x00" * 2000
    upstream.queue(image(body, "audio/wav"), image(body, "audio/wav", chunks=(body[:1000], body[1000:])))
    for _ in range(2):
        with pytest.raises(InvalidRequest, match="larger than 1024 bytes") as caught:
            await downloader.download(url(upstream), max_bytes=1024, param="url")
        assert caught.value.code == "file_too_large"
    upstream.queue(image(body, "audio/wav"))
    assert len((await downloader.download(url(upstream), max_bytes=len(body))).data) == len(body)


async def test_a_file_of_another_type_is_refused(upstream: Emulator, downloader: FetchDownloader) -> None:
    upstream.queue(image(b"<html>login</html>", "text/html"), image(b"\x1a\x45\xdf\xa3matroska", ""))
    with pytest.raises(InvalidRequest, match="serves text/html, not an image, PDF, audio or video") as html:
        await downloader.download(url(upstream), max_bytes=LIMIT, param="url")
    assert html.value.code == "unsupported_file_type"
    with pytest.raises(InvalidRequest, match="serves video/x-matroska"):
        await downloader.download(url(upstream), max_bytes=LIMIT)


async def test_unreachable_urls(upstream: Emulator, downloader: FetchDownloader) -> None:
    upstream.queue(json_reply({"error": "gone"}, status=404))
    with pytest.raises(InvalidRequest, match="HTTP 404") as answered:
        await downloader.download(url(upstream), max_bytes=LIMIT)
    with pytest.raises(InvalidRequest, match="could not be fetched") as unresolved:
        await downloader.download("http://nowhere.test/a.wav", max_bytes=LIMIT)
    assert answered.value.code == unresolved.value.code == "url_unreachable"


async def test_undeclared_types_are_sniffed(upstream: Emulator, downloader: FetchDownloader) -> None:
    upstream.queue(image(MP3, "application/octet-stream"), image(b"OggS\x00\x02" + b"\x00" * 30, "binary/octet-stream"))
    assert (await downloader.download(url(upstream), max_bytes=LIMIT)).content_type == "audio/mpeg"
    assert (await downloader.download(url(upstream), max_bytes=LIMIT)).content_type == "audio/ogg"
    upstream.queue(image(PNG, ""))
    assert (await downloader.download(url(upstream), max_bytes=LIMIT)).content_type == "image/png"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (WAV, "audio/wav"),
        (MP3, "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + b"\x00" * 8, "audio/mpeg"),  # an MPEG-1 layer III frame, no ID3 tag
        (b"\xff\xf1\x50\x80" + b"\x00" * 8, "audio/aac"),  # ADTS
        (b"OggS\x00\x02", "audio/ogg"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00", "audio/mp4"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "video/mp4"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),  # not mistaken for an MPEG frame
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", None),
        (b"<!doctype html>", None),
        (b"", None),
    ],
)
def test_sniffing(head: bytes, kind: str | None) -> None:
    assert sniff(head) == kind
    if kind is not None:
        assert kind in DOWNLOAD_TYPES


def test_declared_types_win_under_their_usual_names() -> None:
    assert media_type("audio/mp3; charset=binary", MP3) == "audio/mpeg"
    assert media_type("Audio/X-WAV", b"") == "audio/wav"
    assert media_type("text/html", WAV) == "text/html"  # declared: not second-guessed
    assert media_type(None, b"nothing known") is None


def test_the_settings_give_the_downloaders_limit(tmp_path: Path) -> None:
    made = downloader_for(Settings(data_dir=tmp_path, media=MediaSettings(max_download_bytes=12345)))
    assert made.fetcher.policy.max_bytes == 12345
    assert made.fetcher.policy.media_types == DOWNLOAD_TYPES
    assert made.fetcher.proxies is None  # direct and pinned unless UNIGATE_FETCH_VIA_PROXY
