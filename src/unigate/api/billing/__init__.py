"""What an API key may ask about its money: balances (``/v1/billing/balance``, ``/v2/billing*``)
and the usage ledger (``/v1/usage``)."""
