"""The ``x-ratelimit-*`` headers on every response to a rate-limited key, as OpenAI sends them.

A handler asks ``admission_for`` for the ``Admission`` it hands to the gateway, which records its
decision there; when the response is prepared (a body, a stream's first bytes, or an error the
middleware renders after the request was admitted), this hook puts the decision's headers on it.
Refusals carry the headers on the error itself.
"""

from __future__ import annotations

from aiohttp import web

from unigate.limits.window import Admission, headers

__all__ = ["add_rate_limit_headers", "admission_for"]

_ADMISSION = web.RequestKey("admission", Admission)


def admission_for(request: web.Request) -> Admission:
    """A new ``Admission`` for the gateway call that serves ``request``."""
    admission = Admission()
    request[_ADMISSION] = admission
    return admission


async def add_rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    admission = request.get(_ADMISSION)
    if admission is not None and admission.decision is not None and admission.decision.allowed:
        response.headers.update(headers(admission.decision))
