#!/usr/bin/env bash
# Installs the coding agents that tests/agents runs through the gateway (Claude Code, Codex CLI,
# opencode), pinned by tests/agents/package.json and package-lock.json, into
# tests/agents/node_modules. Their npm packages carry native binaries, so this is the only
# download they need. Installs only when node_modules is missing or came from other pins (a stamp
# holds the hash of both files); quiet otherwise. Without npm it says so and leaves: the agents
# tests then skip.
#
# `npm install --no-save` rather than `npm ci`: opencode-ai names optional platform packages that
# the registry does not serve (opencode-darwin-arm64@1.18.33 is a 404), so they are absent from
# the lock and `npm ci` refuses the lock as out of sync. `npm install` with the lock present takes
# the locked versions and checks their integrity hashes all the same; --no-save leaves the lock as
# committed. node_modules is removed first, so that nothing of an older install stays.
set -euo pipefail
cd "$(dirname "$0")/../tests/agents"

if ! command -v npm >/dev/null 2>&1; then
  echo "==> note: npm is missing; the coding agents tests will skip (install Node.js 20+ and npm)"
  exit 0
fi
stamp=node_modules/.pins-sha256
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "==> installing the coding agents for tests/agents (npm, about 1.2 GB and 40 s)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
rm -rf node_modules
if ! npm install --no-save --no-audit --no-fund --loglevel=error >"$log" 2>&1 \
  || ! [ -x node_modules/.bin/claude ] || ! [ -x node_modules/.bin/codex ] || ! [ -x node_modules/.bin/opencode ]; then
  cat "$log" >&2
  echo "installing the coding agents failed (npm install in tests/agents)" >&2
  exit 1
fi
printf '%s\n' "$want" >"$stamp"
