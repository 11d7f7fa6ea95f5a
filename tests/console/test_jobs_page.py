"""The Jobs page: an account's generation jobs, newest first, with their status, credits, error
and signed links to their result files; another account's jobs never show."""

from __future__ import annotations

import asyncio
import dataclasses
import html as markup
import re

import httpx2

from tests.console.conftest import Console
from tests.serving import Server
from unigate.core.jobs import GenerationRequest, Job, JobKind, JobStatus
from unigate.core.media import Blob
from unigate.storage.factory import job_store, store_for
from unigate.storage.files.factory import media_store_for

T = 1_700_000_000.0
VIDEO = b"\x00\x00\x00\x18ftypmp42 not really a video"


def _job(number: int, account_id: int, key_id: int, *, kind: JobKind, created: float, **fields: object) -> Job:
    request = GenerationRequest(model=f"vendor/{kind.value}-model", kind=kind, prompt="p")
    job = Job(
        id=f"job-{account_id}-{number}",
        account_id=account_id,
        key_id=key_id,
        model=request.model,
        kind=kind,
        request=request.to_json(),
        reservation_id=f"res-{account_id}-{number}",
        reserved=5_000,
        created=created,
        deadline=created + 3600,
    )
    return dataclasses.replace(job, **fields)  # type: ignore[arg-type]


async def _seed(server: Server, key: str, other_key: str) -> str:
    """Jobs of ``key``'s account (one with a stored video) and one of ``other_key``'s, written
    through the same stores the server uses; returns the video's file id."""
    store, media = store_for(server.settings), media_store_for(server.settings)
    await store.open()
    await media.start()
    try:
        mine, theirs = await store.get_key(key[:8]), await store.get_key(other_key[:8])
        assert mine is not None
        assert theirs is not None
        account_id, key_id = mine.account_id, mine.id
        video = await media.put(str(account_id), Blob(VIDEO, "video/mp4", "clip.mp4"))
        files = {"video": {"file_id": video.id, "content_type": "video/mp4", "size": len(VIDEO), "filename": ""}}
        mesh = {"model_mesh": {"file_id": "f" * 40, "content_type": "model/gltf-binary", "size": 1, "filename": ""}}
        jobs = job_store(store)
        for job in (
            _job(
                1,
                account_id,
                key_id,
                kind=JobKind.VIDEO,
                created=T,
                status=JobStatus.COMPLETED,
                phase="done",
                charged=4_200,
                result={"files": files, "details": {}},
            ),
            _job(
                2,
                account_id,
                key_id,
                kind=JobKind.MUSIC,
                created=T + 60,
                status=JobStatus.ERROR,
                phase="done",
                charged=0,
                error={"name": "UpstreamError", "message": "The upstream refused the <prompt>."},
            ),
            _job(
                3, account_id, key_id, kind=JobKind.THREE_D, created=T + 120, status=JobStatus.GENERATING, phase="poll"
            ),
            _job(
                4,
                account_id,
                key_id,
                kind=JobKind.THREE_D,
                created=T + 30,
                status=JobStatus.COMPLETED,
                phase="done",
                charged=10,
                result={"files": mesh},
            ),
            _job(5, theirs.account_id, theirs.id, kind=JobKind.VIDEO, created=T + 500),
        ):
            await jobs.create_job(job)
        return video.id
    finally:
        await media.close()
        await store.close()


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)"', html)


def test_a_key_session_sees_its_accounts_jobs(console: Console, server: Server) -> None:
    key, account = server.new_key(credits=1_000)
    other_key, other = server.new_key(credits=1_000)
    video_id = asyncio.run(_seed(server, key, other_key))
    assert console.sign_in(key).status_code == 303
    page = console.http.get("/console/jobs")
    assert page.status_code == 200
    html = page.text
    assert _rows(html) == [f"job-{account}-{n}" for n in (3, 2, 4, 1)]
    assert f"job-{other}-5" not in html
    row = {n: html[html.index(f'data-id="job-{account}-{n}"') :].split("</tr>", 1)[0] for n in (1, 2, 3, 4)}
    assert all(f"<code>{key[:8]}</code>" in r for r in row.values())
    shown = {
        1: ("vendor/video-model", ">video<", ">completed</span>", "4,200"),
        2: ("vendor/music-model", ">error</span>", "The upstream refused the &lt;prompt&gt;."),
        3: (">3d<", ">generating</span>", "5,000 reserved"),
        4: (">completed</span>", "10", "model_mesh (removed)"),
    }
    for n, fragments in shown.items():
        for fragment in fragments:
            assert fragment in row[n], (n, fragment, row[n])

    link = re.search(r'<a class="result-file" href="([^"]+)"', row[1])
    assert link is not None
    url = markup.unescape(link.group(1))
    assert url.startswith(f"/v1/media/{video_id}?expires=")
    # The browser sends no key: the signed link alone serves the file, the bare path does not.
    assert httpx2.get(server.url + url).content == VIDEO
    assert httpx2.get(f"{server.url}/v1/media/{video_id}").status_code == 404

    assert _rows(console.http.get("/console/jobs?kind=3d").text) == [f"job-{account}-3", f"job-{account}-4"]
    # An API-key session cannot look at another key's account.
    assert _rows(console.http.get(f"/console/jobs?key={key[:8]}x").text) == _rows(html)


def test_the_management_key_chooses_a_key(admin: Console, server: Server) -> None:
    key, _ = server.new_key(credits=1_000)
    other_key, other = server.new_key(credits=1_000)
    asyncio.run(_seed(server, key, other_key))
    html = admin.http.get("/console/jobs").text
    assert 'id="choose-key"' in html
    assert _rows(html) == []
    assert _rows(admin.http.get(f"/console/jobs?key={other_key[:8]}").text) == [f"job-{other}-5"]
    assert len(_rows(admin.http.get(f"/console/jobs?key={key[:8]}").text)) == 4
    assert admin.http.get("/console/jobs?key=zzzzzzzz").status_code == 404
    assert httpx2.get(f"{server.url}/console/jobs", follow_redirects=False).status_code == 303
