"""Log records as JSON lines (the default) or plain text, each with the id of the request it
happened in.

``unigate serve --log-format json|text --log-level LEVEL`` sets this up. At the default level,
``warning``, the server is quiet: only problems are logged, each with its ``request_id``. At
``info`` the access log (``http.py``) adds one line per request::

    {"ts":"2026-11-02T10:00:00.123Z","level":"info","logger":"unigate.access","msg":"request",
     "request_id":"6f1c...","method":"POST","path":"/v1/chat/completions","route":"/v1/chat/completions",
     "status":200,"latency_ms":412.7,"key_prefix":"a1b2c3d4","model":"HuggingFaceTB/SmolLM2-135M-Instruct",
     "prompt_tokens":12,"completion_tokens":30,"credits":15}

No line ever holds a key: requests are named by their key's 8-character prefix, and headers and
bodies are not logged. Prompt text is logged only with ``UNIGATE_LOG_PROMPTS=1``.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson

from unigate.observability.events import CURRENT

__all__ = ["FIELDS", "JsonFormatter", "LogFormat", "TextFormatter", "configure_logging"]

LogFormat = Literal["json", "text"]

FIELDS = "fields"
"""The ``extra`` key under which a record carries structured fields: ``log.info("request",
extra={FIELDS: {...}})``."""


def _request_id(record: logging.LogRecord) -> str | None:
    current = CURRENT.get()
    return current.request_id if current is not None else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, structured fields,
    and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = _request_id(record)
        if request_id is not None:
            out["request_id"] = request_id
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ... request_id=...``, for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict) and fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items() if k != "prompt")
            if "prompt" in fields:
                line += " prompt=" + orjson.dumps(fields["prompt"]).decode()
        request_id = _request_id(record)
        if request_id is not None:
            line += f" request_id={request_id}"
        return line


def configure_logging(*, level: str = "warning", fmt: LogFormat = "json", stream: TextIO | None = None) -> None:
    """Send every ``unigate`` (and aiohttp) record at ``level`` or above to ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
