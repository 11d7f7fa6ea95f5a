"""What OpenAI's Responses API answers: a ``response`` object, read defensively into the
canonical result (one choice).

https://platform.openai.com/docs/api-reference/responses/object

Its ``output`` items become the choice: ``message`` items give the text (``output_text`` parts)
and the refusal (``refusal`` parts), ``function_call`` items the tool calls, ``reasoning`` items
the reasoning (their summaries, one paragraph each) and, with their ``encrypted_content``, what is
put back on the next turn (``request.py``). Item types the canonical result has no place for (the
hosted tools' calls) are skipped. ``status`` gives the finish: ``completed`` is ``stop`` or
``tool_calls``, ``incomplete`` says why (``max_output_tokens``: ``length``), ``failed`` is an error.
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.core.chat import ToolCall
from unigate.core.results import ChatResult, Choice, FinishReason, Seal, Usage
from unigate.errors import UpstreamError
from unigate.providers.openai_responses.request import Reasoning
from unigate.providers.wire import int_or_zero, tool_call

__all__ = ["INCOMPLETE_REASONS", "failure_body", "finish_reason", "parse_response", "parse_usage", "reasoning_item"]

INCOMPLETE_REASONS: dict[str, FinishReason] = {
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}
"""Every other reason for an ``incomplete`` response is ``"unknown"``: never guessed."""

SUMMARY_SEPARATOR = "\n\n"
"""Between two summary parts of the reasoning, streamed or not."""


def finish_reason(response: dict[str, Any], *, called: bool) -> FinishReason:
    status = response.get("status")
    if status == "completed":
        return "tool_calls" if called else "stop"
    if status == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return INCOMPLETE_REASONS.get(str(reason), "unknown")
    return "unknown"


def parse_usage(raw: Any) -> Usage | None:
    """``input_tokens`` / ``output_tokens`` as reported; ``total_tokens`` kept as is."""
    if not isinstance(raw, dict):
        return None
    inputs = raw.get("input_tokens_details")
    outputs = raw.get("output_tokens_details")
    total = raw.get("total_tokens")
    return Usage(
        prompt_tokens=int_or_zero(raw.get("input_tokens")),
        completion_tokens=int_or_zero(raw.get("output_tokens")),
        total_tokens=total if isinstance(total, int) and not isinstance(total, bool) else None,
        reasoning_tokens=int_or_zero(outputs.get("reasoning_tokens")) if isinstance(outputs, dict) else 0,
        cached_tokens=int_or_zero(inputs.get("cached_tokens")) if isinstance(inputs, dict) else 0,
    )


def failure_body(response: dict[str, Any]) -> bytes:
    """A ``failed`` response's ``error`` as an error body for the provider's error parser."""
    error = response.get("error")
    return orjson.dumps({"error": error if isinstance(error, dict) else {"message": "The response failed."}})


def summary_texts(item: dict[str, Any]) -> list[str]:
    parts = item.get("summary")
    return [str(p["text"]) for p in parts if isinstance(p, dict) and p.get("text")] if isinstance(parts, list) else []


def reasoning_item(item: dict[str, Any]) -> dict[str, Any] | None:
    """A ``reasoning`` output item as it is put back on the next turn, if it came encrypted."""
    if not item.get("encrypted_content"):
        return None
    summary = item.get("summary") if isinstance(item.get("summary"), list) else []
    return {
        "type": "reasoning",
        "id": item.get("id"),
        "summary": summary,
        "encrypted_content": item["encrypted_content"],
    }


def parse_response(data: Any) -> tuple[ChatResult, Reasoning]:
    """A ``response`` object as the canonical result (``usage`` zero when not reported), and its
    encrypted reasoning items; a ``failed`` one is the caller's to raise (``failure_body``)."""
    if not isinstance(data, dict) or not isinstance(data.get("output"), list):
        raise UpstreamError("The openai provider answered without an output.")
    texts: list[str] = []
    refusals: list[str] = []
    summaries: list[str] = []
    calls: list[ToolCall] = []
    kept: list[dict[str, Any]] = []
    for item in data["output"]:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif isinstance(part, dict) and part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                    refusals.append(part["refusal"])
        elif kind == "function_call":
            arguments = item.get("arguments")
            calls.append(
                tool_call(item.get("call_id"), item.get("name", ""), arguments if isinstance(arguments, str) else "{}")
            )
        elif kind == "reasoning":
            summaries.extend(summary_texts(item))
            if (replayed := reasoning_item(item)) is not None:
                kept.append(replayed)
    choice = Choice(
        index=0,
        content="".join(texts) if texts else None,
        finish_reason=finish_reason(data, called=bool(calls)),
        tool_calls=tuple(calls),
        reasoning=SUMMARY_SEPARATOR.join(summaries) or None,
        refusal="".join(refusals) or None,
        seal=Seal("openai_responses", str(kept[0]["encrypted_content"])) if kept else None,
    )
    result = ChatResult(
        model=str(data.get("model") or ""), choices=[choice], usage=parse_usage(data.get("usage")) or Usage()
    )
    return result, tuple(kept)
