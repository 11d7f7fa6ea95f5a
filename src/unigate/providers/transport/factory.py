"""Which transport the upstream adapters get, from the settings and the proxy variables.

``UNIGATE_UPSTREAM_TRANSPORT`` (``Settings.upstream_transport``):

- ``auto`` (the default): ``proxy`` when ``HTTPS_PROXY``, ``HTTP_PROXY`` or ``ALL_PROXY`` is set
  (in either case), else ``h1``; an operator behind an egress proxy needs nothing more;
- ``h1``: the keep-alive HTTP/1.1 transport, always direct, whatever the proxy variables say;
- ``proxy``: the aiohttp transport, through the proxies the variables name (directly where none
  is named, or ``NO_PROXY`` says so).

Each adapter gets a transport of its own (``build_transport`` once per adapter), as each
deployment has had a connection pool of its own: the adapter closes it when it closes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from unigate.providers.transport.base import Transport
from unigate.providers.transport.h1 import H1Transport
from unigate.providers.transport.proxy import Proxies, ProxyTransport
from unigate.settings import Settings, UpstreamTransport

__all__ = ["PROXY_VARIABLES", "build_transport", "chosen_transport", "fetch_proxies"]

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")


def chosen_transport(setting: UpstreamTransport, env: Mapping[str, str]) -> Literal["h1", "proxy"]:
    """What ``setting`` means with the environment ``env``."""
    if setting != "auto":
        return setting
    proxied = any(env.get(name, "").strip() or env.get(name.lower(), "").strip() for name in PROXY_VARIABLES)
    return "proxy" if proxied else "h1"


def build_transport(settings: Settings | None = None, *, env: Mapping[str, str] | None = None) -> Transport:
    """A new transport for one adapter: the settings' choice with their proxy variables
    (``Settings.proxy_env``), or ``env``'s. An adapter built without settings (a test, a script)
    gets ``auto`` with the process environment's."""
    if env is None:
        env = settings.proxy_env if settings is not None else os.environ
    setting: UpstreamTransport = settings.upstream_transport if settings is not None else "auto"
    if chosen_transport(setting, env) == "proxy":
        return ProxyTransport(Proxies.from_env(env))
    return H1Transport()


def fetch_proxies(settings: Settings, *, env: Mapping[str, str] | None = None) -> Proxies | None:
    """The proxies the SSRF-safe fetcher may use: ``None`` (connect directly, pinned to the vetted
    address) unless ``Settings.fetch_via_proxy``; ``providers/fetch.py`` says why."""
    if not settings.fetch_via_proxy:
        return None
    return Proxies.from_env(settings.proxy_env if env is None else env)
