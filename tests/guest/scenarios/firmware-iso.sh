# Guest side of the firmware-iso scenario (sourced by /init): booted by
# firmware from the ISO in the CD-ROM drive, through GRUB.  Finds the SATA
# disk, the NVMe disk and the CD; reads what the host put at 1 MiB on each
# disk, writes its own data at 2 MiB, and reports both; then powers off.
if [ -d /sys/firmware/efi ]; then say firmware uefi; else say firmware bios; fi
disk_roundtrip sata sda
disk_roundtrip nvme nvme0n1
# The CD the guest booted from: its first MiB, and its volume label
# (ISO 9660 primary volume descriptor, sector 16, bytes 40-71).
if wait_for /sys/block/sr0 60; then
    say cdrom-sha "$(dd if=/dev/sr0 bs=2048 count=512 2>/dev/null | sha256sum | cut -d' ' -f1)"
    say cdrom-label "$(dd if=/dev/sr0 bs=1 skip=$((16 * 2048 + 40)) count=32 2>/dev/null | tr -d ' ')"
else
    say cdrom-sha none
fi
sync
