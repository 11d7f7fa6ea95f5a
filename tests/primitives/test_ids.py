"""Ids that are unique but not secret (``primitives/ids.py``)."""

from __future__ import annotations

import os
import re

from unigate.primitives.ids import hex_id, urlsafe_id


def test_shapes() -> None:
    assert re.fullmatch(r"[0-9a-f]{8}", hex_id(4))
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", urlsafe_id(18))
    assert len({hex_id(8) for _ in range(10_000)}) == 10_000


def test_a_forked_worker_draws_its_own_sequence() -> None:
    """``serve --workers N`` forks: without reseeding, every worker would hand out the same ids."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        try:
            os.write(write, hex_id(16).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert len(child) == 32
    assert child != hex_id(16)
