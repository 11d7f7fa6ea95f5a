"""The input items of ``POST /v1/responses``: their wire models, their translation to canonical
messages, and the form a stored response keeps them in (``core/responses.py``).

``input`` is a string (one user message) or a list of items: messages (``role`` + ``content`` as
a string or ``input_text`` / ``input_image`` / ``input_file`` parts; assistant messages as sent
back with ``output_text`` parts), ``function_call`` items (merged into the assistant turn they
belong to) and ``function_call_output`` items (tool messages). ``reasoning`` items that clients
send back are skipped. ``item_reference`` items name an item of the chain that
``previous_response_id`` continues (an input or output item of one of its responses).

Items ignore fields they do not need (clients send back output items with every field the SDK
models, e.g. ``annotations``, ``logprobs``). Stored, each item has an ``id`` (the client's, else
a new one) and the fields OpenAI's ``input_items`` list shows; a string ``content`` becomes one
text part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

from unigate.core.chat import ContentPart, FilePart, ImagePart, Message, TextPart, ToolCall
from unigate.errors import InvalidRequest, UnsupportedParameter
from unigate.primitives.ids import hex_id

__all__ = [
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "InputItem",
    "ItemReference",
    "MessageItem",
    "ReasoningItem",
    "add_messages",
    "is_known_item",
    "parse_items",
    "stored_item",
]


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class InputText(_Item):
    type: Literal["input_text"]
    text: str


class InputImage(_Item):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high"] | None = None


class InputFile(_Item):
    type: Literal["input_file"]
    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None
    file_url: str | None = None


class OutputText(_Item):
    type: Literal["output_text"]
    text: str


class Refusal(_Item):
    type: Literal["refusal"]
    refusal: str


Part = Annotated[InputText | InputImage | InputFile | OutputText | Refusal, Field(discriminator="type")]


class MessageItem(_Item):
    type: Literal["message"] | None = None
    id: str | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[Part]


class FunctionCallItem(_Item):
    type: Literal["function_call"]
    id: str | None = None
    call_id: str
    name: str
    arguments: str


class FunctionCallOutputItem(_Item):
    type: Literal["function_call_output"]
    id: str | None = None
    call_id: str
    output: str | list[Part]


class ReasoningItem(_Item):
    type: Literal["reasoning"]
    id: str | None = None


class ItemReference(_Item):
    type: Literal["item_reference"]
    id: str


def _item_kind(value: Any) -> str:
    kind = value.get("type", "message") if isinstance(value, dict) else getattr(value, "type", None) or "message"
    return str(kind)


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[ItemReference, Tag("item_reference")],
    Discriminator(_item_kind),
]


_ITEMS: TypeAdapter[list[InputItem]] = TypeAdapter(list[InputItem])
_KNOWN_KINDS = frozenset({"message", "function_call", "function_call_output", "reasoning", "item_reference"})


def is_known_item(item: Mapping[str, Any]) -> bool:
    """Whether an input item is of a type read here (the others are the field policy's)."""
    return _item_kind(item) in _KNOWN_KINDS


def parse_items(raw: Sequence[Mapping[str, Any]]) -> list[InputItem]:
    """Stored items (``stored_item``'s output) as input items again."""
    try:
        return _ITEMS.validate_python(list(raw))
    except ValidationError as exc:  # rows written by this module: a bug, not the client's
        raise RuntimeError(f"a stored response holds an item this server cannot read: {exc}") from None


def add_messages(out: list[Message], items: Sequence[InputItem], *, param: str = "input") -> None:
    """Append the canonical messages of ``items`` (resolved: no ``item_reference`` left) to ``out``;
    ``param`` names the list in errors."""
    for i, item in enumerate(items):
        where = f"{param}[{i}]"
        if isinstance(item, MessageItem):
            out.append(Message(item.role, _parts(item.content, f"{where}.content")))
        elif isinstance(item, FunctionCallItem):
            call = ToolCall(item.call_id, item.name, item.arguments)
            last = out[-1] if out else None
            if last is not None and last.role == "assistant":
                out[-1] = Message("assistant", last.content, tool_calls=(*last.tool_calls, call))
            else:
                out.append(Message("assistant", (), tool_calls=(call,)))
        elif isinstance(item, FunctionCallOutputItem):
            out.append(Message("tool", _parts(item.output, f"{where}.output"), tool_call_id=item.call_id))
        elif isinstance(item, ItemReference):
            raise InvalidRequest(
                f"Item with id {item.id!r} not found: an item_reference names an item of the responses that "
                "previous_response_id continues.",
                param=where,
            )


def _part(part: Part) -> dict[str, Any]:
    out = part.model_dump(exclude_none=True)
    if isinstance(part, OutputText):
        out["annotations"] = []
    return out


def _content(content: str | list[Part], kind: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": kind, "text": content, **({"annotations": []} if kind == "output_text" else {})}]
    return [_part(p) for p in content]


def stored_item(item: InputItem) -> dict[str, Any]:
    """``item`` as a stored response keeps it (``item_reference`` resolved before)."""
    if isinstance(item, MessageItem):
        kind = "output_text" if item.role == "assistant" else "input_text"
        return {
            "id": item.id or "msg_" + hex_id(24),
            "type": "message",
            "role": item.role,
            "content": _content(item.content, kind),
            "status": "completed",
        }
    if isinstance(item, FunctionCallItem):
        fields = {"call_id": item.call_id, "name": item.name, "arguments": item.arguments, "status": "completed"}
        return {"id": item.id or "fc_" + hex_id(24), "type": "function_call", **fields}
    if isinstance(item, FunctionCallOutputItem):
        output: Any = item.output if isinstance(item.output, str) else [_part(p) for p in item.output]
        fields = {"call_id": item.call_id, "output": output, "status": "completed"}
        return {"id": item.id or "fco_" + hex_id(24), "type": "function_call_output", **fields}
    if isinstance(item, ReasoningItem):
        return {"id": item.id or "rs_" + hex_id(24), "type": "reasoning", "summary": []}
    raise TypeError("an item_reference is resolved before it is stored")


def _parts(content: str | list[Part], param: str) -> tuple[ContentPart, ...]:
    if isinstance(content, str):
        return (TextPart(content),)
    out: list[ContentPart] = []
    for j, part in enumerate(content):
        if isinstance(part, InputText | OutputText):
            out.append(TextPart(part.text))
        elif isinstance(part, Refusal):
            out.append(TextPart(part.refusal))
        elif isinstance(part, InputImage):
            if part.image_url is None:
                raise UnsupportedParameter(
                    "Images by file_id are not supported; send image_url.", param=f"{param}[{j}]"
                )
            out.append(ImagePart(part.image_url, part.detail))
        else:
            if part.file_url is not None and part.file_data is None:
                raise UnsupportedParameter(
                    "Files by file_url are not supported; send file_data.", param=f"{param}[{j}]"
                )
            out.append(FilePart(part.file_data, part.filename, part.file_id))
    return tuple(out)
