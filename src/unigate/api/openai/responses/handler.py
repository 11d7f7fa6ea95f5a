"""``POST /v1/responses`` and its alias ``/responses``: the OpenAI Responses API on every chat model.

Parse (``schema.py``), follow the chain ``previous_response_id`` continues (``ResponseGateway``),
call the gateway with the ``model:responses`` scope, render (``render.py``), and keep the response
unless ``store`` is false. A background response is recorded and answered ``queued`` at once, and
runs on its own (``core/response_flow.py``).

A response is stored once answered: a stream is stored when it ends (completed, incomplete or
failed), not when its client leaves before. A store that fails then does not fail a request
whose answer exists and is charged: the answer goes out, unstored, and the failure is logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import orjson
from aiohttp import web

from unigate.accounts.scopes import RESPONSES as SCOPE
from unigate.api.auth import require_key
from unigate.api.context import GATEWAY, RESPONSES, STORE
from unigate.api.openai.responses.render import ResponseStream, new_response_id, pending_response, response_object
from unigate.api.openai.responses.schema import ResponsesRequest, split_input
from unigate.api.openai.responses.stored import context_items, stored_object
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json, validate
from unigate.api.streaming import send_stream
from unigate.core.gateway import Charge
from unigate.core.response_flow import ResponseGateway
from unigate.core.responses import StoredResponse
from unigate.core.results import ChatResult

__all__ = ["responses"]

log = logging.getLogger("unigate.api")


async def responses(request: web.Request) -> web.StreamResponse:
    key = await require_key(request, request.app[STORE])
    body = await read_json(request)
    known, set_apart = split_input(body)
    wire = validate(ResponsesRequest, known)
    flow = request.app[RESPONSES]
    chain: list[StoredResponse] = []
    if wire.previous_response_id is not None:
        chain = await flow.chain(wire.previous_response_id, key, param="previous_response_id")
    context = context_items(chain)
    chat = wire.to_canonical(context, wire.extensions(body, set_apart))
    echo = wire.echo()
    response_id, created_at = new_response_id(), int(time.time())
    row = StoredResponse(
        id=response_id,
        account_id=key.account_id,
        key_id=key.id,
        model=chat.model,
        status="completed",
        input_items=wire.stored_input(context) if wire.stores else (),
        created=float(created_at),
        expires=flow.expiry(),
        previous_id=wire.previous_response_id,
    )
    gateway, admission = request.app[GATEWAY], admission_for(request)
    if wire.background:

        def render(result: ChatResult, charge: Charge) -> dict[str, Any]:
            return response_object(result, charge, echo=echo, response_id=response_id, created_at=created_at)

        queued = replace(row, body=pending_response(response_id, created_at, chat.model, echo))
        started = await flow.start(chat, key, queued, render=render, chain=chain, admission=admission)
        return web.json_response(stored_object(started), dumps=lambda v: orjson.dumps(v).decode())
    if not chat.stream:
        result, charge = await gateway.complete(chat, key, scope=SCOPE, admission=admission)
        body = response_object(result, charge, echo=echo, response_id=response_id, created_at=created_at)
        if wire.stores:
            await _keep(flow, row, body, chain)
        return web.Response(body=orjson.dumps(body), content_type="application/json")
    renderers: list[ResponseStream] = []

    def renderer(model: str | None) -> ResponseStream:
        renderers.append(ResponseStream(model=model or chat.model, echo=echo, response_id=response_id))
        return renderers[-1]

    response = await send_stream(request, gateway.stream(chat, key, scope=SCOPE, admission=admission), renderer)
    final = renderers[0].final if renderers else None
    if wire.stores and final is not None:
        await _keep(flow, row, final, chain)
    return response


async def _keep(flow: ResponseGateway, row: StoredResponse, body: dict[str, Any], chain: list[StoredResponse]) -> None:
    """Store the answered response (see the module for a store that fails)."""
    stored = replace(row, status=body["status"], body=body)
    try:
        await flow.record(stored, chain)
    except flow.gateway.store.failures as exc:
        log.warning("response %s was answered but could not be stored: %s", row.id, exc)
