"""Stored responses through the official ``openai`` SDK against a running gateway (SQLite, the
fake models): chains with ``previous_response_id`` (the model reads the chain, and is billed for
it), ``retrieve``, ``input_items.list`` with its pagination, ``delete``, ``store=False``, another
account's ids, and background responses polled to their end, cancelled and failed, each settled
once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

from tests.serving import Server, fake_settings

FAKE = "fake/echo"
SLOW = " ".join(f"w{i}" for i in range(100))
"""100 words: 5 s of the fake model at this module's 0.05 s a token."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = fake_settings(tmp_path_factory.mktemp("stored"), management_key="mk-test", fake_token_delay_s=0.05)
    running = Server(settings).start()
    yield running
    running.stop()


@pytest.fixture
def account(server: Server) -> tuple[str, int]:
    return server.new_key(credits=10_000_000)


@pytest.fixture
def client(server: Server, account: tuple[str, int]) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=account[0], max_retries=0) as client:
        yield client


def raw(server: Server, key: str, method: str, path: str, body: dict[str, Any] | None = None) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx2.request(method, f"{server.url}{path}", json=body, headers=headers, timeout=30)


def credits_of(response: Any) -> int:
    used: int = response.model_dump()["meta"]["usage"]["credits_used"]
    return used


def test_a_chain_is_read_by_the_model_and_billed_as_its_prompt(client: openai.OpenAI, server: Server) -> None:
    first = client.responses.create(model=FAKE, input="one two three", instructions="be terse")
    assert first.model_dump()["store"] is True
    second = client.responses.create(model=FAKE, input="four five", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert second.output_text == "four five"
    assert second.usage is not None
    # The first turn's input and output, then this input; the first's instructions are not carried.
    assert (second.usage.input_tokens, second.usage.output_tokens) == (3 + 3 + 2, 2)
    assert credits_of(second) == 8 + 2  # the fake price: a credit a token, prompt and output
    third = client.responses.create(model=FAKE, input="six", previous_response_id=second.id)
    assert third.usage is not None
    assert third.usage.input_tokens == 8 + 2 + 1

    again = client.responses.retrieve(second.id)
    assert again.model_dump() == second.model_dump()
    items = client.responses.input_items.list(third.id)  # newest first, as OpenAI's default
    texts = [item.content[0].text for item in items.data]  # type: ignore[union-attr,index]
    assert texts == ["six", "four five", "four five", "one two three", "one two three"]
    assert [item.role for item in items.data] == ["user", "assistant", "user", "assistant", "user"]  # type: ignore[union-attr]
    assert items.data[3].id == first.output[0].id
    assert all(item.id for item in items.data)
    paged = list(client.responses.input_items.list(third.id, limit=2, order="asc"))  # follows has_more, after
    ids = [item.id for item in reversed(items.data)]
    assert [item.id for item in paged] == ids
    page = raw(server, client.api_key, "GET", f"/v1/responses/{third.id}/input_items?limit=2&order=asc").json()
    assert (page["object"], page["has_more"], page["first_id"], page["last_id"]) == ("list", True, *ids[:2])
    last = raw(server, client.api_key, "GET", f"/v1/responses/{third.id}/input_items?order=asc&after={ids[2]}").json()
    assert ([item["id"] for item in last["data"]], last["has_more"]) == (ids[3:], False)


def test_a_stream_is_stored_when_it_ends(client: openai.OpenAI) -> None:
    with client.responses.stream(model=FAKE, input="red green blue") as stream:
        final = stream.get_final_response()
    stored = client.responses.retrieve(final.id)
    assert (stored.status, stored.output_text) == ("completed", "red green blue")
    follow = client.responses.create(model=FAKE, input="more", previous_response_id=final.id)
    assert follow.usage is not None
    assert follow.usage.input_tokens == 3 + 3 + 1


def test_a_function_call_chain_takes_only_the_output(client: openai.OpenAI) -> None:
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    call = client.responses.create(model=FAKE, input="weather in Paris?", tools=tools, tool_choice="required")
    (item,) = call.output
    assert item.type == "function_call"
    answer = client.responses.create(
        model=FAKE,
        tools=tools,
        previous_response_id=call.id,
        input=[{"type": "function_call_output", "call_id": item.call_id, "output": "sunny"}],
    )
    assert answer.output_text == "weather in Paris?"  # the chain's user message, echoed
    kinds = [i.type for i in client.responses.input_items.list(answer.id, order="asc")]
    assert kinds == ["message", "function_call", "function_call_output"]


def test_an_item_reference_names_an_item_of_the_chain(client: openai.OpenAI, server: Server) -> None:
    first = client.responses.create(model=FAKE, input="alpha beta")
    ref = {"type": "item_reference", "id": first.output[0].id}
    second = client.responses.create(model=FAKE, previous_response_id=first.id, input=[ref])  # type: ignore[list-item]
    assert second.usage is not None
    assert second.usage.input_tokens == 2 + 2 + 2
    unknown = raw(server, client.api_key, "POST", "/v1/responses", {"model": FAKE, "input": [ref]})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "input[0]"


def test_store_false_keeps_nothing_but_may_continue_a_stored_one(client: openai.OpenAI, server: Server) -> None:
    kept = client.responses.create(model=FAKE, input="one two")
    loose = client.responses.create(model=FAKE, input="three", store=False, previous_response_id=kept.id)
    assert loose.model_dump()["store"] is False
    assert loose.usage is not None
    assert loose.usage.input_tokens == 2 + 2 + 1
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(loose.id)
    r = raw(
        server, client.api_key, "POST", "/v1/responses", {"model": FAKE, "input": "x", "previous_response_id": loose.id}
    )
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "message": f"Previous response with id {loose.id!r} not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    }


def test_another_accounts_responses_are_not_found(client: openai.OpenAI, server: Server) -> None:
    mine = client.responses.create(model=FAKE, input="secret words")
    other, _ = server.new_key(credits=1_000_000)
    for method, path in [
        ("GET", f"/v1/responses/{mine.id}"),
        ("GET", f"/v1/responses/{mine.id}/input_items"),
        ("DELETE", f"/v1/responses/{mine.id}"),
        ("POST", f"/v1/responses/{mine.id}/cancel"),
    ]:
        r = raw(server, other, method, path)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["type"] == "invalid_request_error"
    r = raw(server, other, "POST", "/v1/responses", {"model": FAKE, "input": "x", "previous_response_id": mine.id})
    assert (r.status_code, r.json()["error"]["param"]) == (404, "previous_response_id")
    assert client.responses.retrieve(mine.id).output_text == "secret words"


def test_the_responses_scope_is_needed_to_read_one(client: openai.OpenAI, server: Server) -> None:
    made = client.responses.create(model=FAKE, input="x")
    r = httpx2.patch(
        f"{server.url}/v1/keys/{client.api_key[:8]}",
        json={"scopes": ["model:chat"]},
        headers={"Authorization": "Bearer mk-test"},
    )
    assert r.status_code == 200, r.text
    denied = raw(server, client.api_key, "GET", f"/v1/responses/{made.id}")
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "missing_scope")


def test_delete_removes_it_and_breaks_the_chains_through_it(client: openai.OpenAI, server: Server) -> None:
    first = client.responses.create(model=FAKE, input="a")
    second = client.responses.create(model=FAKE, input="b", previous_response_id=first.id)
    r = raw(server, client.api_key, "DELETE", f"/v1/responses/{first.id}")
    assert r.json() == {"id": first.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError, match="no longer stored"):
        client.responses.create(model=FAKE, input="c", previous_response_id=second.id)
    client.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(second.id)


def poll(client: openai.OpenAI, response_id: str, *, within_s: float = 30) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        r = client.responses.retrieve(response_id)
        if r.status not in ("queued", "in_progress"):
            return r
        assert time.monotonic() < deadline, f"{response_id} still {r.status}"
        time.sleep(0.1)


def test_a_background_response_is_polled_to_its_end_and_charged_once(
    client: openai.OpenAI, server: Server, account: tuple[str, int]
) -> None:
    before = server.balance(account[1])
    started = client.responses.create(model=FAKE, input="one two three four", background=True)
    assert started.status == "queued"
    assert started.model_dump()["background"] is True
    assert started.output == []
    done = poll(client, started.id)
    assert (done.status, done.output_text, done.background) == ("completed", "one two three four", True)
    assert done.usage is not None
    assert credits_of(done) == done.usage.input_tokens + done.usage.output_tokens == 8
    assert server.usage_rows(account[1]) == [("fake/echo", 4, 4, 8, "ok")]
    assert server.balance(account[1]) == before - 8
    assert server.open_reservations() == 0
    chained = client.responses.create(model=FAKE, input="five", previous_response_id=done.id)
    assert chained.usage is not None
    assert chained.usage.input_tokens == 4 + 4 + 1


def test_a_background_response_is_cancelled(client: openai.OpenAI, server: Server, account: tuple[str, int]) -> None:
    started = client.responses.create(model=FAKE, input=SLOW, background=True)
    with pytest.raises(openai.BadRequestError, match="still"):  # not yet to be continued
        client.responses.create(model=FAKE, input="x", previous_response_id=started.id)
    time.sleep(0.3)
    cancelled = client.responses.cancel(started.id)
    assert cancelled.status == "cancelled"
    assert client.responses.cancel(started.id).status == "cancelled"  # again: no change
    time.sleep(0.3)
    assert poll(client, started.id).status == "cancelled"
    # Charged the prompt it read, as a client that leaves is; once.
    assert server.usage_rows(account[1]) == [("fake/echo", 101, 0, 101, "cancelled")]
    assert server.open_reservations() == 0
    foreground = client.responses.create(model=FAKE, input="x")
    with pytest.raises(openai.BadRequestError, match="background"):
        client.responses.cancel(foreground.id)


def test_a_background_response_that_fails_is_not_charged(
    client: openai.OpenAI, server: Server, account: tuple[str, int]
) -> None:
    started = client.responses.create(model=FAKE, input="FAIL", background=True)
    failed = poll(client, started.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "upstream_error"
    assert server.usage_rows(account[1]) == [("fake/echo", 0, 0, 0, "error")]
    with pytest.raises(openai.BadRequestError, match="status is 'failed'"):
        client.responses.cancel(started.id)


def test_a_background_response_deleted_while_it_runs_stops(
    client: openai.OpenAI, server: Server, account: tuple[str, int]
) -> None:
    started = client.responses.create(model=FAKE, input=SLOW, background=True)
    time.sleep(0.3)
    client.responses.delete(started.id)
    deadline = time.monotonic() + 10
    while server.open_reservations():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert server.usage_rows(account[1]) == [("fake/echo", 101, 0, 101, "cancelled")]


def test_a_refused_background_response_is_not_stored_nor_charged(server: Server) -> None:
    poor, account_id = server.new_key(credits=5)
    r = raw(server, poor, "POST", "/v1/responses", {"model": FAKE, "input": SLOW, "background": True})
    assert r.status_code == 402, r.text
    assert server.usage_rows(account_id) == []
    with server.db() as db:
        assert db.execute("SELECT COUNT(*) FROM responses WHERE account_id = ?", (account_id,)).fetchone()[0] == 0
