#!/usr/bin/env bash
# Gateway overhead, side by side in one run (../shared/bench): the floor proxy, unigate on SQLite,
# unigate on PostgreSQL + Redis, and LiteLLM when .venv-litellm exists. Prints the ratio table.
#   bench/overhead.sh [--dur 10] [other bench.py options]
# Needs wrk (apt-get install -y wrk); PostgreSQL and Redis on their default local ports.
set -euo pipefail
cd "$(dirname "$0")/.."
harness="${UNIGATE_BENCH_HARNESS:-../shared/bench/bench.py}"
py=.venv/bin/python
command -v wrk >/dev/null || echo "note: wrk is missing (apt-get install -y wrk); the harness falls back to loadgen" >&2
pg="postgresql://postgres@127.0.0.1:5432/test?search_path=unigate_bench"
exec "$py" "$harness" --python "$py" \
  --target floor \
  --target "unigate-sqlite=$py bench/serve_target.py --port {port} --upstream {upstream}" \
  --target "unigate-pg=$py bench/serve_target.py --port {port} --upstream {upstream} --database-url $pg --redis-url redis://127.0.0.1:6379/0" \
  --target litellm \
  --target-key unigate-sqlite=sk-bench-1 --target-key unigate-pg=sk-bench-1 \
  --litellm-venv .venv-litellm "$@"
