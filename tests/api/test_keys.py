"""The key endpoints as the seeds document them (seed-survey §2.6): bodies, settings, auth
failures, bad bodies, and what the settings do to requests (disable, delete, scopes, limits)."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest

from tests.api.test_chat_fake import FAKE, post
from tests.api.test_errors import error_of
from tests.serving import Server

MK = {"Authorization": "Bearer mk-test"}
USER = [{"role": "user", "content": "hello there"}]
SEED_BODY = {"name": "20260202-key-for-llms", "limit": {"retention": "week", "threshold": 25}, "scopes": ["model:chat"]}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def create(server: Server, body: dict[str, Any] | None = None, **kw: Any) -> httpx2.Response:
    return httpx2.post(f"{server.url}/v1/keys", json=body, headers=kw.pop("headers", MK), **kw)


def created(server: Server, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = create(server, body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def patch(server: Server, prefix: str, body: Any, headers: dict[str, str] = MK) -> httpx2.Response:
    return httpx2.patch(f"{server.url}/v1/keys/{prefix}", json=body, headers=headers)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_create_returns_the_documented_body_with_the_key_once(server: Server) -> None:
    data = created(server, {**SEED_BODY, "credits": 10_000})
    assert list(data)[:9] == [
        "name",
        "disabled",
        "prefix",
        "scopes",
        "limit",
        "created_at",
        "updated_at",
        "monthly_usage",
        "account_id",
    ]
    assert data["name"] == "20260202-key-for-llms"
    assert data["disabled"] is False
    assert re.fullmatch(r"[0-9a-f]{32}", data["key"])
    assert data["prefix"] == data["key"][:8]
    assert data["scopes"] == ["model:chat"]
    assert data["limit"] == {"retention": "week", "threshold": 25}
    assert ISO_Z.match(data["created_at"])
    assert data["updated_at"] == data["created_at"]
    assert data["monthly_usage"] == 0
    assert data["rate_limit"] == {"rpm": None, "tpm": None}
    assert server.balance(data["account_id"]) == 10_000
    assert post(server, data["key"], {"model": FAKE, "messages": USER}).status_code == 200
    # Shown once: nothing else ever returns it.
    listed = httpx2.get(f"{server.url}/v1/keys", headers=MK).json()["data"]
    assert all("key" not in item for item in listed)
    assert "key" not in httpx2.get(f"{server.url}/v1/key", headers=bearer(data["key"])).json()["data"]


def test_create_without_a_body_uses_the_defaults(server: Server) -> None:
    r = httpx2.post(f"{server.url}/v1/keys", headers=MK)
    data = r.json()["data"]
    assert (data["name"], data["scopes"], data["limit"]) == (None, [], None)
    assert server.balance(data["account_id"]) == 0


def test_create_on_an_existing_account_shares_its_balance(server: Server) -> None:
    first = created(server, {"credits": 500})
    second = created(server, {"account_id": first["account_id"], "credits": 100})
    assert second["account_id"] == first["account_id"]
    assert server.balance(first["account_id"]) == 600
    error_of(create(server, {"account_id": 999_999}), 400, param="account_id")


def test_list_is_oldest_first_and_can_filter_by_account(server: Server) -> None:
    a = created(server, {"name": "a"})
    b = created(server, {"name": "b"})
    c = created(server, {"name": "c", "account_id": a["account_id"]})
    r = httpx2.get(f"{server.url}/v1/keys", headers=MK)
    assert [k["prefix"] for k in r.json()["data"]] == [a["prefix"], b["prefix"], c["prefix"]]
    r = httpx2.get(f"{server.url}/v1/keys", params={"account_id": a["account_id"]}, headers=MK)
    assert [k["name"] for k in r.json()["data"]] == ["a", "c"]
    error_of(httpx2.get(f"{server.url}/v1/keys", params={"account_id": "x"}, headers=MK), 400, param="account_id")
    error_of(httpx2.get(f"{server.url}/v1/keys", params={"sort": "x"}, headers=MK), 400, param="sort")


def test_get_key_returns_the_calling_keys_settings_and_monthly_usage(server: Server) -> None:
    data = created(server, {**SEED_BODY, "credits": 10_000})
    assert post(server, data["key"], {"model": FAKE, "messages": USER}).status_code == 200
    own = httpx2.get(f"{server.url}/v1/key", headers=bearer(data["key"])).json()["data"]
    assert own["prefix"] == data["prefix"]
    assert own["limit"] == {"retention": "week", "threshold": 25}
    (row,) = server.usage_rows(data["account_id"])
    assert own["monthly_usage"] == row[3] / 2_000_000


def test_patch_changes_only_what_is_given(server: Server) -> None:
    data = created(server, SEED_BODY)
    r = patch(server, data["prefix"], {"limit": {"threshold": 30}, "rate_limit": {"rpm": 5}})
    assert r.status_code == 200, r.text
    after = r.json()["data"]
    assert after["limit"] == {"retention": "week", "threshold": 30}
    assert after["rate_limit"] == {"rpm": 5, "tpm": None}
    assert (after["name"], after["scopes"]) == (data["name"], ["model:chat"])
    after = patch(server, data["prefix"], {"name": None, "scopes": [], "limit": None}).json()["data"]
    assert (after["name"], after["scopes"], after["limit"]) == (None, [], None)
    assert after["rate_limit"] == {"rpm": 5, "tpm": None}
    after = patch(server, data["prefix"], {"rate_limit": None}).json()["data"]
    assert after["rate_limit"] == {"rpm": None, "tpm": None}
    error_of(patch(server, data["prefix"], {"limit": {"retention": "day"}}), 400, param="limit.threshold")
    assert patch(server, data["prefix"], {"limit": {"threshold": 1.5}}).json()["data"]["limit"] == {
        "retention": "no_reset",
        "threshold": 1.5,
    }


def test_disabled_key_stops_at_once_and_comes_back(server: Server) -> None:
    data = created(server, {"credits": 10_000})
    key, prefix = data["key"], data["prefix"]
    r = patch(server, prefix, {"disabled": True})
    assert r.json()["data"]["disabled"] is True
    error_of(post(server, key, {"model": FAKE, "messages": USER}), 401, code="invalid_api_key")
    error_of(httpx2.get(f"{server.url}/v1/key", headers=bearer(key)), 401)
    assert patch(server, prefix, {"disabled": False}).json()["data"]["disabled"] is False
    assert post(server, key, {"model": FAKE, "messages": USER}).status_code == 200


def test_delete_is_documented_and_final(server: Server) -> None:
    data = created(server, {"credits": 10_000})
    assert post(server, data["key"], {"model": FAKE, "messages": USER}).status_code == 200
    r = httpx2.delete(f"{server.url}/v1/keys/{data['prefix']}", headers=MK)
    assert r.json() == {"data": {"prefix": data["prefix"], "deleted": True}}
    error_of(post(server, data["key"], {"model": FAKE, "messages": USER}), 401)
    error_of(httpx2.delete(f"{server.url}/v1/keys/{data['prefix']}", headers=MK), 404, code="key_not_found")
    error_of(patch(server, data["prefix"], {"name": "x"}), 404, code="key_not_found")
    assert len(server.usage_rows(data["account_id"])) == 1  # the ledger keeps its rows


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/keys"),
        ("GET", "/v1/keys"),
        ("PATCH", "/v1/keys/abcdef12"),
        ("DELETE", "/v1/keys/abcdef12"),
    ],
)
def test_management_endpoints_need_the_management_key(server: Server, method: str, path: str) -> None:
    api_key = created(server)["key"]
    url = f"{server.url}{path}"
    body: dict[str, Any] | None = {} if method in {"POST", "PATCH"} else None
    error_of(httpx2.request(method, url, json=body), 401, code="missing_api_key")
    error_of(httpx2.request(method, url, json=body, headers=bearer(api_key)), 401, code="invalid_management_key")
    error_of(httpx2.request(method, url, json=body, headers=bearer("mk-wrong")), 401, code="invalid_management_key")


def test_get_key_needs_an_api_key(server: Server) -> None:
    error_of(httpx2.get(f"{server.url}/v1/key"), 401, code="missing_api_key")
    error_of(httpx2.get(f"{server.url}/v1/key", headers=MK), 401, code="invalid_api_key")
    error_of(httpx2.get(f"{server.url}/v1/key", headers=bearer("0" * 32)), 401, code="invalid_api_key")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": 5}, "name"),
        ({"name": "x" * 300}, "name"),
        ({"limit": {"threshold": -1}}, "limit.threshold"),
        ({"limit": {"threshold": "25"}}, "limit.threshold"),
        ({"limit": {"retention": "week"}}, "limit.threshold"),
        ({"limit": {"retention": "year", "threshold": 1}}, "limit.retention"),
        ({"limit": 25}, "limit"),
        ({"scopes": ["model:images"]}, "scopes[0]"),
        ({"scopes": "model:chat"}, "scopes"),
        ({"rate_limit": {"rpm": 0}}, "rate_limit.rpm"),
        ({"rate_limit": {"rph": 10}}, "rate_limit.rph"),
        ({"credits": -1}, "credits"),
        ({"account_id": "1"}, "account_id"),
        ({"frobnicate": True}, "frobnicate"),
    ],
)
def test_create_rejects_bad_bodies_naming_the_param(server: Server, body: dict[str, Any], param: str) -> None:
    err = error_of(create(server, body), 400, param=param)
    assert err["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"disabled": "yes"}, "disabled"),
        ({"disabled": None}, "disabled"),
        ({"limit": {"threshold": -5}}, "limit.threshold"),
        ({"scopes": ["model:chat", 7]}, "scopes[1]"),
        ({"prefix": "other"}, "prefix"),
    ],
)
def test_patch_rejects_bad_bodies_naming_the_param(server: Server, body: dict[str, Any], param: str) -> None:
    prefix = created(server)["prefix"]
    error_of(patch(server, prefix, body), 400, param=param)


def test_bad_json_is_400(server: Server) -> None:
    r = httpx2.post(f"{server.url}/v1/keys", content=b"{nope", headers=MK)
    error_of(r, 400, code="invalid_json")
    prefix = created(server)["prefix"]
    error_of(httpx2.patch(f"{server.url}/v1/keys/{prefix}", content=b"[]", headers=MK), 400, code="invalid_json")
    error_of(httpx2.patch(f"{server.url}/v1/keys/{prefix}", headers=MK), 400)


def test_scopes_decide_which_apis_a_key_may_call(server: Server) -> None:
    chat = created(server, {"scopes": ["model:chat"], "credits": 10_000})
    responses_only = created(server, {"scopes": ["model:responses"], "credits": 10_000})
    every = created(server, {"credits": 10_000})
    assert post(server, chat["key"], {"model": FAKE, "messages": USER}).status_code == 200
    assert post(server, every["key"], {"model": FAKE, "messages": USER}).status_code == 200
    r = post(server, responses_only["key"], {"model": FAKE, "messages": USER})
    assert error_of(r, 403, code="missing_scope")["type"] == "permission_error"
    assert server.usage_rows(responses_only["account_id"]) == []


def test_spending_limit_refuses_before_the_upstream_call(server: Server) -> None:
    # 0.00002 USD = 40 credits; the fake model's worst case here is 3 + 1 + 5 = 9 credits.
    data = created(server, {"credits": 10_000, "limit": {"retention": "month", "threshold": 0.00002}})
    body = {"model": FAKE, "messages": [{"role": "user", "content": "one two three"}], "max_tokens": 5}
    spent = 0
    for _ in range(10):
        r = post(server, data["key"], body)
        if r.status_code != 200:
            break
        spent += r.json()["meta"]["usage"]["credits_used"]
    err = error_of(r, 402, code="spending_limit_exceeded")
    assert err["type"] == "insufficient_quota"
    assert 40 - 9 < spent <= 40
    assert server.balance(data["account_id"]) == 10_000 - spent
    assert len(server.usage_rows(data["account_id"])) == spent // 6
    # Raising the limit lets the key spend again.
    patch(server, data["prefix"], {"limit": {"threshold": 1}})
    assert post(server, data["key"], body).status_code == 200
