"""The Usage page (balance, charts, latency and errors by model, the filtered table) and its CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import httpx2

from tests.console.conftest import Console
from tests.serving import Server


def _traffic(server: Server, key: str, prompts: list[str]) -> None:
    for prompt in prompts:
        httpx2.post(
            f"{server.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "fake/echo", "messages": [{"role": "user", "content": prompt}], "max_tokens": 8},
        )


def _bar(html: str, chart: str, key: str) -> int:
    svg = html[html.index(f'data-chart="{chart}"') :]
    svg = svg[: svg.index("</svg>")]
    found = re.search(rf'data-key="{re.escape(key)}" data-value="(\d+)"', svg)
    assert found is not None, svg[:800]
    return int(found.group(1))


def test_usage_shows_balance_charts_latency_and_rows(admin: Console, server: Server) -> None:
    key, account = server.new_key(credits=1_000_000)
    _traffic(server, key, ["a b c", "d e", "FAIL"])
    rows = server.usage_rows(account)
    spent = sum(r[3] for r in rows)
    page = admin.http.get(f"/console/usage?key={key[:8]}")
    assert page.status_code == 200
    html = page.text
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert _bar(html, "credits-by-day", today) == spent
    assert _bar(html, "credits-by-model", "fake/echo") == spent
    assert f"{server.balance(account):,}" in html
    assert "33.3%" in html  # one error in three requests
    table = html[html.index('id="requests-table"') :]
    assert table.count("<tr data-id=") == 3
    assert "fake/echo" in table
    assert ">error</span>" in table


def test_filters_and_paging(admin: Console, server: Server) -> None:
    key, _ = server.new_key(credits=1_000_000)
    _traffic(server, key, ["x"] * 3 + ["FAIL"])
    html = admin.http.get("/console/usage?status=error").text
    assert html[html.index('id="requests-table"') :].count("<tr data-id=") == 1
    html = admin.http.get("/console/usage?model=other/model").text
    assert "No requests match." in html
    assert admin.http.get("/console/usage?key=zzzzzzzz").status_code == 404


def test_an_api_key_session_sees_only_its_key(console: Console, server: Server) -> None:
    mine, _ = server.new_key(credits=1_000_000)
    theirs, _ = server.new_key(credits=1_000_000)
    _traffic(server, mine, ["mine"])
    _traffic(server, theirs, ["theirs", "theirs"])
    console.sign_in(mine)
    html = console.http.get("/console/usage?key=" + theirs[:8]).text  # ignored: not a management session
    table = html[html.index('id="requests-table"') :]
    assert table.count("<tr data-id=") == 1
    assert theirs[:8] not in html


def test_csv_export(admin: Console, server: Server) -> None:
    key, account = server.new_key(credits=1_000_000)
    _traffic(server, key, ["one two", "three", "FAIL"])
    r = admin.http.get(f"/console/usage.csv?days=30&key={key[:8]}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["status"] for row in rows] == ["error", "ok", "ok"]
    assert {row["key_prefix"] for row in rows} == {key[:8]}
    ledger = server.usage_rows(account)
    assert sum(int(row["credits_used"]) for row in rows) == sum(r[3] for r in ledger)
    assert rows[1]["total_tokens"] == str(int(rows[1]["prompt_tokens"]) + int(rows[1]["completion_tokens"]))
    ok_only = list(csv.DictReader(io.StringIO(admin.http.get("/console/usage.csv?status=ok").text)))
    assert len(ok_only) == 2
    assert admin.http.get("/console/usage.csv", headers={}).status_code == 200
    signed_out = httpx2.get(f"{server.url}/console/usage.csv", follow_redirects=False)
    assert signed_out.status_code == 303


def test_the_table_pages_by_id(admin: Console, server: Server) -> None:
    key, _ = server.new_key(credits=10_000_000)
    _traffic(server, key, [f"request {i}" for i in range(53)])
    html = admin.http.get("/console/usage?status=ok").text
    first = re.findall(r'<tr data-id="(\d+)"', html)
    assert len(first) == 50
    older = re.search(r'<a id="older" href="([^"]+)"', html)
    assert older is not None
    html = admin.http.get(older.group(1).replace("&amp;", "&")).text
    rest = re.findall(r'<tr data-id="(\d+)"', html)
    assert len(rest) == 3
    assert max(map(int, rest)) < min(map(int, first))
    assert 'id="older"' not in html
