#!/usr/bin/env bash
# Every package the build and the tests need from Debian 12's archive (the VM bench, packaging
# and RPM stages install their own on top). Idempotent: when everything is installed it does
# nothing, not even `apt-get update`, so tests/run-all.sh calls it at every start.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  # build
  cmake g++ make pkg-config libsystemd-dev nlohmann-json3-dev libspdlog-dev libfmt-dev catch2
  # tests and tools
  python3 procps git clang-format
  # Nix checks: parse every .nix file, evaluate the NixOS module
  nix-bin
)
missing=()
for p in "${packages[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-deps.sh: installing ${missing[*]}" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
