#!/usr/bin/env bash
# The README's run command: builds the editor page if it is missing, then starts
# codesync-server (flags pass through, e.g. --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f examples/web/package.json ] && [ ! -f examples/web/dist/index.html ]; then
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
    else
      echo "npm is needed to build the editor page; install Node.js and npm" >&2
      exit 1
    fi
  fi
  echo "building the editor page (examples/web)…"
  npm ci --prefix examples/web --no-audit --no-fund --loglevel=error
  npm run --prefix examples/web build
fi

exec cargo run --release -p codesync-server -- "$@"
