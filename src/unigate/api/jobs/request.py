"""A create request's body as a ``GenerationRequest``: the model's documented fields checked
against its reference schema (``catalog/fields.py``: an unknown field, a wrong type, a value
outside its enum or range is a 400 naming it), the URLs a client gives vetted (never a private
address, whoever fetches them: the gateway or the upstream), and what the reservation prices
(``catalog/job_units.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.catalog.fields import request_schema
from unigate.catalog.job_units import job_units
from unigate.catalog.spec import ModelSpec
from unigate.core.jobs import GenerationRequest, JobKind
from unigate.errors import InvalidRequest, UnsupportedParameter
from unigate.providers.fetch import FetchError, FetchPolicy, vet_url

__all__ = ["generation_request"]

_POLICY = FetchPolicy()
_GATEWAY_FIELDS = ("callback_url",)
"""Ours, beyond the service's fields: taken before the schema sees the body."""


def generation_request(body: Mapping[str, Any], spec: ModelSpec, kind: JobKind) -> tuple[GenerationRequest, str | None]:
    """The canonical request of ``body`` for ``spec``, and its webhook URL if it asks for one."""
    fields = dict(body)
    callback = fields.pop("callback_url", None)
    if callback is not None and not isinstance(callback, str):
        raise InvalidRequest("'callback_url' must be a URL.", param="callback_url")
    _provider(fields, spec)
    schema = request_schema(spec)
    if schema is not None:
        fields = schema.validate(fields)
    fields.pop("model", None)
    prompt = fields.pop("prompt", None)
    if prompt is not None and not isinstance(prompt, str):
        raise InvalidRequest("'prompt' must be a string.", param="prompt")
    for name, value in fields.items():
        _vet_urls(name, value)
    units = job_units(spec, {**fields, **({"prompt": prompt} if prompt is not None else {})})
    request = GenerationRequest(
        model=spec.id,
        kind=kind,
        prompt=prompt,
        options=fields,
        duration_s=units.duration_s,
        variant=units.variant,
    )
    return request, callback


def _provider(fields: dict[str, Any], spec: ModelSpec) -> None:
    """The service's optional ``provider`` (``auto``, or a vendor): this server routes each model
    one way, so another name is refused rather than ignored."""
    asked = fields.pop("provider", None)
    if asked is None or asked in ("auto", spec.provider):
        return
    raise UnsupportedParameter(
        f"This server serves {spec.id!r} through its {spec.provider!r} provider only; 'provider' may be "
        f"'auto' or {spec.provider!r}.",
        param="provider",
    )


def _vet_urls(name: str, value: Any) -> None:
    """Every ``http(s)`` URL under a field named ``*_url``/``*_urls`` (``image_url``,
    ``reference_image_urls``, ``elements[0].image_url``...)."""
    if isinstance(value, str):
        if name.endswith(("url", "urls")) and value.startswith(("http://", "https://")):
            try:
                vet_url(value, _POLICY)
            except FetchError as exc:
                raise InvalidRequest(f"'{name}' cannot be used: {exc}.", param=name, code="invalid_url") from None
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            _vet_urls(str(key), inner)
    elif isinstance(value, list):
        for inner in value:
            _vet_urls(name, inner)
