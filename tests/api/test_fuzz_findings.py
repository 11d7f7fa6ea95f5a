"""The bodies the fuzz test (``test_fuzz.py``) found answering 500, each now a 4xx that says why;
kept as plain cases so that they hold whatever seed the fuzz runs with. The console's are in
``tests/console/test_form_bounds.py``."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.serving import Server

PDF = "data:application/pdf;base64,JVBERi0xLjQK"


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        # A list or an object where a name is looked up in a table: unhashable.
        ("/v1/videos", {"model": "fake/video", "prompt": "a cat", "size": ["1280x720"]}, "size"),
        ("/v1/videos", {"model": "fake/video", "prompt": "a cat", "size": {"w": 1}}, "size"),
        (
            "/v1/ocr",
            {"model": "fake/ocr", "document": {"type": ["document_url"], "document_url": PDF}},
            "document.type",
        ),
        ("/v1/tts", {"model": "fake/speech", "text": "hi", "response_format": [[]]}, "response_format"),
    ],
)
def test_a_list_where_a_name_belongs_is_a_400(server: Server, path: str, body: dict[str, Any], param: str) -> None:
    key, account = server.new_key(credits=10**9)
    r = httpx2.post(f"{server.url}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param
    assert server.balance(account) == 10**9


@pytest.mark.parametrize("duration", [2**63 - 1, 2**64 - 1])
def test_a_length_no_balance_can_pay_for_is_a_402(server: Server, duration: int) -> None:
    """Its worst case is past the ledger's 64-bit integers: refused before the store is asked."""
    key, account = server.new_key(credits=10**9)
    r = httpx2.post(
        f"{server.url}/v2/generate/video/google/generation",
        json={"model": "fake/video", "prompt": "a cat", "duration": duration},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert r.status_code == 402, r.text
    assert "more than any balance can hold" in r.json()["error"]["message"]
    assert server.balance(account) == 10**9
    assert server.open_reservations() == 0


@pytest.mark.parametrize("account", ["18446744073709551616", "9223372036854775808", "²"])
def test_an_account_id_no_row_can_have_is_a_404(server: Server, account: str) -> None:
    headers = {"Authorization": "Bearer mk-test"}
    for method, path, body in (("POST", "/credits", {"credits": 1}), ("GET", "", None)):
        r = httpx2.request(method, f"{server.url}/v1/accounts/{account}{path}", json=body, headers=headers)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "account_not_found"
