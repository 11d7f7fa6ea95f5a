"""The service's account endpoints over HTTP: ``/v2/billing/transactions``, ``/v2/usage``,
``/v2/usage/detail``, ``/v2/logs`` and ``/models/metrics``: their shapes against the service's
reference, their filters and pages, who may read what, and that another account's rows never show."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson
import pytest

from tests.api.test_billing import MK, chat, get
from tests.api.test_chat_fake import FAKE, post
from tests.api.test_errors import error_of
from tests.catalog.shared import HAVE_REFERENCE, REFERENCE
from tests.serving import Server
from unigate.accounts.reports import LatencySample
from unigate.api.catalog.metrics import _entry
from unigate.catalog.spec import ModelSpec, Price

_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}


def reference_schema(method: str, path: str) -> dict[str, Any]:
    ops = orjson.loads((REFERENCE / "models.json").read_bytes())["shared_operations"]
    (op,) = [o for o in ops if o["method"] == method and o["path"] == path]
    schema: dict[str, Any] = op["response"]["schema"]
    return schema


def conforms(value: Any, schema: dict[str, Any], where: str = "body") -> None:
    """``value`` has every required field of the reference ``schema``, of its type and enum."""
    if value is None:
        assert schema.get("nullable"), f"{where} is null"
        return
    kind = schema.get("type")
    if kind is not None:
        assert isinstance(value, _TYPES[kind]), where
        assert kind == "boolean" or not isinstance(value, bool), where
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r}"
    for name, field in (schema.get("fields") or {}).items():
        if field.get("required"):
            assert name in value, f"{where}.{name} missing"
        if name in value:
            conforms(value[name], field, f"{where}.{name}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            conforms(item, schema["items"], f"{where}[{i}]")


needs_reference = pytest.mark.skipif(not HAVE_REFERENCE, reason="the service's reference is not beside the repo")


@needs_reference
def test_transactions_shape_filters_and_cursor(server: Server) -> None:
    key, account = server.new_key(credits=10_000_000)
    answers = [chat(server, key, "a b c") for _ in range(3)]
    post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "FAIL"}]})  # charged nothing
    r = httpx2.post(f"{server.url}/v1/accounts/{account}/credits", json={"credits": 2_000_000}, headers=MK)
    assert r.status_code == 200, r.text
    body = get(server, "/v2/billing/transactions", key).json()
    conforms(body, reference_schema("GET", "/v2/billing/transactions"))
    kinds = [(t["type"], t["direction"]) for t in body["data"]]
    assert kinds == [("ADJUSTMENT", "TOPUP"), *[("MODEL_USAGE", "CHARGE")] * 3, ("INIT", "TOPUP")]
    charges = body["data"][1:4]
    assert [c["amount"]["credits"] for c in charges] == [a["meta"]["usage"]["credits_used"] for a in reversed(answers)]
    assert all(c["model"] == FAKE and c["reference_id"] for c in charges)
    assert body["data"][0]["amount"] == {"usd": 1, "credits": 2_000_000}
    assert body["pagination"] == {"next_cursor": None, "has_more": False}

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = get(server, "/v2/billing/transactions", key, params=params).json()
        seen += page["data"]
        cursor = page["pagination"]["next_cursor"]
        assert page["pagination"]["has_more"] is (cursor is not None)
        if cursor is None:
            break
    assert seen == body["data"]

    only = get(server, "/v2/billing/transactions", key, params={"type": "MODEL_USAGE", "limit": 1}).json()
    assert [t["type"] for t in only["data"]] == ["MODEL_USAGE"]
    assert only["pagination"]["has_more"]
    topups = get(server, "/v2/billing/transactions", key, params={"direction": "TOPUP"}).json()["data"]
    assert [t["type"] for t in topups] == ["ADJUSTMENT", "INIT"]
    future = {"from": "2999-01-01T00:00:00Z"}
    assert get(server, "/v2/billing/transactions", key, params=future).json()["data"] == []
    before = {"to": "2000-01-01T00:00:00+02:00"}
    assert get(server, "/v2/billing/transactions", key, params=before).json()["data"] == []

    # The management key names the account; another account's key never sees these rows.
    assert get(server, "/v2/billing/transactions", params={"account_id": account}).json() == body
    other, _ = server.new_key(credits=5)
    theirs = get(server, "/v2/billing/transactions", other).json()["data"]
    assert [(t["type"], t["amount"]["credits"]) for t in theirs] == [("INIT", 5)]
    # A cursor of this account's page only says where to start in theirs (their entry is newer).
    cursor = only["pagination"]["next_cursor"]
    assert get(server, "/v2/billing/transactions", other, params={"cursor": cursor}).json()["data"] == []


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"direction": "IN"}, "direction"),
        ({"type": "model_usage"}, "type"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "eyJ2IjoxLCJ0IjoiMjAyNi0wMS0wMVQwMDowMDowMCIsInMiOjAsImkiOjF9"}, "cursor"),  # no offset
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
        ({"account_id": "1"}, "account_id"),
        ({"page": "2"}, "page"),
    ],
)
def test_transactions_reject_bad_parameters(server: Server, params: dict[str, str], param: str) -> None:
    key, _ = server.new_key(credits=1)
    error_of(get(server, "/v2/billing/transactions", key, params=params), 400, param=param)


def test_transactions_need_a_key_and_the_management_key_an_account(server: Server) -> None:
    error_of(httpx2.get(f"{server.url}/v2/billing/transactions"), 401, code="missing_api_key")
    error_of(get(server, "/v2/billing/transactions", "0" * 32), 401, code="invalid_api_key")
    error_of(get(server, "/v2/billing/transactions"), 400, param="account_id")
    error_of(get(server, "/v2/billing/transactions", params={"account_id": "999"}), 400, param="account_id")


@needs_reference
def test_usage_and_detail_of_a_key(server: Server) -> None:
    key, account = server.new_key(credits=10_000_000)
    spent = [chat(server, key)["meta"]["usage"]["credits_used"] for _ in range(2)]
    post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "FAIL"}]})
    sibling = httpx2.post(f"{server.url}/v1/keys", json={"account_id": account}, headers=MK).json()["data"]["key"]
    chat(server, sibling)  # the same account, another key: not in this key's usage

    usage = get(server, "/v2/usage", key, params={"period": "24h"}).json()
    conforms(usage, reference_schema("GET", "/v2/usage"))
    assert usage["api_key_prefix"] is None
    assert (usage["spend"], usage["currency"], usage["requests"]) == (sum(spent) / 2_000_000, "USD", 2)
    assert usage["start"].endswith("Z")
    assert usage["end"].endswith("Z")
    mine = get(server, "/v2/usage", key, params={"period": "1d", "key_prefix": key[:8]}).json()
    assert (mine["api_key_prefix"], mine["requests"]) == (key[:8], 2)
    by_admin = get(server, "/v2/usage", params={"period": "7d", "key_prefix": key[:8]}).json()
    assert by_admin["spend"] == usage["spend"]
    window = {"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00+01:00"}
    old = get(server, "/v2/usage", key, params=window).json()
    assert (old["start"], old["end"], old["requests"], old["spend"]) == (
        "2026-01-01T00:00:00.000Z",
        "2026-01-01T23:00:00.000Z",
        0,
        0,
    )

    detail = get(server, "/v2/usage/detail", key, params={"period": "24h"}).json()
    conforms(detail, reference_schema("GET", "/v2/usage/detail"))
    assert detail["models"] == [{"model": FAKE, "spend": usage["spend"], "requests": 2}]
    assert "groups" not in detail
    grouped = get(
        server, "/v2/usage/detail", key, params={"period": "24h", "group_by": "day,model", "tz": "UTC"}
    ).json()
    conforms(grouped, reference_schema("GET", "/v2/usage/detail"))
    (group,) = grouped["groups"]
    assert (group["model"], len(group["day"])) == (FAKE, 10)
    assert group["requests"] == {"total": 3, "charged": 2, "succeeded": 2, "failed": 1}
    assert group["tokens"]["total"] == group["tokens"]["input"] + group["tokens"]["output"] > 0


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/v2/usage", {}, "start"),
        ("/v2/usage", {"period": "24h", "start": "2026-01-01"}, "period"),
        ("/v2/usage", {"period": "24x"}, "period"),
        ("/v2/usage", {"period": "93d"}, "period"),
        ("/v2/usage", {"start": "2026-01-01"}, "end"),
        ("/v2/usage", {"start": "2026-01-02", "end": "2026-01-01"}, "end"),
        ("/v2/usage", {"start": "2026-01-01", "end": "2026-05-01"}, "end"),
        ("/v2/usage", {"period": "24h", "group_by": "day"}, "group_by"),
        ("/v2/usage/detail", {"period": "24h", "group_by": "week"}, "group_by"),
        ("/v2/usage/detail", {"period": "24h", "group_by": "day", "tz": "+05:00"}, "tz"),
        ("/v2/usage/detail", {"period": "24h", "group_by": "day", "tz": "europe/berlin"}, "tz"),
        ("/v2/logs", {"period": "24h", "status": "succeeded,failed"}, "status"),
        ("/v2/logs", {"period": "24h", "limit": "101"}, "limit"),
        ("/v2/logs", {"period": "24h", "offset": "-1"}, "offset"),
    ],
)
def test_usage_and_logs_reject_bad_windows_and_values(
    server: Server, path: str, params: dict[str, str], param: str
) -> None:
    key, _ = server.new_key(credits=1)
    error_of(get(server, path, key, params=params), 400, param=param)


@pytest.mark.parametrize("path", ["/v2/usage", "/v2/usage/detail", "/v2/logs"])
def test_who_may_report_on_which_key(server: Server, path: str) -> None:
    key, _ = server.new_key(credits=1)
    other, _ = server.new_key(credits=1)
    error_of(get(server, path, key, params={"period": "1h", "key_prefix": other[:8]}), 403)
    error_of(get(server, path, key, params={"period": "1h", "key_prefix": "nokey000"}), 403)
    error_of(get(server, path, params={"period": "1h"}), 400, param="key_prefix")
    error_of(get(server, path, params={"period": "1h", "key_prefix": "nokey000"}), 404)
    error_of(httpx2.get(f"{server.url}{path}", params={"period": "1h"}), 401)
    assert get(server, path, params={"period": "1h", "key_prefix": other[:8]}).status_code == 200


@needs_reference
def test_logs_rows_filters_and_pages(server: Server) -> None:
    key, _ = server.new_key(credits=10_000_000)
    for text in ("one", "two", "three"):
        chat(server, key, text)
    post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "FAIL"}]})
    other, _ = server.new_key(credits=10_000_000)
    chat(server, other)

    body = get(server, "/v2/logs", key, params={"period": "24h"}).json()
    conforms(body, reference_schema("GET", "/v2/logs"))
    assert [r["status"] for r in body["data"]] == ["failed", "succeeded", "succeeded", "succeeded"]
    assert body["pagination"] == {"limit": 50, "offset": 0, "total": 4, "has_more": False}
    failed, ok = body["data"][0], body["data"][1]
    assert failed["cost"] == {"usd": 0, "credits": 0}
    assert (ok["origin"], ok["model"]) == ("api", FAKE)
    assert ok["tokens"]["output"] > 0
    charges = get(server, "/v2/billing/transactions", key, params={"type": "MODEL_USAGE"}).json()["data"]
    assert [c["reference_id"] for c in charges] == [r["inference_id"] for r in body["data"][1:]]

    page = get(server, "/v2/logs", key, params={"period": "24h", "limit": 2, "offset": 1}).json()
    assert page["data"] == body["data"][1:3]
    assert page["pagination"] == {"limit": 2, "offset": 1, "total": 4, "has_more": True}
    only_failed = get(server, "/v2/logs", key, params={"period": "24h", "status": "failed"}).json()
    assert only_failed["data"] == [failed]
    both = get(server, "/v2/logs", key, params=[("period", "24h"), ("status", "failed"), ("status", "succeeded")])
    assert both.json()["pagination"]["total"] == 4
    assert get(server, "/v2/logs", key, params={"period": "24h", "model": f"{FAKE},x"}).json()["data"] == []
    assert get(server, "/v2/logs", key, params={"period": "24h", "model": FAKE}).json()["pagination"]["total"] == 4
    error_of(
        get(server, "/v2/logs", key, params=[("period", "24h")] + [("model", f"m{i}") for i in range(51)]),
        400,
        param="model",
    )


@needs_reference
def test_model_metrics_from_the_ledger(server: Server) -> None:
    empty = httpx2.get(f"{server.url}/models/metrics").json()
    assert (empty["window_seconds"], empty["models"]) == (300, [])
    key, _ = server.new_key(credits=10_000_000)
    for _ in range(3):
        chat(server, key)
    post(server, key, {"model": FAKE, "messages": [{"role": "user", "content": "FAIL"}]})
    body = httpx2.get(f"{server.url}/models/metrics").json()  # no key needed
    conforms(body, reference_schema("GET", "/models/metrics"))
    (entry,) = body["models"]
    assert (entry["alias"], entry["endpoint"]) == (FAKE, "/v1/chat/completions")
    assert "duration_ms" in entry["metrics"]
    assert set(entry["metrics"]) <= {"duration_ms", "tps"}  # tps when a request took a millisecond or more
    p = entry["metrics"]["duration_ms"]
    assert p["p50"] <= p["p75"] <= p["p90"] <= p["p99"]
    asked: list[tuple[str, str | int | float | bool | None]] = [("aliases", FAKE), ("aliases", "something/else")]
    assert httpx2.get(f"{server.url}/models/metrics", params=asked).json()["models"] == [entry]
    comma = httpx2.get(f"{server.url}/models/metrics", params={"aliases": f"{FAKE},x"}).json()
    assert comma["models"] == []
    error_of(httpx2.get(f"{server.url}/models/metrics", params={"model": FAKE}), 400, param="model")
    error_of(
        httpx2.get(f"{server.url}/models/metrics", params=[("aliases", str(i)) for i in range(101)]),
        400,
        param="aliases",
    )


def test_added_credits_carry_their_kind_and_reference(server: Server) -> None:
    key, account = server.new_key(credits=0)
    body = {"credits": 4_000_000, "type": "PAYMENT", "reference_id": "inv-7"}
    assert httpx2.post(f"{server.url}/v1/accounts/{account}/credits", json=body, headers=MK).status_code == 200
    (entry,) = get(server, "/v2/billing/transactions", key).json()["data"]
    assert (entry["type"], entry["reference_id"], entry["amount"]) == (
        "PAYMENT",
        "inv-7",
        {"usd": 2, "credits": 4_000_000},
    )
    bad = {"credits": 1, "type": "MODEL_USAGE"}
    error_of(httpx2.post(f"{server.url}/v1/accounts/{account}/credits", json=bad, headers=MK), 400, param="type")


def test_metrics_give_throughput_for_text_models_only() -> None:
    chat_spec = ModelSpec("c", "p", "c", Price(0, 0))
    image_spec = ModelSpec("i", "p", "i", Price(0, 0), type="image", endpoints=("/v1/images/generations",))
    samples = [LatencySample("c", ms, tokens) for ms, tokens in ((1000, 50), (500, 50), (2000, 0), (0, 9))]
    entry = _entry("c", chat_spec, samples)
    assert entry["metrics"]["tps"] == {"p50": 50.0, "p75": 100.0, "p90": 100.0, "p99": 100.0}
    assert entry["metrics"]["duration_ms"] == {"p50": 500.0, "p75": 1000.0, "p90": 2000.0, "p99": 2000.0}
    image = _entry("i", image_spec, [LatencySample("i", 4000, 0)])
    assert image == {
        "alias": "i",
        "endpoint": "/v1/images/generations",
        "metrics": {"duration_ms": dict.fromkeys(("p50", "p75", "p90", "p99"), 4000.0)},
    }
