"""What operators see of a running gateway: Prometheus metrics (``metrics.py``), one structured
log line per request with its id (``logging.py``, ``http.py``), and the per-request record the
gateway fills in as a request goes through it (``events.py``)."""
