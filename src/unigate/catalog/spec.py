"""What the gateway knows about one model: identity, capabilities, limits and price."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CREDITS_PER_USD", "ModelSpec", "Price"]

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
    price_source: str = "configured"
    """Where ``price`` comes from: ``configured`` (settings, built-in models), ``list`` (the
    provider's published price), ``estimate`` (ours), or ``unpriced`` (media models, priced per
    unit by their endpoints; deprecated models)."""
