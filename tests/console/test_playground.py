"""``POST /console/api/chat``: the playground's stream, run with the session's key (or the one a
management session chooses), CSRF-checked, in the usage ledger like any request."""

from __future__ import annotations

from typing import Any

import orjson

from tests.console.conftest import Console
from tests.serving import Server

USER = {"role": "user", "content": "one two three"}
HELLO: dict[str, Any] = {"model": "fake/echo", "messages": [USER], "max_tokens": 16}


def _events(body: str) -> list[Any]:
    return [orjson.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]


def test_an_api_key_session_streams_with_its_key(console: Console, server: Server) -> None:
    key, account = server.new_key(credits=1_000_000)
    console.sign_in(key)
    r = console.chat({**HELLO, "temperature": 0.5, "messages": [{"role": "system", "content": "be brief"}, USER]})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = _events(r.text)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
    assert text == "one two three"
    last = events[-1]
    assert last["usage"]["completion_tokens"] == 3
    assert last["meta"]["usage"]["credits_used"] > 0
    assert r.text.rstrip().endswith("data: [DONE]")
    assert server.usage_rows(account)[-1][0] == "fake/echo"


def test_a_management_session_spends_from_the_chosen_key(admin: Console, server: Server) -> None:
    key, account = server.new_key(credits=1_000_000)
    token = admin.csrf("/console/playground")
    r = admin.chat(HELLO, csrf=token)
    assert (r.status_code, r.json()["error"]["param"]) == (400, "key")
    r = admin.chat({**HELLO, "key": "nope0000"}, csrf=token)
    assert r.status_code == 400
    r = admin.chat({**HELLO, "key": key[:8]}, csrf=token)
    assert r.status_code == 200
    assert len(server.usage_rows(account)) == 1


def test_errors_keep_their_status_and_the_api_error_body(console: Console, server: Server) -> None:
    key, _ = server.new_key(credits=1)
    console.sign_in(key)
    token = console.csrf("/console/playground")
    r = console.chat(HELLO, csrf=token)
    assert (r.status_code, r.json()["error"]["code"]) == (402, "insufficient_credits")
    r = console.chat({**HELLO, "model": "no/such-model"}, csrf=token)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "model_not_found")
    r = console.chat({**HELLO, "n": 2}, csrf=token)  # not a playground field: ignored
    assert r.status_code == 402


def test_the_chat_endpoint_needs_a_session_and_the_csrf_header(console: Console, server: Server) -> None:
    r = console.http.post("/console/api/chat", json=HELLO)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "session_expired")
    key, _ = server.new_key(credits=1_000_000)
    console.sign_in(key)
    r = console.http.post("/console/api/chat", json=HELLO)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "csrf_failed")
    r = console.http.post("/console/api/chat", json=HELLO, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403


def test_the_playground_page_lists_available_chat_models_and_keys(admin: Console, server: Server) -> None:
    key, _ = server.new_key(credits=10)
    page = admin.http.get("/console/playground").text
    assert '<option value="fake/echo" selected>' in page
    assert f'<option value="{key[:8]}">' in page
    assert 'src="/console/static/playground.js"' in page
    assert admin.http.get("/console/static/playground.js").status_code == 200
