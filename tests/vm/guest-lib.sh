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
#   XAP-DONE                          last line: the payload completed
# Anything else on the console is ignored by the host.

# Result lines go to the console even when a scenario redirects stdout.
# XAP_CONSOLE is set by the guest harness (xap-bench-run) to /dev/ttyS0.
if [[ -n ${XAP_CONSOLE:-} && -w ${XAP_CONSOLE} ]]; then
    exec {XAP_OUT_FD}>>"$XAP_CONSOLE"
else
    exec {XAP_OUT_FD}>&1
fi

# Results are also appended to a file so counts add up across several
# scripts that each source this library.
if [[ -z ${XAP_RESULTS_FILE:-} ]]; then
    if [[ -d /run && -w /run ]]; then
        XAP_RESULTS_FILE=/run/xap/results
    else
        XAP_RESULTS_FILE=${TMPDIR:-/tmp}/xap-results.$$
    fi
fi
mkdir -p "$(dirname "$XAP_RESULTS_FILE")"
: >>"$XAP_RESULTS_FILE"
export XAP_RESULTS_FILE

# Default upper bound for one scenario; a hung command must not eat the whole
# VM timeout and hide the results of later scenarios.
: "${XAP_SCENARIO_TIMEOUT:=300}"

# Where wait_for / xap_die leave the reason of a failure for xap_scenario.
XAP_REASON_FILE=

_xap_emit() { printf '%s\n' "$*" >&"$XAP_OUT_FD"; }

# Names are single tokens; reasons are single lines.
_xap_name() { local n=${1//[[:space:]]/_}; printf '%s' "${n:-unnamed}"; }
_xap_line() { local s=${1//$'\r'/ }; s=${s//$'\n'/ }; printf '%s' "${s:-no reason given}"; }

# Current time in microseconds (bash 5 $EPOCHREALTIME, any decimal mark).
_xap_now_us() { local t=${EPOCHREALTIME/[.,]/}; printf '%s' "$((10#$t))"; }

# "1.5" -> 1500000; accepts whole or decimal seconds.
_xap_secs_to_us() {
    local s=$1 int frac
    [[ $s =~ ^([0-9]+)(\.([0-9]{0,6}))?$ ]] || { echo "bad duration: $s" >&2; return 2; }
    int=${BASH_REMATCH[1]}
    frac=${BASH_REMATCH[3]}000000
    printf '%s' "$((10#$int * 1000000 + 10#${frac:0:6}))"
}

# Format microseconds as seconds with 3 decimals.
_xap_fmt_us() { printf '%d.%03d' "$(($1 / 1000000))" "$((($1 % 1000000) / 1000))"; }

# Informational line on the console (ignored by the host parser).
xap_log() { _xap_emit "XAP-INFO $*"; }

# xap_pass NAME
xap_pass() {
    local name
    name=$(_xap_name "${1:-}")
    printf 'PASS %s\n' "$name" >>"$XAP_RESULTS_FILE"
    _xap_emit "XAP-RESULT PASS $name"
}

# xap_fail NAME REASON...
xap_fail() {
    local name reason
    name=$(_xap_name "${1:-}")
    shift || true
    reason=$(_xap_line "$*")
    printf 'FAIL %s\n' "$name" >>"$XAP_RESULTS_FILE"
    _xap_emit "XAP-RESULT FAIL $name $reason"
}

# Record why the current scenario is failing (first reason wins).
_xap_reason() {
    [[ -n $XAP_REASON_FILE && ! -s $XAP_REASON_FILE ]] || return 0
    _xap_line "$*" >"$XAP_REASON_FILE"
}

# xap_die REASON...: fail the current scenario with an explicit reason.
xap_die() {
    _xap_reason "$*"
    _xap_emit "XAP-INFO fail: $(_xap_line "$*")"
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
    local timeout=$1 desc=$2 limit_us start_us now_us err msg
    shift 2
    limit_us=$(_xap_secs_to_us "$timeout") || return 2
    start_us=$(_xap_now_us)
    err=$(mktemp)
    while :; do
        if "$@" >/dev/null 2>"$err"; then
            rm -f "$err"
            return 0
        fi
        now_us=$(_xap_now_us)
        if ((now_us - start_us >= limit_us)); then
            msg="timed out after ${timeout}s waiting for $desc"
            [[ -s $err ]] && msg+=" (last error: $(tail -n 1 "$err"))"
            rm -f "$err"
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
    local name fn pid wd finished rc start_us dur reason had_e=0
    name=$(_xap_name "${1:-}")
    fn=${2:?xap_scenario NAME FUNCTION}
    shift 2
    [[ $- == *e* ]] && had_e=1
    set +e
    XAP_REASON_FILE=$(mktemp)
    _xap_emit "XAP-INFO scenario $name: start"
    start_us=$(_xap_now_us)
    (
        set -eE
        trap '_xap_reason "command failed (status $?): $BASH_COMMAND [${BASH_SOURCE[0]##*/}:$LINENO]"' ERR
        "$fn" "$@"
    ) &
    pid=$!
    # Watchdog: whichever of the scenario and the sleep ends first wins.
    sleep "$XAP_SCENARIO_TIMEOUT" &
    wd=$!
    wait -n -p finished "$pid" "$wd"
    rc=$?
    if [[ ${finished:-} == "$wd" ]]; then
        _xap_kill_tree "$pid"
        wait "$pid" 2>/dev/null
        : >"$XAP_REASON_FILE"
        _xap_reason "scenario timed out after ${XAP_SCENARIO_TIMEOUT}s (XAP_SCENARIO_TIMEOUT)"
        rc=124
    else
        kill "$wd" 2>/dev/null
        wait "$wd" 2>/dev/null
    fi
    dur=$(_xap_fmt_us "$(($(_xap_now_us) - start_us))")
    _xap_emit "XAP-TIME $name ${dur}s"
    if ((rc == 0)); then
        xap_pass "$name"
    else
        reason=$(cat "$XAP_REASON_FILE" 2>/dev/null)
        xap_fail "$name" "${reason:-exit status $rc}"
    fi
    rm -f "$XAP_REASON_FILE"
    XAP_REASON_FILE=
    ((had_e)) && set -e
    return 0
}

# xap_done: final line of the protocol. Call once, at the end of run.sh.
xap_done() {
    local passed failed
    passed=$(grep -c '^PASS ' "$XAP_RESULTS_FILE" || true)
    failed=$(grep -c '^FAIL ' "$XAP_RESULTS_FILE" || true)
    _xap_emit "XAP-COUNT passed=$passed failed=$failed"
    _xap_emit "XAP-DONE"
}
