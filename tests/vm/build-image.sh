#!/usr/bin/env bash
# Build (once) and cache the Debian 12 guest image for the VM bench.
#
# Usage: build-image.sh [--rebuild]
# Prints the directory holding rootfs.img, vmlinuz and initrd.img on stdout
# (progress goes to stderr), so callers can do: img=$(build-image.sh).
#
# The cache key is a hash of the package list and of every file that shapes
# the guest (this script and guest/*), so the image is rebuilt only when one
# of those changes. Builds happen in a temp dir that is renamed into place
# when complete: an interrupted build never leaves an image that looks valid.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${XAP_VM_CACHE:-/var/cache/xmrig-auto-pause/vm}
mirror=${XAP_VM_MIRROR:-http://deb.debian.org/debian}
suite=bookworm

# Only what the guest needs: an init system with cgroup v2 (systemd), device
# management for the virtio disks (udev), D-Bus for systemctl/systemd-run,
# a kernel, and the basic tools test scenarios use (ps/pgrep, mount, modprobe).
packages=(systemd systemd-sysv linux-image-amd64 udev dbus procps util-linux kmod)

rebuild=0
case "${1:-}" in
    --rebuild) rebuild=1 ;;
    "") ;;
    *) echo "usage: $0 [--rebuild]" >&2; exit 2 ;;
esac

log() { printf 'build-image: %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (debootstrap, chroot)"
    exit 1
fi

key=$(
    {
        printf '%s\n' "$suite" "${packages[@]}"
        cat "$here/build-image.sh"
        # Sorted for a stable order; file names are part of the hash too.
        find "$here/guest" -type f -print0 | sort -z | xargs -0 -r sha256sum | sed "s|$here/||"
    } | sha256sum | cut -c1-16
)
final=$cache/image-$key

mkdir -p "$cache"
# Serialise concurrent builds (two CI jobs, or run-vm.sh started twice).
exec {lockfd}>"$cache/.lock"
flock "$lockfd"

if ((rebuild)); then
    rm -rf --one-file-system "$final"
fi
if [[ -f $final/complete ]]; then
    printf '%s\n' "$final"
    exit 0
fi

for tool in debootstrap mkfs.ext4 chroot; do
    command -v "$tool" >/dev/null || { log "missing $tool: run $here/install-deps.sh"; exit 1; }
done

start=$SECONDS
tmp=$(mktemp -d "$cache/.build-$key.XXXXXX")
root=$tmp/root
cleanup() {
    # Unmount anything still mounted inside the chroot before deleting;
    # --one-file-system guarantees rm never descends into a live mount.
    local m
    for m in dev/pts dev sys proc; do
        mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
    done
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

log "debootstrap $suite into $root (key $key)"
mkdir -p "$cache/debs"
# --cache-dir keeps the downloaded .debs, so a rebuild after a change to the
# guest setup files mostly avoids the network.
debootstrap --variant=minbase --cache-dir="$cache/debs" \
    --include="$(IFS=,; echo "${packages[*]}")" \
    "$suite" "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1 || {
    tail -n 40 "$tmp/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
}

log "configuring guest"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C "$@"; }

echo xap-vm >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\txap-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# Root is the whole virtio disk; the payload disk is mounted by xap-bench-run.
# fsck pass 0: the disk is a fresh overlay of a clean image every run.
printf '/dev/vda\t/\text4\tdefaults,noatime\t0\t0\n' >"$root/etc/fstab"
# A fixed machine-id makes systemd treat boot as a normal (not first) boot,
# so systemd-firstboot never prompts on the console.
in_root systemd-machine-id-setup >/dev/null 2>&1
in_root passwd -d root >/dev/null
# No network in the guest: make sure apt never tries.
printf 'Acquire::Retries "0";\nAPT::Periodic::Enable "0";\n' >"$root/etc/apt/apt.conf.d/99xap-offline"

install -m 0755 "$here/guest/xap-bench-run" "$root/usr/local/sbin/xap-bench-run"
install -m 0644 "$here/guest/xap-bench.service" "$root/etc/systemd/system/xap-bench.service"
in_root systemctl enable xap-bench.service >/dev/null 2>&1

# Units that only cost boot time in a throw-away offline VM. Masking a unit
# that does not exist is harmless, so the list can be generous.
in_root systemctl mask \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
    e2scrub_all.timer e2scrub_reap.service fstrim.timer man-db.timer \
    systemd-tmpfiles-clean.timer systemd-firstboot.service \
    systemd-networkd-wait-online.service systemd-timesyncd.service \
    serial-getty@ttyS0.service getty@tty1.service \
    systemd-update-utmp.service systemd-update-utmp-runlevel.service \
    >/dev/null 2>&1
# Keep the journal in memory: less disk I/O (emulated) and nothing to flush.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/xap.conf"

# A small initramfs with just the drivers needed to mount the virtio root:
# it is unpacked by an emulated CPU on every boot, so size matters.
cat >"$root/etc/initramfs-tools/conf.d/xap.conf" <<'CONF'
MODULES=list
COMPRESS=gzip
CONF
printf '%s\n' virtio_pci virtio_blk ext4 >>"$root/etc/initramfs-tools/modules"
mount -t proc proc "$root/proc"
in_root update-initramfs -u -k all >"$tmp/initramfs.log" 2>&1 || {
    cat "$tmp/initramfs.log" >&2
    log "update-initramfs failed"
    exit 1
}
umount "$root/proc"

# Trim what nothing in the guest reads, to keep the image (and the time to
# write it) small. The package cache lives outside the image already.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/var/log/*.log
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +

out=$tmp/image
mkdir -p "$out"
cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"

# Size: contents plus headroom for what payloads install and write (logs,
# packages under test). The raw file is sparse, so headroom is cheap.
used_mb=$(du -sm "$root" | cut -f1)
size_mb=$((used_mb + 1024))
log "creating ${size_mb}M ext4 root image (${used_mb}M used)"
mkfs.ext4 -q -F -L xap-root -d "$root" "$out/rootfs.img" "${size_mb}M" >&2
printf '%s\n' "${packages[@]}" >"$out/packages"
date -u +%FT%TZ >"$out/complete"

# Publish atomically, then drop superseded images.
mv -T "$out" "$final"
for old in "$cache"/image-*; do
    [[ $old == "$final" ]] || rm -rf --one-file-system "$old"
done
log "image ready in $((SECONDS - start))s: $final"
printf '%s\n' "$final"
