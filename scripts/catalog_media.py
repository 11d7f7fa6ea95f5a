"""What ``build_catalog.py`` adds to the media models: their routes and their prices per unit.

* Routes: every ``src/unigate/catalog/data/routes/*.toml`` (written with the provider adapters),
  one table per catalog id::

      ["openai/gpt-image-1"]
      provider = "openai"
      upstream = "gpt-image-1"

      ["flux-realism"]
      provider = ""
      unavailable = "No public API serves this model."

  A route replaces what ``overrides.toml`` and the developer defaults say about the model's
  provider and upstream id. ``upstream`` may be left out (the usual rule then applies); a model
  routed nowhere says why in ``unavailable``, which the gateway answers with a 503.

* Prices: ``media_prices.toml`` (its header documents the format): a price per image, character,
  second, page or generation for each media model, the provider's published list price where
  there is one, else an estimate, else the default estimate of the model's type. Each type has
  its units (``TYPE_UNITS``: a video is priced per second, a 3D mesh per generation...) and a
  video's variants are ``"<resolution>:<audio|silent>"``.

Both fail the build on an id the seeds do not list, as ``overrides.toml`` does.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from fractions import Fraction
from pathlib import Path
from typing import Any

CREDITS_PER_USD = 2_000_000

# ---- routes ----------------------------------------------------------------------------------

_PROVIDER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class Route:
    provider: str
    upstream: str | None = None
    unavailable: str = ""
    file: str = ""


def read_routes(folder: Path) -> dict[str, Route]:
    """Every route of every ``*.toml`` in ``folder`` (none when it does not exist), by model id."""
    routes: dict[str, Route] = {}
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
        for model_id, raw in tomllib.loads(path.read_text(encoding="utf-8")).items():
            where = f"{path.name}: [{model_id!r}]"
            if model_id in routes:
                raise ValueError(f"{where} is routed twice (also in {routes[model_id].file})")
            routes[model_id] = _route(raw, where, path.name)
    return routes


def _route(raw: Any, where: str, file: str) -> Route:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a table")
    unknown = set(raw) - {"provider", "upstream", "unavailable"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    provider, upstream, unavailable = raw.get("provider"), raw.get("upstream"), raw.get("unavailable", "")
    if not isinstance(provider, str) or not isinstance(unavailable, str):
        raise ValueError(f'{where} needs provider (a string; "" for none) and a string unavailable')
    if upstream is not None and (not isinstance(upstream, str) or not upstream):
        raise ValueError(f"{where}: upstream must be a non-empty string")
    if provider:
        if not _PROVIDER_NAME.fullmatch(provider):
            raise ValueError(f"{where}: provider {provider!r} is not a provider name")
        if unavailable:
            raise ValueError(f"{where}: a routed model is not unavailable")
    elif not unavailable.strip() or upstream is not None:
        raise ValueError(f'{where}: provider = "" needs an unavailable reason and no upstream')
    return Route(provider, upstream, unavailable.strip(), file)


def check_routes(routes: dict[str, Route], active: Iterable[str], deprecated: Iterable[str]) -> None:
    retired = sorted(set(routes) & set(deprecated))
    if retired:
        raise ValueError(f"routes name deprecated models, which are served by no one: {retired}")
    unknown = sorted(set(routes) - set(active) - set(retired))
    if unknown:
        raise ValueError(f"routes name models the seeds do not list (use the canonical id): {unknown}")


# ---- prices ----------------------------------------------------------------------------------

_PRICE = re.compile(
    r"(?P<usd>\d+(?:\.\d+)?) per (?:(?P<count>\d+)(?P<scale>[kM])? )?"
    r"(?P<unit>images?|characters?|seconds?|minutes?|hours?|pages?|generations?)"
)
_UNITS = {"image": ("image", 1), "character": ("character", 1), "second": ("second", 1)}
_UNITS |= {"minute": ("second", 60), "hour": ("second", 3600), "page": ("page", 1)}
_UNITS |= {"generation": ("generation", 1)}

TYPE_UNITS: dict[str, frozenset[str]] = {
    "image": frozenset({"image"}),
    "tts": frozenset({"character"}),
    "voice-chat": frozenset({"character"}),
    "stt": frozenset({"second"}),
    "ocr": frozenset({"page"}),
    "video": frozenset({"second"}),
    "music": frozenset({"second", "generation"}),  # by length where the provider bills so, else a song
    "3d": frozenset({"generation"}),
}
"""The units a model of each catalog type may be priced in (what its endpoint can count)."""

_SOUND = frozenset({"audio", "silent", "*"})
_SCALES = {None: 1, "k": 1_000, "M": 1_000_000}


def parse_price(text: str) -> tuple[str, Fraction]:
    """``"0.0043 per minute"`` → (``"second"``, USD per second), exactly."""
    match = _PRICE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"price {text!r} is not '<USD> per [<count>[k|M]] <unit>'")
    unit, seconds = _UNITS[match["unit"].rstrip("s")]
    count = int(match["count"] or 1) * _SCALES[match["scale"]] * seconds
    return unit, Fraction(match["usd"]) / count


def per_million(usd_per_unit: Fraction) -> int:
    """Integer credits per million units, rounded up so that a price is never undercut."""
    return math.ceil(usd_per_unit * 1_000_000 * CREDITS_PER_USD)


@dataclass(frozen=True, slots=True)
class PriceEntry:
    unit: str
    per_million: int
    variants: dict[str, int]
    source: str

    def record(self) -> dict[str, Any]:
        return {"source": self.source, "unit": self.unit, "per_million": self.per_million, "variants": self.variants}


def _entry(raw: Any, where: str, *, default: bool = False) -> PriceEntry:
    if isinstance(raw, str) and default:
        raw = {"price": raw, "source": "estimate"}
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a table")
    unknown = set(raw) - {"price", "variants", "source", "ref", "note"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    source = raw.get("source")
    if source == "list" and not str(raw.get("ref", "")).startswith("https://"):
        raise ValueError(f"{where}: a list price needs the https ref it was read from")
    if source == "estimate" and not default and not raw.get("note"):
        raise ValueError(f"{where}: an estimate needs a note saying what it rests on")
    if source not in ("list", "estimate"):
        raise ValueError(f"{where}: source must be list or estimate")
    unit, usd = parse_price(raw.get("price", ""))
    variants: dict[str, int] = {}
    for key, text in raw.get("variants", {}).items():
        if key.count(":") != 1:
            raise ValueError(f"{where}: variant {key!r} is not '<quality>:<size>' (either may be *)")
        variant_unit, variant_usd = parse_price(text)
        if variant_unit != unit:
            raise ValueError(f"{where}: variant {key!r} is per {variant_unit}, the price per {unit}")
        variants[key] = per_million(variant_usd)
    return PriceEntry(unit, per_million(usd), variants, source)


@dataclass(frozen=True, slots=True)
class PriceTable:
    defaults: dict[str, PriceEntry]
    """By catalog type; the types without one stay unpriced."""
    models: dict[str, PriceEntry]
    """By model id or ``fnmatch`` pattern (``#g1_aura-2-*``); an exact id wins."""

    def price(self, model_id: str, kind: str) -> dict[str, Any] | None:
        entry = self.models.get(model_id)
        if entry is None:
            entry = next((e for key, e in self.models.items() if "*" in key and fnmatchcase(model_id, key)), None)
        if entry is None:
            entry = self.defaults.get(kind)
        return None if entry is None else entry.record()

    def check(self, media: dict[str, str]) -> None:
        """Every key names (or matches) an active media model of a priced type, in a unit that
        type is counted in; a video's variants say its resolution and sound."""
        for kind, entry in self.defaults.items():
            _check_unit(f"[defaults] {kind}", entry, kind)
        for key, entry in self.models.items():
            matched = [m for m in media if fnmatchcase(m, key)] if "*" in key else [m for m in (key,) if m in media]
            if not matched:
                raise ValueError(f"media_prices.toml: {key!r} names no active media model the seeds list")
            unpriced = sorted({media[m] for m in matched} - set(self.defaults))
            if unpriced:
                raise ValueError(f"media_prices.toml: {key!r} is a {unpriced[0]} model, a type left unpriced")
            for kind in sorted({media[m] for m in matched}):
                _check_unit(f"media_prices.toml: {key!r}", entry, kind)


def _check_unit(where: str, entry: PriceEntry, kind: str) -> None:
    if entry.unit not in TYPE_UNITS.get(kind, frozenset({entry.unit})):
        raise ValueError(f"{where}: a {kind} model is not priced per {entry.unit}")
    if kind != "video":
        return
    for variant in entry.variants:
        resolution, _, sound = variant.partition(":")
        if sound not in _SOUND or resolution != resolution.lower():
            raise ValueError(f"{where}: video variant {variant!r} is not '<resolution>:<audio|silent>' (lower case)")


def read_prices(path: Path) -> PriceTable:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    defaults = {k: _entry(v, f"[defaults] {k}", default=True) for k, v in raw.get("defaults", {}).items()}
    models = {k: _entry(v, f"[models] {k!r}") for k, v in raw.get("models", {}).items()}
    return PriceTable(defaults, models)
