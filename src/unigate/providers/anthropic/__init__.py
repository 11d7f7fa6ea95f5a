"""Anthropic's Messages API, natively (``POST {base_url}/v1/messages``).

https://docs.anthropic.com/en/api/messages, https://docs.anthropic.com/en/api/messages-streaming

``request.py`` builds the Messages request and refuses what Claude cannot honour, ``response.py``
reads a ``message`` and ``stream.py`` a stream of events, ``errors.py`` reads error bodies,
``count.py`` asks the counting endpoint, and ``provider.py`` is the adapter that keeps signed
thinking blocks between the turns of a tool loop.
"""

from unigate.providers.anthropic.errors import ERROR_STATUS, parse_error
from unigate.providers.anthropic.provider import API_VERSION, AnthropicProvider
from unigate.providers.anthropic.request import request_body, thinking_budget
from unigate.providers.anthropic.response import STOP_REASONS, parse_message
from unigate.providers.anthropic.stream import EventDecoder

__all__ = [
    "API_VERSION",
    "ERROR_STATUS",
    "STOP_REASONS",
    "AnthropicProvider",
    "EventDecoder",
    "parse_error",
    "parse_message",
    "request_body",
    "thinking_budget",
]
