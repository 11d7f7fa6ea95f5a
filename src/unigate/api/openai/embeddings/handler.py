"""``POST /v1/embeddings`` and its alias ``/embeddings``: parse, call the gateway, render.

The body is OpenAI's ``{"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
"model", "usage": {"prompt_tokens", "total_tokens"}}`` plus our ``meta.usage``. Keys need the
``model:embeddings`` scope.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from aiohttp import web

from unigate.accounts.scopes import EMBEDDINGS
from unigate.api.auth import require_key
from unigate.api.context import GATEWAY, STORE
from unigate.api.meta import meta
from unigate.api.openai.embeddings.schema import EmbeddingsRequest
from unigate.api.ratelimit_headers import admission_for
from unigate.api.requests import read_json, validate
from unigate.core.embeddings import EmbeddingResult
from unigate.core.gateway import Charge

__all__ = ["embeddings", "embeddings_body"]


async def embeddings(request: web.Request) -> web.Response:
    key = await require_key(request, request.app[STORE])
    wire = validate(EmbeddingsRequest, await read_json(request))
    result, charge = await request.app[GATEWAY].embed(
        wire.to_canonical(), key, scope=EMBEDDINGS, admission=admission_for(request)
    )
    body = embeddings_body(result, charge, encoding=wire.encoding_format)
    return web.Response(body=body, content_type="application/json")


def embeddings_body(result: EmbeddingResult, charge: Charge, *, encoding: str) -> bytes:
    vectors = result.vectors.astype("<f4", copy=False)
    data: list[dict[str, Any]] = []
    for index, row in enumerate(vectors):
        # A NumPy row is written by orjson itself (OPT_SERIALIZE_NUMPY), shortest float32 repr.
        embedding: Any = base64.b64encode(row.tobytes()).decode() if encoding == "base64" else row
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    prompt = result.usage.prompt_tokens
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": result.model,
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
            "meta": meta(charge),
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )
