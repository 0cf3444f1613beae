# shellcheck shell=bash
# Scenario steps of the systemd suite, shared by every payload that tests the
# daemon under a real systemd: tests/vm/scenarios (the DESTDIR install) and the
# Debian package test (the .deb). Source it after guest-lib.sh:
#
#   . "$XAP_GUEST_LIB"; . /mnt/payload/steps.sh
#   setup.sh:  <install the daemon>; sc_install_fixtures; sc_start_services
#   run.sh:    sc_run_all; xap_done
#
# The fixtures come from the directory of this file: fixtures/ (test config,
# game.service, the xmrig.service drop-in), tools/ (xap-miner-standin,
# xap-cpu-load) and libs/ (shared libraries the binaries need that the guest
# may lack; only missing sonames are installed).
#
# The miner is xmrig.service running the stand-in at nice 19; game.service is
# the watched unit (light load while /run/game-load exists); fg-load is a
# transient unit with two busy threads (system load). The daemon's unit is the
# one installed under test, with the test configuration (poll 200 ms, grace
# 3 s with no back-off, stop 25 %, resume 12 %, stop_debounce 1 s, watched
# {"game.service": 2}).
#
# Why stop 25 % / resume 12 % and not 15 % / 5 %: /proc/stat counts in ticks
# of 10 ms, so a 0.2 s window on 2 vCPUs has 40 ticks and 5 % is 2 ticks. On
# the emulated CPU an idle guest (the daemon's own polling, journald, timers)
# shows 0-4 work ticks per window with spikes to 7 (sc_window_trace logs a
# trace at the start of the run), so no 3 s run of windows at <= 5 % ever
# comes and the miner is never thawed. 12 % (4 ticks) sits above that noise;
# 25 % keeps the hysteresis and stays far below the 2-thread load (~100 %)
# and far above the game's light load (~6 % of the system). stop_debounce 1 s
# (default 0.3 s): a single systemctl or journalctl of the harness costs a
# few hundred ms of emulated CPU, enough for two 0.2 s windows above 25 %.
# The harness also polls with builtins (sc_wait, sc_settle) and lets the
# daemon settle (sc_settle) before a stimulus whose effect is asserted.
#
# Every scenario starts from and ends in the clean state (sc_restore_clean):
# no load, miner running and thawed, no claim, daemon running with the test
# config, no runtime drop-ins. After a failed scenario run.sh prints
# diagnostics and restores that state, so one failure does not cascade.
#
# Waits are bounded polls on observable state (cgroup.events, unit
# properties, the journal); the only fixed-length waits are observation
# windows in which something must keep holding (sc_holds_for, sc_settle), the
# spacing of the game restarts in s4 and the diagnostics' measurement windows.

sc_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

sc_miner=xmrig.service
sc_daemon=xmrig-auto-pause.service
sc_game=game.service
sc_fg=fg-load.service
sc_grace=3                          # grace_period (= grace_period_max) of fixtures/config.json
sc_claim=/var/lib/xmrig-auto-pause/claim.json
sc_game_flag=/run/game-load
sc_dropin_dir=/run/systemd/system/$sc_daemon.d
sc_dropin_prefix=50-xap-scenario-
# Generous bounds: the guest is emulated (TCG) on a shared, noisy host.
sc_freeze_timeout=60                # load applied -> frozen 1
sc_thaw_bound=30                    # load gone -> thawed within grace + this
sc_restart_limit=15                 # `systemctl restart xmrig` while frozen must take less (s)
# Set by sc_init.
sc_config=
sc_miner_cg=
sc_sleep_fd=

# Why the waits here avoid forks: on the emulated CPU one fork+exec costs
# milliseconds of (kernel) CPU time, which the daemon rightly counts as
# foreground load; a poll loop that runs /bin/sleep ten times a second keeps
# the system above the 5 % resume threshold by itself, so the miner would
# never be thawed. sc_sleep and sc_wait (used instead of guest-lib's
# wait_for) sleep with a bash builtin, and the conditions polled while the
# system must stay quiet (cgroup.events, the claim file) are builtins too.

# ---------------------------------------------------------------- helpers

# sc_now_us VAR: microseconds ($EPOCHREALTIME), without a fork.
sc_now_us() { local _sc_t=${EPOCHREALTIME/[.,]/}; printf -v "$1" '%s' "$((10#$_sc_t))"; }
# sc_fmt_us MICROSECONDS -> "1.234"
sc_fmt_us() { printf '%d.%03d' "$(($1 / 1000000))" "$((($1 % 1000000) / 1000))"; }

# The daemon's configuration file, from its unit's ExecStart= (--config PATH):
# /usr/local/etc/... for a /usr/local build, /etc/... for the package.
sc_find_config() {
    local exec
    exec=$(systemctl show -p ExecStart --value "$sc_daemon" 2>/dev/null || true)
    if [[ $exec =~ --config[=\ ]([^\ \;]+) ]]; then
        printf '%s' "${BASH_REMATCH[1]}"
    else
        printf '%s' /etc/xmrig-auto-pause/config.json
    fi
}

sc_init() {
    if [[ -z $sc_sleep_fd ]]; then
        # A FIFO nobody writes to: `read -t` on it is a sleep without a fork.
        local fifo=${XAP_STATE_DIR:-/run}/sc-sleep.fifo
        [[ -p $fifo ]] || mkfifo "$fifo"
        exec {sc_sleep_fd}<>"$fifo"
    fi
    sc_config=$(sc_find_config)
    local cg
    cg=$(systemctl show -p ControlGroup --value "$sc_miner" 2>/dev/null || true)
    sc_miner_cg=/sys/fs/cgroup${cg:-/system.slice/$sc_miner}
}

# cgroup.events "frozen" of the miner, read with builtins only (these run in
# tight polling loops on an emulated CPU). Fails if the cgroup is missing.
sc_miner_frozen_is() {
    local k v
    [[ -r $sc_miner_cg/cgroup.events ]] || { echo "no $sc_miner_cg/cgroup.events" >&2; return 1; }
    while read -r k v; do
        if [[ $k == frozen ]]; then
            [[ $v == "$1" ]] && return 0
            echo "cgroup.events says frozen $v" >&2
            return 1
        fi
    done <"$sc_miner_cg/cgroup.events"
    echo "no frozen key in cgroup.events" >&2
    return 1
}
sc_miner_frozen() { sc_miner_frozen_is 1; }
sc_miner_thawed() { sc_miner_frozen_is 0; }

# sc_prop_is UNIT PROPERTY VALUE
sc_prop_is() {
    local v
    v=$(systemctl show -p "$2" --value "$1")
    [[ $v == "$3" ]] || { echo "$1 $2=$v, want $3" >&2; return 1; }
}
# sc_prop_is_n19: the same, with systemctl at nice 19 (see sc_nice19).
sc_prop_is_n19() {
    local v
    v=$(nice -n 19 systemctl show -p "$2" --value "$1")
    [[ $v == "$3" ]] || { echo "$1 $2=$v, want $3" >&2; return 1; }
}
sc_active() { sc_prop_is "$1" ActiveState active; }
sc_not_active() {
    local v
    v=$(systemctl show -p ActiveState --value "$1")
    [[ $v != active && $v != activating && $v != deactivating && $v != reloading ]] ||
        { echo "$1 is $v" >&2; return 1; }
}

# sc_game_pid VAR: the first PID in game.service's cgroup ("" if none).
sc_game_pid() {
    local _sc_p='' _sc_f=/sys/fs/cgroup/system.slice/$sc_game/cgroup.procs
    if [[ -r $_sc_f ]]; then read -r _sc_p <"$_sc_f" || true; fi
    printf -v "$1" '%s' "$_sc_p"
}
sc_game_pid_changed() {
    local p
    sc_game_pid p
    [[ -n $p && $p != "$1" ]] || { echo "game PID ${p:-none}" >&2; return 1; }
}

sc_has_status_text() { [[ -n $(systemctl show -p StatusText --value "$sc_daemon") ]]; }
sc_admin_frozen_unclaimed() {
    sc_miner_frozen || return 1
    [[ ! -e $sc_claim ]] || { echo "a claim exists: $(<"$sc_claim")" >&2; return 1; }
}
sc_frozen_behind_systemds_back() { sc_miner_frozen && sc_prop_is "$sc_miner" FreezerState running; }

sc_claim_identity() {
    local c
    c=$(<"$sc_claim")
    [[ $c =~ \"identity\":\"([^\"]*)\" ]] && printf '%s' "${BASH_REMATCH[1]}"
}

# sc_journal_mark VAR: the time now (no fork: running journalctl for a cursor
# is itself CPU load the daemon may act on); later sc_daemon_log MARK shows
# what the daemon's unit logged since (daemon, ExecStartPre/Post, systemd).
sc_journal_mark() { printf -v "$1" '@%s' "${EPOCHREALTIME/,/.}"; }
sc_daemon_log() { journalctl -q -o cat --no-pager -u "$sc_daemon" --since="$1"; }
# sc_daemon_logged CURSOR ERE: the daemon's unit logged a matching line since CURSOR.
sc_daemon_logged() {
    local out
    out=$(sc_daemon_log "$1")
    grep -E -- "$2" <<<"$out" >/dev/null || { echo "no journal line matching '$2' yet" >&2; return 1; }
}
# sc_daemon_lines CURSOR ERE: the matching lines (none: empty output, status 0).
sc_daemon_lines() {
    local out
    out=$(sc_daemon_log "$1")
    grep -E -- "$2" <<<"$out" || true
}

# sc_nice19 COMMAND...: runs COMMAND at nice 19, so that its user time lands
# in the "nice" column (which the daemon does not count) rather than looking
# like foreground load; for harness commands whose CPU time must not make the
# daemon freeze. (Not for the whole harness: under the two-thread load a
# nice-19 harness gets ~1.5 % of a CPU and every command takes many seconds.)
sc_nice19() { nice -n 19 "$@"; }

# sc_sleep SECONDS: sleeps without a fork.
sc_sleep() { read -r -t "$1" -u "$sc_sleep_fd" _ || true; }

# sc_wait TIMEOUT DESCRIPTION COMMAND...: like guest-lib's wait_for (polls
# COMMAND until it succeeds; fails the scenario naming DESCRIPTION and
# COMMAND's last stderr line after TIMEOUT seconds), but without a fork
# between polls. SC_POLL (seconds, default 0.1) sets the poll interval.
sc_wait() {
    local timeout=$1 desc=$2 start now limit err last
    shift 2
    err=${XAP_STATE_DIR:-/tmp}/sc-wait.$BASHPID
    sc_now_us start
    limit=$((start + ${timeout%.*} * 1000000))
    while :; do
        if "$@" >/dev/null 2>"$err"; then
            return 0
        fi
        sc_now_us now
        if ((now >= limit)); then
            last=
            [[ -s $err ]] && { last=$(<"$err"); last=" (last error: ${last##*$'\n'})"; }
            xap_die "timed out after ${timeout}s waiting for $desc$last"
        fi
        sc_sleep "${SC_POLL:-0.1}"
    done
}

# sc_holds_for SECONDS DESCRIPTION COMMAND...: COMMAND must succeed at every
# check during SECONDS (an observation window, not a wait for a condition).
sc_holds_for() {
    local secs=$1 desc=$2 end now err last
    shift 2
    err=${XAP_STATE_DIR:-/tmp}/sc-holds.$BASHPID
    sc_now_us now
    end=$((now + secs * 1000000))
    while ((now < end)); do
        if ! "$@" >/dev/null 2>"$err"; then
            last=$(<"$err")
            xap_die "$desc stopped holding: ${last:-$* failed}"
        fi
        sc_sleep 0.1
        sc_now_us now
    done
}

sc_start_fg_load() {
    systemctl reset-failed "$sc_fg" 2>/dev/null || true
    systemd-run --quiet --unit="$sc_fg" --description="scenario system load" \
        /usr/local/bin/xap-cpu-load --threads 2
    sc_wait 30 "$sc_fg active" sc_active "$sc_fg"
}
sc_stop_fg_load() {
    systemctl stop "$sc_fg" 2>/dev/null || true
    systemctl reset-failed "$sc_fg" 2>/dev/null || true
}

sc_daemon_restart() {
    # The scenarios restart the daemon more often than StartLimitBurst= allows
    # in StartLimitIntervalSec=; reset-failed clears the rate limit.
    systemctl reset-failed "$sc_daemon" 2>/dev/null || true
    systemctl restart "$sc_daemon"
    sc_wait 60 "$sc_daemon active" sc_active "$sc_daemon"
}

# sc_write_dropin NAME CONTENT: a runtime drop-in for the daemon's unit.
sc_write_dropin() {
    mkdir -p "$sc_dropin_dir"
    printf '%s\n' "$2" >"$sc_dropin_dir/$sc_dropin_prefix$1.conf"
    systemctl daemon-reload
}
# Removes our runtime drop-ins; returns 0 if there were any.
sc_remove_dropins() {
    local f any=1
    [[ -d $sc_dropin_dir ]] || return 1
    for f in "$sc_dropin_dir/$sc_dropin_prefix"*.conf; do
        [[ -e $f ]] || continue
        rm -f "$f"
        any=0
    done
    rmdir "$sc_dropin_dir" 2>/dev/null || true
    if ((any == 0)); then systemctl daemon-reload; fi
    return "$any"
}

# sc_same_content FILE FILE (builtins only)
sc_same_content() {
    local a='' b=''
    [[ -r $1 && -r $2 ]] || return 1
    IFS= read -r -d '' a <"$1" || true
    IFS= read -r -d '' b <"$2" || true
    [[ $a == "$b" ]]
}

# sc_settle: the miner thawed and left alone for 2 s (longer than the 1 s
# stop_debounce), so that whatever the harness did before (systemctl,
# journalctl: foreground load to the daemon) has stopped counting. Before a
# stimulus whose effect (and journal reason) is asserted.
sc_settle() {
    local t now since=0
    sc_now_us t
    while :; do
        sc_now_us now
        if sc_miner_thawed 2>/dev/null && [[ ! -e $sc_claim ]]; then
            ((since)) || since=$now
            ((now - since >= 2000000)) && return 0
        else
            since=0
        fi
        ((now - t < (sc_grace + sc_thaw_bound + 30) * 1000000)) ||
            xap_die "the miner did not stay thawed for 2 s (noise keeps the daemon freezing?)"
        sc_sleep 0.1
    done
}

sc_wait_thawed() {
    sc_wait $((sc_grace + sc_thaw_bound)) "the miner to be thawed (cgroup.events frozen 0)" sc_miner_thawed
}
sc_wait_frozen() {
    sc_wait "$sc_freeze_timeout" "the miner to be frozen (cgroup.events frozen 1)" sc_miner_frozen
}

# The clean state every scenario starts from and ends in; asserts it. When
# the state is clean already it costs one systemctl call: on the emulated CPU
# each one is foreground load that can make the daemon freeze (harmlessly,
# but then the thaw takes the grace period).
sc_restore_clean() {
    local restart=0 line u
    local -A state=()
    [[ ! -e $sc_game_flag ]] || rm -f "$sc_game_flag"
    [[ ! -d /sys/fs/cgroup/system.slice/$sc_fg ]] || sc_stop_fg_load
    if sc_remove_dropins; then restart=1; fi
    if ! sc_same_content "$sc_dir/fixtures/config.json" "$sc_config"; then
        install -m 0644 "$sc_dir/fixtures/config.json" "$sc_config"
        restart=1
    fi
    # One call for all three units: blocks of Id=, ActiveState=, FreezerState=.
    u=
    while IFS= read -r line; do
        case $line in
            Id=*) u=${line#Id=} ;;
            ActiveState=* | FreezerState=*) state[$u.${line%%=*}]=${line#*=} ;;
        esac
    done < <(systemctl show -p Id -p ActiveState -p FreezerState "$sc_miner" "$sc_game" "$sc_daemon")
    if [[ ${state[$sc_miner.FreezerState]:-} != running ]]; then
        systemctl thaw "$sc_miner" || true
    fi
    for u in "$sc_miner" "$sc_game"; do
        if [[ ${state[$u.ActiveState]:-} != active ]]; then
            systemctl reset-failed "$u" 2>/dev/null || true
            systemctl start "$u"
            sc_wait 30 "$u active" sc_active "$u"
        fi
    done
    if ((restart)) || [[ ${state[$sc_daemon.ActiveState]:-} != active ]]; then
        sc_daemon_restart
    fi
    sc_wait_thawed
    sc_wait 10 "no claim ($sc_claim gone)" test ! -e "$sc_claim"
    if [[ ${state[$sc_miner.FreezerState]:-} != running ]]; then
        sc_prop_is "$sc_miner" FreezerState running
    fi
}

# sc_cpu_report SECONDS: where the CPU went over SECONDS (diagnostics): the
# /proc/stat columns in percent of capacity and the busiest cgroups. Reads
# with builtins only, so that the report does not measure itself.
# shellcheck disable=SC2034  # snap is a nameref to the caller's array
_sc_cpu_snapshot() { # ARRAY-NAME
    local -n snap=$1
    local f k v rest
    snap=()
    read -r _ rest </proc/stat
    snap['stat']=$rest
    for f in /sys/fs/cgroup/*/cpu.stat /sys/fs/cgroup/*/*/cpu.stat; do
        while read -r k v; do
            if [[ $k == usage_usec ]]; then snap["${f%/cpu.stat}"]=$v; break; fi
        done <"$f"
    done
}
sc_cpu_report() {
    local -A before after
    local k i t=0 out='' n
    local -a a b
    local names=(user nice system idle iowait irq softirq steal)
    _sc_cpu_snapshot before
    sc_sleep "$1"
    _sc_cpu_snapshot after
    read -r -a a <<<"${before['stat']}"
    read -r -a b <<<"${after['stat']}"
    for i in 0 1 2 3 4 5 6 7; do t=$((t + b[i] - a[i])); done
    ((t > 0)) || t=1
    for i in 0 1 2 3 4 5 6 7; do
        n=$(((b[i] - a[i]) * 1000 / t))
        out+="${names[i]} $((n / 10)).$((n % 10))% "
    done
    xap_log "cpu over ${1}s (of all CPUs): $out"
    out=''
    for k in "${!after[@]}"; do
        [[ $k != stat && -n ${before[$k]:-} ]] || continue
        n=$(((after[$k] - before[$k]) / ($1 * 1000)))   # per mille of one CPU
        ((n > 0)) && out+="${k#/sys/fs/cgroup/}=$((n / 10)).$((n % 10))% "
    done
    xap_log "cpu by cgroup (of one CPU): $out"
}

# sc_window_trace SECONDS: the foreground share (user+system+irq+softirq, as
# the daemon counts it) of consecutive 0.2 s windows, from /proc/stat, with
# builtins only (diagnostics: how noisy is "idle" here).
sc_window_trace() {
    local n=$(($1 * 5)) i out='' a b t w
    local -a x y
    read -r _ a </proc/stat
    for ((i = 0; i < n; i++)); do
        sc_sleep 0.2
        read -r _ b </proc/stat
        read -r -a x <<<"$a"
        read -r -a y <<<"$b"
        t=$((y[0] + y[1] + y[2] + y[3] + y[4] + y[5] + y[6] + y[7] - x[0] - x[1] - x[2] - x[3] - x[4] - x[5] - x[6] - x[7]))
        w=$((y[0] + y[2] + y[5] + y[6] - x[0] - x[2] - x[5] - x[6]))
        out+="$w/$t "
        a=$b
    done
    xap_log "0.2 s windows (work/total ticks): $out"
}

sc_diagnostics() {
    local l
    sc_cpu_report 2
    xap_log "diag: miner $sc_miner_cg: $(tr '\n' ' ' <"$sc_miner_cg/cgroup.events" 2>&1)" \
        "FreezerState=$(systemctl show -p FreezerState --value "$sc_miner" 2>&1)"
    xap_log "diag: units: $(systemctl show -p Id -p ActiveState -p SubState "$sc_miner" "$sc_game" "$sc_daemon" "$sc_fg" 2>&1 | tr '\n' ' ')"
    xap_log "diag: claim: $(cat "$sc_claim" 2>&1)"
    xap_log "diag: status: $(xmrig-auto-pause status --json 2>&1 | tr '\n' ' ')"
    while IFS= read -r l; do xap_log "diag: journal: $l"; done < <(journalctl -q -o short-precise --no-pager -n 40 -u "$sc_daemon" 2>&1)
}

# sc_selected NAME: the run includes scenario NAME.
sc_selected() {
    [[ ! -s $sc_dir/only ]] || grep -qxF -- "$1" <(tr ' ' '\n' <"$sc_dir/only")
}

# sc_scenario NAME FUNCTION: one xap_scenario; after a failure, diagnostics
# and a best-effort return to the clean state for the next scenario.
# A file "only" next to this one (run-scenarios.sh writes it from
# $XAP_SCENARIOS) limits the run to the scenarios it names; SC_FORCE=1 runs
# a step of a selected scenario that has a name of its own.
sc_scenario() {
    [[ -n ${SC_FORCE:-} ]] || sc_selected "$1" || return 0
    xap_scenario "$@"
    local last
    last=$(tail -n 1 "$XAP_RESULTS_FILE")
    [[ $last == FAIL* ]] || return 0
    sc_diagnostics
    if ! (set -e; sc_restore_clean) >/dev/null 2>&1; then
        xap_log "could not restore the clean state after $1; later scenarios may fail too"
    fi
}

# ---------------------------------------------------------------- setup

# Installs the test fixtures once the daemon itself is installed (its unit
# must be known to systemd: the config path is taken from it).
sc_install_fixtures() {
    local f so
    if [[ -d $sc_dir/libs ]]; then
        # Only sonames the guest lacks (e.g. libspdlog, libfmt); never shadow its own.
        local known
        known=$(ldconfig -p)
        for f in "$sc_dir"/libs/*; do
            so=${f##*/}
            if [[ $known != *$'\t'"$so ("* ]]; then
                install -m 0644 "$f" "/usr/local/lib/$so"
            fi
        done
        ldconfig
    fi
    if [[ -d $sc_dir/tools ]]; then
        install -m 0755 "$sc_dir"/tools/* /usr/local/bin/
    fi
    for f in xap-miner-standin xap-cpu-load; do
        [[ -x /usr/local/bin/$f ]] || { echo "missing /usr/local/bin/$f" >&2; return 1; }
    done
    install -m 0755 "$sc_dir/fixtures/xap-game" /usr/local/bin/xap-game
    install -m 0644 "$sc_dir/fixtures/game.service" /etc/systemd/system/game.service
    install -D -m 0644 "$sc_dir/fixtures/xmrig-standin.conf" /etc/systemd/system/xmrig.service.d/50-xap-standin.conf
    systemctl daemon-reload
    sc_init
    [[ -d ${sc_config%/*} ]] || { echo "config directory of $sc_config missing" >&2; return 1; }
    install -m 0644 "$sc_dir/fixtures/config.json" "$sc_config"
    xmrig-auto-pause --check-config --config "$sc_config"
}

sc_start_services() {
    systemctl enable --now "$sc_miner" "$sc_game"
    sc_wait 60 "$sc_miner active" sc_active "$sc_miner"
    sc_wait 60 "$sc_game active" sc_active "$sc_game"
    systemctl enable "$sc_daemon"
    sc_daemon_restart
}

# ---------------------------------------------------------------- scenarios

# 0. The daemon runs, hardened, and reports its state in STATUS=.
sc_s0_daemon_active() {
    sc_restore_clean
    sc_active "$sc_daemon"
    local sec st
    sec=$(systemd-analyze security --no-pager "$sc_daemon" 2>&1 | grep -F 'Overall exposure level' || true)
    [[ -n $sec ]] || xap_die "systemd-analyze security printed no exposure level"
    xap_log "security: ${sec#*→ }"
    sc_wait 30 "a StatusText= for $sc_daemon" sc_has_status_text
    st=$(systemctl show -p StatusText --value "$sc_daemon")
    xap_log "StatusText: $st"
    local status
    status=$(systemctl status --no-pager "$sc_daemon" 2>&1 || true)
    grep -F "Status: \"$st" <<<"$status" >/dev/null || grep -F 'Status: "' <<<"$status" >/dev/null ||
        xap_die "systemctl status shows no Status: line"
    xap_log "status --json: $(xmrig-auto-pause status --json | tr '\n' ' ')"
    sc_cpu_report 3
    sc_restore_clean
}

# 1. System load freezes the miner behind systemd's back.
sc_s1_system_load_freezes() {
    sc_restore_clean
    local mark
    sc_journal_mark mark
    sc_start_fg_load
    sc_wait_frozen
    sc_prop_is "$sc_miner" FreezerState running
    sc_active "$sc_miner"
    SC_POLL=0.5 sc_wait 10 "the journal to show the freeze on system CPU" \
        sc_daemon_logged "$mark" "^freezing $sc_miner_cg: system CPU"
    test -s "$sc_claim" || xap_die "frozen, but no claim in $sc_claim"
    # systemd never learns about the freeze while it lasts.
    sc_holds_for 2 "frozen 1 with FreezerState=running" \
        sc_frozen_behind_systemds_back
    sc_stop_fg_load
    sc_restore_clean
}

# 2. Load gone: thawed after the grace period, not before, not much after.
sc_s2_thaw_after_grace() {
    sc_restore_clean
    local mark t0 t1 t2
    sc_start_fg_load
    sc_wait_frozen
    sc_journal_mark mark
    sc_now_us t0
    sc_stop_fg_load
    sc_now_us t1
    sc_wait_thawed
    sc_now_us t2
    xap_log "measure: thaw $(sc_fmt_us $((t2 - t0))) s after stopping the load" \
        "($(sc_fmt_us $((t2 - t1))) s after the stop returned; grace ${sc_grace} s)"
    # Quiet is judged per window: the window in which the load ended counts as quiet when the load
    # left early enough in it, so the thaw may come up to one poll interval (0.2 s) early.
    (((t2 - t0) >= sc_grace * 1000000 - 200000)) ||
        xap_die "thawed $(sc_fmt_us $((t2 - t0))) s after the load was stopped: before the ${sc_grace} s grace period"
    (((t2 - t1) < (sc_grace + sc_thaw_bound) * 1000000)) ||
        xap_die "thawed only $(sc_fmt_us $((t2 - t1))) s after the load ended"
    SC_POLL=0.5 sc_wait 10 "the journal to show the thaw after the grace period" \
        sc_daemon_logged "$mark" "^thawing $sc_miner_cg: quiet for"
    sc_restore_clean
}

# 3. The watched service's light load (below the system threshold) freezes.
sc_s3_watched_light_load() {
    sc_restore_clean
    local mark line
    sc_settle
    sc_journal_mark mark
    : >"$sc_game_flag"
    sc_wait_frozen
    SC_POLL=0.5 sc_wait 10 "the journal to show the freeze for game.service" \
        sc_daemon_logged "$mark" "^freezing $sc_miner_cg: .*watched game\.service"
    line=$(sc_daemon_lines "$mark" '^freezing ' | head -n 1)
    xap_log "freeze: $line"
    [[ $line != *"system CPU"* ]] ||
        xap_die "the light load crossed the system threshold, so the watched threshold was not what froze: $line"
    rm -f "$sc_game_flag"
    sc_restore_clean
}

# 4. A watched unit that starts after the daemon is picked up; restarts of it
# (counter resets) cause no freeze.
sc_s4_watched_unit_lifecycle() {
    sc_restore_clean
    local mark i pid
    systemctl stop "$sc_game"
    sc_wait 30 "$sc_game stopped" sc_not_active "$sc_game"
    sc_daemon_restart
    systemctl start "$sc_game"
    sc_wait 30 "$sc_game active" sc_active "$sc_game"
    sc_settle
    sc_journal_mark mark
    : >"$sc_game_flag"
    sc_wait_frozen
    SC_POLL=0.5 sc_wait 10 "the journal to show the freeze for game.service (started after the daemon)" \
        sc_daemon_logged "$mark" "^freezing $sc_miner_cg: .*watched game\.service"
    rm -f "$sc_game_flag"
    sc_wait_thawed
    sc_wait 10 "no claim" test ! -e "$sc_claim"

    sc_settle
    sc_journal_mark mark
    # One systemctl per restart (each is foreground load on this emulated CPU),
    # at nice 19, spaced by more than the stop debounce; the new instance is
    # recognised by its PID in the unit's cgroup (read with builtins).
    for i in 1 2 3; do
        sc_game_pid pid
        sc_nice19 systemctl restart "$sc_game"
        sc_wait 30 "$sc_game restarted ($i)" sc_game_pid_changed "$pid"
        sc_miner_thawed || xap_die "the miner froze during restart $i of $sc_game"
        sc_sleep 1.5
    done
    sc_holds_for 5 "the miner running (frozen 0) after restarts of $sc_game" sc_miner_thawed
    local frz
    frz=$(sc_daemon_lines "$mark" '^freezing ')
    [[ -z $frz ]] || xap_die "restarts of $sc_game caused a freeze: ${frz%%$'\n'*}"
    sc_restore_clean
}

# 5. `systemctl restart xmrig` while frozen completes quickly, and the new
# instance is not taken for the claimed one.
sc_s5_restart_miner_while_frozen() {
    sc_restore_clean
    local mark old_id old_inv new_inv t0 t1 id
    sc_start_fg_load
    sc_wait_frozen
    sc_wait 10 "a claim" test -s "$sc_claim"
    old_id=$(sc_claim_identity)
    old_inv=$(systemctl show -p InvocationID --value "$sc_miner")
    sc_journal_mark mark
    sc_now_us t0
    systemctl restart "$sc_miner"
    sc_now_us t1
    xap_log "measure: systemctl restart $sc_miner while frozen took $(sc_fmt_us $((t1 - t0))) s"
    (((t1 - t0) < sc_restart_limit * 1000000)) ||
        xap_die "systemctl restart $sc_miner took $(sc_fmt_us $((t1 - t0))) s while frozen (limit ${sc_restart_limit} s)"
    new_inv=$(systemctl show -p InvocationID --value "$sc_miner")
    [[ $new_inv != "$old_inv" ]] || xap_die "InvocationID did not change on restart"
    SC_POLL=0.5 sc_wait 10 "the journal to show the thaw on deactivation or the claim dropped" \
        sc_daemon_logged "$mark" "^(thawing $sc_miner_cg: the miner is changing state|claim dropped)"
    # With the load still on, the daemon may freeze the new instance: under a
    # claim of its own, never the old one.
    if [[ -e $sc_claim ]]; then
        id=$(sc_claim_identity || true)
        [[ $id != "$old_id" ]] || xap_die "the claim still names the old instance ($old_id) after the restart"
    fi
    sc_stop_fg_load
    sc_wait_thawed
    sc_wait 10 "no claim" test ! -e "$sc_claim"
    xap_log "restart: $(sc_daemon_lines "$mark" '^(thawing|claim dropped|freezing)' | tr '\n' '|')"
    sc_restore_clean
}

# 6. An administrator's `systemctl freeze` is left alone, and thaws normally.
# The journal mark comes before the freeze: the daemon may notice systemd's
# freeze (and say so) before the load starts, and it may even have frozen the
# miner itself a moment before the admin did (then it must drop its claim and
# leave the admin's freeze in place). The harness's systemctl calls run at
# nice 19 so that they do not look like foreground load.
sc_s6_admin_freeze_respected() {
    sc_restore_clean
    local mark thw
    sc_settle
    sc_journal_mark mark
    sc_nice19 systemctl freeze "$sc_miner"
    SC_POLL=0.5 sc_wait 30 "FreezerState=frozen" sc_prop_is_n19 "$sc_miner" FreezerState frozen
    sc_miner_frozen
    sc_start_fg_load
    SC_POLL=0.5 sc_wait "$sc_freeze_timeout" "the journal to say systemd holds a freeze" \
        sc_daemon_logged "$mark" "systemd (now )?holds (a|its own) freeze on the miner"
    sc_holds_for 3 "the admin's freeze in place, without a claim of ours" sc_admin_frozen_unclaimed
    thw=$(sc_daemon_lines "$mark" '^thawing ')
    [[ -z $thw ]] || xap_die "the daemon thawed a miner systemd holds frozen: $thw"
    xap_log "admin freeze: $(sc_daemon_lines "$mark" 'systemd|^freezing|claim' | tr '\n' '|')"
    sc_stop_fg_load
    systemctl thaw "$sc_miner"
    sc_wait 30 "FreezerState=running" sc_prop_is "$sc_miner" FreezerState running
    sc_wait 10 "frozen 0 after systemctl thaw" sc_miner_thawed
    [[ ! -e $sc_claim ]] || xap_die "a claim appeared: $(<"$sc_claim")"
    sc_restore_clean
}

# 7. SIGKILLed while frozen, with the ExecStopPost= safety net removed: the
# restarted daemon recovers its claim and thaws once idle.
sc_s7_sigkill_recovery() {
    sc_restore_clean
    local mark t0 t2
    sc_write_dropin no-safety-net $'[Service]\nExecStopPost=\nRestart=no'
    sc_prop_is "$sc_daemon" Restart no
    sc_prop_is "$sc_daemon" ExecStopPost ""
    sc_start_fg_load
    sc_wait_frozen
    sc_wait 10 "a claim" test -s "$sc_claim"
    systemctl kill -s KILL "$sc_daemon"
    sc_wait 30 "$sc_daemon dead" sc_not_active "$sc_daemon"
    sc_stop_fg_load
    sc_miner_frozen || xap_die "the miner was thawed although the daemon was SIGKILLed without safety net"
    test -s "$sc_claim" || xap_die "the claim is gone after SIGKILL"
    sc_journal_mark mark
    sc_now_us t0
    systemctl reset-failed "$sc_daemon"
    systemctl start "$sc_daemon"
    sc_wait_thawed
    sc_now_us t2
    SC_POLL=0.5 sc_wait 10 "the journal to show the recovered claim" \
        sc_daemon_logged "$mark" "found our claim from a previous run"
    xap_log "measure: thawed $(sc_fmt_us $((t2 - t0))) s after the daemon was started again (grace ${sc_grace} s)"
    (((t2 - t0) >= sc_grace * 1000000)) ||
        xap_die "thawed $(sc_fmt_us $((t2 - t0))) s after the start: before the grace period"
    SC_POLL=0.5 sc_wait 10 "the journal to show the thaw after the grace period" \
        sc_daemon_logged "$mark" "^thawing $sc_miner_cg: quiet for"
    sc_wait 10 "no claim" test ! -e "$sc_claim"
    sc_remove_dropins || true
    sc_restore_clean
}

# 8. A watched unit that does not exist: one clear journal line; the rest works.
sc_s8_missing_watched_unit() {
    sc_restore_clean
    local mark lines n
    install -m 0644 "$sc_dir/fixtures/config-nosuch.json" "$sc_config"
    sc_journal_mark mark
    sc_daemon_restart
    SC_POLL=0.5 sc_wait 20 "the journal to report nosuch.service" \
        sc_daemon_logged "$mark" "configuration problem: the watched unit nosuch\.service does not exist"
    sc_start_fg_load
    sc_wait_frozen
    sc_stop_fg_load
    sc_wait_thawed
    # Lines about nosuch.service, other than the settings summaries
    # ("watched=game.service:2.0%,nosuch.service:2.0%").
    lines=$(sc_daemon_lines "$mark" 'nosuch\.service' | grep -v 'watched=' || true)
    n=$(grep -c . <<<"$lines" || true)
    xap_log "nosuch: ${lines//$'\n'/ | }"
    ((n == 1)) || xap_die "expected exactly one journal line about nosuch.service, got $n: ${lines//$'\n'/ | }"
    install -m 0644 "$sc_dir/fixtures/config.json" "$sc_config"
    sc_daemon_restart
    sc_restore_clean
}

# 9. ProtectControlGroups=yes makes the start fail with a message naming it.
sc_s9_protect_control_groups() {
    sc_restore_clean
    local mark line
    sc_write_dropin protect-cgroups $'[Service]\nProtectControlGroups=yes'
    sc_prop_is "$sc_daemon" ProtectControlGroups yes
    sc_journal_mark mark
    systemctl reset-failed "$sc_daemon" 2>/dev/null || true
    if systemctl restart "$sc_daemon"; then
        xap_die "$sc_daemon started with ProtectControlGroups=yes"
    fi
    if sc_active "$sc_daemon" 2>/dev/null; then xap_die "$sc_daemon is active with ProtectControlGroups=yes"; fi
    SC_POLL=0.5 sc_wait 20 "a journal line naming ProtectControlGroups" \
        sc_daemon_logged "$mark" "ProtectControlGroups"
    line=$(sc_daemon_lines "$mark" "ProtectControlGroups" | head -n 1)
    xap_log "ProtectControlGroups: $line"
    systemctl stop "$sc_daemon"
    sc_remove_dropins
    systemctl reset-failed "$sc_daemon" 2>/dev/null || true
    systemctl start "$sc_daemon"
    sc_wait 60 "$sc_daemon active without the drop-in" sc_active "$sc_daemon"
    sc_restore_clean
}

sc_run_all() {
    sc_init
    sc_cpu_report 3   # the idle baseline, for the record
    sc_window_trace 5
    sc_scenario s0_daemon_active sc_s0_daemon_active
    sc_scenario s1_system_load_freezes sc_s1_system_load_freezes
    sc_scenario s2_thaw_after_grace sc_s2_thaw_after_grace
    sc_scenario s3_watched_light_load sc_s3_watched_light_load
    sc_scenario s4_watched_unit_lifecycle sc_s4_watched_unit_lifecycle
    sc_scenario s5_restart_miner_while_frozen sc_s5_restart_miner_while_frozen
    sc_scenario s6_admin_freeze_respected sc_s6_admin_freeze_respected
    sc_scenario s7_sigkill_recovery sc_s7_sigkill_recovery
    sc_scenario s8_missing_watched_unit sc_s8_missing_watched_unit
    sc_scenario s9_protect_control_groups sc_s9_protect_control_groups
}
