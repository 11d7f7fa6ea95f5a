"""The SQLite store's fast timestamp text (``iso_at``) is ``iso`` of the same instant: the
ledger and the reservations compare and sort these strings."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

from unigate.storage.sqlite.timestamps import iso, iso_at


def testiso_at_reads_as_iso_of_the_same_instant() -> None:
    rng = random.Random(7)
    samples = [rng.uniform(0, 4e9) for _ in range(5000)]
    samples += [1_700_000_000 + f for f in (0.0, 0.9999994, 0.9999996, 0.5, 1e-7)]  # second edges
    for t in samples:
        text = iso_at(t)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", text), text
        exact = datetime.fromtimestamp(t, UTC)
        assert abs(datetime.fromisoformat(text) - exact) <= timedelta(microseconds=1), (t, text)
        assert len(text) == len(iso(exact))


def testiso_at_sorts_as_time_does() -> None:
    start = 1_764_806_400.0
    times = [start + i * 0.37e-3 for i in range(10_000)]  # crosses several seconds
    texts = [iso_at(t) for t in times]
    assert texts == sorted(texts)
    assert len(set(texts)) == len(texts)
