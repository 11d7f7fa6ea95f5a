"""What the gateway knows about one model: identity, capabilities, limits and price."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

__all__ = ["CREDITS_PER_USD", "MediaUnit", "ModelSpec", "Price", "UnitPrice"]

CREDITS_PER_USD = 2_000_000
"""1 USD = 2,000,000 credits (the service docs' billing examples, every pair of which agrees)."""


@dataclass(frozen=True, slots=True)
class Price:
    """Integer credits per one million tokens; a request costs the ceiling of the sum."""

    input_per_mtok: int
    output_per_mtok: int

    def cost(self, prompt_tokens: int, completion_tokens: int) -> int:
        micro = prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok
        return -(-micro // 1_000_000)


MediaUnit = Literal["image", "character", "second", "page", "generation"]
"""What a media model bills: images made, characters spoken, seconds of audio heard or of video and
music made, pages read, or whole generations (a song, a 3D mesh)."""


@dataclass(frozen=True, slots=True)
class UnitPrice:
    """Integer credits per one million units of a media model's ``unit``; the price may depend on
    a variant: an image's quality and size (``"hd:1024x1792"``), a video's resolution and sound
    (``"1080p:audio"``, ``"720p:silent"``), either part ``*``."""

    unit: MediaUnit
    per_million: int
    variants: Mapping[str, int] = field(default_factory=dict)
    """Credits per million units by variant; ``per_million`` for any other."""
    source: Literal["list", "estimate", "configured"] = "estimate"
    """``list``: the provider's published price; ``estimate``: ours (no published price found)."""

    def rate(self, variant: str = "") -> int:
        """Credits per million units of ``variant`` (``"quality:size"``)."""
        if not self.variants or not variant:
            return self.per_million
        quality, _, size = variant.partition(":")
        for key in (variant, f"{quality}:*", f"*:{size}"):
            if key in self.variants:
                return self.variants[key]
        return self.per_million

    def cost(self, units: float, variant: str = "") -> int:
        """The ceiling of ``units`` at ``variant``'s rate; seconds may be fractional."""
        return math.ceil(Fraction(units) * self.rate(variant) / 1_000_000)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    provider: str
    """Name of the provider (in the registry) that serves this model."""
    upstream_model: str
    """The model name sent to the provider."""
    price: Price
    type: str = "chat-completion"
    name: str = ""
    developer: str = ""
    description: str = ""
    context_length: int | None = None
    max_output: int | None = None
    url: str = ""
    docs_url: str = ""
    features: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ("/v1/chat/completions",)
    params: frozenset[str] = frozenset()
    """Optional request parameters the model honours; any other one is rejected with a 400."""
    input_modalities: frozenset[str] = frozenset({"text"})
    """Content part kinds the model reads: ``text``, ``image``, ``file``."""
    aliases: tuple[str, ...] = ()
    deprecated: bool = False
    """Listed for reference only: the upstream no longer serves it (seeds, "Deprecated" table)."""
    unavailable: str = ""
    """Why no upstream serves this model here (it has no public API); such models answer 503."""
    upstream_api: str = ""
    """Which of its provider's APIs the model is called through, when the provider has more than
    one: ``"responses"`` for the OpenAI models served only by OpenAI's Responses API (``*-pro``,
    ``*-codex``); empty for the provider's default (Chat Completions for OpenAI)."""
    unit_price: UnitPrice | None = None
    """For media models: the price per unit (``price`` stays zero); ``None`` for token-priced ones."""
    price_source: str = "configured"
    """Where ``price`` comes from: ``configured`` (settings, built-in models), ``list`` (the
    provider's published price), ``estimate`` (ours), or ``unpriced`` (media models, priced per
    unit by their endpoints; deprecated models)."""
