#!/usr/bin/env bash
# Runs xmrig-auto-pause as built in BUILD_DIR (default: build).
#
# Where a miner is set up (the default miner unit's cgroup, system.slice/xmrig.service, exists and
# has processes) it runs the daemon with its built-in defaults. Where none is (a fresh machine), it
# runs a demo instead: a scratch cgroup with the miner stand-in at nice 19, a burst of foreground
# load, then light load in a watched service, so the freezes, thaws and their reasons can be
# watched in the log. Needs root (cgroups) and a cgroup v2 hierarchy.
set -euo pipefail

build=${1:-build}
daemon="$build/xmrig-auto-pause"
tools="$build/tests/tools"
[ -x "$daemon" ] || { echo "quickstart: $daemon not found; build first (cmake -S . -B $build && cmake --build $build)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "quickstart: run as root (cgroups need it): sudo $0 $*" >&2; exit 1; }

# mountinfo has a variable number of optional fields before " - "; find the fstype after it.
cg=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") { print $5; exit } } }' /proc/self/mountinfo)
[ -n "$cg" ] || { echo "quickstart: no cgroup v2 hierarchy is mounted (see /proc/self/mountinfo)" >&2; exit 1; }

if grep -qs '^populated 1' "$cg/system.slice/xmrig.service/cgroup.events"; then
  echo "quickstart: found a running miner at $cg/system.slice/xmrig.service; starting the daemon with its defaults"
  exec "$daemon"
fi

say() { printf '\n\033[1m[demo] %s\033[0m\n' "$*"; }
box="$cg/xap-demo"
state=$(mktemp -d /tmp/xap-demo-state.XXXXXX)
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in miner fg game; do
    [ -d "$box/$d" ] || continue
    echo 0 > "$box/$d/cgroup.freeze" 2>/dev/null || true
    for p in $(cat "$box/$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    for _ in $(seq 50); do grep -qs '^populated 0' "$box/$d/cgroup.events" && break; sleep 0.1; done
    rmdir "$box/$d" 2>/dev/null || true
  done
  rmdir "$box" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT INT TERM

# Runs a command inside a cgroup of the demo box, in the background.
run_in() {
  local where=$1; shift
  sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$box/$where" "$@" &
  pids+=($!)
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || { echo "[demo] timed out waiting for: $what" >&2; return 1; }
    sleep 0.1
  done
}
frozen() { grep -qs '^frozen 1' "$box/miner/cgroup.events"; }
thawed() { grep -qs '^frozen 0' "$box/miner/cgroup.events"; }

mkdir -p "$box/miner" "$box/fg" "$box/game"
cat > "$state/config.json" <<JSON
{
  "miner": "/xap-demo/miner",
  "watched": { "/xap-demo/game": "0.05 cores" },
  "grace_period": "5s",
  "grace_period_max": "5s"
}
JSON

say "No miner is set up here, so this is the demo, in the scratch cgroup $box."
say "Starting the miner stand-in at nice 19 (RandomX-like: 2 MiB scratchpad per thread) in $box/miner"
run_in miner "$tools/xap-miner-standin" --nice 19 --report-interval 2
say "Starting xmrig-auto-pause (config: $state/config.json)"
"$daemon" --config "$state/config.json" --state-dir "$state" &
pids+=($!)
sleep 3

say "Foreground burst: a busy non-nice thread per CPU outside the miner for 5 s -> expect a freeze on system CPU"
run_in fg "$tools/xap-cpu-load" --threads "$(nproc)" --duration 5
wait_for 10 "the freeze" frozen && say "miner frozen ($(grep frozen "$box/miner/cgroup.events"))"
wait_for 30 "the thaw after the grace period" thawed && say "miner thawed after the 5 s grace period"

say "Light load in the watched service /xap-demo/game (12% of one core, far below the system threshold)"
run_in game "$tools/xap-cpu-load" --duty 12 --duration 5
wait_for 10 "the freeze" frozen && say "miner frozen by the per-service signal"
wait_for 30 "the thaw" thawed && say "miner thawed again"

say "Done. Stopping the daemon (SIGTERM thaws anything it froze) and removing the sandbox."
