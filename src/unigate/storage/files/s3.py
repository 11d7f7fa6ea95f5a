"""Media files in an S3-compatible bucket, for gateways with several replicas: the object
``<prefix><id>`` holds the bytes, its user metadata the owner, times and filename
(``metadata.py``), its ``Content-Type`` the type.

Through aiobotocore: botocore's request signing, retries and error model on the aiohttp the
gateway already runs, so that no thread is held while bytes move. Bodies stream both ways: a
read is passed on in pieces as it arrives; a ``put_stream`` sends a single ``PutObject`` when the
body ends within one part, else a multipart upload with one part (8 MiB) in memory at a time,
aborted if the body fails. Requests ask for checksums only where S3 requires them, as most
S3-compatible servers expect.

Each file also gets an empty marker, ``<prefix>expires/<expiry, 12 digits>/<id>``, written before
its bytes: listing gives no metadata, so the sweep lists the markers instead, in key order, which
is expiry order, stops at the first one still in the future, and deletes each expired file with
its marker in batches. Its cost follows the files that expired, not all those kept, and each
file goes when its own ``expires`` says, whatever the retention setting is now. A crash between
the two writes leaves a marker without a file, which the sweep clears. It also aborts multipart
uploads that a dead process left. A bucket lifecycle rule that expires objects a few days after
the retention is a sound backstop, though not required.

Failures of the store while serving raise ``StoreUnavailable`` (503); at start, a missing
bucket, refused credentials or an unreachable endpoint raise ``MediaStoreError`` saying which.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from unigate.core.files import StoredFile
from unigate.core.media import Blob
from unigate.errors import NotFound
from unigate.storage.files.failures import unavailable_on
from unigate.storage.files.metadata import clean_filename, from_metadata, is_file_id, new_file_id, to_metadata
from unigate.storage.files.signing import SECRET_NAME, LinkSigner, new_secret, parse_secret, secret_from_setting

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef, ObjectIdentifierTypeDef

__all__ = ["MediaStoreError", "S3MediaStore"]

PART_SIZE = 8 * 1024 * 1024
"""Above S3's 5 MiB minimum part; at most this much of a streamed body is held."""
READ_CHUNK = 256 * 1024
MARKERS = "expires/"
LEFTOVER_AGE_S = 24 * 3600.0
"""A multipart upload started this long ago was abandoned by a process that died."""
_MISSING = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
_LOST_RACE = frozenset({"412", "PreconditionFailed", "409", "ConditionalRequestConflict"})


class MediaStoreError(RuntimeError):
    """The bucket cannot be used: the message says why and which setting to look at."""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_FAILURES = (ClientError, BotoCoreError, aiohttp.ClientError, OSError)
"""What the bucket's failures raise; ``unavailable_on`` makes them a 503 the client may retry."""


class S3MediaStore:
    """``MediaStore`` over a bucket. ``clock`` gives Unix seconds (tests move it)."""

    def __init__(
        self,
        *,
        bucket: str,
        retention_s: float,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        secret: str | None = None,
        create_bucket: bool = False,
        part_size: int = PART_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.retention_s = retention_s
        self.part_size = part_size
        self.clock = clock
        self._endpoint_url = endpoint_url
        self._region = region or "us-east-1"
        self._keys = (access_key_id, secret_access_key, session_token)
        self._secret_setting = secret
        self._create_bucket = create_bucket
        self._exits = AsyncExitStack()
        self._client: S3Client | None = None
        self._signer: LinkSigner | None = None

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("the media store was used before start()")
        return self._client

    @property
    def signer(self) -> LinkSigner:
        if self._signer is None:
            raise RuntimeError("the media store was used before start()")
        return self._signer

    async def start(self) -> None:
        config = AioConfig(
            signature_version="s3v4",
            # Path-style requests: what S3-compatible servers accept without wildcard DNS.
            s3={"addressing_style": "path" if self._endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        access_key, secret_key, token = self._keys
        self._client = await self._exits.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=self._endpoint_url,
                region_name=self._region,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                aws_session_token=token,
                config=config,
            )
        )
        try:
            await self._check_bucket()
            secret = secret_from_setting(self._secret_setting) if self._secret_setting else await self._shared_secret()
        except BaseException:
            await self.close()
            raise
        self._signer = LinkSigner(secret, clock=self.clock)

    async def close(self) -> None:
        self._client = None
        await self._exits.aclose()

    async def _check_bucket(self) -> None:
        where = f"the media bucket {self.bucket!r}" + (f" at {self._endpoint_url}" if self._endpoint_url else "")
        try:
            await self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise MediaStoreError(f"{where} refused access ({_code(exc)}): check AWS_ACCESS_KEY_ID") from exc
        except (BotoCoreError, aiohttp.ClientError, OSError) as exc:
            raise MediaStoreError(f"{where} could not be reached: {exc}") from exc
        if not self._create_bucket:
            raise MediaStoreError(f"{where} does not exist: create it, or set UNIGATE_MEDIA_S3_CREATE_BUCKET=1")
        options: dict[str, Any] = {}
        if self._region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        try:
            await self.client.create_bucket(Bucket=self.bucket, **options)
        except ClientError as exc:
            if _code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:  # another replica's
                raise MediaStoreError(f"{where} could not be created ({_code(exc)})") from exc

    async def _shared_secret(self) -> bytes:
        """The bucket's signing secret, created by the first replica to start (``signing.py``)."""
        key = f"{self.prefix}{SECRET_NAME}"
        for attempt in range(2):
            try:
                answer = await self.client.get_object(Bucket=self.bucket, Key=key)
                async with answer["Body"] as body:
                    return parse_secret((await body.read()).decode("ascii", "replace"), f"s3://{self.bucket}/{key}")
            except ClientError as exc:
                if _code(exc) not in _MISSING or attempt:
                    raise MediaStoreError(f"the media signing secret s3://{self.bucket}/{key} is unreadable") from exc
            try:
                made = new_secret().hex().encode()
                await self.client.put_object(Bucket=self.bucket, Key=key, Body=made, IfNoneMatch="*")
            except ClientError as exc:
                if _code(exc) not in _LOST_RACE:
                    raise MediaStoreError(f"the media signing secret could not be written ({_code(exc)})") from exc
        raise AssertionError("unreachable")

    def _key(self, file_id: str) -> str:
        return f"{self.prefix}{file_id}"

    def _marker(self, file: StoredFile) -> str:
        return f"{self.prefix}{MARKERS}{math.ceil(file.expires):012d}/{file.id}"

    async def _mark(self, file: StoredFile) -> None:
        with unavailable_on(*_FAILURES):
            await self.client.put_object(Bucket=self.bucket, Key=self._marker(file), Body=b"")

    async def _unmark(self, file: StoredFile) -> None:
        with contextlib.suppress(Exception):  # else the sweep clears it
            await self.client.delete_object(Bucket=self.bucket, Key=self._marker(file))

    def _new(self, owner: str, content_type: str, filename: str) -> StoredFile:
        now = self.clock()
        return StoredFile(
            id=new_file_id(),
            owner=owner,
            content_type=content_type,
            size=0,
            created=now,
            expires=now + self.retention_s,
            filename=clean_filename(filename),
        )

    async def put(self, owner: str, blob: Blob) -> StoredFile:
        file = self._new(owner, blob.content_type, blob.filename)
        await self._mark(file)
        try:
            with unavailable_on(*_FAILURES):
                await self.client.put_object(
                    Bucket=self.bucket,
                    Key=self._key(file.id),
                    Body=blob.data,
                    ContentType=file.content_type,
                    Metadata=to_metadata(file),
                )
        except BaseException:
            await self._unmark(file)
            raise
        return replace(file, size=len(blob.data))

    async def put_stream(
        self, owner: str, content_type: str, chunks: AsyncIterator[bytes], *, filename: str = ""
    ) -> StoredFile:
        file = self._new(owner, content_type, filename)
        key, size = self._key(file.id), 0
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        await self._mark(file)
        try:
            async for part in _in_parts(chunks, self.part_size):
                size += len(part)
                if upload_id is None and len(part) < self.part_size:  # the whole body in one piece
                    with unavailable_on(*_FAILURES):
                        await self.client.put_object(
                            Bucket=self.bucket, Key=key, Body=part, ContentType=content_type, Metadata=to_metadata(file)
                        )
                    return replace(file, size=size)
                if upload_id is None:
                    with unavailable_on(*_FAILURES):
                        started = await self.client.create_multipart_upload(
                            Bucket=self.bucket, Key=key, ContentType=content_type, Metadata=to_metadata(file)
                        )
                    upload_id = started["UploadId"]
                parts.append(await self._part(key, upload_id, len(parts) + 1, part))
                del part  # not held while the next one gathers
            with unavailable_on(*_FAILURES):
                if upload_id is None:  # an empty body
                    await self.client.put_object(
                        Bucket=self.bucket, Key=key, Body=b"", ContentType=content_type, Metadata=to_metadata(file)
                    )
                else:
                    await self.client.complete_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                    )
        except BaseException:
            if upload_id is not None:
                with contextlib.suppress(Exception):  # else the sweep aborts it later
                    await self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            await self._unmark(file)
            raise
        return replace(file, size=size)

    async def _part(self, key: str, upload_id: str, number: int, data: bytes) -> CompletedPartTypeDef:
        with unavailable_on(*_FAILURES):
            sent = await self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
            )
        return {"PartNumber": number, "ETag": sent["ETag"]}

    async def stat(self, file_id: str) -> StoredFile | None:
        if not is_file_id(file_id):
            return None
        with unavailable_on(*_FAILURES):
            try:
                head = await self.client.head_object(Bucket=self.bucket, Key=self._key(file_id))
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
        file = from_metadata(file_id, head["ContentLength"], head.get("Metadata", {}))
        if file is None or file.expires <= self.clock():
            return None
        return file

    async def open(self, file: StoredFile, *, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        if not is_file_id(file.id):
            raise ValueError("not a stored file's id")
        options: dict[str, Any] = {}
        if offset or length is not None:
            last = file.size - 1 if length is None else offset + length - 1
            options["Range"] = f"bytes={offset}-{last}"
        with unavailable_on(*_FAILURES):
            try:
                answer = await self.client.get_object(Bucket=self.bucket, Key=self._key(file.id), **options)
            except ClientError as exc:
                if _code(exc) in _MISSING:  # deleted since its stat
                    raise NotFound("No such file.", code="file_not_found") from exc
                raise
            async with answer["Body"] as body:
                async for piece in body.iter_chunks(READ_CHUNK):
                    yield piece

    async def delete(self, file_id: str) -> None:
        file = await self.stat(file_id)
        if file is not None:
            with unavailable_on(*_FAILURES):
                await self.client.delete_object(Bucket=self.bucket, Key=self._key(file_id))
            await self._unmark(file)

    def signed_url(self, file: StoredFile, base_url: str) -> str:
        return self.signer.url(file, base_url)

    def verify(self, file_id: str, expires: str, signature: str) -> bool:
        return self.signer.verify(file_id, expires, signature)

    async def sweep(self) -> int:
        """The files whose markers say they expired, then abandoned uploads; how many files."""
        now, removed = self.clock(), 0
        markers = f"{self.prefix}{MARKERS}"
        with unavailable_on(*_FAILURES):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=markers)
            async for page in pages:
                expired: list[ObjectIdentifierTypeDef] = []
                reached_the_future = False
                for item in page.get("Contents", []):
                    stamp, _, file_id = item["Key"][len(markers) :].partition("/")
                    if stamp.isdigit() and int(stamp) > now:
                        reached_the_future = True  # keys sort by expiry: every later one expires later
                        break
                    expired.append({"Key": item["Key"]})
                    if is_file_id(file_id):
                        expired.append({"Key": self._key(file_id)})
                        removed += 1
                for start in range(0, len(expired), 1000):  # the most one DeleteObjects takes
                    batch = expired[start : start + 1000]
                    await self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                if reached_the_future:
                    break
            uploads = await self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix)
            for upload in uploads.get("Uploads", []):
                if upload["Initiated"].timestamp() + LEFTOVER_AGE_S <= now:
                    await self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
        return removed


async def _in_parts(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """``chunks`` regrouped into parts of ``size`` bytes, the last one shorter (none for an empty
    body): the pieces of one part are held, then joined once, and nothing of it is kept while
    the next one gathers."""
    pending: list[bytes] = []
    held = 0
    async for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        while held >= size:
            last, over = pending[-1], held - size
            pending[-1] = last[: len(last) - over]
            part = b"".join(pending)
            pending, held = ([last[len(last) - over :]] if over else []), over
            yield part
            del part
    if held:
        yield b"".join(pending)
