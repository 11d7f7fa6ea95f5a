"""The catalog endpoints: ``GET /models`` (the item shape of the seeds' docs, page 'Complete Model
List'; no key needed), ``GET /v1/models`` (OpenAI's list shape, what the SDKs' ``models.list()``
reads: the models the caller can use) and ``GET /v1/models/{id}`` (one of them).

A model is *available* when this server can serve it now: it is not retired, it has an endpoint
here (chat, embeddings, and every media type: images, speech, transcription, OCR, and the video,
music and 3D jobs), and its provider is configured (or embedded) and declares that modality.
``/v1/models`` needs no key, as the service's ``/models``; a key that is sent is checked (401 if
wrong: clients list models to check a key, ``unigate doctor`` among them) and, if it has scopes,
only the models those scopes can call are listed.

With an ``anthropic-version`` header (what the ``anthropic`` SDKs and Claude Code send), the chat
models (what the Messages API calls) come in Anthropic's shape (``{"data": [{"type": "model", "id",
"display_name", "created_at"}], "has_more", "first_id", "last_id"}``), one page holding them all,
and a key may come in ``x-api-key``.

The list bodies depend only on the catalog and on what can be served, so each is rendered once
per (catalog, servable set) and the bytes are reused: the catalog has ~640 models and
``/models`` is public.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

import orjson
from aiohttp import web

from unigate.accounts import scopes
from unigate.api.anthropic.messages import require_anthropic_key
from unigate.api.auth import require_key
from unigate.api.catalog.filters import asks_catalogue, catalogue_response, service_entry
from unigate.api.context import GATEWAY, STORE
from unigate.catalog.catalog import Catalog
from unigate.catalog.spec import ModelSpec
from unigate.core import job_flow, media_flow
from unigate.core.jobs import JobKind
from unigate.core.services import Modality, Services
from unigate.errors import ModelNotFound

__all__ = ["Servable", "available", "get_model_openai", "list_models", "list_models_openai", "model_item", "servable"]

_CREATED = 1_735_689_600  # 2025-01-01: the catalog has no per-model release dates
_CREATED_AT = "2025-01-01T00:00:00Z"  # the same, as Anthropic writes it

_MODALITY_OF_TYPE: dict[str, Modality] = {"chat-completion": Modality.CHAT, "embedding": Modality.EMBEDDINGS} | {
    kind: modality for modality, (kinds, _) in media_flow.TYPES.items() for kind in kinds
}
"""The catalog types that have an endpoint here, and the modality a provider declares to serve
them: the media ones as the media flow checks them (``core/media_flow.py``)."""

_SCOPES_OF_MODALITY: dict[Modality, tuple[scopes.Scope, ...]] = {
    Modality.CHAT: (scopes.CHAT, scopes.RESPONSES),
    Modality.EMBEDDINGS: (scopes.EMBEDDINGS,),
    Modality.IMAGES: (scopes.IMAGE,),
    Modality.SPEECH: (scopes.SPEECH,),
    Modality.TRANSCRIPTION: (scopes.AUDIO,),
    Modality.OCR: (scopes.OCR,),
} | {job_flow.MODALITY[kind]: (job_flow.SCOPE[kind],) for kind in JobKind}
"""The scopes, any of which lets a key call a model of that modality (the jobs' as the job flow
authorizes them: video, and music under audio, 3D under image)."""

Servable = frozenset[tuple[Modality, str]]
"""(modality, provider) pairs this server can serve now."""

_Key = tuple[str, Servable]
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


def servable(services: Services, allowed: tuple[str, ...] = ()) -> Servable:
    """What this server can serve now, for a key with the scopes ``allowed`` (none: everything)."""
    return frozenset(
        (modality, name)
        for modality, needs in _SCOPES_OF_MODALITY.items()
        if any(scopes.allows(allowed, scope) for scope in needs)
        for name in services.serving(modality)
    )


def available(spec: ModelSpec, serving: Servable) -> bool:
    """Whether ``spec`` can be called now, given what is ``serving``."""
    modality = _MODALITY_OF_TYPE.get(spec.type)
    callable_ = not spec.deprecated and not spec.unavailable
    return callable_ and modality is not None and (modality, spec.provider) in serving


def _openai_item(spec: ModelSpec) -> dict[str, Any]:
    return {"id": spec.id, "object": "model", "created": _CREATED, "owned_by": spec.developer or spec.provider}


def _anthropic_item(spec: ModelSpec) -> dict[str, Any]:
    return {"type": "model", "id": spec.id, "display_name": spec.name or spec.id, "created_at": _CREATED_AT}


def _anthropic_page(items: list[dict[str, Any]]) -> dict[str, Any]:
    first, last = (items[0]["id"], items[-1]["id"]) if items else (None, None)
    return {"data": items, "has_more": False, "first_id": first, "last_id": last}


def _render(catalog: Catalog, kind: str, serving: Servable) -> bytes:
    by_state = _rendered.setdefault(catalog, {})
    key = (kind, serving)
    body = by_state.get(key)
    if body is None:
        if kind == "models":
            body = orjson.dumps([model_item(s, available=available(s, serving)) for s in catalog])
        elif kind == "anthropic":
            chat = [s for s in catalog if s.type == "chat-completion" and available(s, serving)]
            body = orjson.dumps(_anthropic_page([_anthropic_item(s) for s in chat]))
        else:
            data = [_openai_item(s) for s in catalog if available(s, serving)]
            body = orjson.dumps({"object": "list", "data": data})
        by_state[key] = body
    return body


async def _caller_scopes(request: web.Request) -> tuple[str, ...]:
    """The scopes of the key sent, if one was (checked: a wrong key is 401); none: everything."""
    if "x-api-key" in request.headers:
        return (await require_anthropic_key(request)).scopes
    if "Authorization" not in request.headers:
        return ()
    key = await require_key(request, request.app[STORE])
    return key.scopes


def _anthropic(request: web.Request) -> bool:
    return "anthropic-version" in request.headers


async def list_models(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    if asks_catalogue(request.query):  # the service catalogue's filters and sections: api/catalog/filters.py
        serving = servable(gateway.services)
        return catalogue_response(
            request.query, gateway.catalog, lambda s: model_item(s, available=available(s, serving)), listed=False
        )
    body = _render(gateway.catalog, "models", servable(gateway.services))
    return web.Response(body=body, content_type="application/json")


async def list_models_openai(request: web.Request) -> web.Response:
    """``GET /v1/models``."""
    allowed = await _caller_scopes(request)
    gateway = request.app[GATEWAY]
    if asks_catalogue(request.query):  # the service documents its filters here too: api/catalog/filters.py
        serving = servable(gateway.services, allowed)
        usable = [s for s in gateway.catalog if available(s, serving)]
        return catalogue_response(request.query, usable, lambda s: {**_openai_item(s), **service_entry(s)}, listed=True)
    kind = "anthropic" if _anthropic(request) else "openai"
    body = _render(gateway.catalog, kind, servable(gateway.services, allowed))
    return web.Response(body=body, content_type="application/json")


async def get_model_openai(request: web.Request) -> web.Response:
    """``GET /v1/models/{id}``: one model the caller can use, by id or alias (answered with its id)."""
    allowed = await _caller_scopes(request)
    gateway = request.app[GATEWAY]
    name = request.match_info["id"]
    spec = gateway.catalog.resolve(name)
    if not available(spec, servable(gateway.services, allowed)):
        raise ModelNotFound(
            f"The model {name!r} is not available to you on this server. GET /v1/models lists those that are.",
            param="model",
        )
    item = _anthropic_item(spec) if _anthropic(request) else _openai_item(spec)
    return web.Response(body=orjson.dumps(item), content_type="application/json")
