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
# busybox-static is the whole userland of the tiny initramfs built below.
packages=(systemd systemd-sysv linux-image-amd64 udev dbus procps util-linux kmod busybox-static)
# The guest is offline, so a payload cannot apt-get its dependencies: list
# them here instead (space or comma separated), e.g. the runtime libraries
# of the package under test. They are part of the cache key.
extra=${XAP_VM_EXTRA_PACKAGES:-}
read -r -a extra_packages <<<"${extra//,/ }"
packages+=("${extra_packages[@]}")

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
    touch "$final" # most recently used: see the pruning at the end
    printf '%s\n' "$final"
    exit 0
fi

for tool in debootstrap mkfs.ext4 chroot xz od; do
    command -v "$tool" >/dev/null || { log "missing $tool: run $here/install-deps.sh"; exit 1; }
done

start=$SECONDS
tmp=$(mktemp -d "$cache/.build-$key.XXXXXX")
root=$tmp/root
cleanup() {
    # Unmount anything still mounted inside the chroot before deleting;
    # --one-file-system guarantees rm never descends into a live mount.
    local m
    for m in dev/pts dev sys proc ""; do
        if mountpoint -q "$root/$m" 2>/dev/null; then umount -l "$root/$m"; fi
    done
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

# Build the tree in RAM (~700 MB): dpkg fsyncs every file it unpacks, which
# makes debootstrap on a disk-backed directory several times slower.
# XAP_VM_BUILD_TMPFS=0 builds on disk instead (low-memory machines).
mkdir -p "$root"
if [[ ${XAP_VM_BUILD_TMPFS:-1} != 0 ]]; then
    mount -t tmpfs -o size=4g,mode=0755 xap-vm-build "$root"
fi

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

log "debootstrap done after $((SECONDS - start))s; configuring guest"
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

# Everything below only trims boot time; every process and module probe is
# slow on an emulated CPU. Masking a unit that does not exist is harmless.
#  - timers and first-boot/update units: irrelevant in a throw-away VM whose
#    image is already fully set up (ldconfig, hwdb, sysusers ran at install);
#  - random-seed: waits seconds for the entropy pool, the seed is useless here;
#  - consoles: the serial line belongs to the bench, no login prompts;
#  - modprobe@{drm,dm_mod,efi_pstore}: no graphics, device-mapper or EFI.
in_root systemctl mask \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
    e2scrub_all.timer e2scrub_reap.service fstrim.timer man-db.timer \
    systemd-tmpfiles-clean.timer systemd-firstboot.service \
    systemd-sysusers.service systemd-hwdb-update.service ldconfig.service \
    systemd-journal-catalog-update.service systemd-update-done.service \
    systemd-random-seed.service systemd-networkd-wait-online.service \
    systemd-timesyncd.service systemd-pstore.service \
    serial-getty@ttyS0.service getty@tty1.service \
    systemd-update-utmp.service systemd-update-utmp-runlevel.service \
    modprobe@drm.service modprobe@dm_mod.service modprobe@efi_pstore.service \
    >/dev/null 2>&1
# Generators run before any unit starts; keep only fstab, debug and run.
# (A symlink to /dev/null in /etc disables a generator, see systemd.generator(7).)
mkdir -p "$root/etc/systemd/system-generators"
for g in cryptsetup getty gpt-auto hibernate-resume integritysetup rc-local \
    system-update sysv veritysetup; do
    ln -sf /dev/null "$root/etc/systemd/system-generators/systemd-$g-generator"
done
# Drivers udev would load for emulated hardware nobody uses (the floppy probe
# alone takes seconds under TCG).
printf 'blacklist %s\n' floppy pcspkr kvm kvm_amd kvm_intel psmouse serio_raw \
    ata_piix ata_generic i2c_piix4 powernow_k8 acpi_cpufreq bochs drm \
    >"$root/etc/modprobe.d/xap-vm-blacklist.conf"
# Keep the journal in memory: less disk I/O (emulated) and nothing to flush.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/xap.conf"

kver=$(basename "$(ls -d "$root"/lib/modules/*)")
out=$tmp/image
mkdir -p "$out"

# Minimal initramfs: busybox plus the modules needed to mount the virtio
# root disk, and a 20-line /init. Debian's initramfs-tools image starts udev
# and probes all hardware, which costs several seconds under TCG; this one
# only loads what is listed and switches to systemd, which does the rest.
ird=$root/tmp/xap-initrd
mkdir -p "$ird"/{bin,dev,proc,sys,root,lib/modules}
cp "$root/bin/busybox" "$ird/bin/busybox"
for applet in sh mount umount insmod switch_root sleep cat; do
    ln -s busybox "$ird/bin/$applet"
done
# modprobe resolves dependencies and order; ext4 needs crc32c at mount time.
# (crc32c-intel needs SSE4.2, which the default emulated CPU lacks: skip it,
# crc32c_generic does the job.)
in_root modprobe -S "$kver" -a --show-depends virtio_pci virtio_blk crc32c_generic ext4 |
    awk '$1 == "insmod" && $2 !~ /crc32c-intel/ && !seen[$2]++ { print $2 }' >"$tmp/modules"
[[ -s $tmp/modules ]] || { log "no modules found for the initramfs"; exit 1; }
while read -r ko; do
    cp "$root$ko" "$ird/lib/modules/"
    echo "/lib/modules/${ko##*/}" >>"$ird/modules"
done <"$tmp/modules"
cat >"$ird/init" <<'INIT'
#!/bin/sh
# Tiny init for the xmrig-auto-pause VM bench (see tests/vm/build-image.sh).
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
rootdev=/dev/vda
opts=ro
for arg in $(cat /proc/cmdline); do
    case $arg in
        root=*) rootdev=${arg#root=} ;;
        rw) opts=rw ;;
        ro) opts=ro ;;
    esac
done
while read -r m; do
    insmod "$m" || echo "initramfs: insmod $m failed"
done </modules
# The disk appears when virtio probing completes; bounded wait (10 s).
i=0
while [ ! -b "$rootdev" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
# On failure init exits: the kernel panics, and with panic=-1 and qemu's
# -no-reboot the VM stops at once instead of hanging until the timeout.
mount -t ext4 -o "$opts" "$rootdev" /root || { echo "initramfs: cannot mount $rootdev"; exit 1; }
umount /dev /sys /proc
exec switch_root /root /sbin/init
INIT
chmod 0755 "$ird/init"
# Uncompressed: decompressing costs more emulated CPU time than copying.
in_root sh -c 'cd /tmp/xap-initrd && find . | cpio -o -H newc -R 0:0 --quiet' >"$out/initrd.img"
rm -rf "$ird"

# Kernel. qemu can boot an uncompressed ELF vmlinux through its PVH entry
# point, which skips the real-mode setup and the in-guest decompression of
# the bzImage (several seconds under TCG). Extract it when the bzImage
# payload is xz (Debian 12); run-vm.sh falls back to vmlinuz otherwise.
cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
xz_off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$out/vmlinuz" | head -n1 | cut -d: -f1 || true)
# (Via a file, not a pipe: xz stops reading at the end of the stream, which
# would make tail fail with SIGPIPE under pipefail.)
if [[ -n $xz_off ]] &&
    tail -c +"$((xz_off + 1))" "$out/vmlinuz" >"$tmp/kernel.xz" &&
    xz -dc --single-stream "$tmp/kernel.xz" >"$out/vmlinux.tmp" 2>/dev/null &&
    [[ $(head -c 4 "$out/vmlinux.tmp" | od -An -tx1 | tr -d ' ') == 7f454c46 ]] &&
    # The PVH entry note: namesz 4, type 18 (XEN_ELFNOTE_PHYS32_ENTRY), "Xen".
    LC_ALL=C grep -qaP '\x04\x00\x00\x00[\x04\x08]\x00\x00\x00\x12\x00\x00\x00Xen\x00' "$out/vmlinux.tmp"; then
    mv "$out/vmlinux.tmp" "$out/vmlinux"
else
    log "no PVH-bootable vmlinux could be extracted; using the bzImage"
    rm -f "$out/vmlinux.tmp"
fi
rm -f "$tmp/kernel.xz"

# Mark /etc and /var as up to date so ConditionNeedsUpdate= units stay idle
# even if one of them is unmasked later.
touch "$root/etc/.updated" "$root/var/.updated"

# Trim what nothing in the guest reads, to keep the image (and the time to
# write it) small. The package cache lives outside the image already.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/var/log/*.log
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +

# Size: contents plus headroom for what payloads install and write (logs,
# packages under test). The raw file is sparse, so headroom is cheap.
used_mb=$(du -sm "$root" | cut -f1)
size_mb=$((used_mb + 1024))
log "creating ${size_mb}M ext4 root image (${used_mb}M used)"
mkfs.ext4 -q -F -L xap-root -d "$root" "$out/rootfs.img" "${size_mb}M" >&2
printf '%s\n' "${packages[@]}" >"$out/packages"
date -u +%FT%TZ >"$out/complete"

# Publish atomically (a leftover without the marker is not an image: drop it).
rm -rf --one-file-system "$final"
mv -T "$out" "$final"
# Keep the most recently used images (~750 MB each): enough for CI jobs that
# alternate between two package lists without rebuilding every time.
keep=${XAP_VM_KEEP_IMAGES:-2}
# shellcheck disable=SC2012  # names are ours: image-<hex>
ls -1dt "$cache"/image-* | tail -n +"$((keep + 1))" | while read -r old; do
    rm -rf --one-file-system "$old"
done
log "image ready in $((SECONDS - start))s: $final"
printf '%s\n' "$final"
