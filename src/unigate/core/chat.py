"""The canonical chat request: one internal shape that every inbound API translates into.

Wire schemas (``api/openai/chat/schema.py``, later Anthropic and Responses) convert into these
types at the edge; providers convert out of them. Nothing past the edge sees a wire dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any, Literal

from unigate.primitives.records import record

__all__ = [
    "ChatRequest",
    "ContentPart",
    "Dialect",
    "Extensions",
    "FilePart",
    "FunctionTool",
    "ImagePart",
    "JsonObjectFormat",
    "JsonSchemaFormat",
    "Message",
    "NamedToolChoice",
    "ResponseFormat",
    "Role",
    "Sampling",
    "TextFormat",
    "TextPart",
    "ToolCall",
    "ToolChoice",
    "UserLocation",
    "WebSearch",
]

Role = Literal["system", "developer", "user", "assistant", "tool"]


@record
class TextPart:
    text: str


@record
class ImagePart:
    """An image given by URL or ``data:`` URI; fetched only by a provider that needs the bytes."""

    url: str
    detail: Literal["auto", "low", "high"] | None = None


@record
class FilePart:
    """A document (PDF, text) as base64 ``file_data`` or a previously uploaded ``file_id``."""

    file_data: str | None = None
    filename: str | None = None
    file_id: str | None = None


ContentPart = TextPart | ImagePart | FilePart


@record
class ToolCall:
    """A function call made by the assistant; ``arguments`` is the JSON text as generated."""

    id: str
    name: str
    arguments: str


@record
class Message:
    role: Role
    content: tuple[ContentPart, ...] = ()
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def text(self) -> str:
        """The concatenated text parts (what a text-only model reads)."""
        content = self.content
        if len(content) == 1 and type(content[0]) is TextPart:
            return content[0].text  # the common case, without a generator
        return "".join(p.text for p in content if isinstance(p, TextPart))


@record
class FunctionTool:
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


@record
class NamedToolChoice:
    """Force a call to this function."""

    name: str


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


@record
class TextFormat:
    pass


@record
class JsonObjectFormat:
    pass


@record
class JsonSchemaFormat:
    name: str
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


ResponseFormat = TextFormat | JsonObjectFormat | JsonSchemaFormat


@record
class Sampling:
    """Decoding controls. ``None`` means "the model's default"."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logit_bias: dict[int, float] | None = None


@record
class UserLocation:
    """Where the user roughly is, to localise web search results (OpenAI's ``approximate``)."""

    country: str | None = None
    """ISO 3166-1 alpha-2 code."""
    region: str | None = None
    city: str | None = None
    timezone: str | None = None
    """IANA time zone."""


@record
class WebSearch:
    """The model may search the web before answering (OpenAI's ``web_search_options``, Kimi's
    builtin ``$web_search`` tool); its sources come back as ``UrlCitation`` annotations."""

    context_size: Literal["low", "medium", "high"] | None = None
    """How much retrieved text the model reads; ``None``: the upstream's default (``medium``)."""
    user_location: UserLocation | None = None


Dialect = Literal["anthropic", "openai_chat", "openai_responses"]
"""A wire API a client speaks and an upstream may speak too: Anthropic's Messages, OpenAI's Chat
Completions, OpenAI's Responses."""


@record
class Extensions:
    """What a client sent that the canonical request has no field for, kept for the provider:
    one that speaks the client's ``dialect`` sends it on, any other one applies the field policy
    (``core/field_policy.py``), which the gateway checks before anything is reserved."""

    dialect: Dialect
    fields: Mapping[str, Any]
    """The body's members without a canonical field, by name (an item of a list by its path,
    ``tools[3]``): new API versions' fields, beta features, hints."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers of the dialect that a same-dialect upstream reads (``anthropic-beta``)."""
    body: Mapping[str, Any] | None = None
    """The whole body as the client sent it, when a same-dialect provider can send it on as is
    (with our model id and the policy's drops); ``None`` when the gateway rewrote its content
    (a Responses chain: ``previous_response_id`` or ``item_reference`` items)."""


@record
class ChatRequest:
    """A chat completion request after validation, independent of the API it arrived through."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int | None = None
    """Upper bound on generated tokens per choice (``max_completion_tokens`` or ``max_tokens``)."""
    n: int = 1
    sampling: Sampling = field(default_factory=Sampling)
    logprobs: bool = False
    top_logprobs: int | None = None
    response_format: ResponseFormat = field(default_factory=TextFormat)
    tools: tuple[FunctionTool, ...] = ()
    tool_choice: ToolChoice | None = None
    """``None`` means the API default: ``auto`` when tools are present, else ``none``."""
    parallel_tool_calls: bool | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    web_search: WebSearch | None = None
    """Asked for by the client; only models whose upstream searches accept it (the gateway checks)."""
    stream: bool = False
    include_usage: bool = False
    user: str | None = None
    requested: frozenset[str] = frozenset()
    """Names of the optional wire parameters the client set, for capability checks."""
    extensions: Extensions | None = None
    """The client's members the fields above do not hold (see ``Extensions``)."""
    raw_prompt: str | None = None
    """The prompt of a legacy text completion (``/v1/completions``). A provider that can continue
    raw text (the local model) continues it verbatim, without a chat template; every other one
    reads ``messages``, where the prompt is one user message."""

    def effort_for(self, params: frozenset[str]) -> Literal["low", "medium", "high"] | None:
        """The reasoning effort to send a model that takes ``params``: one that ``thinking`` asked
        of every model (``requested`` lacks it; Claude Code asks so) is not sent to a model without
        reasoning, which answers as it would anyway; an asked one the gateway refused before."""
        if "reasoning_effort" in params or "reasoning_effort" in self.requested:
            return self.reasoning_effort
        return None

    def effective_tool_choice(self) -> ToolChoice:
        if self.tool_choice is not None:
            return self.tool_choice
        return "auto" if self.tools else "none"
