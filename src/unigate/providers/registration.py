"""What a provider registers: its name and kind, its settings, its factory, what it serves.

A ``Registration`` is read in three steps (``registry.py`` runs them for every provider):

1. ``settings(Settings)`` reads the provider's own settings from the gateway's: ``None`` when it is
   switched off (not offered at all), else a ``Setup`` with its deployments, or with none and the
   setting it misses (then every modality it declares answers 503 naming that setting).
2. ``factory`` builds the ``Capabilities`` of one deployment: the object behind each modality it
   declares in ``serves`` (checked when built).
3. ``models(Settings)`` lists the models it brings itself (the embedded and fake ones; the others
   are in the catalog's data and name their provider).

Providers reached over HTTP are declared with ``upstream``: their settings are a ``ProviderInfo``
(``<NAME>_API_KEY``, ``<NAME>_BASE_URL``, ``[providers.<name>]``, see ``config.py``), their factory
gets one ``Upstream`` per deployment, and their deployments are routed with retries, circuit
breakers and fallbacks (``routing.py``). Providers that run inside the gateway read a section of
``Settings`` and have one deployment, not routed: retrying a full local queue would only wait longer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from unigate.catalog.spec import ModelSpec
from unigate.core.services import Capabilities, Modality
from unigate.primitives.records import record
from unigate.providers.config import ProviderConfig, ProviderInfo, deployments_of, provider_config
from unigate.providers.transport import Transport, build_transport
from unigate.providers.transport.factory import fetch_proxies
from unigate.providers.transport.proxy import Proxies
from unigate.settings import Settings

__all__ = ["CHAT", "Registration", "Setup", "Upstream", "from_info", "in_process", "upstream"]

C = TypeVar("C")

CHAT = frozenset({Modality.CHAT})


@dataclass(frozen=True, slots=True)
class Setup(Generic[C]):
    """A provider's settings as this gateway has them: what its factory builds from, one per
    deployment, or nothing and the setting it misses."""

    deployments: tuple[C, ...] = ()
    missing: str | None = None
    """``ANTHROPIC_API_KEY``, ``VLLM_BASE_URL``: when there is no deployment."""


def _no_models(settings: Settings) -> list[ModelSpec]:
    return []


@dataclass(frozen=True, slots=True)
class Registration(Generic[C]):
    """One provider, declared once (see the module docstring)."""

    name: str
    """What models name in ``ModelSpec.provider``."""
    kind: str
    """What it is: the wire protocol of a provider reached over HTTP (``openai``, ``anthropic``,
    ``gemini``: a ``[providers.*]`` table of that ``kind`` is built like it), or the engine of one
    that runs here (``llama.cpp``, ``minilm``, ``fake``)."""
    serves: frozenset[Modality]
    settings: Callable[[Settings], Setup[C] | None]
    factory: Callable[[C], Capabilities]
    models: Callable[[Settings], list[ModelSpec]] = _no_models
    upstream: ProviderInfo | None = None
    """For a provider reached over HTTP: the settings it declares, which ``settings`` reads."""


@record
class Upstream:
    """One deployment of a provider reached over HTTP, as its adapter is built from it."""

    config: ProviderConfig
    transport: Transport
    """Its own, as each deployment has its own connection pool; the adapter closes it."""
    fetch_proxies: Proxies | None = None
    """For adapters that fetch client-supplied URLs: ``providers/fetch.py`` says when this is set."""


def _upstream_setup(info: ProviderInfo, settings: Settings) -> Setup[Upstream]:
    table = settings.providers.get(info.name, {})
    base = provider_config(info, settings.provider_env, table)
    found = deployments_of(base, settings.provider_env, table)
    if found:
        proxies = fetch_proxies(settings)
        return Setup(tuple(Upstream(c, build_transport(settings), proxies) for c in found))
    missing = base.missing_setting()
    if missing is None:  # a deployments list whose entries are all skipped
        missing = f"a key or URL for a deployment of [providers.{info.name}]"
    return Setup(missing=missing)


def upstream(
    name: str,
    base_url: str | None,
    factory: Callable[[Upstream], Capabilities],
    *,
    kind: str = "openai",
    serves: frozenset[Modality] = CHAT,
    keys: tuple[str, ...] = (),
) -> Registration[Upstream]:
    """A provider reached over HTTP at ``base_url`` (``None``: self-hosted, ``<NAME>_BASE_URL`` must
    be set and no key is needed); ``keys`` are the key variables it accepts, canonical first
    (default ``<NAME>_API_KEY``)."""
    return from_info(ProviderInfo(name, kind, base_url, keys, key_required=base_url is not None), factory, serves)


def from_info(
    info: ProviderInfo, factory: Callable[[Upstream], Capabilities], serves: frozenset[Modality]
) -> Registration[Upstream]:
    """The registration of the provider ``info`` declares."""
    return Registration(info.name, info.kind, serves, partial(_upstream_setup, info), factory, upstream=info)


def in_process(
    name: str,
    kind: str,
    serves: frozenset[Modality],
    settings: Callable[[Settings], C | None],
    factory: Callable[[C], Capabilities],
    models: Callable[[Settings], list[ModelSpec]],
) -> Registration[C]:
    """A provider that runs inside the gateway: ``settings`` reads its section of ``Settings``
    (``None``: switched off)."""
    return Registration(name, kind, serves, partial(_section, settings), factory, models)


def _section(read: Callable[[Settings], C | None], settings: Settings) -> Setup[C] | None:
    section = read(settings)
    return None if section is None else Setup((section,))
