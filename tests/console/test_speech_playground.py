"""The Playground's Speech tab: ``POST /console/api/speech`` and ``POST /console/api/transcribe``
run with the session's key (or the one a management session chooses), CSRF-checked, charged and
in the usage ledger like ``/v1/audio/speech`` and ``/v1/audio/transcriptions``, on the fake
media models; and, in headless Chromium, a text spoken into an ``<audio>`` element and a file
transcribed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.console.conftest import MANAGEMENT_KEY, Console
from tests.console.test_browser import _sign_in, browser, page
from tests.serving import Server, fake_settings
from unigate.providers.fake_media import wav_header

__all__ = ["browser", "page"]  # the browser tests' fixtures, used here too

HELLO = {"model": "fake/speech", "text": "hello"}
HELLO_CREDITS = 50  # 10 credits a character
WAV_HEADER_BYTES = 44


def _wav(seconds: float) -> bytes:
    frames = int(16_000 * seconds)
    return wav_header(frames) + b"\x00\x00" * frames


def _speak(console: Console, body: dict[str, Any], *, csrf: str | None = None) -> httpx2.Response:
    token = console.csrf("/console/playground?tab=speech") if csrf is None else csrf
    return console.http.post("/console/api/speech", json=body, headers={"X-CSRF-Token": token})


def _transcribe(
    console: Console, audio: bytes, *, model: str = "fake/transcribe", key: str | None = None, csrf: str | None = None
) -> httpx2.Response:
    token = console.csrf("/console/playground?tab=speech") if csrf is None else csrf
    data = {"model": model} | ({"key": key} if key is not None else {})
    files = {"file": ("clip.wav", audio, "audio/wav")}
    return console.http.post("/console/api/transcribe", data=data, files=files, headers={"X-CSRF-Token": token})


def test_a_key_session_speaks_with_its_key_and_is_charged(console: Console, server: Server) -> None:
    key, account = server.new_key(credits=1_000_000)
    console.sign_in(key)
    r = _speak(console, {**HELLO, "voice": "alloy"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav"
    assert r.headers["x-credits-used"] == str(HELLO_CREDITS)
    # A tenth of a second of 16 kHz 16-bit silence per character, after the WAV header.
    assert r.content.startswith(b"RIFF")
    assert len(r.content) == WAV_HEADER_BYTES + len("hello") * 1_600 * 2
    assert server.usage_rows(account) == [("fake/speech", 0, 0, HELLO_CREDITS, "ok")]
    assert server.balance(account) == 1_000_000 - HELLO_CREDITS
    assert server.open_reservations() == 0


def test_a_key_session_transcribes_an_upload_charged_by_its_duration(console: Console, server: Server) -> None:
    key, account = server.new_key(credits=1_000_000)
    console.sign_in(key)
    audio = _wav(2.0)
    r = _transcribe(console, audio)
    assert r.status_code == 200, r.text
    assert r.json() == {"text": f"{len(audio)} bytes of audio", "credits_used": 200, "duration_s": 2.0}
    assert server.usage_rows(account) == [("fake/transcribe", 0, 0, 200, "ok")]  # 100 credits a second
    assert server.balance(account) == 1_000_000 - 200


def test_a_management_session_spends_from_the_chosen_key(admin: Console, server: Server) -> None:
    key, account = server.new_key(credits=1_000_000)
    token = admin.csrf("/console/playground?tab=speech")
    r = _speak(admin, HELLO, csrf=token)
    assert (r.status_code, r.json()["error"]["param"]) == (400, "key")
    r = _speak(admin, {**HELLO, "key": "nope0000"}, csrf=token)
    assert (r.status_code, r.json()["error"]["param"]) == (400, "key")
    r = _transcribe(admin, _wav(1.0), csrf=token)
    assert (r.status_code, r.json()["error"]["param"]) == (400, "key")
    assert server.usage_rows(account) == []

    assert _speak(admin, {**HELLO, "key": key[:8]}, csrf=token).status_code == 200
    r = _transcribe(admin, _wav(1.0), key=key[:8], csrf=token)
    assert r.status_code == 200, r.text
    assert server.usage_rows(account) == [
        ("fake/speech", 0, 0, HELLO_CREDITS, "ok"),
        ("fake/transcribe", 0, 0, 100, "ok"),
    ]


def test_both_endpoints_need_a_session_and_the_csrf_header(console: Console, server: Server) -> None:
    files = {"file": ("clip.wav", _wav(1.0), "audio/wav")}
    for path, body in (("/console/api/speech", {"json": HELLO}), ("/console/api/transcribe", {"files": files})):
        r = console.http.post(path, **body)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "session_expired"), path
    key, account = server.new_key(credits=1_000_000)
    console.sign_in(key)
    for path, body in (("/console/api/speech", {"json": HELLO}), ("/console/api/transcribe", {"files": files})):
        r = console.http.post(path, **body)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "csrf_failed"), path
        r = console.http.post(path, headers={"X-CSRF-Token": "forged"}, **body)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "csrf_failed"), path
    assert server.usage_rows(account) == []
    assert server.balance(account) == 1_000_000


def test_refused_and_failed_requests_cost_nothing(console: Console, server: Server) -> None:
    key, account = server.new_key(credits=1_000_000)
    console.sign_in(key)
    token = console.csrf("/console/playground?tab=speech")
    r = _speak(console, {**HELLO, "text": " "}, csrf=token)
    assert (r.status_code, r.json()["error"]["param"]) == (400, "text")
    r = _speak(console, {"text": "hi"}, csrf=token)
    assert (r.status_code, r.json()["error"]["param"]) == (400, "model")
    r = _speak(console, {**HELLO, "model": "fake/transcribe"}, csrf=token)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "model_not_supported")
    r = _speak(console, {**HELLO, "text": "FAIL"}, csrf=token)  # the fake upstream fails
    assert r.status_code == 502
    r = _transcribe(console, b"not audio at all", csrf=token)
    assert (r.status_code, r.json()["error"]["param"]) == (400, "file")
    r = _transcribe(console, _wav(1.0), model="fake/speech", csrf=token)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "model_not_supported")
    note = {"note": ("note.txt", b"no audio here", "text/plain")}
    r = console.http.post(
        "/console/api/transcribe", data={"model": "fake/transcribe"}, files=note, headers={"X-CSRF-Token": token}
    )
    assert (r.status_code, r.json()["error"]["param"]) == (400, "file")
    assert server.balance(account) == 1_000_000
    assert [row[4] for row in server.usage_rows(account)] == ["error"]  # the upstream failure, at 0
    assert server.usage_rows(account)[0][3] == 0


def test_an_upload_over_the_limit_is_refused(tmp_path: Path) -> None:
    settings = fake_settings(tmp_path, management_key=MANAGEMENT_KEY)
    settings = replace(settings, media=replace(settings.media, max_upload_bytes=4_096))
    server = Server(settings).start()
    console = Console(server)
    try:
        key, account = server.new_key(credits=1_000_000)
        console.sign_in(key)
        r = _transcribe(console, _wav(1.0))
        assert r.status_code == 413
        assert server.balance(account) == 1_000_000
    finally:
        console.close()
        server.stop()


def test_the_speech_tab_lists_the_available_speech_models_and_keys(admin: Console, server: Server) -> None:
    key, _ = server.new_key(credits=10)
    r = admin.http.get("/console/playground?tab=speech")
    assert r.status_code == 200
    assert "media-src blob:" in r.headers["content-security-policy"]
    html = r.text
    speak = html[html.index('id="speak-model"') : html.index("</select>", html.index('id="speak-model"'))]
    hear = html[html.index('id="transcribe-model"') : html.index("</select>", html.index('id="transcribe-model"'))]
    assert '<option value="fake/speech">' in speak
    assert "fake/transcribe" not in speak
    assert "fake/echo" not in speak
    assert '<option value="fake/transcribe">' in hear
    assert "fake/speech" not in hear
    assert f'<option value="{key[:8]}">' in html
    assert 'src="/console/static/speech.js"' in html
    assert 'href="/console/playground?tab=speech" class="active"' in html
    assert admin.http.get("/console/static/speech.js").status_code == 200
    chat = admin.http.get("/console/playground").text
    assert 'href="/console/playground" class="active"' in chat
    assert 'href="/console/playground?tab=speech"' in chat


# -- in the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path_factory.mktemp("speech"), management_key=MANAGEMENT_KEY)).start()
    yield running
    running.stop()


def _new_key(server: Server, credits: int) -> tuple[str, int]:
    """A key made on the server's own loop (Playwright's sync API keeps a loop running in this thread)."""

    async def make() -> tuple[str, int]:
        store = server.gateway.store
        account_id = await store.create_account(name="browser", credits=credits)
        _, plain = await store.create_key(account_id=account_id, name="browser")
        return plain, account_id

    result: tuple[str, int] = server.call(make())
    return result


@pytest.mark.browser
def test_speak_a_text_and_transcribe_a_file_in_the_browser(page: Page, fake_server: Server) -> None:
    url = fake_server.url
    key, account = _new_key(fake_server, 1_000_000)
    _sign_in(page, url, key)
    page.click("nav.tabs >> text=Speech")
    page.wait_for_url(f"{url}/console/playground?tab=speech")

    page.select_option("#speak-model", "fake/speech")
    page.fill("#speak-voice", "alloy")
    page.fill("#speak-text", "hello")
    with page.expect_response(f"{url}/console/api/speech") as answered:
        page.click("#speak-button")
    assert answered.value.status == 200
    expect(page.locator(f'#speak-result[data-credits="{HELLO_CREDITS}"]')).to_have_count(1)
    expect(page.locator("#speak-audio")).to_have_attribute("src", re.compile(r"^blob:"))
    expect(page.locator("#speak-meta")).to_contain_text(f"{HELLO_CREDITS} credits")
    # The browser decodes it (the page's policy lets the blob: URL play): half a second of audio.
    page.wait_for_function("document.getElementById('speak-audio').readyState >= 1")
    assert page.evaluate("document.getElementById('speak-audio').duration") == pytest.approx(0.5, abs=0.01)

    audio = _wav(1.5)
    clip: FilePayload = {"name": "clip.wav", "mimeType": "audio/wav", "buffer": audio}
    page.set_input_files("#transcribe-file", files=[clip])
    page.click("#transcribe-button")
    expect(page.locator("#transcript-text")).to_have_text(f"{len(audio)} bytes of audio")
    expect(page.locator('#transcribe-result[data-credits="150"]')).to_have_count(1)
    expect(page.locator("#transcribe-meta")).to_contain_text("1.5 s of audio · 150 credits")
    assert fake_server.usage_rows(account) == [
        ("fake/speech", 0, 0, HELLO_CREDITS, "ok"),
        ("fake/transcribe", 0, 0, 150, "ok"),
    ]
