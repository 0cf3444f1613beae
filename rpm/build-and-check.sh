#!/usr/bin/env bash
# CI entry point for the RPM: builds it on this Debian host and checks it against the .deb.
#   1. installs rpm and rpmlint if missing (root, apt-get; nothing happens when present),
#   2. rpm/build.sh into a temporary directory,
#   3. rpmlint (with rpm/rpmlint.toml) on the spec and on the binary RPM: any error fails
#      (warnings are printed; the known ones are explained in rpm/README.md),
#   4. the .deb: $XAP_DEB if set, otherwise debian/build-and-lint.sh builds one,
#   5. rpm/compare-with-deb.sh DEB RPM.
# The exit status is the verdict. Set XAP_KEEP=DIR to keep the .rpm (and .deb) in DIR.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf 'rpm/build-and-check: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

need=()
command -v rpmbuild >/dev/null || need+=(rpm)
command -v rpmlint >/dev/null || need+=(rpmlint)
command -v git >/dev/null || need+=(git)
# brp-strip finds the ELF files with file(1); without it the binary ships unstripped.
command -v file >/dev/null || need+=(file)
if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        die "missing ${need[*]}; install them (as root: apt-get install ${need[*]})"
    fi
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/xap-rpmcheck.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
out=${XAP_KEEP:-$work/out}
mkdir -p "$out"

"$src/rpm/build.sh" "$out" || die "rpm/build.sh failed"
shopt -s nullglob
rpms=("$out"/xmrig-auto-pause-[0-9]*.rpm)
((${#rpms[@]} == 1)) || die "expected one .rpm in $out"
rpm=${rpms[0]}

# rpm/rpmlint.toml brings Debian's rpmlint defaults in line with Fedora's policy (each filter
# says why). rpmlint exits non-zero for warnings too: its summary line is the verdict. The
# warnings left are listed with their reasons at the end of rpm/README.md.
log "rpmlint --config rpm/rpmlint.toml"
rpmlint --config "$src/rpm/rpmlint.toml" "$src/rpm/xmrig-auto-pause.spec" "$rpm" \
    >"$work/rpmlint.txt" 2>&1 || true
cat "$work/rpmlint.txt"
summary=$(grep -E '[0-9]+ errors?, [0-9]+ warnings?' "$work/rpmlint.txt" | tail -1)
[[ -n $summary ]] || die "rpmlint printed no summary"
[[ $summary =~ (^|[^0-9])0\ errors ]] || die "rpmlint: $summary"
log "rpmlint: $summary"

deb=${XAP_DEB:-}
if [[ -z $deb ]]; then
    "$src/debian/build-and-lint.sh" "$work/deb" || die "debian/build-and-lint.sh failed"
    debs=("$work"/deb/xmrig-auto-pause_*.deb)
    ((${#debs[@]} == 1)) || die "expected one .deb from debian/build-and-lint.sh"
    deb=${debs[0]}
    [[ -z ${XAP_KEEP:-} ]] || cp -f "$deb" "$XAP_KEEP/"
fi
[[ -f $deb ]] || die "XAP_DEB=$deb: no such file"

"$src/rpm/compare-with-deb.sh" "$deb" "$rpm" || die "the .rpm and the .deb differ"
log "OK: ${rpm##*/} built, rpmlint clean of errors, matches ${deb##*/}"
