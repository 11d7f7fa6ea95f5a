"""Signing in and out: cookies, server-side sessions that end with their key, the sign-in form's
own CSRF token, the throttle, and redirects that stay on the console."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

from tests.console.conftest import MANAGEMENT_KEY, Console
from tests.serving import Server


def test_pages_redirect_to_sign_in(console: Console) -> None:
    r = console.http.get("/console/usage?days=30")
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert location.path == "/console/login"
    assert parse_qs(location.query) == {"next": ["/console/usage?days=30"]}
    assert console.http.get("/console").headers["location"] == "/console/playground"


def test_management_sign_in_sets_a_strict_httponly_cookie_and_stores_only_its_hash(
    console: Console, server: Server
) -> None:
    r = console.sign_in(MANAGEMENT_KEY, next_path="/console/keys")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/keys"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("unigate_session="))
    token = cookie.split(";")[0].split("=", 1)[1]
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console"} <= attributes
    with server.db() as db:
        ids = [row[0] for row in db.execute("SELECT id FROM console_sessions")]
        stored = " ".join(str(v) for row in db.execute("SELECT * FROM console_sessions") for v in row)
    assert ids == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in stored
    assert MANAGEMENT_KEY not in stored
    page = console.http.get("/console/keys")
    assert page.status_code == 200
    assert "management key" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_api_key_sign_in(console: Console, server: Server) -> None:
    key, _ = server.new_key(credits=1000)
    assert console.sign_in(key).status_code == 303
    page = console.http.get("/console/keys")
    assert f"<code>{key[:8]}</code>" in page.text
    assert "Create a key" not in page.text
    assert key not in page.text


def test_a_wrong_key_is_refused_and_the_key_is_not_echoed(console: Console) -> None:
    r = console.sign_in("0123456789abcdef0123456789abcdef")
    assert r.status_code == 401
    assert "not valid" in r.text
    assert "0123456789abcdef" not in r.text
    assert "unigate_session" not in r.headers.get("set-cookie", "")


def test_sign_in_needs_the_form_token(console: Console) -> None:
    console.http.get("/console/login")
    r = console.http.post("/console/login", data={"login_token": "forged", "key": MANAGEMENT_KEY})
    assert r.status_code == 403
    fresh = Console(console.server)
    try:  # no login cookie at all: a form posted from another site
        r = fresh.http.post("/console/login", data={"login_token": "x", "key": MANAGEMENT_KEY})
        assert r.status_code == 403
    finally:
        fresh.close()


def test_sign_in_refuses_a_foreign_origin(console: Console) -> None:
    form = console.http.get("/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token is not None
    r = console.http.post(
        "/console/login",
        data={"login_token": token.group(1), "key": MANAGEMENT_KEY},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403


def test_next_never_leaves_the_console(console: Console) -> None:
    for target in ("https://evil.example/", "//evil.example/console/", "/v1/keys"):
        fresh = Console(console.server)
        try:
            r = fresh.sign_in(MANAGEMENT_KEY, next_path=target)
            assert r.headers["location"] == "/console/playground", target
        finally:
            fresh.close()


def test_sign_out_deletes_the_session(admin: Console, server: Server) -> None:
    cookie = admin.http.cookies["unigate_session"]
    r = admin.post_form("/console/logout", {})
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login"
    with server.db() as db:
        assert db.execute("SELECT COUNT(*) FROM console_sessions").fetchone()[0] == 0
    # The old cookie, replayed, is worth nothing.
    replay = Console(server)
    try:
        replay.http.cookies.set("unigate_session", cookie, path="/console")
        assert replay.http.get("/console/keys").status_code == 303
    finally:
        replay.close()


def test_a_session_ends_when_its_key_is_disabled(console: Console, server: Server) -> None:
    key, _ = server.new_key(credits=1000)
    console.sign_in(key)
    assert console.http.get("/console/usage").status_code == 200
    with server.db() as db:
        db.execute("UPDATE api_keys SET disabled = 1 WHERE prefix = ?", (key[:8],))
    assert console.http.get("/console/usage").status_code == 303


def test_a_session_ends_when_the_management_key_changes(admin: Console, server: Server) -> None:
    assert admin.http.get("/console/keys").status_code == 200
    server.call(_rotate(server))
    assert admin.http.get("/console/keys").status_code == 303


async def _rotate(server: Server) -> None:
    from unigate.storage.factory import store_for

    store = store_for(server.settings)
    await store.open()
    try:
        await store.ensure_management_key("mk-rotated")
    finally:
        await store.close()


def test_failed_sign_ins_are_throttled(console: Console) -> None:
    for _ in range(10):
        assert console.sign_in("f" * 32).status_code == 401
    r = console.sign_in(MANAGEMENT_KEY)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0


def test_an_expired_session_sends_back_to_sign_in(admin: Console, server: Server) -> None:
    assert admin.http.get("/console/usage").status_code == 200
    with server.db() as db:
        db.execute("UPDATE console_sessions SET expires_at = '2000-01-01T00:00:00.000000+00:00'")
    assert admin.http.get("/console/usage").status_code == 303
