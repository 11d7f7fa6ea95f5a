"""Wire schema of the Messages API's turns and content blocks, and their translation to canonical
messages (https://docs.anthropic.com/en/api/messages).

In a user turn, ``tool_result`` blocks become ``tool`` messages (ahead of the turn's other
content, which stays a user message); in an assistant turn, ``tool_use`` blocks become tool calls
(``input`` as JSON text); images become ``data:`` URIs (base64 sources) or URLs; PDF and
plain-text documents become file parts. ``thinking`` and ``redacted_thinking`` blocks of earlier
turns are dropped: the canonical history has no place for them, and only Anthropic itself can
check their signatures. ``cache_control`` marks are accepted and ignored (no prompt cache here).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from unigate.core.chat import ContentPart, FilePart, ImagePart, Message, TextPart, ToolCall
from unigate.errors import InvalidRequest

__all__ = [
    "Base64Source",
    "CacheControl",
    "ContentBlock",
    "DocumentBlock",
    "ImageBlock",
    "MessageParam",
    "PlainTextSource",
    "RedactedThinkingBlock",
    "TextBlock",
    "ThinkingBlock",
    "ToolResultBlock",
    "ToolUseBlock",
    "UrlSource",
    "Wire",
]


class Wire(BaseModel):
    """A wire schema type: unknown fields are refused, as the Messages API refuses them."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CacheControl(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: Literal["ephemeral"]


class TextBlock(Wire):
    type: Literal["text"]
    text: str
    cache_control: CacheControl | None = None
    citations: list[dict[str, Any]] | None = None


class Base64Source(Wire):
    type: Literal["base64"]
    media_type: str
    """``image/jpeg``, ``image/png``, ``image/gif``, ``image/webp``; ``application/pdf`` for documents."""
    data: str


class UrlSource(Wire):
    type: Literal["url"]
    url: str


class PlainTextSource(Wire):
    type: Literal["text"]
    media_type: Literal["text/plain"]
    data: str


class ImageBlock(Wire):
    type: Literal["image"]
    source: Annotated[Base64Source | UrlSource, Field(discriminator="type")]
    cache_control: CacheControl | None = None


class DocumentBlock(Wire):
    type: Literal["document"]
    source: Annotated[Base64Source | PlainTextSource | UrlSource, Field(discriminator="type")]
    title: str | None = None
    context: str | None = None
    citations: dict[str, Any] | None = None
    cache_control: CacheControl | None = None


class ToolUseBlock(Wire):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]
    cache_control: CacheControl | None = None


ToolResultPart = Annotated[TextBlock | ImageBlock | DocumentBlock, Field(discriminator="type")]


class ToolResultBlock(Wire):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[ToolResultPart] | None = None
    is_error: bool | None = None
    cache_control: CacheControl | None = None


class ThinkingBlock(Wire):
    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingBlock(Wire):
    type: Literal["redacted_thinking"]
    data: str


ContentBlock = Annotated[
    TextBlock | ImageBlock | DocumentBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock,
    Field(discriminator="type"),
]


class MessageParam(Wire):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock]

    def to_canonical(self, param: str) -> list[Message]:
        """The canonical messages of this turn; ``param`` names its ``content`` in errors."""
        if isinstance(self.content, str):
            return [Message(self.role, (TextPart(self.content),))]
        if self.role == "assistant":
            return [_assistant(self.content, param)]
        return _user(self.content, param)


def _part(block: TextBlock | ImageBlock | DocumentBlock, param: str) -> ContentPart:
    if isinstance(block, TextBlock):
        return TextPart(block.text)
    source = block.source
    if isinstance(block, ImageBlock):
        if isinstance(source, Base64Source):
            return ImagePart(f"data:{source.media_type};base64,{source.data}")
        assert isinstance(source, UrlSource)
        return ImagePart(source.url)
    if isinstance(source, PlainTextSource):
        return TextPart(source.data)
    if isinstance(source, Base64Source):
        return FilePart(file_data=f"data:{source.media_type};base64,{source.data}", filename=block.title)
    raise InvalidRequest("Documents given by URL are not supported; send them as base64.", param=param)


def _user(blocks: list[ContentBlock], param: str) -> list[Message]:
    """Tool results first (as ``tool`` messages, answering the previous assistant turn), then the
    rest of the turn as one user message."""
    results: list[Message] = []
    parts: list[ContentPart] = []
    for j, block in enumerate(blocks):
        if isinstance(block, ToolResultBlock):
            content = block.content
            if content is None:
                result_parts: tuple[ContentPart, ...] = ()
            elif isinstance(content, str):
                result_parts = (TextPart(content),)
            else:
                result_parts = tuple(_part(p, f"{param}[{j}].content[{k}]") for k, p in enumerate(content))
            if block.is_error:
                result_parts = (TextPart("Error: "), *result_parts)
            results.append(Message("tool", result_parts, tool_call_id=block.tool_use_id))
        elif isinstance(block, TextBlock | ImageBlock | DocumentBlock):
            parts.append(_part(block, f"{param}[{j}]"))
        elif isinstance(block, ToolUseBlock):
            raise InvalidRequest("tool_use blocks belong in assistant turns.", param=f"{param}[{j}]")
    if parts or not results:
        results.append(Message("user", tuple(parts)))
    return results


def _assistant(blocks: list[ContentBlock], param: str) -> Message:
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    for j, block in enumerate(blocks):
        if isinstance(block, TextBlock):
            parts.append(TextPart(block.text))
        elif isinstance(block, ToolUseBlock):
            calls.append(ToolCall(block.id, block.name, orjson.dumps(block.input).decode()))
        elif isinstance(block, ImageBlock | DocumentBlock | ToolResultBlock):
            raise InvalidRequest(f"{block.type} blocks belong in user turns.", param=f"{param}[{j}]")
    return Message("assistant", tuple(parts), tool_calls=tuple(calls))
