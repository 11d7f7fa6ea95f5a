"""Typed keys under which the application keeps its long-lived objects."""

from __future__ import annotations

from aiohttp import web

from unigate.accounts.store import Store
from unigate.core.gateway import Gateway
from unigate.settings import Settings

__all__ = ["GATEWAY", "SETTINGS", "STORE"]

GATEWAY = web.AppKey("gateway", Gateway)
STORE = web.AppKey("store", Store)
SETTINGS = web.AppKey("settings", Settings)
