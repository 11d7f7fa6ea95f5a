"""Rate limits counted in Redis, shared by every process of the gateway.

One Lua script per admission (atomic): it drops the entries that left the window, checks both
limits and records the request. The admissions a process queues while its previous call to
Redis is in flight go together in the next one, a pipeline of one ``EVALSHA`` per admission
(``core/batching.py``): each still runs atomically and in order, and the process pays one round
trip and one command dispatch of redis-py per batch instead of per request (the dispatch cost
about a sixth of a request's CPU). Times are Redis's own clock (``TIME``), so
the replicas' clocks do not matter. Per key: a sorted set of admissions (score: milliseconds;
member: ``<random id>:<tokens>``) and the token total of the set.

If Redis cannot be reached the request is admitted and the failure logged: rate limits protect
capacity, not money (credits are reserved in the database), and an outage of Redis should not
become an outage of the gateway.
"""

from __future__ import annotations

import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from unigate.core.batching import Batcher
from unigate.core.ids import hex_id
from unigate.limits.window import WINDOW_S, Decision, Reason

__all__ = ["RedisRateLimiter"]

log = logging.getLogger("unigate.limits")

_ADMIT = """
local log, total = KEYS[1], KEYS[2]
local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window, uid = tonumber(ARGV[4]), ARGV[5]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cutoff = now - window
local expired = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
if #expired > 0 then
  local freed = 0
  for _, m in ipairs(expired) do freed = freed + tonumber(string.match(m, ':(%d+)$')) end
  redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff)
  redis.call('DECRBY', total, freed)
end
local count = redis.call('ZCARD', log)
local used = tonumber(redis.call('GET', total) or '0')
local retry, reason = 0, ''
if rpm > 0 and count + 1 > rpm then
  local first = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
  retry, reason = tonumber(first[2]) + window - now, 'requests'
end
if tpm > 0 and tokens > tpm then
  retry, reason = window, 'too_large'
elseif tpm > 0 and used + tokens > tpm then
  local need, freed = used + tokens - tpm, 0
  local entries = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
    if freed >= need then
      retry = math.max(retry, tonumber(entries[i + 1]) + window - now)
      break
    end
  end
  if reason == '' then reason = 'tokens' end
end
if reason == '' then
  redis.call('ZADD', log, now, uid .. ':' .. tokens)
  redis.call('INCRBY', total, tokens)
  count, used = count + 1, used + tokens
end
local reset = 0
local last = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
if #last > 0 then reset = tonumber(last[2]) + window - now end
redis.call('PEXPIRE', log, window + 1000)
redis.call('PEXPIRE', total, window + 1000)
return {count, used, retry, reset, reason}
"""


_Admission = tuple[list[str], list[int | str]]


class RedisRateLimiter:
    def __init__(self, client: aioredis.Redis, *, prefix: str, window_s: float = WINDOW_S) -> None:
        self._client = client
        self._prefix = prefix
        self._window_ms = round(window_s * 1000)
        self._sha = client.register_script(_ADMIT).sha
        self._batches = Batcher[_Admission](self._admit_many)

    async def admit(self, key_id: int, *, rpm: int | None, tpm: int | None, tokens: int) -> Decision:
        base = f"{self._prefix}rl:{key_id}"
        args: list[int | str] = [rpm or 0, tpm or 0, tokens, self._window_ms, hex_id(6)]
        try:
            # A caller that leaves before its admission is sent drops it; once sent, it counts.
            result: list[Any] = await self._batches.submit(([base, base + ":tokens"], args), abandoned=_ignore)
        except RedisError:
            log.exception("rate limiter unavailable; admitting the request")
            return Decision(True, None, None, 0, 0, 0.0, 0.0, 0.0)
        count, used, retry_ms, reset_ms, raw_reason = result
        reason: Reason = _reason(raw_reason)
        return Decision(
            allowed=not reason,
            rpm=rpm,
            tpm=tpm,
            remaining_requests=(rpm or 0) - int(count),
            remaining_tokens=(tpm or 0) - int(used),
            reset_requests_s=int(reset_ms) / 1000,
            reset_tokens_s=int(reset_ms) / 1000,
            retry_after_s=int(retry_ms) / 1000,
            reason=reason,
        )

    async def _admit_many(self, admissions: list[_Admission]) -> list[Any]:
        """One pipeline; an admission that failed alone gets its exception. A server that does not
        know the script yet (first use, or restarted) gets it, and those admissions run again:
        ``NOSCRIPT`` means they did not run."""
        outcomes = await self._pipeline(admissions)
        missing = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, NoScriptError)]
        if missing:
            await self._client.script_load(_ADMIT)
            for i, outcome in zip(missing, await self._pipeline([admissions[i] for i in missing]), strict=True):
                outcomes[i] = outcome
        return outcomes

    async def _pipeline(self, admissions: list[_Admission]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for keys, args in admissions:
                pipe.evalsha(self._sha, len(keys), *keys, *args)
            return await pipe.execute(raise_on_error=False)

    async def close(self) -> None:
        return None  # the client belongs to the caller


def _ignore(_: object) -> None:
    """An admission whose caller left while it was in flight: it counts, as any sent request."""


def _reason(raw: bytes | str) -> Reason:
    text = raw.decode() if isinstance(raw, bytes) else raw
    if text == "requests":
        return "requests"
    if text == "tokens":
        return "tokens"
    if text == "too_large":
        return "too_large"
    return ""
