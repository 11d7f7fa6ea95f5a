"""``create_app(settings)``: wires settings, store, catalog and providers into an aiohttp app.

No endpoint logic lives here; handlers are in ``api/``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from unigate.accounts.services import AccountServices
from unigate.accounts.store import Store
from unigate.api.account_routes import add_account_routes
from unigate.api.context import GATEWAY, KEYS, SETTINGS, STORE
from unigate.api.errors import error_middleware
from unigate.api.openai.chat import chat_completions
from unigate.api.openai.models import list_models, list_models_openai
from unigate.api.ratelimit_headers import add_rate_limit_headers
from unigate.catalog.builtin import fake_spec, local_chat_spec
from unigate.catalog.catalog import Catalog
from unigate.catalog.configured import apply_model_tables
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import ModelSpec
from unigate.core.gateway import Gateway
from unigate.providers.base import Provider
from unigate.providers.routing import build_routed_providers
from unigate.settings import Settings
from unigate.storage.factory import store_for

__all__ = ["build_providers", "create_app"]

log = logging.getLogger("unigate")

ACCOUNTS = web.AppKey("accounts", AccountServices)


def build_providers(settings: Settings) -> tuple[list[ModelSpec], dict[str, Provider]]:
    """The built-in models and the providers that serve them, as the settings ask."""
    specs: list[ModelSpec] = []
    providers: dict[str, Provider] = {}
    if settings.local.enabled:
        # Imported here so that a gateway without the local model never loads llama.cpp.
        from unigate.providers.local.engine import default_model_path
        from unigate.providers.local.provider import LocalProvider

        local = settings.local
        specs.append(local_chat_spec(local))
        providers["local"] = LocalProvider(
            model_path=local.model_path or default_model_path(),
            n_ctx=local.n_ctx,
            n_threads=local.n_threads,
            instances=local.instances,
            max_queue=local.max_queue,
            max_wait_s=local.max_wait_s,
        )
    if settings.fake_models:
        from unigate.providers.fake import FakeProvider

        specs.append(fake_spec())
        providers["fake"] = FakeProvider(token_delay_s=settings.fake_token_delay_s)
    # Every model the seeds list (catalog/data/models.json), beside the built-in ones.
    specs.extend(load_catalog())
    specs = apply_model_tables(specs, settings.models)
    # Every remote provider: configured ones route over their deployments with retries, breakers
    # and fallbacks (providers/routing.py), the others answer 503 naming the missing setting
    # (``<NAME>_API_KEY``, ``<NAME>_BASE_URL``; providers/registry.py).
    routed = build_routed_providers(
        tables=settings.providers, routing=settings.routing, resolve=Catalog(specs).resolve, others=providers
    )
    providers.update(routed)
    return specs, providers


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    models: list[ModelSpec] | None = None,
    providers: Mapping[str, Provider] | None = None,
) -> web.Application:
    """The application. ``models``/``providers`` replace the built-in ones (tests inject fakes)."""
    if providers is None:
        models, providers = build_providers(settings)
    store = store or store_for(settings)
    accounts = AccountServices.from_settings(settings, store)
    gateway = Gateway(
        catalog=Catalog(models or []),
        providers=providers,
        store=store,
        reservation_ttl_s=settings.reservation_ttl_s,
        limiter=accounts.limiter,
        default_rpm=settings.default_rpm,
        default_tpm=settings.default_tpm,
    )

    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[error_middleware])
    app[SETTINGS] = settings
    app[STORE] = store
    app[GATEWAY] = gateway
    app[ACCOUNTS] = accounts
    app[KEYS] = accounts.keys
    app.on_response_prepare.append(add_rate_limit_headers)
    add_account_routes(app.router)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/chat/completions", chat_completions)
    app.router.add_get("/models", list_models)
    app.router.add_get("/v1/models", list_models_openai)
    app.router.add_get("/health", _health)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    store, gateway = app[STORE], app[GATEWAY]
    await store.open()
    started: list[Provider] = []
    try:
        for provider in gateway.providers.values():
            await provider.start()
            started.append(provider)
        async with app[ACCOUNTS].running(store, gateway.held, reservation_ttl_s=gateway.reservation_ttl_s):
            yield
    finally:
        for provider in reversed(started):
            await provider.close()
        await store.close()
