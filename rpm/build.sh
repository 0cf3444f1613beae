#!/usr/bin/env bash
# Builds the binary RPM on this Debian host, from a source tarball of the tree.
#
# Usage: rpm/build.sh OUTPUT_DIR
# The tarball holds the files git knows about (tracked, less any deleted in the work tree, plus
# untracked files that are not ignored), so a build/ directory never leaks in but uncommitted
# work does. The build is `rpmbuild -bb` with two Debian-only concessions:
#   --load rpm/debian-macros.shim  the systemd and CMake macros Fedora has and Debian lacks;
#   --nodeps                       the BuildRequires are Fedora package names, which no rpm
#                                  database on Debian provides (the real dependencies are the
#                                  Debian -dev packages, installed by .ci/install-deps.sh or
#                                  debian/build-and-lint.sh).
# The .rpm and the tarball are left in OUTPUT_DIR. XAP_JOBS (default 2) sets the build's -j.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -eq 1 ]] || { echo "usage: $0 OUTPUT_DIR" >&2; exit 64; }
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)

log() { printf 'rpm/build: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

command -v rpmbuild >/dev/null || die "rpmbuild missing (apt-get install rpm)"
git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$src is not a git work tree"

spec=$src/rpm/xmrig-auto-pause.spec
name=$(sed -n 's/^Name:[[:space:]]*//p' "$spec")
version=$(sed -n 's/^Version:[[:space:]]*//p' "$spec")
[[ -n $name && -n $version ]] || die "no Name:/Version: in $spec"

work=$(mktemp -d "${TMPDIR:-/tmp}/xap-rpm.XXXXXX")
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT
mkdir -p "$work"/{BUILD,RPMS,SOURCES,SPECS,SRPMS}

# --- the source tarball ------------------------------------------------------------------------
tarball=$name-$version.tar.gz
git -C "$src" ls-files -z --cached --others --exclude-standard |
    (cd "$src" && while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done) |
    (cd "$src" && tar --null --no-recursion -T - --sort=name --owner=0 --group=0 --numeric-owner \
        --transform "s,^,$name-$version/," -czf "$work/SOURCES/$tarball")
tar -tzf "$work/SOURCES/$tarball" | grep -q "^$name-$version/build/" && die "build/ leaked into the tarball"
log "$tarball: $(tar -tzf "$work/SOURCES/$tarball" | wc -l) files"

# --- rpmbuild ----------------------------------------------------------------------------------
jobs=${XAP_JOBS:-2}
log "rpmbuild -bb --nodeps (Debian build only) with rpm/debian-macros.shim, -j$jobs"
rpmbuild -bb --nodeps \
    --load "$src/rpm/debian-macros.shim" \
    --define "_topdir $work" \
    --define "_smp_mflags -j$jobs" \
    "$spec" || die "rpmbuild failed"

shopt -s nullglob
rpms=("$work"/RPMS/*/"$name"-"$version"-*.rpm)
rpms=("${rpms[@]/*-debuginfo-*/}"); rpms=("${rpms[@]/*-debugsource-*/}")
mapfile -t rpms < <(printf '%s\n' "${rpms[@]}" | sed '/^$/d')
((${#rpms[@]} == 1)) || die "expected one binary RPM, found: ${rpms[*]:-none}"
cp -f "${rpms[0]}" "$work/SOURCES/$tarball" "$out/"
log "OK: $out/${rpms[0]##*/}"
