"""The field policy (``core/field_policy.py``, ``docs/field-policy.md``), one test per row and
per side: each row's field is sent through its inbound API to a model whose upstream speaks that
API and to one whose upstream does not, and the emulated upstream shows what became of it:
forwarded as sent, translated, dropped, or refused with a 400 naming it before any upstream call.
Every row of the table has a sample here (``test_every_row_has_a_sample``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.providers.emulators import Emulator, EmulatorThread, fixture_json, json_reply, model_spec, provider_config
from tests.serving import Server, fake_settings
from unigate.catalog.loader import load_catalog
from unigate.core.chat import Dialect
from unigate.core.field_policy import POLICY, UNKNOWN, rule_for
from unigate.core.provider import Provider
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.openai_responses.request import REASONING_FEATURE

CLAUDE = model_spec("anthropic", "claude-sonnet-4-6", id="anthropic/claude-sonnet-4.6", max_output=64000)
GPT = model_spec("openai", "gpt-4o", id="gpt-4o", max_output=16384)
CODEX = next(s for s in load_catalog() if s.id == "openai/gpt-5-1-codex")
DEEPSEEK = model_spec("deepseek", "deepseek-chat", id="deepseek/deepseek-chat")
"""An OpenAI-compatible upstream that is not OpenAI: another dialect for the newest fields."""

PATHS: dict[Dialect, str] = {
    "anthropic": "/v1/messages",
    "openai_chat": "/v1/chat/completions",
    "openai_responses": "/v1/responses",
}
SAME: dict[Dialect, str] = {"anthropic": CLAUDE.id, "openai_chat": GPT.id, "openai_responses": CODEX.id}
OTHER: dict[Dialect, str] = {"anthropic": GPT.id, "openai_chat": CLAUDE.id, "openai_responses": CLAUDE.id}
REPLIES = {
    "anthropic": fixture_json("anthropic/message.json"),
    "openai": fixture_json("openai/gpt4o_vision.json"),
    "openai_responses": fixture_json("openai_responses/text.json"),
}


def base(dialect: Dialect, model: str) -> dict[str, Any]:
    if dialect == "anthropic":
        return {"model": model, "max_tokens": 2000, "messages": [{"role": "user", "content": "Hi"}]}
    if dialect == "openai_chat":
        return {"model": model, "messages": [{"role": "user", "content": "Hi"}]}
    return {"model": model, "input": "Hi"}


Sample = tuple[dict[str, Any], dict[str, str], Callable[[dict[str, Any]], Any]]
"""A row's members to add to the body, headers to add, and what to read of the upstream's body
(``None`` when the field did not reach it) in the same shape as the member sent."""

BASH = {"type": "bash_20250124", "name": "bash"}
SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
DEFERRED = {"name": "lookup", "input_schema": {"type": "object"}, "defer_loading": True}
NAMESPACE = {
    "type": "namespace",
    "name": "agents",
    "description": "d",
    "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object"}}],
}
HOSTED = {"type": "web_search", "external_web_access": False}
CUSTOM_TOOL = {"type": "custom", "name": "apply_patch", "description": "Edit files."}
SEALED = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-sealed"}
CUSTOM_CALL = {"type": "custom_tool_call", "call_id": "call_1", "name": "apply_patch", "input": "*** Begin"}


def member(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda body: body.get(name)


def tool_of(kind: str | None, name: str | None = None) -> Callable[[dict[str, Any]], Any]:
    def read(body: dict[str, Any]) -> Any:
        for tool in body.get("tools") or ():
            if (kind is None or tool.get("type") == kind) and (name is None or tool.get("name") == name):
                return tool
        return None

    return read


def item_of(kind: str) -> Callable[[dict[str, Any]], Any]:
    def read(body: dict[str, Any]) -> Any:
        items = body.get("input")
        return next((i for i in items if isinstance(i, dict) and i.get("type") == kind), None) if items else None

    return read


def deferred(body: dict[str, Any]) -> Any:
    """The tool's ``defer_loading``, the tool itself reaching the upstream in either API."""
    tool = next(t for t in body["tools"] if "lookup" in (t.get("name"), (t.get("function") or {}).get("name")))
    return tool.get("defer_loading")


SAMPLES: dict[tuple[Dialect, str], Sample] = {
    ("anthropic", "thinking"): ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, {}, member("thinking")),
    ("anthropic", "output_config"): ({"output_config": {"effort": "low"}}, {}, member("output_config")),
    ("anthropic", "metadata"): ({"metadata": {"user_id": "u-1"}}, {}, member("metadata")),
    ("anthropic", "context_management"): (
        {"context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}},
        {},
        member("context_management"),
    ),
    ("anthropic", "cache_control"): ({"cache_control": {"type": "ephemeral"}}, {}, member("cache_control")),
    ("anthropic", "tools[].defer_loading"): ({"tools": [DEFERRED]}, {}, deferred),
    ("anthropic", "container"): ({"container": "container_1"}, {}, member("container")),
    ("anthropic", "mcp_servers"): (
        {"mcp_servers": [{"type": "url", "url": "https://mcp.example.com/sse", "name": "x"}]},
        {},
        member("mcp_servers"),
    ),
    ("anthropic", "inference_geo"): ({"inference_geo": "us"}, {}, member("inference_geo")),
    ("anthropic", "service_tier"): ({"service_tier": "auto"}, {}, member("service_tier")),
    ("anthropic", "speed"): ({"speed": "fast"}, {}, member("speed")),
    ("anthropic", "tools[] the API's own tools (bash_*, text_editor_*, computer_*, memory_*, web_fetch_*, ...)"): (
        {"tools": [BASH]},
        {},
        tool_of("bash_20250124"),
    ),
    ("anthropic", "tools[] server tools billed per use (web_search_*, code_execution_*)"): (
        {"tools": [SEARCH_TOOL]},
        {},
        tool_of("web_search_20250305"),
    ),
    ("anthropic", "anthropic-beta header"): ({}, {"anthropic-beta": "context-management-2025-06-27"}, member("")),
    ("openai_responses", "reasoning"): ({"reasoning": {"effort": "low", "summary": "auto"}}, {}, member("reasoning")),
    ("openai_responses", "safety_identifier"): ({"safety_identifier": "u-1"}, {}, member("safety_identifier")),
    ("openai_responses", "include"): ({"include": ["reasoning.encrypted_content"]}, {}, member("include")),
    ("openai_responses", "client_metadata"): ({"client_metadata": {"x": "1"}}, {}, member("client_metadata")),
    ("openai_responses", "prompt_cache_key"): ({"prompt_cache_key": "k-1"}, {}, member("prompt_cache_key")),
    ("openai_responses", "truncation"): ({"truncation": "auto"}, {}, member("truncation")),
    ("openai_responses", "text.verbosity"): ({"text": {"verbosity": "low"}}, {}, member("text")),
    ("openai_responses", "input[] reasoning items"): (
        {"input": [{"role": "user", "content": "Hi"}, SEALED]},
        {},
        item_of("reasoning"),
    ),
    ("openai_responses", "store"): ({"store": True}, {}, member("store")),
    ("openai_responses", "metadata"): ({"metadata": {"x": "1"}}, {}, member("metadata")),
    ("openai_responses", "service_tier"): ({"service_tier": "priority"}, {}, member("service_tier")),
    ("openai_responses", "conversation"): ({"conversation": "conv_1"}, {}, member("conversation")),
    ("openai_responses", "prompt"): ({"prompt": {"id": "pmpt_1"}}, {}, member("prompt")),
    ("openai_responses", "tools[] namespace"): ({"tools": [NAMESPACE]}, {}, tool_of("namespace")),
    ("openai_responses", "tools[] custom, local_shell, mcp"): ({"tools": [CUSTOM_TOOL]}, {}, tool_of("custom")),
    ("openai_responses", "tools[] hosted (web_search*, file_search, code_interpreter, image_generation)"): (
        {"tools": [HOSTED]},
        {},
        tool_of("web_search"),
    ),
    ("openai_responses", "input[] items of other types"): (
        {"input": [{"role": "user", "content": "Hi"}, CUSTOM_CALL]},
        {},
        item_of("custom_tool_call"),
    ),
    ("openai_chat", "thinking"): ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, {}, member("thinking")),
    ("openai_chat", "user"): ({"user": "u-1"}, {}, member("user")),
    ("openai_chat", "prompt_cache_key"): ({"prompt_cache_key": "k-1"}, {}, member("prompt_cache_key")),
    ("openai_chat", "safety_identifier"): ({"safety_identifier": "u-1"}, {}, member("safety_identifier")),
    ("openai_chat", "prediction"): ({"prediction": {"type": "content", "content": "x"}}, {}, member("prediction")),
    ("openai_chat", "verbosity"): ({"verbosity": "low"}, {}, member("verbosity")),
    ("openai_chat", "modalities"): ({"modalities": ["text", "audio"]}, {}, member("modalities")),
    ("openai_chat", "audio"): ({"audio": {"voice": "alloy", "format": "wav"}}, {}, member("audio")),
    ("openai_chat", "store"): ({"store": True}, {}, member("store")),
    ("openai_chat", "metadata"): ({"metadata": {"x": "1"}}, {}, member("metadata")),
    ("openai_chat", "service_tier"): ({"service_tier": "priority"}, {}, member("service_tier")),
}
UNKNOWN_SAMPLE: Sample = ({"frobnicate": {"level": 3}}, {}, member("frobnicate"))

TRANSLATED: dict[tuple[Dialect, str, str], Callable[[dict[str, Any]], bool]] = {
    # What each translation becomes upstream, on the side that translates.
    ("anthropic", "thinking", "other"): lambda b: b.get("reasoning_effort") == "medium",  # 1,024 of 2,000 tokens
    ("anthropic", "output_config", "other"): lambda b: b.get("reasoning_effort") == "low",
    ("anthropic", "metadata", "other"): lambda b: b.get("user") == "u-1",
    ("openai_responses", "reasoning", "other"): lambda b: (b.get("thinking") or {}).get("type") == "enabled",
    ("openai_responses", "safety_identifier", "other"): lambda b: (b.get("metadata") or {}).get("user_id") == "u-1",
    ("openai_responses", "store", "same"): lambda b: b.get("store") is False,
    ("openai_responses", "tools[] namespace", "other"): lambda b: [t["name"] for t in b["tools"]] == ["spawn"],
    ("openai_responses", "store", "other"): lambda b: "store" not in b,
    ("openai_chat", "thinking", "same"): lambda b: b.get("reasoning_effort") == "low",  # 1,024 of 32,000 tokens
    ("openai_chat", "thinking", "other"): lambda b: (b.get("thinking") or {}).get("type") == "enabled",
    ("openai_chat", "user", "other"): lambda b: (b.get("metadata") or {}).get("user_id") == "u-1",
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    providers: dict[str, Provider] = {
        "anthropic": AnthropicProvider(provider_config("anthropic", upstream.url)),
        "openai": OpenAICompatProvider(provider_config("openai", upstream.url + "/v1")),
        "deepseek": OpenAICompatProvider(provider_config("deepseek", upstream.url + "/v1")),
    }
    data_dir: Path = tmp_path_factory.mktemp("field-policy")
    running = Server(fake_settings(data_dir), models=[CLAUDE, GPT, CODEX, DEEPSEEK], providers=providers).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return server.new_key(credits=10_000_000_000)[0]


def send(server: Server, upstream: Emulator, key: str, dialect: Dialect, model: str, sample: Sample) -> httpx2.Response:
    upstream.replies.clear()
    upstream.requests.clear()
    if model == CLAUDE.id:
        upstream.queue(json_reply(REPLIES["anthropic"]))
    elif model == CODEX.id or (model == GPT.id and dialect == "openai_responses"):
        upstream.queue(json_reply(REPLIES["openai_responses"]))
    else:
        upstream.queue(json_reply(REPLIES["openai"]))
    patch, headers, _ = sample
    body = base(dialect, model) | patch
    auth = {"x-api-key": key} if dialect == "anthropic" else {"Authorization": f"Bearer {key}"}
    with httpx2.Client(timeout=30) as http:
        return http.post(server.url + PATHS[dialect], json=body, headers=auth | headers)


ROWS = [(dialect, name) for dialect, table in POLICY.items() for name in table]


def test_every_row_has_a_sample() -> None:
    assert sorted(SAMPLES) == sorted(ROWS)


@pytest.mark.parametrize(("dialect", "name"), ROWS)
@pytest.mark.parametrize("side", ["same", "other"])
def test_row(server: Server, upstream: Emulator, key: str, dialect: Dialect, name: str, side: str) -> None:
    sample = SAMPLES[(dialect, name)]
    rule = POLICY[dialect][name]
    kind = rule.same if side == "same" else rule.other
    model = SAME[dialect] if side == "same" else OTHER[dialect]
    r = send(server, upstream, key, dialect, model, sample)
    if kind == "refuse":
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert name.split(" ")[0].split("[")[0] in (error.get("param") or error.get("message")), error
        assert upstream.requests == []
        return
    assert r.status_code == 200, r.text
    [sent] = upstream.requests
    patch, headers, read = sample
    if name == "anthropic-beta header":
        assert sent.headers.get("anthropic-beta") == (headers["anthropic-beta"] if kind == "forward" else None)
        return
    got = read(sent.body)
    expected = next(iter(patch.values()))
    if name == "tools[].defer_loading":
        expected = True
    elif name.startswith(("tools[]", "input[]")):
        expected = expected[-1]  # the sample's tool or item
    if kind == "forward":
        assert got == expected
    elif kind == "drop":
        assert got is None
    else:
        assert got != expected
        assert TRANSLATED[(dialect, name, side)](sent.body), sent.body


@pytest.mark.parametrize("dialect", list(PATHS))
def test_an_unknown_field_goes_to_the_same_dialect_only(
    server: Server, upstream: Emulator, key: str, dialect: Dialect
) -> None:
    assert rule_for(dialect, "frobnicate") is UNKNOWN
    r = send(server, upstream, key, dialect, SAME[dialect], UNKNOWN_SAMPLE)
    assert r.status_code == 200, r.text
    assert upstream.requests[0].body["frobnicate"] == {"level": 3}
    r = send(server, upstream, key, dialect, OTHER[dialect], UNKNOWN_SAMPLE)
    assert r.status_code == 400
    assert upstream.requests == []
    error = r.json()["error"]
    assert "frobnicate" in error["message"]


def test_an_openai_compatible_upstream_that_is_not_openai_gets_no_new_fields(
    server: Server, upstream: Emulator, key: str
) -> None:
    r = send(server, upstream, key, "openai_chat", DEEPSEEK.id, ({"prompt_cache_key": "k"}, {}, member("")))
    assert r.status_code == 200, r.text
    assert "prompt_cache_key" not in upstream.requests[0].body
    r = send(server, upstream, key, "openai_chat", DEEPSEEK.id, UNKNOWN_SAMPLE)
    assert (r.status_code, r.json()["error"]["param"]) == (400, "frobnicate")


def test_a_chat_bound_above_the_models_output_limit_is_lowered_to_it(
    server: Server, upstream: Emulator, key: str
) -> None:
    r = send(server, upstream, key, "openai_chat", GPT.id, ({"max_tokens": 32000}, {}, member("")))
    assert r.status_code == 200, r.text
    assert upstream.requests[0].body["max_completion_tokens"] == GPT.max_output


def test_codex_reasoning_model_is_asked_for_its_sealed_reasoning() -> None:
    assert REASONING_FEATURE in CODEX.features


def test_the_docs_show_the_table() -> None:
    """``docs/field-policy.md`` has one row per rule, with the rule's two sides."""
    docs = (Path(__file__).parents[2] / "docs" / "field-policy.md").read_text()
    shown: dict[str, list[tuple[str, str]]] = {}
    for line in docs.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            shown.setdefault(cells[0].strip("`"), []).append((cells[1], cells[2]))
    for dialect, table in POLICY.items():
        for name, rule in table.items():
            rows = shown.get(name, [])
            assert (rule.same, rule.other) in rows, (dialect, name)
            rows.remove((rule.same, rule.other))
    assert all(rows == [] for rows in shown.values()), shown
