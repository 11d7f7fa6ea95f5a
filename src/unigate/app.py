"""``create_app(settings)``: wires settings, store, catalog and providers into an aiohttp app.

No endpoint logic lives here; handlers are in ``api/``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware

from unigate.accounts.services import AccountServices
from unigate.accounts.store import Store
from unigate.api.account_routes import add_account_routes
from unigate.api.anthropic.messages import messages
from unigate.api.context import GATEWAY, KEYS, SETTINGS, STORE
from unigate.api.errors import error_middleware
from unigate.api.openai.chat.handler import chat_completions
from unigate.api.openai.completions.handler import completions
from unigate.api.openai.embeddings.handler import embeddings
from unigate.api.openai.models import list_models, list_models_openai
from unigate.api.openai.responses.handler import responses
from unigate.api.ratelimit_headers import add_rate_limit_headers
from unigate.catalog.builtin import fake_spec, local_chat_spec, local_embedding_spec
from unigate.catalog.catalog import Catalog
from unigate.catalog.configured import apply_model_tables
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import ModelSpec
from unigate.core.embedder import Embedder
from unigate.core.gateway import Gateway
from unigate.core.provider import Provider
from unigate.observability.http import metrics_endpoint, observability_middleware, send_request_id
from unigate.providers.embeddings.base import embedder_of
from unigate.providers.routing import build_routed_providers
from unigate.settings import Settings
from unigate.storage.factory import store_for

__all__ = ["build_embedders", "build_providers", "create_app"]

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
            parallel=local.parallel,
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


def build_embedders(settings: Settings) -> tuple[list[ModelSpec], dict[str, Embedder]]:
    """The built-in embedding model, when enabled and its package is installed (it is installed
    apart, with ``--no-deps``: see ``scripts/install.sh``)."""
    if not settings.embeddings.enabled:
        return [], {}
    from unigate.providers.embeddings.local import LocalEmbedder
    from unigate.providers.embeddings.minilm import default_model_dir

    config = settings.embeddings
    try:
        model_dir = config.model_dir or default_model_dir()
    except FileNotFoundError as exc:
        log.warning("embedded embedding model disabled: %s", exc)
        return [], {}
    embedder = LocalEmbedder(
        model_dir=model_dir, max_queue=config.max_queue, max_wait_s=config.max_wait_s, batch_size=config.batch_size
    )
    return [local_embedding_spec(config)], {embedder.name: embedder}


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    models: list[ModelSpec] | None = None,
    providers: Mapping[str, Provider] | None = None,
    embedders: Mapping[str, Embedder] | None = None,
) -> web.Application:
    """The application. ``models``/``providers``/``embedders`` replace the built-in ones (tests
    inject fakes); the providers' own embedding capability is found by ``embedder_of``."""
    if providers is None:
        models, providers = build_providers(settings)
        if embedders is None:
            embedding_models, embedders = build_embedders(settings)
            models = [*models, *embedding_models]
    serving = {name: e for name, p in providers.items() if (e := embedder_of(p)) is not None}
    serving.update(embedders or {})
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
        embedders=serving,
    )

    # Observability outermost: it counts and logs the answers the error middleware renders.
    middlewares: list[Middleware] = [observability_middleware(log_prompts=settings.log_prompts), error_middleware]
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    app[SETTINGS] = settings
    app[STORE] = store
    app[GATEWAY] = gateway
    app[ACCOUNTS] = accounts
    app[KEYS] = accounts.keys
    app.on_response_prepare.append(add_rate_limit_headers)
    app.on_response_prepare.append(send_request_id)
    add_account_routes(app.router)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/chat/completions", chat_completions)
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/messages", messages)
    app.router.add_post("/v1/responses", responses)
    app.router.add_post("/responses", responses)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/embeddings", embeddings)
    app.router.add_get("/models", list_models)
    app.router.add_get("/v1/models", list_models_openai)
    app.router.add_get("/health", _health)
    if settings.metrics:
        app.router.add_get("/metrics", metrics_endpoint)
    if settings.console:
        from unigate.console import console_app

        app.add_subapp("/console", console_app(store))
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    store, gateway = app[STORE], app[GATEWAY]
    await store.open()
    started: list[Provider | Embedder] = []
    # An embedder may be a provider itself (found by ``embedder_of``): started once.
    services: list[Provider | Embedder] = [*gateway.providers.values()]
    services += [e for e in gateway.embedders.values() if all(e is not s for s in services)]
    try:
        for service in services:
            await service.start()
            started.append(service)
        async with app[ACCOUNTS].running(
            store, gateway.held, reservation_ttl_s=gateway.reservation_ttl_s, retry_unsettled=gateway.retry_unsettled
        ):
            yield
    finally:
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
