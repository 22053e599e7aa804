# Shared by the benchmark scripts; source it with `repo` set to the repository root.

script_name=$(basename "$0")

die() { echo "$script_name: $*" >&2; exit 2; }
need_value() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }
# Runs a command, or only prints it when `dry_run` is true.
run() { if ${dry_run:-false}; then printf '+ %s\n' "$*"; else "$@"; fi; }

# The editing traces live beside the project, never in it: prints that copy's path, if any.
traces_beside_repo() {
  if [[ -d "$repo/../shared/data/editing-traces/sequential" ]]; then
    (cd "$repo/../shared/data/editing-traces" && pwd)
  fi
}

# Fills `traces_dir` from the copy beside the repository when empty, then checks that it
# holds `trace` (the driver finds NAME.json.gz in sequential/ or concurrent/), before any
# build starts.
require_trace() {
  [[ -n $traces_dir ]] || traces_dir=$(traces_beside_repo)
  [[ -n $traces_dir ]] || die "no editing traces: pass --traces-dir or set CODESYNC_TRACES_DIR to a copy of https://github.com/josephg/editing-traces"
  [[ -d $traces_dir ]] || die "traces dir '$traces_dir' does not exist"
  [[ -f $traces_dir/sequential/$trace.json.gz || -f $traces_dir/concurrent/$trace.json.gz ]] ||
    die "no trace '$trace' in $traces_dir/sequential or $traces_dir/concurrent"
}

# Pins the servers and the driver to different cores when there are two: sets the arrays
# `pin_server` and `pin_driver` (prefixes for the commands).
pick_cores() {
  if [[ $(nproc) -ge 2 ]]; then
    pin_server=(taskset -c 0); pin_driver=(taskset -c 1)
  else
    echo "$script_name: fewer than 2 cores; servers and driver share the CPU" >&2
    pin_server=(); pin_driver=()
  fi
}

# Exports CODESYNC_TRACES_DIR as the copy beside the repository when it is unset and one
# exists (the benchmarks fall back to synthetic text without it, and say so).
default_traces_env() {
  if [[ -z "${CODESYNC_TRACES_DIR:-}" ]]; then
    local found
    found=$(traces_beside_repo)
    if [[ -n $found ]]; then
      export CODESYNC_TRACES_DIR=$found
      echo "using the traces in $CODESYNC_TRACES_DIR" >&2
    fi
  fi
}
