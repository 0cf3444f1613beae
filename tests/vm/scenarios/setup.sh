#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Scenario suite setup (guest side): installs the daemon from the DESTDIR tree
# that run-scenarios.sh put in root/, then the shared test fixtures (tools,
# libraries, units, test config; see steps.sh) and starts the miner, the
# watched game and the daemon. The Debian package test installs the .deb
# instead and calls the same sc_install_fixtures / sc_start_services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=../guest-lib.sh
. "${XAP_GUEST_LIB:-/mnt/payload/.xap/guest-lib.sh}"
# shellcheck source=steps.sh
. ./steps.sh

[[ -d root ]] || { echo "setup.sh: no root/ (DESTDIR tree) in the payload" >&2; exit 1; }
cp -a root/. /
systemctl daemon-reload
sc_install_fixtures
sc_start_services
