"""The OpenAPI 3.1 document of a running app, built from its router: every route is looked up in
``operations.py`` and one without a description is an error, so a new endpoint cannot be served
undocumented. The console (a sub-application of HTML pages) and ``HEAD`` (answered by every
``GET``) are left out."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson
from aiohttp import web

from unigate.api.anthropic.errors import is_anthropic_path
from unigate.api.openapi.operations import JSON, OPERATIONS, SSE, Operation
from unigate.api.openapi.page import docs_page
from unigate.api.openapi.schemas import components, ref

__all__ = ["UndescribedRoute", "add_reference_routes", "build_document", "openapi_json", "routes_of"]

_PARAM = re.compile(r"{([^}:]+)}")


class UndescribedRoute(LookupError):
    """A route that ``operations.py`` does not describe."""


def routes_of(router: web.UrlDispatcher) -> list[tuple[str, str]]:
    """``(method, path)`` of every API route, in the router's order."""
    found: list[tuple[str, str]] = []
    for resource in router.resources():
        if isinstance(resource, web.PrefixedSubAppResource | web.StaticResource):
            continue
        for route in resource:
            if route.method != "HEAD":
                found.append((route.method, resource.canonical))
    return found


def _operation(method: str, path: str) -> Operation:
    op = OPERATIONS.get((method, path)) or OPERATIONS.get((method, "/v1" + path))
    if op is None:
        raise UndescribedRoute(f"{method} {path} has no description in api/openapi/operations.py")
    return op


def _error(path: str) -> dict[str, Any]:
    schema = ref("AnthropicError" if is_anthropic_path(path) else "Error")
    return {"description": "An error (errors.py).", "content": {JSON: {"schema": schema}}}


def _answer(op: Operation) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for kind in op.answer_types:
        content[kind] = {"schema": ref(op.answer) if kind == JSON and op.answer else {}}
    if op.streams:
        content[SSE] = {"schema": {"type": "string", "description": "Server-sent events (stream: true)."}}
    return {"description": op.summary, "content": content}


def _body(op: Operation) -> dict[str, Any]:
    return {"required": True, "content": {kind: {"schema": ref(op.body)} for kind in op.body_types}}


def _described(method: str, path: str, op: Operation) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in _PARAM.findall(path)
    ]
    for q in op.query:
        schema: dict[str, Any] = {"type": "array", "items": {"type": "string"}} if q.repeated else {"type": "string"}
        params.append(
            {"name": q.name, "in": "query", "required": False, "description": q.description, "schema": schema}
        )
    out: dict[str, Any] = {
        "operationId": f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path).rstrip('_')}",
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": params,
        "responses": {str(op.status): _answer(op), "4XX": _error(path), "5XX": _error(path)},
    }
    if op.description:
        out["description"] = op.description
    if op.body:
        out["requestBody"] = _body(op)
    if not op.auth:
        out["security"] = []
    return out


def _version() -> str:
    try:
        return version("unigate")
    except PackageNotFoundError:  # run from a source tree
        return "0"


def build_document(router: web.UrlDispatcher) -> dict[str, Any]:
    """The document of every route of ``router``; raises ``UndescribedRoute`` for one it lacks."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path in routes_of(router):
        paths.setdefault(path, {})[method.lower()] = _described(method, path, _operation(method, path))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "unigate",
            "version": _version(),
            "description": "One OpenAI-compatible API in front of many models, with keys and credit metering.",
        },
        "components": {
            "schemas": components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key."}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


_DOCUMENT = web.AppKey("openapi_document", dict[str, bytes])
"""Built on the first request, from the router as it stands when the app serves (the app's state
is frozen by then, so a holder set when the routes are added keeps it)."""


async def openapi_json(request: web.Request) -> web.Response:
    held = request.app[_DOCUMENT]
    if "json" not in held:
        held["json"] = orjson.dumps(build_document(request.app.router))
    return web.Response(body=held["json"], content_type=JSON)


def add_reference_routes(app: web.Application) -> None:
    """``GET /openapi.json`` and ``GET /docs``."""
    app[_DOCUMENT] = {}
    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/docs", docs_page)
