"""The media store's contract, on local disk and on a real S3-compatible server (SeaweedFS,
``tests/s3server.py``): storing whole and streamed bodies, reading them back whole and in ranges,
expiry and the sweep, signed links, ids that must never become paths, the shared signing secret,
and a large streamed body that is never held whole in memory.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import stat
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.s3server import S3Server, require_s3, running_s3
from unigate.core.files import MediaStore, StoredFile
from unigate.core.media import Blob
from unigate.errors import NotFound, StoreUnavailable
from unigate.storage.files.local import LocalMediaStore
from unigate.storage.files.metadata import clean_filename, is_file_id
from unigate.storage.files.s3 import MediaStoreError, S3MediaStore
from unigate.storage.files.signing import SECRET_NAME

RETENTION_S = 3600.0
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class Clock:
    """Unix seconds that a test moves."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    binary = require_s3()
    with running_s3(binary, tmp_path_factory.mktemp("s3")) as server:
        yield server


def s3_store(server: S3Server, bucket: str, clock: Clock, **options: Any) -> S3MediaStore:
    settings: dict[str, Any] = {"retention_s": RETENTION_S, "create_bucket": True, "prefix": "media/"}
    return S3MediaStore(
        bucket=bucket,
        endpoint_url=server.endpoint_url,
        access_key_id=server.access_key,
        secret_access_key=server.secret_key,
        clock=clock,
        **{**settings, **options},
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bucket() -> str:
    return f"media-{secrets.token_hex(6)}"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
async def media(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock, bucket: str) -> AsyncIterator[MediaStore]:
    store: LocalMediaStore | S3MediaStore
    if request.param == "local":
        store = LocalMediaStore(tmp_path / "media", retention_s=RETENTION_S, clock=clock)
    else:
        # A small part size, so that a few MiB already take the multipart path.
        store = s3_store(request.getfixturevalue("s3_server"), bucket, clock, part_size=5 * 1024 * 1024)
    await store.start()
    yield store
    await store.close()


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read(media: MediaStore, file: StoredFile, **window: int) -> bytes:
    return b"".join([piece async for piece in media.open(file, **window)])


async def test_a_stored_blob_reads_back_with_its_metadata(media: MediaStore, clock: Clock) -> None:
    file = await media.put("17", Blob(PNG, "image/png", filename="cat.png"))
    assert is_file_id(file.id)
    assert (file.owner, file.content_type, file.size, file.filename) == ("17", "image/png", len(PNG), "cat.png")
    assert file.created == clock.now
    assert file.expires == clock.now + RETENTION_S
    assert await media.stat(file.id) == file
    assert await read(media, file) == PNG


async def test_a_streamed_body_reads_back_whole_and_in_ranges(media: MediaStore) -> None:
    body = random.Random(3).randbytes(300_000)
    file = await media.put_stream("5", "audio/wav", pieces(body, 7_000), filename="speech.wav")
    assert (file.size, file.filename) == (len(body), "speech.wav")
    stored = await media.stat(file.id)
    assert stored is not None
    assert stored.size == len(body)
    assert await read(media, stored) == body
    assert await read(media, stored, offset=1000, length=10) == body[1000:1010]
    assert await read(media, stored, offset=len(body) - 5) == body[-5:]


async def test_an_empty_body_is_a_file_too(media: MediaStore) -> None:
    file = await media.put_stream("5", "text/plain", pieces(b"", 1))
    assert file.size == 0
    assert await media.stat(file.id) == file
    assert await read(media, file) == b""


async def test_each_file_gets_its_own_unguessable_id(media: MediaStore) -> None:
    ids = {(await media.put("1", Blob(b"x", "text/plain"))).id for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) == 40 and is_file_id(i) for i in ids)  # 160 random bits


@pytest.mark.parametrize(
    "file_id",
    ["../../etc/passwd", "..", "", "a" * 39, "a" * 41, "A" * 40, "g" * 40, "/" + "a" * 39, "a" * 38 + "/x", "%2e%2e"],
)
async def test_ids_that_are_not_ours_never_reach_a_path_or_key(media: MediaStore, file_id: str) -> None:
    assert await media.stat(file_id) is None
    await media.delete(file_id)  # a no-op, never an error
    assert not media.verify(file_id, str(int(time.time()) + 60), "x")


async def test_a_deleted_file_is_gone(media: MediaStore) -> None:
    file = await media.put("1", Blob(PNG, "image/png"))
    await media.delete(file.id)
    assert await media.stat(file.id) is None
    await media.delete(file.id)  # twice: no error
    with pytest.raises(NotFound):  # deleted between a request's stat and its read: a 404, not a 500
        await read(media, file)


async def test_an_expired_file_is_not_served_and_the_sweep_removes_it(media: MediaStore, clock: Clock) -> None:
    old = await media.put("1", Blob(b"old", "text/plain"))
    clock.now += RETENTION_S / 2
    young = await media.put("1", Blob(b"young", "text/plain"))
    clock.now = old.expires  # the last moment: expired
    assert await media.stat(old.id) is None
    assert await media.stat(young.id) == young
    clock.now += 2.0  # past the S3 object's LastModified + retention too (it was written after `created`)
    assert await media.sweep() == 1
    clock.now = old.created  # back in time: the old file is gone for good, not only hidden
    assert await media.stat(old.id) is None
    assert await media.stat(young.id) == young
    assert await media.sweep() == 0


async def test_a_signed_link_is_valid_until_the_file_expires(media: MediaStore, clock: Clock) -> None:
    file = await media.put("1", Blob(PNG, "image/png"))
    link = urlsplit(media.signed_url(file, "https://gw.example/"))
    assert (link.scheme, link.netloc, link.path) == ("https", "gw.example", f"/v1/media/{file.id}")
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert set(query) == {"expires", "signature"}
    assert int(query["expires"]) == int(file.expires)
    assert media.verify(file.id, query["expires"], query["signature"])
    clock.now = file.expires
    assert not media.verify(file.id, query["expires"], query["signature"])


async def test_a_tampered_link_is_refused(media: MediaStore) -> None:
    file = await media.put("1", Blob(PNG, "image/png"))
    other = await media.put("2", Blob(PNG, "image/png"))
    query = {k: v[0] for k, v in parse_qs(urlsplit(media.signed_url(file, "http://h")).query).items()}
    expires, signature = query["expires"], query["signature"]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert not media.verify(file.id, expires, flipped)
    assert not media.verify(file.id, str(int(expires) + 3600), signature)  # a longer life
    assert not media.verify(other.id, expires, signature)  # another file
    assert not media.verify(file.id, expires, "")
    for bad_expires in ("", "-1", "0x10", "1e12", "１２３４５６７８９０", " " + expires, expires + "0" * 20):
        assert not media.verify(file.id, bad_expires, signature)
    assert not media.verify(file.id, expires, "é" * 43)  # not ASCII: refused, not an exception


async def test_files_keep_their_owner(media: MediaStore) -> None:
    mine = await media.put("7", Blob(b"mine", "text/plain"))
    theirs = await media.put("8", Blob(b"theirs", "text/plain"))
    assert (await media.stat(mine.id), await media.stat(theirs.id)) == (mine, theirs)
    assert mine.owner == "7"
    assert theirs.owner == "8"


async def test_a_body_that_fails_midway_leaves_nothing(media: MediaStore, tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (6 * 1024 * 1024)  # past the S3 part size: a multipart upload is under way
        raise ConnectionResetError("the upstream went away")

    with pytest.raises(ConnectionResetError):
        await media.put_stream("1", "audio/wav", broken())
    if isinstance(media, LocalMediaStore):
        assert list((media.root / "tmp").iterdir()) == []
    else:
        assert isinstance(media, S3MediaStore)
        uploads = await media.client.list_multipart_uploads(Bucket=media.bucket)
        assert uploads.get("Uploads", []) == []
        listed = await media.client.list_objects_v2(Bucket=media.bucket, Prefix=media.prefix)
        assert [o["Key"] for o in listed.get("Contents", [])] == [f"media/{SECRET_NAME}"]  # no file, no marker


async def test_a_large_stream_is_never_held_whole(media: MediaStore) -> None:
    """24 MiB in 64 KiB pieces, made as they are sent and hashed as they are read back. The peak
    of Python's allocations stays far below it: a few MiB on disk (one write batch), and on S3
    under three parts (one gathering while one is sent, and the client's buffers)."""
    total, piece = 24 * 1024 * 1024, 64 * 1024
    sent, received = hashlib.sha256(), hashlib.sha256()

    async def generated() -> AsyncIterator[bytes]:
        source = random.Random(11)
        for _ in range(total // piece):
            chunk = source.randbytes(piece)
            sent.update(chunk)
            yield chunk

    tracemalloc.start()
    try:
        file = await media.put_stream("1", "audio/wav", generated())
        async for chunk in media.open(file):
            received.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert file.size == total
    assert received.hexdigest() == sent.hexdigest()
    limit = 3 * media.part_size if isinstance(media, S3MediaStore) else 4 * 1024 * 1024
    assert peak < limit, f"peak {peak / 2**20:.1f} MiB"


def test_filenames_are_cleaned_for_content_disposition() -> None:
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\x\\speech.mp3") == "speech.mp3"
    assert clean_filename('a"b\r\nc.png') == "abc.png"
    assert clean_filename(".hidden") == "hidden"
    assert clean_filename("ünïcödé.wav") == "ünïcödé.wav"
    assert len(clean_filename("x" * 1000)) == 200


async def test_a_non_ascii_filename_survives(media: MediaStore) -> None:
    file = await media.put("1", Blob(b"x", "audio/mpeg", filename="réponse 1.mp3"))
    stored = await media.stat(file.id)
    assert stored is not None
    assert stored.filename == "réponse 1.mp3"


# -- the signing secret ---------------------------------------------------------------------------


async def test_the_local_secret_is_made_once_private_and_kept(tmp_path: Path, clock: Clock) -> None:
    first = LocalMediaStore(tmp_path, retention_s=RETENTION_S, clock=clock)
    await first.start()
    file = await first.put("1", Blob(b"x", "text/plain"))
    link = parse_qs(urlsplit(first.signed_url(file, "http://h")).query)
    kept = tmp_path / SECRET_NAME
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    second = LocalMediaStore(tmp_path, retention_s=RETENTION_S, clock=clock)  # a restart
    await second.start()
    assert second.verify(file.id, link["expires"][0], link["signature"][0])
    assert [name for name in os.listdir(tmp_path) if name.startswith(SECRET_NAME)] == [SECRET_NAME]  # no temporary


async def test_the_secret_setting_wins_and_must_be_long(tmp_path: Path, clock: Clock) -> None:
    given = "s" * 40
    a = LocalMediaStore(tmp_path / "a", retention_s=RETENTION_S, secret=given, clock=clock)
    b = LocalMediaStore(tmp_path / "b", retention_s=RETENTION_S, secret=given, clock=clock)
    await a.start()
    await b.start()
    file = await a.put("1", Blob(b"x", "text/plain"))
    link = parse_qs(urlsplit(a.signed_url(file, "http://h")).query)
    assert b.verify(file.id, link["expires"][0], link["signature"][0])
    assert not (tmp_path / "a" / SECRET_NAME).exists()
    with pytest.raises(ValueError, match="at least 32 characters"):
        await LocalMediaStore(tmp_path / "c", retention_s=RETENTION_S, secret="short", clock=clock).start()


async def test_a_crash_leftover_is_swept(tmp_path: Path, clock: Clock) -> None:
    media = LocalMediaStore(tmp_path, retention_s=RETENTION_S, clock=clock)
    await media.start()
    kept = await media.put("1", Blob(b"kept", "text/plain"))
    partial = tmp_path / "tmp" / f"{'a' * 40}.part"
    partial.write_bytes(b"half")
    bare = tmp_path / kept.id[:2] / ("b" * 40)  # bytes whose metadata never came
    bare.write_bytes(b"bare")
    day_ago = clock.now - 2 * 24 * 3600
    os.utime(partial, (day_ago, day_ago))
    os.utime(bare, (day_ago, day_ago))
    assert await media.sweep() == 0  # no stored file expired: the leftovers are not counted
    assert not partial.exists()
    assert not bare.exists()
    assert await media.stat(kept.id) == kept


@pytest.mark.s3
async def test_replicas_on_one_bucket_share_the_signing_secret(s3_server: S3Server, bucket: str, clock: Clock) -> None:
    one, two = s3_store(s3_server, bucket, clock), s3_store(s3_server, bucket, clock)
    await one.start()
    await two.start()
    try:
        file = await one.put("1", Blob(b"x", "text/plain"))
        link = parse_qs(urlsplit(one.signed_url(file, "http://h")).query)
        assert two.verify(file.id, link["expires"][0], link["signature"][0])
        assert await two.stat(file.id) == file
        clock.now += 10 * RETENTION_S
        assert await two.sweep() == 1  # the file, never the secret
        three = s3_store(s3_server, bucket, clock)
        await three.start()
        assert three.verify(file.id, link["expires"][0], link["signature"][0]) is False  # expired, but:
        assert three.signer.signature(file.id, 1) == one.signer.signature(file.id, 1)  # the same secret
        await three.close()
    finally:
        await one.close()
        await two.close()


@pytest.mark.s3
async def test_a_missing_bucket_stops_the_start_unless_creating_it(
    s3_server: S3Server, bucket: str, clock: Clock
) -> None:
    with pytest.raises(MediaStoreError, match=r"does not exist.*UNIGATE_MEDIA_S3_CREATE_BUCKET"):
        await s3_store(s3_server, bucket, clock, create_bucket=False).start()
    wrong = S3MediaStore(
        bucket=bucket,
        endpoint_url=s3_server.endpoint_url,
        access_key_id=s3_server.access_key,
        secret_access_key="not-the-secret",
        retention_s=RETENTION_S,
    )
    with pytest.raises(MediaStoreError, match="refused access"):
        await wrong.start()


async def test_a_full_disk_is_a_503_and_leaves_nothing(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalMediaStore(tmp_path / "media", retention_s=RETENTION_S, clock=clock)
    await store.start()

    def full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("unigate.storage.files.local._finish", full)
    with pytest.raises(StoreUnavailable) as whole:
        await store.put("1", Blob(b"x" * 10, "image/png"))
    with pytest.raises(StoreUnavailable):
        await store.put_stream("1", "audio/wav", pieces(b"y" * 100, 10))
    assert whole.value.status == 503
    assert whole.value.code == "media_store_unavailable"
    assert [p for p in (tmp_path / "media").rglob("*") if p.is_file() and p.name != ".signing-secret"] == []
    await store.close()
