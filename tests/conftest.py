from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import Server, fake_settings


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A gateway serving only the deterministic fake model, on SQLite in a temporary folder."""
    running = Server(fake_settings(tmp_path, management_key="mk-test")).start()
    yield running
    running.stop()
