#!/usr/bin/env bash
# run.sh: the bench.  In ONE run (inside the nested harness when KVM is
# software-emulated) boots the same kernel and initramfs with Hangar and with
# QEMU (-M microvm and -M q35, KVM) and prints medians and ratios: boot to
# init, VMM memory outside guest RAM, guest sequential reads on virtio-blk,
# SATA (AHCI) and NVMe, and SeaBIOS's hand-over to a boot sector.
# usage: run.sh --build-dir DIR --kvm-speed TOOL [--hangarctl PATH] [--runs N]
#               [--handover-mbr BIN]
# env: HANGAR_BENCH_RUNS (default 5), HANGAR_BENCH_VMMS (VMM list), HANGAR_KVM_MODE.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
guest_dir=$(cd "$here/../guest" && pwd)
. "$guest_dir/initramfs-lib.sh"
. "$guest_dir/harness-lib.sh"

build="" tool="" hangarctl="" runs=${HANGAR_BENCH_RUNS:-5} mbr=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) build=$2;; --kvm-speed) tool=$2;; --hangarctl) hangarctl=$2;; --runs) runs=$2;;
        --handover-mbr) mbr=$2;;
        *) echo "bench: unknown option $1" >&2; exit 2;;
    esac
    shift 2
done
die() { echo "bench: $*" >&2; exit 1; }
# Absolute paths: the bench runs in another directory (and maybe in L1).
[ -n "$hangarctl" ] && hangarctl=$(realpath "$hangarctl")
[ -n "$mbr" ] && mbr=$(realpath "$mbr")
mkdir -p "$build" && build=$(cd "$build" && pwd) || exit 2
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
kver=$(hgr_guest_kver) || die "no Linux kernel with modules in /boot (apt-get install linux-image-amd64)"
why=$(hgr_kvm_unusable); [ -z "$why" ] || die "$why"
mode=$(hgr_kvm_mode "$hangarctl" "$tool") || die "cannot measure KVM speed"
initrd=$build/guest-initramfs.cpio.gz
kernel=$("$guest_dir/build-initramfs.sh" "$initrd" "$kver") || die "cannot build the guest initramfs"

if [ -n "${HANGAR_BENCH_VMMS:-}" ]; then
    read -ra vmms <<< "$HANGAR_BENCH_VMMS"
else
    vmms=(qemu-microvm qemu-q35)
    if [ -n "$hangarctl" ]; then vmms=("$hangarctl" "${vmms[@]}")
    else echo "bench: hangarctl is not built; measuring QEMU alone" >&2; fi
fi
work=$build/bench-run
rm -rf "$work"
echo "bench: KVM $mode$( [ "$mode" = emulated ] && echo ", running in the nested harness")," \
     "$runs runs of: ${vmms[*]}" >&2
# The disk image goes to L1's /tmp (tmpfs) so 9p does not cap the disk figure.
scratch=$work/scratch
[ "$mode" = emulated ] && scratch=/tmp/hangar-bench
# OVMF's hand-over: a CD whose GRUB writes the boot timer port first thing.
# In the nested harness only with an outer QEMU that survives an inner OVMF
# (tests/run builds one: tests/guest/build-outer-qemu.sh).
iso=""
if [ "$mode" = emulated ] && [ -z "${HANGAR_OUTER_QEMU:-}" ]; then
    echo "bench: OVMF hand-over not measured: KVM is emulated and HANGAR_OUTER_QEMU names no fixed outer QEMU (tests/guest/build-outer-qemu.sh)" >&2
elif command -v grub-mkrescue >/dev/null && [ -d /usr/lib/grub/x86_64-efi ]; then
    iso=$build/handover-uefi.iso
    isodir=$(mktemp -d)
    mkdir -p "$isodir/boot/grub"
    printf 'insmod iorw\noutb 0x501 0x21\nhalt\n' > "$isodir/boot/grub/grub.cfg"
    grub-mkrescue -o "$iso" "$isodir" >/dev/null 2>&1 || { echo "bench: grub-mkrescue failed" >&2; iso=""; }
    rm -rf "$isodir"
fi
hgr_run "$mode" "$work" "$build" "$here/bench-inner.sh" --kernel "$kernel" --initrd "$initrd" \
    --workdir "$scratch" --runs "$runs" ${mbr:+--handover-mbr "$mbr"} ${iso:+--handover-iso "$iso"} \
    "${vmms[@]}"
rc=$?
cat "$work/stderr" >&2
cat "$work/stdout"
[ $rc = 0 ] && [ -s "$work/stdout" ] || die "the bench did not complete (exit $rc; see $work)"
