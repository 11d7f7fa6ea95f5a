"""Typed keys under which the application keeps its long-lived objects."""

from __future__ import annotations

from aiohttp import web

from unigate.accounts.keycache import KeyCache
from unigate.accounts.store import Store
from unigate.core.gateway import Gateway
from unigate.settings import Settings

__all__ = ["GATEWAY", "KEYS", "SETTINGS", "STORE"]

GATEWAY = web.AppKey("gateway", Gateway)
STORE = web.AppKey("store", Store)
SETTINGS = web.AppKey("settings", Settings)
KEYS = web.AppKey("keys", KeyCache)
"""API-key lookups for the chat path (cached when Redis shares invalidations) and key-change
announcements for the admin endpoints."""
