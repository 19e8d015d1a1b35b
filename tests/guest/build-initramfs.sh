#!/usr/bin/env bash
# build-initramfs.sh OUT.cpio.gz [KVER] [EXTRA-MODULES]: the guest-test
# initramfs: Debian's busybox-static, the virtio modules of KVER (default: the
# newest kernel in /boot) with their dependencies, guest-init.sh as /init and
# the scenarios.  EXTRA-MODULES (space-separated, e.g. "bochs") are not loaded
# at boot: they go with their dependencies under /lib/modules/KVER with a
# modules.dep, for a scenario's `modprobe`, and only into the initramfs of
# the scenarios that ask for them (the DRM stack is ~1 MiB).
# Rebuilds only when OUT is older than its inputs; prints the kernel path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/initramfs-lib.sh"

out=${1:?usage: build-initramfs.sh OUT.cpio.gz [KVER] [EXTRA-MODULES]}
kver=${2:-$(hgr_guest_kver)} || { echo "build-initramfs: no kernel in /boot with modules (apt-get install linux-image-amd64)" >&2; exit 1; }
extra=${3:-}
kernel=/boot/vmlinuz-$kver
[ -r "$kernel" ] || { echo "build-initramfs: cannot read $kernel" >&2; exit 1; }
modules="virtio_pci virtio_mmio virtio_blk virtio_net virtio_console virtio-rng ahci sd_mod sr_mod nvme"

stale=1
if [ -s "$out" ] && [ "$(cat "$out.kver" 2>/dev/null)" = "$kver${extra:+ $extra}" ]; then
    stale=$(find "$here/build-initramfs.sh" "$here/initramfs-lib.sh" "$here/guest-init.sh" \
                 "$here/scenarios" "$(command -v busybox)" -newer "$out" | wc -l)
fi
if [ "$stale" != 0 ]; then
    w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
    mkdir -p "$w"/{dev,proc,sys,tmp,etc,lib/modules,scenarios}
    hgr_install_busybox "$w"
    hgr_module_closure "$kver" $modules > "$w/order.full"
    while read -r f; do
        cp "$f" "$w/lib/modules/"
        echo "${f##*/}" >> "$w/lib/modules/order"
    done < "$w/order.full"
    rm "$w/order.full"
    if [ -n "$extra" ]; then
        command -v depmod >/dev/null || { echo "build-initramfs: depmod missing (apt-get install kmod)" >&2; exit 1; }
        for f in $(hgr_module_closure "$kver" $extra); do
            rel=${f#/lib/modules/$kver/}
            mkdir -p "$w/lib/modules/$kver/$(dirname "$rel")"
            cp "$f" "$w/lib/modules/$kver/$rel"
        done
        # What the kernel has built in, so that depmod and modprobe know it.
        cp /lib/modules/"$kver"/modules.builtin* "$w/lib/modules/$kver/" 2>/dev/null || true
        depmod -b "$w" "$kver" 2>&1 | grep -v 'could not open modules.order' >&2 || true
    fi
    install -m 755 "$here/guest-init.sh" "$w/init"
    cp "$here"/scenarios/*.sh "$w/scenarios/"
    mkdir -p "$(dirname "$out")"
    hgr_pack_cpio "$w" "$out"
    echo "$kver${extra:+ $extra}" > "$out.kver"
fi
echo "$kernel"
