"""Token counts before the upstream answers: an upper bound on the prompt for the credit
reservation, and an estimate of the output when an upstream reports no usage at all.

Without the upstream's tokenizer, bytes are the measure. One token covers at least one UTF-8 byte
in every byte-level tokenizer, and about four in English; half the bytes over-reserves English
about twice and covers CJK text (three bytes a character, one or two tokens). Reservations are
settled to the reported usage afterwards, so erring high only holds credits for a moment.
"""

from __future__ import annotations

import orjson

from unigate.core.chat import ChatRequest, FilePart, ImagePart, TextPart
from unigate.core.results import ChatResult, Usage

__all__ = ["IMAGE_TOKENS", "estimated_usage", "generated_bytes", "prompt_tokens_upper_bound", "text_tokens_estimate"]

IMAGE_TOKENS = 2560
"""More than one image costs on the listed providers (Anthropic ~1600 at 1568 px, Gemini 258-1290
per tile set, OpenAI high detail ~1100-2500)."""
MESSAGE_OVERHEAD = 16


def text_tokens_estimate(text: str) -> int:
    return -(-len(text.encode()) // 2)


def prompt_tokens_upper_bound(request: ChatRequest) -> int:
    total = MESSAGE_OVERHEAD
    for message in request.messages:
        total += MESSAGE_OVERHEAD
        for part in message.content:
            if isinstance(part, TextPart):
                total += text_tokens_estimate(part.text)
            elif isinstance(part, ImagePart):
                total += IMAGE_TOKENS
            elif isinstance(part, FilePart):
                # A PDF page costs ~1500-3000 tokens and weighs ~10-50 KB of base64.
                total += len(part.file_data or "") // 4 + IMAGE_TOKENS
        for call in message.tool_calls:
            total += text_tokens_estimate(call.name) + text_tokens_estimate(call.arguments) + MESSAGE_OVERHEAD
    for tool in request.tools:
        total += text_tokens_estimate(orjson.dumps([tool.name, tool.description, tool.parameters]).decode())
    return total


def estimated_usage(request: ChatRequest, generated_bytes: int) -> Usage:
    """What to bill when an upstream reports no usage at all: never zero for work that was done."""
    return Usage(prompt_tokens_upper_bound(request), -(-generated_bytes // 2))


def generated_bytes(result: ChatResult) -> int:
    """UTF-8 bytes of everything a result generated: text, reasoning, tool call arguments."""
    total = 0
    for c in result.choices:
        for text in (c.content, c.reasoning, *(t.arguments for t in c.tool_calls)):
            total += len(text.encode()) if text else 0
    return total
