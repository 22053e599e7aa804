#!/usr/bin/env bash
# Cross-node latency of a two-node codesync cluster against single-node latency, measured
# in one run.
#
# Two codesync-server nodes, A and B, share sessions through a bus (Redis or NATS) and one
# PostgreSQL store. Both stay up for the whole script. The load driver
# (benches/load-driver) then replays the same trace twice, with the same sessions, clients
# and keystroke pacing:
#   single-node  every client on node A (--url A);
#   two-node     client i of every session on node i mod 2 (--url A --url B). With 4
#                clients, 0 and 2 are on A and 1 and 3 on B. Each delivery is counted as
#                same-node or cross-node, by the nodes of its sender and its receiver.
# Each run uses its own session ids (--session-prefix), so the second never meets
# sessions the first left in the store. Nodes are pinned to core 0 and the driver to core 1,
# as in compare.sh. The script prints single-node p50/p99/p99.9, the two-node run's
# same-node and cross-node p50/p99/p99.9, and cross-node p99 ÷ single-node p99.
#
# Usage: benches/cluster.sh [options]   (each option's default can also come from the
# environment variable in brackets)
#   --cluster URL      the bus both nodes join: redis://… or nats://…
#                      [CODESYNC_CLUSTER_URL, default redis://127.0.0.1:6379]
#   --store URL        the PostgreSQL store both nodes use
#                      [CODESYNC_STORE_URL, default postgres://postgres@127.0.0.1:5432/test]
#   --traces-dir DIR   editing traces [CODESYNC_TRACES_DIR, else ../shared/data/editing-traces
#                      beside the repository]
#   --trace NAME       a trace in sequential/ or concurrent/ [CLUSTER_TRACE, default rustcode]
#   --sessions N       sessions (documents) [CLUSTER_SESSIONS, default 20]
#   --clients N        clients per session [CLUSTER_CLIENTS, default 4]
#   --mode M           single-writer (client 0, on node A, types) or handoff
#                      [CLUSTER_MODE, default single-writer]
#   --limit N          keystrokes (transactions) per session [CLUSTER_LIMIT, default 3000]
#   --rate R           keystrokes per second per writer [CLUSTER_RATE, default 10], so
#                      each run lasts about limit / rate seconds (default 300 s)
#   --timeout-secs N   the driver gives up on a run after this long [CLUSTER_TIMEOUT_SECS,
#                      default 900]
#   --selftest         [CLUSTER_SELFTEST=1] no cluster: start ONE ordinary node (SQLite in a
#                      temporary directory) and pass its URL twice in the two-node run. This
#                      checks the driver's side (placement, the same/cross split, the table);
#                      its "cross-node" figures are one server's.
#   --dry-run          print what would run, run nothing
# Results: target/cluster/<UTC timestamp>/ holds each run's JSON and logs and results.md.
# Exits non-zero if a node failed to start or a run failed to finish or to converge; the
# table is printed regardless.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/benches/lib.sh"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
server_bin="$target_dir/release/codesync-server"
load_bin="$target_dir/release/codesync-load"

bus="${CODESYNC_CLUSTER_URL:-redis://127.0.0.1:6379}"
store="${CODESYNC_STORE_URL:-postgres://postgres@127.0.0.1:5432/test}"
traces_dir="${CODESYNC_TRACES_DIR:-}"
trace="${CLUSTER_TRACE:-rustcode}"
sessions="${CLUSTER_SESSIONS:-20}"
clients="${CLUSTER_CLIENTS:-4}"
mode="${CLUSTER_MODE:-single-writer}"
limit="${CLUSTER_LIMIT:-3000}"
rate="${CLUSTER_RATE:-10}"
timeout_secs="${CLUSTER_TIMEOUT_SECS:-900}"
selftest=false; [[ ${CLUSTER_SELFTEST:-0} == 1 ]] && selftest=true
dry_run=false


while [[ $# -gt 0 ]]; do
  case $1 in
    --cluster) need_value "$@"; bus=$2; shift 2 ;;
    --store) need_value "$@"; store=$2; shift 2 ;;
    --traces-dir) need_value "$@"; traces_dir=$2; shift 2 ;;
    --trace) need_value "$@"; trace=$2; shift 2 ;;
    --sessions) need_value "$@"; sessions=$2; shift 2 ;;
    --clients) need_value "$@"; clients=$2; shift 2 ;;
    --mode) need_value "$@"; mode=$2; shift 2 ;;
    --limit) need_value "$@"; limit=$2; shift 2 ;;
    --rate) need_value "$@"; rate=$2; shift 2 ;;
    --timeout-secs) need_value "$@"; timeout_secs=$2; shift 2 ;;
    --selftest) selftest=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

for n in "$sessions" "$clients" "$limit" "$timeout_secs"; do
  [[ $n =~ ^[0-9]+$ ]] || die "'$n' is not a whole number"
done
[[ $rate =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "'$rate' is not a number"
[[ $clients -ge 2 ]] || die "--clients must be at least 2, or no session has a client on node B"
[[ $limit -ge 1 ]] || die "--limit must be at least 1"
case $mode in single-writer|handoff) ;; *) die "--mode must be single-writer or handoff" ;; esac
if ! $selftest; then
  case $bus in redis://*|nats://*) ;; *) die "--cluster must be a redis:// or nats:// URL" ;; esac
  case $store in postgres://*|postgresql://*) ;; *) die "--store must be a postgres:// URL" ;; esac
fi

require_trace
pick_cores

# --- build -----------------------------------------------------------------------------
for tool in cargo jq taskset; do
  command -v "$tool" >/dev/null || $dry_run || die "'$tool' is required (Debian/Ubuntu: apt-get install ${tool/taskset/util-linux})"
done
run cargo build --release --manifest-path "$repo/Cargo.toml" -p codesync-server -p codesync-load
if ! $selftest && ! $dry_run && ! grep -q -- '--cluster' <<<"$("$server_bin" --help)"; then
  die "$server_bin has no --cluster flag (multi-node mode not built in yet); try --selftest"
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$target_dir/cluster/$stamp"
run mkdir -p "$out"

# --- nodes -----------------------------------------------------------------------------
node_pids=()
driver_pid=""
scratch=$(mktemp -d)
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
  local pid
  [[ -n $driver_pid ]] && kill "$driver_pid" 2>/dev/null || true
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export RUST_LOG="${RUST_LOG:-info,loro_internal=warn}"

# Limits raised so that the per-IP and per-connection budgets meant for the public internet
# do not throttle a load test whose clients all come from 127.0.0.1; the guard is off so
# the figures are about the cluster, not the guard's worker.
common_flags=(--listen 127.0.0.1:0 --untrusted-input-guard off
  --messages-per-second 100000 --message-burst 100000
  --max-connections-per-ip 100000 --rate-limit-per-minute 100000000)
if $selftest; then
  node_cmd=("$server_bin" "${common_flags[@]}" --data "$scratch/data")
else
  node_cmd=("$server_bin" "${common_flags[@]}" --cluster "$bus" --store "$store")
fi

# start_node NAME: starts one node pinned to the server core, logging to NAME.log, waits
# for its banner and sets node_url (the ws:// base the driver connects to).
start_node() {
  local name=$1 log="$out/$1.log" banner="" pid
  : >"$log"   # exists before the first poll below
  "${pin_server[@]}" "${node_cmd[@]}" >"$log" 2>&1 &
  pid=$!   # taskset execs the server, so this is the node's own pid
  node_pids+=("$pid")
  for _ in $(seq 1200); do
    banner=$(grep -m1 -E ' listening on (ws|http)://' "$log" || true)
    [[ -n $banner ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$name exited before it was ready; see $log"; }
    sleep 0.1
  done
  [[ -n $banner ]] || die "$name printed no banner in 120 s; see $log"
  # codesync-server prints http://ADDR/<SESSION_ID>; its WebSocket is ws://ADDR/<session>.
  local addr=${banner##* listening on }; addr=${addr#*://}; addr=${addr%%/*}
  node_url="ws://$addr"
  echo "$name: $node_url (pid $pid)" >&2
}

if $dry_run; then
  printf '+ %s &   # node A, then wait for its banner\n' "${pin_server[*]} ${node_cmd[*]}"
  url_a="ws://ADDR_A"
  if $selftest; then url_b=$url_a; else
    printf '+ %s &   # node B, then wait for its banner\n' "${pin_server[*]} ${node_cmd[*]}"
    url_b="ws://ADDR_B"
  fi
else
  mkdir -p "$scratch/data"
  start_node node-a; url_a=$node_url
  if $selftest; then
    echo "selftest: one ordinary node; the two-node run passes its URL twice" >&2
    url_b=$url_a
  else
    start_node node-b; url_b=$node_url
  fi
fi

# --- runs ------------------------------------------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
failures=0
workload=(--protocol loro --trace "$trace" --traces-dir "$traces_dir" --sessions "$sessions"
  --clients "$clients" --mode "$mode" --pace keystroke --rate "$rate" --limit "$limit"
  --timeout-secs "$timeout_secs")

# drive LABEL URL...: one driver run against the given URLs, with its own session ids.
drive() {
  local label=$1; shift
  local urls=() u
  for u in "$@"; do urls+=(--url "$u"); done
  local cmd=("${pin_driver[@]}" "$load_bin" run "${workload[@]}" "${urls[@]}"
    --session-prefix "cluster-$stamp-$$-$label" --json "$out/$label.json" --label "$label")
  echo "== $label" >&2
  if $dry_run; then run "${cmd[@]}"; return 0; fi
  # In the background, so that an interrupt reaches the traps at once.
  "${cmd[@]}" >"$out/$label.driver.log" 2>&1 &
  driver_pid=$!
  local status=0
  wait "$driver_pid" || status=$?
  driver_pid=""
  cat "$out/$label.driver.log" >&2
  if [[ $status -ne 0 ]]; then
    echo "driver failed for $label (exit $status); see $out/$label.driver.log" >&2
    failures=$((failures + 1))
  fi
}

drive single-node "$url_a"
drive two-node "$url_a" "$url_b"
$dry_run && exit 0

# --- report ----------------------------------------------------------------------------
# field FILE FILTER: a jq filter's value from a run's JSON, or "" when absent.
field() { [[ -f $1 ]] && jq -r "$2 // empty" "$1" 2>/dev/null || true; }
ms() { [[ -n $1 ]] && awk -v v="$1" 'BEGIN { printf "%.2f ms", v / 1000 }' || echo "–"; }
# row NAME FILE BLOCK: one table row from BLOCK (latency_us, same_node_latency_us, ...).
row() {
  local f=$2 b=$3
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(field "$f" ".$b.count")" \
    "$(ms "$(field "$f" ".$b.p50")")" "$(ms "$(field "$f" ".$b.p99")")" \
    "$(ms "$(field "$f" ".$b.p999")")" "$(field "$f" '.ok')"
}
single="$out/single-node.json" two="$out/two-node.json"
single_p99=$(field "$single" '.latency_us.p99')
cross_p99=$(field "$two" '.cross_node_latency_us.p99')
if [[ -n $single_p99 && -n $cross_p99 && $single_p99 != 0 ]]; then
  ratio=$(awk -v c="$cross_p99" -v s="$single_p99" 'BEGIN { printf "%.2f×", c / s }')
else
  ratio="n/a"
  failures=$((failures + 1))
  echo "cluster.sh: no ratio: a run recorded no single-node or no cross-node latency" >&2
fi
# URLs as shown: without a password.
redact() { sed -E 's#^([a-z]+://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }
if $selftest; then
  nodes="selftest: one node, its URL given twice"
else
  nodes="bus $(redact "$bus"), store $(redact "$store")"
fi
{
  echo "# Cluster: cross-node latency ($stamp)"
  echo
  echo "$trace, $sessions sessions × $clients clients, $mode, $limit keystrokes per session at $rate/s per writer."
  echo "$nodes. Two-node placement: client i on node i mod 2 ($(field "$two" '.client_nodes | map(tostring) | join(", ")'))."
  echo "Pinned: nodes ${pin_server[*]:-none}, driver ${pin_driver[*]:-none}; $(nproc) cores; load average before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| run | deliveries | p50 | p99 | p99.9 | ok |"
  echo "|---|--:|--:|--:|--:|---|"
  row "single-node (all on A)" "$single" latency_us
  row "two-node, same-node" "$two" same_node_latency_us
  row "two-node, cross-node" "$two" cross_node_latency_us
  echo
  echo "cross-node p99 ÷ single-node p99: **$ratio**"
} | tee "$out/results.md"
echo "results: $out" >&2
if [[ $failures -gt 0 ]]; then
  echo "cluster.sh: $failures problem(s); see above" >&2
  exit 1
fi
