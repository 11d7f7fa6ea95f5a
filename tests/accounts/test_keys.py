"""Key material, scopes and spending periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from unigate.accounts import keys, scopes
from unigate.accounts.spending import EPOCH, as_retention, credits_of_usd, period_start, usd_of_credits


def test_keys_are_32_hex_characters_named_by_their_first_8() -> None:
    key = keys.new_key()
    assert len(key) == 32
    int(key, 16)
    assert keys.prefix_of(key) == key[:8]
    assert keys.new_key() != key
    assert keys.matches(key, keys.digest(key))
    assert not keys.matches(key.upper(), keys.digest(key))
    assert keys.digest(key) != key  # only the hash is stored
    assert keys.new_management_key().startswith("mk-")


def test_no_scopes_allow_everything() -> None:
    assert scopes.allows((), scopes.CHAT)
    assert scopes.allows((), scopes.RESPONSES)
    assert scopes.allows(("model:chat",), scopes.CHAT)
    assert not scopes.allows(("model:chat",), scopes.RESPONSES)
    assert scopes.SCOPES == (
        "model:chat",
        "model:responses",
        "model:image",
        "model:audio",
        "model:video",
        "model:embeddings",
        "model:speech",
        "model:ocr",
    )


@pytest.mark.parametrize(
    ("retention", "start"),
    [
        ("day", datetime(2026, 2, 18, tzinfo=UTC)),
        ("week", datetime(2026, 2, 16, tzinfo=UTC)),  # the Monday
        ("month", datetime(2026, 2, 1, tzinfo=UTC)),
        ("no_reset", EPOCH),
        (None, EPOCH),
    ],
)
def test_periods_start_in_utc(retention: str | None, start: datetime) -> None:
    assert period_start(retention, datetime(2026, 2, 18, 6, 59, 10, tzinfo=UTC)) == start


def test_usd_and_credits() -> None:
    assert credits_of_usd(25) == 50_000_000
    assert credits_of_usd(0.0000005) == 1
    assert usd_of_credits(50_000_000) == 25
    assert isinstance(usd_of_credits(50_000_000), int)
    assert usd_of_credits(4686) == 0.002343
    assert as_retention("week") == "week"
    assert as_retention("fortnight") == "no_reset"
