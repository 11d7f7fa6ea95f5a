"""Wire schema of ``POST /v1/chat/completions`` (OpenAI style) and its translation to the canonical
request; the messages, in ``messages.py``.

Fields follow the seeds' schema (the service's docs, section "POST /v1/chat/completions:
OpenAI-style request body"; the OpenAPI JSON at ``seeds/001_*.txt`` line 52) in the order the docs
give them. Unknown fields and the hints clients send (``HINTS``) follow the field policy
(``core/field_policy.py``): sent on to OpenAI itself, dropped or refused for other models.

Our extensions (``EXTENSIONS``): Anthropic's ``thinking``, ``stop_sequences`` and
``output_config``, which users of the ``openai`` SDK send for Claude models in ``extra_body``
(LiteLLM and OpenRouter accept them as well). They map as the Messages API maps them
(``api/anthropic/schema.py``) and may not be combined with the OpenAI parameter they stand for.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from unigate.api.anthropic.schema import (
    DEFAULT_MAX_TOKENS,
    OutputConfig,
    ThinkingParam,
    output_format,
    reasoning_effort,
)
from unigate.api.openai.chat.messages import WireMessage, to_message
from unigate.api.openai.chat.tools import Name as _Name
from unigate.api.openai.chat.tools import Tool, ToolParam, WebSearchOptions, web_search
from unigate.api.openai.sampling import check_logit_bias, to_sampling
from unigate.api.requests import MAX_COUNT
from unigate.core.chat import (
    ChatRequest,
    Extensions,
    FunctionTool,
    JsonObjectFormat,
    JsonSchemaFormat,
    NamedToolChoice,
    ResponseFormat,
    TextFormat,
    ToolChoice,
)
from unigate.errors import InvalidRequest

__all__ = ["EXTENSIONS", "HINTS", "IGNORED_FIELDS", "ChatCompletionRequest"]

HINTS = ("metadata", "store", "service_tier", "prediction", "safety_identifier")
"""Typed here, and the field policy's like the members without a field."""

IGNORED_FIELDS = frozenset({"user", *HINTS})
"""Fields that do not ask the model for anything (``ChatRequest.requested`` leaves them out)."""

EXTENSIONS = frozenset({"thinking", "stop_sequences", "output_config"})
"""Anthropic parameters read in OpenAI-style bodies (see the module docstring)."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- tools and formats -----------------------------------------------------------------------


class NamedFunction(_Wire):
    name: str


class NamedToolChoiceWire(_Wire):
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(_Wire):
    include_usage: bool = False


class JsonSchemaSpec(_Wire):
    name: _Name
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextResponseFormat(_Wire):
    type: Literal["text"]


class JsonObjectResponseFormat(_Wire):
    type: Literal["json_object"]


class JsonSchemaResponseFormat(_Wire):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


WireResponseFormat = Annotated[
    TextResponseFormat | JsonObjectResponseFormat | JsonSchemaResponseFormat, Field(discriminator="type")
]


# ---- the request -----------------------------------------------------------------------------


class ChatCompletionRequest(_Wire):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)  # extras: the policy's

    model: str = Field(min_length=1)
    messages: list[WireMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    """Upper bound for generated tokens, visible output and reasoning tokens included."""
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    """Older name of the same bound; ``max_completion_tokens`` wins when both are given."""
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[ToolParam] | None = Field(default=None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoiceWire | None = None
    parallel_tool_calls: bool | None = None
    n: int | None = Field(default=None, ge=1, le=16)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0.01, le=1)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.001, le=0.999)
    repetition_penalty: float | None = Field(default=None, gt=0)
    stop: str | list[str] | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None
    response_format: WireResponseFormat | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    web_search_options: WebSearchOptions | None = None
    # Extensions, see EXTENSIONS.
    thinking: ThinkingParam | None = None
    """Extended thinking; becomes ``reasoning_effort`` by the budget's share of the token bound
    (``DEFAULT_MAX_TOKENS`` when the body gives none)."""
    stop_sequences: list[str] | None = None
    """Anthropic's name for ``stop``."""
    output_config: OutputConfig | None = None
    """``effort`` becomes ``reasoning_effort``, ``format`` a JSON-schema ``response_format``."""
    # Accepted, see IGNORED_FIELDS.
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    prediction: dict[str, Any] | None = None
    safety_identifier: str | None = None

    def extensions(self) -> Extensions | None:
        """The members without a canonical field (the extras and ``HINTS``), for the field policy."""
        fields = dict(self.model_extra or {})
        fields.update((name, getattr(self, name)) for name in HINTS if getattr(self, name) is not None)
        return Extensions("openai_chat", fields) if fields else None

    def to_canonical(self) -> ChatRequest:
        """The canonical request; raises ``InvalidRequest`` naming the ``param`` on cross-field errors."""
        self._check_cross_fields()
        max_tokens = self.max_completion_tokens or self.max_tokens
        stops = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or self.stop_sequences or ())
        effort = reasoning_effort(self.thinking, self.output_config, max_tokens or DEFAULT_MAX_TOKENS)
        response_format = output_format(self.output_config) or _response_format(self.response_format)
        declared = self.model_fields_set & type(self).model_fields.keys()  # the extras are the policy's
        requested = declared - IGNORED_FIELDS - EXTENSIONS - {"model", "messages", "stream"}
        # The extensions ask for what their OpenAI counterparts ask for.
        requested |= {"stop"} if self.stop_sequences else set()
        requested |= {"response_format"} if not isinstance(response_format, TextFormat) else set()
        functions = [t for t in self.tools or () if isinstance(t, Tool)]
        requested -= {"tools"} if not functions else set()  # $web_search alone asks for search, not tools
        requested -= {"parallel_tool_calls"} if self.parallel_tool_calls else set()  # true: every model's default
        return ChatRequest(
            model=self.model,
            messages=tuple(to_message(m) for m in self.messages),
            max_tokens=max_tokens,
            n=self.n or 1,
            sampling=to_sampling(self, stops),
            logprobs=bool(self.logprobs),
            top_logprobs=self.top_logprobs,
            response_format=response_format,
            tools=tuple(_tool(t) for t in functions),
            tool_choice=_tool_choice(self.tool_choice),
            parallel_tool_calls=self.parallel_tool_calls,
            reasoning_effort=self.reasoning_effort or effort,
            web_search=web_search(self.web_search_options, len(functions) < len(self.tools or ())),
            stream=self.stream,
            include_usage=bool(self.stream_options and self.stream_options.include_usage),
            user=self.user,
            requested=frozenset(requested),
            extensions=self.extensions(),
        )

    @field_validator("logit_bias")
    @classmethod
    def _bias_keys(cls, bias: dict[str, float] | None) -> dict[str, float] | None:
        return check_logit_bias(bias)

    def _check_cross_fields(self) -> None:
        for i, m in enumerate(self.messages):
            if m["role"] == "assistant" and m.get("content") is None and not m.get("tool_calls"):
                raise InvalidRequest("An assistant message needs content or tool_calls.", param=f"messages[{i}]")
        stops = [self.stop] if isinstance(self.stop, str) else (self.stop or [])
        if len(stops) > 4:
            raise InvalidRequest("Up to 4 stop sequences are allowed.", param="stop")
        if any(s == "" for s in stops):
            raise InvalidRequest("Stop sequences must not be empty.", param="stop")
        if any(s == "" for s in self.stop_sequences or ()):
            raise InvalidRequest("Stop sequences must not be empty.", param="stop_sequences")
        self._check_extensions()
        if self.top_logprobs is not None and not self.logprobs:
            raise InvalidRequest("logprobs must be true when top_logprobs is used.", param="top_logprobs")
        if self.stream_options is not None and not self.stream:
            raise InvalidRequest("stream_options is only allowed when stream is true.", param="stream_options")
        choice = self.tool_choice
        if isinstance(choice, NamedToolChoiceWire) or choice == "required":
            names = {t.function.name for t in self.tools or []}
            if not names:
                raise InvalidRequest("tool_choice requires tools.", param="tool_choice")
            if isinstance(choice, NamedToolChoiceWire) and choice.function.name not in names:
                raise InvalidRequest(
                    f"tool_choice names {choice.function.name!r}, which is not in tools.", param="tool_choice"
                )

    def _check_extensions(self) -> None:
        """An extension and the OpenAI parameter it stands for, both given, would contradict."""
        effort = self.output_config.effort if self.output_config else None
        pairs = (
            ("stop_sequences", self.stop_sequences, self.stop, "stop"),
            ("thinking", self.thinking, self.reasoning_effort, "reasoning_effort"),
            ("output_config.effort", effort, self.reasoning_effort, "reasoning_effort"),
            (
                "output_config.format",
                self.output_config and self.output_config.format,
                self.response_format,
                "response_format",
            ),
        )
        for name, value, openai_value, openai_name in pairs:
            if value is not None and openai_value is not None:
                raise InvalidRequest(f"Give {openai_name} or {name}, not both.", param=name)


def _tool(t: Tool) -> FunctionTool:
    f = t.function
    return FunctionTool(f.name, f.description, f.parameters, f.strict)


def _tool_choice(c: Literal["none", "auto", "required"] | NamedToolChoiceWire | None) -> ToolChoice | None:
    if isinstance(c, NamedToolChoiceWire):
        return NamedToolChoice(c.function.name)
    return c


def _response_format(f: WireResponseFormat | None) -> ResponseFormat:
    if isinstance(f, JsonObjectResponseFormat):
        return JsonObjectFormat()
    if isinstance(f, JsonSchemaResponseFormat):
        s = f.json_schema
        return JsonSchemaFormat(s.name, s.schema_, s.strict, s.description)
    return TextFormat()
