"""Google's Gemini API, natively: ``models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse`` (https://ai.google.dev/api/generate-content).

``request.py`` builds the ``GenerateContentRequest``, ``response.py`` reads an answer and
``stream.py`` a streamed one, ``errors.py`` reads error bodies, and ``provider.py`` is the adapter
that fetches remote images and keeps thought signatures between the turns of a tool loop.
"""

from unigate.providers.gemini.errors import parse_error
from unigate.providers.gemini.provider import GeminiProvider
from unigate.providers.gemini.request import FILES_URI, SKIP_SIGNATURE, THINKING_BUDGETS, request_body
from unigate.providers.gemini.response import FINISH_REASONS, parse_response
from unigate.providers.gemini.stream import StreamDecoder

__all__ = [
    "FILES_URI",
    "FINISH_REASONS",
    "SKIP_SIGNATURE",
    "THINKING_BUDGETS",
    "GeminiProvider",
    "StreamDecoder",
    "parse_error",
    "parse_response",
    "request_body",
]
