"""Where the workspace's shared inputs are: the seeds and the service's API reference, in
``../shared`` beside the repository, or where ``UNIGATE_SHARED`` says (a worktree elsewhere).
Tests that need them are skipped when they are absent."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("UNIGATE_SHARED") or ROOT.parent / "shared")
SEEDS = SHARED / "seeds"
REFERENCE = SHARED / "aimlapi-reference"
HAVE_SEEDS = (SEEDS / "002_010c6b26d5444377.txt").exists()
HAVE_REFERENCE = (REFERENCE / "models.json").exists()
