"""Wire schema of Anthropic's ``POST /v1/messages`` request, and its translation to the canonical
chat request (https://docs.anthropic.com/en/api/messages). The turns and their content blocks are
in ``blocks.py``.

The same translation reads the Anthropic-style bodies that the service documents for Claude
models on ``/v1/chat/completions`` (the service's docs, section "Anthropic-style request body"),
where ``max_tokens`` is optional (default 32000).

Translation, in order: ``system`` becomes the first message, then each turn's messages
(``blocks.py``). ``thinking: {type: "enabled", budget_tokens}`` becomes ``reasoning_effort`` by
the budget's share of ``max_tokens`` (up to 35 %: low, up to 65 %: medium, above: high; the
inverse of what ``providers/anthropic/request.py`` sends to Claude); ``adaptive`` takes
``output_config.effort`` (default medium). For a model without reasoning it is dropped: it
says how much to think, not what to answer (Claude Code asks every model for it).
``output_config.format`` (structured output) becomes a JSON-schema response format.
``cache_control`` marks are read as hints. Members without a canonical field (``context_management``,
``container``, the API's own tool types, ...) and the ``anthropic-beta`` header are kept apart as
``Extensions`` with the body itself, for the field policy (``core/field_policy.py``): sent on as is
to Claude, translated, dropped or refused for other models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from unigate.api.anthropic.blocks import CacheControl, MessageParam, TextBlock, Wire
from unigate.api.requests import MAX_COUNT
from unigate.core.chat import (
    ChatRequest,
    Extensions,
    FunctionTool,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    ResponseFormat,
    Sampling,
    TextFormat,
    TextPart,
    ToolChoice,
)
from unigate.errors import InvalidRequest

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "WIRE_PARAMS",
    "MessagesRequest",
    "OutputConfig",
    "ThinkingParam",
    "is_anthropic_style",
    "output_format",
    "reasoning_effort",
]

DEFAULT_MAX_TOKENS = 32000
"""``max_tokens`` when a Claude-style body on ``/v1/chat/completions`` omits it (the service's docs,
section "Anthropic-style request body")."""

WIRE_PARAMS = {
    "reasoning_effort": "thinking",
    "stop": "stop_sequences",
    "response_format": "output_config.format",
    "parallel_tool_calls": "tool_choice.disable_parallel_tool_use",
    "user": "metadata.user_id",
}
"""Canonical parameter names as this API calls them, for error messages."""


Effort = Literal["low", "medium", "high"]
_EFFORTS: dict[str, Effort] = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


_ANTHROPIC_BLOCKS = frozenset({"image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"})
_ANTHROPIC_CHOICES = frozenset({"auto", "any", "tool", "none"})


def _kind(value: object) -> object:
    """The ``type`` of a JSON object, or ``None``; only a string can name a type, and anything
    else (a list, an object) must not reach a set lookup, where it is unhashable."""
    kind = value.get("type") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else None


def is_anthropic_style(body: dict[str, Any]) -> bool:
    """Whether a ``/v1/chat/completions`` body is Anthropic-shaped (the service's docs, section
    "Anthropic-style request body"): top-level ``system``, tools with ``input_schema``, a
    ``tool_choice`` object of an Anthropic type, or Anthropic content blocks. Each of these is
    invalid in OpenAI's schema, so no valid OpenAI body is taken for an Anthropic one.

    ``thinking``, ``stop_sequences`` and ``output_config`` are no proof: OpenAI clients send them
    for Claude models too (``extra_body`` in the ``openai`` SDK), and the OpenAI schema reads them.
    """
    if "system" in body:
        return True
    tools = body.get("tools")
    if isinstance(tools, list) and any(isinstance(t, dict) and "input_schema" in t for t in tools):
        return True
    if _kind(body.get("tool_choice")) in _ANTHROPIC_CHOICES:
        return True
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(_kind(b) in _ANTHROPIC_BLOCKS for b in content):
            return True
    return False


def _is_typed(tool: dict[str, Any]) -> bool:
    """Whether a tool is one of the API's own types rather than a custom one."""
    return tool.get("type") not in (None, "custom") and "input_schema" not in tool


class Tool(Wire):
    # Members of newer versions (defer_loading, input_examples, ...) are sent on only to Claude,
    # with the whole body; the canonical tool has no use for them.
    model_config = ConfigDict(extra="ignore", frozen=True)
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,128}$")]
    description: str | None = None
    input_schema: dict[str, Any]
    """JSON Schema of the tool's input (``{"type": "object", ...}``)."""
    type: Literal["custom"] | None = None
    strict: bool | None = None
    cache_control: CacheControl | None = None


class ToolChoiceParam(Wire):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    """With ``type: "tool"``: the tool the model must use."""
    disable_parallel_tool_use: bool | None = None


class ThinkingParam(Wire):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: int | None = Field(default=None, ge=1024, le=MAX_COUNT)
    """With ``enabled``: tokens the model may think with, at least 1024 and below ``max_tokens``."""
    display: Literal["summarized", "omitted"] | None = None


class JsonOutputFormat(Wire):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(Wire):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: JsonOutputFormat | None = None


def reasoning_effort(thinking: ThinkingParam | None, config: OutputConfig | None, max_tokens: int) -> Effort | None:
    """The canonical effort of ``thinking`` and ``output_config.effort`` (see the module docstring);
    the OpenAI-style chat schema maps these extensions with the same function."""
    effort = _EFFORTS[config.effort] if config and config.effort else None
    if thinking is None or thinking.type == "disabled":
        return effort
    if thinking.type == "adaptive":
        return effort or "medium"
    if thinking.budget_tokens is None:
        raise InvalidRequest("thinking.budget_tokens: Field required", param="thinking.budget_tokens")
    if thinking.budget_tokens >= max_tokens:
        raise InvalidRequest("max_tokens must be greater than thinking.budget_tokens.", param="max_tokens")
    share = thinking.budget_tokens / max_tokens
    return "low" if share <= 0.35 else "medium" if share <= 0.65 else "high"


def output_format(config: OutputConfig | None) -> JsonSchemaFormat | None:
    """The structured output ``output_config.format`` asks for, if any."""
    if config is None or config.format is None:
        return None
    return JsonSchemaFormat("output", config.format.schema_)


class Metadata(Wire):
    user_id: str | None = None


class MessagesRequest(Wire):
    # Members without a field here are the field policy's (``core/field_policy.py``), kept apart.
    model_config = ConfigDict(extra="allow", frozen=True)
    model: str = Field(min_length=1)
    messages: list[MessageParam] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    """Required on ``/v1/messages``; ``DEFAULT_MAX_TOKENS`` on ``/v1/chat/completions``."""
    system: str | list[TextBlock] | None = None
    metadata: Metadata | None = None
    stop_sequences: list[str] | None = None
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    tools: list[dict[str, Any]] | None = None
    """Custom tools (``input_schema``), and the API's own tool types, which the policy governs."""
    tool_choice: ToolChoiceParam | None = None
    thinking: ThinkingParam | None = None
    output_config: OutputConfig | None = None
    # OpenAI-style stream options, which Claude-style bodies on /v1/chat/completions may carry.
    stream_options: dict[str, bool] | None = None

    def custom_tools(self) -> list[Tool]:
        """The custom tools; the others (``bash_20250124``, ``web_search_20250305``, ...) are
        the field policy's (``extensions``)."""
        out = []
        for i, tool in enumerate(self.tools or ()):
            if _is_typed(tool):
                continue
            try:
                out.append(Tool.model_validate(tool))
            except ValidationError as exc:
                error = exc.errors(include_url=False)[0]
                param = f"tools[{i}]" + "".join(f".{step}" for step in error["loc"])
                raise InvalidRequest(f"Invalid value for '{param}': {error['msg']}.", param=param) from None
        return out

    def extensions(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Extensions:
        """What the canonical request has no field for: unknown members, the API's own tool
        types, the ``anthropic-beta`` header; and ``body`` to send on to Claude as is."""
        fields: dict[str, Any] = dict(self.model_extra or {})
        for i, tool in enumerate(self.tools or ()):
            if _is_typed(tool):
                fields[f"tools[{i}]"] = tool
        beta = headers.get("anthropic-beta")
        return Extensions("anthropic", fields, {"anthropic-beta": beta} if beta else {}, body)

    def to_canonical(self, *, require_max_tokens: bool, extensions: Extensions | None = None) -> ChatRequest:
        if self.max_tokens is None and require_max_tokens:
            raise InvalidRequest("max_tokens: Field required", param="max_tokens")
        max_tokens = self.max_tokens or DEFAULT_MAX_TOKENS
        tools = self.custom_tools()
        requested = {
            name
            for name, value in (
                ("temperature", self.temperature),
                ("top_p", self.top_p),
                ("top_k", self.top_k),
                ("stop", self.stop_sequences),
                ("tools", tools),
                ("tool_choice", self.tool_choice),
            )
            if value
        }
        effort = reasoning_effort(self.thinking, self.output_config, max_tokens)  # not asked for: see the module
        response_format: ResponseFormat = output_format(self.output_config) or TextFormat()
        if not isinstance(response_format, TextFormat):
            requested.add("response_format")
        parallel = None
        if self.tool_choice is not None and self.tool_choice.disable_parallel_tool_use is not None:
            parallel = not self.tool_choice.disable_parallel_tool_use
            requested.add("parallel_tool_calls")
        return ChatRequest(
            model=self.model,
            messages=self._messages(),
            max_tokens=max_tokens,
            sampling=Sampling(
                temperature=self.temperature,
                top_p=self.top_p,
                top_k=self.top_k,
                stop=tuple(self.stop_sequences or ()),
            ),
            response_format=response_format,
            tools=tuple(FunctionTool(t.name, t.description, t.input_schema, t.strict) for t in tools),
            tool_choice=self._tool_choice(tools),
            parallel_tool_calls=parallel,
            reasoning_effort=effort,
            stream=self.stream,
            include_usage=bool((self.stream_options or {}).get("include_usage")),
            user=self.metadata.user_id if self.metadata else None,
            requested=frozenset(requested),
            extensions=extensions,
        )

    def _tool_choice(self, tools: list[Tool]) -> ToolChoice | None:
        choice = self.tool_choice
        if choice is None:
            return None
        names = {t.name for t in tools} | {str(t.get("name")) for t in self.tools or () if _is_typed(t)}
        if choice.type == "tool":
            if not choice.name:
                raise InvalidRequest("tool_choice.name: Field required", param="tool_choice.name")
            if choice.name not in names:
                raise InvalidRequest(f"tool_choice names {choice.name!r}, which is not in tools.", param="tool_choice")
            return NamedToolChoice(choice.name)
        if choice.type == "any":
            if not names:
                raise InvalidRequest("tool_choice 'any' requires tools.", param="tool_choice")
            return "required"
        return choice.type

    def _messages(self) -> tuple[Message, ...]:
        out: list[Message] = []
        if isinstance(self.system, str):
            out.append(Message("system", (TextPart(self.system),)))
        elif self.system:
            out.append(Message("system", tuple(TextPart(b.text) for b in self.system)))
        for i, m in enumerate(self.messages):
            out.extend(m.to_canonical(f"messages[{i}].content"))
        return tuple(out)
