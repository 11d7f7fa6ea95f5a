"""Rate limits counted in Redis, shared by every process of the gateway.

A Lua script admits requests atomically: for each, it drops the entries that left the window,
checks both limits and records the request. The admissions a process queues while its previous
call to Redis is in flight go together in the next one (``primitives/batching.py``): one ``EVALSHA``
whose script admits them in order, so the process pays one round trip and one command of
redis-py per batch, far less than a command per admission. Times are Redis's own clock
(``TIME``, read once per call), so the replicas' clocks do not matter. Per key: a sorted set of
admissions (score: milliseconds; member: ``<random id>:<tokens>``) and the token total of the
set. Keys of several API keys go in one call, so the limiter wants one Redis server, not a
cluster.

If Redis cannot be reached the request is admitted and the failure logged: rate limits protect
capacity, not money (credits are reserved in the database), and an outage of Redis should not
become an outage of the gateway. That holds for a whole batch when its call fails (a script
error on one key's data ends the call with the admissions before it recorded).
"""

from __future__ import annotations

import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from unigate.limits.window import WINDOW_S, Decision, Reason
from unigate.primitives.batching import Batcher
from unigate.primitives.ids import hex_id

__all__ = ["RedisRateLimiter"]

log = logging.getLogger("unigate.limits")

_ADMIT = """
local window = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cutoff = now - window
local results = {}
for i = 1, #KEYS / 2 do
  local log, total = KEYS[2 * i - 1], KEYS[2 * i]
  local a = 4 * i - 2
  local rpm, tpm, tokens, uid = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), ARGV[a + 3]
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
    for j = 1, #entries, 2 do
      freed = freed + tonumber(string.match(entries[j], ':(%d+)$'))
      if freed >= need then
        retry = math.max(retry, tonumber(entries[j + 1]) + window - now)
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
  results[i] = {count, used, retry, reset, reason}
end
return results
"""


_Admission = tuple[str, list[int | str]]
"""The key's base name, and the script's arguments for it: rpm, tpm, tokens, a unique id."""


class RedisRateLimiter:
    def __init__(self, client: aioredis.Redis, *, prefix: str, window_s: float = WINDOW_S) -> None:
        self._client = client
        self._prefix = prefix
        self._window_ms = round(window_s * 1000)
        # redis-py's script object: EVALSHA, and on NOSCRIPT (first use, or Redis restarted; the
        # script did not run) SCRIPT LOAD and EVALSHA again.
        self._script = client.register_script(_ADMIT)
        self._batches = Batcher[_Admission](self._admit_many)

    async def admit(self, key_id: int, *, rpm: int | None, tpm: int | None, tokens: int) -> Decision:
        admission: _Admission = (f"{self._prefix}rl:{key_id}", [rpm or 0, tpm or 0, tokens, hex_id(6)])
        try:
            # A caller that leaves before its admission is sent drops it; once sent, it counts.
            result: list[Any] = await self._batches.submit(admission, abandoned=_ignore)
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
        """One call of the script for the whole batch, one result per admission."""
        keys: list[str] = []
        args: list[int | str] = [self._window_ms]
        for base, own in admissions:
            keys += (base, base + ":tokens")
            args += own
        try:
            results: list[Any] = await self._script(keys=keys, args=args)
        except RedisConnectionError:
            # Mostly a pooled connection that Redis closed meanwhile (a restart, its idle
            # timeout): the script did not run, and redis-py opens a new connection for the next
            # call. Should a connection break after the script ran, the batch counts twice: a
            # rare error towards refusing, where giving up would admit the batch uncounted.
            results = await self._script(keys=keys, args=args)
        return results

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
