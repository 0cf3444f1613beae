#!/usr/bin/env bash
# Builds the .deb from a clean copy of the source tree and checks what it ships:
#   - the man pages format without groff warnings,
#   - dpkg-buildpackage -us -uc -b (which runs the unit tests, not the real-cgroup ones),
#   - lintian on the .changes and the .deb: any E: or W: fails,
#   - systemd-analyze verify on every shipped unit, in a root made of the package's payload,
#   - the shipped default configuration passes the shipped binary's check-config,
#   - systemd-analyze security --offline for the daemon's unit (printed; above 2.0 fails).
#
# Usage: debian/build-and-lint.sh [OUTPUT_DIR]
# The .deb, .changes and .buildinfo are left in OUTPUT_DIR (default: build/deb in the source
# tree, which git ignores). Only files git knows about (tracked, or untracked but not ignored)
# are copied, so a build/ directory or other local clutter never leaks into the package.
# Run as root on Debian 12 it installs what it needs (debhelper, lintian, the Build-Depends).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$src/build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

log() { printf 'build-and-lint: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/xap-deb.XXXXXX")
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT

# --- tools -------------------------------------------------------------------------------------
apt_updated=0
apt_install() {
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        die "missing $*; install them (as root: apt-get install $*)"
    fi
    if ((!apt_updated)); then
        apt-get update -qq
        apt_updated=1
    fi
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
need=()
command -v dpkg-buildpackage >/dev/null || need+=(dpkg-dev)
command -v dh >/dev/null || need+=(debhelper)
command -v lintian >/dev/null || need+=(lintian)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v man >/dev/null || need+=(man-db)
command -v git >/dev/null || need+=(git)
((${#need[@]} == 0)) || apt_install "${need[@]}"

# --- a clean copy of the tree ------------------------------------------------------------------
tree=$work/xmrig-auto-pause
mkdir -p "$tree"
git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$src is not a git work tree"
# Tracked files (less any deleted in the work tree) plus untracked files that are not ignored.
git -C "$src" ls-files -z --cached --others --exclude-standard |
    (cd "$src" && while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done) |
    (cd "$src" && tar --null --no-recursion -T - -cf -) | tar -xf - -C "$tree"
chmod +x "$tree/debian/rules"

if ! (cd "$tree" && dpkg-checkbuilddeps) 2>"$work/builddeps"; then
    # "dpkg-checkbuilddeps: error: Unmet build dependencies: a b (>= 1) c" -> a b c
    missing=$(sed -n 's/.*Unmet build dependencies: //p' "$work/builddeps" |
        sed -E 's/\([^)]*\)//g; s/<[^>]*>//g; s/\|[^ ]*//g')
    [[ -n $missing ]] || { cat "$work/builddeps" >&2; die "dpkg-checkbuilddeps failed"; }
    # shellcheck disable=SC2086  # a list of package names
    apt_install $missing
fi

# --- man pages ---------------------------------------------------------------------------------
for page in "$tree"/docs/*.[1-9]; do
    warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
    [[ -z $warnings ]] || die "groff warnings in ${page#"$tree"/}:"$'\n'"$warnings"
    log "man page ${page#"$tree"/}: no groff warnings"
done

# --- build -------------------------------------------------------------------------------------
log "dpkg-buildpackage -us -uc -b in $tree"
(
    cd "$tree"
    DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}"
    export DEB_BUILD_OPTIONS
    dpkg-buildpackage -us -uc -b
) || die "dpkg-buildpackage failed"

shopt -s nullglob
debs=("$work"/xmrig-auto-pause_*.deb)
changes=("$work"/xmrig-auto-pause_*.changes)
((${#debs[@]} == 1 && ${#changes[@]} == 1)) || die "expected one .deb and one .changes in $work"
deb=${debs[0]}

# --- lintian -----------------------------------------------------------------------------------
log "lintian ${changes[0]##*/}"
lintian_rc=0
lintian --display-info --pedantic "${changes[0]}" >"$work/lintian.txt" 2>&1 || lintian_rc=$?
cat "$work/lintian.txt"
if grep -qE '^[EW]: ' "$work/lintian.txt"; then
    die "lintian reported errors or warnings"
fi
# 0 clean, 2 only tags below the fail level; anything else is lintian failing to run.
[[ $lintian_rc -eq 0 || $lintian_rc -eq 2 ]] || die "lintian exited $lintian_rc"
log "lintian: no errors, no warnings ($(grep -cE '^[IPX]: ' "$work/lintian.txt" || true) info/pedantic tags)"

# --- the payload -------------------------------------------------------------------------------
root=$work/root
dpkg-deb -x "$deb" "$root"
expected=(
    usr/bin/xmrig-auto-pause
    etc/xmrig-auto-pause/config.json
    lib/systemd/system/xmrig-auto-pause.service
    lib/systemd/system/xmrig.service
    lib/systemd/system/xmrig.service.d/10-xmrig-auto-pause.conf
    usr/share/man/man8/xmrig-auto-pause.8.gz
    usr/share/man/man5/xmrig-auto-pause.json.5.gz
    usr/share/doc/xmrig-auto-pause/copyright
)
for f in "${expected[@]}"; do
    [[ -e $root/$f ]] || die "the package lacks /$f"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/xmrig-auto-pause/config.json ||
    die "/etc/xmrig-auto-pause/config.json is not a conffile"
log "payload: all ${#expected[@]} expected files present; config.json is a conffile"

"$root/usr/bin/xmrig-auto-pause" check-config --config "$root/etc/xmrig-auto-pause/config.json" ||
    die "the shipped config.json fails check-config"

# --- systemd-analyze ---------------------------------------------------------------------------
# A root holding the payload, the host's own units (targets the shipped units refer to) and a
# stand-in for the miner's binary, which the package does not ship.
mkdir -p "$root/lib/systemd/system"
for dir in /lib/systemd/system /usr/lib/systemd/system; do
    if [[ -d $dir ]]; then cp -rn "$dir/." "$root/lib/systemd/system/"; fi
done
install -D -m 0755 /dev/null "$root/usr/local/bin/xmrig"
# Documentation=man:... is checked with man(1), on the host: point it at the payload's pages.
export MANPATH="$root/usr/share/man:"
units=(xmrig-auto-pause.service xmrig.service)
for unit in "${units[@]}"; do
    # verify warns about unknown keys and the like without changing its exit status: any output fails.
    rc=0
    msgs=$(systemd-analyze verify --root="$root" "/lib/systemd/system/$unit" 2>&1) || rc=$?
    [[ $rc -eq 0 && -z $msgs ]] || die "systemd-analyze verify $unit (exit $rc):"$'\n'"$msgs"
    log "systemd-analyze verify $unit: clean"
done

log "systemd-analyze security --offline=true xmrig-auto-pause.service"
# --threshold is the exposure times 10. The unit rates 0.7 ("SAFE"); above 2.0, some hardening
# was lost and the build fails.
systemd-analyze security --no-pager --offline=true --threshold=20 --root="$root" \
    /lib/systemd/system/xmrig-auto-pause.service ||
    die "systemd-analyze security: exposure above 2.0"

# --- output ------------------------------------------------------------------------------------
# Everything the .changes names (the package, its -dbgsym companion), the .changes and .buildinfo.
for f in "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo; do
    cp -f "$f" "$out/"
done
log "OK: ${deb##*/} (with its -dbgsym package, .changes and .buildinfo) is in $out"
