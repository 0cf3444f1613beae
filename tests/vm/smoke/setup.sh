#!/bin/bash
# Smoke payload setup: proves the harness runs setup.sh before run.sh.
# Real payloads install what they test here (e.g. dpkg -i the package).
set -euo pipefail
echo "setup.sh ran from $PWD" >/run/xap-smoke-setup-ran
