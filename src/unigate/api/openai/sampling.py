"""Decoding parameters shared by the OpenAI chat and legacy completions wire schemas: the
``logit_bias`` check and their translation into the canonical ``Sampling``."""

from __future__ import annotations

from typing import Protocol

from unigate.core.chat import Sampling

__all__ = ["SamplingFields", "check_logit_bias", "to_sampling"]


class SamplingFields(Protocol):
    """The wire fields, named as OpenAI names them, that both request schemas carry."""

    @property
    def temperature(self) -> float | None: ...
    @property
    def top_p(self) -> float | None: ...
    @property
    def top_k(self) -> int | None: ...
    @property
    def min_p(self) -> float | None: ...
    @property
    def repetition_penalty(self) -> float | None: ...
    @property
    def frequency_penalty(self) -> float | None: ...
    @property
    def presence_penalty(self) -> float | None: ...
    @property
    def seed(self) -> int | None: ...
    @property
    def logit_bias(self) -> dict[str, float] | None: ...


def check_logit_bias(bias: dict[str, float] | None) -> dict[str, float] | None:
    """Keys are token ids (as strings, as JSON objects require), values from -100 to 100."""
    for key, value in (bias or {}).items():
        if not key.lstrip("-").isdigit():
            raise ValueError("keys must be token ids")
        if not -100 <= value <= 100:
            raise ValueError("values must be from -100 to 100")
    return bias


def to_sampling(wire: SamplingFields, stop: tuple[str, ...]) -> Sampling:
    return Sampling(
        temperature=wire.temperature,
        top_p=wire.top_p,
        top_k=wire.top_k,
        min_p=wire.min_p,
        repetition_penalty=wire.repetition_penalty,
        frequency_penalty=wire.frequency_penalty,
        presence_penalty=wire.presence_penalty,
        seed=wire.seed,
        stop=stop,
        logit_bias={int(k): v for k, v in wire.logit_bias.items()} if wire.logit_bias else None,
    )
