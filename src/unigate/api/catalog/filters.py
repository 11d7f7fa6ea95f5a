"""The service catalogue's filters and optional sections (the service docs' page "Model Catalogue
API"), on ``GET /models`` and, delegated from ``api/openai/models.py``, on ``GET /v1/models``.

Filters narrow which models come back: ``id`` (the id or an alias), ``type``, ``tags``,
``modalities`` (input or output), ``input_modalities``, ``output_modalities``, ``capabilities``.
Several values of one parameter, comma-separated or repeated, are OR'd; several parameters are
AND'd; values are case-insensitive; an omitted parameter filters nothing. ``include`` attaches
``pricing``, ``modalities``, ``capabilities`` or ``all`` of them (``details=true`` or ``1`` is
``all``); unknown values are ignored, as the service does. The modalities, capabilities and tags
are the catalog's (``catalog/traits.py``).

The pricing section is the service's: ``kind`` ``fixed`` (``units``: one rate each, in USD per
``per`` units), ``variants`` (a rate per combination of the ``dimensions``; the ``when: {}``
variant is the rate of any other) or ``variable`` (no price is known ahead: the catalog has none).
``source`` (ours) says where the price comes from: the provider's list, our estimate, settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from multidict import MultiMapping

from unigate.catalog import traits
from unigate.catalog.spec import CREDITS_PER_USD, ModelSpec, UnitPrice

__all__ = ["FILTERS", "SECTIONS", "CatalogueQuery", "asks_catalogue", "catalogue_response", "pricing", "service_entry"]

FILTERS = ("id", "type", "tags", "modalities", "input_modalities", "output_modalities", "capabilities")
SECTIONS = ("pricing", "modalities", "capabilities")

_DIMENSIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("image", "image"): ("quality", "size"),
    ("video", "second"): ("resolution", "audio"),
}
"""What the two parts of a media price's variant key (``"hd:1024x1792"``) are, by model type and unit."""


def _values(query: MultiMapping[str], name: str) -> frozenset[str]:
    return frozenset(v.strip().lower() for raw in query.getall(name, []) for v in raw.split(",") if v.strip())


@dataclass(frozen=True, slots=True)
class CatalogueQuery:
    filters: Mapping[str, frozenset[str]]
    """The filters given, each with its lower-cased values."""
    include: frozenset[str]

    @classmethod
    def of(cls, query: MultiMapping[str]) -> CatalogueQuery:
        filters = {name: values for name in FILTERS if (values := _values(query, name))}
        include = _values(query, "include")
        if "all" in include or query.get("details", "").lower() in ("true", "1"):
            include = frozenset(SECTIONS)
        return cls(filters, include & frozenset(SECTIONS))

    def matches(self, spec: ModelSpec) -> bool:
        return all(self._has(name, spec) & wanted for name, wanted in self.filters.items())

    @staticmethod
    def _has(name: str, spec: ModelSpec) -> set[str]:
        """What ``spec`` carries that the filter ``name`` looks at, lower-cased."""
        if name == "id":
            found = [spec.id, *spec.aliases]
        elif name == "type":
            found = [spec.type]
        elif name == "tags":
            found = list(traits.tags(spec))
        elif name == "input_modalities":
            found = list(traits.input_modalities(spec))
        elif name == "output_modalities":
            found = list(traits.output_modalities(spec))
        elif name == "modalities":
            found = [*traits.input_modalities(spec), *traits.output_modalities(spec)]
        else:
            found = list(traits.capabilities(spec))
        return {v.lower() for v in found}

    def sections(self, spec: ModelSpec) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "modalities" in self.include:
            out["modalities"] = {
                "input": list(traits.input_modalities(spec)),
                "output": list(traits.output_modalities(spec)),
            }
        if "capabilities" in self.include:
            out["capabilities"] = list(traits.capabilities(spec))
        if "pricing" in self.include:
            out["pricing"] = pricing(spec)
        return out


def asks_catalogue(query: MultiMapping[str]) -> bool:
    """Whether a listing request uses any of the catalogue's filters or sections."""
    return any(name in query for name in (*FILTERS, "include", "details"))


def _usd(credits_per_million: int, per: int) -> float:
    """USD for ``per`` units at ``credits_per_million`` credits per million units."""
    return credits_per_million * per / 1_000_000 / CREDITS_PER_USD


def _per(unit: str) -> int:
    return 1_000_000 if unit == "character" else 1


def pricing(spec: ModelSpec) -> dict[str, Any]:
    media: UnitPrice | None = spec.unit_price
    if media is None:
        if spec.price_source == "unpriced":
            return {"kind": "variable", "currency": "USD"}
        units = [{"unit": "input_token", "price": _usd(spec.price.input_per_mtok, 1_000_000), "per": 1_000_000}]
        if spec.type != "embedding":
            units.append(
                {"unit": "output_token", "price": _usd(spec.price.output_per_mtok, 1_000_000), "per": 1_000_000}
            )
        return {"kind": "fixed", "currency": "USD", "units": units, "source": spec.price_source}
    per = _per(media.unit)
    base = {"price": _usd(media.per_million, per), "unit": media.unit, "per": per}
    if not media.variants:
        return {"kind": "fixed", "currency": "USD", "units": [base], "source": media.source}
    dimensions = _DIMENSIONS.get((spec.type, media.unit), ("variant", ""))
    variants: list[dict[str, Any]] = [{"when": {}, **base}]
    for key, rate in media.variants.items():
        parts = key.split(":", 1) if dimensions[1] else [key]
        when = {dim: part for dim, part in zip(dimensions, parts, strict=False) if part != "*"}
        variants.append({"when": when, "price": _usd(rate, per), "unit": media.unit, "per": per})
    return {
        "kind": "variants",
        "currency": "USD",
        "dimensions": [d for d in dimensions if d],
        "variants": variants,
        "source": media.source,
    }


def service_entry(spec: ModelSpec) -> dict[str, Any]:
    """The identity of a model as the service's ``GET /v1/models`` lists it."""
    info: dict[str, Any] = {"name": spec.name or spec.id, "developer": spec.developer or spec.provider}
    if spec.description:
        info["description"] = spec.description
    if spec.context_length is not None:
        info["contextLength"] = spec.context_length
    if spec.max_output is not None:
        info["outputMax"] = spec.max_output
    if spec.url:
        info["url"] = spec.url
    if spec.docs_url:
        info["docsUrl"] = spec.docs_url
    return {
        "id": spec.id,
        "aliases": list(spec.aliases),
        "type": spec.type,
        "info": info,
        "tags": list(traits.tags(spec)),
    }


def catalogue_response(
    query: MultiMapping[str], specs: Iterable[ModelSpec], item: Callable[[ModelSpec], dict[str, Any]], *, listed: bool
) -> web.Response:
    """The models of ``specs`` that pass the filters, each as ``item`` makes it plus the sections
    asked for; a bare array (``GET /models``) or, ``listed``, ``{"object": "list", "data": ...}``."""
    wanted = CatalogueQuery.of(query)
    data = [{**item(spec), **wanted.sections(spec)} for spec in specs if wanted.matches(spec)]
    body = orjson.dumps({"object": "list", "data": data} if listed else data)
    return web.Response(body=body, content_type="application/json")
