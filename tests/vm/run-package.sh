#!/usr/bin/env bash
# Runs the Debian package test in the VM bench: the built .deb is installed
# with apt in a fresh Debian 12 guest (its dependencies come from a local
# repository on the payload disk, the guest being offline), then every
# scenario of the systemd suite runs against the packaged units, followed by
# the package's own scenarios (restart, SIGKILL, stop, remove/purge/reinstall,
# reboot and poweroff while frozen). See tests/vm/package/README.md.
#
# Usage: tests/vm/run-package.sh [DEB_DIR [BUILD_DIR]]
#   DEB_DIR    where xmrig-auto-pause_*.deb is (default build/deb, as
#              debian/build-and-lint.sh leaves it)
#   BUILD_DIR  a build with the test tools (default ${XAP_BUILD_DIR:-build/test})
# Environment: XAP_PACKAGE_VM_TIMEOUT (seconds for all boots, default 1200),
#   XAP_PACKAGE_LOG (console log), XAP_SCENARIOS (as for run-scenarios.sh),
#   and those of run-vm.sh (tests/vm/README.md).
# Exit status: that of run-vm.sh (0 all passed), 2 on a payload error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { printf 'run-package: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

(($# <= 2)) || { echo "usage: $0 [DEB_DIR [BUILD_DIR]]" >&2; exit 2; }
debdir=${1:-build/deb}
build=${2:-${XAP_BUILD_DIR:-build/test}}
[[ $debdir == /* ]] || debdir=$repo/$debdir
[[ $build == /* ]] || build=$repo/$build
timeout=${XAP_PACKAGE_VM_TIMEOUT:-1200}
console=${XAP_PACKAGE_LOG:-${TMPDIR:-/tmp}/xap-vm-package.console.log}
cache=${XAP_VM_CACHE:-/var/cache/xmrig-auto-pause/vm}/package-debs
t0=$SECONDS

shopt -s nullglob
debs=("$debdir"/xmrig-auto-pause_*.deb)
((${#debs[@]} == 1)) || die "want exactly one xmrig-auto-pause_*.deb in $debdir (debian/build-and-lint.sh builds it), found ${#debs[@]}"
deb=${debs[0]}

if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || die "configure failed"
fi
cmake --build "$build" -j"$(nproc)" --target xap-miner-standin xap-cpu-load >/dev/null || die "build failed"

work=$(mktemp -d "${TMPDIR:-/tmp}/xap-package.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
payload=$work/package
mkdir -p "$payload/tools" "$payload/repo"
cp -a "$here/package/." "$payload/"
# The scenario steps and fixtures of the systemd suite, shared as they are.
cp -a "$here/scenarios/steps.sh" "$here/scenarios/fixtures" "$payload/"
[[ -z ${XAP_SCENARIOS:-} ]] || printf '%s\n' "$XAP_SCENARIOS" >"$payload/only"
install -m 0755 "$build/tests/tools/xap-miner-standin" "$build/tests/tools/xap-cpu-load" "$payload/tools/"
cp "$deb" "$payload/"

# The package's dependencies, as apt would fetch them: the whole closure of
# its Depends, downloaded once into the cache. apt in the guest takes what it
# lacks from this repository and keeps what it has.
"$here/install-deps.sh" || exit 2
command -v dpkg-scanpackages >/dev/null || die "dpkg-scanpackages missing (package dpkg-dev)"
mkdir -p "$cache"
mapfile -t named < <(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g' | grep .)
# A virtual package (libspdlog1.10-fmt9) has no candidate of its own: take its providers, which
# `apt-cache depends` does not list.
direct=()
for p in "${named[@]}"; do
    if [[ $(apt-cache policy "$p" | awk '/Candidate:/ { print $2 }') =~ ^(|\(none\))$ ]]; then
        mapfile -t -O "${#direct[@]}" direct < <(apt-cache showpkg "$p" | sed -n '/^Reverse Provides:/,$p' | awk 'NR > 1 && NF { print $1 }')
    else
        direct+=("$p")
    fi
done
mapfile -t closure < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${direct[@]}" | grep -E '^[a-z0-9]' | sort -u)
((${#closure[@]})) || die "no dependency closure for ${direct[*]} (apt-get update?)"
missing=()
for p in "${closure[@]}"; do
    v=$(apt-cache policy "$p" | awk '/Candidate:/ { print $2 }')
    [[ -n $v && $v != "(none)" ]] || continue
    f=("$cache/${p}_${v//:/%3a}_"*.deb)
    ((${#f[@]})) || missing+=("$p")
done
if ((${#missing[@]})); then
    log "downloading ${#missing[@]} dependency package(s) into $cache"
    (cd "$cache" && apt-get download -qq "${missing[@]}") || die "apt-get download failed"
fi
for p in "${closure[@]}"; do
    f=("$cache/${p}_"*.deb)
    ((${#f[@]})) && cp "${f[@]}" "$payload/repo/"
done
(cd "$payload/repo" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages) ||
    die "dpkg-scanpackages failed"

log "payload ready ($(du -sh "$payload" | cut -f1), $(ls "$payload/repo" | grep -c '\.deb$') dependency packages) after $((SECONDS - t0))s"
rc=0
"$here/run-vm.sh" "$payload" --timeout "$timeout" --log "$console" || rc=$?
tr -d '\r' <"$console" | grep -aE '^XAP-(TIME|INFO (measure|security|package|boot ))' >&2 || true
log "total $((SECONDS - t0))s, exit $rc (console log $console)"
exit "$rc"
