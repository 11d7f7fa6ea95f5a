"""Anthropic's token counting, ``POST {base_url}/v1/messages/count_tokens``
(https://docs.anthropic.com/en/api/messages-count-tokens), asked for the request this adapter
would send for a chat request: the same Messages body (``request.py``: a Messages API client's
own body with the upstream's model id, else the one built from the canonical request, with the
signed thinking blocks this server keeps for a tool loop) and the client's ``anthropic-beta``,
less the fields that only creating a message takes, which the counting endpoint does not accept.
So the count is that of what ``/v1/messages`` would send Claude, exact, and free (Anthropic does
not bill it).

An upstream that speaks the Messages API without this endpoint (an Anthropic-compatible server,
``kind = "anthropic"``) answers 404: the count is then ``None``, and the gateway answers its
estimate instead of an error.
"""

from __future__ import annotations

from collections.abc import Mapping

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest
from unigate.errors import UpstreamError
from unigate.providers.anthropic.request import request_body
from unigate.providers.anthropic.response import Blocks
from unigate.providers.http import Upstream
from unigate.providers.replay import ReplayCache

__all__ = ["CREATE_ONLY", "count_tokens"]

CREATE_ONLY = frozenset(
    {
        "max_tokens",
        "stream",
        "stop_sequences",
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "service_tier",
        "inference_geo",
        "container",
    }
)
"""Fields of Anthropic's create-message parameters that its count-tokens parameters lack (the
``anthropic`` SDK's ``MessageCreateParams`` and ``MessageCountTokensParams``)."""


async def count_tokens(
    upstream: Upstream,
    url: str,
    headers: Mapping[str, str],
    request: ChatRequest,
    model: ModelSpec,
    *,
    replay: ReplayCache[Blocks],
) -> int | None:
    """The upstream's ``input_tokens`` for ``request`` on ``model``; ``None`` when it has no
    counting endpoint (404). Other failures raise their typed errors (``http.py``)."""
    body = request_body(request, model, stream=False, replay=replay)
    body = {name: value for name, value in body.items() if name not in CREATE_ONLY}
    try:
        data = await upstream.post_json(url, headers=headers, body=body)
    except UpstreamError as exc:
        if exc.code == "upstream_not_found":
            return None
        raise
    tokens = data.get("input_tokens") if isinstance(data, dict) else None
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
        raise UpstreamError(f"The {upstream.config.name} provider answered a token count without input_tokens.")
    return tokens
