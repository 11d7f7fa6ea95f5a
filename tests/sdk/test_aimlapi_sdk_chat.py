"""The AI/ML API's own SDK (``aimlapi-sdk-python``), unchanged, on the text side of the gateway:
chat completions (plain, streamed, tools, structured output, async, errors), the Responses API,
embeddings and models, on the fake echo model and the embedded MiniLM. Each test is one run of
the SDK in its own subprocess (``runner.py``); what it read back is checked here, with the
credits it cost.

The fake model answers with the last user message, one token a word, at one credit a token each
way: the seeds' question ("Explain the importance of low-latency LLMs", 6 words) after a 4-word
developer message costs 10 + 6 credits.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sdk.runner import sdk
from tests.serving import Server, fake_settings
from unigate.catalog.builtin import FAKE_MODEL_ID, LOCAL_EMBEDDING_MODEL_ID

QUESTION = "Explain the importance of low-latency LLMs"
PIECES = ["Explain", " the", " importance", " of", " low-latency", " LLMs"]
COST = 10 + 6


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path_factory.mktemp("aimlapi-chat"), management_key="mk-test")).start()
    yield running
    running.stop()


def test_chat_create_reads_the_answer_its_usage_and_meta(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    done = sdk(server, key, "chat", FAKE_MODEL_ID)
    assert (done["object"], done["role"], done["content"], done["finish_reason"]) == (
        "chat.completion",
        "assistant",
        QUESTION,
        "stop",
    )
    assert done["usage"] == {"prompt_tokens": 10, "completion_tokens": 6, "total_tokens": 16}
    assert done["meta"] == {"usage": {"credits_used": COST, "usd_spent": COST / 2_000_000}}
    assert done["request_id"] == done["header_request_id"] is not None
    assert server.balance(account) == 1_000_000 - COST


def test_chat_stream_and_the_stream_helper(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    done = sdk(server, key, "chat_stream", FAKE_MODEL_ID)
    assert len(done["ids"]) == 1
    assert done["objects"] == ["chat.completion.chunk"]
    assert done["pieces"] == PIECES
    assert done["finish_reasons"] == ["stop"]
    assert done["usage"] == 16  # stream_options.include_usage
    assert done["meta"] == [{"usage": {"credits_used": COST, "usd_spent": COST / 2_000_000}}]
    assert {"chunk", "content.delta", "content.done"} <= set(done["helper_events"])
    assert done["helper_content"] == QUESTION
    assert server.balance(account) == 1_000_000 - 2 * COST


def test_async_client_streams(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    assert sdk(server, key, "chat_async", FAKE_MODEL_ID)["pieces"] == PIECES
    assert server.balance(account) == 1_000_000 - COST


def test_tool_round_trip_with_the_schema_the_sdk_cleans(server: Server) -> None:
    """The SDK drops ``strict``, ``title`` and ``$defs`` from tool parameters before sending
    (``aimlapi/_client.py``); the gateway takes what is left, and the stream helper still parses
    the streamed call as a strict tool's."""
    key, account = server.new_key(1_000_000)
    done = sdk(server, key, "chat_tools", FAKE_MODEL_ID)
    assert done["finish_reason"] == "tool_calls"
    assert done["call"] == {"id": "call_fake0", "type": "function", "name": "get_weather", "arguments": "{}"}
    assert (done["answer"], done["answer_finish_reason"]) == ("Thanks, and tomorrow?", "stop")
    assert done["streamed_finish_reason"] == "tool_calls"
    assert done["streamed_call"] == {"name": "get_weather", "parsed": {}}
    # asked: 6 prompt tokens + 1 for the call, twice; answered: 6 + 0 + 2 + 3 prompt, 3 out
    assert server.balance(account) == 1_000_000 - 2 * (6 + 1) - (6 + 2 + 3 + 3)


def test_parse_into_a_pydantic_model(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    done = sdk(server, key, "chat_parse", FAKE_MODEL_ID)
    assert done["parsed"] == {"echo": QUESTION}
    assert done["content"] == '{"echo": "' + QUESTION + '"}'


@pytest.mark.parametrize(
    ("message", "error", "status", "code"),
    [
        ("FAIL", "InternalServerError", 502, "upstream_error"),
        ("FAIL-MIDSTREAM", "APIError", None, "upstream_error"),  # an error event after the first chunk
        ("OVERLOADED", "InternalServerError", 503, "model_overloaded"),
    ],
)
def test_upstream_failures_raise_the_sdks_errors(
    server: Server, message: str, error: str, status: int | None, code: str
) -> None:
    key, account = server.new_key(1_000_000)
    assert sdk(server, key, "chat_error", FAKE_MODEL_ID, message) == {"error": error, "status": status, "code": code}
    rows = server.usage_rows(account)
    if message == "FAIL-MIDSTREAM":  # the token delivered before the failure is paid for
        ((_, _, completion, credits, outcome),) = rows
        assert (completion, outcome) == (1, "error")
        assert server.balance(account) == 1_000_000 - credits
    else:
        assert server.balance(account) == 1_000_000


def test_refusals_raise_the_sdks_errors(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    unknown = sdk(server, key, "chat_error", "no-such/model", "hello")
    assert unknown == {"error": "NotFoundError", "status": 404, "code": "model_not_found"}
    wrong = sdk(server, "0" * 32, "chat_error", FAKE_MODEL_ID, "hello")
    assert wrong == {"error": "AuthenticationError", "status": 401, "code": "invalid_api_key"}
    poor, poor_account = server.new_key(5)
    broke = sdk(server, poor, "chat_error", FAKE_MODEL_ID, "hello")
    # 402, as documented in docs/accounts.md; the service's docs say 403 (see the module's note)
    assert broke == {"error": "APIStatusError", "status": 402, "code": "insufficient_credits"}
    assert (server.balance(account), server.balance(poor_account)) == (1_000_000, 5)


def test_responses_create_and_stream(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    done = sdk(server, key, "responses", FAKE_MODEL_ID)
    assert (done["status"], done["output_text"]) == ("completed", "Ahoy there matey")
    assert done["usage"] == 4 + 3 + 3  # instructions and input in, the echo out
    assert done["event_types"][0] == "response.created"
    assert done["event_types"][-1] == "response.completed"
    assert done["streamed_text"] == "Ahoy there matey"
    assert server.balance(account) == 1_000_000 - (4 + 3 + 3) - (3 + 3)


def test_responses_chained_with_previous_response_id(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    done = sdk(server, key, "responses_chained", FAKE_MODEL_ID)
    assert done == {"second": "second turn", "kept": "first turn", "kept_id": True}


def test_embeddings_in_every_encoding(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    done = sdk(server, key, "embeddings", LOCAL_EMBEDDING_MODEL_ID)
    assert done["model"] == LOCAL_EMBEDDING_MODEL_ID
    assert done["indexes"] == [0, 1, 2]
    assert done["dims"] == [384, 384, 384]
    assert done["max_diff"] < 1e-7  # the SDK's default (base64, decoded by it) and floats agree
    assert done["unpacked_diff"] < 1e-7
    assert done["similar"] > done["unrelated"] + 0.3
    assert done["usage"]["prompt_tokens"] == done["usage"]["total_tokens"] > 10
    assert done["meta"]["usage"]["credits_used"] >= 0
    assert server.usage_rows(account)[0][0] == LOCAL_EMBEDDING_MODEL_ID


def test_models_list_and_retrieve(server: Server) -> None:
    key, _ = server.new_key(1_000)
    done = sdk(server, key, "models", FAKE_MODEL_ID)
    assert done["object"] == "list"
    assert {FAKE_MODEL_ID, LOCAL_EMBEDDING_MODEL_ID} <= set(done["ids"])
    assert done["retrieved"] == {"id": FAKE_MODEL_ID, "object": "model", "owned_by": "unigate"}
    assert done["created_is_int"]
