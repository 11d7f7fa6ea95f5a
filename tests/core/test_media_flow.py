"""The media flow's money and files: what is reserved, what is settled, what is stored and what
is cleaned up, for each way a media request can end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.core.media_doubles import MemoryMediaStore, TableDownloader
from unigate.accounts.store import ApiKey, KeySettings
from unigate.accounts.usage import UsageQuery
from unigate.catalog.catalog import Catalog
from unigate.catalog.spec import ModelSpec
from unigate.core.gateway import Gateway
from unigate.core.media import Blob, ImageRequest, OcrRequest, Source, SpeechRequest, TranscriptionRequest
from unigate.core.media_flow import MediaGateway
from unigate.core.services import Capabilities, Service, Services
from unigate.errors import InsufficientCredits, InvalidRequest, ModelUnavailable, PermissionDenied, UpstreamError
from unigate.providers.fake_media import FAKE_MEDIA_MODELS, FAKE_URL, FakeMedia, png
from unigate.storage.sqlite.store import SqliteStore

pytestmark = pytest.mark.asyncio

UNAVAILABLE = ModelSpec(
    id="vendor/secret-image",
    provider="",
    upstream_model="",
    price=FAKE_MEDIA_MODELS[0].price,
    type="image",
    unavailable="its developer offers no public API",
)


class Harness:
    def __init__(self, store: SqliteStore, media: MediaGateway, fake: FakeMedia, files: MemoryMediaStore) -> None:
        self.store, self.media, self.fake, self.files = store, media, fake, files

    async def key(self, credits: int = 1_000_000, scopes: tuple[str, ...] = ()) -> ApiKey:
        account = await self.store.create_account(name="t", credits=credits)
        key, _ = await self.store.create_key(account_id=account, name="t", settings=KeySettings(scopes=scopes))
        return key

    async def balance(self, key: ApiKey) -> int:
        return await self.store.balance(key.account_id)

    async def rows(self, key: ApiKey) -> list[tuple[Any, ...]]:
        rows = await self.store.usage(UsageQuery(account_id=key.account_id))
        return [(r.model, r.credits, r.status) for r in reversed(rows)]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    store = SqliteStore(tmp_path / "media.db")
    await store.open()
    fake = FakeMedia()
    capabilities = Capabilities(images=fake, speech=fake, transcription=fake, ocr=fake)
    services = Services([Service("fake", capabilities.modalities(), capabilities)])
    gateway = Gateway(catalog=Catalog([*FAKE_MEDIA_MODELS, UNAVAILABLE]), services=services, store=store)
    files = MemoryMediaStore()
    downloader = TableDownloader({FAKE_URL: Blob(png(4, 4), "image/png")})
    media = MediaGateway(gateway, files, downloader, max_download_bytes=1 << 20)
    yield Harness(store, media, fake, files)
    await store.close()


def _wav(seconds: float) -> Blob:
    from unigate.providers.fake_media import wav_header

    frames = int(16_000 * seconds)
    return Blob(wav_header(frames) + b"\x00\x00" * frames, "audio/wav", "a.wav")


async def test_images_are_stored_and_charged_per_image(harness: Harness) -> None:
    key = await harness.key()
    images, charge = await harness.media.images(ImageRequest("fake/image", "a cat", count=3), key)
    assert charge.credits == 3_000
    assert [i.file is not None for i in images] == [True, True, True]
    assert len(harness.files.files) == 3
    assert all(f.owner == str(key.account_id) for f, _ in harness.files.files.values())
    assert await harness.balance(key) == 1_000_000 - 3_000
    assert await harness.rows(key) == [("fake/image", 3_000, "ok")]


async def test_the_variant_prices_an_image(harness: Harness) -> None:
    key = await harness.key()
    _, charge = await harness.media.images(ImageRequest("fake/image", "a cat", quality="hd"), key)
    assert charge.credits == 2_000


async def test_b64_json_is_inline_and_stores_nothing(harness: Harness) -> None:
    key = await harness.key()
    images, _ = await harness.media.images(ImageRequest("fake/image", "a cat"), key, response_format="b64_json")
    assert images[0].b64_json
    assert images[0].file is None
    assert harness.files.files == {}


async def test_an_upstream_url_is_fetched_and_rehosted(harness: Harness) -> None:
    key = await harness.key()
    images, _ = await harness.media.images(ImageRequest("fake/image", "URL", count=2), key)
    assert [i.file is not None for i in images] == [True, True]
    assert harness.media.downloader.asked == [FAKE_URL, FAKE_URL]  # type: ignore[attr-defined]


async def test_a_failed_upstream_charges_nothing(harness: Harness) -> None:
    key = await harness.key()
    with pytest.raises(UpstreamError):
        await harness.media.images(ImageRequest("fake/image", "FAIL"), key)
    assert await harness.balance(key) == 1_000_000
    assert await harness.rows(key) == [("fake/image", 0, "error")]


async def test_a_store_failure_midway_leaves_no_file_and_no_charge(harness: Harness) -> None:
    key = await harness.key()
    harness.files.fail_puts_after = 1
    with pytest.raises(OSError, match="disk is full"):
        await harness.media.images(ImageRequest("fake/image", "a cat", count=3), key)
    assert harness.files.files == {}  # the first image, stored, was deleted
    assert await harness.balance(key) == 1_000_000


async def test_refusals_happen_before_the_upstream(harness: Harness) -> None:
    poor = await harness.key(credits=1_500)
    with pytest.raises(InsufficientCredits):
        await harness.media.images(ImageRequest("fake/image", "a cat", count=2), poor)
    chat_only = await harness.key(scopes=("model:chat",))
    with pytest.raises(PermissionDenied):
        await harness.media.images(ImageRequest("fake/image", "a cat"), chat_only)
    with pytest.raises(ModelUnavailable, match="no public API"):
        await harness.media.images(ImageRequest("vendor/secret-image", "a cat"), await harness.key())
    with pytest.raises(InvalidRequest, match="use POST /v1/tts"):
        await harness.media.images(ImageRequest("fake/speech", "a cat"), await harness.key())
    assert harness.fake.calls == 0


async def test_speech_is_charged_per_character_once_streamed(harness: Harness) -> None:
    key = await harness.key()
    session = await harness.media.speak(SpeechRequest("fake/speech", "hello"), key)
    assert session.charge.credits == 50
    audio = b"".join([c async for c in session.chunks()])
    await session.close()
    assert audio.startswith(b"RIFF")
    assert await harness.rows(key) == [("fake/speech", 50, "ok")]


async def test_speech_that_breaks_off_midway_is_not_charged(harness: Harness) -> None:
    key = await harness.key()
    session = await harness.media.speak(SpeechRequest("fake/speech", "FAIL-MIDSTREAM"), key)
    with pytest.raises(UpstreamError):
        async for _ in session.chunks():
            pass
    assert await harness.rows(key) == [("fake/speech", 0, "error")]


async def test_speech_never_streamed_is_not_charged(harness: Harness) -> None:
    key = await harness.key()
    session = await harness.media.speak(SpeechRequest("fake/speech", "hello"), key)
    await session.close()
    await session.close()
    assert await harness.rows(key) == [("fake/speech", 0, "cancelled")]


async def test_a_client_that_leaves_midstream_pays_for_the_text(harness: Harness) -> None:
    key = await harness.key()
    session = await harness.media.speak(SpeechRequest("fake/speech", "a longer text to speak"), key)
    chunks = session.chunks()
    await chunks.__anext__()
    await chunks.aclose()
    assert await harness.rows(key) == [("fake/speech", 220, "cancelled")]


async def test_transcription_is_charged_by_duration(harness: Harness) -> None:
    key = await harness.key()
    audio = _wav(2.5)
    transcript, charge = await harness.media.transcribe(TranscriptionRequest("fake/transcribe", audio, 2.5), key)
    assert charge.credits == 250
    assert transcript.text == f"{len(audio.data)} bytes of audio"


async def test_ocr_reserves_the_pages_asked_and_settles_those_read(harness: Harness) -> None:
    key = await harness.key()
    document = Source(blob=Blob(b"%PDF-1.4", "application/pdf"))
    result, charge = await harness.media.ocr(OcrRequest("fake/ocr", document, pages=(0, 2)), key)
    assert [p.index for p in result.pages] == [0, 2]
    assert charge.credits == 1_000


async def test_ocr_of_a_document_without_pages_needs_the_bound(harness: Harness) -> None:
    poor = await harness.key(credits=10_000)  # less than MAX_PAGES pages at 500 credits
    document = Source(blob=Blob(b"%PDF-1.4", "application/pdf"))
    with pytest.raises(InsufficientCredits):
        await harness.media.ocr(OcrRequest("fake/ocr", document), poor)


async def test_a_cancelled_request_is_charged_nothing(harness: Harness) -> None:
    key = await harness.key()
    started = asyncio.Event()

    async def slow(request: Any, model: Any) -> Any:
        started.set()
        await asyncio.sleep(10)

    harness.fake.generate = slow  # type: ignore[method-assign]
    task = asyncio.create_task(harness.media.images(ImageRequest("fake/image", "a cat"), key))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await harness.rows(key) == [("fake/image", 0, "cancelled")]
