"""WAL checkpoints away from the event loop.

In WAL mode, commits append pages to the ``-wal`` file; a checkpoint copies them back into the
database file and syncs both to disk. SQLite runs it by default inside the commit that crosses
1,000 pages, that is on the event loop thread, which then waits for two ``fsync`` calls: a stall
of every request in flight for as long as the disk takes to sync. The server's
connection turns that off (``wal_autocheckpoint=0``) and this thread, on its own connection,
runs a ``PASSIVE`` checkpoint (it never blocks writers or readers) every ``interval_s``. sqlite3
releases the GIL while SQLite works, so the loop goes on meanwhile.

A ``PASSIVE`` checkpoint alone never lets the ``-wal`` file start over while the gateway keeps
writing (commits land while it runs), so the file would grow without end under steady load. When
it has grown past ``restart_pages``, a ``RESTART`` checkpoint follows the passive one: it holds
writers back only while it copies what was committed since (briefly), and the next commit
writes from the start of the file again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

__all__ = ["Checkpointer"]

log = logging.getLogger("unigate.storage")


class Checkpointer:
    def __init__(self, path: Path, *, interval_s: float = 1.0, restart_pages: int = 4000) -> None:
        self._path = path
        self._interval = interval_s
        self._restart_pages = restart_pages
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="unigate-sqlite-checkpoint", daemon=True)
        self.checkpoints = 0
        self.restarts = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop, after one last checkpoint."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=10000")
            while True:
                stopping = self._stop.wait(self._interval)
                try:
                    _, wal_pages, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if wal_pages > self._restart_pages:
                        db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                        self.restarts += 1
                    self.checkpoints += 1
                except sqlite3.Error:
                    log.exception("SQLite checkpoint failed (the next one will retry)")
                if stopping:
                    return
        finally:
            db.close()
