#!/usr/bin/env bash
# nested.sh: run a command inside a KVM-capable L1 Linux VM, for hosts whose
# /dev/kvm is software-emulated (too slow to boot a kernel).
#
# L1 is QEMU TCG with `-cpu max` (offers AMD SVM) booting the host's kernel
# with kvm-amd nested=1 and the host's / mounted read-only over 9p.  Inside,
# /dev/kvm runs L2 code about 200x faster than the emulated host KVM.
#
# usage: nested.sh [-m MiB] [-c CPUS] [-C CACHEDIR] [-l LOG] -o OUTDIR -- CMD...
#   OUTDIR is mounted read-write at the same path inside L1 and is the
#   command's working directory; the rest of / is read-only and /tmp is a
#   fresh tmpfs.  CACHEDIR keeps the L1 initramfs between runs.  LOG gets L1's
#   console.  Exit status: the command's, 125 when L1 reported none.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/initramfs-lib.sh"

mem=4096 cpus=2 out="" cache="" log=""
while [ $# -gt 0 ]; do
    case "$1" in
        -m) mem=$2; shift 2;;
        -c) cpus=$2; shift 2;;
        -o) out=$2; shift 2;;
        -C) cache=$2; shift 2;;
        -l) log=$2; shift 2;;
        --) shift; break;;
        *) echo "usage: $0 [-m MiB] [-c CPUS] [-C CACHEDIR] [-l LOG] -o OUTDIR -- CMD..." >&2; exit 2;;
    esac
done
[ $# -gt 0 ] && [ -n "$out" ] || { echo "nested: need -o OUTDIR and a command" >&2; exit 2; }
kver=$(hgr_guest_kver) || { echo "nested: no kernel in /boot with modules (apt-get install linux-image-amd64)" >&2; exit 2; }
# The outer QEMU: Debian's, or HANGAR_OUTER_QEMU (build-outer-qemu.sh makes
# one with the fix the UEFI test needs).
outer_qemu=${HANGAR_OUTER_QEMU:-qemu-system-x86_64}
command -v "$outer_qemu" >/dev/null || { echo "nested: $outer_qemu missing (apt-get install qemu-system-x86)" >&2; exit 2; }
mkdir -p "$out"; out=$(cd "$out" && pwd)
cache=${cache:-$out}; mkdir -p "$cache"; cache=$(cd "$cache" && pwd)
log=${log:-$out/nested-console.log}
initrd=$cache/nested-l1-$kver.cpio.gz

if [ ! -s "$initrd" ] || [ "$here/nested.sh" -nt "$initrd" ] || [ "$here/initramfs-lib.sh" -nt "$initrd" ]; then
    w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
    mkdir -p "$w"/{proc,sys,dev,m,r}
    hgr_install_busybox "$w"
    hgr_module_closure "$kver" kvm-amd virtio_pci 9pnet_virtio 9p > "$w/m/order"
    while read -r f; do cp "$f" "$w/m/"; done < "$w/m/order"
    sed -i 's|.*/||' "$w/m/order"
    cat > "$w/init" <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
arg() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" /proc/cmdline; }
while read -r f; do
    case $f in
        kvm-amd.ko*) insmod /m/$f nested=1 $(arg nk_amd | tr , ' ') ;;
        *) insmod /m/$f ;;
    esac
done < /m/order
O=$(arg nk_out)
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose host /r
mount -t proc proc /r/proc; mount -t sysfs sys /r/sys; mount -t devtmpfs dev /r/dev
mount -t tmpfs tmp /r/tmp
mkdir -p /r/dev/pts /r/dev/shm; mount -t devpts pts /r/dev/pts; mount -t tmpfs shm /r/dev/shm
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /r$O
ip link set lo up
[ -c /dev/kvm ] || echo "nested: no /dev/kvm in L1" >&2
chroot /r /bin/sh -c "cd $O && HOME=/tmp TMPDIR=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin sh $O/.nested-cmd"
echo "NESTED-EXIT $?"
poweroff -f
INIT
    chmod +x "$w/init"
    hgr_pack_cpio "$w" "$initrd"
fi

printf '%q ' "$@" > "$out/.nested-cmd"; echo >> "$out/.nested-cmd"
rm -f "$log"
"$outer_qemu" ${HANGAR_OUTER_QEMU:+-L /usr/share/qemu -L /usr/share/seabios} \
    -accel tcg,thread=${NESTED_TCG_THREAD:-multi} -M q35 -cpu "${NESTED_CPU:-max}" \
    -smp "$cpus" -m "$mem" -nodefaults -no-user-config -display none -serial "file:$log" -no-reboot \
    -kernel "/boot/vmlinuz-$kver" -initrd "$initrd" \
    -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
    -virtfs local,path="$out",mount_tag=out,security_model=none,multidevs=remap \
    -append "console=ttyS0 quiet panic=-1 nk_out=$out nk_amd=${NESTED_AMD:-}" </dev/null >&2 || true
rc=$(sed -n 's/^NESTED-EXIT \([0-9]*\).*/\1/p' "$log" | tail -1)
exit "${rc:-125}"
