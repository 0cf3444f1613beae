#!/usr/bin/env bash
# shellcheck disable=SC2016  # the scriptlets' $1 is matched literally, in single quotes
# Compares the RPM with the .deb: the files each ships and what their scriptlets do with the
# units. Exits 1 on any difference not listed below as allowed.
#
# Usage: rpm/compare-with-deb.sh DEB RPM
#
# Files: `rpm -qp` (directories and /usr/lib/.build-id links left out) against `dpkg-deb -c`
# (directories left out), after normalising:
#   /lib/systemd/system (Debian 12)  ==  /usr/lib/systemd/system (Fedora, %_unitdir)
#   man pages: compression suffix (.gz, .xz, .bz2, .zst) dropped on both sides.
# Scriptlets: read from `rpm -qp --scripts` as rpm/debian-macros.shim expands them (Fedora's
# systemd-update-helper takes the same actions).
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 DEB RPM" >&2; exit 64; }
deb=$1 rpm=$2
[[ -f $deb ]] || { echo "no such .deb: $deb" >&2; exit 64; }
[[ -f $rpm ]] || { echo "no such .rpm: $rpm" >&2; exit 64; }

log() { printf 'compare: %s\n' "$*" >&2; }
failures=0
fail() { log "UNEXPECTED: $*"; failures=$((failures + 1)); }

unit=xmrig-auto-pause.service
miner=xmrig.service
pkg=xmrig-auto-pause

# --- allowed differences -----------------------------------------------------------------------
# Each distribution puts the licence and the docs where its policy says.
deb_only_allowed=(
    "/usr/share/doc/$pkg/copyright"    # Debian's machine-readable copyright file (policy 12.5)
    "/usr/share/doc/$pkg/changelog.gz" # Debian's changelog; the RPM's is in its header (%changelog)
)
rpm_only_allowed=(
    "/usr/share/licenses/$pkg/LICENSE" # %license (Fedora keeps licences out of %doc)
    "/usr/share/doc/$pkg/README.md"    # %doc README.md (the .deb ships no README)
)

normalise() {
    sed -E -e 's,^\./,/,' \
        -e 's,^/lib/systemd/,/usr/lib/systemd/,' \
        -e 's,^(/usr/share/man/.*)\.(gz|xz|bz2|zst)$,\1,'
}

work=$(mktemp -d "${TMPDIR:-/tmp}/xap-compare.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT

# --- files -------------------------------------------------------------------------------------
# dpkg-deb -c: "perms owner/group size date time path"; directories have perms d*.
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | normalise | sort -u >"$work/deb"
rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" |
    awk '$1 !~ /^d/ { print $2 }' | grep -v '^/usr/lib/\.build-id/' | normalise | sort -u >"$work/rpm"
printf '%s\n' "${deb_only_allowed[@]}" | sort -u >"$work/deb-allowed"
printf '%s\n' "${rpm_only_allowed[@]}" | sort -u >"$work/rpm-allowed"

log "files in both: $(comm -12 "$work/deb" "$work/rpm" | wc -l)"
comm -12 "$work/deb" "$work/rpm" | sed 's/^/    /' >&2
while read -r f; do
    if grep -qxF "$f" "$work/deb-allowed"; then log "only in the .deb (allowed): $f"
    else fail "only in the .deb: $f"; fi
done < <(comm -23 "$work/deb" "$work/rpm")
while read -r f; do
    if grep -qxF "$f" "$work/rpm-allowed"; then log "only in the .rpm (allowed): $f"
    else fail "only in the .rpm: $f"; fi
done < <(comm -13 "$work/deb" "$work/rpm")

# The configuration is a conffile in one and %config(noreplace) in the other.
conf=/etc/$pkg/config.json
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null | grep -qxF "$conf" ||
    fail "$conf is not a conffile in the .deb"
rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" | grep -qE "^c[a-z]*n[a-z]* $conf\$" ||
    fail "$conf is not %config(noreplace) in the .rpm"
# The binary is executable in both.
rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" | grep -qE "^-rwxr-xr-x /usr/bin/$pkg\$" ||
    fail "/usr/bin/$pkg is not mode 0755 in the .rpm"

# --- scriptlets --------------------------------------------------------------------------------
# `rpm -qp --scripts` prints each as "<name> scriptlet (using /bin/sh):" then its body.
rpm -qp --scripts "$rpm" >"$work/scripts"
section() {
    awk -v want="$1" '/^[a-z]+ scriptlet( \(|:)/ { on = ($1 == want); next } on' "$work/scripts"
}
section postinstall >"$work/post"
section preuninstall >"$work/preun"
section postuninstall >"$work/postun"

# Lines that call systemctl with an action on a given unit.
acts() { grep -E "systemctl .*$2" "$work/$1" | grep -F -- "$3" || true; }

# Install: the daemon is enabled by its preset, in the first installation only ($1 -eq 1).
if [[ -n $(acts post 'preset' " $unit") ]] && grep -qF '$1 -eq 1' "$work/post"; then
    log "install: 'systemctl preset $unit' on first installation"
else
    fail "the %post scriptlet does not apply the preset to $unit on first installation"
fi
# Erase: the daemon is disabled and stopped (which thaws the miner), on erase only ($1 -eq 0).
if [[ -n $(acts preun 'disable --now' " $unit") ]] && grep -qF '$1 -eq 0' "$work/preun"; then
    log "erase: 'systemctl disable --now $unit'"
else
    fail "the %preun scriptlet does not stop and disable $unit on erase"
fi
# Upgrade: the daemon is restarted if it runs, on upgrade only ($1 -ge 1).
if [[ -n $(acts postun 'try-restart' " $unit") ]] && grep -qF '$1 -ge 1' "$work/postun"; then
    log "upgrade: 'systemctl try-restart $unit'"
else
    fail "the %postun scriptlet does not restart $unit on upgrade"
fi
# The miner's unit is never enabled, started, stopped or restarted (dh_installsystemd
# --no-enable --no-start --no-stop-on-upgrade on the Debian side).
miner_acts=$(grep -hE "systemctl .*(preset|enable|disable|start|stop|restart).* $miner" \
    "$work/post" "$work/preun" "$work/postun" || true)
if [[ -z $miner_acts ]]; then log "$miner: never enabled, started, stopped or restarted"
else fail "a scriptlet acts on $miner: $miner_acts"; fi

# The .deb's side of the same contract, so a change to debian/rules shows up here too.
dpkg-deb --ctrl-tarfile "$deb" | tar -xf - -C "$work" ./postinst ./prerm ./postrm
grep -q "deb-systemd-helper enable '$unit'" "$work/postinst" ||
    fail "the .deb's postinst does not enable $unit"
if ! grep -q '_dh_action=start' "$work/postinst" ||
    ! grep -q "deb-systemd-invoke \$_dh_action '$unit'" "$work/postinst"; then
    fail "the .deb's postinst does not start/restart $unit"
fi
grep -q "deb-systemd-invoke stop '$unit'" "$work/prerm" || fail "the .deb's prerm does not stop $unit"
# (Its postinst re-enables xmrig.service only if the administrator had enabled it: was-enabled.)
grep -qE "deb-systemd-invoke [a-z-]+ '$miner'" "$work/postinst" "$work/prerm" &&
    fail "the .deb starts, stops or restarts $miner"
# State directory: removed on purge (.deb) / erase (.rpm).
grep -q 'rm -rf /var/lib/xmrig-auto-pause' "$work/postrm" || fail "the .deb's postrm keeps /var/lib/$pkg on purge"
grep -qE 'rm -rf /var/lib/xmrig-auto-pause' "$work/postun" || fail "the .rpm's %postun keeps /var/lib/$pkg on erase"

# Allowed: Fedora's policy starts no service on installation (%systemd_post applies the preset,
# and the default preset disables new services); Debian enables and starts the daemon.
log "allowed: the .deb starts $unit on installation; the .rpm only applies the preset (Fedora policy)"

if ((failures)); then
    log "FAIL: $failures unexpected difference(s)"
    exit 1
fi
log "OK: no unexpected differences"
