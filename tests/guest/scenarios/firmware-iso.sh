# Guest side of the firmware-iso scenario (sourced by /init): booted by
# firmware from the ISO in the CD-ROM drive, through GRUB.  Finds the SATA
# disk, the NVMe disk and the CD; reads what the host put at 1 MiB on each
# disk, writes its own data at 2 MiB, and reports both; then powers off.
if [ -d /sys/firmware/efi ]; then say firmware uefi; else say firmware bios; fi
# The machine's identity as Linux reads it from the firmware's SMBIOS.
say dmi "$(cat /sys/class/dmi/id/sys_vendor 2>/dev/null)|$(cat /sys/class/dmi/id/product_uuid 2>/dev/null)"
# The ACPI tables Linux found (Hangar's, handed over by the firmware), and
# the maker of the DSDT that says how to power off.
say acpi-tables "$(ls /sys/firmware/acpi/tables 2>/dev/null | tr '\n' ' ')"
say acpi-dsdt-oem "$(dd if=/sys/firmware/acpi/tables/DSDT bs=1 skip=10 count=6 2>/dev/null | tr -d ' \0')"
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

# The display through Linux's bochs DRM driver (the VGA is PCI 1234:1111):
# load it asking for 1280x720 (not its default), see that it bound the VGA
# and made /dev/dri/card0 and /dev/fb0, then fill fb0 with four coloured
# quadrants and hold them for a few seconds, long enough for two of the
# host's screenshots (one every 2 s).  Colours (R G B): top left d0 20 40,
# top right 20 c0 60, bottom left 30 50 e0, bottom right f0 c0 20;
# fb-pattern.py on the host knows them.
fb_fill() {   # FILE COUNT R G B: COUNT XRGB8888 pixels (bytes B G R 0)
    printf "\\$(printf %03o $5)\\$(printf %03o $4)\\$(printf %03o $3)\\000" > $1
    n=1
    while [ $n -lt $2 ]; do cat $1 $1 > $1.t; mv $1.t $1; n=$((n * 2)); done
    head -c $(($2 * 4)) $1 > $1.t && mv $1.t $1
}
fb_rows() {   # OUT COUNT: COUNT copies of /tmp/fb-row
    cp /tmp/fb-row $1
    n=1
    while [ $n -lt $2 ]; do cat $1 $1 > $1.t; mv $1.t $1; n=$((n * 2)); done
    head -c $(($2 * $(wc -c < /tmp/fb-row))) $1 > $1.t && mv $1.t $1
}
bochs_fb() {
    # DRM's core debug messages say whether the driver found QEMU's
    # extended registers (only into the kernel log: the console is quiet).
    modprobe drm debug=1 2>/tmp/modprobe.err
    # Not the driver's default 1024x768: the host checks the mode asked for.
    if ! modprobe bochs defx=1280 defy=720 2>>/tmp/modprobe.err; then
        say bochs-error "modprobe bochs: $(tr '\n' ' ' < /tmp/modprobe.err)"; return
    fi
    echo 0 > /sys/module/drm/parameters/debug
    say bochs-hw "$(dmesg | sed -n 's/.*\(Found bochs VGA\|Framebuffer size\|Found qemu ext regs\)/\1/p' | tr '\n' ' ')"
    say bochs-qext "$(dmesg | sed -n 's/.*Found qemu ext regs, size \([0-9]*\).*/\1/p' | tail -1)"
    for d in /sys/bus/pci/drivers/bochs*/0000:*; do
        [ -e "$d" ] && say bochs-bound "${d##*/} $(sed 's/^0x//' $d/vendor):$(sed 's/^0x//' $d/device)"
    done
    wait_for /dev/fb0 10
    say bochs-nodes "$(ls /dev/dri/card0 /dev/fb0 2>/dev/null | tr '\n' ' ')"
    g=/sys/class/graphics/fb0
    [ -r $g/virtual_size ] || { say bochs-error "no $g"; return; }
    w=$(cut -d, -f1 $g/virtual_size) h=$(cut -d, -f2 $g/virtual_size)
    bpp=$(cat $g/bits_per_pixel) stride=$(cat $g/stride)
    say fb-mode "${w}x${h}x$bpp stride=$stride name=$(cat $g/name) modes=$(head -1 $g/modes)"
    [ "$bpp" = 32 ] || { say bochs-error "fb0 is ${bpp} bpp, the pattern needs 32"; return; }
    # fbcon's blinking cursor would draw over the top-left corner.
    echo 0 > /sys/class/graphics/fbcon/cursor_blink 2>/dev/null
    l=$((w / 2)) r=$((w - w / 2))
    head -c $((stride - w * 4)) /dev/zero > /tmp/fb-pad
    fb_fill /tmp/fb-a $l 208 32 64; fb_fill /tmp/fb-b $r 32 192 96
    cat /tmp/fb-a /tmp/fb-b /tmp/fb-pad > /tmp/fb-row; fb_rows /tmp/fb-top $((h / 2))
    fb_fill /tmp/fb-a $l 48 80 224; fb_fill /tmp/fb-b $r 240 192 32
    cat /tmp/fb-a /tmp/fb-b /tmp/fb-pad > /tmp/fb-row; fb_rows /tmp/fb-bottom $((h - h / 2))
    cat /tmp/fb-top /tmp/fb-bottom > /dev/fb0 || say bochs-error "writing /dev/fb0 failed"
    rm -f /tmp/fb-*
    say fb-drawn "$(cut -d' ' -f1 /proc/uptime)"
    sleep 5
}
bochs_fb
