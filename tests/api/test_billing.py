"""The billing endpoints (seed-survey §2.5), the usage ledger endpoint and account credits."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest

from tests.api.test_chat_fake import FAKE, post
from tests.api.test_errors import error_of
from tests.serving import Server

MK = {"Authorization": "Bearer mk-test"}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def get(server: Server, path: str, key: str | None = None, **kw: Any) -> httpx2.Response:
    return httpx2.get(f"{server.url}{path}", headers=bearer(key) if key else MK, **kw)


def chat(server: Server, key: str, text: str = "one two three") -> dict[str, Any]:
    r = post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": text}], "max_tokens": 10})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_legacy_balance_in_credits(server: Server) -> None:
    key, account = server.new_key(credits=10_000_000)
    body = get(server, "/v1/billing/balance", key).json()
    assert list(body) == [
        "balance",
        "lowBalance",
        "lowBalanceThreshold",
        "lastUpdated",
        "autoDebitStatus",
        "status",
        "statusExplanation",
    ]
    assert body["balance"] == 10_000_000
    assert body["lowBalance"] is False
    assert body["lowBalanceThreshold"] == 10_000
    assert ISO_Z.match(body["lastUpdated"])
    assert (body["autoDebitStatus"], body["status"]) == ("disabled", "current")
    assert body["statusExplanation"] == "Balance is current and up to date"
    spent = chat(server, key)["meta"]["usage"]["credits_used"]
    assert get(server, "/v1/billing/balance", key).json()["balance"] == 10_000_000 - spent == server.balance(account)


@pytest.mark.parametrize(("credits", "low", "status"), [(9_999, True, "low"), (0, True, "depleted")])
def test_legacy_balance_reports_a_low_balance(server: Server, credits: int, low: bool, status: str) -> None:
    key, _ = server.new_key(credits=credits)
    body = get(server, "/v1/billing/balance", key).json()
    assert (body["balance"], body["lowBalance"], body["status"]) == (credits, low, status)


def test_v2_billing_in_usd(server: Server) -> None:
    key, _ = server.new_key(credits=246_900_000)
    assert get(server, "/v2/billing", key).json() == {"current_balance": 123.45, "currency": "USD"}


def test_v2_billing_detail(server: Server) -> None:
    key, account = server.new_key(credits=201_000_000)
    assert get(server, "/v2/billing/detail", key).json() == {
        "user_id": account,
        "current_balance": 100.5,
        "currency": "USD",
        "autotopup_settings": {"is_enabled": False, "threshold": 0, "amount": 0, "currency": "USD"},
    }


@pytest.mark.parametrize("path", ["/v1/billing/balance", "/v2/billing", "/v2/billing/detail", "/v1/usage"])
def test_billing_needs_a_valid_enabled_api_key(server: Server, path: str) -> None:
    error_of(httpx2.get(f"{server.url}{path}"), 401, code="missing_api_key")
    error_of(get(server, path, "0" * 32), 401, code="invalid_api_key")
    key, _ = server.new_key(credits=1)
    httpx2.patch(f"{server.url}/v1/keys/{key[:8]}", json={"disabled": True}, headers=MK)
    error_of(get(server, path, key), 401, code="invalid_api_key")
    if path != "/v1/usage":  # the management key is not an API key (but may read the ledger)
        error_of(get(server, path), 401, code="invalid_api_key")


@pytest.mark.parametrize("path", ["/v1/billing/balance", "/v2/billing", "/v2/billing/detail"])
def test_billing_is_read_only(server: Server, path: str) -> None:
    key, _ = server.new_key(credits=1)
    error_of(httpx2.post(f"{server.url}{path}", headers=bearer(key), json={}), 405)


def test_usage_ledger_one_row_per_request(server: Server) -> None:
    key, account = server.new_key(credits=100_000)
    answers = [chat(server, key, "a b c"), chat(server, key, "d e")]
    post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "FAIL"}]})
    body = get(server, "/v1/usage", key).json()
    assert body["object"] == "list"
    assert body["has_more"] is False
    rows = body["data"]
    assert [r["status"] for r in rows] == ["error", "ok", "ok"]
    newest_ok = rows[1]
    assert set(newest_ok) == {
        "id",
        "object",
        "created_at",
        "key_prefix",
        "account_id",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "credits_used",
        "usd_spent",
        "latency_ms",
        "status",
    }
    assert (newest_ok["key_prefix"], newest_ok["account_id"], newest_ok["model"]) == (key[:8], account, FAKE)
    assert (newest_ok["prompt_tokens"], newest_ok["completion_tokens"], newest_ok["total_tokens"]) == (2, 2, 4)
    assert newest_ok["credits_used"] == answers[1]["meta"]["usage"]["credits_used"]
    assert newest_ok["usd_spent"] == answers[1]["meta"]["usage"]["usd_spent"]
    assert isinstance(newest_ok["latency_ms"], int)
    assert ISO_Z.match(newest_ok["created_at"])
    assert sum(r["credits_used"] for r in rows) + server.balance(account) == 100_000


def test_usage_pages_and_filters(server: Server) -> None:
    key, account = server.new_key(credits=100_000)
    other, _ = server.new_key(credits=100_000)
    for _ in range(3):
        chat(server, key)
    chat(server, other)
    own = get(server, "/v1/usage", key, params={"limit": 2}).json()
    assert (len(own["data"]), own["has_more"]) == (2, True)
    rest = get(server, "/v1/usage", key, params={"limit": 2, "after": own["data"][-1]["id"]}).json()
    assert (len(rest["data"]), rest["has_more"]) == (1, False)
    assert {r["key_prefix"] for r in own["data"] + rest["data"]} == {key[:8]}
    # The management key sees everything, or one account or key.
    assert len(get(server, "/v1/usage").json()["data"]) == 4
    assert len(get(server, "/v1/usage", params={"account_id": account}).json()["data"]) == 3
    assert len(get(server, "/v1/usage", params={"key": other[:8]}).json()["data"]) == 1
    error_of(get(server, "/v1/usage", params={"key": "nothing1"}), 400, param="key")
    error_of(get(server, "/v1/usage", key, params={"account_id": account}), 403, code="management_key_required")


@pytest.mark.parametrize(
    ("params", "param"),
    [({"limit": 0}, "limit"), ({"limit": "many"}, "limit"), ({"limit": 5000}, "limit"), ({"after": -1}, "after")],
)
def test_usage_rejects_bad_parameters(server: Server, params: dict[str, Any], param: str) -> None:
    key, _ = server.new_key(credits=1)
    error_of(get(server, "/v1/usage", key, params=params), 400, param=param)


def test_account_credits_over_http(server: Server) -> None:
    key, account = server.new_key(credits=100)
    r = httpx2.post(f"{server.url}/v1/accounts/{account}/credits", json={"credits": 4_000_000}, headers=MK)
    assert r.json() == {"data": {"account_id": account, "balance": 4_000_100, "balance_usd": 2.00005}}
    assert get(server, f"/v1/accounts/{account}").json()["data"]["balance"] == 4_000_100
    assert get(server, "/v1/billing/balance", key).json()["balance"] == 4_000_100
    url = f"{server.url}/v1/accounts/{account}/credits"
    error_of(httpx2.post(url, json={"credits": -5_000_000}, headers=MK), 400, param="credits")
    error_of(httpx2.post(url, json={"credits": "5"}, headers=MK), 400, param="credits")
    error_of(httpx2.post(url, json={}, headers=MK), 400, param="credits")
    error_of(httpx2.post(url, json={"credits": 5}, headers=bearer(key)), 401, code="invalid_management_key")
    error_of(httpx2.post(url, json={"credits": 5}), 401, code="missing_api_key")
    error_of(httpx2.post(f"{server.url}/v1/accounts/999/credits", json={"credits": 5}, headers=MK), 404)
    error_of(get(server, "/v1/accounts/abc"), 404, code="account_not_found")
