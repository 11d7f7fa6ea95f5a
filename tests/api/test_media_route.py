"""``GET /v1/media/{id}``: signed links and owners' keys are served, everything else is the same
404 (another account's key, a tampered or expired link, a missing file, no credentials); ``HEAD``,
single ranges, the headers that keep a served file from running as a page, and the links the
answers carry (``links.file_url``), under the request's host or ``UNIGATE_PUBLIC_URL``.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from tests.core.media_doubles import TableDownloader
from tests.serving import fake_settings
from unigate.api.context import GATEWAY, MEDIA, STORE
from unigate.api.media.files import add_file_routes
from unigate.api.media.links import file_url
from unigate.app import create_app
from unigate.core.files import StoredFile
from unigate.core.media import Blob
from unigate.core.media_flow import MediaGateway
from unigate.settings import MediaSettings
from unigate.storage.files.local import LocalMediaStore

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    client: TestClient[web.Request, web.Application]
    media: LocalMediaStore
    clock: Clock
    owner_key: str
    other_key: str
    file: StoredFile

    def link(self, file: StoredFile | None = None) -> str:
        """The signed link's path and query, as a client would follow it."""
        parts = urlsplit(self.media.signed_url(file or self.file, "http://unused"))
        return f"{parts.path}?{parts.query}"


async def _link(request: web.Request) -> web.Response:
    """What a media endpoint puts in its answer's ``url`` field."""
    file = await request.config_dict[MEDIA].files.stat(request.match_info["id"])
    assert file is not None
    return web.json_response({"url": file_url(request, file)})


async def serve(tmp_path: Path, public_url: str | None = None) -> AsyncIterator[Served]:
    settings = fake_settings(tmp_path)
    settings = replace(settings, media=MediaSettings(public_url=public_url))
    app = create_app(settings)
    clock = Clock()
    media = LocalMediaStore(tmp_path / "media", retention_s=3600.0, clock=clock)
    await media.start()
    nothing = TableDownloader({})  # nothing here downloads
    app[MEDIA] = MediaGateway(app[GATEWAY], media, nothing, max_download_bytes=settings.media.max_download_bytes)
    add_file_routes(app.router)
    app.router.add_get("/test/link/{id}", _link)
    async with TestClient(TestServer(app)) as client:
        store = app[STORE]
        owner = await store.create_account(name="owner", credits=0)
        other = await store.create_account(name="other", credits=0)
        _, owner_key = await store.create_key(account_id=owner, name="k")
        _, other_key = await store.create_key(account_id=other, name="k")
        file = await media.put(str(owner), Blob(PNG, "image/png", filename="cat.png"))
        yield Served(client, media, clock, owner_key, other_key, file)
    await media.close()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async for running in serve(tmp_path):
        yield running


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def assert_not_found(resp: ClientResponse) -> None:
    assert resp.status == 404
    body = await resp.json()
    assert body["error"]["code"] == "file_not_found"
    assert body["error"]["type"] == "invalid_request_error"


async def test_a_signed_link_serves_the_file(served: Served) -> None:
    resp = await served.client.get(served.link())
    assert resp.status == 200
    assert await resp.read() == PNG
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["Content-Length"] == str(len(PNG))
    assert resp.headers["Content-Disposition"] == "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png"
    assert resp.headers["Cache-Control"].startswith("private")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Accept-Ranges"] == "bytes"


async def test_the_owners_key_serves_the_file(served: Served) -> None:
    resp = await served.client.get(f"/v1/media/{served.file.id}", headers=bearer(served.owner_key))
    assert resp.status == 200
    assert await resp.read() == PNG
    resp = await served.client.get(f"/media/{served.file.id}", headers=bearer(served.owner_key))  # no /v1
    assert resp.status == 200


async def test_another_accounts_key_gets_a_404(served: Served) -> None:
    await assert_not_found(await served.client.get(f"/v1/media/{served.file.id}", headers=bearer(served.other_key)))


async def test_no_credentials_get_a_404(served: Served) -> None:
    await assert_not_found(await served.client.get(f"/v1/media/{served.file.id}"))


async def test_a_wrong_key_is_a_401_about_the_key(served: Served) -> None:
    resp = await served.client.get(f"/v1/media/{served.file.id}", headers=bearer("sk-wrong"))
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "invalid_api_key"


async def test_a_tampered_link_gets_a_404(served: Served) -> None:
    link = served.link()
    signature = link.rsplit("signature=", 1)[1]
    tampered = link.replace(signature, ("A" if signature[0] != "A" else "B") + signature[1:])
    await assert_not_found(await served.client.get(tampered))
    longer = link.replace(f"expires={int(served.file.expires)}", f"expires={int(served.file.expires) + 86400}")
    await assert_not_found(await served.client.get(longer))
    other = await served.media.put("999", Blob(b"x", "text/plain"))
    await assert_not_found(await served.client.get(link.replace(served.file.id, other.id)))


async def test_a_tampered_link_with_the_owners_key_is_served_by_the_key(served: Served) -> None:
    resp = await served.client.get(
        f"/v1/media/{served.file.id}?expires=1&signature=x", headers=bearer(served.owner_key)
    )
    assert resp.status == 200


async def test_an_expired_link_and_file_get_a_404(served: Served) -> None:
    link = served.link()
    served.clock.now = served.file.expires + 1
    await assert_not_found(await served.client.get(link))
    await assert_not_found(await served.client.get(f"/v1/media/{served.file.id}", headers=bearer(served.owner_key)))


async def test_a_missing_or_malformed_id_gets_a_404(served: Served) -> None:
    for file_id in ("0" * 40, "not-an-id", "..%2F..%2Fetc%2Fpasswd", "A" * 40):
        await assert_not_found(await served.client.get(f"/v1/media/{file_id}", headers=bearer(served.owner_key)))


async def test_head_tells_the_size_without_the_body(served: Served) -> None:
    resp = await served.client.head(served.link())
    assert resp.status == 200
    assert resp.headers["Content-Length"] == str(len(PNG))
    assert resp.headers["Content-Type"] == "image/png"
    assert await resp.read() == b""
    resp = await served.client.head(f"/v1/media/{served.file.id}", headers=bearer(served.other_key))
    assert resp.status == 404


@pytest.mark.parametrize(
    ("header", "window"),
    [("bytes=0-9", (0, 10)), ("bytes=100-", (100, len(PNG) - 100)), ("bytes=-5", (len(PNG) - 5, 5))],
)
async def test_a_single_range_is_a_206(served: Served, header: str, window: tuple[int, int]) -> None:
    resp = await served.client.get(served.link(), headers={"Range": header})
    assert resp.status == 206
    start, length = window
    assert await resp.read() == PNG[start : start + length]
    assert resp.headers["Content-Range"] == f"bytes {start}-{start + length - 1}/{len(PNG)}"
    assert resp.headers["Content-Length"] == str(length)


async def test_a_range_past_the_end_is_a_416(served: Served) -> None:
    resp = await served.client.get(served.link(), headers={"Range": f"bytes={len(PNG)}-"})
    assert resp.status == 416
    assert resp.headers["Content-Range"] == f"bytes */{len(PNG)}"
    assert (await resp.json())["error"]["code"] == "range_not_satisfiable"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=9-2", "bytes=x-"])
async def test_other_ranges_get_the_whole_file(served: Served, header: str) -> None:
    resp = await served.client.get(served.link(), headers={"Range": header})
    assert resp.status == 200
    assert await resp.read() == PNG


async def test_a_large_file_streams_through(served: Served) -> None:
    body = random.Random(5).randbytes(3 * 1024 * 1024 + 17)
    file = await served.media.put("1", Blob(body, "audio/wav", filename="réponse.wav"))
    resp = await served.client.get(served.link(file))
    assert resp.status == 200
    assert await resp.read() == body
    assert resp.headers["Content-Disposition"] == (
        "inline; filename=\"r_ponse.wav\"; filename*=UTF-8''r%C3%A9ponse.wav"
    )


async def test_a_file_without_a_name_is_named_by_its_id_and_type(served: Served) -> None:
    file = await served.media.put("1", Blob(b"{}", "application/json"))
    resp = await served.client.get(served.link(file))
    assert resp.headers["Content-Disposition"].startswith(f'attachment; filename="{file.id}.json"')


async def test_links_use_the_requests_host(served: Served) -> None:
    resp = await served.client.get(f"/test/link/{served.file.id}")
    url = urlsplit((await resp.json())["url"])
    assert f"{url.scheme}://{url.netloc}" == str(served.client.make_url("/")).rstrip("/")
    followed = await served.client.get(f"{url.path}?{url.query}")
    assert followed.status == 200


async def test_links_use_the_public_url_when_set(tmp_path: Path) -> None:
    async for running in serve(tmp_path, public_url="https://ai.example.com/"):
        resp = await running.client.get(f"/test/link/{running.file.id}")
        url = (await resp.json())["url"]
        assert url.startswith(f"https://ai.example.com/v1/media/{running.file.id}?expires=")
