#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Package test setup (guest side, first boot): installs the .deb the way a
# user does, `apt install ./xmrig-auto-pause_*.deb`, with the dependencies
# from the payload's local repository (the guest is offline), then the test
# fixtures of the systemd suite (steps.sh) over the packaged units.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=../guest-lib.sh
. "${XAP_GUEST_LIB:-/mnt/payload/.xap/guest-lib.sh}"
# shellcheck source=../scenarios/steps.sh
. ./steps.sh
# shellcheck source=package-steps.sh
. ./package-steps.sh

pk_use_local_repository
pk_apt_install
# What the install did by itself, before any fixture changes it (checked in p0).
pk_record_install_state
sc_install_fixtures
sc_start_services
