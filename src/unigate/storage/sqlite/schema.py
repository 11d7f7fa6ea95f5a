"""The SQLite schema: its migrations (``migrations/*.sql``) and the runner that applies them.

The schema version is SQLite's own ``PRAGMA user_version``; each step runs in one ``BEGIN
IMMEDIATE`` transaction with the version bump, so a process that starts while another migrates
waits for it (``busy_timeout``) and then finds nothing left to do.
"""

from __future__ import annotations

import sqlite3

from unigate.storage.migrations import SchemaState, load, pending

__all__ = ["MIGRATIONS", "SchemaState", "inspect", "migrate", "statements"]


def statements(script: str) -> tuple[str, ...]:
    """The statements of a migration, one by one, without the comments between them: ``sqlite3``
    runs one statement per call, and ``executescript`` would commit the transaction that the step
    must share with its version."""
    found: list[str] = []
    lines: list[str] = []
    for line in script.splitlines(keepends=True):
        if not lines and (not line.strip() or line.lstrip().startswith("--")):
            continue
        lines.append(line)
        if sqlite3.complete_statement("".join(lines)):
            found.append("".join(lines).strip())
            lines = []
    if lines:
        raise ValueError(f"a migration ends with a statement without ';': {''.join(lines)!r}")
    return tuple(found)


MIGRATIONS: tuple[tuple[str, ...], ...] = tuple(statements(script) for script in load(__package__ or __name__))
"""Each version's statements, version 1 first."""


def migrate(db: sqlite3.Connection) -> int:
    """Apply the steps this database lacks; returns its version afterwards."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        for number, step in pending(MIGRATIONS, version):
            for statement in step:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return len(MIGRATIONS)


def inspect(db: sqlite3.Connection) -> SchemaState:
    """What ``unigate doctor`` reports of a database, read without changing it."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is not None
    managed = has_meta and db.execute("SELECT 1 FROM meta WHERE k = 'management_key'").fetchone() is not None
    return SchemaState(version=version, latest=len(MIGRATIONS), management_key_stored=managed)
