"""``create_app(settings)``: settings -> the registry's providers -> a gateway -> an aiohttp app.

No endpoint logic lives here; handlers are in ``api/``, providers in ``providers/registry.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware

from unigate.accounts.services import AccountServices
from unigate.accounts.store import Store
from unigate.api.account_routes import add_account_routes
from unigate.api.anthropic.count_tokens import count_tokens
from unigate.api.anthropic.messages import messages
from unigate.api.cache_ask import add_cache_headers
from unigate.api.context import CACHE, GATEWAY, JOBS, KEYS, MEDIA, RESPONSES, SETTINGS, STORE
from unigate.api.errors import error_middleware
from unigate.api.jobs.render import job_body
from unigate.api.jobs.routes import add_job_routes
from unigate.api.media.files import add_file_routes
from unigate.api.media.routes import add_media_routes
from unigate.api.openai.chat.handler import chat_completions
from unigate.api.openai.completions.handler import completions
from unigate.api.openai.embeddings.handler import embeddings
from unigate.api.openai.models import get_model_openai, list_models, list_models_openai
from unigate.api.openai.responses.handler import responses
from unigate.api.openai.responses.stored import add_stored_routes
from unigate.api.openapi.document import add_reference_routes
from unigate.api.ratelimit_headers import add_rate_limit_headers
from unigate.catalog.catalog import Catalog
from unigate.catalog.spec import ModelSpec
from unigate.core.cache_flow import CachedChat, cache_policy
from unigate.core.embedder import Embedder
from unigate.core.files import Downloader, MediaStore
from unigate.core.gateway import Gateway
from unigate.core.job_flow import JobGateway
from unigate.core.job_poller import JobPoller
from unigate.core.jobs import Job, JobStore, Webhooks
from unigate.core.media_flow import MediaGateway
from unigate.core.provider import Provider
from unigate.core.response_flow import ResponseGateway
from unigate.core.response_keeper import ResponseKeeper
from unigate.core.services import Capabilities, Running
from unigate.observability import tracing
from unigate.observability.http import metrics_endpoint, observability_middleware, send_request_id
from unigate.providers.download import downloader_for
from unigate.providers.registry import build_providers
from unigate.providers.webhooks import webhooks_for
from unigate.settings import Settings
from unigate.storage.factory import job_store, response_cache, response_store, store_for
from unigate.storage.files.factory import media_store_for
from unigate.storage.files.sweeper import sweep_forever

__all__ = ["create_app"]

log = logging.getLogger("unigate")

ACCOUNTS = web.AppKey("accounts", AccountServices)


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    models: list[ModelSpec] | None = None,
    providers: Mapping[str, Provider] | None = None,
    embedders: Mapping[str, Embedder] | None = None,
    capabilities: Mapping[str, Capabilities] | None = None,
    jobs: JobStore | None = None,
    webhooks: Webhooks | None = None,
) -> web.Application:
    """The application: the providers ``settings`` ask for (``providers/registry.py``) behind one
    gateway. Tests inject doubles: ``models`` replaces the catalog, ``providers``, ``embedders``
    and ``capabilities`` stand in for the providers of the same names; ``jobs`` and ``webhooks``
    for the store's job rows and the webhook sender."""
    models, services = build_providers(settings, models=models)
    if providers or embedders or capabilities:
        services = services.replaced(chat=providers or {}, embeddings=embedders or {}, capabilities=capabilities)
    store = store or store_for(settings)
    accounts = AccountServices.from_settings(settings, store)
    gateway = Gateway(
        catalog=Catalog(models),
        services=services,
        store=store,
        reservation_ttl_s=settings.reservation_ttl_s,
        limiter=accounts.limiter,
        default_rpm=settings.default_rpm,
        default_tpm=settings.default_tpm,
    )

    # Observability outermost: it counts and logs the answers the error middleware renders.
    middlewares: list[Middleware] = [observability_middleware(log_prompts=settings.log_prompts), error_middleware]
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    app[SETTINGS] = settings
    app[STORE] = store
    app[GATEWAY] = gateway
    if settings.cache.enabled:
        app[CACHE] = CachedChat(gateway, response_cache(settings, store, accounts.redis), cache_policy(settings.cache))
    app[ACCOUNTS] = accounts
    app[KEYS] = accounts.keys
    media = MediaGateway(
        gateway,
        media_store_for(settings),
        downloader_for(settings),
        max_download_bytes=settings.media.max_download_bytes,
    )
    app[MEDIA] = media
    replica = f"{socket.gethostname()}:{os.getpid()}:{id(media):x}"
    app[JOBS] = JobGateway(
        media,
        jobs if jobs is not None else job_store(store),
        replica=replica,
        lease_s=settings.jobs.lease_s,
        retention_s=settings.jobs.retention_s,
        webhooks=webhooks if webhooks is not None else webhooks_for(settings),
    )
    app[RESPONSES] = ResponseGateway(
        gateway,
        response_store(store),
        replica=replica,
        lease_s=settings.responses.lease_s,
        retention_s=settings.responses.retention_s,
    )
    app.on_response_prepare.append(add_rate_limit_headers)
    app.on_response_prepare.append(send_request_id)
    app.on_response_prepare.append(add_cache_headers)
    add_account_routes(app.router)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/chat/completions", chat_completions)
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
    app.router.add_post("/messages/count_tokens", count_tokens)
    app.router.add_post("/v1/responses", responses)
    app.router.add_post("/responses", responses)
    add_stored_routes(app.router)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/completions", completions)
    add_media_routes(app.router)
    add_job_routes(app.router)
    add_file_routes(app.router)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/embeddings", embeddings)
    app.router.add_get("/models", list_models)
    app.router.add_get("/v1/models", list_models_openai)
    app.router.add_get("/v1/models/{id:.+}", get_model_openai)
    app.router.add_get("/health", _health)
    add_reference_routes(app)
    if settings.metrics:
        app.router.add_get("/metrics", metrics_endpoint)
    if settings.console:
        from unigate.console import console_app

        app.add_subapp("/console", console_app(store, redis=accounts.redis, redis_prefix=settings.redis_prefix))
    if settings.tracing.enabled:  # first in, last out: the spans of the shutdown are exported too
        app.cleanup_ctx.append(tracing.lifecycle(settings.tracing))
    app.cleanup_ctx.append(_lifecycle)
    return app


def _poller(app: web.Application) -> JobPoller:
    """This process's job poller; its webhooks carry the answer a poll would get, with links under
    the configured public address (else the one the server listens on)."""
    settings, flow = app[SETTINGS], app[JOBS]
    base = (settings.media.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")

    def payload(job: Job) -> dict[str, object]:
        return job_body(job, flow.media.files, base)

    return JobPoller(flow, tick_s=settings.jobs.tick_s, concurrency=settings.jobs.concurrency, payload=payload)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    store, gateway, media, settings = app[STORE], app[GATEWAY], app[MEDIA], app[SETTINGS]
    await store.open()
    started: list[Running | MediaStore | Downloader | Webhooks] = []
    sweeper: asyncio.Task[None] | None = None
    poller: JobPoller | None = None
    polling: asyncio.Task[None] | None = None
    keeping: asyncio.Task[None] | None = None
    try:
        hooks = app[JOBS].webhooks
        for service in [media.files, media.downloader, *([hooks] if hooks else []), *gateway.services.running()]:
            await service.start()
            started.append(service)
        sweeper = asyncio.create_task(sweep_forever(media.files))  # generated files past their retention
        if settings.jobs.poller:
            poller = _poller(app)
            polling = asyncio.create_task(poller.run())
        keeping = asyncio.create_task(ResponseKeeper(app[RESPONSES]).run())  # stored responses
        async with app[ACCOUNTS].running(
            store, gateway.held, reservation_ttl_s=gateway.reservation_ttl_s, retry_unsettled=gateway.retry_unsettled
        ):
            yield
    finally:
        if keeping is not None:
            keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeping
        await app[RESPONSES].stop()  # the background responses it runs end failed, not charged
        if polling is not None and poller is not None:
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
            await poller.stop()  # their leases expire; another replica (or the next start) goes on
        if sweeper is not None:
            sweeper.cancel()
        # Each step runs whatever the one before did: a provider that fails to close must not
        # keep the kept settlements from the store, nor the store from closing.
        for service in reversed(started):
            try:
                await service.close()
            except Exception:
                log.exception("closing %s failed", type(service).__name__)
        try:
            if gateway.unsettled:
                await gateway.retry_unsettled()
        except store.failures as exc:
            log.error(
                "%d settlements could not be recorded before shutdown (%s); their reservations will be "
                "released as abandoned",
                len(gateway.unsettled),
                exc,
            )
        finally:
            await store.close()
