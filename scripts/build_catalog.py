"""Build ``src/unigate/catalog/data/models.json`` from the seeds and the hand-kept overrides.

    .venv/bin/python scripts/build_catalog.py [--seeds ../shared/seeds] [--check]

The seeds (``seeds/002_*.txt``, read by ``catalog_seeds.py``) give every model id, its aliases,
developer, context length and model card name, and for the 76 documented chat models the
overview text and the request parameters, roles and content parts their API schema accepts.
``catalog/data/overrides.toml`` adds what the seeds do not say: which provider serves a model
and under which upstream id, prices, output limits, reasoning, defaults per developer. The
rules that combine them are documented in ``overrides.toml``'s header and below; the output is
byte-for-byte reproducible (models in seed table order, one model per line, no timestamps).

``--check`` compares instead of writing and exits 1 when the committed file is stale.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from catalog_media import PriceTable, Route, check_routes, read_prices, read_routes
from catalog_seeds import SEED_FILE, TABLE_TITLES, ModelPage, SchemaBlock, TableRow, read_seeds

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "unigate" / "catalog" / "data"
CREDITS_PER_USD = 2_000_000

TYPES = ("chat-completion", "image", "video", "stt", "tts", "voice-chat", "music", "ocr", "3d", "embedding")
"""The ``/models`` ``type`` of each active table, in ``TABLE_TITLES`` order. The seeds show the
first three; the others are ours (see overrides.toml)."""

PROVIDERS = frozenset(
    {
        "openai",
        "anthropic",
        "gemini",
        "deepseek",
        "xai",
        "mistral",
        "alibaba",
        "moonshot",
        "zhipu",
        "together",
        "groq",
        "fireworks",
        "openrouter",
        "perplexity",
        "minimax",
        "baidu",
        "bytedance",
        "cohere",
    }
)
AGGREGATORS = frozenset({"together", "openrouter", "fireworks", "groq"})
"""Providers whose model ids keep the ``vendor/`` prefix by default."""

WIRE_PARAMS = frozenset(
    {
        "max_completion_tokens",
        "max_tokens",
        "stream_options",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "n",
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "repetition_penalty",
        "stop",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "frequency_penalty",
        "presence_penalty",
        "seed",
        "response_format",
        "reasoning_effort",
        "web_search_options",
    }
)
"""Optional parameters of our chat wire schema that a model may declare (``web_search_options``
also stands for the ``$web_search`` tool: the model's upstream can search the web)."""

GATEWAY_PARAMS = frozenset({"max_completion_tokens", "max_tokens", "stream_options"})
"""Honoured for every chat model by the gateway itself: both token limits become one canonical
limit that each provider maps to its own field, and the usage chunk is rendered by us."""

_BLOCK_PARAMS: dict[str, tuple[str, ...]] = {
    "include_usage": ("stream_options",),
    "tool_choice": ("tools", "tool_choice"),
    "stop_sequences": ("stop",),  # Anthropic-style blocks (survey §2.2)
    "budget_tokens": ("reasoning_effort",),  # thinking.budget_tokens, set from reasoning_effort
}
"""Schema-block leaf names that differ from our wire names; the others map to themselves."""

FEATURE_ORDER = (
    "openai/chat-completion",
    "openai/response-api",
    "openai/chat-completion.function",
    "openai/chat-completion.message.refusal",
    "openai/chat-completion.message.system",
    "openai/chat-completion.message.developer",
    "openai/chat-completion.message.assistant",
    "openai/chat-completion.stream",
    "openai/chat-completion.max-completion-tokens",
    "openai/chat-completion.number-of-messages",
    "openai/chat-completion.stop",
    "openai/chat-completion.seed",
    "openai/chat-completion.reasoning",
    "openai/chat-completion.response-format",
    "openai/chat-completion.web-search",
)
"""The seeds' chat feature strings (survey §2.7) in the order the seeds list them, then ours:
``.web-search`` for the models that search the web (survey §4.9; the seeds name no feature for it).
Every chat model is served on the Responses API too (translated through the canonical request);
``openai/chat-assistant`` is left out: we do not serve the Assistants API."""

_GAP = re.compile(r"\s[,.]")
"""A link whose text the PDF export dropped ("outperforming and ."): such an overview needs a
hand-written description in the overrides."""

_NO_CARD = frozenset({"", "-", "–", "Coming Soon", "?"})


# ---- overrides ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelOverride:
    provider: str | None = None
    upstream: str | None = None
    name: str | None = None
    description: str | None = None
    context_length: int | None = None
    max_output: int | None = None
    input: tuple[str, ...] | None = None
    params: str | None = None
    """Name of a ``[param_sets]`` entry, for chat models without a schema block."""
    params_add: tuple[str, ...] = ()
    params_remove: tuple[str, ...] = ()
    price: tuple[float, float] | None = None
    """Published list price, USD per 1M tokens (input, output)."""
    price_estimate: tuple[float, float] | None = None
    schema_from: str | None = None
    """Use this model's schema block (a page that documents two models shows one example)."""
    type: str | None = None
    url: str | None = None
    docs_url: str | None = None
    upstream_api: str | None = None
    """``responses``: the provider serves the model only through that API of its own (OpenAI's
    ``-pro`` and ``-codex`` models); unset for the provider's default API."""


UPSTREAM_APIS = {"responses": "openai"}
"""The upstream APIs a model may name, each with the one provider that has it."""


@dataclass(frozen=True, slots=True)
class DeveloperDefaults:
    provider: str = ""
    params: str = "open-weights"
    input: tuple[str, ...] = ("text",)
    url: str = ""
    docs_url: str = ""
    video_vendor: str = ""
    """Path segment of ``/v2/generate/video/<vendor>/generation`` (survey §2.0)."""


@dataclass(frozen=True, slots=True)
class Overrides:
    default_price: tuple[float, float]
    default_embedding_price: tuple[float, float]
    endpoints: dict[str, tuple[str, ...]]
    param_sets: dict[str, frozenset[str]]
    developers: dict[str, DeveloperDefaults]
    reasoning: frozenset[str]
    deprecated_types: dict[str, str]
    models: dict[str, ModelOverride] = field(default_factory=dict)


def _typed(cls: type[Any], raw: dict[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def read_overrides(path: Path) -> Overrides:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    defaults = raw["defaults"]
    return Overrides(
        default_price=tuple(defaults["price_estimate"]),
        default_embedding_price=tuple(defaults["embedding_price_estimate"]),
        endpoints={k: tuple(v) for k, v in raw["endpoints"].items()},
        param_sets={k: frozenset(v) for k, v in raw["param_sets"].items()},
        developers={k: _typed(DeveloperDefaults, v, f"developers.{k}") for k, v in raw["developers"].items()},
        reasoning=frozenset(raw["reasoning"]["models"]),
        deprecated_types=dict(raw["deprecated_types"]),
        models={k: _typed(ModelOverride, v, f"models.{k}") for k, v in raw["models"].items()},
    )


# ---- building ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Model:
    row: TableRow
    id: str
    aliases: list[str]
    page: ModelPage | None = None
    block: SchemaBlock | None = None

    @property
    def deprecated(self) -> bool:
        return self.row.table == len(TABLE_TITLES) - 1


def _canonical(ids: tuple[str, ...]) -> str:
    """The vendor-prefixed id when the row lists one (``anthropic/claude-sonnet-4.5`` over
    ``claude-sonnet-4-5``), else the first."""
    return next((i for i in ids if "/" in i), ids[0])


def _collect(rows: tuple[TableRow, ...]) -> list[_Model]:
    models: list[_Model] = []
    seen: set[tuple[str, ...]] = set()
    for row in rows:
        if not row.ids or row.ids == ("-",) or row.ids in seen:
            continue  # no id (OCR row 1, two deprecated rows), or a repeated row
        seen.add(row.ids)
        canonical = _canonical(row.ids)
        models.append(_Model(row, canonical, [i for i in row.ids if i != canonical]))
    return models


def _attach_pages(models: list[_Model], pages: tuple[ModelPage, ...], names: dict[str, _Model]) -> None:
    """A page's ids that no table lists become aliases of the model the page documents: another
    of its ids, or the same id without its vendor prefix (survey §7.1: ``google/gemini-2.0-flash``
    is the table's ``gemini-2.0-flash``)."""
    for page in pages:
        known = [names[i] for i in page.ids if i in names]
        for model in known:
            model.page = model.page or page
        for extra in (i for i in page.ids if i not in names):
            target = known[0] if known else names.get(extra.split("/", 1)[-1])
            if target is None:
                raise ValueError(f"page at line {page.line} documents {extra!r}, which no table lists")
            target.aliases.append(extra)
            names[extra] = target
            target.page = target.page or page


def _attach_blocks(models: list[_Model], blocks: tuple[SchemaBlock, ...], names: dict[str, _Model]) -> None:
    """Each block documents the model its response example names, and the other models of that
    model's page (``qwen-max`` and ``qwen-max-2025-01-25`` share one page and one schema)."""
    for block in blocks:
        # Some blocks name the model with an ``alibaba-cloud/`` prefix the pages spell ``alibaba/``.
        model = names.get(block.model) or names.get(block.model.replace("alibaba-cloud/", "alibaba/", 1))
        if model is None:
            raise ValueError(f"schema block at line {block.line} is for unknown model {block.model!r}")
        model.block = block
    for model in models:
        if model.block is None and model.page is not None:
            model.block = next((m.block for m in models if m.page is model.page and m.block is not None), None)


def _usd(price: tuple[float, float]) -> tuple[int, int]:
    return (
        int(Decimal(str(price[0])) * CREDITS_PER_USD),
        int(Decimal(str(price[1])) * CREDITS_PER_USD),
    )


@dataclass(frozen=True, slots=True)
class _Context:
    ov: Overrides
    blocks: dict[str, SchemaBlock]
    """Schema blocks by canonical model id."""
    shared_cards: frozenset[tuple[int, str]]
    """(table, card) pairs that several models share ("ERNIE 4.5", "Aura 2")."""
    media: _Media

    def block(self, m: _Model, mo: ModelOverride) -> SchemaBlock | None:
        if mo.schema_from is None:
            return m.block
        if mo.schema_from not in self.blocks:
            raise ValueError(f"{m.id}: schema_from names {mo.schema_from!r}, which has no schema block")
        return self.blocks[mo.schema_from]


@dataclass(frozen=True, slots=True)
class _Media:
    """What the media models get beyond the overrides (``catalog_media.py``)."""

    routes: dict[str, Route]
    prices: PriceTable
    edits: frozenset[str]
    """Models with an ``/v1/images/edits`` request (``media_requests.json``)."""


def _record(m: _Model, ctx: _Context) -> dict[str, Any]:
    ov = ctx.ov
    mo = ov.models.get(m.id, ModelOverride())
    dev = ov.developers.get(m.row.developer, DeveloperDefaults())
    kind = mo.type or (ov.deprecated_types.get(m.id, "chat-completion") if m.deprecated else TYPES[m.row.table])
    route = ctx.media.routes.get(m.id)
    provider = "" if m.deprecated else (mo.provider if mo.provider is not None else dev.provider)
    if route is not None:
        provider = route.provider  # the registry, not PROVIDERS, knows the media providers
    elif provider and provider not in PROVIDERS:
        raise ValueError(f"{m.id}: unknown provider {provider!r}")
    upstream = ""
    if provider:
        default = m.id if provider in AGGREGATORS else m.id.split("/", 1)[-1]
        upstream = (route.upstream if route is not None else mo.upstream) or default
    chat = kind == "chat-completion" and not m.deprecated
    block = ctx.block(m, mo)
    params = _params(m.id, block, mo, dev, ov) if chat else frozenset()
    reasoning = chat and (m.id in ov.reasoning or (block is not None and "reasoning_effort" in block.fields))
    url = mo.url or dev.url or (f"https://huggingface.co/{m.id}" if "/" in m.id else "")
    endpoints = _endpoints(kind, dev, ov)
    if m.id in ctx.media.edits:
        endpoints.append("/v1/images/edits")
    record = {
        "id": m.id,
        "aliases": m.aliases,
        "type": kind,
        "deprecated": m.deprecated,
        "provider": provider,
        "upstream_model": upstream,
        "name": _name(m, mo, ctx),
        "developer": m.row.developer,
        "description": _description(m, mo, kind),
        "context_length": mo.context_length or m.row.context,
        "max_output": mo.max_output,
        "url": url,
        "docs_url": mo.docs_url or dev.docs_url or url,
        "features": _features(block, params, reasoning=reasoning, provider=provider) if chat else _bare(kind),
        "endpoints": endpoints,
        "params": sorted(params),
        "input_modalities": sorted(_inputs(block, mo, dev)) if chat else [],
        "price": _price(m, mo, kind, ctx),
        "seed_line": m.row.line,
    }
    if route is not None and route.unavailable:
        record["unavailable"] = route.unavailable
    if mo.upstream_api is not None:
        if UPSTREAM_APIS.get(mo.upstream_api) != provider:
            raise ValueError(f"{m.id}: upstream_api {mo.upstream_api!r} is not an API of provider {provider!r}")
        record["upstream_api"] = mo.upstream_api
    return record


def _params(
    model_id: str, block: SchemaBlock | None, mo: ModelOverride, dev: DeveloperDefaults, ov: Overrides
) -> frozenset[str]:
    """From the model's schema block when it has one, else the param set of its developer (or
    its own); then the gateway-level ones and the per-model additions/removals."""
    if block is not None:
        found = {p for name in block.fields for p in _BLOCK_PARAMS.get(name, (name,))}
        if block.anthropic:  # tools are described by ``input_schema``, not by leaf names we read
            found |= {"tools", "tool_choice"}
        if block.logit_bias:
            found.add("logit_bias")
    else:
        set_name = mo.params or dev.params
        if set_name not in ov.param_sets:
            raise ValueError(f"{model_id}: unknown param set {set_name!r}")
        found = set(ov.param_sets[set_name])
    unknown = (set(mo.params_add) | set(mo.params_remove)) - WIRE_PARAMS
    if unknown:
        raise ValueError(f"{model_id}: params_add/params_remove name unknown parameters {sorted(unknown)}")
    return frozenset(((found & WIRE_PARAMS) | GATEWAY_PARAMS | set(mo.params_add)) - set(mo.params_remove))


def _inputs(block: SchemaBlock | None, mo: ModelOverride, dev: DeveloperDefaults) -> set[str]:
    if mo.input is not None:
        return set(mo.input)
    if block is not None:
        return {"text"} | (block.parts & {"image", "file"})
    return set(dev.input)


def _features(block: SchemaBlock | None, params: frozenset[str], *, reasoning: bool, provider: str) -> list[str]:
    roles = block.roles if block is not None and not block.anthropic else None
    # Without a schema block only OpenAI models are known to take the developer role.
    developer = ("developer" in roles) if roles is not None else provider == "openai"
    has = {
        "openai/chat-completion": True,
        "openai/response-api": True,
        "openai/chat-completion.function": "tools" in params,
        "openai/chat-completion.message.refusal": provider == "openai",
        "openai/chat-completion.message.system": roles is None or "system" in roles,
        "openai/chat-completion.message.developer": developer,
        "openai/chat-completion.message.assistant": True,
        "openai/chat-completion.stream": True,
        "openai/chat-completion.max-completion-tokens": "max_completion_tokens" in params,
        "openai/chat-completion.number-of-messages": True,
        "openai/chat-completion.stop": "stop" in params,
        "openai/chat-completion.seed": "seed" in params,
        "openai/chat-completion.reasoning": reasoning,
        "openai/chat-completion.response-format": "response_format" in params,
        "openai/chat-completion.web-search": "web_search_options" in params,
    }
    return [f for f in FEATURE_ORDER if has[f]]


def _bare(kind: str) -> list[str]:
    """Deprecated chat models keep the one feature that says what they were: the seeds give
    every chat model a non-empty list (survey §2.7)."""
    return ["openai/chat-completion"] if kind == "chat-completion" else []


def _endpoints(kind: str, dev: DeveloperDefaults, ov: Overrides) -> list[str]:
    vendor = dev.video_vendor or "generic"
    return [e.replace("{vendor}", vendor) for e in ov.endpoints[kind]]


def _price(m: _Model, mo: ModelOverride, kind: str, ctx: _Context) -> dict[str, Any]:
    """Tokens: ``{input, output, source}``; media: ``{source, unit, per_million, variants}``
    (``media_prices.toml``); ``{0, 0, "unpriced"}`` for deprecated models and the media types
    without a unit price yet."""
    ov = ctx.ov
    if mo.price is not None and mo.price_estimate is not None:
        raise ValueError(f"{m.id}: both price and price_estimate")
    if m.deprecated:
        return {"input": 0, "output": 0, "source": "unpriced"}
    if kind not in _TOKEN_TYPES:
        if mo.price is not None or mo.price_estimate is not None:
            raise ValueError(f"{m.id}: a media model's price goes in media_prices.toml")
        unit_price = ctx.media.prices.price(m.id, kind)
        return unit_price or {"input": 0, "output": 0, "source": "unpriced"}
    if mo.price is not None:
        usd, source = mo.price, "list"
    elif mo.price_estimate is not None:
        usd, source = mo.price_estimate, "estimate"
    elif kind == "chat-completion":
        usd, source = ov.default_price, "estimate"
    elif kind == "embedding":
        usd, source = ov.default_embedding_price, "estimate"
    else:
        return {"input": 0, "output": 0, "source": "unpriced"}
    credits_in, credits_out = _usd(usd)
    return {"input": credits_in, "output": credits_out, "source": source}


def _name(m: _Model, mo: ModelOverride, ctx: _Context) -> str:
    if mo.name:
        return mo.name
    card = m.row.card.strip()
    if card not in _NO_CARD and (m.row.table, card) not in ctx.shared_cards:
        return card
    if m.page is not None:
        return m.page.title
    return f"{card} ({m.id})" if card not in _NO_CARD else m.id


_KIND_LABEL = {
    "chat-completion": "chat",
    "image": "image generation",
    "video": "video generation",
    "stt": "speech-to-text",
    "tts": "text-to-speech",
    "voice-chat": "voice",
    "music": "music generation",
    "ocr": "OCR",
    "3d": "3D generation",
    "embedding": "text embedding",
}


def _description(m: _Model, mo: ModelOverride, kind: str) -> str:
    """The override, else the model page's overview, else a generated sentence."""
    if mo.description:
        return mo.description
    label = _KIND_LABEL[kind]
    article = "An" if label[0] in "aeiouAEIO" else "A"
    if m.deprecated:
        return f"{article} {label} model by {m.row.developer}, no longer available (deprecated)."
    if m.page is not None and m.page.overview:
        if _GAP.search(m.page.overview):
            raise ValueError(f"{m.id}: the overview lost a link's text; write a description in the overrides")
        return m.page.overview
    return f"{article} {label} model by {m.row.developer}."


def _cross_check(rows: tuple[TableRow, ...], text_page_rows: tuple[TableRow, ...]) -> None:
    """The Text Models page repeats the text table (from its row 2 on): both parses must agree."""
    mine = [(r.ids, r.developer, r.context, r.card) for r in rows if r.table == 0][1:]
    copy = [(r.ids, r.developer, r.context, r.card) for r in text_page_rows]
    if mine != copy:
        raise ValueError("the two copies of the text model table parse differently")


def build(seeds: Path, overrides: Path, media: Path = DATA) -> bytes:
    """``media``: the folder of ``routes/``, ``media_prices.toml`` and ``media_requests.json``."""
    facts = read_seeds(seeds)
    _cross_check(facts.rows, facts.text_page_rows)
    ov = read_overrides(overrides)
    models = _collect(facts.rows)
    names: dict[str, _Model] = {}
    for model in models:
        for name in (model.id, *model.aliases):
            if name in names:
                raise ValueError(f"{name!r} names two models (lines {names[name].row.line}, {model.row.line})")
            names[name] = model
    _attach_pages(models, facts.pages, names)
    _attach_blocks(models, facts.blocks, names)
    unknown = sorted(set(ov.models) - {m.id for m in models})
    unknown += sorted(set(ov.reasoning) - {m.id for m in models})
    unknown += sorted(set(ov.deprecated_types) - {m.id for m in models if m.deprecated})
    if unknown:
        raise ValueError(f"overrides name models the seeds do not list (use the canonical id): {unknown}")
    cards = Counter((m.row.table, m.row.card.strip()) for m in models)
    blocks = {m.id: m.block for m in models if m.block is not None}
    ctx = _Context(ov, blocks, frozenset(k for k, n in cards.items() if n > 1), _read_media(media, models, ov))
    records = [_record(m, ctx) for m in models]
    return _render(records)


def _read_media(folder: Path, models: list[_Model], ov: Overrides) -> _Media:
    routes = read_routes(folder / "routes")
    check_routes(routes, [m.id for m in models if not m.deprecated], [m.id for m in models if m.deprecated])
    prices = read_prices(folder / "media_prices.toml")
    kinds = {m.id: ov.models.get(m.id, ModelOverride()).type or TYPES[m.row.table] for m in models if not m.deprecated}
    prices.check({model_id: kind for model_id, kind in kinds.items() if kind not in _TOKEN_TYPES})
    requests = folder / "media_requests.json"
    edits = orjson.loads(requests.read_bytes())["edits"] if requests.exists() else {}
    return _Media(routes, prices, frozenset(edits))


_TOKEN_TYPES = ("chat-completion", "embedding")


def _render(records: list[dict[str, Any]]) -> bytes:
    active = [r for r in records if not r["deprecated"]]
    about = {
        "generated_by": "scripts/build_catalog.py",
        "sources": [
            f"seeds/{SEED_FILE}",
            "src/unigate/catalog/data/overrides.toml",
            "src/unigate/catalog/data/media_prices.toml",
            "src/unigate/catalog/data/routes/*.toml",
            "src/unigate/catalog/data/media_requests.json (edits)",
        ],
        "note": "Generated file: edit overrides.toml or the script, then rerun the script.",
        "counts": {
            "models": len(records),
            "active_models": len(active),
            "active_ids": sum(1 + len(r["aliases"]) for r in active),
            "deprecated_models": len(records) - len(active),
            "deprecated_ids": sum(1 + len(r["aliases"]) for r in records if r["deprecated"]),
            "aliases": sum(len(r["aliases"]) for r in records),
        },
    }
    lines = [b"{", b'"about": ' + orjson.dumps(about) + b",", b'"models": [']
    lines += [orjson.dumps(r) + (b"," if i < len(records) - 1 else b"") for i, r in enumerate(records)]
    lines += [b"]", b"}", b""]
    return b"\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=Path, default=ROOT.parent / "shared" / "seeds", help="the seeds folder")
    parser.add_argument("--overrides", type=Path, default=DATA / "overrides.toml")
    parser.add_argument(
        "--media", type=Path, default=DATA, help="folder of routes/, media_prices.toml, media_requests.json"
    )
    parser.add_argument("--out", type=Path, default=DATA / "models.json")
    parser.add_argument("--check", action="store_true", help="exit 1 if --out is not what the script builds")
    args = parser.parse_args(argv)
    data = build(args.seeds, args.overrides, args.media)
    if args.check:
        current = args.out.read_bytes() if args.out.exists() else b""
        if current != data:
            print(f"{args.out} is stale: run scripts/build_catalog.py", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
