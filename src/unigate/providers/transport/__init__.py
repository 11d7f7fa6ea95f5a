"""How requests reach upstream APIs: the ``Transport`` protocol (``base.py``) and its
implementations, ``h1`` (the default), ``proxy`` (behind an egress proxy) and ``mock`` (tests);
``factory.py`` picks one from the settings."""

from unigate.providers.transport.base import HttpFailure, Request, Response, Transport
from unigate.providers.transport.factory import build_transport

__all__ = ["HttpFailure", "Request", "Response", "Transport", "build_transport"]
