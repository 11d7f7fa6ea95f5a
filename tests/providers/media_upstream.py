"""What the tests of the OpenAI-shaped media adapters share: an adapter over a ``MockTransport``
at the provider's real base URL, media model specs, and a reader of the multipart bodies sent."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from tests.providers.emulators import UPSTREAM_KEY, fixture_json, provider_config
from unigate.catalog.spec import ModelSpec, Price
from unigate.providers.http import Upstream
from unigate.providers.openai_compat import parse_error
from unigate.providers.openai_media.adapter import MediaAdapter
from unigate.providers.transport.base import Request
from unigate.providers.transport.mock import Handler, MockResponse, MockTransport

A = TypeVar("A", bound=MediaAdapter)

BEARER = f"Bearer {UPSTREAM_KEY}"


def media_spec(provider: str, model_id: str, upstream_model: str, kind: str = "image") -> ModelSpec:
    return ModelSpec(id=model_id, provider=provider, upstream_model=upstream_model, price=Price(0, 0), type=kind)


async def open_adapter(cls: type[A], provider: str, base_url: str, handler: Handler) -> tuple[A, MockTransport]:
    """``cls`` over a started ``Upstream`` whose transport answers with ``handler``."""
    transport = MockTransport(handler)
    adapter = cls(Upstream(provider_config(provider, base_url), parse_error=parse_error, transport=transport))
    await adapter.start()
    return adapter, transport


def replay(name: str, *, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    """A handler answering every request with the recorded JSON ``name``."""
    payload = fixture_json(name)
    return lambda request: MockResponse.json(payload, status=status, headers=headers)


def json_body(request: Request) -> Any:
    assert request.headers["Content-Type"] == "application/json"
    return orjson.loads(request.body)


def b64_image(name: str, index: int = 0) -> bytes:
    """The bytes of the ``index``-th inline image of fixture ``name``."""
    encoded = fixture_json(name)["data"][index]["b64_json"]
    return base64.b64decode(encoded.partition(",")[2] if encoded.startswith("data:") else encoded)


@dataclass(frozen=True)
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode()


def form_parts(request: Request) -> list[Part]:
    """The parts of a ``multipart/form-data`` body, in order (RFC 7578, as simply as it is sent)."""
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.partition("boundary=")[2].encode()
    body = request.body
    assert body.endswith(b"--" + boundary + b"--\r\n")
    parts = []
    for chunk in body.split(b"--" + boundary)[1:-1]:
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        disposition = dict(
            item.strip().split("=", 1) for item in headers["Content-Disposition"].split(";")[1:] if "=" in item
        )
        filename = disposition.get("filename")
        parts.append(
            Part(
                name=disposition["name"].strip('"'),
                data=data.removesuffix(b"\r\n"),
                filename=filename.strip('"') if filename else None,
                content_type=headers.get("Content-Type"),
            )
        )
    return parts


def fields_of(parts: list[Part]) -> dict[str, list[str]]:
    """The text fields by name (a repeated name lists every value)."""
    fields: dict[str, list[str]] = {}
    for part in parts:
        if part.filename is None:
            fields.setdefault(part.name, []).append(part.text)
    return fields
