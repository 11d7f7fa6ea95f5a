"""A ``GenerateContentResponse`` as the canonical result, and the pieces of it that streamed
chunks share (``stream.py``).

Thought parts (``thought: true``) become ``Choice.reasoning``; the ``thoughtSignature``s of
function call parts are returned beside the result, for the adapter to keep. Signatures on text
parts are optional for the API and are dropped.

Usage: ``completion_tokens`` = ``candidatesTokenCount`` + ``thoughtsTokenCount`` (OpenAI counts
reasoning in completion tokens, and Gemini bills thoughts as output); ``reasoning_tokens`` =
``thoughtsTokenCount``; ``prompt_tokens`` includes ``toolUsePromptTokenCount``; ``cached_tokens``
= ``cachedContentTokenCount``; ``total_tokens`` as reported. A prompt blocked by
``promptFeedback.blockReason`` answers every choice empty with ``finish_reason: content_filter``.
"""

from __future__ import annotations

from typing import Any

from unigate.core.chat import ToolCall
from unigate.core.results import ChatResult, Choice, FinishReason, TokenLogprob, TopLogprob, Usage
from unigate.errors import UpstreamError
from unigate.providers.wire import arguments_text, int_or_zero, tool_call

__all__ = ["FINISH_REASONS", "blocked", "finish_reason", "function_call", "logprobs", "parse_response", "usage"]

FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "LANGUAGE": "unknown",
    "OTHER": "unknown",
    "MALFORMED_FUNCTION_CALL": "unknown",
    "UNEXPECTED_TOOL_CALL": "unknown",
    "TOO_MANY_TOOL_CALLS": "unknown",
    "MISSING_THOUGHT_SIGNATURE": "unknown",
    "FINISH_REASON_UNSPECIFIED": "unknown",
}
"""Every other value also becomes ``"unknown"``; ``STOP`` with a function call is ``tool_calls``."""


def usage(raw: Any) -> Usage:
    """``usageMetadata`` as canonical usage (the module docstring says which count goes where)."""
    raw = raw if isinstance(raw, dict) else {}
    thoughts = int_or_zero(raw.get("thoughtsTokenCount"))
    total = raw.get("totalTokenCount")
    return Usage(
        prompt_tokens=int_or_zero(raw.get("promptTokenCount")) + int_or_zero(raw.get("toolUsePromptTokenCount")),
        completion_tokens=int_or_zero(raw.get("candidatesTokenCount")) + thoughts,
        total_tokens=total if isinstance(total, int) else None,
        reasoning_tokens=thoughts,
        cached_tokens=int_or_zero(raw.get("cachedContentTokenCount")),
    )


def finish_reason(value: Any, *, called: bool) -> FinishReason:
    reason = FINISH_REASONS.get(str(value), "unknown")
    return "tool_calls" if reason == "stop" and called else reason


def function_call(part: dict[str, Any]) -> ToolCall:
    """The tool call of a ``functionCall`` part."""
    call = part["functionCall"]
    return tool_call(call.get("id"), call.get("name", ""), arguments_text(call.get("args")))


def logprobs(raw: Any) -> tuple[TokenLogprob, ...] | None:
    """A candidate's ``logprobsResult``."""
    if not isinstance(raw, dict):
        return None
    tops = raw.get("topCandidates") or []
    out = []
    for i, chosen in enumerate(raw.get("chosenCandidates") or ()):
        token = str(chosen.get("token", ""))
        alternatives = tops[i].get("candidates", []) if i < len(tops) else []
        out.append(
            TokenLogprob(
                token,
                float(chosen.get("logProbability", 0.0)),
                tuple(token.encode()),
                tuple(
                    TopLogprob(
                        str(a.get("token", "")),
                        float(a.get("logProbability", 0.0)),
                        tuple(str(a.get("token", "")).encode()),
                    )
                    for a in alternatives
                ),
            )
        )
    return tuple(out)


def blocked(data: dict[str, Any]) -> bool:
    """Whether the prompt was blocked, so that no candidate came."""
    return bool((data.get("promptFeedback") or {}).get("blockReason")) and not data.get("candidates")


def parse_response(data: Any, *, n: int = 1) -> tuple[ChatResult, dict[str, str]]:
    """A ``GenerateContentResponse`` as the canonical result, and the thought signatures of its
    function calls by tool call id."""
    if not isinstance(data, dict):
        raise UpstreamError("The gemini provider answered with an unexpected body.")
    signatures: dict[str, str] = {}
    choices: list[Choice] = []
    for candidate in data.get("candidates") or ():
        texts: list[str] = []
        thoughts: list[str] = []
        calls: list[ToolCall] = []
        for part in (candidate.get("content") or {}).get("parts") or ():
            if "functionCall" in part:
                calls.append(function_call(part))
                if part.get("thoughtSignature"):
                    signatures[calls[-1].id] = str(part["thoughtSignature"])
            elif part.get("thought"):
                thoughts.append(str(part.get("text", "")))
            elif "text" in part:
                texts.append(str(part["text"]))
        choices.append(
            Choice(
                index=int_or_zero(candidate.get("index")),
                content="".join(texts) if texts or not calls else None,
                finish_reason=finish_reason(candidate.get("finishReason"), called=bool(calls)),
                tool_calls=tuple(calls),
                reasoning="".join(thoughts) if thoughts else None,
                logprobs=logprobs(candidate.get("logprobsResult")),
            )
        )
    if not choices and blocked(data):
        choices = [Choice(i, None, "content_filter") for i in range(n)]
    if not choices:
        raise UpstreamError("The gemini provider answered without candidates.")
    result = ChatResult(
        model=str(data.get("modelVersion") or ""), choices=choices, usage=usage(data.get("usageMetadata"))
    )
    return result, signatures
