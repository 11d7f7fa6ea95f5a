"""Typed keys under which the application keeps its long-lived objects."""

from __future__ import annotations

from aiohttp import web

from unigate.accounts.keycache import KeyCache
from unigate.accounts.store import Store
from unigate.core.cache_flow import CachedChat
from unigate.core.gateway import Gateway
from unigate.core.job_flow import JobGateway
from unigate.core.media_flow import MediaGateway
from unigate.core.response_flow import ResponseGateway
from unigate.settings import Settings

__all__ = ["CACHE", "GATEWAY", "JOBS", "KEYS", "MEDIA", "RESPONSES", "SETTINGS", "STORE"]

GATEWAY = web.AppKey("gateway", Gateway)
CACHE = web.AppKey("cache", CachedChat)
"""The gateway with the response cache in front (``core/cache_flow.py``); absent when it is off."""
STORE = web.AppKey("store", Store)
SETTINGS = web.AppKey("settings", Settings)
MEDIA = web.AppKey("media", MediaGateway)
"""The media flow (images, speech, transcription, OCR) with the media store and downloader."""
JOBS = web.AppKey("jobs", JobGateway)
"""Generation jobs (video, music, 3D): their rows, the create flow and the settlement."""
RESPONSES = web.AppKey("responses", ResponseGateway)
"""Stored responses of ``/v1/responses``: chains, background runs, reads, cancels, deletes."""
KEYS = web.AppKey("keys", KeyCache)
"""API-key lookups for the chat path (cached when Redis shares invalidations) and key-change
announcements for the admin endpoints."""
