"""Schema migrations as versioned ``.sql`` files shipped inside the package.

Each store keeps its steps in ``storage/<store>/migrations/NNNN_<what>.sql``, numbered from 0001
without a gap. A database records the last version it applied (SQLite in ``PRAGMA
user_version``, PostgreSQL in its ``schema_version`` table; ``schema.py`` of each store), and
opening the store applies the versions after it, in order, each in the transaction that records
it. Steps are append-only: a released file is never edited, a change is a new file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from importlib.resources import files
from typing import TypeVar

from unigate.primitives.records import record

__all__ = ["SchemaState", "load", "pending"]

_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")

T = TypeVar("T")


@record
class SchemaState:
    """A database's schema as ``unigate doctor`` reports it."""

    version: int
    latest: int
    """The version this unigate migrates to."""
    management_key_stored: bool


def load(package: str) -> tuple[str, ...]:
    """The text of each migration of ``package`` (``unigate.storage.sqlite``, say), version 1 first."""
    found: dict[int, str] = {}
    for entry in (files(package) / "migrations").iterdir():
        if (name := _NAME.fullmatch(entry.name)) is not None:
            found[int(name.group(1))] = entry.read_text(encoding="utf-8")
    if sorted(found) != list(range(1, len(found) + 1)):
        raise RuntimeError(f"the migrations of {package} are not numbered 1 to {len(found)}: {sorted(found)}")
    return tuple(found[version] for version in range(1, len(found) + 1))


def pending(steps: Sequence[T], version: int) -> Iterator[tuple[int, T]]:
    """The steps a database at ``version`` lacks, each with the version it brings the database to.
    ``RuntimeError`` for a database that a newer unigate migrated: this one cannot read it."""
    if version > len(steps):
        raise RuntimeError(f"the database has schema version {version}, newer than this unigate knows")
    return enumerate(steps[version:], start=version + 1)
