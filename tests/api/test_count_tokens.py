"""``POST /v1/messages/count_tokens`` (and ``/messages/count_tokens``): the official ``anthropic``
SDK's ``messages.count_tokens`` unchanged, Anthropic's own count for a Claude model (an emulated
Anthropic replaying the API reference's answer, behind the router as the registry serves it),
the estimate for the others, Anthropic-shaped errors, no charge, and the rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from tests.api.test_messages import anthropic_error, post
from tests.providers.emulators import Emulator, EmulatorThread, fixture_json, json_reply, model_spec, provider_config
from tests.serving import Server, fake_settings
from unigate.api.anthropic.schema import MessagesRequest
from unigate.catalog.builtin import fake_spec
from unigate.core.provider import Provider
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.fake import FakeProvider
from unigate.providers.router import Routes

FAKE = "fake/echo"
CLAUDE = model_spec("anthropic", "claude-opus-4-6", id="anthropic/claude-opus-4.6", max_output=4096)
HELLO: Any = [{"role": "user", "content": "Hello, world"}]
MK = {"Authorization": "Bearer mk-test"}
COUNT = "/v1/messages/count_tokens"


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    claude = Routes().router("anthropic", [AnthropicProvider(provider_config("anthropic", upstream.url))])
    providers: dict[str, Provider] = {"anthropic": claude, "fake": FakeProvider()}
    settings = fake_settings(tmp_path_factory.mktemp("count"), management_key="mk-test")
    running = Server(settings, models=[CLAUDE, fake_spec()], providers=providers).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def account(server: Server) -> tuple[str, int]:
    return server.new_key(credits=1_000_000)


@pytest.fixture
def client(server: Server, account: tuple[str, int]) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.url, api_key=account[0], max_retries=0) as client:
        yield client


def test_a_claude_model_is_counted_by_anthropic(
    upstream: Emulator, server: Server, account: tuple[str, int], client: anthropic.Anthropic
) -> None:
    documented = fixture_json("anthropic/count_tokens.json")
    upstream.queue(json_reply(documented))
    before = server.balance(account[1])
    counted = client.messages.count_tokens(model=CLAUDE.id, messages=HELLO, system="You are a scientist.")
    assert counted.input_tokens == documented["input_tokens"]
    assert upstream.last.path == COUNT
    # The client's own body, as sent, with the upstream's model id.
    assert upstream.last.body == {"model": "claude-opus-4-6", "messages": HELLO, "system": "You are a scientist."}
    # Free: nothing reserved, settled or recorded.
    assert server.balance(account[1]) == before
    assert server.usage_rows(account[1]) == []
    assert server.open_reservations() == 0


def test_a_messages_clients_newer_fields_and_betas_are_counted_too(
    upstream: Emulator, server: Server, account: tuple[str, int]
) -> None:
    upstream.queue(json_reply({"input_tokens": 31}))
    body = {
        "model": CLAUDE.id,
        "messages": HELLO,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "max_tokens": 4096,
        "stream": True,
        "metadata": {"user_id": "u-1"},
    }
    beta = "context-management-2025-06-27"
    r = httpx2.post(
        f"{server.url}{COUNT}",
        json=body,
        headers={"x-api-key": account[0], "anthropic-version": "2023-06-01", "anthropic-beta": beta},
        timeout=30,
    )
    assert r.json() == {"input_tokens": 31}, r.text
    sent = upstream.last
    assert sent.headers["anthropic-beta"] == beta
    assert sent.body == {  # less what only creating a message takes
        "model": "claude-opus-4-6",
        "messages": HELLO,
        "thinking": body["thinking"],
        "context_management": body["context_management"],
    }


def test_other_models_answer_the_gateways_estimate(server: Server, account: tuple[str, int]) -> None:
    body = {"model": FAKE, "system": "Be brief.", "messages": [*HELLO, {"role": "assistant", "content": "Hi."}]}
    r = post(server, body, key=account[0], path=COUNT)
    assert r.status_code == 200, r.text
    chat = MessagesRequest.model_validate(body).to_canonical(require_max_tokens=False)
    assert r.json() == {"input_tokens": FakeProvider().estimate_prompt_tokens(chat, fake_spec())}
    alias = post(server, body, key=account[0], path="/messages/count_tokens")
    assert alias.json() == r.json()
    with_max = post(server, {**body, "max_tokens": 5}, key=account[0], path=COUNT)
    assert with_max.json() == r.json()  # accepted, and without effect on the count


def test_refusals_are_those_of_v1_messages_in_anthropics_shape(server: Server, account: tuple[str, int]) -> None:
    key = account[0]
    unknown = {"model": "no-such-model", "messages": HELLO}
    counted = anthropic_error(post(server, unknown, key=key, path=COUNT), 404, "not_found_error")
    created = anthropic_error(post(server, {**unknown, "max_tokens": 5}, key=key), 404, "not_found_error")
    assert counted == created
    anthropic_error(post(server, {"model": FAKE, "messages": HELLO}, key=None, path=COUNT), 401, "authentication_error")
    anthropic_error(post(server, {"model": FAKE, "messages": []}, key=key, path=COUNT), 400, "invalid_request_error")
    container = {"model": FAKE, "messages": HELLO, "container": "container_1"}
    said = anthropic_error(post(server, container, key=key, path=COUNT), 400, "invalid_request_error")
    assert said.startswith("container")  # the field policy's refusal, as on /v1/messages
    anthropic_error(httpx2.get(f"{server.url}{COUNT}"), 405, "invalid_request_error")


def test_upstream_failures_are_anthropic_shaped(upstream: Emulator, server: Server, account: tuple[str, int]) -> None:
    upstream.queue(json_reply(fixture_json("anthropic/error_overloaded.json"), status=529))
    body = {"model": CLAUDE.id, "messages": HELLO}
    anthropic_error(post(server, body, key=account[0], path=COUNT), 529, "overloaded_error")


def test_a_count_needs_the_chat_scope(server: Server) -> None:
    key = httpx2.post(f"{server.url}/v1/keys", json={"credits": 1_000, "scopes": ["model:responses"]}, headers=MK)
    limited = key.json()["data"]["key"]
    body = {"model": FAKE, "messages": HELLO}
    anthropic_error(post(server, body, key=limited, path=COUNT), 403, "permission_error")


def test_a_count_is_one_request_against_the_rate_limit(server: Server) -> None:
    created = httpx2.post(
        f"{server.url}/v1/keys", json={"credits": 1_000, "rate_limit": {"rpm": 2, "tpm": 5}}, headers=MK
    )
    key = created.json()["data"]["key"]
    body = {"model": FAKE, "messages": [{"role": "user", "content": "one two three four five six seven"}]}
    first = post(server, body, key=key, path=COUNT)
    assert first.status_code == 200, first.text  # no tokens counted against the 5 per minute
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-remaining-tokens"] == "5"
    assert post(server, body, key=key, path=COUNT).status_code == 200
    anthropic_error(post(server, body, key=key, path=COUNT), 429, "rate_limit_error")
