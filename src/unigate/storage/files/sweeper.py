"""The media store's upkeep: a sweep at start and then every ten minutes, for as long as the app
runs (``app.py`` runs it as a task and cancels it at shutdown). Files are also refused past their
``expires`` by ``stat``, so the cadence only bounds how long expired bytes take up room.

Every replica sweeps; on S3 they may meet on the same expired files, which is harmless (deleting
a deleted object succeeds). A failed sweep (the bucket unreachable, a disk error) is logged and
tried again at the next turn, never fatal.
"""

from __future__ import annotations

import asyncio
import logging

from unigate.core.files import MediaStore

__all__ = ["SWEEP_EVERY_S", "sweep_forever"]

log = logging.getLogger("unigate.media")

SWEEP_EVERY_S = 600.0


async def sweep_forever(media: MediaStore, *, every_s: float = SWEEP_EVERY_S) -> None:
    while True:
        try:
            removed = await media.sweep()
        except Exception:
            log.warning("sweeping expired media files failed; trying again in %.0f s", every_s, exc_info=True)
        else:
            if removed:
                log.info("removed %d expired media files", removed)
        await asyncio.sleep(every_s)
