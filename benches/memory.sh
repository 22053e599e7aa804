#!/usr/bin/env bash
# Resident memory per live session against a LoroDoc freshly loaded from the same
# snapshot: prints a markdown table, writes target/bench-report/memory.json.
#
#   CODESYNC_TRACES_DIR=/path/to/editing-traces benches/memory.sh [--sessions N] …
#
# Without CODESYNC_TRACES_DIR the long-history sessions type synthetic text (the output
# says so). `benches/memory.sh --help` lists the options. Takes about two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

repo=$PWD
source benches/lib.sh
default_traces_env

target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p codesync-benches --bin memory
exec "$target/release/memory" --json "$target/bench-report/memory.json" "$@"
