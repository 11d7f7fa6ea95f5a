"""The console's forms bound their amounts and ids as the key endpoints bound theirs: an amount
past them, or infinite, is a form error (400 on the page), never an overflow in the store (500).
Found by the fuzz test (``tests/api/test_fuzz.py``)."""

from __future__ import annotations

import pytest

from tests.console.conftest import Console
from tests.serving import Server


@pytest.mark.parametrize(
    ("path", "form", "says"),
    [
        ("/console/keys", {"credits_usd": "1e308"}, "Credits can be at most"),
        ("/console/keys", {"credits_usd": "inf"}, "Credits can be at most"),
        ("/console/keys", {"rpm": "18446744073709551615"}, "Requests per minute can be at most"),
        ("/console/keys", {"account_id": "18446744073709551616"}, "The account can be at most"),
        ("/console/keys/{prefix}/limits", {"limit_usd": "1e308"}, "The spending limit can be at most"),
        ("/console/keys/{prefix}/limits", {"tpm": "99999999999"}, "Tokens per minute can be at most"),
        ("/console/accounts/{account}/credits", {"credits_usd": "1e300"}, "Credits can be at most"),
        ("/console/accounts/99999999999999999999/credits", {"credits_usd": "1"}, "There is no account"),
    ],
)
def test_console_amounts_past_their_bounds_are_form_errors(
    admin: Console, server: Server, path: str, form: dict[str, str], says: str
) -> None:
    key, account = server.new_key(credits=100)
    r = admin.post_form(path.format(prefix=key[:8], account=account), form)
    assert r.status_code == 400, r.text[:300]
    assert says in r.text
    assert server.balance(account) == 100


def test_a_usage_period_in_other_digits_is_the_default(admin: Console) -> None:
    assert admin.http.get("/console/usage", params={"days": "²"}).status_code == 200
