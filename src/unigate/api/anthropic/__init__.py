"""Anthropic's Messages API (``POST /v1/messages``), inbound: wire schema and its translation to
the canonical request (``schema.py``), rendering (``render.py``), errors (``errors.py``), handler
(``messages.py``)."""
