"""The model catalog: ids and aliases resolved to ``ModelSpec``s."""

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

    def resolve(self, name: str) -> ModelSpec:
        spec = self._by_name.get(name)
        if spec is None:
            raise ModelNotFound(f"The model {name!r} does not exist. GET /models lists the models.", param="model")
        return spec

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)
