"""The ``[cache]`` section: the response cache of chat requests (``core/cache_flow.py``).
Variables: ``UNIGATE_CACHE_<FIELD>``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from unigate.settings.sections import flag

__all__ = ["CacheSettings", "cache_settings"]


@dataclass(frozen=True, slots=True)
class CacheSettings:
    enabled: bool = True
    """Serve the requests that ask for the cache (``cache`` in the body, ``x-unigate-cache``); off,
    they run as if they had not asked. Nothing is cached unless a request asks."""
    ttl_s: float = 3600.0
    """How long an entry is kept when the request does not say (``{"cache": {"ttl": N}}``)."""
    max_ttl_s: float = 86400.0
    """The longest a request may ask for."""
    max_entry_bytes: int = 1 << 20
    """An answer larger than this (encoded) is not kept."""
    max_entries: int = 100_000
    """SQLite and PostgreSQL keep at most this many, dropping those closest to expiry first;
    Redis keeps what its ``maxmemory`` policy allows (set ``volatile-ttl`` or ``allkeys-lru``)."""
    scope: Literal["account", "global"] = "account"
    """``account``: an answer is served only to keys of the account that paid for it; ``global``:
    to every account (only when all of them may see each other's answers)."""
    hit_billing: Literal["free", "full"] = "free"
    """What a hit costs: nothing, or the cached answer's tokens at the model's current price."""


_READ: dict[str, Callable[[Any], Any]] = {
    "enabled": lambda v: v if isinstance(v, bool) else flag(str(v)),
    "ttl_s": float,
    "max_ttl_s": float,
    "max_entry_bytes": int,
    "max_entries": int,
    "scope": str,
    "hit_billing": str,
}


def cache_settings(table: Mapping[str, Any], env: Mapping[str, str]) -> CacheSettings:
    """The ``[cache]`` table, then ``UNIGATE_CACHE_<FIELD>``."""
    unknown = set(table) - {f.name for f in fields(CacheSettings)}
    if unknown:
        raise ValueError(f"unknown [cache] settings: {', '.join(sorted(unknown))}")
    found = {name: read(table[name]) for name, read in _READ.items() if name in table}
    found |= {name: read(env[var]) for name, read in _READ.items() if (var := f"UNIGATE_CACHE_{name.upper()}") in env}
    settings = replace(CacheSettings(), **found)
    if settings.scope not in ("account", "global"):
        raise ValueError(f"unknown [cache] scope {settings.scope!r}: expected account or global")
    if settings.hit_billing not in ("free", "full"):
        raise ValueError(f"unknown [cache] hit_billing {settings.hit_billing!r}: expected free or full")
    if min(settings.ttl_s, settings.max_ttl_s, settings.max_entry_bytes, settings.max_entries) <= 0:
        raise ValueError("[cache] ttl_s, max_ttl_s, max_entry_bytes and max_entries must be positive")
    return settings
