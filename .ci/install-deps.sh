#!/usr/bin/env bash
# Every package the build, the tests and the benches need, from Debian 12's archive. Idempotent.
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
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
