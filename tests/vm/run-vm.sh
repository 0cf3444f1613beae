#!/usr/bin/env bash
# Boot the cached Debian 12 guest under qemu with a test payload and report
# the payload's results.
#
# Usage: run-vm.sh PAYLOAD_DIR [--timeout SECONDS] [--log FILE]
#
# PAYLOAD_DIR must contain run.sh (and optionally setup.sh); the guest runs
# them as root from the read-only payload disk mounted at /mnt/payload, with
# guest-lib.sh available at $XAP_GUEST_LIB. See README.md.
#
# Exit status: 0 all good (XAP-DONE seen, >=1 PASS, 0 FAIL); 1 test failure
# or missing results; 2 usage or setup error; 124 timeout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() { echo "usage: $0 PAYLOAD_DIR [--timeout SECONDS] [--log FILE]" >&2; exit 2; }

payload=
timeout=${XAP_VM_TIMEOUT:-600}
logfile=
while (($#)); do
    case $1 in
        --timeout) [[ $# -ge 2 ]] || usage; timeout=$2; shift 2 ;;
        --timeout=*) timeout=${1#*=}; shift ;;
        --log) [[ $# -ge 2 ]] || usage; logfile=$2; shift 2 ;;
        --log=*) logfile=${1#*=}; shift ;;
        -h | --help) usage ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *) [[ -z $payload ]] || usage; payload=$1; shift ;;
    esac
done
[[ -n $payload ]] || usage
[[ -f $payload/run.sh ]] || { echo "run-vm: $payload/run.sh not found" >&2; exit 2; }
[[ $timeout =~ ^[0-9]+$ ]] || { echo "run-vm: --timeout wants whole seconds" >&2; exit 2; }

log() { printf 'run-vm: %s\n' "$*" >&2; }

for tool in qemu-system-x86_64 qemu-img mkfs.ext4 timeout; do
    command -v "$tool" >/dev/null || { log "missing $tool: run $here/install-deps.sh"; exit 2; }
done

t0=$SECONDS
# Builds the image on first use; afterwards only hashes a few files.
# XAP_VM_IMAGE=DIR uses a given image directory as is (debugging).
if [[ -n ${XAP_VM_IMAGE:-} ]]; then
    image=$XAP_VM_IMAGE
else
    image=$("$here/build-image.sh") || { log "image build failed"; exit 2; }
fi
[[ -f $image/rootfs.img && -f $image/vmlinuz && -f $image/initrd.img ]] ||
    { log "incomplete image in '$image'"; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/xap-vm.XXXXXX")
qpid=
tailpid=
# shellcheck disable=SC2317  # only called from the EXIT trap
cleanup() {
    [[ -n $tailpid ]] && kill "$tailpid" 2>/dev/null
    [[ -n $qpid ]] && kill "$qpid" 2>/dev/null
    if [[ -n ${XAP_VM_KEEP:-} ]]; then
        log "kept work dir $work"
    else
        rm -rf --one-file-system "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Default: a predictable file that outlives the run, for post-mortems.
[[ -n $logfile ]] || logfile=${TMPDIR:-/tmp}/xap-vm-$(basename "$(cd "$payload" && pwd)").console.log
mkdir -p "$(dirname "$logfile")"
: >"$logfile"

# Fresh writable root for this run: a qcow2 overlay on the cached raw image,
# so the cache stays pristine and runs cannot affect each other.
qemu-img create -q -f qcow2 -b "$image/rootfs.img" -F raw "$work/root.qcow2"

# Payload disk: the payload plus the guest library, as an ext4 image.
mkdir -p "$work/payload/.xap"
cp -a "$payload/." "$work/payload/"
install -m 0644 "$here/guest-lib.sh" "$work/payload/.xap/guest-lib.sh"
payload_mb=$(($(du -sm "$work/payload" | cut -f1) + 16))
mkfs.ext4 -q -F -L xap-payload -d "$work/payload" "$work/payload.img" "${payload_mb}M" >/dev/null

# Prefer the uncompressed PVH-bootable kernel extracted by build-image.sh:
# it skips the bzImage self-decompression, seconds of emulated CPU time.
kernel=$image/vmlinuz
if [[ -f $image/vmlinux && ${XAP_VM_PVH:-1} != 0 ]]; then
    kernel=$image/vmlinux
fi

accel=tcg
# /dev/kvm exists on some CI machines but hangs (nested virtualisation): only
# use it when explicitly asked.
if [[ ${XAP_VM_KVM:-0} == 1 ]]; then
    accel=kvm
fi

# quiet/loglevel: less serial output to emulate and parse. panic=-1 with
# -no-reboot turns a guest kernel panic into an immediate qemu exit instead
# of a hang until the timeout. mitigations=off: speculative-execution
# workarounds only cost time in an emulated CPU.
cmdline="root=/dev/vda rw console=ttyS0 systemd.unified_cgroup_hierarchy=1"
cmdline+=" quiet loglevel=4 panic=-1 mitigations=off fsck.mode=skip"
cmdline+=" systemd.show_status=error udev.log_level=3"
cmdline+=" ${XAP_VM_APPEND:-}"

qemu=(
    qemu-system-x86_64
    -accel "$accel"
    -m "${XAP_VM_MEM:-1024}" -smp "${XAP_VM_SMP:-2}"
    # No default devices (NIC, VGA, floppy, CD-ROM): less to emulate and
    # probe, and the guest stays offline.
    -nodefaults -no-user-config -nic none
    -display none -vga none -monitor none
    # Serial console straight to a file (equivalent to -nographic's stdio
    # console, but independent of whether stdin/stdout is a terminal); one
    # file per boot, appended to the console log after each.
    -serial "file:$work/console.boot"
    -no-reboot
    -kernel "$kernel" -initrd "$image/initrd.img" -append "$cmdline"
    # cache=unsafe: the overlay is thrown away, so never wait for flushes.
    -drive "file=$work/root.qcow2,if=virtio,format=qcow2,cache=unsafe"
    -drive "file=$work/payload.img,if=virtio,format=raw,readonly=on"
)

# A payload may reboot the guest (guest-lib's xap_reboot prints XAP-REBOOT,
# then reboots the orderly way). With -no-reboot the reset ends qemu, and the
# same overlay is booted again, so the disk carries over as in a real reboot.
# The timeout covers all boots together.
max_boots=${XAP_VM_MAX_BOOTS:-4}
[[ $max_boots =~ ^[1-9][0-9]*$ ]] || { log "XAP_VM_MAX_BOOTS wants a positive number"; exit 2; }
boots=0
qrc=0
timed_out=0
t_boot=$SECONDS
while :; do
    boots=$((boots + 1))
    left=$((timeout - (SECONDS - t_boot)))
    ((left > 0)) || { timed_out=1; break; }
    log "boot $boots ($accel, ${left}s left of ${timeout}s, console log $logfile)"
    : >"$work/console.boot"
    # timeout(1) sends TERM at the deadline and KILL 5 s later if qemu ignores
    # it; it exits 124 (or 137 after KILL) in that case.
    timeout -k 5 "$left" "${qemu[@]}" </dev/null >>"$work/qemu.out" 2>&1 &
    qpid=$!
    if [[ -n ${XAP_VM_VERBOSE:-} ]]; then
        tail -n +1 -f "$work/console.boot" --pid="$qpid" >&2 &
        tailpid=$!
    fi
    qrc=0
    wait "$qpid" || qrc=$?
    qpid=
    if [[ -n $tailpid ]]; then
        wait "$tailpid" 2>/dev/null || true
        tailpid=
    fi
    cat "$work/console.boot" >>"$logfile"
    [[ $qrc == 124 || $qrc == 137 ]] && { timed_out=1; break; }
    # Boot again only when this boot asked for it and did not finish.
    tr -d '\r' <"$work/console.boot" | sed -e 's/^[[:cntrl:][:space:]]*//' >"$work/boot.clean"
    grep -aqx 'XAP-REBOOT' "$work/boot.clean" || break
    grep -aqx 'XAP-DONE' "$work/boot.clean" && break
    if ((boots >= max_boots)); then
        log "the guest asked for boot $((boots + 1)); XAP_VM_MAX_BOOTS is $max_boots"
        break
    fi
done
t_vm=$((SECONDS - t_boot))

# Parse the console. Serial output has \r\n line ends and may carry kernel
# messages or other output around result lines, so strip \r, skip leading
# control characters/whitespace, and accept protocol tokens only at the start
# of a line (never inside e.g. a `set -x` trace of the printf).
clean=$work/console.clean
tr -d '\r' <"$logfile" | sed -e 's/^[[:cntrl:][:space:]]*//' >"$clean"

results=$(grep -aE '^XAP-RESULT (PASS [^ ]+$|FAIL [^ ]+( .*)?$)' "$clean" || true)
passed=$(grep -c '^XAP-RESULT PASS ' <<<"$results" || true)
failed=$(grep -c '^XAP-RESULT FAIL ' <<<"$results" || true)
done_seen=0
grep -aqx 'XAP-DONE' "$clean" && done_seen=1
booted=$(grep -aoE '^XAP-INFO booted uptime=[0-9.]+' "$clean" | head -n1 | sed 's/.*uptime=//' || true)
count_line=$(grep -aE '^XAP-COUNT passed=[0-9]+ failed=[0-9]+$' "$clean" | tail -n1 || true)

[[ -n $results ]] && printf '%s\n' "$results"
printf '%s passed, %s failed\n' "$passed" "$failed"

problems=()
((timed_out)) && problems+=("TIMEOUT: VM still running after ${timeout}s, killed")
((done_seen)) || problems+=("no XAP-DONE from the guest (payload did not finish)")
((passed > 0)) || problems+=("no PASS result")
((failed == 0)) || problems+=("$failed scenario(s) failed")
# Every result was also counted in the guest: a mismatch means console lines
# were lost or garbled, which must not go unnoticed.
if [[ -n $count_line && $count_line != "XAP-COUNT passed=$passed failed=$failed" ]]; then
    # Harness-level FAILs (setup.sh/run.sh exit status) are not counted by the
    # guest library, so only a deficit of parsed lines is an error.
    g_pass=${count_line#*passed=}; g_pass=${g_pass%% *}
    g_fail=${count_line##*failed=}
    if ((passed < g_pass || failed < g_fail)); then
        problems+=("console lost result lines: guest reported $count_line")
    fi
fi

log "VM ran ${t_vm}s in $boots boot(s) (guest reached payload at ${booted:-?}s uptime), total $((SECONDS - t0))s, qemu exit $qrc"
if ((${#problems[@]})); then
    for p in "${problems[@]}"; do log "$p"; done
    echo "---- last 80 lines of console log ($logfile) ----" >&2
    tail -n 80 "$clean" >&2
    if [[ -s $work/qemu.out ]]; then
        echo "---- qemu output ----" >&2
        cat "$work/qemu.out" >&2
    fi
    ((timed_out)) && exit 124
    exit 1
fi
exit 0
