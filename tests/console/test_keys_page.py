"""The Keys page: create (shown once), enable and disable, limits, credits, delete; CSRF on every
form; API-key sessions may look, not change."""

from __future__ import annotations

import re

import httpx2
import pytest

from tests.console.conftest import Console
from tests.serving import Server


def _created_key(html: str) -> str:
    found = re.search(r'<code id="new-key">([0-9a-f]{32})</code>', html)
    assert found is not None, html[:1000]
    return found.group(1)


def _chat(server: Server, key: str) -> httpx2.Response:
    return httpx2.post(
        f"{server.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "fake/echo", "messages": [{"role": "user", "content": "hi there"}], "max_tokens": 8},
    )


def test_create_shows_the_key_once_and_it_works(admin: Console, server: Server) -> None:
    r = admin.post_form(
        "/console/keys",
        {"name": "web", "credits_usd": "0.5", "limit_usd": "0.25", "limit_period": "day", "rpm": "60", "tpm": ""},
    )
    assert r.status_code == 200
    key = _created_key(r.text)
    assert r.headers["Cache-Control"] == "no-store"
    assert _chat(server, key).status_code == 200
    listing = admin.http.get("/console/keys").text
    assert key[:8] in listing
    assert key not in listing  # shown once, never again
    with server.db() as db:
        row = db.execute(
            "SELECT k.name, k.limit_retention, k.limit_credits, k.rpm, k.tpm, a.balance FROM api_keys k"
            " JOIN accounts a ON a.id = k.account_id WHERE k.prefix = ?",
            (key[:8],),
        ).fetchone()
    assert row[:5] == ("web", "day", 500_000, 60, None)
    assert 0 < row[5] <= 1_000_000


def test_create_on_an_existing_account_and_bad_input(admin: Console, server: Server) -> None:
    _, account = server.new_key(credits=100)
    r = admin.post_form("/console/keys", {"account_id": str(account), "credits_usd": "1"})
    assert r.status_code == 200
    assert server.balance(account) == 100 + 2_000_000
    r = admin.post_form("/console/keys", {"account_id": "999"})
    assert (r.status_code, "no account 999" in r.text) == (400, True)
    r = admin.post_form("/console/keys", {"rpm": "0"})
    assert (r.status_code, "at least 1" in r.text) == (400, True)
    r = admin.post_form("/console/keys", {"credits_usd": "lots"})
    assert (r.status_code, "must be a decimal number" in r.text) == (400, True)


def test_disable_enable_limits_credits_delete(admin: Console, server: Server) -> None:
    key, account = server.new_key(credits=1_000)
    prefix = key[:8]
    token = admin.csrf()
    assert admin.post_form(f"/console/keys/{prefix}/state", {"disabled": "1"}, csrf=token).status_code == 303
    assert _chat(server, key).status_code == 401
    assert admin.post_form(f"/console/keys/{prefix}/state", {"disabled": "0"}, csrf=token).status_code == 303
    assert _chat(server, key).status_code == 200
    r = admin.post_form(
        f"/console/keys/{prefix}/limits",
        {"name": "renamed", "limit_usd": "2", "limit_period": "week", "rpm": "", "tpm": "5000"},
        csrf=token,
    )
    assert r.status_code == 303
    with server.db() as db:
        row = db.execute(
            "SELECT name, limit_retention, limit_credits, rpm, tpm FROM api_keys WHERE prefix = ?", (prefix,)
        ).fetchone()
    assert row == ("renamed", "week", 4_000_000, None, 5000)
    before = server.balance(account)
    r = admin.post_form(f"/console/accounts/{account}/credits", {"credits_usd": "0.001"}, csrf=token)
    assert r.status_code == 303
    assert server.balance(account) == before + 2_000
    assert admin.post_form(f"/console/keys/{prefix}/delete", {}, csrf=token).status_code == 303
    assert _chat(server, key).status_code == 401
    assert prefix not in admin.http.get("/console/keys").text
    assert admin.post_form(f"/console/keys/{prefix}/delete", {}, csrf=token).status_code == 404


@pytest.mark.parametrize(
    "path", ["/console/keys", "/console/keys/abcdef12/state", "/console/keys/abcdef12/delete", "/console/logout"]
)
def test_posts_without_the_csrf_token_are_refused(admin: Console, path: str) -> None:
    assert admin.http.post(path, data={"name": "x"}).status_code == 403
    assert admin.http.post(path, data={"csrf_token": "wrong", "name": "x"}).status_code == 403


def test_posts_from_another_origin_are_refused(admin: Console) -> None:
    token = admin.csrf()
    r = admin.http.post(
        "/console/keys", data={"csrf_token": token, "name": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403
    r = admin.http.post("/console/keys", data={"csrf_token": token, "name": "x"}, headers={"Origin": admin.server.url})
    assert r.status_code == 200


def test_api_key_sessions_cannot_change_keys(console: Console, server: Server) -> None:
    key, _ = server.new_key(credits=1_000)
    console.sign_in(key)
    r = console.post_form("/console/keys", {"name": "mine"})
    assert r.status_code == 403
    assert "management key" in r.text
    assert console.post_form(f"/console/keys/{key[:8]}/state", {"disabled": "1"}).status_code == 403


def test_scopes_restrict_and_clear(admin: Console, server: Server) -> None:
    r = admin.post_form("/console/keys", {"credits_usd": "1", "scope": "model:responses"})
    key = _created_key(r.text)
    assert (_chat(server, key).status_code, _chat(server, key).json()["error"]["code"]) == (403, "missing_scope")
    assert "model:responses" in admin.http.get("/console/keys").text
    assert admin.post_form(f"/console/keys/{key[:8]}/limits", {"scopes_shown": "1"}).status_code == 303
    assert _chat(server, key).status_code == 200
    assert admin.post_form("/console/keys", {"scope": "model:images"}).status_code == 400
