/* handover-mbr.S — the boot loader of the firmware hand-over bench: its
 * first act is the boot timer write (port 0x501: Hangar timestamps it,
 * QEMU's isa-debug-exit exits there with status 0x21 * 2 + 1 = 67), then it powers off through ACPI S5
 * (PM1a_CNT at 0x604, where SeaBIOS puts the q35 PM block). No absolute
 * addresses, so it runs wherever it is linked. */
.code16
.globl _start
_start:
    mov $0x21, %al
    mov $0x501, %dx
    out %al, %dx
    mov $0x604, %dx
    mov $(0x2000 | (5 << 10)), %ax
    out %ax, %dx
1:  hlt
    jmp 1b
.org 510
.byte 0x55, 0xaa
