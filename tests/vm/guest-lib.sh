# shellcheck shell=bash
# Guest-side helpers for VM bench payloads. Source it from run.sh:
#
#   . "${XAP_GUEST_LIB:-/mnt/payload/.xap/guest-lib.sh}"
#   check_x() { wait_for 5 "x is ready" test -e /run/x; }
#   xap_scenario x_ready check_x
#   xap_done
#
# Protocol (parsed by run-vm.sh on the host from the serial console):
#   XAP-RESULT PASS <name>
#   XAP-RESULT FAIL <name> <reason>
#   XAP-TIME <name> <seconds>s        duration of a scenario (informational)
#   XAP-COUNT passed=<n> failed=<n>   lets the host detect lost console lines
#   XAP-REBOOT                        the guest reboots; the host boots it again
#   XAP-DONE                          last line: the payload completed
# Anything else on the console is ignored by the host.
#
# Every fork/exec costs milliseconds on an emulated CPU, so the helpers use
# bash builtins (printf -v, $(<file), $EPOCHREALTIME) where they can.

# Result lines go to the console even when a scenario redirects stdout.
# XAP_CONSOLE is set by the guest harness (xap-bench-run) to /dev/ttyS0.
if [[ -n ${XAP_CONSOLE:-} && -w ${XAP_CONSOLE} ]]; then
    exec {XAP_OUT_FD}>>"$XAP_CONSOLE"
else
    exec {XAP_OUT_FD}>&1
fi

# Results are also appended to a file so counts add up across several
# scripts that each source this library, and across reboots (xap_reboot):
# it lives on the root disk, which the host keeps for the whole run.
if [[ -z ${XAP_RESULTS_FILE:-} ]]; then
    if [[ -d /var/lib && -w /var/lib ]]; then
        XAP_RESULTS_FILE=/var/lib/xap-bench/results
    else
        XAP_RESULTS_FILE=${TMPDIR:-/tmp}/xap-$$/results
    fi
fi
export XAP_RESULTS_FILE
XAP_STATE_DIR=${XAP_RESULTS_FILE%/*}
mkdir -p "$XAP_STATE_DIR"
: >>"$XAP_RESULTS_FILE"

# Default upper bound for one scenario; a hung command must not eat the whole
# VM timeout and hide the results of later scenarios.
: "${XAP_SCENARIO_TIMEOUT:=300}"

# Where wait_for / xap_die leave the reason of a failure for xap_scenario
# (set only while a scenario runs).
XAP_REASON_FILE=

_xap_emit() { printf '%s\n' "$*" >&"$XAP_OUT_FD"; }

# _xap_name VAR TEXT: names are single tokens.
_xap_name() { printf -v "$1" '%s' "${2//[[:space:]]/_}"; [[ -n ${!1} ]] || printf -v "$1" unnamed; }
# _xap_line VAR TEXT: reasons are single lines.
_xap_line() {
    local s=${2//$'\r'/ }
    s=${s//$'\n'/ }
    printf -v "$1" '%s' "${s:-no reason given}"
}

# _xap_now_us VAR: current time in microseconds ($EPOCHREALTIME, any decimal mark).
_xap_now_us() { local t=${EPOCHREALTIME/[.,]/}; printf -v "$1" '%s' "$((10#$t))"; }

# _xap_secs_to_us VAR SECONDS: "1.5" -> 1500000; whole or decimal seconds.
_xap_secs_to_us() {
    local int frac
    [[ $2 =~ ^([0-9]+)(\.([0-9]{0,6}))?$ ]] || { echo "bad duration: $2" >&2; return 2; }
    int=${BASH_REMATCH[1]}
    frac=${BASH_REMATCH[3]}000000
    printf -v "$1" '%s' "$((10#$int * 1000000 + 10#${frac:0:6}))"
}

# Informational line on the console (ignored by the host parser).
xap_log() { _xap_emit "XAP-INFO $*"; }

# xap_pass NAME
xap_pass() {
    local name
    _xap_name name "${1:-}"
    printf 'PASS %s\n' "$name" >>"$XAP_RESULTS_FILE"
    _xap_emit "XAP-RESULT PASS $name"
}

# xap_fail NAME REASON...
xap_fail() {
    local name reason
    _xap_name name "${1:-}"
    shift || true
    _xap_line reason "$*"
    printf 'FAIL %s\n' "$name" >>"$XAP_RESULTS_FILE"
    _xap_emit "XAP-RESULT FAIL $name $reason"
}

# Record why the current scenario is failing (the first reason wins).
_xap_reason() {
    [[ -n $XAP_REASON_FILE && ! -s $XAP_REASON_FILE ]] || return 0
    local line
    _xap_line line "$*"
    printf '%s\n' "$line" >"$XAP_REASON_FILE"
}

# xap_die REASON...: fail the current scenario with an explicit reason.
xap_die() {
    local line
    _xap_line line "$*"
    _xap_reason "$line"
    _xap_emit "XAP-INFO fail: $line"
    exit 1
}

# wait_for TIMEOUT_SECONDS DESCRIPTION COMMAND [ARGS...]
# Polls COMMAND every 0.1 s until it succeeds (returns 0) or TIMEOUT elapses
# (returns 1 with a message naming DESCRIPTION and COMMAND's last stderr).
# COMMAND's stdout is discarded: only its exit status is the condition.
wait_for() {
    if (($# < 3)); then
        echo "usage: wait_for TIMEOUT DESCRIPTION COMMAND..." >&2
        return 2
    fi
    local timeout=$1 desc=$2 limit_us start_us now_us msg last
    local err=$XAP_STATE_DIR/wait_for.$BASHPID
    shift 2
    _xap_secs_to_us limit_us "$timeout" || return 2
    _xap_now_us start_us
    while :; do
        if "$@" >/dev/null 2>"$err"; then
            return 0
        fi
        _xap_now_us now_us
        if ((now_us - start_us >= limit_us)); then
            msg="timed out after ${timeout}s waiting for $desc"
            if [[ -s $err ]]; then
                last=$(<"$err")
                msg+=" (last error: ${last##*$'\n'})"
            fi
            echo "wait_for: $msg" >&2
            _xap_reason "$msg"
            return 1
        fi
        sleep 0.1
    done
}

# Kill a process and all its descendants (children first found via /proc,
# so grandchildren of a timed-out scenario do not linger as orphans).
_xap_kill_tree() {
    local pid=$1 child f
    for f in /proc/"$pid"/task/*/children; do
        [[ -r $f ]] || continue
        for child in $(<"$f"); do
            _xap_kill_tree "$child"
        done
    done
    kill -TERM "$pid" 2>/dev/null || true
}

# xap_scenario NAME FUNCTION [ARGS...]
# Runs FUNCTION in a subshell with `set -eE`, so the first failing command
# fails the scenario; reports PASS/FAIL and the duration; never aborts the
# caller (whatever the caller's own `set -e`). The reason of a failure is the
# last wait_for/xap_die message, or else the failing command and its line.
xap_scenario() {
    local name fn pid wd rc start_us end_us dur reason had_e=0
    _xap_name name "${1:-}"
    fn=${2:?xap_scenario NAME FUNCTION}
    shift 2
    [[ $- == *e* ]] && had_e=1
    set +e
    XAP_REASON_FILE=$XAP_STATE_DIR/reason.$BASHPID
    : >"$XAP_REASON_FILE"
    _xap_emit "XAP-INFO scenario $name: start"
    _xap_now_us start_us
    (
        set -eE
        trap '_xap_reason "command failed (status $?): $BASH_COMMAND [${BASH_SOURCE[0]##*/}:$LINENO]"' ERR
        "$fn" "$@"
    ) &
    pid=$!
    # Watchdog: after the timeout, leave a mark and kill the scenario with
    # everything it started. It is stopped with TERM when the scenario ends
    # first; its trap then kills its sleep too, so nothing lingers. (In the
    # trap, $! is the sleep once started, else the already-reaped scenario.)
    # A plain `wait PID` is used because `wait -n` on two jobs can miss a job
    # that ended very early.
    (
        trap 'kill "$!" 2>/dev/null; exit 0' TERM
        sleep "$XAP_SCENARIO_TIMEOUT" &
        wait "$!"
        : >"$XAP_REASON_FILE.timeout"
        _xap_kill_tree "$pid"
    ) </dev/null >/dev/null 2>&1 &
    wd=$!
    wait "$pid"
    rc=$?
    kill -TERM "$wd" 2>/dev/null
    wait "$wd" 2>/dev/null
    if [[ -e $XAP_REASON_FILE.timeout ]]; then
        : >"$XAP_REASON_FILE"
        _xap_reason "scenario timed out after ${XAP_SCENARIO_TIMEOUT}s (XAP_SCENARIO_TIMEOUT)"
        rm -f "$XAP_REASON_FILE.timeout"
        rc=124
    fi
    _xap_now_us end_us
    dur=$((end_us - start_us))
    printf -v dur '%d.%03d' "$((dur / 1000000))" "$(((dur % 1000000) / 1000))"
    _xap_emit "XAP-TIME $name ${dur}s"
    if ((rc == 0)); then
        xap_pass "$name"
    else
        reason=$(<"$XAP_REASON_FILE")
        xap_fail "$name" "${reason:-exit status $rc}"
    fi
    XAP_REASON_FILE=
    ((had_e)) && set -e
    return 0
}

# xap_done: final line of the protocol. Call once, at the end of run.sh.
xap_done() {
    local passed=0 failed=0 kind _
    while read -r kind _; do
        case $kind in
            PASS) passed=$((passed + 1)) ;;
            FAIL) failed=$((failed + 1)) ;;
        esac
    done <"$XAP_RESULTS_FILE"
    _xap_emit "XAP-COUNT passed=$passed failed=$failed"
    _xap_emit "XAP-DONE"
}

# xap_boot: which boot of this run this is (1 first; see xap_reboot).
xap_boot() { printf '%s' "${XAP_BOOT:-1}"; }

# xap_reboot: an orderly reboot (every unit stopped, as a real reboot does).
# qemu runs with -no-reboot, so the guest's reset ends qemu; the host sees
# XAP-REBOOT and boots the same disk again, and run.sh runs again with
# XAP_BOOT one higher (setup.sh does not). Never returns.
xap_reboot() { _xap_shutdown reboot XAP-REBOOT; }

# xap_poweroff: an orderly poweroff, which ends the run. Results of the
# shutdown itself (and XAP-DONE) must come from a unit that is stopped during
# it (an ExecStop= that sources this library). Never returns.
xap_poweroff() { _xap_shutdown poweroff; }

_xap_shutdown() {
    # xap-bench.service forces a poweroff the moment it stops, which would
    # skip the orderly stop of every other unit: the very thing under test.
    local d=/run/systemd/system/xap-bench.service.d
    mkdir -p "$d"
    printf '[Unit]\nSuccessAction=none\nFailureAction=none\n' >"$d/50-orderly-shutdown.conf"
    systemctl daemon-reload
    [[ -z ${2:-} ]] || _xap_emit "$2"
    systemctl --no-block "$1"
    # The shutdown stops this unit (SIGTERM) in its turn.
    exec sleep infinity
}
