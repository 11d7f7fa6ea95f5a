"""``bench/speed.py --short`` as a smoke check: every part runs and the summary has a figure in
every row. No timing assertions: the figures of a short run on a shared machine mean nothing.

It needs PostgreSQL and Redis (the ``unigate-pg`` targets) and loads the embedded model (the
local-model part). LiteLLM is left out on purpose, to keep the run short and to check that a
missing ``.venv-litellm`` only skips its rows; without ``wrk`` the harness uses its own load
generator, which this test does not mind either.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import services

pytestmark = [pytest.mark.services, pytest.mark.model]

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT.parent / "shared" / "bench" / "bench.py"
ROWS = {
    "nonstream_vs_floor_sqlite_harness",
    "nonstream_vs_litellm_sqlite",
    "stream_vs_floor_sqlite_harness",
    "added_ttft_sqlite_harness",
    "nonstream_vs_floor_sqlite",
    "stream_vs_floor_sqlite",
    "added_ttft_sqlite",
    "nonstream_vs_floor_pg",
    "nonstream_vs_litellm_pg",
    "stream_vs_floor_pg",
    "added_ttft_pg",
    "rss_per_worker",
    "workers_rps_ratio",
    "workers_cpu_efficiency",
    "workers_cpu_efficiency_harness",
    "workers_weak_efficiency",
    "startup",
    "local_tps_c1",
    "local_tps_c8",
}
NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[-+]?\d+)?")


@pytest.mark.timeout(600)
@pytest.mark.skipif(not HARNESS.is_file(), reason=f"the shared benchmark harness is not at {HARNESS}")
def test_short_run_measures_every_row(tmp_path: Path) -> None:
    argv = [sys.executable, str(ROOT / "bench" / "speed.py"), "--short", "--out", str(tmp_path)]
    argv += ["--litellm-venv", str(tmp_path / "no-litellm")]
    argv += ["--database-url", str(services.postgres_url()), "--redis-url", str(services.redis_url())]
    run = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = run.communicate(timeout=540)
    except subprocess.TimeoutExpired:
        run.terminate()  # speed.py then stops the harness, which stops the gateways
        stdout, stderr = run.communicate(timeout=60)
        pytest.fail(f"bench/speed.py --short took over 540 s\n{stdout}\n{stderr[-4000:]}")
    assert run.returncode == 0, f"exit {run.returncode}\n{stdout}\n{stderr[-4000:]}"

    summary = json.loads(next(tmp_path.glob("speed-*/summary.json")).read_text())
    rows = {row["key"]: row for row in summary["rows"]}
    assert set(rows) == ROWS
    table = {line.split(" | ")[0].removeprefix("| "): line.split(" | ") for line in stdout.splitlines()}
    for key, row in rows.items():
        printed = table[row["label"]]  # the stdout table: label | measured | threshold | result
        if "litellm" in key:
            assert row["value"] is None, row
            assert row["result"].startswith("skipped"), row
            assert printed[3].startswith("skipped"), printed
            continue
        assert isinstance(row["value"], float), row
        assert NUMBER.match(printed[1]), printed
        assert printed[3].rstrip(" |") in ("met", "NOT MET", "info"), printed
