"""Wire schema of ``POST /v1/responses`` (OpenAI Responses API) and its translation to the
canonical chat request (https://platform.openai.com/docs/api-reference/responses/create).

``input`` is a string or a list of items (``items.py``). ``instructions`` becomes the first,
system, message; then come the items of the chain that ``previous_response_id`` continues (its
responses' input and output items, oldest first: ``context``), then ``input``. Instructions are
not carried over from the previous response, as OpenAI's are not.

``store`` (default true), ``previous_response_id`` and ``background`` are the stored responses'
(``core/response_flow.py``); ``conversation`` and ``prompt`` objects are refused with a 400 naming
them. Function tools are read; other tools, input items of other types and members without a
field here are kept apart as ``Extensions`` with the body itself, for the field policy
(``core/field_policy.py``): sent on as is to OpenAI, dropped or refused for other models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from unigate.api.openai.responses.items import (
    InputItem,
    ItemReference,
    add_messages,
    is_known_item,
    parse_items,
    stored_item,
)
from unigate.api.requests import MAX_COUNT
from unigate.core.chat import (
    ChatRequest,
    Extensions,
    FunctionTool,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    ResponseFormat,
    Sampling,
    TextFormat,
    TextPart,
    ToolChoice,
)
from unigate.errors import InvalidRequest, UnsupportedParameter

__all__ = ["IGNORED_FIELDS", "ResponsesRequest", "split_input"]

IGNORED_FIELDS = frozenset(
    {"metadata", "user", "safety_identifier", "prompt_cache_key", "service_tier", "truncation", "include"}
)
"""Accepted without effect on the answer: identification, caching hints."""


def split_input(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``body`` without the input items of types the canonical request has no place for (a
    custom tool's call, a shell call, ...), and those items by path (``input[7]``) for the field
    policy."""
    items = body.get("input")
    if not isinstance(items, list):
        return body, {}
    apart = {f"input[{i}]": it for i, it in enumerate(items) if isinstance(it, dict) and not is_known_item(it)}
    if not apart:
        return body, {}
    kept = [it for i, it in enumerate(items) if f"input[{i}]" not in apart]
    return {**body, "input": kept}, apart


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
    # Members without a field here are the field policy's (``core/field_policy.py``), kept apart.
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
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
    store: bool | None = None
    """Keep the response (default true): ``GET /v1/responses/{id}``, a later ``previous_response_id``."""
    previous_response_id: str | None = None
    """Continue a stored response: its chain's items come before ``input``."""
    background: bool | None = None
    """Answer at once (``queued``) and run the response on its own; ``GET`` polls it."""
    # Refused with a 400, see the module docstring.
    conversation: str | dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None
    max_tool_calls: int | None = Field(default=None, ge=1)
    # Accepted, see IGNORED_FIELDS.
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
            "previous_response_id": self.previous_response_id,
            "reasoning": {
                "effort": self.reasoning.effort if self.reasoning else None,
                "summary": self.reasoning.summary if self.reasoning else None,
            },
            "service_tier": "default",
            "store": self.stores,
            "temperature": 1.0 if self.temperature is None else self.temperature,
            "text": {"format": fmt.model_dump(by_alias=True, exclude_none=True)},
            "tool_choice": choice.model_dump() if isinstance(choice, FunctionChoice) else choice or "auto",
            "tools": [t.model_dump() for t in self.function_tools()],
            "top_logprobs": self.top_logprobs,
            "top_p": 1.0 if self.top_p is None else self.top_p,
            "truncation": self.truncation or "disabled",
            "user": self.user,
            "background": bool(self.background),
        }

    @property
    def stores(self) -> bool:
        return self.store is not False

    def resolved_input(self, context: Sequence[Mapping[str, Any]] = ()) -> list[InputItem]:
        """``input`` as items, its ``item_reference`` items replaced by the items of ``context``
        they name (those left unresolved are refused when translated)."""
        if isinstance(self.input, str):
            return parse_items([{"type": "message", "role": "user", "content": self.input}])
        known = {str(item["id"]): item for item in context if "id" in item}
        return [
            parse_items([known[item.id]])[0] if isinstance(item, ItemReference) and item.id in known else item
            for item in self.input
        ]

    def stored_input(self, context: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        """``input`` as a stored response keeps it (``items.stored_item``)."""
        return [stored_item(item) for item in self.resolved_input(context)]

    def extensions(self, body: Mapping[str, Any], set_apart: Mapping[str, Any]) -> Extensions:
        """What the canonical request has no field for: unknown members, tools other than
        functions, the input items ``set_apart`` (``split_input``); and ``body`` to send on to
        OpenAI as is, unless the gateway rewrites the input (a chain of stored responses)."""
        fields: dict[str, Any] = dict(self.model_extra or {})
        fields.update((f"tools[{i}]", t) for i, t in enumerate(self.tools or ()) if t.get("type") != "function")
        fields.update(set_apart)
        chained = self.previous_response_id is not None or any(
            isinstance(item, ItemReference) for item in (self.input if isinstance(self.input, list) else ())
        )
        return Extensions("openai_responses", fields, {}, None if chained else body)

    def function_tools(self) -> list[FunctionToolParam]:
        """The function tools, those of ``namespace`` tools included (Codex groups some so)."""
        out = []
        for i, tool in enumerate(self.tools or ()):
            kind = tool.get("type")
            inner = tool.get("tools") if kind == "namespace" else [tool] if kind == "function" else []
            for j, member in enumerate(inner if isinstance(inner, list) else []):
                param = f"tools[{i}]" if kind == "function" else f"tools[{i}].tools[{j}]"
                if kind == "namespace" and not (isinstance(member, dict) and member.get("type") == "function"):
                    continue  # other kinds inside a namespace: the field policy's, with the namespace
                try:
                    out.append(FunctionToolParam.model_validate(member))
                except ValueError as exc:
                    raise InvalidRequest(f"Invalid function tool: {exc}", param=param) from None
        return out

    def to_canonical(
        self, context: Sequence[Mapping[str, Any]] = (), extensions: Extensions | None = None
    ) -> ChatRequest:
        """The canonical request; ``context``: the stored items of the chain it continues."""
        self._refuse_stateful()
        tools = self.function_tools()
        requested = {
            name
            for name, value in (
                ("temperature", self.temperature),
                ("top_p", self.top_p),
                ("tools", tools),
                ("tool_choice", self.tool_choice),
                ("parallel_tool_calls", self.parallel_tool_calls is False or None),
            )
            if value is not None and value != []
        }  # parallel tool calls are every model's default: true asks for nothing (Codex sends it)
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
            messages=self._messages(context),
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
            extensions=extensions,
        )

    def _refuse_stateful(self) -> None:
        for name, value in {"conversation": self.conversation, "prompt": self.prompt}.items():
            if value is not None:
                raise UnsupportedParameter(
                    f"{name} is not supported: this server keeps no conversation or prompt objects; "
                    "chain responses with previous_response_id, or send the whole conversation in input.",
                    param=name,
                )
        if self.background and not self.stores:
            raise InvalidRequest("background=true needs store=true: a background response is polled.", param="store")
        if self.background and self.stream:
            raise UnsupportedParameter(
                "stream is not supported with background=true here: poll GET /v1/responses/{id}.", param="stream"
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

    def _messages(self, context: Sequence[Mapping[str, Any]]) -> tuple[Message, ...]:
        out: list[Message] = []
        if self.instructions:
            out.append(Message("system", (TextPart(self.instructions),)))
        add_messages(out, parse_items(context), param="previous_response_id")
        add_messages(out, self.resolved_input(context))
        if not out:
            raise InvalidRequest("input has no message.", param="input")
        return tuple(out)
