#!/usr/bin/env bash
# harness.sh: the guest test tier, as one TAP test.  Boots a real Linux guest
# (Debian's kernel, a busybox initramfs built here) with the VMM under test
# and checks what a user would.  On hardware-backed KVM it runs directly; on
# software-emulated KVM it runs inside the nested harness (nested.sh).  When
# it cannot run at all it says why as a TAP skip.
# usage: harness.sh --build-dir DIR --kvm-speed TOOL [--hangarctl PATH]
# env: HANGAR_GUEST_VMM=qemu-q35|qemu-microvm|PATH   VMM under test (default:
#        hangarctl when given, else qemu-q35)
#      HANGAR_KVM_MODE=hardware|emulated             skip the KVM measurement
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/initramfs-lib.sh"
. "$here/harness-lib.sh"

build="" tool="" hangarctl=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) build=$2;; --kvm-speed) tool=$2;; --hangarctl) hangarctl=$2;;
        *) echo "harness: unknown option $1" >&2; exit 2;;
    esac
    shift 2
done
mkdir -p "$build" && build=$(cd "$build" && pwd) || exit 2
skip() { echo "1..0 # SKIP $*"; echo "guest tests SKIPPED: $*" >&2; exit 0; }
fail() { echo "1..1"; echo "not ok 1 - $1"; shift; printf "%s\n" "$@" | sed "s/^/# /"; exit 0; }

vmm=${HANGAR_GUEST_VMM:-${hangarctl:-qemu-q35}}
case "$vmm" in
    qemu-*) command -v qemu-system-x86_64 >/dev/null ||
                skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)";;
    *) [ -x "$vmm" ] || skip "VMM $vmm is not an executable";;
esac
kver=$(hgr_guest_kver) || skip "no Linux kernel with modules in /boot (apt-get install linux-image-amd64)"
command -v cpio >/dev/null || skip "cpio not installed (apt-get install cpio)"
command -v busybox >/dev/null || skip "busybox not installed (apt-get install busybox-static)"
why=$(hgr_kvm_unusable); [ -z "$why" ] || skip "$why"

mode=$(hgr_kvm_mode "$hangarctl" "$tool" 2> "$build/kvm-mode.log") ||
    skip "cannot measure KVM: $(tr '\n' ' ' < "$build/kvm-mode.log")"
if [ "$mode" = emulated ] && ! command -v qemu-system-x86_64 >/dev/null; then
    skip "KVM is software-emulated here and the nested harness needs qemu-system-x86_64 (apt-get install qemu-system-x86)"
fi

initrd=$build/guest-initramfs.cpio.gz
kernel=$("$here/build-initramfs.sh" "$initrd" "$kver" 2> "$build/initramfs.log") ||
    fail "build the guest initramfs" "$(cat "$build/initramfs.log")"

work=$build/guest-run
rm -rf "$work"; mkdir -p "$work"
echo "# VMM $vmm; KVM $mode: $(tr '\n' ' ' < "$build/kvm-mode.log")"
[ "$mode" = emulated ] && echo "# KVM is emulated: running inside the nested harness (QEMU TCG, nested SVM)"
start=$SECONDS
hgr_run "$mode" "$work" "$build" "$here/run-scenario.sh" --vmm "$vmm" --kernel "$kernel" \
    --initrd "$initrd" --workdir "$work/run"
rc=$?
echo "# harness run took $((SECONDS - start))s (exit $rc)"
if ! grep -q '^1\.\.' "$work/stdout" 2>/dev/null; then
    fail "the scenario ran and reported (exit $rc)" \
         "$(tail -20 "$work/stderr" 2>/dev/null)" "$(tail -20 "$work/nested-console.log" 2>/dev/null)"
fi
cat "$work/stdout"
