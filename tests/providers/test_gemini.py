"""The Gemini adapter against recorded generateContent payloads replayed by a local emulator: the
``GenerateContentRequest`` we build, field by field, and the canonical result, field by field."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest

from tests.providers.emulators import (
    UPSTREAM_KEY,
    Emulator,
    chat,
    deltas,
    fixture,
    fixture_json,
    json_reply,
    model_spec,
    provider_config,
    sse_reply,
    user,
)
from unigate.catalog.spec import ModelSpec
from unigate.core.chat import (
    ChatRequest,
    FilePart,
    FunctionTool,
    ImagePart,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    Sampling,
    TextPart,
    ToolCall,
)
from unigate.core.results import (
    ChoiceDelta,
    MoreBuffered,
    StreamEvent,
    StreamStart,
    TokenLogprob,
    TopLogprob,
    Usage,
)
from unigate.errors import GatewayError, InvalidRequest, Overloaded, RateLimited, UnsupportedParameter, UpstreamError
from unigate.providers.gemini import SKIP_SIGNATURE, GeminiProvider

Make = Callable[[], Awaitable[GeminiProvider]]
FLASH3 = model_spec("gemini", "gemini-3-flash-preview")
PRO3 = model_spec("gemini", "gemini-3.1-pro-preview")
FLASH25 = model_spec("gemini", "gemini-2.5-flash")
FLIGHT = FunctionTool(
    "check_flight",
    "Gets the current status of a flight",
    {"type": "object", "properties": {"flight": {"type": "string"}}, "required": ["flight"]},
)
TEMPERATURE = FunctionTool("get_current_temperature", "Gets the current temperature", {"type": "object"})


@pytest.fixture
async def make(upstream: Emulator) -> AsyncIterator[Make]:
    made: list[GeminiProvider] = []

    async def factory() -> GeminiProvider:
        provider = GeminiProvider(provider_config("gemini", upstream.url))
        await provider.start()
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.close()


async def events_of(provider: GeminiProvider, request: ChatRequest, spec: ModelSpec) -> list[StreamEvent]:
    return [e async for e in provider.stream(request, spec) if not isinstance(e, MoreBuffered)]


# ---- non-streamed --------------------------------------------------------------------------------


async def test_plain_request_and_result(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("gemini/generate_content.json")))
    provider = await make()
    request = chat(
        Message("system", (TextPart("You write invoices."),)),
        "Write an invoice for Jane.",
        Message("assistant", (TextPart("For which services?"),)),
        "Website design.",
        max_tokens=2048,
        sampling=Sampling(
            temperature=0.3, top_p=0.95, top_k=40, seed=7, stop=("END",), presence_penalty=0.1, frequency_penalty=0.2
        ),
    )
    result = await provider.complete(request, FLASH3)

    sent = upstream.last
    assert (sent.method, sent.path, sent.query) == ("POST", "/v1beta/models/gemini-3-flash-preview:generateContent", {})
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert "authorization" not in sent.headers
    assert sent.body == {
        "contents": [
            {"role": "user", "parts": [{"text": "Write an invoice for Jane."}]},
            {"role": "model", "parts": [{"text": "For which services?"}]},
            {"role": "user", "parts": [{"text": "Website design."}]},
        ],
        "systemInstruction": {"parts": [{"text": "You write invoices."}]},
        "generationConfig": {
            "stopSequences": ["END"],
            "maxOutputTokens": 2048,
            "temperature": 0.3,
            "topP": 0.95,
            "topK": 40,
            "seed": 7,
            "presencePenalty": 0.1,
            "frequencyPenalty": 0.2,
        },
    }
    assert result.model == "gemini-3-flash-preview"
    (choice,) = result.choices
    assert choice.index == 0
    assert choice.content is not None
    assert choice.content.startswith("```\n---\n                         **INVOICE**")
    assert (choice.finish_reason, choice.tool_calls, choice.reasoning) == ("stop", (), None)
    # Thoughts count as completion tokens, as OpenAI counts reasoning; the total is as reported.
    assert result.usage == Usage(
        prompt_tokens=34, completion_tokens=418 + 438, total_tokens=890, reasoning_tokens=438, cached_tokens=0
    )


async def test_images_files_formats_candidates_and_logprobs(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("gemini/generate_content.json")))
    provider = await make()
    schema = {"type": "object", "properties": {"total": {"type": "number"}}}
    request = chat(
        user(
            "Read these.",
            ImagePart("data:image/jpeg;base64,/9j/4AAQ"),
            ImagePart("https://generativelanguage.googleapis.com/v1beta/files/cat-png"),  # uploaded: not fetched
            FilePart(file_data="JVBERi0xLjQ=", filename="invoice.pdf"),
        ),
        n=2,
        logprobs=True,
        top_logprobs=3,
        response_format=JsonSchemaFormat("invoice", schema),
    )
    await provider.complete(request, FLASH3)
    body = upstream.last.body
    assert body["contents"][0]["parts"] == [
        {"text": "Read these."},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
        {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/cat-png"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjQ="}},
    ]
    assert body["generationConfig"] == {
        "candidateCount": 2,
        "responseLogprobs": True,
        "logprobs": 3,
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }


@pytest.mark.parametrize(
    ("spec", "effort", "thinking"),
    [
        (FLASH25, "high", {"includeThoughts": True, "thinkingBudget": 24576}),
        (FLASH25, "low", {"includeThoughts": True, "thinkingBudget": 1024}),
        (FLASH3, "medium", {"includeThoughts": True, "thinkingLevel": "medium"}),
        (PRO3, "low", {"includeThoughts": True, "thinkingLevel": "low"}),
    ],
)
async def test_reasoning_effort_mapping(
    upstream: Emulator, make: Make, spec: ModelSpec, effort: str, thinking: object
) -> None:
    upstream.queue(json_reply(fixture_json("gemini/generate_content.json")))
    provider = await make()
    await provider.complete(chat("Think.", reasoning_effort=effort), spec)
    assert upstream.last.body["generationConfig"] == {"thinkingConfig": thinking}


async def test_function_call_and_its_signature_round_trip(upstream: Emulator, make: Make) -> None:
    recorded = fixture_json("gemini/function_call.json")
    upstream.queue(json_reply(recorded), json_reply(fixture_json("gemini/generate_content.json")))
    provider = await make()
    ask = "Check flight status for AA100 and book a taxi 2 hours before if delayed."
    first = await provider.complete(chat(ask, tools=(FLIGHT,), tool_choice=NamedToolChoice("check_flight")), PRO3)
    body = upstream.last.body
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {"name": "check_flight", "description": FLIGHT.description, "parametersJsonSchema": FLIGHT.parameters}
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["check_flight"]}}
    (choice,) = first.choices
    assert choice.finish_reason == "tool_calls"  # STOP with a function call
    assert choice.content is None
    (call,) = choice.tool_calls
    assert call.id.startswith("call_")
    assert (call.name, call.arguments) == ("check_flight", '{"flight":"AA100"}')
    assert first.usage == Usage(92, 18 + 64, 174, reasoning_tokens=64)

    follow_up = chat(
        ask,
        Message("assistant", tool_calls=choice.tool_calls),
        Message("tool", (TextPart('{"status": "delayed", "departure_time": "12 PM"}'),), tool_call_id=call.id),
        tools=(FLIGHT,),
    )
    await provider.complete(follow_up, PRO3)
    signature = recorded["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert upstream.last.body["contents"] == [
        {"role": "user", "parts": [{"text": ask}]},
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "check_flight", "args": {"flight": "AA100"}}, "thoughtSignature": signature}
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "check_flight",
                        "response": {"status": "delayed", "departure_time": "12 PM"},
                    }
                }
            ],
        },
    ]

    # A process that never saw the call: Gemini 3 gets the documented bypass, Gemini 2.5 nothing.
    stranger = await make()
    upstream.queue(
        json_reply(fixture_json("gemini/generate_content.json")),
        json_reply(fixture_json("gemini/generate_content.json")),
    )
    await stranger.complete(follow_up, PRO3)
    assert upstream.last.body["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE
    await stranger.complete(follow_up, FLASH25)
    assert "thoughtSignature" not in upstream.last.body["contents"][1]["parts"][0]


async def test_parallel_calls_answered_together(upstream: Emulator, make: Make) -> None:
    upstream.queue(
        json_reply(fixture_json("gemini/parallel_function_calls.json")),
        json_reply(fixture_json("gemini/generate_content.json")),
    )
    provider = await make()
    first = await provider.complete(chat("Check the weather in Paris and London.", tools=(TEMPERATURE,)), FLASH3)
    paris, london = first.choices[0].tool_calls
    assert (paris.arguments, london.arguments) == ('{"location":"Paris"}', '{"location":"London"}')
    assert paris.id != london.id
    follow_up = chat(
        "Check the weather in Paris and London.",
        Message("assistant", tool_calls=(paris, london)),
        Message("tool", (TextPart('{"temp": "15C"}'),), tool_call_id=paris.id),
        Message("tool", (TextPart("12C"),), tool_call_id=london.id),
        tools=(TEMPERATURE,),
    )
    await provider.complete(follow_up, FLASH3)
    model_turn, answers = upstream.last.body["contents"][1:]
    assert [p.get("thoughtSignature") for p in model_turn["parts"]] == ["<Signature_A>", None]
    assert answers == {  # FC1 + signature, FC2, then FR1, FR2 in one turn (thought-signatures FAQ 2)
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_current_temperature", "response": {"temp": "15C"}}},
            {"functionResponse": {"name": "get_current_temperature", "response": {"output": "12C"}}},
        ],
    }


async def test_what_gemini_cannot_honour_is_refused_in_check(make: Make) -> None:
    provider = await make()
    cases: list[tuple[ChatRequest, type[GatewayError], str]] = [
        (chat("hi", sampling=Sampling(logit_bias={1: 2.0})), UnsupportedParameter, "logit_bias"),
        (chat("hi", parallel_tool_calls=False, tools=(FLIGHT,)), UnsupportedParameter, "parallel_tool_calls"),
        (
            chat("hi", Message("tool", (TextPart("x"),), tool_call_id="call_unknown")),
            InvalidRequest,
            "messages[1].tool_call_id",
        ),
    ]
    for request, error, param in cases:
        with pytest.raises(error) as caught:
            provider.check(request, FLASH3)
        assert caught.value.param == param


async def test_a_blocked_prompt_answers_content_filter(upstream: Emulator, make: Make) -> None:
    upstream.queue(json_reply(fixture_json("gemini/prompt_blocked.json")))
    provider = await make()
    result = await provider.complete(chat("something unsafe", n=2), FLASH25)
    assert [(c.index, c.content, c.finish_reason) for c in result.choices] == [
        (0, None, "content_filter"),
        (1, None, "content_filter"),
    ]
    assert result.usage == Usage(prompt_tokens=8, total_tokens=8)


# ---- streamed ------------------------------------------------------------------------------------


@pytest.mark.parametrize("piece", [None, 5])
async def test_basic_stream(upstream: Emulator, make: Make, piece: int | None) -> None:
    upstream.queue(sse_reply(fixture("gemini/stream_basic.sse"), piece=piece))
    provider = await make()
    events = await events_of(provider, chat("Write a story about a cat."), model_spec("gemini", "gemini-2.5-pro"))
    sent = upstream.last
    assert (sent.path, sent.query) == ("/v1beta/models/gemini-2.5-pro:streamGenerateContent", {"alt": "sse"})
    assert sent.body == {"contents": [{"role": "user", "parts": [{"text": "Write a story about a cat."}]}]}
    assert events == [
        StreamStart("gemini-2.5-pro"),
        ChoiceDelta(0, content="C"),
        ChoiceDelta(0, content="lementine, a ginger tabby"),
        ChoiceDelta(0, content=" cat who considered himself"),
        ChoiceDelta(0, finish_reason="stop"),
        Usage(prompt_tokens=7, completion_tokens=0, total_tokens=25),
    ]


async def test_thinking_stream(upstream: Emulator, make: Make) -> None:
    upstream.queue(sse_reply(fixture("gemini/stream_thinking.sse"), piece=9))
    provider = await make()
    events = await events_of(provider, chat("GCD of 1071 and 462?", reasoning_effort="low"), FLASH3)
    assert events == [
        StreamStart("gemini-3-flash-preview"),
        ChoiceDelta(0, reasoning="**Calculating the GCD**\n\nI will apply the Euclidean algorithm to 1071 and 462."),
        ChoiceDelta(0, content="The greatest common divisor of 1071 and 462 is **21**."),
        ChoiceDelta(0, finish_reason="stop"),
        Usage(prompt_tokens=14, completion_tokens=16 + 221, total_tokens=251, reasoning_tokens=221),
    ]


async def test_function_call_stream_keeps_the_signature(upstream: Emulator, make: Make) -> None:
    chunk = fixture_json("gemini/function_call.json")
    upstream.queue(
        sse_reply(b"data: " + orjson.dumps(chunk) + b"\r\n\r\n"),
        json_reply(fixture_json("gemini/generate_content.json")),
    )
    provider = await make()
    events = await events_of(provider, chat("Check AA100.", tools=(FLIGHT,)), PRO3)
    (call_delta, finish) = deltas(events)
    (call,) = call_delta.tool_calls
    assert (call.index, call.name, call.arguments) == (0, "check_flight", '{"flight":"AA100"}')
    assert finish.finish_reason == "tool_calls"
    follow_up = chat(
        "Check AA100.",
        Message("assistant", tool_calls=(ToolCall(call.id or "", "check_flight", call.arguments),)),
        Message("tool", (TextPart('{"status": "on time"}'),), tool_call_id=call.id),
    )
    await provider.complete(follow_up, PRO3)
    signature = chunk["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert upstream.last.body["contents"][1]["parts"][0]["thoughtSignature"] == signature


async def test_an_error_chunk_mid_stream_raises(upstream: Emulator, make: Make) -> None:
    first = fixture("gemini/stream_basic.sse").split(b"\r\n\r\n")[0]
    error = b'data: {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}'
    upstream.queue(sse_reply(first + b"\r\n\r\n" + error + b"\r\n\r\n"))
    provider = await make()
    with pytest.raises(Overloaded, match="overloaded"):
        await events_of(provider, chat("hi"), FLASH25)


# ---- upstream errors -----------------------------------------------------------------------------


async def test_upstream_errors_become_typed_errors(upstream: Emulator, make: Make) -> None:
    upstream.queue(
        json_reply(fixture_json("gemini/error_api_key_invalid.json"), status=400),
        json_reply(fixture_json("gemini/error_resource_exhausted.json"), status=429),
        json_reply(fixture_json("gemini/error_unavailable.json"), status=503),
        json_reply(fixture_json("gemini/error_invalid_argument.json"), status=400),
    )
    provider = await make()
    with pytest.raises(UpstreamError) as auth:
        await provider.complete(chat("hi"), FLASH3)
    assert (auth.value.status, auth.value.code) == (502, "upstream_auth_failed")  # not a 400 to our client
    assert "GEMINI_API_KEY" in auth.value.message
    with pytest.raises(RateLimited) as limited:
        await provider.complete(chat("hi"), FLASH3)
    assert limited.value.headers == {"Retry-After": "37"}  # from RetryInfo.retryDelay
    with pytest.raises(Overloaded):
        await provider.complete(chat("hi"), FLASH3)
    with pytest.raises(InvalidRequest, match="missing a `thought_signature`"):
        await provider.complete(chat("hi"), FLASH3)


async def test_logprobs_result(upstream: Emulator, make: Make) -> None:
    body = fixture_json("gemini/generate_content.json")
    body["candidates"][0]["logprobsResult"] = {  # the API reference's LogprobsResult shape
        "topCandidates": [
            {
                "candidates": [
                    {"token": "Hi", "tokenId": 1, "logProbability": -0.1},
                    {"token": "Yo", "logProbability": -2.5},
                ]
            }
        ],
        "chosenCandidates": [{"token": "Hi", "tokenId": 1, "logProbability": -0.1}],
    }
    upstream.queue(json_reply(body))
    provider = await make()
    result = await provider.complete(chat("hi", logprobs=True, top_logprobs=2), FLASH25)
    assert result.choices[0].logprobs == (
        TokenLogprob("Hi", -0.1, (72, 105), (TopLogprob("Hi", -0.1, (72, 105)), TopLogprob("Yo", -2.5, (89, 111)))),
    )
