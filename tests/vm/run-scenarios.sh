#!/usr/bin/env bash
# Runs the systemd scenario suite (tests/vm/scenarios) in the VM bench:
# installs BUILD_DIR into a payload (DESTDIR, with the build's configured
# prefix), adds the miner stand-in, the load generator and the shared
# libraries they need, and boots the guest with it.
#
# Usage: tests/vm/run-scenarios.sh [BUILD_DIR]
#   BUILD_DIR  default ${XAP_BUILD_DIR:-build/test}, relative to the repository
#              root; configured and built (RelWithDebInfo) if it has no build.
# Environment: XAP_SCENARIOS_VM_TIMEOUT (seconds for the VM run, default 900),
#   XAP_SCENARIOS_LOG (console log, default $TMPDIR/xap-vm-scenarios.console.log),
#   XAP_SCENARIOS (space-separated scenario names: run only those),
#   and those of run-vm.sh (see tests/vm/README.md).
# Exit status: that of run-vm.sh (0 all passed), 2 on a build/payload error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { printf 'run-scenarios: %s\n' "$*" >&2; }

(($# <= 1)) || { echo "usage: $0 [BUILD_DIR]" >&2; exit 2; }
build=${1:-${XAP_BUILD_DIR:-build/test}}
[[ $build == /* ]] || build=$repo/$build
timeout=${XAP_SCENARIOS_VM_TIMEOUT:-900}
console=${XAP_SCENARIOS_LOG:-${TMPDIR:-/tmp}/xap-vm-scenarios.console.log}
t0=$SECONDS

targets=(xmrig-auto-pause xap-miner-standin xap-cpu-load)
if [[ ! -f $build/CMakeCache.txt ]]; then
    log "configuring $build"
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
fi
# Builds only what is missing or stale (a no-op after tests/run-all.sh's build).
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >/dev/null || { log "build failed"; exit 2; }
daemon=$build/xmrig-auto-pause
tools=("$build/tests/tools/xap-miner-standin" "$build/tests/tools/xap-cpu-load")
for f in "$daemon" "${tools[@]}"; do
    [[ -x $f ]] || { log "missing $f"; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/xap-scenarios.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
payload=$work/scenarios
mkdir -p "$payload/root" "$payload/tools" "$payload/libs"
cp -a "$here/scenarios/." "$payload/"
# XAP_SCENARIOS="s1_system_load_freezes s2_thaw_after_grace" runs only those.
[[ -z ${XAP_SCENARIOS:-} ]] || printf '%s\n' "$XAP_SCENARIOS" >"$payload/only"
# The configured prefix (not --prefix): the unit's ExecStart= and --config
# paths were fixed at configure time.
DESTDIR=$payload/root cmake --install "$build" >/dev/null || { log "install failed"; exit 2; }
install -m 0755 "${tools[@]}" "$payload/tools/"
# Shared libraries, named by soname; setup.sh installs only those the guest lacks.
while read -r so path; do
    cp -L "$path" "$payload/libs/$so"
done < <(ldd "$daemon" "${tools[@]}" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u)

"$here/install-deps.sh" || exit 2
log "payload ready ($(du -sh "$payload" | cut -f1)) after $((SECONDS - t0))s"
rc=0
"$here/run-vm.sh" "$payload" --timeout "$timeout" --log "$console" || rc=$?
# Timings and measurements from the console (run-vm.sh prints only results).
tr -d '\r' <"$console" | grep -aE '^XAP-(TIME|INFO (measure|security|nosuch|restart|freeze|ProtectControlGroups))' >&2 || true
log "total $((SECONDS - t0))s, exit $rc (console log $console)"
exit "$rc"
