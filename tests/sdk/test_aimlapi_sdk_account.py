"""The AI/ML API's own SDK on the account endpoints of the docs' "Service endpoints": the key's
own settings, the balance (credits and USD), key management with the management key, and the
spend, log and ledger reports. The SDK has no resource for these; its README's way is the
client's HTTP verbs (``client.get("/billing/balance", cast_to=object)``), which keep its key,
headers and error classes (``aimlapi_account_calls.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sdk.runner import sdk
from tests.serving import Server, fake_settings
from unigate.catalog.builtin import FAKE_MODEL_ID

MANAGEMENT_KEY = "mk-test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = fake_settings(tmp_path_factory.mktemp("aimlapi-account"), management_key=MANAGEMENT_KEY)
    running = Server(settings).start()
    yield running
    running.stop()


def _spend(server: Server, key: str) -> int:
    """One chat call through the SDK; its cost in credits."""
    credits: int = sdk(server, key, "chat", FAKE_MODEL_ID)["meta"]["usage"]["credits_used"]
    return credits


def test_the_key_and_the_balance_in_credits_and_usd(server: Server) -> None:
    key, account = server.new_key(3_000_000)
    spent = _spend(server, key)
    done = sdk(server, key, "account")
    own = done["key"]["data"]
    assert (own["prefix"], own["disabled"], own["name"]) == (key[:8], False, "test")
    assert own["monthly_usage"] == spent / 2_000_000  # USD
    assert "key" not in own  # the full key is shown only when it is created
    left = 3_000_000 - spent
    assert left == server.balance(account)
    balance = done["balance"]
    assert balance["balance"] == left  # the legacy endpoint counts credits
    assert (balance["lowBalance"], balance["autoDebitStatus"], balance["status"]) == (False, "disabled", "current")
    assert done["billing"] == {"current_balance": left / 2_000_000, "currency": "USD"}
    assert done["detail"]["current_balance"] == left / 2_000_000
    assert done["detail"]["autotopup_settings"]["is_enabled"] is False
    # listing keys takes the management key: the SDK raises its own 401 class
    assert done["keys_with_an_api_key"] == {
        "error": "AuthenticationError",
        "status": 401,
        "code": "invalid_management_key",
    }


def test_key_management_with_the_management_key(server: Server) -> None:
    key, _ = server.new_key(1_000)
    done = sdk(server, key, "keys", MANAGEMENT_KEY)
    created = done["created"]
    assert created["name"] == "20260202-key-for-llms"
    assert created["prefix"] == created["key"][:8]
    assert created["scopes"] == ["model:chat"]
    assert created["limit"] == {"retention": "week", "threshold": 25}
    assert done["listed"]
    assert done["seen"]["prefix"] == created["prefix"]
    assert "key" not in done["seen"]
    # the new key has only model:chat: the SDK's embeddings call is refused with its 403 class
    assert done["scoped"] == {"error": "PermissionDeniedError", "status": 403, "code": "missing_scope"}
    assert done["disabled"] is True
    assert done["refused"] == {"error": "AuthenticationError", "status": 401, "code": "invalid_api_key"}
    assert done["deleted"] == {"data": {"prefix": created["prefix"], "deleted": True}}
    assert done["gone"] == {"error": "NotFoundError", "status": 404, "code": "key_not_found"}


def _fields(body: dict[str, Any], *names: str) -> None:
    missing = [name for name in names if name not in body]
    assert not missing, f"missing {missing} in {body}"


def test_spend_log_and_ledger_reports(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    spent = _spend(server, key)
    done = sdk(server, key, "reports")
    usage = done["usage"]
    _fields(usage, "api_key_prefix", "start", "end", "spend", "currency", "requests")
    assert (usage["spend"], usage["currency"], usage["requests"]) == (spent / 2_000_000, "USD", 1)
    (row,) = done["logs"]["data"]
    _fields(row, "created", "status", "origin", "model", "cost", "tokens", "request_id", "inference_id")
    assert (row["status"], row["origin"], row["model"]) == ("succeeded", "api", FAKE_MODEL_ID)
    assert row["cost"] == {"usd": spent / 2_000_000, "credits": spent}
    charges = [t for t in done["transactions"]["data"] if t["type"] == "MODEL_USAGE"]
    assert [(t["direction"], t["amount"]["credits"], t["model"]) for t in charges] == [("CHARGE", spent, FAKE_MODEL_ID)]
    assert done["transactions"]["pagination"]["has_more"] is False
