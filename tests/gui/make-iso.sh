#!/bin/sh
# make-iso.sh BOOT.BIN OUT.ISO — the GUI tier's bootable test ISO: BOOT.BIN
# as a no-emulation El Torito image (4 sectors, loaded at 0x7c00), under a
# volume ID that no OS database knows, so the wizard says "not recognised".
set -eu
boot=$1 out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/root"
cp "$boot" "$tmp/root/boot.bin"
printf 'Hangar GUI test ISO: paints four quadrants, talks on COM1.\n' > "$tmp/root/README.TXT"
xorriso -as mkisofs -quiet -V HANGAR_GUI_TEST -o "$out" \
    -b boot.bin -no-emul-boot -boot-load-size 4 "$tmp/root"
