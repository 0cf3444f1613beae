#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Package test (guest side). Boot 1: the installed package, every scenario of
# the systemd suite against the packaged units, the package scenarios p1-p4,
# then p5 freezes the miner and reboots. Boot 2: p5 checks the boot came up
# clean, p6 freezes the miner again and powers off; its result (and XAP-DONE)
# comes from a unit stopped during that shutdown (poweroff-report).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=../guest-lib.sh
. "${XAP_GUEST_LIB:-/mnt/payload/.xap/guest-lib.sh}"
# shellcheck source=../scenarios/steps.sh
. ./steps.sh
# shellcheck source=package-steps.sh
. ./package-steps.sh

case $(xap_boot) in
    1)
        sc_init
        sc_scenario p0_installed_and_running pk_p0_installed_and_running
        sc_run_all
        pk_run_boot1
        ;;
    2)
        sc_init
        pk_run_boot2
        ;;
    *)
        xap_fail harness.boot "unexpected boot $(xap_boot)"
        xap_done
        ;;
esac
