"""The catalog endpoints: ``GET /models`` (the seeds' item shape, no key needed, seed-survey §2.7)
and ``GET /v1/models`` (the OpenAI list shape)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from unigate.api.context import GATEWAY
from unigate.catalog.spec import ModelSpec

__all__ = ["list_models", "list_models_openai", "model_item"]

_CREATED = 1_735_689_600  # 2025-01-01: the catalog has no per-model release dates


def model_item(spec: ModelSpec, *, available: bool) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": spec.name or spec.id,
        "developer": spec.developer,
        "description": spec.description,
        "contextLength": spec.context_length,
        "maxTokens": spec.max_output,
        "url": spec.url,
        "docs_url": spec.docs_url,
    }
    return {
        "id": spec.id,
        "type": spec.type,
        "info": info,
        "features": list(spec.features),
        "endpoints": list(spec.endpoints),
        # unigate extensions: whether this gateway can serve the model now, and its aliases.
        "available": available,
        "aliases": list(spec.aliases),
        "deprecated": spec.deprecated,
    }


async def list_models(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    items = [model_item(s, available=s.provider in gateway.providers) for s in gateway.catalog]
    return web.Response(body=orjson.dumps(items), content_type="application/json")


async def list_models_openai(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    data = [
        {"id": s.id, "object": "model", "created": _CREATED, "owned_by": s.developer or s.provider}
        for s in gateway.catalog
        if s.provider in gateway.providers
    ]
    return web.Response(body=orjson.dumps({"object": "list", "data": data}), content_type="application/json")
