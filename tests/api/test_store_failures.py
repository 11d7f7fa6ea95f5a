"""The accounts database failing: a request it stops before anything happened gets a 503 it can
retry (never a 500), and a settlement it fails to take after the answer was produced is kept
and recorded once the database is back: once, whatever the failure."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_chat_fake import FAKE, post, sse_frames
from tests.api.test_errors import error_of
from tests.serving import Server, fake_settings
from unigate.accounts.store import ApiKey, Refusal, Reservation, Settlement
from unigate.catalog.builtin import fake_spec
from unigate.providers.fake import FakeProvider
from unigate.storage.sqlite.store import SqliteStore

USER = [{"role": "user", "content": "a b c"}]


class FlakyStore(SqliteStore):
    """A SQLite store whose chosen operations fail as a database that went away does. With
    ``settle_fails_after_commit`` a settlement commits and then reports a failure (a connection
    lost while the commit's answer was on its way)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.down: set[str] = set()
        self.settle_fails_after_commit = False
        self.settle_calls = 0

    def _check(self, operation: str) -> None:
        if operation in self.down:
            raise sqlite3.OperationalError("disk I/O error")

    async def authenticate(self, key: str) -> ApiKey | None:
        self._check("authenticate")
        return await super().authenticate(key)

    async def reserve(self, *, key: ApiKey, amount: int, ttl_s: float, model: str = "") -> Reservation | Refusal:
        self._check("reserve")
        return await super().reserve(key=key, amount=amount, ttl_s=ttl_s, model=model)

    async def settle(self, reservation: Reservation, settlement: Settlement) -> None:
        self.settle_calls += 1
        self._check("settle")
        await super().settle(reservation, settlement)
        if self.settle_fails_after_commit:
            raise sqlite3.OperationalError("disk I/O error")


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


def _serve(tmp_path: Path, provider: FakeProvider, **settings: Any) -> tuple[Server, FlakyStore]:
    config = fake_settings(tmp_path, **settings)
    store = FlakyStore(config.sqlite_path())
    return Server(config, models=[fake_spec()], providers={"fake": provider}, store=store).start(), store


@pytest.fixture
def flaky(tmp_path: Path, provider: FakeProvider) -> Iterator[tuple[Server, FlakyStore]]:
    server, store = _serve(tmp_path, provider)
    yield server, store
    server.stop()


def test_store_down_at_reservation_is_a_503_before_any_upstream_call(
    flaky: tuple[Server, FlakyStore], provider: FakeProvider
) -> None:
    server, store = flaky
    key, account = server.new_key(credits=100_000)
    store.down.add("reserve")
    for stream in (False, True):
        r = post(server, key, {"model": FAKE, "messages": USER, "stream": stream})
        error_of(r, 503, code="store_unavailable")
        assert r.headers["retry-after"] == "1"
    assert provider.calls == 0
    assert server.usage_rows(account) == []
    assert server.balance(account) == 100_000
    store.down.clear()
    assert post(server, key, {"model": FAKE, "messages": USER}).status_code == 200


def test_store_down_at_authentication_is_a_503(flaky: tuple[Server, FlakyStore]) -> None:
    server, store = flaky
    key, _ = server.new_key(credits=100_000)
    store.down.add("authenticate")
    error_of(post(server, key, {"model": FAKE, "messages": USER}), 503, code="store_unavailable")


def test_a_settlement_the_store_fails_is_kept_and_recorded_once_when_it_is_back(
    flaky: tuple[Server, FlakyStore],
) -> None:
    server, store = flaky
    key, account = server.new_key(credits=100_000)
    store.down.add("settle")
    r = post(server, key, {"model": FAKE, "messages": USER})
    assert r.status_code == 200, r.text  # the answer exists and its cost is known
    credits = r.json()["meta"]["usage"]["credits_used"]
    assert credits > 0
    assert server.usage_rows(account) == []
    assert server.open_reservations() == 1
    assert len(server.gateway.unsettled) == 1
    with pytest.raises(sqlite3.OperationalError):
        server.call(server.gateway.retry_unsettled())  # still down: kept
    assert len(server.gateway.unsettled) == 1

    store.down.clear()
    assert server.call(server.gateway.retry_unsettled()) == 1
    assert server.call(server.gateway.retry_unsettled()) == 0
    (row,) = server.usage_rows(account)
    assert row[3:] == (credits, "ok")
    assert server.balance(account) == 100_000 - credits
    assert server.open_reservations() == 0
    assert not server.gateway.held


def test_a_settlement_that_committed_before_its_error_is_not_charged_twice(
    flaky: tuple[Server, FlakyStore],
) -> None:
    server, store = flaky
    key, account = server.new_key(credits=100_000)
    store.settle_fails_after_commit = True
    r = post(server, key, {"model": FAKE, "messages": USER})
    assert r.status_code == 200, r.text
    credits = r.json()["meta"]["usage"]["credits_used"]
    store.settle_fails_after_commit = False
    assert server.call(server.gateway.retry_unsettled()) == 1
    assert store.settle_calls == 2
    (row,) = server.usage_rows(account)
    assert row[3:] == (credits, "ok")
    assert server.balance(account) == 100_000 - credits


def test_the_upkeep_records_a_kept_stream_settlement(
    tmp_path: Path, provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    # A short reservation TTL makes the upkeep run every 0.1 s.
    server, store = _serve(tmp_path, provider, reservation_ttl_s=0.4)
    try:
        key, account = server.new_key(credits=100_000)
        store.down.add("settle")
        r = post(server, key, {"model": FAKE, "messages": USER, "stream": True})
        assert r.status_code == 200
        frames = sse_frames(r.text)
        assert frames[-1] == "[DONE]"  # the stream ended normally, with its cost
        credits = frames[-2]["meta"]["usage"]["credits_used"]
        with caplog.at_level(logging.WARNING, logger="unigate"):
            time.sleep(0.5)  # several upkeep turns while the store is down: the reservation is kept
        down = [r for r in caplog.records if "store is unavailable" in r.getMessage()]
        assert down, caplog.text
        assert all(r.exc_info is None for r in down)  # an outage is one line per turn, not a traceback
        assert server.usage_rows(account) == []
        assert server.open_reservations() == 1
        store.down.clear()
        deadline = time.monotonic() + 10
        while not server.usage_rows(account) and time.monotonic() < deadline:
            time.sleep(0.05)
        (row,) = server.usage_rows(account)
        assert row[3:] == (credits, "ok")
        assert server.balance(account) == 100_000 - credits
    finally:
        server.stop()


def test_shutdown_records_what_is_still_kept(tmp_path: Path, provider: FakeProvider) -> None:
    server, store = _serve(tmp_path, provider)
    key, account = server.new_key(credits=100_000)
    store.down.add("settle")
    r = post(server, key, {"model": FAKE, "messages": USER})
    credits = r.json()["meta"]["usage"]["credits_used"]
    store.down.clear()
    server.stop()  # the upkeep runs every 30 s here: the shutdown records it
    (row,) = server.usage_rows(account)
    assert row[3:] == (credits, "ok")
    assert server.open_reservations() == 0


class _FailsToClose(FakeProvider):
    async def close(self) -> None:
        raise RuntimeError("the provider's client failed to close")


def test_a_provider_that_fails_to_close_still_lets_the_shutdown_record_and_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, store = _serve(tmp_path, _FailsToClose())
    key, account = server.new_key(credits=100_000)
    store.down.add("settle")
    r = post(server, key, {"model": FAKE, "messages": USER})
    credits = r.json()["meta"]["usage"]["credits_used"]
    store.down.clear()
    with caplog.at_level(logging.ERROR, logger="unigate"):
        server.stop()
    assert "closing _FailsToClose failed" in caplog.text
    (row,) = server.usage_rows(account)
    assert row[3:] == (credits, "ok")
    assert store._db is None  # closed
