"""The service's catalogue endpoints beyond the listing itself: its filters and optional sections
(``filters.py``) and the latency of the models this gateway served (``metrics.py``)."""
