#!/usr/bin/env bash
# Gateway overhead only, side by side in one run (../shared/bench): the floor proxy, unigate on
# SQLite, unigate on PostgreSQL + Redis, and LiteLLM when .venv-litellm exists; prints the
# harness's tables with the ratio table. The targets are defined in bench/speed.py, which also
# measures start-up, workers scaling and the local model and prints the speed targets (make bench).
#   bench/overhead.sh [--dur 10] [other bench.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || echo "note: wrk is missing (apt-get install -y wrk); the harness falls back to loadgen" >&2
exec .venv/bin/python bench/speed.py --harness-only "$@"
