"""The providers this server runs, as the registry built them, asked by modality.

Each provider declares the modalities it serves (``Modality``); for those with a protocol today
(chat: ``Provider``, embeddings: ``Embedder``) it brings the object that serves them
(``Capabilities``). The gateway and the API ask ``Services`` which object serves a provider's
model for a modality, never the objects what they are. A provider that is registered but lacks
its key or URL declares the same modalities with nothing behind them and the setting it misses:
asked for any of them, it answers ``ProviderNotConfigured`` (503) naming that setting, before any
credit is reserved, so a catalog may list every model and only configured ones answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum

from unigate.core.embedder import Embedder
from unigate.core.provider import Provider
from unigate.errors import ProviderNotConfigured
from unigate.primitives.records import record

__all__ = ["Capabilities", "Modality", "Service", "Services"]


class Modality(StrEnum):
    """What a provider can serve. Chat and embeddings have a protocol and an endpoint; the others
    are declared ahead of theirs (the media issues add them), so that a registration can say what
    a provider offers before the gateway serves it."""

    CHAT = "chat"
    EMBEDDINGS = "embeddings"
    IMAGES = "images"
    SPEECH = "speech"
    TRANSCRIPTION = "transcription"
    OCR = "ocr"
    VIDEO = "video"
    """Video generation jobs."""
    MUSIC = "music"
    """Music generation jobs."""
    THREE_D = "3d"
    """3D model generation jobs."""


@record
class Capabilities:
    """The objects behind the modalities that have a protocol; one object may serve several."""

    chat: Provider | None = None
    embeddings: Embedder | None = None

    def modalities(self) -> frozenset[Modality]:
        """The modalities it has an object for."""
        parts: dict[Modality, object] = {Modality.CHAT: self.chat, Modality.EMBEDDINGS: self.embeddings}
        return frozenset(m for m, part in parts.items() if part is not None)


_PROTOCOLS = frozenset({Modality.CHAT, Modality.EMBEDDINGS})
"""The modalities with a protocol: one a configured provider declares must have its object."""

_NOTHING = Capabilities()


@record
class Service:
    """One provider as built: what it declares, what serves it, or the setting it still needs."""

    name: str
    serves: frozenset[Modality]
    capabilities: Capabilities = _NOTHING
    missing: str | None = None
    """``ANTHROPIC_API_KEY``, ``VLLM_BASE_URL``...: set, every modality it declares answers 503."""

    def __post_init__(self) -> None:
        if self.missing is not None:
            return  # nothing is built for a provider that lacks its settings
        unserved = (self.serves & _PROTOCOLS) - self.capabilities.modalities()
        if unserved:
            raise ValueError(f"provider {self.name!r} declares {', '.join(sorted(unserved))} but built nothing for it")

    def error(self) -> ProviderNotConfigured:
        return ProviderNotConfigured(
            f"The provider {self.name!r} of this model is not configured on this server: set {self.missing}.",
            param="model",
        )


class Services(Mapping[str, Service]):
    """Every provider by name, and which of them serves what."""

    def __init__(self, services: Iterable[Service] = ()) -> None:
        self._by_name = {s.name: s for s in services}
        self._chat = {n: s.capabilities.chat for n, s in self._by_name.items() if s.capabilities.chat is not None}
        self._embeddings = {
            n: s.capabilities.embeddings for n, s in self._by_name.items() if s.capabilities.embeddings is not None
        }

    def __getitem__(self, name: str) -> Service:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def replaced(
        self, *, chat: Mapping[str, Provider] | None = None, embeddings: Mapping[str, Embedder] | None = None
    ) -> Services:
        """These services, with the providers of ``chat`` and the embedders of ``embeddings`` (test
        doubles) in place of those of the same names."""
        chat, embeddings = chat or {}, embeddings or {}
        doubles = {
            name: Capabilities(chat=chat.get(name), embeddings=embeddings.get(name)) for name in [*chat, *embeddings]
        }
        replaced = [Service(name, c.modalities(), c) for name, c in doubles.items()]
        return Services({**self._by_name, **{s.name: s for s in replaced}}.values())

    def _declared(self, name: str, modality: Modality) -> None:
        service = self._by_name.get(name)
        if service is not None and service.missing is not None and modality in service.serves:
            raise service.error()

    def chat(self, name: str) -> Provider | None:
        """The provider that serves chat for ``name``; ``None`` if it serves none. Raises
        ``ProviderNotConfigured`` for one that declares chat but lacks a setting."""
        provider = self._chat.get(name)
        if provider is None:
            self._declared(name, Modality.CHAT)
        return provider

    def embedder(self, name: str) -> Embedder | None:
        """The embedder of ``name``, as ``chat`` finds the provider."""
        embedder = self._embeddings.get(name)
        if embedder is None:
            self._declared(name, Modality.EMBEDDINGS)
        return embedder

    def serving(self, modality: Modality) -> frozenset[str]:
        """Names of the configured providers that declare ``modality``."""
        return frozenset(n for n, s in self._by_name.items() if s.missing is None and modality in s.serves)

    def running(self) -> list[Provider | Embedder]:
        """The objects to start and close, each once (one adapter may serve several modalities)."""
        out: list[Provider | Embedder] = []
        for service in self._by_name.values():
            for part in (service.capabilities.chat, service.capabilities.embeddings):
                if part is not None and all(part is not p for p in out):
                    out.append(part)
        return out
