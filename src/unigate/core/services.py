"""The providers this server runs, as the registry built them, asked by modality.

Each provider declares the modalities it serves (``Modality``); for those with a protocol
(chat: ``Provider``, embeddings: ``Embedder``, the media ones: ``media_providers.py``) it brings
the object that serves them (``Capabilities``). The gateway and the API ask ``Services`` which
object serves a provider's model for a modality, never the objects what they are. A provider
that is registered but lacks its key or URL declares the same modalities with nothing behind
them and the setting it misses: asked for any of them, it answers ``ProviderNotConfigured``
(503) naming that setting, before any credit is reserved, so a catalog may list every model and
only configured ones answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from typing import cast

from unigate.core.embedder import Embedder
from unigate.core.media_providers import ImageGenerator, JobRunner, OcrReader, Speaker, Transcriber
from unigate.core.provider import Provider
from unigate.errors import ProviderNotConfigured
from unigate.primitives.records import record

__all__ = ["Capabilities", "Modality", "Running", "Service", "Services"]


class Modality(StrEnum):
    """What a provider can serve; each has a protocol and endpoints (video, music and 3D run as
    generation jobs, ``core/jobs.py``)."""

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


Running = Provider | Embedder | ImageGenerator | Speaker | Transcriber | OcrReader | JobRunner
"""An object that serves a modality: started with the app, closed at its end."""


@record
class Capabilities:
    """The objects behind the modalities that have a protocol; one object may serve several."""

    chat: Provider | None = None
    embeddings: Embedder | None = None
    images: ImageGenerator | None = None
    speech: Speaker | None = None
    transcription: Transcriber | None = None
    ocr: OcrReader | None = None
    video: JobRunner | None = None
    music: JobRunner | None = None
    three_d: JobRunner | None = None

    def parts(self) -> dict[Modality, Running | None]:
        return {
            Modality.CHAT: self.chat,
            Modality.EMBEDDINGS: self.embeddings,
            Modality.IMAGES: self.images,
            Modality.SPEECH: self.speech,
            Modality.TRANSCRIPTION: self.transcription,
            Modality.OCR: self.ocr,
            Modality.VIDEO: self.video,
            Modality.MUSIC: self.music,
            Modality.THREE_D: self.three_d,
        }

    def modalities(self) -> frozenset[Modality]:
        """The modalities it has an object for."""
        return frozenset(m for m, part in self.parts().items() if part is not None)


_PROTOCOLS = frozenset(Modality)
"""The modalities with a protocol (all of them): one a configured provider declares must have its
object."""

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
        self,
        *,
        chat: Mapping[str, Provider] | None = None,
        embeddings: Mapping[str, Embedder] | None = None,
        capabilities: Mapping[str, Capabilities] | None = None,
    ) -> Services:
        """These services, with the providers of ``chat``, the embedders of ``embeddings`` and the
        ``capabilities`` (test doubles) in place of those of the same names."""
        chat, embeddings = chat or {}, embeddings or {}
        doubles = {
            name: Capabilities(chat=chat.get(name), embeddings=embeddings.get(name)) for name in [*chat, *embeddings]
        }
        doubles.update(capabilities or {})
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

    def _part(self, name: str, modality: Modality) -> Running | None:
        service = self._by_name.get(name)
        part = None if service is None else service.capabilities.parts()[modality]
        if part is None:
            self._declared(name, modality)
        return part

    def images(self, name: str) -> ImageGenerator | None:
        """The image generator of ``name``, as ``chat`` finds the provider."""
        return cast("ImageGenerator | None", self._part(name, Modality.IMAGES))

    def speaker(self, name: str) -> Speaker | None:
        return cast("Speaker | None", self._part(name, Modality.SPEECH))

    def transcriber(self, name: str) -> Transcriber | None:
        return cast("Transcriber | None", self._part(name, Modality.TRANSCRIPTION))

    def ocr(self, name: str) -> OcrReader | None:
        return cast("OcrReader | None", self._part(name, Modality.OCR))

    def jobs(self, name: str, modality: Modality) -> JobRunner | None:
        """The runner of ``name``'s ``modality`` jobs (video, music or 3D)."""
        return cast("JobRunner | None", self._part(name, modality))

    def serving(self, modality: Modality) -> frozenset[str]:
        """Names of the configured providers that declare ``modality``."""
        return frozenset(n for n, s in self._by_name.items() if s.missing is None and modality in s.serves)

    def running(self) -> list[Running]:
        """The objects to start and close, each once (one adapter may serve several modalities)."""
        out: list[Running] = []
        for service in self._by_name.values():
            for part in service.capabilities.parts().values():
                if part is not None and all(part is not p for p in out):
                    out.append(part)
        return out
