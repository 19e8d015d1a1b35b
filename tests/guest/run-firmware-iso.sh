#!/usr/bin/env bash
# run-firmware-iso.sh: the host side of the firmware-iso guest test.  Boots
# an ISO made by build-iso.sh from the SATA CD-ROM through real firmware
# (SeaBIOS, or OVMF with --firmware uefi) and GRUB, with a raw SATA disk and
# a qcow2 NVMe disk attached; takes screenshots during the boot; then checks
# what the guest reported, what it left on both disks (the qcow2 judged by
# qemu-img), that a screenshot shows GRUB's menu, and that Linux's bochs DRM
# driver drove the VGA: what the guest drew into /dev/fb0 is what a
# screenshot shows, at the mode the driver set.  Prints TAP.
# usage: run-firmware-iso.sh --hangarctl PATH --iso ISO --firmware bios|uefi
#                            --workdir DIR [--timeout S]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/check-lib.sh"

hangarctl="" iso="" firmware=bios work="" timeout=600
while [ $# -gt 0 ]; do
    case "$1" in
        --hangarctl) hangarctl=$2;; --iso) iso=$2;; --firmware) firmware=$2;;
        --workdir) work=$2;; --timeout) timeout=$2;;
        *) echo "run-firmware-iso: unknown option $1" >&2; exit 2;;
    esac
    shift 2
done
mkdir -p "$work/shots" && cd "$work" || exit 2
rm -f shots/*.png serial.log

# The disks: the host's data at 1 MiB; the NVMe one as qcow2 (converted by
# qemu-img from a raw seed, so Hangar reads clusters qemu-img allocated).
for d in sata nvme; do
    rm -f $d.img $d.qcow2
    truncate -s 32M $d.img
    head -c 1M /dev/urandom > $d-host-data
    dd if=$d-host-data of=$d.img bs=1M seek=1 conv=notrunc 2>/dev/null
done
qemu-img convert -f raw -O qcow2 nvme.img nvme.qcow2 && rm nvme.img || exit 2
# A fresh UUID each run, so the guest cannot pass by reading an old one.
uuid=$(cat /proc/sys/kernel/random/uuid)
vm_argv=("$hangarctl" run --firmware "$firmware" --memory 512 --cpus 1 --serial "$work/serial.log"
         --disk "$work/sata.img,format=raw,bus=sata" --disk "$work/nvme.qcow2,format=qcow2,bus=nvme"
         --cdrom "$iso" --boot cdrom --screenshot "$work/shots/end.png" --uuid "$uuid")
if [ "$firmware" = uefi ]; then
    cp /usr/share/OVMF/OVMF_VARS_4M.fd nvram.fd
    # OVMF writes its variables into the VM's own copy of the store.
    vm_argv+=(--nvram "$work/nvram.fd")
fi
# A screenshot every 2 s: GRUB's menu counts down from 10 s, so at least
# four of them fall on it, however long the firmware takes to get there.
for t in $(seq 2 2 "$timeout"); do vm_argv+=(--screenshot-at "$t:$work/shots/at-$(printf %04d "$t").png"); done
echo "# ${vm_argv[*]:0:16} ... (--screenshot-at every 2 s)" >&2

start=$(date +%s.%N)
"${vm_argv[@]}" </dev/null >vmm.out 2>vmm.err &
vmm_pid=$!
# Wall times of the boot's stages, as the serial log shows them: the menu
# (GRUB's echo before it), GRUB loading the kernel, the guest's init.
declare -A seen=()
timed_out=0
while kill -0 $vmm_pid 2>/dev/null; do
    now=$(date +%s.%N)
    if awk -v a="$start" -v b="$now" -v t="$timeout" 'BEGIN { exit !(b - a > t) }'; then
        timed_out=1; kill $vmm_pid; break
    fi
    for m in grub-menu grub-loading init fb-drawn; do
        [ -z "${seen[$m]:-}" ] && grep -q "HANGAR $m" serial.log 2>/dev/null &&
            seen[$m]=$(elapsed "$start" "$now")
    done
    sleep 0.2
done
wait $vmm_pid; rc=$?
[ $timed_out = 1 ] && rc=timeout
end=$(date +%s.%N)

echo "1..12"
echo "# firmware $firmware: GRUB's menu at ${seen[grub-menu]:-?}s, GRUB loading Linux at ${seen[grub-loading]:-?}s," \
     "init at ${seen[init]:-?}s, bochs fb drawn at ${seen[fb-drawn]:-?}s, powered off at $(elapsed "$start" "$end")s (wall clock from the VMM's start)"
sed -n 's/^\(boot-time-ms: .*\)/# hangarctl reported \1 (init'"'"'s write to the boot timer port)/p' vmm.err
tap "$( [ "$(report firmware)" = "$firmware" ] && echo 1 || echo 0)" \
    "$firmware firmware boots the ISO from the SATA CD-ROM through GRUB to Linux" \
    "guest says firmware: $(report firmware); GRUB: ${seen[grub-loading]:+loaded the kernel}"
tap "$( [ $rc = 0 ] && [ -n "$(report poweroff)" ] && echo 1 || echo 0)" \
    "the guest powers off and hangarctl exits with status 0" \
    "exit status $rc$( [ $timed_out = 1 ] && echo " (killed after ${timeout}s)")"
tap "$( [ "$(report dmi)" = "Hangar|$uuid" ] && echo 1 || echo 0)" \
    "Linux reads the VM's UUID from SMBIOS (/sys/class/dmi/id/product_uuid), made by Hangar" \
    "want Hangar|$uuid; guest read: $(report dmi)"
tables=" $(report acpi-tables)"
tap "$(for t in FACP DSDT APIC MCFG; do case "$tables" in *" $t"*) ;; *) exit 0;; esac; done
       [ "$(report acpi-dsdt-oem)" = HANGAR ] && echo 1 || echo 0)" \
    "Linux finds Hangar's ACPI tables through the firmware (FACP, DSDT, APIC, MCFG; the DSDT made by HANGAR)" \
    "tables:$tables; DSDT by: $(report acpi-dsdt-oem)"
tap "$( [ "$(report sata-host-sha)" = "$(sha256sum < sata-host-data | cut -d' ' -f1)" ] &&
        [ "$(report sata-guest-sha)" = "$(sha_at sata.img 2)" ] && echo 1 || echo 0)" \
    "the SATA disk ($(report sata-dev)) reads the host's data and keeps what the guest wrote"
qemu-img convert -f qcow2 -O raw nvme.qcow2 nvme-after.raw 2>qemu-img.err
tap "$( [ "$(report nvme-host-sha)" = "$(sha256sum < nvme-host-data | cut -d' ' -f1)" ] &&
        [ "$(report nvme-guest-sha)" = "$(sha_at nvme-after.raw 2)" ] && echo 1 || echo 0)" \
    "the qcow2 NVMe disk ($(report nvme-dev)) reads the host's data; qemu-img reads back what the guest wrote" \
    "$(cat qemu-img.err)"
rm -f nvme-after.raw
check=$(qemu-img check -f qcow2 nvme.qcow2 2>&1); crc=$?
tap "$( [ $crc = 0 ] && [ -n "$(report nvme-guest-sha)" ] && echo 1 || echo 0)" \
    "qemu-img check finds the qcow2 the guest wrote clean" \
    "$(echo "$check" | tr '\n' ' ')"
tap "$( [ "$(report cdrom-sha)" = "$(dd if="$iso" bs=2048 count=512 2>/dev/null | sha256sum | cut -d' ' -f1)" ] &&
        [ "$(report cdrom-label)" = HANGAR_ISO ] && echo 1 || echo 0)" \
    "the guest finds the CD it booted from (/dev/sr0, label HANGAR_ISO)" "label: $(report cdrom-label)"
shots=(shots/at-*.png)
menu=$(python3 "$here/grub-menu.py" "${shots[@]}" 2>&1 | grep ' menu row=' | head -1)
tap "$( [ -n "$menu" ] && echo 1 || echo 0)" \
    "a screenshot during the boot shows GRUB's menu (yellow-on-red highlight, white-on-blue box)" \
    "${menu:-none of ${#shots[@]} screenshots shows it}"
tap "$(echo "$menu" | grep -q 'entries=3' && echo 1 || echo 0)" \
    "GRUB's menu shows its three entries, one text row each" "${menu:-no menu}"
# Linux's bochs DRM driver on Hangar's VGA (guest part: scenarios/firmware-iso.sh).
bound=$(report bochs-bound)
tap "$( [ -n "$bound" ] && [ "${bound##* }" = 1234:1111 ] &&
        [ "$(report bochs-nodes)" = "/dev/dri/card0 /dev/fb0 " ] && [ "$(report bochs-qext)" = 8 ] &&
        echo 1 || echo 0)" \
    "Linux's bochs DRM driver binds the VGA (1234:1111), finds QEMU's extended registers and makes /dev/dri/card0 and /dev/fb0" \
    "bound: ${bound:-nothing}; nodes: $(report bochs-nodes); mode: $(report fb-mode); driver: $(report bochs-hw)$(report bochs-error | sed 's/^./; error: &/')"
mode=$(report fb-mode | cut -d' ' -f1)
fb=$(python3 "$here/fb-pattern.py" "${mode%x*}" "${shots[@]}" shots/end.png 2>&1 | grep ' pattern ' | head -1)
tap "$( [ -n "$fb" ] && [ "$mode" = 1280x720x32 ] && echo 1 || echo 0)" \
    "a screenshot shows the four quadrants the guest wrote to /dev/fb0, at the mode it asked the driver for (1280x720x32; set: ${mode:-none})" \
    "${fb:-none of ${#shots[@]} screenshots nor the one at power-off shows them$(python3 "$here/fb-pattern.py" "${mode%x*}" shots/end.png 2>&1 | sed 's/^[^ ]* /; at power-off: /')}"
if [ $failed = 1 ]; then
    echo "# serial log (tail):"; tr -d '\r' < serial.log | grep -a HANGAR | tail -30 | sed 's/^/#   /'
    echo "# hangarctl (tail):"; tail -20 vmm.err | sed 's/^/#   /'
fi
exit 0
