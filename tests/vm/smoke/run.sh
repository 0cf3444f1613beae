#!/bin/bash
# Smoke payload: proves the VM bench gives the daemon what it relies on --
# systemd as PID 1, a pure cgroup v2 hierarchy, and a working cgroup.freeze
# on a systemd unit's cgroup that systemd itself does not notice.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../guest-lib.sh
. "${XAP_GUEST_LIB:-/mnt/payload/.xap/guest-lib.sh}"

unit=xap-smoke-busy
cg=  # filled in by unit_start

setup_hook_ran() {
    test -s /run/xap-smoke-setup-ran
}

systemd_is_pid1() {
    local comm
    comm=$(cat /proc/1/comm)
    [[ $comm == systemd ]] || xap_die "PID 1 is '$comm', not systemd"
    # sd_booted(3) checks exactly this directory.
    test -d /run/systemd/system
}

cgroup2_pure() {
    local fstype
    fstype=$(stat -f -c %T /sys/fs/cgroup)
    [[ $fstype == cgroup2fs ]] || xap_die "/sys/fs/cgroup is $fstype, not cgroup2fs"
    # A hybrid setup would also mount v2 at /sys/fs/cgroup/unified.
    [[ ! -e /sys/fs/cgroup/unified ]] || xap_die "hybrid hierarchy: /sys/fs/cgroup/unified exists"
    grep -qw cpu /sys/fs/cgroup/cgroup.controllers || xap_die "cpu controller not available"
}

unit_active() { [[ $(systemctl is-active "$unit") == active ]]; }
# Read one key of cpu.stat (microseconds of CPU used by the cgroup).
cpu_usage() { awk '$1 == "usage_usec" { print $2 }' "$cg/cpu.stat"; }
usage_above() { (($(cpu_usage) > $1)); }

unit_start() {
    systemd-run --quiet --unit="$unit" --property=Nice=19 sh -c 'while :; do :; done'
    wait_for 10 "$unit to be active" unit_active
    cg=/sys/fs/cgroup$(systemctl show -p ControlGroup --value "$unit")
    test -f "$cg/cgroup.freeze"
    # The busy loop is really burning CPU.
    local u0
    u0=$(cpu_usage)
    wait_for 10 "$unit to use CPU" usage_above "$u0"
}

freeze() {
    echo 1 >"$cg/cgroup.freeze"
    wait_for 10 "'frozen 1' in $cg/cgroup.events" grep -qx 'frozen 1' "$cg/cgroup.events"
    # Frozen means no CPU at all: usage must not move over a measurement
    # window (this sleep is the window being measured, not a wait).
    local u0 u1
    u0=$(cpu_usage)
    sleep 0.5
    u1=$(cpu_usage)
    ((u1 == u0)) || xap_die "frozen cgroup still used $((u1 - u0)) us of CPU in 0.5 s"
}

systemd_unaware() {
    local state
    state=$(systemctl show -p FreezerState "$unit")
    [[ $state == FreezerState=running ]] || xap_die "systemctl show says '$state', expected FreezerState=running"
    unit_active
}

thaw() {
    echo 0 >"$cg/cgroup.freeze"
    wait_for 10 "'frozen 0' in $cg/cgroup.events" grep -qx 'frozen 0' "$cg/cgroup.events"
    local u0
    u0=$(cpu_usage)
    wait_for 10 "$unit to use CPU again" usage_above "$u0"
}

unit_stop() {
    systemctl stop "$unit"
    wait_for 10 "$unit to be gone" eval '! unit_active'
    wait_for 10 "cgroup $cg to be removed" test ! -d "$cg"
}

xap_scenario setup_hook_ran setup_hook_ran
xap_scenario systemd_is_pid1 systemd_is_pid1
xap_scenario cgroup2_pure cgroup2_pure
# The unit scenarios share $cg, so resolve it here, in the parent shell, once
# the unit exists (scenarios run in subshells and cannot export variables).
xap_scenario unit_start unit_start
cg=/sys/fs/cgroup$(systemctl show -p ControlGroup --value "$unit" 2>/dev/null || true)
xap_scenario freeze freeze
xap_scenario systemd_unaware systemd_unaware
xap_scenario thaw thaw
xap_scenario unit_stop unit_stop
# Never leave a busy loop behind, whatever failed above.
systemctl stop "$unit" 2>/dev/null || true
xap_done
