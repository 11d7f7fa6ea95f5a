"""Placeholder until the catalog helper's version lands (replaced at merge)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.catalog.fields import request_schema
from unigate.catalog.spec import ModelSpec
from unigate.primitives.records import record

__all__ = ["JobUnits", "job_units"]


@record
class JobUnits:
    duration_s: float | None
    variant: str


def job_units(spec: ModelSpec, fields: Mapping[str, Any]) -> JobUnits:
    schema = request_schema(spec)
    duration = fields.get("duration")
    if duration is None and schema is not None:
        duration = schema.default("duration")
    try:
        seconds = float(duration) if duration is not None else 5.0
    except (TypeError, ValueError):
        seconds = 5.0
    return JobUnits(seconds, "")
