# shellcheck shell=bash
# Scenario steps of the Debian package test. Source after guest-lib.sh and
# steps.sh (the systemd suite's steps, whose helpers and clean state these
# reuse). The package is installed with apt from the payload; its units are
# the ones under test: Type=notify, Restart=on-failure, the ExecStopPost=
# safety net, After=xmrig.service (stops before the miner at shutdown), and
# the maintainer scripts of dh_installsystemd.

pk_state=/var/lib/xap-bench          # on the root disk: survives the reboot of p5
pk_lib=/usr/local/lib/xap-bench      # what must still be there late in a shutdown
pk_poweroff_limit=15                 # s: the miner's TimeoutStopSec= is 30 s

pk_deb() {
    local f
    for f in "$sc_dir"/xmrig-auto-pause_*.deb; do
        [[ -e $f ]] && { printf '%s' "$f"; return 0; }
    done
    echo "no xmrig-auto-pause_*.deb in $sc_dir" >&2
    return 1
}

# The guest is offline: apt takes the dependencies from the payload's
# repository (run-package.sh builds it) instead of the Debian mirror.
pk_use_local_repository() {
    if [[ -e /etc/apt/sources.list ]]; then mv /etc/apt/sources.list /etc/apt/sources.list.offline; fi
    printf 'deb [trusted=yes] file:%s/repo ./\n' "$sc_dir" >/etc/apt/sources.list.d/xap-local.list
    apt-get update -qq
}

# pk_apt VERB ARGS...: apt-get, quiet; its output is shown only on failure.
pk_apt() {
    local out rc=0
    out=$(DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@" 2>&1) || rc=$?
    if ((rc != 0)); then
        printf '%s\n' "$out" | tail -n 20 >&2
        echo "apt-get $* exited $rc" >&2
    fi
    return "$rc"
}

# As a user would: apt install ./xmrig-auto-pause_VERSION_amd64.deb.
pk_apt_install() {
    local deb
    deb=$(pk_deb)
    pk_apt install "$deb"
}

pk_record_install_state() {
    mkdir -p "$pk_state"
    {
        printf 'daemon-enabled=%s\n' "$(systemctl is-enabled "$sc_daemon" 2>&1 || true)"
        printf 'daemon-active=%s\n' "$(systemctl is-active "$sc_daemon" 2>&1 || true)"
        printf 'miner-enabled=%s\n' "$(systemctl is-enabled "$sc_miner" 2>&1 || true)"
        printf 'miner-active=%s\n' "$(systemctl is-active "$sc_miner" 2>&1 || true)"
    } >"$pk_state/install-state"
}

pk_installed() { [[ $(dpkg-query -W -f='${db:Status-Status}' xmrig-auto-pause 2>/dev/null) == installed ]]; }
pk_not_known() {
    local s
    s=$(dpkg-query -W -f='${db:Status-Status}' xmrig-auto-pause 2>/dev/null || true)
    [[ -z $s || $s == not-installed ]] || { echo "dpkg status of xmrig-auto-pause: $s" >&2; return 1; }
}
pk_claim_gone() { [[ ! -e $sc_claim ]] || { echo "claim: $(<"$sc_claim")" >&2; return 1; }; }

# pk_frozen_with_claim: system load on, the miner frozen, our claim written.
pk_frozen_with_claim() {
    sc_start_fg_load
    sc_wait_frozen
    sc_wait 10 "a claim" test -s "$sc_claim"
}

# p0. `apt install` enabled and started the daemon; the miner unit it ships
# is neither enabled nor started, and gets Nice=19 from the shipped drop-in.
pk_p0_installed_and_running() {
    local st line
    st=$(<"$pk_state/install-state")
    xap_log "package: after apt install: ${st//$'\n'/ }"
    for line in daemon-enabled=enabled daemon-active=active miner-enabled=disabled miner-active=inactive; do
        grep -qx -- "$line" <<<"$st" || xap_die "after apt install, want $line; got: ${st//$'\n'/ }"
    done
    pk_installed || xap_die "dpkg does not list xmrig-auto-pause as installed"
    local conf
    conf=$(dpkg-query -W -f='${Conffiles}' xmrig-auto-pause)
    [[ $conf == *"/etc/xmrig-auto-pause/config.json "* ]] || xap_die "config.json is not a conffile: $conf"
    sc_prop_is "$sc_miner" Nice 19
    local f
    for f in /usr/share/man/man8/xmrig-auto-pause.8.gz /usr/share/man/man5/xmrig-auto-pause.json.5.gz; do
        [[ -s $f ]] || xap_die "missing $f"
    done
    sc_restore_clean
}

# p1. `systemctl restart xmrig-auto-pause` while frozen: the stopping daemon
# thaws what it owns, the new one freezes again under the same load (its own
# claim), and thaws once the load is gone.
pk_p1_daemon_restart_while_frozen() {
    sc_restore_clean
    local mark
    pk_frozen_with_claim
    sc_journal_mark mark
    systemctl restart "$sc_daemon"
    sc_wait 60 "$sc_daemon active" sc_active "$sc_daemon"
    sc_wait_frozen
    sc_wait 10 "a claim of the new daemon" test -s "$sc_claim"
    SC_POLL=0.5 sc_wait 10 "the journal to show the release and the new freeze" \
        sc_daemon_logged "$mark" "^freezing $sc_miner_cg: system CPU"
    sc_daemon_logged "$mark" "^exiting: thawed $sc_miner_cg \(our freeze\)" ||
        xap_die "the stopping daemon did not log the thaw of its freeze"
    sc_stop_fg_load
    sc_wait_thawed
    sc_wait 10 "no claim" pk_claim_gone
    sc_restore_clean
}

# p2. SIGKILL while frozen, load gone before the daemon comes back: the
# unit's ExecStopPost= thaws the miner at once, Restart=on-failure brings the
# daemon back, and it finds nothing to recover.
pk_p2_daemon_sigkill_while_frozen() {
    sc_restore_clean
    local mark n0 t0 t1
    n0=$(systemctl show -p NRestarts --value "$sc_daemon")
    pk_frozen_with_claim
    sc_journal_mark mark
    sc_now_us t0
    systemctl kill -s KILL "$sc_daemon"
    sc_stop_fg_load
    sc_wait 30 "the miner thawed by the ExecStopPost= safety net" sc_miner_thawed
    sc_now_us t1
    xap_log "measure: thawed $(sc_fmt_us $((t1 - t0))) s after SIGKILL (ExecStopPost=)"
    SC_POLL=0.5 sc_wait 10 "the journal to show the safety net's thaw" \
        sc_daemon_logged "$mark" "^release: thawed $sc_miner_cg"
    SC_POLL=0.5 sc_wait 60 "$sc_daemon restarted (NRestarts > $n0) and active" pk_daemon_restarted "$n0"
    sc_wait 10 "no claim" pk_claim_gone
    sc_holds_for 3 "the miner running after the restart" sc_miner_thawed
    sc_restore_clean
}
pk_daemon_restarted() {
    local n
    n=$(systemctl show -p NRestarts --value "$sc_daemon")
    ((n > $1)) || { echo "NRestarts=$n" >&2; return 1; }
    sc_active "$sc_daemon"
}

# p3. `systemctl stop xmrig-auto-pause` while frozen: thawed by the time the
# stop returns, claim gone.
pk_p3_daemon_stop_while_frozen() {
    sc_restore_clean
    local mark t0 t1
    pk_frozen_with_claim
    sc_journal_mark mark
    sc_now_us t0
    systemctl stop "$sc_daemon"
    sc_now_us t1
    xap_log "measure: systemctl stop $sc_daemon while frozen took $(sc_fmt_us $((t1 - t0))) s"
    sc_miner_thawed || xap_die "the miner is still frozen after systemctl stop returned"
    pk_claim_gone || xap_die "the claim is still there after systemctl stop"
    sc_daemon_logged "$mark" "^exiting: thawed $sc_miner_cg \(our freeze\)" ||
        xap_die "the daemon did not log the thaw of its freeze"
    sc_stop_fg_load
    systemctl start "$sc_daemon"
    sc_wait 60 "$sc_daemon active" sc_active "$sc_daemon"
    sc_restore_clean
}

# p4. `apt-get remove` while frozen thaws (the prerm stops the daemon);
# `apt-get purge` leaves no state or configuration behind; installing again
# gives a running daemon with the default configuration.
pk_p4_remove_purge_reinstall() {
    sc_restore_clean
    pk_frozen_with_claim
    pk_apt remove xmrig-auto-pause
    sc_miner_thawed || xap_die "the miner is still frozen after apt-get remove"
    pk_claim_gone || xap_die "the claim is still there after apt-get remove"
    sc_not_active "$sc_daemon"
    [[ ! -e /usr/bin/xmrig-auto-pause ]] || xap_die "/usr/bin/xmrig-auto-pause is still there after remove"
    [[ -e /etc/xmrig-auto-pause/config.json ]] || xap_die "remove deleted the conffile (only purge may)"
    sc_active "$sc_miner"   # removing the package leaves a running miner alone
    pk_apt purge xmrig-auto-pause
    pk_not_known
    local d
    for d in /var/lib/xmrig-auto-pause /etc/xmrig-auto-pause; do
        [[ ! -e $d ]] || xap_die "$d is still there after purge: $(ls -A "$d" | tr '\n' ' ')"
    done
    sc_stop_fg_load
    pk_apt_install
    pk_installed || xap_die "reinstall: not installed"
    sc_wait 60 "$sc_daemon active after reinstall" sc_active "$sc_daemon"
    xmrig-auto-pause check-config --config /etc/xmrig-auto-pause/config.json >/dev/null ||
        xap_die "the reinstalled default configuration fails check-config"
    # Back to the test setup: its configuration, the miner enabled for p5.
    install -m 0644 "$sc_dir/fixtures/config.json" "$sc_config"
    systemctl enable "$sc_miner" "$sc_game" 2>/dev/null
    sc_daemon_restart
    sc_restore_clean
}

# p5, boot 1: frozen (with our claim) when the reboot starts.
pk_p5_prepare() {
    sc_restore_clean
    pk_frozen_with_claim
    systemctl show -p InvocationID --value "$sc_miner" >"$pk_state/p5-miner-invocation"
}

# p5, boot 2: the miner came up running (a new instance, not frozen), the
# daemon came up clean: no claim left over, nothing recovered or dropped.
pk_p5_check() {
    local old new lines
    sc_wait 60 "$sc_miner active" sc_active "$sc_miner"
    sc_wait 60 "$sc_daemon active" sc_active "$sc_daemon"
    sc_wait 30 "the miner running" sc_miner_thawed
    sc_prop_is "$sc_miner" FreezerState running
    old=$(<"$pk_state/p5-miner-invocation")
    new=$(systemctl show -p InvocationID --value "$sc_miner")
    [[ -n $new && $new != "$old" ]] || xap_die "the miner's InvocationID did not change across the reboot"
    pk_claim_gone || xap_die "a claim survived the reboot"
    lines=$(journalctl -b -q -o cat --no-pager -u "$sc_daemon" | grep -E 'found our claim|claim dropped|could not release|^release: thawed' || true)
    [[ -z $lines ]] || xap_die "the daemon did not start clean: ${lines//$'\n'/ | }"
    sc_holds_for 3 "the miner running after the reboot" sc_miner_thawed
    sc_restore_clean
}

# p6, before the poweroff: frozen with our claim, and a unit whose ExecStop=
# runs once the daemon and the miner have stopped (poweroff-report).
pk_p6_prepare() {
    sc_restore_clean
    mkdir -p "$pk_lib"
    install -m 0644 "$XAP_GUEST_LIB" "$pk_lib/guest-lib.sh"
    install -m 0755 "$sc_dir/poweroff-report" "$pk_lib/poweroff-report"
    install -m 0644 "$sc_dir/xap-poweroff-report.service" /run/systemd/system/xap-poweroff-report.service
    systemctl daemon-reload
    systemctl start xap-poweroff-report.service
    pk_frozen_with_claim
}

pk_last_passed() { [[ $(tail -n 1 "$XAP_RESULTS_FILE") == "PASS $1" ]]; }

# The end of the run: p6 (poweroff while frozen) when selected, else done.
pk_finish() {
    if ! sc_selected p6_poweroff_while_frozen; then
        xap_done
        return
    fi
    SC_FORCE=1 sc_scenario p6_poweroff_prepare pk_p6_prepare
    if ! pk_last_passed p6_poweroff_prepare; then
        xap_fail p6_poweroff_while_frozen "not frozen with a claim before the poweroff"
        xap_done
        return
    fi
    # poweroff-report reports p6 and ends the protocol (XAP-COUNT, XAP-DONE).
    local up _
    read -r up _ </proc/uptime
    printf '%s\n' "$up" >/run/xap-poweroff-t0
    xap_log "p6: systemctl poweroff with the miner frozen (uptime ${up}s)"
    xap_poweroff
}

pk_run_boot1() {
    sc_scenario p1_daemon_restart_while_frozen pk_p1_daemon_restart_while_frozen
    sc_scenario p2_daemon_sigkill_while_frozen pk_p2_daemon_sigkill_while_frozen
    sc_scenario p3_daemon_stop_while_frozen pk_p3_daemon_stop_while_frozen
    sc_scenario p4_remove_purge_reinstall pk_p4_remove_purge_reinstall
    if sc_selected p5_reboot_while_frozen; then
        SC_FORCE=1 sc_scenario p5_reboot_prepare pk_p5_prepare
        if pk_last_passed p5_reboot_prepare; then
            xap_log "p5: systemctl reboot with the miner frozen"
            xap_reboot
        fi
        xap_fail p5_reboot_while_frozen "not frozen with a claim before the reboot"
    fi
    pk_finish
}

pk_run_boot2() {
    sc_scenario p5_reboot_while_frozen pk_p5_check
    pk_finish
}
