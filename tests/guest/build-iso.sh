#!/usr/bin/env bash
# build-iso.sh OUT.iso KERNEL INITRD: a bootable install-media-like ISO made
# by grub-mkrescue (BIOS El Torito through grub-pc-bin, UEFI through
# grub-efi-amd64-bin's EFI image): GRUB shows a menu in colours the tests
# look for in a screenshot, then boots KERNEL with INITRD and the
# `firmware-iso` guest scenario.  Rebuilds only when OUT is older than its
# inputs.
#
# The menu: normal entries white on blue, the highlighted one yellow on red
# (GRUB draws the whole menu box in the normal colour), three entries, the
# first highlighted, HANGAR_ISO_TIMEOUT seconds (default 10) before it boots.
set -euo pipefail
out=${1:?usage: build-iso.sh OUT.iso KERNEL INITRD}
kernel=${2:?} initrd=${3:?}
timeout=${HANGAR_ISO_TIMEOUT:-10}
for t in grub-mkrescue xorriso mformat; do
    command -v $t >/dev/null || { echo "build-iso: $t missing (apt-get install grub-common xorriso mtools)" >&2; exit 1; }
done
for d in i386-pc x86_64-efi; do
    [ -d /usr/lib/grub/$d ] || { echo "build-iso: /usr/lib/grub/$d missing (apt-get install grub-pc-bin grub-efi-amd64-bin)" >&2; exit 1; }
done
if [ -s "$out" ] && [ "$(cat "$out.timeout" 2>/dev/null)" = "$timeout" ] &&
   [ -z "$(find "$0" "$kernel" "$initrd" -newer "$out")" ]; then
    exit 0
fi
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
mkdir -p "$w/tree/boot/grub"
cp "$kernel" "$w/tree/boot/vmlinuz"
cp "$initrd" "$w/tree/boot/initrd.gz"
cat > "$w/tree/boot/grub/grub.cfg" <<CFG
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=$timeout
set color_normal=light-gray/black
set menu_color_normal=white/blue
set menu_color_highlight=yellow/red
echo "HANGAR grub-menu"
menuentry "Hangar install-media test (firmware-iso)" {
    echo "HANGAR grub-loading"
    linux /boot/vmlinuz console=ttyS0 quiet panic=-1 hangar.test=firmware-iso
    initrd /boot/initrd.gz
}
menuentry "Power off" {
    halt
}
menuentry "Reboot" {
    reboot
}
CFG
grub-mkrescue -o "$out.tmp" "$w/tree" -- -volid HANGAR_ISO >"$w/log" 2>&1 ||
    { cat "$w/log" >&2; rm -f "$out.tmp"; exit 1; }
mv "$out.tmp" "$out"
echo "$timeout" > "$out.timeout"
