"""``scripts/build_catalog.py`` is deterministic and the committed ``models.json`` is its output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.catalog.shared import HAVE_SEEDS, ROOT, SEEDS

SCRIPT = ROOT / "scripts" / "build_catalog.py"
COMMITTED = ROOT / "src" / "unigate" / "catalog" / "data" / "models.json"

pytestmark = pytest.mark.skipif(not HAVE_SEEDS, reason=f"the seeds ({SEEDS}) are not checked out beside the repo")


def _build(out: Path) -> bytes:
    subprocess.run([sys.executable, str(SCRIPT), "--seeds", str(SEEDS), "--out", str(out)], check=True, cwd=ROOT)
    return out.read_bytes()


def test_two_runs_give_identical_bytes_equal_to_the_committed_file(tmp_path: Path) -> None:
    first = _build(tmp_path / "a.json")
    second = _build(tmp_path / "b.json")
    assert first == second
    assert first == COMMITTED.read_bytes(), "models.json is stale: run scripts/build_catalog.py"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "models.json"
    stale.write_bytes(b"{}")
    args = [sys.executable, str(SCRIPT), "--seeds", str(SEEDS), "--out", str(stale), "--check"]
    assert subprocess.run(args, cwd=ROOT, capture_output=True).returncode == 1
    args[-2] = str(COMMITTED)
    assert subprocess.run(args, cwd=ROOT, capture_output=True).returncode == 0
