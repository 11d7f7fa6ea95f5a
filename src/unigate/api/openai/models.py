"""The catalog endpoints: ``GET /models`` (the item shape of the seeds' docs, page 'Complete Model
List'; no key needed) and ``GET /v1/models`` (the OpenAI list shape, only the models this server
can serve).

Both bodies depend only on the catalog and on which providers can serve, so each is rendered
once per (catalog, set of serving providers) and the bytes are reused: the catalog has ~640
models and ``/models`` is public.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

import orjson
from aiohttp import web

from unigate.api.context import GATEWAY
from unigate.catalog.catalog import Catalog
from unigate.catalog.spec import ModelSpec
from unigate.core.services import Modality, Services

__all__ = ["list_models", "list_models_openai", "model_item", "serving_providers"]

_CREATED = 1_735_689_600  # 2025-01-01: the catalog has no per-model release dates

_Key = tuple[str, frozenset[str]]
_rendered: WeakKeyDictionary[Catalog, dict[_Key, bytes]] = WeakKeyDictionary()


def model_item(spec: ModelSpec, *, available: bool) -> dict[str, Any]:
    """One ``/models`` item. ``info.contextLength`` / ``info.maxTokens`` are optional in the
    seeds and left out when unknown, as the seeds' image and video items do."""
    info: dict[str, Any] = {
        "name": spec.name or spec.id,
        "developer": spec.developer,
        "description": spec.description,
    }
    if spec.context_length is not None:
        info["contextLength"] = spec.context_length
    if spec.max_output is not None:
        info["maxTokens"] = spec.max_output
    info["url"] = spec.url
    info["docs_url"] = spec.docs_url
    return {
        "id": spec.id,
        "type": spec.type,
        "info": info,
        "features": list(spec.features),
        "endpoints": list(spec.endpoints),
        # unigate extensions: whether this server can serve the model now (its provider is
        # configured), the other ids that name it, and whether upstream retired it.
        "available": available,
        "aliases": list(spec.aliases),
        "deprecated": spec.deprecated,
    }


def serving_providers(services: Services) -> frozenset[str]:
    """Names of the providers that can serve now: those that serve chat and have their key or URL
    (the embedded embedding model, which serves only embeddings, is listed as not available)."""
    return services.serving(Modality.CHAT)


def _available(spec: ModelSpec, serving: frozenset[str]) -> bool:
    return not spec.deprecated and spec.provider in serving


def _render(catalog: Catalog, kind: str, serving: frozenset[str]) -> bytes:
    by_state = _rendered.setdefault(catalog, {})
    key = (kind, serving)
    body = by_state.get(key)
    if body is None:
        if kind == "models":
            body = orjson.dumps([model_item(s, available=_available(s, serving)) for s in catalog])
        else:
            data = [
                {"id": s.id, "object": "model", "created": _CREATED, "owned_by": s.developer or s.provider}
                for s in catalog
                if _available(s, serving)
            ]
            body = orjson.dumps({"object": "list", "data": data})
        by_state[key] = body
    return body


async def list_models(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    body = _render(gateway.catalog, "models", serving_providers(gateway.services))
    return web.Response(body=body, content_type="application/json")


async def list_models_openai(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    body = _render(gateway.catalog, "openai", serving_providers(gateway.services))
    return web.Response(body=body, content_type="application/json")
