"""``@record``: the immutable dataclasses that every request makes (the canonical request and its
messages, reservations, settlements, charges, rate-limit decisions, routing candidates, the
PostgreSQL store's batch items).

A ``frozen=True`` dataclass sets each field through ``object.__setattr__`` when it is built, a
cost every request pays many times over (the measurements are in the commit that made this
decorator, ``git log -S dataclass_transform``). A record is a
slotted dataclass that the type checker treats as frozen (``dataclass_transform(frozen_default=
True)``: mypy rejects an assignment to a field) and that hashes and compares by its fields as a
frozen one does, built at run time without that cost. Nothing enforces immutability at run time;
``dataclasses.replace`` makes a changed copy, as for a frozen dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform

__all__ = ["record"]

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T]) -> type[T]:
    return dataclass(slots=True, unsafe_hash=True)(cls)
