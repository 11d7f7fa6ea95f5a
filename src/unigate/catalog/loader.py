"""The full model catalog, read from ``data/models.json``.

That file is generated from the seeds, ``data/overrides.toml``, ``data/media_prices.toml`` and
``data/routes/*.toml`` by ``scripts/build_catalog.py`` and shipped as package data, so the gateway
never needs the seeds at run time. A media model's price is per unit (``UnitPrice``). It is parsed
once per process (orjson, a few milliseconds) and the specs share their feature, endpoint and
parameter collections, which repeat across hundreds of models.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import orjson

from unigate.catalog.spec import ModelSpec, Price, UnitPrice

__all__ = ["load_catalog"]


def load_catalog() -> list[ModelSpec]:
    """Every generated model, active and deprecated, in the seeds' table order."""
    return list(_load())


@cache
def _load() -> tuple[ModelSpec, ...]:
    raw = orjson.loads(files("unigate.catalog").joinpath("data", "models.json").read_bytes())
    shared = _Shared()
    return tuple(_spec(record, shared) for record in raw["models"])


class _Shared:
    """One tuple or frozenset object per distinct value, however many models use it."""

    def __init__(self) -> None:
        self._tuples: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._sets: dict[frozenset[str], frozenset[str]] = {}

    def tuple(self, values: list[str]) -> tuple[str, ...]:
        key = tuple(values)
        return self._tuples.setdefault(key, key)

    def set(self, values: list[str]) -> frozenset[str]:
        key = frozenset(values)
        return self._sets.setdefault(key, key)


def _spec(r: dict[str, Any], shared: _Shared) -> ModelSpec:
    price = r["price"]
    unit_price = None
    if "unit" in price:  # a media model: priced per image, character, second or page
        unit_price = UnitPrice(price["unit"], price["per_million"], price["variants"], price["source"])
        price = {"input": 0, "output": 0, "source": "unpriced"}
    return ModelSpec(
        id=r["id"],
        provider=r["provider"],
        upstream_model=r["upstream_model"],
        price=Price(price["input"], price["output"]),
        type=r["type"],
        name=r["name"],
        developer=r["developer"],
        description=r["description"],
        context_length=r["context_length"],
        max_output=r["max_output"],
        url=r["url"],
        docs_url=r["docs_url"],
        features=shared.tuple(r["features"]),
        endpoints=shared.tuple(r["endpoints"]),
        params=shared.set(r["params"]),
        input_modalities=shared.set(r["input_modalities"]),
        aliases=tuple(r["aliases"]),
        deprecated=r["deprecated"],
        unit_price=unit_price,
        price_source=price["source"],
        unavailable=r.get("unavailable", ""),
        upstream_api=r.get("upstream_api", ""),
    )
