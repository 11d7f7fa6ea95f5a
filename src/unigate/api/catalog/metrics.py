"""``GET /models/metrics`` (the service docs' page "Model Performance Metrics"): latency percentiles
per model over the last five minutes, from what this gateway measured; no key needed.

The numbers come from the usage ledger, shared by every replica: each settled request's latency
(from its reservation to its settlement, a generation job's from its creation) and its completion
tokens. Only successful requests count; a model without one in the window is absent.
``duration_ms`` is given for every model and ``tps`` (completion tokens per second of the whole
request) for text models; ``ttft_ms`` is never given: the ledger keeps no time to first token,
and the service's rule is that a missing key means the metric does not apply here. At most
``LATENCY_SAMPLE`` of the newest ledger rows are looked at, so the cost stays bounded.

``aliases`` is repeated, at most 100 times, each value matched exactly against a model's id and
its aliases (commas are not split: ``a,b`` names one model); any other parameter is a 400.
``endpoint`` is the model's main endpoint in the catalog (the ledger does not record which of a
chat model's four APIs a request came through).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from unigate.accounts.console_views import LATENCY_SAMPLE
from unigate.accounts.reports import LatencySample
from unigate.api.billing.window import check_params
from unigate.api.context import GATEWAY, STORE
from unigate.api.wire_time import iso_z
from unigate.catalog.catalog import Catalog
from unigate.catalog.spec import ModelSpec
from unigate.errors import InvalidRequest, ModelNotFound

__all__ = ["MAX_ALIASES", "WINDOW_S", "model_metrics"]

WINDOW_S = 300
MAX_ALIASES = 100


def _quantiles(values: list[float]) -> dict[str, float]:
    """Nearest-rank percentiles, as the console's (``accounts/console_views.percentile``)."""
    ordered = sorted(values)
    return {f"p{q}": round(ordered[max(1, -(-len(ordered) * q // 100)) - 1], 1) for q in (50, 75, 90, 99)}


def _endpoint(spec: ModelSpec | None) -> str:
    if spec is None or not spec.endpoints:
        return "/v1/chat/completions"
    generic = [e for e in spec.endpoints if "/generate/video/" not in e]
    return (generic or list(spec.endpoints))[0]


def _spec(catalog: Catalog, model: str) -> ModelSpec | None:
    try:
        return catalog.resolve(model)
    except ModelNotFound:
        return None


def _entry(model: str, spec: ModelSpec | None, samples: list[LatencySample]) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    if spec is None or spec.type == "chat-completion":
        rates = [s.completion_tokens * 1000 / s.latency_ms for s in samples if s.completion_tokens and s.latency_ms]
        if rates:
            metrics["tps"] = _quantiles(rates)
    metrics["duration_ms"] = _quantiles([float(s.latency_ms) for s in samples])
    return {"alias": model, "endpoint": _endpoint(spec), "metrics": metrics}


async def model_metrics(request: web.Request) -> web.Response:
    """``GET /models/metrics``."""
    check_params(request.query, {"aliases"})
    names = request.query.getall("aliases", [])
    if len(names) > MAX_ALIASES:
        raise InvalidRequest(f"Give at most {MAX_ALIASES} 'aliases' values.", param="aliases")
    now = datetime.now(UTC)
    samples = await request.app[STORE].reports.latency_samples(now - timedelta(seconds=WINDOW_S), LATENCY_SAMPLE)
    by_model: dict[str, list[LatencySample]] = defaultdict(list)
    for s in samples:
        by_model[s.model].append(s)
    catalog = request.app[GATEWAY].catalog
    wanted = set(names)
    models = []
    for model in sorted(by_model):
        spec = _spec(catalog, model)
        if names and not wanted & {model, *(spec.aliases if spec else ())}:
            continue
        models.append(_entry(model, spec, by_model[model]))
    body = {"window_seconds": WINDOW_S, "generated_at": iso_z(now), "models": models}
    return web.Response(body=orjson.dumps(body), content_type="application/json")
