#!/usr/bin/env bash
# Runs every micro-benchmark (ingest, protocol, cold_load, appends) and prints each against
# the baseline measured in the same run, as a markdown table of ratios; also written as JSON
# to target/bench-report/micro.json. One command reproduces the table:
#
#   CODESYNC_TRACES_DIR=/path/to/editing-traces \
#   CODESYNC_TEST_POSTGRES_URL='host=127.0.0.1 port=5432 user=postgres dbname=test' \
#   benches/micro.sh
#
# Without CODESYNC_TRACES_DIR the payloads are synthetic typing (the output says so);
# without CODESYNC_TEST_POSTGRES_URL the PostgreSQL cold load is skipped (and says so).
# Extra arguments go to criterion, e.g. `benches/micro.sh --measurement-time 10`.
set -euo pipefail
cd "$(dirname "$0")/.."

# A copy of the traces beside the repository (as on the project's machines) is used when
# the variable is unset.
repo=$PWD
source benches/lib.sh
default_traces_env

target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target/bench-report"
log="$target/bench-report/micro.log"
# Only results written from now on go into the table, not leftovers of earlier runs.
started=$(date +%s)

cargo bench -p codesync-benches \
    --bench ingest --bench protocol --bench cold_load --bench durable_appends \
    -- "$@" 2>&1 | tee "$log"

echo
echo "## codesync micro-benchmarks (median; ratio = time per item / baseline's)"
echo
cargo run --quiet --release -p codesync-benches --bin bench-report -- \
    --criterion-dir "$target/criterion" --since "$started" \
    --json "$target/bench-report/micro.json"
echo
# The workload lines each bench printed, any skipped backend, and the traces' credit.
grep -E '^(workload|SKIPPED|traces):' "$log" | awk '!seen[$0]++'
