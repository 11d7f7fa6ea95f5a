"""The credit ledger under concurrency, on the embedded SQLite store: 200 requests at once
against a balance that covers about 37 of them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2

from tests.api.test_chat_fake import FAKE
from tests.serving import Server

# "a b c" with max_tokens 3 on the fake model (1 credit per token each way): the reservation is
# 4 (prompt estimate) + 3 = 7 credits, the charge 3 + 3 = 6.
BODY = {"model": FAKE, "messages": [{"role": "user", "content": "a b c"}], "max_tokens": 3}
WORST, COST = 7, 6
INITIAL = 37 * WORST


async def fire(urls: list[str], key: str, n: int) -> list[httpx2.Response]:
    limits = httpx2.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx2.AsyncClient(timeout=60, limits=limits) as client:
        headers = {"Authorization": f"Bearer {key}"}
        return await asyncio.gather(
            *(client.post(f"{urls[i % len(urls)]}/v1/chat/completions", json=BODY, headers=headers) for i in range(n))
        )


def check_outcome(responses: list[httpx2.Response]) -> tuple[int, int]:
    """Every answer is a success billed in ``meta.usage`` or a clean 402; returns (accepted, billed)."""
    accepted = billed = 0
    for r in responses:
        if r.status_code == 200:
            accepted += 1
            usage: dict[str, Any] = r.json()["meta"]["usage"]
            assert usage["credits_used"] == COST
            billed += usage["credits_used"]
        else:
            assert r.status_code == 402, r.text
            assert r.json()["error"]["code"] == "insufficient_credits"
    return accepted, billed


def test_200_concurrent_requests_never_overspend(server: Server) -> None:
    key, account = server.new_key(credits=INITIAL)
    responses = asyncio.run(fire([server.url], key, 200))
    accepted, billed = check_outcome(responses)
    # At least the 37 that the balance covers at once; a few more as settled requests hand back
    # the unused part of their reservation; never more than the balance pays for.
    assert 37 <= accepted <= INITIAL // COST
    rows = server.usage_rows(account)
    assert len(rows) == accepted  # one ledger row per accepted request, none for the refused ones
    assert all(row[4] == "ok" for row in rows)
    assert sum(row[3] for row in rows) == billed
    assert server.open_reservations() == 0
    balance = server.balance(account)
    assert balance >= 0
    assert balance + billed == INITIAL
