#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Scenario suite (guest side): every scenario of steps.sh, in order.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=../guest-lib.sh
. "${XAP_GUEST_LIB:-/mnt/payload/.xap/guest-lib.sh}"
# shellcheck source=steps.sh
. ./steps.sh

sc_run_all
xap_done
