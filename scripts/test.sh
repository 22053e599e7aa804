#!/usr/bin/env bash
# Runs every test of the workspace. This is the README's test command and what CI runs.
# It installs what the tests need and is missing (strace, for the fsync proof), when it can.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  echo "cargo is required: install Rust from your distribution or rustup" >&2
  exit 1
fi

if ! command -v strace >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq strace >/dev/null
  else
    echo "note: strace is missing and cannot be installed here; the fsync proof test will be SKIPPED" >&2
  fi
fi

# The interop tests drive the official JavaScript client (loro-websocket) under Node.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "note: node/npm are missing; the JavaScript interop tests will be SKIPPED" >&2
  fi
fi
if command -v npm >/dev/null; then
  npm ci --prefix crates/codesync-transport-ws/interop --no-audit --no-fund --loglevel=error
fi

# The editor's end-to-end tests drive Debian's chromium (browser downloads are not used).
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

# PostgreSQL tests run when CODESYNC_TEST_POSTGRES_URL names a server, and the cluster
# tests when CODESYNC_TEST_REDIS_URL / CODESYNC_TEST_NATS_URL name a bus too, e.g.
#   CODESYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
#   CODESYNC_TEST_REDIS_URL=redis://127.0.0.1:6379
#   CODESYNC_TEST_NATS_URL=nats://127.0.0.1:4222
# Without them they print a SKIPPED line (and fail under CI=true).
cargo test --workspace --locked

# The browser editor, end to end: headless chromium against the codesync-server binary
# that `cargo test` just built.
if command -v npm >/dev/null && command -v chromium >/dev/null; then
  npm ci --prefix examples/web --no-audit --no-fund --loglevel=error
  CODESYNC_SERVER="${CARGO_TARGET_DIR:-$PWD/target}/debug/codesync-server" npm test --prefix examples/web
elif [ "${CI:-}" = "true" ]; then
  echo "CI=true but npm or chromium is missing: the editor tests cannot run" >&2
  exit 1
else
  echo "SKIPPED: editor end-to-end tests (need npm and Debian's chromium)" >&2
fi
