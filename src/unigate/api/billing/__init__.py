"""What an API key may ask about its money: balances (``/v1/billing/balance``, ``/v2/billing*``),
its account's ledger (``/v2/billing/transactions``), its spend (``/v2/usage*``), its request rows
(``/v2/logs``) and the usage ledger (``/v1/usage``)."""
