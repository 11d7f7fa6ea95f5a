"""OpenAI's Responses API as an upstream, for the models OpenAI serves only there (o3-pro, the
GPT-5 ``-pro`` and ``-codex`` models: ``upstream_api = "responses"`` in the catalog).

https://platform.openai.com/docs/api-reference/responses

* ``request.py``: the canonical request as a Responses request (``input`` items, ``store: false``);
* ``response.py``: a ``response`` object as the canonical result;
* ``stream.py``: the semantic stream events as canonical stream events;
* ``api.py``: ``ResponsesApi``, which the OpenAI-compatible provider calls for those models,
  through its own ``Upstream``.
"""

from unigate.providers.openai_responses.api import ResponsesApi
from unigate.providers.openai_responses.request import check_request, request_body
from unigate.providers.openai_responses.response import parse_response
from unigate.providers.openai_responses.stream import EventDecoder

__all__ = ["EventDecoder", "ResponsesApi", "check_request", "parse_response", "request_body"]
