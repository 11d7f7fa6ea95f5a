"""The response cache's parts that every backend shares: what a client asks for (``CacheAsk``),
what the operator allows (``CachePolicy``), the entry key of a request, and the store's protocol.

An entry is keyed by the SHA-256 of the canonical request (``ChatRequest``: the resolved model,
the messages and every parameter that shapes the answer; not ``user``, which only labels the
caller, nor ``include_usage``, which only changes how the same events are rendered) and of whether
it streams, since a stream is replayed event by event. Entries live in a scope: the account's
(``a:<id>``) unless the operator shares them (``scope = "global"``), so that by default no account
ever reads another's answers.

Only deterministic requests are cached unless the client forces it: temperature 0 or a seed. A
sampled answer replayed would hide the variety the client asked for.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any, Literal, Protocol

import orjson

from unigate.core.chat import ChatRequest
from unigate.primitives.records import record

__all__ = ["CacheAsk", "CachePolicy", "CachedEntry", "ResponseCache", "deterministic", "entry_key"]

Outcome = Literal["hit", "miss"]


class CacheAsk:
    """A client's request to use the cache (``cache`` in the body or ``x-unigate-cache``), and,
    once the gateway looked, what happened: the edge renders ``outcome`` as a header."""

    __slots__ = ("force", "key", "outcome", "ttl_s")

    def __init__(self, *, force: bool = False, ttl_s: float | None = None) -> None:
        self.force = force
        """Cache even a non-deterministic request."""
        self.ttl_s = ttl_s
        """How long to keep the answer (capped by the policy's ``max_ttl_s``); ``None``: the default."""
        self.outcome: Outcome | None = None
        """``None`` until the gateway looked, and when the request was not cacheable."""
        self.key: str | None = None
        """The entry key the gateway looked up (for invalidating that one entry)."""


@record
class CachePolicy:
    """The operator's settings (``[cache]``), as the gateway applies them."""

    ttl_s: float = 3600.0
    max_ttl_s: float = 86400.0
    max_entry_bytes: int = 1 << 20
    scope: Literal["account", "global"] = "account"
    hit_billing: Literal["free", "full"] = "free"


@record
class CachedEntry:
    """What a backend keeps: the encoded answer (``core/cache_codec.py``) and its model."""

    model: str
    body: bytes


class ResponseCache(Protocol):
    """Where entries are kept (``storage/``: SQLite, PostgreSQL, Redis). Keys are unique within a
    scope; an expired entry is never returned."""

    async def get(self, scope: str, key: str) -> CachedEntry | None: ...

    async def put(self, scope: str, key: str, entry: CachedEntry, *, ttl_s: float) -> None: ...

    async def invalidate(self, *, scope: str | None = None, model: str | None = None, key: str | None = None) -> int:
        """Remove the entries that match every criterion given (at least one); how many."""
        ...


def scope_of(policy: CachePolicy, account_id: int) -> str:
    return "global" if policy.scope == "global" else account_scope(account_id)


def account_scope(account_id: int) -> str:
    return f"a:{account_id}"


def deterministic(request: ChatRequest) -> bool:
    """Whether the same request should give the same answer: greedy decoding or a fixed seed."""
    return request.sampling.temperature == 0 or request.sampling.seed is not None


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def entry_key(request: ChatRequest, model_id: str) -> str:
    """The entry key of ``request`` to the model ``model_id`` (its alias resolved)."""
    fields = asdict(request)
    for name in ("user", "include_usage", "requested"):
        fields.pop(name, None)
    fields["model"] = model_id
    # asdict drops the classes: a part's or a format's kind is told apart by its type name.
    fields["messages"] = [
        {**asdict(m), "content": [{"type": type(p).__name__, **asdict(p)} for p in m.content]} for m in request.messages
    ]
    fields["response_format"] = {"type": type(request.response_format).__name__, **asdict(request.response_format)}
    data = orjson.dumps(_plain(fields), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(data).hexdigest()
