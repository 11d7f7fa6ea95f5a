"""Models the operator defines or re-routes in the settings file, under ``[models."<id>"]``::

    [models."my-llama"]                  # a new model, served by a self-hosted engine
    provider = "vllm"                    # any provider name (VLLM_BASE_URL), or a custom
    upstream_model = "meta-llama/Llama-3.1-8B-Instruct"   # [providers.<name>] kind = "openai"
    input_price_per_mtok = 100000        # credits per 1M prompt tokens
    output_price_per_mtok = 200000
    context_length = 32768
    aliases = ["llama-local"]

    [models."gpt-4o"]                    # an existing catalog model: only the given fields change
    provider = "openrouter"
    upstream_model = "openai/gpt-4o"

A new model defaults to a text chat model that accepts every chat parameter; for an existing one
the catalog's values stay unless overridden. ``upstream_api = "responses"`` calls a model through
its OpenAI-compatible provider's ``/responses`` (as the catalog does for OpenAI's ``-pro`` and
``-codex`` models); a table that moves a model to another provider drops the catalog's value
unless it sets one, since that provider's default API is the one known to serve it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from unigate.catalog.builtin import CHAT_FEATURES, CHAT_PARAMS
from unigate.catalog.spec import ModelSpec, Price

__all__ = ["apply_model_tables"]

_FIELDS = {
    "provider",
    "upstream_model",
    "input_price_per_mtok",
    "output_price_per_mtok",
    "name",
    "developer",
    "description",
    "context_length",
    "max_output",
    "aliases",
    "params",
    "input_modalities",
    "upstream_api",
}

UPSTREAM_APIS = frozenset({"", "responses"})
"""``upstream_api`` values: the provider's default API, or the Responses API (``ModelSpec``)."""


def _check(model_id: str, table: dict[str, Any]) -> None:
    unknown = set(table) - _FIELDS
    if unknown:
        raise ValueError(f"unknown settings in [models.{model_id!r}]: {', '.join(sorted(unknown))}")
    for key in ("input_price_per_mtok", "output_price_per_mtok", "context_length", "max_output"):
        if key in table and (not isinstance(table[key], int) or table[key] < 0):
            raise ValueError(f"[models.{model_id!r}] {key} must be a whole number >= 0")
    if table.get("upstream_api", "") not in UPSTREAM_APIS:
        raise ValueError(f"[models.{model_id!r}] upstream_api must be one of {sorted(UPSTREAM_APIS)}")


def _changes(table: dict[str, Any], base: ModelSpec | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("provider", "upstream_model", "name", "developer", "description", "context_length", "max_output"):
        if key in table:
            out[key] = table[key]
    if "aliases" in table:
        out["aliases"] = tuple(str(a) for a in table["aliases"])
    if "params" in table:
        out["params"] = frozenset(str(p) for p in table["params"])
    if "input_modalities" in table:
        out["input_modalities"] = frozenset(str(m) for m in table["input_modalities"])
    if "upstream_api" in table:
        out["upstream_api"] = table["upstream_api"]
    elif base is not None and out.get("provider", base.provider) != base.provider:
        out["upstream_api"] = ""  # another provider: its default API, unless the table names one
    if "input_price_per_mtok" in table or "output_price_per_mtok" in table:
        old = base.price if base else Price(0, 0)
        out["price"] = Price(
            int(table.get("input_price_per_mtok", old.input_per_mtok)),
            int(table.get("output_price_per_mtok", old.output_per_mtok)),
        )
    return out


def apply_model_tables(specs: list[ModelSpec], tables: dict[str, dict[str, Any]]) -> list[ModelSpec]:
    """``specs`` with the ``[models.*]`` tables applied: existing ids updated, new ones appended."""
    by_id = {s.id: i for i, s in enumerate(specs)}
    out = list(specs)
    for model_id, table in tables.items():
        _check(model_id, table)
        if model_id in by_id:
            i = by_id[model_id]
            out[i] = replace(out[i], **_changes(table, out[i]), deprecated=False)
            continue
        if "provider" not in table:
            raise ValueError(f"[models.{model_id!r}] needs a provider")
        fields = _changes(table, None)
        out.append(
            ModelSpec(
                id=model_id,
                provider=fields.pop("provider"),
                upstream_model=fields.pop("upstream_model", model_id),
                price=fields.pop("price", Price(0, 0)),
                name=fields.pop("name", model_id),
                developer=fields.pop("developer", "self-hosted"),
                features=CHAT_FEATURES,
                params=fields.pop("params", CHAT_PARAMS),
                **fields,
            )
        )
    return out
