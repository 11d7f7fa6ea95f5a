"""OpenTelemetry tracing, from the standard ``OTEL_*`` variables only (no TOML table: collectors,
sidecars and Kubernetes operators set these, so the gateway reads what every other service reads).

Tracing is on when an OTLP endpoint is given (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, used as is,
or ``OTEL_EXPORTER_OTLP_ENDPOINT``, to which ``/v1/traces`` is appended, as the specification
says), unless ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none``. Only OTLP over
HTTP/protobuf is exported. Everything is read here and handed to the SDK explicitly
(``observability/tracing.py``), so the settings are the one reader of the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast, get_args
from urllib.parse import unquote

__all__ = ["Sampler", "TracingSettings", "tracing_settings"]

Sampler = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
]


@dataclass(frozen=True, slots=True)
class TracingSettings:
    endpoint: str | None = None
    """The OTLP/HTTP traces URL (``.../v1/traces``); ``None``: tracing off."""
    headers: dict[str, str] = field(default_factory=dict)
    """Sent with every export (``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS``: a collector's API key)."""
    timeout_s: float = 10.0
    """One export's time limit (``OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT``, in milliseconds)."""
    service_name: str = "unigate"
    resource_attributes: dict[str, str] = field(default_factory=dict)
    sampler: Sampler = "parentbased_always_on"
    sampler_arg: float = 1.0
    """The ratio of the ``traceidratio`` samplers."""

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None


def _pairs(value: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` with percent-encoded values (the format of the OTEL headers and resource
    attributes variables)."""
    out: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition("=")
        if sep and key.strip():
            out[key.strip()] = unquote(val.strip())
    return out


def _either(env: Mapping[str, str], name: str) -> str | None:
    """The traces-specific variable, else the general one (``OTEL_EXPORTER_OTLP_TRACES_X``, ``..._X``)."""
    return env.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or env.get(f"OTEL_EXPORTER_OTLP_{name}") or None


def _endpoint(env: Mapping[str, str]) -> str | None:
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].strip()
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return f"{base.rstrip('/')}/v1/traces" if base else None


def tracing_settings(env: Mapping[str, str]) -> TracingSettings:
    """The tracing settings the ``OTEL_*`` variables of ``env`` give."""
    endpoint = _endpoint(env)
    exporter = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if exporter not in {"otlp", "none", ""}:
        raise ValueError(f"OTEL_TRACES_EXPORTER={exporter!r}: this server exports only 'otlp' (or 'none')")
    protocol = (_either(env, "PROTOCOL") or "http/protobuf").strip().lower()
    if endpoint and protocol != "http/protobuf":
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: this server exports only 'http/protobuf'")
    if exporter == "none" or env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        endpoint = None
    resource = _pairs(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    name = env.get("OTEL_SERVICE_NAME", "").strip() or resource.pop("service.name", "") or "unigate"
    resource.pop("service.name", None)
    sampler = env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    if sampler not in get_args(Sampler):
        raise ValueError(f"OTEL_TRACES_SAMPLER={sampler!r}: expected one of {', '.join(get_args(Sampler))}")
    arg = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    timeout = _either(env, "TIMEOUT")
    return TracingSettings(
        endpoint=endpoint,
        headers=_pairs(_either(env, "HEADERS") or ""),
        timeout_s=float(timeout) / 1000 if timeout else 10.0,
        service_name=name,
        resource_attributes=resource,
        sampler=cast(Sampler, sampler),
        sampler_arg=float(arg) if arg else 1.0,
    )
