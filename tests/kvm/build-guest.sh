#!/bin/sh
# build-guest.sh SRC OUT LDSCRIPT — builds a flat test-guest binary.
# .S files are 16-bit images linked at 0 (boot-sector.S at 0x7c00, where
# firmware loads a boot sector); .c files are freestanding 64-bit programs
# linked at 1 MiB by LDSCRIPT.
set -eu
src=$1 out=$2 lds=$3
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case "$src" in
*.S)
    base=0
    case "$src" in *boot-sector.S|*vbe-lfb.S|*vbe-dirty.S) base=0x7c00;; esac
    $cc -c "$src" -o "$tmp/g.o"
    ld -m elf_x86_64 -Ttext=$base -e _start "$tmp/g.o" -o "$tmp/g.elf"
    ;;
*.c)
    $cc -m64 -O2 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -nostdlib \
        -mno-red-zone -mgeneral-regs-only -fno-asynchronous-unwind-tables \
        -c "$src" -o "$tmp/g.o"
    ld -m elf_x86_64 -no-pie --no-warn-rwx-segments -T "$lds" "$tmp/g.o" -o "$tmp/g.elf"
    ;;
esac
objcopy -O binary "$tmp/g.elf" "$out"
