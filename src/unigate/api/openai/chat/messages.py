"""The messages of ``POST /v1/chat/completions`` (OpenAI style) and their canonical translation.

Typed dicts, not models: a conversation's history is most of a request, and pydantic validates a
message into a dict faster than it builds a model instance. Unknown keys are rejected all the same,
and errors name the same ``param``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from unigate.core.chat import ContentPart, FilePart, ImagePart, Message, TextPart, ToolCall

__all__ = ["TextContent", "UserPart", "WireMessage", "to_message"]

_DICT = ConfigDict(extra="forbid")


@with_config(_DICT)
class TextContent(TypedDict):
    type: Literal["text"]
    text: str


@with_config(_DICT)
class ImageURL(TypedDict):
    url: Annotated[str, Field(min_length=1)]
    """A URL or a ``data:image/...;base64,`` URI. JPG/JPEG, PNG, GIF and WEBP."""
    detail: NotRequired[Literal["auto", "low", "high"] | None]


@with_config(_DICT)
class ImageContent(TypedDict):
    type: Literal["image_url"]
    image_url: ImageURL


@with_config(_DICT)
class FileData(TypedDict, total=False):
    file_data: str | None
    """The base64 encoded file data, used when passing the file to the model as a string."""
    filename: str | None
    file_id: str | None


@with_config(_DICT)
class FileContent(TypedDict):
    type: Literal["file"]
    file: FileData


UserPart = Annotated[TextContent | ImageContent | FileContent, Field(discriminator="type")]


@with_config(_DICT)
class SystemMessage(TypedDict):
    role: Literal["system"]
    content: str | list[TextContent]
    name: NotRequired[str | None]


@with_config(_DICT)
class DeveloperMessage(TypedDict):
    role: Literal["developer"]
    content: str | list[TextContent]
    name: NotRequired[str | None]


@with_config(_DICT)
class UserMessage(TypedDict):
    role: Literal["user"]
    content: str | list[UserPart]
    name: NotRequired[str | None]


@with_config(_DICT)
class FunctionCall(TypedDict):
    name: str
    arguments: str
    """The arguments as JSON text, exactly as the model generated them."""


@with_config(_DICT)
class MessageToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionCall


@with_config(_DICT)
class AssistantMessage(TypedDict):
    """Content, tool calls or both (``ChatCompletionRequest._check_cross_fields``)."""

    role: Literal["assistant"]
    content: NotRequired[str | list[TextContent] | None]
    name: NotRequired[str | None]
    refusal: NotRequired[str | None]
    annotations: NotRequired[list[Any] | None]  # a searched answer's, sent back as received; unread
    tool_calls: NotRequired[list[MessageToolCall] | None]


@with_config(_DICT)
class ToolMessage(TypedDict):
    role: Literal["tool"]
    content: str | list[TextContent]
    tool_call_id: str
    name: NotRequired[str | None]  # the seeds' $web_search loop names the tool


WireMessage = Annotated[
    SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage,
    Field(discriminator="role"),
]


def _parts(content: str | list[TextContent] | list[UserPart] | None) -> tuple[ContentPart, ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        return (TextPart(content),)
    out: list[ContentPart] = []
    for part in content:
        if part["type"] == "text":
            out.append(TextPart(part["text"]))
        elif part["type"] == "image_url":
            image = part["image_url"]
            out.append(ImagePart(image["url"], image.get("detail")))
        else:
            file = part["file"]
            out.append(FilePart(file.get("file_data"), file.get("filename"), file.get("file_id")))
    return tuple(out)


def to_message(m: SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage) -> Message:
    """A wire message as the canonical one."""
    if m["role"] == "assistant":
        calls = m.get("tool_calls")
        tool_calls = (
            tuple(ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls) if calls else ()
        )
        return Message("assistant", _parts(m.get("content")), name=m.get("name"), tool_calls=tool_calls)
    if m["role"] == "tool":
        return Message("tool", _parts(m["content"]), tool_call_id=m["tool_call_id"])
    return Message(m["role"], _parts(m["content"]), name=m.get("name"))
