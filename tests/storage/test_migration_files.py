"""The migrations as files: each store ships its numbered ``.sql`` files as package data, the
loader refuses a gap in the numbering, and SQLite's steps split into single statements."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from unigate.storage.migrations import load, pending
from unigate.storage.sqlite.schema import statements

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "unigate"


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_each_store_ships_its_numbered_migrations(store: str) -> None:
    files = sorted((PACKAGE / "storage" / store / "migrations").glob("*.sql"))
    assert [int(f.name[:4]) for f in files] == list(range(1, len(files) + 1))
    assert all(re.fullmatch(r"\d{4}_[a-z0-9_]+\.sql", f.name) for f in files)
    assert load(f"unigate.storage.{store}") == tuple(f.read_text() for f in files)
    shipped = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["unigate"]
    for f in files:
        assert any(fnmatch(str(f.relative_to(PACKAGE)), glob) for glob in shipped), f"{f.name} is not package data"


def test_a_gap_in_the_numbering_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    migrations = tmp_path / "gapped_store" / "migrations"
    migrations.mkdir(parents=True)
    (tmp_path / "gapped_store" / "__init__.py").write_text("")
    (migrations / "0001_first.sql").write_text("SELECT 1;\n")
    (migrations / "0003_third.sql").write_text("SELECT 3;\n")
    (migrations / "notes.txt").write_text("not a migration")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RuntimeError, match="not numbered"):
        load("gapped_store")
    (migrations / "0002_second.sql").write_text("SELECT 2;\n")
    assert load("gapped_store") == ("SELECT 1;\n", "SELECT 2;\n", "SELECT 3;\n")


def test_a_database_is_brought_from_its_version_and_a_newer_one_refused() -> None:
    steps = ("a", "b", "c")
    assert list(pending(steps, 0)) == [(1, "a"), (2, "b"), (3, "c")]
    assert list(pending(steps, 2)) == [(3, "c")]
    assert list(pending(steps, 3)) == []
    with pytest.raises(RuntimeError, match="newer"):
        pending(steps, 4)


def test_sqlite_steps_split_into_statements_without_their_comments() -> None:
    script = (
        "-- why the step exists\n"
        "CREATE TABLE t (\n    a TEXT DEFAULT 'x;y'\n);\n"
        "\n"
        "-- a comment; with a semicolon\n"
        "ALTER TABLE t ADD COLUMN b INTEGER;\n"
    )
    assert statements(script) == (
        "CREATE TABLE t (\n    a TEXT DEFAULT 'x;y'\n);",
        "ALTER TABLE t ADD COLUMN b INTEGER;",
    )
    with pytest.raises(ValueError, match="without ';'"):
        statements("SELECT 1;\nSELECT 2\n")
