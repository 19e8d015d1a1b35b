# Guest side of the firmware-iso scenario (sourced by /init): booted by
# firmware from the ISO in the CD-ROM drive, through GRUB.  Finds the SATA
# disk, the NVMe disk and the CD; reads what the host put at 1 MiB on each
# disk, writes its own data at 2 MiB, and reports both; then powers off.
if [ -d /sys/firmware/efi ]; then say firmware uefi; else say firmware bios; fi
for d in sata:sda nvme:nvme0n1; do
    name=${d%%:*} dev=${d##*:}
    if wait_for /sys/block/$dev 60; then
        say $name-dev "/dev/$dev $(cat /sys/block/$dev/size) sectors"
        say $name-host-sha "$(dd if=/dev/$dev bs=1M skip=1 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
        dd if=/dev/urandom of=/tmp/$name-data bs=1M count=1 2>/dev/null
        dd if=/tmp/$name-data of=/dev/$dev bs=1M seek=2 count=1 oflag=direct conv=fsync 2>/dev/null
        say $name-guest-sha "$(sha256sum < /tmp/$name-data | cut -d' ' -f1)"
    else
        say $name-dev none
    fi
done
# The CD the guest booted from: its first MiB, and its volume label
# (ISO 9660 primary volume descriptor, sector 16, bytes 40-71).
if wait_for /sys/block/sr0 60; then
    say cdrom-sha "$(dd if=/dev/sr0 bs=2048 count=512 2>/dev/null | sha256sum | cut -d' ' -f1)"
    say cdrom-label "$(dd if=/dev/sr0 bs=1 skip=$((16 * 2048 + 40)) count=32 2>/dev/null | tr -d ' ')"
else
    say cdrom-sha none
fi
sync
