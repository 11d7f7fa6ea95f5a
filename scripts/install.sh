#!/usr/bin/env bash
# Creates .venv and installs unigate into it (with the dev extras when given "dev").
# The first run builds llama-cpp-python from source (about 6 minutes on 2 cores); pip caches
# the wheel, so later installs on the same machine take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true

if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  echo "==> building llama-cpp-python (first time only: about 6 minutes on 2 cores; progress below)"
  .venv/bin/python -m pip install --progress-bar on "llama-cpp-python==0.3.36" 2>&1 | grep -v "^WARNING: Location"
fi

target="."
[ "$extras" = "dev" ] && target=".[dev]"
echo "==> installing unigate${extras:+ with $extras extras}"
.venv/bin/python -m pip install --quiet -e "$target" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import unigate, llama_cpp" || { echo "install failed" >&2; exit 1; }
echo "==> ready: .venv/bin/unigate"
