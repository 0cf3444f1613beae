#!/bin/bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. "${XAP_GUEST_LIB:-/mnt/payload/.xap/guest-lib.sh}"
. ./steps.sh
sc_init
dump() { local l; while IFS= read -r l; do xap_log "$1: $l"; done < <(sc_daemon_lines "$2" '.' | grep -v hashrate); }
expC() {
  sc_restore_clean; local m; sc_journal_mark m
  systemctl freeze xmrig; sc_wait 30 frozen sc_prop_is xmrig.service FreezerState frozen
  systemctl daemon-reload; sc_sleep 2
  systemctl thaw xmrig; sc_wait 30 running sc_prop_is xmrig.service FreezerState running
  xap_log "C: after thaw: $(tr '\n' ' ' < $sc_miner_cg/cgroup.events) $(systemctl show -p FreezerState xmrig)"
  sc_start_fg_load; sc_sleep 15
  xap_log "C: 15 s under load: $(tr '\n' ' ' < $sc_miner_cg/cgroup.events) $(systemctl show -p FreezerState xmrig)"
  dump C "$m"
  sc_stop_fg_load; sc_daemon_restart; sc_restore_clean
}
expB() {
  sc_daemon_restart; sc_restore_clean; local m; sc_journal_mark m
  sc_start_fg_load; sc_wait_frozen; sc_wait 10 claim test -s "$sc_claim"
  systemctl freeze xmrig; xap_log "B: after systemctl freeze: $(systemctl show -p FreezerState xmrig)"
  sc_stop_fg_load; sc_sleep 10
  xap_log "B: 10 s after load gone: $(tr '\n' ' ' < $sc_miner_cg/cgroup.events) freeze=$(cat $sc_miner_cg/cgroup.freeze) $(systemctl show -p FreezerState xmrig) claim=$(cat $sc_claim 2>&1)"
  dump B "$m"
  systemctl thaw xmrig || true; sc_restore_clean
}
xap_scenario expC expC
xap_scenario expB expB
xap_done
