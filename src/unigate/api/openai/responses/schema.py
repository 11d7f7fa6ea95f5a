"""Wire schema of ``POST /v1/responses`` (OpenAI Responses API) and its translation to the
canonical chat request (https://platform.openai.com/docs/api-reference/responses/create).

``input`` is a string (one user message) or a list of items: messages (``role`` + ``content`` as
a string or ``input_text`` / ``input_image`` / ``input_file`` parts; assistant messages as sent
back with ``output_text`` parts), ``function_call`` items (merged into the assistant turn they
belong to) and ``function_call_output`` items (tool messages). ``reasoning`` items that clients
send back are skipped. ``instructions`` becomes the first, system, message.

Stateless: nothing is stored (``store`` is accepted and the response says ``store: false``), so
``previous_response_id``, ``item_reference`` items, ``conversation`` and ``background`` are
refused with a 400 naming them: send the whole conversation in ``input``. Only function tools
exist here; the hosted tools (web search, file search, code interpreter, ...) are refused.

The top level rejects unknown fields; input items ignore fields they do not need (clients send
back output items with every field the SDK models, e.g. ``annotations``, ``logprobs``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from unigate.api.requests import MAX_COUNT
from unigate.core.chat import (
    ChatRequest,
    ContentPart,
    FilePart,
    FunctionTool,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    ResponseFormat,
    Sampling,
    TextFormat,
    TextPart,
    ToolCall,
    ToolChoice,
)
from unigate.errors import InvalidRequest, UnsupportedParameter

__all__ = ["IGNORED_FIELDS", "ResponsesRequest"]

IGNORED_FIELDS = frozenset(
    {"store", "metadata", "user", "safety_identifier", "prompt_cache_key", "service_tier", "truncation", "include"}
)
"""Accepted without effect on the answer: storage (never), identification, caching hints."""


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
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[Part]


class FunctionCallItem(_Item):
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str


class FunctionCallOutputItem(_Item):
    type: Literal["function_call_output"]
    call_id: str
    output: str | list[Part]


class ReasoningItem(_Item):
    type: Literal["reasoning"]


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


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FunctionToolParam(_Wire):
    type: Literal["function"]
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionChoice(_Wire):
    type: Literal["function"]
    name: str


class TextFormatParam(_Wire):
    type: Literal["text"]


class JsonObjectParam(_Wire):
    type: Literal["json_object"]


class JsonSchemaParam(_Wire):
    type: Literal["json_schema"]
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


class TextParam(_Wire):
    format: Annotated[TextFormatParam | JsonObjectParam | JsonSchemaParam, Field(discriminator="type")] | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningParam(_Wire):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class StreamOptionsParam(_Wire):
    include_obfuscation: bool | None = None


class ResponsesRequest(_Wire):
    model: str = Field(min_length=1)
    input: str | list[InputItem]
    instructions: str | None = None
    max_output_tokens: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    """Upper bound for generated tokens, visible output and reasoning included."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    tools: list[dict[str, Any]] | None = None
    """Function tools (``{"type": "function", "name", "parameters", ...}``); others are refused."""
    tool_choice: Literal["none", "auto", "required"] | FunctionChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextParam | None = None
    reasoning: ReasoningParam | None = None
    stream: bool = False
    stream_options: StreamOptionsParam | None = None
    # Refused with a 400 (stateless server), see the module docstring.
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    background: bool | None = None
    prompt: dict[str, Any] | None = None
    max_tool_calls: int | None = Field(default=None, ge=1)
    # Accepted, see IGNORED_FIELDS.
    store: bool | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None

    def echo(self) -> dict[str, Any]:
        """The request's settings as every ``response`` object repeats them."""
        fmt = self.text.format if self.text and self.text.format else TextFormatParam(type="text")
        choice = self.tool_choice
        return {
            "instructions": self.instructions,
            "max_output_tokens": self.max_output_tokens,
            "max_tool_calls": None,
            "metadata": self.metadata or {},
            "parallel_tool_calls": True if self.parallel_tool_calls is None else self.parallel_tool_calls,
            "previous_response_id": None,
            "reasoning": {
                "effort": self.reasoning.effort if self.reasoning else None,
                "summary": self.reasoning.summary if self.reasoning else None,
            },
            "service_tier": "default",
            "store": False,
            "temperature": 1.0 if self.temperature is None else self.temperature,
            "text": {"format": fmt.model_dump(by_alias=True, exclude_none=True)},
            "tool_choice": choice.model_dump() if isinstance(choice, FunctionChoice) else choice or "auto",
            "tools": [t.model_dump() for t in self.function_tools()],
            "top_logprobs": self.top_logprobs,
            "top_p": 1.0 if self.top_p is None else self.top_p,
            "truncation": self.truncation or "disabled",
            "user": self.user,
            "background": False,
        }

    def function_tools(self) -> list[FunctionToolParam]:
        out = []
        for i, tool in enumerate(self.tools or ()):
            if tool.get("type") != "function":
                raise UnsupportedParameter(
                    f"Only function tools are supported here, not {tool.get('type')!r}.", param=f"tools[{i}].type"
                )
            try:
                out.append(FunctionToolParam.model_validate(tool))
            except ValueError as exc:
                raise InvalidRequest(f"Invalid function tool: {exc}", param=f"tools[{i}]") from None
        return out

    def to_canonical(self) -> ChatRequest:
        self._refuse_stateful()
        tools = self.function_tools()
        requested = {
            name
            for name, value in (
                ("temperature", self.temperature),
                ("top_p", self.top_p),
                ("tools", tools),
                ("tool_choice", self.tool_choice),
                ("parallel_tool_calls", self.parallel_tool_calls),
            )
            if value is not None and value != []
        }
        if self.top_logprobs:
            requested |= {"logprobs", "top_logprobs"}
        response_format = self._format()
        if not isinstance(response_format, TextFormat):
            requested.add("response_format")
        effort = self._effort()
        if effort is not None:
            requested.add("reasoning_effort")
        return ChatRequest(
            model=self.model,
            messages=self._messages(),
            max_tokens=self.max_output_tokens,
            sampling=Sampling(temperature=self.temperature, top_p=self.top_p),
            logprobs=bool(self.top_logprobs),
            top_logprobs=self.top_logprobs or None,
            response_format=response_format,
            tools=tuple(FunctionTool(t.name, t.description, t.parameters, t.strict) for t in tools),
            tool_choice=self._tool_choice({t.name for t in tools}),
            parallel_tool_calls=self.parallel_tool_calls,
            reasoning_effort=effort,
            stream=self.stream,
            user=self.user or self.safety_identifier,
            requested=frozenset(requested),
        )

    def _refuse_stateful(self) -> None:
        stateful = {
            "previous_response_id": self.previous_response_id,
            "conversation": self.conversation,
            "background": self.background or None,
            "prompt": self.prompt,
        }
        for name, value in stateful.items():
            if value is not None:
                raise UnsupportedParameter(
                    f"{name} is not supported: this server stores no responses or prompts; "
                    "send the whole conversation in input.",
                    param=name,
                )
        if self.max_tool_calls is not None:
            raise UnsupportedParameter(
                "max_tool_calls is not supported (no hosted tools here).", param="max_tool_calls"
            )

    def _format(self) -> ResponseFormat:
        fmt = self.text.format if self.text else None
        if isinstance(fmt, JsonObjectParam):
            return JsonObjectFormat()
        if isinstance(fmt, JsonSchemaParam):
            return JsonSchemaFormat(fmt.name, fmt.schema_, fmt.strict, fmt.description)
        return TextFormat()

    def _effort(self) -> Literal["low", "medium", "high"] | None:
        effort = self.reasoning.effort if self.reasoning else None
        if effort is None or effort == "none":
            return None
        return "low" if effort == "minimal" else "high" if effort == "xhigh" else effort

    def _tool_choice(self, names: set[str]) -> ToolChoice | None:
        choice = self.tool_choice
        if isinstance(choice, FunctionChoice):
            if choice.name not in names:
                raise InvalidRequest(f"tool_choice names {choice.name!r}, which is not in tools.", param="tool_choice")
            return NamedToolChoice(choice.name)
        if choice == "required" and not names:
            raise InvalidRequest("tool_choice 'required' requires tools.", param="tool_choice")
        return choice

    def _messages(self) -> tuple[Message, ...]:
        out: list[Message] = []
        if self.instructions:
            out.append(Message("system", (TextPart(self.instructions),)))
        if isinstance(self.input, str):
            out.append(Message("user", (TextPart(self.input),)))
            return tuple(out)
        for i, item in enumerate(self.input):
            param = f"input[{i}]"
            if isinstance(item, MessageItem):
                out.append(Message(item.role, _parts(item.content, f"{param}.content")))
            elif isinstance(item, FunctionCallItem):
                call = ToolCall(item.call_id, item.name, item.arguments)
                last = out[-1] if out else None
                if last is not None and last.role == "assistant":
                    out[-1] = Message("assistant", last.content, tool_calls=(*last.tool_calls, call))
                else:
                    out.append(Message("assistant", (), tool_calls=(call,)))
            elif isinstance(item, FunctionCallOutputItem):
                output = _parts(item.output, f"{param}.output")
                out.append(Message("tool", output, tool_call_id=item.call_id))
            elif isinstance(item, ItemReference):
                raise UnsupportedParameter(
                    "item_reference is not supported: this server stores no items; send the item itself.", param=param
                )
        if not out:
            raise InvalidRequest("input has no message.", param="input")
        return tuple(out)


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
