#!/usr/bin/env bash
# Install the host packages the VM bench needs (Debian/Ubuntu hosts, run as root).
# Idempotent and quiet: when everything is already installed it does nothing,
# not even `apt-get update`, so it is cheap to call at the start of every CI job.
set -euo pipefail

# qemu-utils provides qemu-img (only a Recommends of qemu-system-x86, so it must
# be named explicitly when installing with --no-install-recommends).
# e2fsprogs provides mkfs.ext4 -d; util-linux provides flock; xz-utils
# unpacks the guest kernel for direct (PVH) boot; grep needs -P (PCRE).
pkgs=(qemu-system-x86 qemu-utils debootstrap e2fsprogs util-linux coreutils xz-utils grep)

missing=()
for p in "${pkgs[@]}"; do
    # dpkg-query prints "install ok installed" only for fully installed packages.
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$p")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps.sh: need root to install: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps.sh: installing ${missing[*]}" >&2
# Try without refreshing the lists first (fast on machines whose lists are
# current); fall back to an update when the package is unknown or stale.
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
