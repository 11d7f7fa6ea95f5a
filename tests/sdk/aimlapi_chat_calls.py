"""The AI/ML API SDK's text calls, run by ``aimlapi_client.py`` in the SDK's own subprocess: chat
(plain, streamed, tools, structured output), the Responses API, embeddings and models, each
returning what a user of the SDK would read back, as JSON.

Written as the SDK's README and the seeds' examples use it (seed-survey §4.14, F25): a developer
and a user message, ``temperature`` and ``max_tokens``; tools declared with the fields the SDK
strips before sending (``strict``, and ``title`` and ``$defs`` anywhere in the parameters).
"""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import Callable
from typing import Any

from aimlapi import AsyncAIMLAPI  # type: ignore[import-not-found]
from pydantic import BaseModel

__all__ = ["CHAT_CALLS", "raised"]

QUESTION = [
    {"role": "developer", "content": "Talk like a pirate."},
    {"role": "user", "content": "Explain the importance of low-latency LLMs"},
]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "strict": True,
        "parameters": {
            "title": "WeatherArgs",
            "type": "object",
            "properties": {"city": {"title": "City", "type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
            "$defs": {"Unit": {"type": "string", "enum": ["C", "F"]}},
        },
    },
}


def raised(exc: Exception) -> dict[str, Any]:
    """An exception of the SDK's, by its class name, HTTP status and error code."""
    status, code = getattr(exc, "status_code", None), getattr(exc, "code", None)
    return {"error": type(exc).__name__, "status": status, "code": code}


class Echo(BaseModel):
    """The fake model's answer under a JSON schema: ``{"echo": <the last user message>}``."""

    echo: str


def chat(client: Any, model: str) -> dict[str, Any]:
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=QUESTION, temperature=0.7, max_tokens=256
    )
    completion = raw.parse()
    choice = completion.choices[0]
    return {
        "object": completion.object,
        "content": choice.message.content,
        "role": choice.message.role,
        "finish_reason": choice.finish_reason,
        "usage": completion.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}),
        "meta": (completion.model_extra or {}).get("meta"),
        "request_id": completion._request_id,
        "header_request_id": raw.headers.get("x-request-id"),
    }


def chat_stream(client: Any, model: str) -> dict[str, Any]:
    chunks = list(
        client.chat.completions.create(
            model=model, messages=QUESTION, stream=True, stream_options={"include_usage": True}
        )
    )
    with client.chat.completions.stream(model=model, messages=QUESTION) as helper:
        events = [event.type for event in helper]
        final = helper.get_final_completion()
    return {
        "ids": sorted({c.id for c in chunks}),
        "objects": sorted({c.object for c in chunks}),
        "pieces": [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content],
        "finish_reasons": [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason],
        "usage": next((c.usage.total_tokens for c in chunks if c.usage is not None), None),
        "meta": [(c.model_extra or {}).get("meta") for c in chunks if (c.model_extra or {}).get("meta")],
        "helper_events": sorted(set(events)),
        "helper_content": final.choices[0].message.content,
    }


def chat_tools(client: Any, model: str) -> dict[str, Any]:
    """A tool round trip (call, result, answer), then the same call streamed and parsed by the
    SDK's stream helper."""
    asked = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(model=model, messages=asked, tools=[WEATHER], tool_choice="required")
    call = first.choices[0].message.tool_calls[0]
    answered = [
        *asked,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"celsius": 21}'},
        {"role": "user", "content": "Thanks, and tomorrow?"},
    ]
    second = client.chat.completions.create(model=model, messages=answered, tools=[WEATHER])
    named = {"type": "function", "function": {"name": "get_weather"}}
    with client.chat.completions.stream(model=model, messages=asked, tools=[WEATHER], tool_choice=named) as helper:
        streamed = helper.get_final_completion().choices[0]
    (streamed_call,) = streamed.message.tool_calls
    return {
        "finish_reason": first.choices[0].finish_reason,
        "call": {"id": call.id, "type": call.type, "name": call.function.name, "arguments": call.function.arguments},
        "answer": second.choices[0].message.content,
        "answer_finish_reason": second.choices[0].finish_reason,
        "streamed_finish_reason": streamed.finish_reason,
        "streamed_call": {"name": streamed_call.function.name, "parsed": streamed_call.function.parsed_arguments},
    }


def chat_parse(client: Any, model: str) -> dict[str, Any]:
    parsed = client.chat.completions.parse(model=model, messages=QUESTION, response_format=Echo)
    message = parsed.choices[0].message
    return {"parsed": message.parsed.model_dump(), "content": message.content}


def chat_async(client: Any, model: str) -> dict[str, Any]:
    async def run() -> list[str]:
        async with AsyncAIMLAPI(max_retries=0) as aclient:
            stream = await aclient.chat.completions.create(model=model, messages=QUESTION, stream=True)
            return [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]

    return {"pieces": asyncio.run(run())}


def chat_error(client: Any, model: str, message: str) -> dict[str, Any]:
    """What the SDK raises for a request the gateway refuses or an upstream that fails (mid-stream too)."""
    asked = [{"role": "user", "content": message}]
    try:
        stream = client.chat.completions.create(model=model, messages=asked, stream=True)
        pieces = [c.choices[0].delta.content for c in stream if c.choices]
    except Exception as exc:
        return raised(exc)
    return {"pieces": pieces}


def responses(client: Any, model: str) -> dict[str, Any]:
    """The Responses API as the SDK's README shows it: ``instructions`` and ``input``; then streamed."""
    response = client.responses.create(model=model, instructions="Talk like a pirate.", input="Ahoy there matey")
    events = list(client.responses.create(model=model, input="Ahoy there matey", stream=True))
    return {
        "status": response.status,
        "output_text": response.output_text,
        "usage": response.usage.total_tokens,
        "event_types": [e.type for e in events],
        "streamed_text": "".join(e.delta for e in events if e.type == "response.output_text.delta"),
    }


def responses_chained(client: Any, model: str) -> dict[str, Any]:
    """Two turns chained with ``previous_response_id``, then the first read back."""
    first = client.responses.create(model=model, input="first turn")
    second = client.responses.create(model=model, input="second turn", previous_response_id=first.id)
    kept = client.responses.retrieve(first.id)
    return {"second": second.output_text, "kept": kept.output_text, "kept_id": kept.id == first.id}


def embeddings(client: Any, model: str) -> dict[str, Any]:
    texts = ["The cat sits on the mat.", "A cat is sitting on a rug.", "Quarterly revenue grew by ten percent."]
    default = client.embeddings.create(model=model, input=texts)  # the SDK asks for base64 and decodes it
    floats = client.embeddings.create(model=model, input=texts, encoding_format="float")
    packed = client.embeddings.with_raw_response.create(model=model, input=texts[0], encoding_format="base64")
    vector = base64.b64decode(packed.http_response.json()["data"][0]["embedding"])

    def dot(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    def gap(a: list[float], b: list[float]) -> float:
        return max(abs(x - y) for x, y in zip(a, b, strict=True))

    d = [e.embedding for e in default.data]
    return {
        "model": default.model,
        "indexes": [e.index for e in default.data],
        "dims": [len(v) for v in d],
        "max_diff": max(gap(a, b.embedding) for a, b in zip(d, floats.data, strict=True)),
        "unpacked_diff": gap(list(struct.unpack(f"<{len(vector) // 4}f", vector)), d[0]),
        "similar": dot(d[0], d[1]),
        "unrelated": dot(d[0], d[2]),
        "usage": default.usage.model_dump(),
        "meta": (default.model_extra or {}).get("meta"),
    }


def models(client: Any, model: str) -> dict[str, Any]:
    listed = client.models.list()
    one = client.models.retrieve(model)
    return {
        "object": listed.object,
        "ids": [m.id for m in listed],
        "retrieved": one.model_dump(include={"id", "object", "owned_by"}),
        "created_is_int": isinstance(one.created, int),
    }


CHAT_CALLS: dict[str, Callable[..., dict[str, Any]]] = {
    "chat": chat,
    "chat_stream": chat_stream,
    "chat_tools": chat_tools,
    "chat_parse": chat_parse,
    "chat_async": chat_async,
    "chat_error": chat_error,
    "responses": responses,
    "responses_chained": responses_chained,
    "embeddings": embeddings,
    "models": models,
}
