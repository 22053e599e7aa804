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

if [[ -z "${CODESYNC_TRACES_DIR:-}" && -d ../shared/data/editing-traces/sequential ]]; then
    CODESYNC_TRACES_DIR="$(cd ../shared/data/editing-traces && pwd)"
    export CODESYNC_TRACES_DIR
    echo "using the traces in $CODESYNC_TRACES_DIR" >&2
fi

target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p codesync-benches --bin memory
exec "$target/release/memory" --json "$target/bench-report/memory.json" "$@"
