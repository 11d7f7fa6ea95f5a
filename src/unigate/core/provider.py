"""The chat capability: what a provider implements to serve the chat endpoints, local engines
and remote APIs alike. Its registration declares it (``Modality.CHAT``, with the object in
``Capabilities.chat``); the other modalities have protocols of their own (``embedder.py``).
``TokenCounter`` is what a chat provider adds when it can count a prompt exactly, ``DialectSpeaker``
when its upstream speaks a client API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest, Dialect
from unigate.core.results import ChatResult, StreamEvent

__all__ = ["DialectSpeaker", "Provider", "TokenCounter"]


class Provider(Protocol):
    """A source of chat completions.

    ``check`` runs before any credit is reserved and raises ``InvalidRequest`` subclasses for
    what this provider cannot honour beyond the model's declared ``params`` (for example a JSON
    schema its grammar compiler does not support). ``complete`` and ``stream`` raise
    ``GatewayError`` subclasses (``Overloaded``, ``UpstreamError``, ...). Cancelling the task
    that awaits ``complete`` or iterates ``stream`` (or closing the iterator) must stop the
    upstream work promptly.

    A provider whose upstream speaks a client API is also a ``DialectSpeaker``.
    """

    name: str

    async def start(self) -> None:
        """Acquire resources (load weights, open connection pools). Called once at app start."""

    async def close(self) -> None:
        """Release everything ``start`` acquired."""

    def check(self, request: ChatRequest, model: ModelSpec) -> None:
        """Raise if this request cannot be served exactly as asked."""

    def estimate_prompt_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        """An upper bound on the prompt tokens, for the credit reservation made before the call."""

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        """Run the request to the end and return every choice."""

    def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncIterator[StreamEvent]:
        """Yield one ``StreamStart``, the ``ChoiceDelta``s as they are generated, then ``Usage``."""


@runtime_checkable
class TokenCounter(Protocol):
    """A chat provider that knows a prompt's exact size: its own tokenizer (the embedded model),
    or its upstream's counting endpoint (Anthropic's). Asked by ``/v1/messages/count_tokens``
    (``token_count.py``); any other provider is answered with ``estimate_prompt_tokens``."""

    async def count_tokens(self, request: ChatRequest, model: ModelSpec) -> int | None:
        """The prompt tokens ``model`` would read for ``request``, or ``None`` when they cannot
        be counted exactly here (the estimate answers then)."""


@runtime_checkable
class DialectSpeaker(Protocol):
    """A chat provider whose upstream speaks a client API (Anthropic's Messages, OpenAI's Chat
    Completions or Responses): a client of that API has its extensions sent on as written, any
    other client's are translated, dropped or refused (``field_policy.py``). A provider that is
    not one speaks none."""

    def speaks(self, request: ChatRequest, model: ModelSpec) -> Dialect | None:
        """The client API this upstream speaks for ``request`` on ``model``, if any."""
