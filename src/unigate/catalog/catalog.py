"""The model catalog: ids and aliases resolved to ``ModelSpec``s.

A model's upstream id (``claude-sonnet-4-6``, ``gpt-5.1-codex``) names it too, when no id or alias
takes that name and exactly one served model has it: coding agents send their makers' model ids
by default, and LiteLLM answers to them as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from unigate.catalog.spec import ModelSpec
from unigate.errors import ModelNotFound

__all__ = ["Catalog"]


class Catalog:
    def __init__(self, models: Iterable[ModelSpec]) -> None:
        self._models: dict[str, ModelSpec] = {}
        self._by_name: dict[str, ModelSpec] = {}
        for spec in models:
            if spec.id in self._models:
                raise ValueError(f"model {spec.id!r} is defined twice")
            self._models[spec.id] = spec
            for name in (spec.id, *spec.aliases):
                if name in self._by_name and self._by_name[name] is not spec:
                    raise ValueError(f"model name {name!r} names two models")
                self._by_name[name] = spec
        upstream: dict[str, list[ModelSpec]] = {}
        for spec in self._models.values():
            if spec.upstream_model and not spec.deprecated:
                upstream.setdefault(spec.upstream_model, []).append(spec)
        for name, specs in upstream.items():
            if len(specs) == 1 and name not in self._by_name:
                self._by_name[name] = specs[0]

    def resolve(self, name: str) -> ModelSpec:
        spec = self._by_name.get(name)
        if spec is None:
            raise ModelNotFound(f"The model {name!r} does not exist. GET /models lists the models.", param="model")
        return spec

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)
