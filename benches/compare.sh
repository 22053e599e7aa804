#!/usr/bin/env bash
# Side-by-side comparison of codesync with its peers on one machine, in one run.
#
# Every target gets the same workload from the same load driver (benches/load-driver):
#   codesync        codesync-server as it ships (durable acknowledgements, SQLite on local disk)
#   relay           a plain WebSocket relay doing no CRDT work: the fan-out limit
#   hocuspocus      @hocuspocus/server, in memory
#   y-websocket     @y/websocket-server, in memory
#   loro-websocket  loro-websocket's SimpleServer, in memory
# plus the merge limit: the raw LoroDoc import rate of the same trace, with no network.
# The machines here are noisy 2-core VMs, so the report leads with ratios to baselines
# measured in this same run (DESIGN.md §8). The server is pinned to core 0 and the driver
# to core 1, so neither steals the other's CPU.
#
# Usage: benches/compare.sh [options]
#   --traces-dir DIR   editing traces (default: $CODESYNC_TRACES_DIR, else
#                      ../shared/data/editing-traces beside the repository)
#   --trace NAME       a trace in the traces dir's sequential/ or concurrent/ (default: rustcode)
#   --sessions N       concurrent sessions (documents) (default: 20)
#   --clients N        clients per session; client 0 types, the others read (default: 4)
#   --pace P           open, keystroke or both (default: both, one pass each)
#   --limit N          transactions replayed per session in the open-loop pass, which sends
#                      as fast as each server takes them (default: 2000; 0: the whole trace)
#   --keystroke-limit N  transactions per session in the keystroke pass (default: 600)
#   --rate R           keystrokes per second per writer in that pass (default: 10), so it
#                      lasts keystroke-limit / rate seconds (default: 60 s per target)
#   --timeout-secs N   the driver gives up on a run after this long (default: 600)
#   --targets LIST     comma-separated subset of the targets above (default: all)
#   --dry-run          print what would run, run nothing
# Results: target/compare/<UTC timestamp>/ holds every JSON and results.md.
# Exits non-zero if any target failed to start, to finish, or to converge; the table is
# printed regardless.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/benches/lib.sh"
peers="$repo/benches/peers"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
server_bin="$target_dir/release/codesync-server"
load_bin="$target_dir/release/codesync-load"

traces_dir="${CODESYNC_TRACES_DIR:-}"
trace=rustcode
sessions=20
clients=4
pace=both
limit=2000
keystroke_limit=600
rate=10
timeout_secs=600
targets="codesync,relay,hocuspocus,y-websocket,loro-websocket"
dry_run=false


while [[ $# -gt 0 ]]; do
  case $1 in
    --traces-dir) need_value "$@"; traces_dir=$2; shift 2 ;;
    --trace) need_value "$@"; trace=$2; shift 2 ;;
    --sessions) need_value "$@"; sessions=$2; shift 2 ;;
    --clients) need_value "$@"; clients=$2; shift 2 ;;
    --pace) need_value "$@"; pace=$2; shift 2 ;;
    --limit) need_value "$@"; limit=$2; shift 2 ;;
    --keystroke-limit) need_value "$@"; keystroke_limit=$2; shift 2 ;;
    --rate) need_value "$@"; rate=$2; shift 2 ;;
    --timeout-secs) need_value "$@"; timeout_secs=$2; shift 2 ;;
    --targets) need_value "$@"; targets=$2; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

for n in "$sessions" "$clients" "$limit" "$keystroke_limit" "$rate" "$timeout_secs"; do
  [[ $n =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "'$n' is not a number"
done
case $pace in
  both) paces=(open keystroke) ;;
  open|keystroke) paces=("$pace") ;;
  *) die "--pace must be open, keystroke or both" ;;
esac
IFS=, read -r -a target_list <<<"$targets"
for t in "${target_list[@]}"; do
  case $t in codesync|relay|hocuspocus|y-websocket|loro-websocket) ;; *) die "unknown target '$t'" ;; esac
done

require_trace
pick_cores

# --- install and build ---------------------------------------------------------------
for tool in node npm cargo; do
  command -v "$tool" >/dev/null || $dry_run || die "'$tool' is required"
done
if ! command -v taskset >/dev/null && ! $dry_run; then
  # taskset is in util-linux; install it where we can.
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    apt-get install -y util-linux >/dev/null
  else
    die "'taskset' is required (Debian/Ubuntu: apt-get install util-linux)"
  fi
fi
run npm ci --prefix "$peers" --no-audit --no-fund --loglevel=error >&2   # stdout is the table
run cargo build --release --manifest-path "$repo/Cargo.toml" -p codesync-server -p codesync-load

out="$target_dir/compare/$(date -u +%Y%m%dT%H%M%SZ)"
run mkdir -p "$out"

# --- servers ---------------------------------------------------------------------------
server_pid=""
driver_pid=""
scratch=$(mktemp -d)
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
  for pid in $driver_pid $server_pid; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export RUST_LOG="${RUST_LOG:-info,loro_internal=warn}"

# logged LOG CMD...: runs CMD into LOG, then shows LOG; fails as CMD does. CMD runs in the
# background so that an interrupt reaches the traps at once, not when CMD ends.
logged() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  driver_pid=$!
  local status=0
  wait "$driver_pid" || status=$?
  driver_pid=""
  cat "$log" >&2
  return "$status"
}

# start_server LABEL CMD...: starts CMD pinned to the server core, logging to
# LABEL.server.log, waits for its banner and sets server_pid and server_url (the ws:// base
# the driver connects to).
start_server() {
  local name=$1; shift
  local log="$out/$name.server.log"
  : >"$log"   # exists before the first poll below
  "${pin_server[@]}" "$@" >"$log" 2>&1 &
  server_pid=$!   # taskset execs the server, so this is the server's own pid (for RSS)
  local banner=""
  for _ in $(seq 1200); do
    banner=$(grep -m1 -E ' listening on (ws|http)://' "$log" || true)
    [[ -n $banner ]] && break
    kill -0 "$server_pid" 2>/dev/null || { echo "$name exited before it was ready; see $log" >&2; server_pid=""; return 1; }
    sleep 0.1
  done
  [[ -n $banner ]] || { echo "$name printed no banner in 120 s; see $log" >&2; stop_server; return 1; }
  # codesync-server prints http://ADDR/<SESSION_ID>; its WebSocket is ws://ADDR/<session>.
  local addr=${banner##* listening on }; addr=${addr#*://}; addr=${addr%%/*}
  server_url="ws://$addr"
}

stop_server() {
  [[ -n $server_pid ]] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# server_cmd TARGET: the command line that serves TARGET (a fresh data dir for codesync).
server_cmd() {
  case $1 in
    codesync)
      local data; data=$(mktemp -d "$scratch/codesync-data.XXXXXX")
      # Limits raised so that the per-IP and per-connection budgets meant for the public
      # internet do not throttle a load test whose clients all come from 127.0.0.1.
      # RUST_LOG (exported above) keeps the server's own info lines but drops loro_internal's
      # per-export INFO diagnostics, which the default filter lets through: ~18 lines per
      # update, 175 MB of log per 40,000 updates. The peers log quietly too.
      echo "$server_bin" --listen 127.0.0.1:0 --data "$data" \
        --messages-per-second 100000 --message-burst 100000 \
        --max-connections-per-ip 100000 --rate-limit-per-minute 100000000 ;;
    relay) echo "$load_bin" relay --listen 127.0.0.1:0 ;;
    *) echo node "$peers/$1.mjs" --port 0 ;;
  esac
}

protocol_of() {
  case $1 in
    codesync|loro-websocket) echo loro ;;
    relay) echo relay ;;
    hocuspocus) echo hocuspocus ;;
    y-websocket) echo yjs ;;
  esac
}

# --- runs ------------------------------------------------------------------------------
# Other work on the same cores skews every figure; the report records how busy they were.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
expected=()
failures=0
trace_args=(--trace "$trace" --traces-dir "$traces_dir")
workload=("${trace_args[@]}" --sessions "$sessions" --clients "$clients" --mode single-writer
  --timeout-secs "$timeout_secs")
# pace_flags PACE: sets the array pace_args to that pass's flags. The open loop replays
# --limit transactions as fast as the server takes them; the keystroke pass a shorter prefix
# at human typing speed, where latency is what counts.
pace_flags() {
  case $1 in
    open) pace_args=(); if [[ $limit != 0 ]]; then pace_args=(--limit "$limit"); fi ;;
    keystroke) pace_args=(--limit "$keystroke_limit" --rate "$rate") ;;
  esac
}

for p in "${paces[@]}"; do
  for t in "${target_list[@]}"; do
    label="$t-$p"
    expected+=("$label")
    # shellcheck disable=SC2207 # paths here contain no spaces (mktemp, repo checkout)
    cmd=($(server_cmd "$t"))
    pace_flags "$p"
    driver=("${pin_driver[@]}" "$load_bin" run --protocol "$(protocol_of "$t")" "${workload[@]}"
      --pace "$p" "${pace_args[@]}" --json "$out/$label.json" --label "$label")
    if $dry_run; then
      printf '+ %s &   # then wait for its banner\n' "${pin_server[*]} ${cmd[*]}"
      printf '+ %s --url ws://ADDR --server-pid PID\n' "${driver[*]}"
      continue
    fi
    echo "== $label" >&2
    if ! start_server "$label" "${cmd[@]}"; then failures=$((failures + 1)); continue; fi
    if ! logged "$out/$label.driver.log" "${driver[@]}" --url "$server_url" --server-pid "$server_pid"; then
      echo "driver failed for $label; see $out/$label.driver.log" >&2
      failures=$((failures + 1))
    fi
    stop_server
  done
done

# The merge limit: raw imports of the open-loop pass's updates, no server, no network (each
# run's JSON also carries the limit of its own updates).
pace_flags open
merge=("${pin_driver[@]}" "$load_bin" merge-limit "${trace_args[@]}" --mode single-writer
  --clients "$clients" "${pace_args[@]}" --json "$out/merge-limit.json")
echo "== merge-limit" >&2
if $dry_run; then
  run "${merge[@]}"
  run node "$peers/report.mjs" "$out" --expect "$(IFS=,; echo "${expected[*]}")"
  exit 0
fi
logged "$out/merge-limit.driver.log" "${merge[@]}" || { echo "merge-limit failed" >&2; failures=$((failures + 1)); }

# --- report ----------------------------------------------------------------------------
cat >"$out/workload.txt" <<EOF
trace $trace ($traces_dir), $sessions sessions x $clients clients, mode single-writer
paces: ${paces[*]}; open loop: $([[ $limit == 0 ]] && echo all || echo "$limit") txns per session, as fast as taken;
keystroke: $keystroke_limit txns per session at $rate/s per writer
pinned: server ${pin_server[*]:-none}, driver ${pin_driver[*]:-none}; $(nproc) cores
load average (1, 5, 15 min) before the runs $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)
node $(node --version); $(cargo --version)
EOF
status=0
node "$peers/report.mjs" "$out" --expect "$(IFS=,; echo "${expected[*]}")" || status=$?
echo "results: $out" >&2
if [[ $failures -gt 0 ]]; then
  echo "compare.sh: $failures run(s) failed" >&2
  exit 1
fi
exit "$status"
