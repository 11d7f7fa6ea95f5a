"""Counting a chat request's prompt tokens without running it (``POST /v1/messages/count_tokens``).

The request goes through the same key scope, model lookup and checks as a chat call
(``Gateway.resolve``: the same 404 for an unknown model, the same 400 for what the model cannot
take), then the provider counts it: exactly when it is a ``TokenCounter`` (the embedded model's
tokenizer, Anthropic's counting endpoint), else with its ``estimate_prompt_tokens``, the upper
bound the gateway reserves credits for, which is never below the count the upstream will report.

Free, like Anthropic's: nothing is reserved or settled, and no usage row is written. It counts as
one request against the key's requests per minute (no tokens against its tokens per minute): one
limiter call, so that a free endpoint still cannot be called without bound.
"""

from __future__ import annotations

from unigate.accounts import scopes
from unigate.accounts.store import ApiKey
from unigate.core.chat import ChatRequest
from unigate.core.gateway import Gateway, authorize
from unigate.core.provider import TokenCounter
from unigate.limits.window import Admission

__all__ = ["count_prompt_tokens"]


async def count_prompt_tokens(
    gateway: Gateway,
    request: ChatRequest,
    key: ApiKey,
    *,
    scope: str = scopes.CHAT,
    admission: Admission | None = None,
) -> int:
    """The prompt tokens of ``request`` (see the module docstring); the rate limiter's decision
    goes into ``admission``."""
    authorize(key, scope)
    spec, provider = gateway.resolve(request)
    await gateway.admit(key, 0, admission)
    counted = await provider.count_tokens(request, spec) if isinstance(provider, TokenCounter) else None
    return provider.estimate_prompt_tokens(request, spec) if counted is None else counted
