/* boot-sector.S — an MBR the firmware loads at 0x7c00 from the first disk:
 * prints on COM1 (polling LSR), then powers off through ACPI S5. Proves
 * the firmware handed over to a boot loader. */
.code16
.globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov $msg, %si
1:  lodsb
    test %al, %al
    jz 3f
    mov %al, %bl
    mov $0x3fd, %dx
2:  in %dx, %al
    test $0x20, %al
    jz 2b
    mov $0x3f8, %dx
    mov %bl, %al
    out %al, %dx
    jmp 1b
3:  mov $0x604, %dx
    mov $(0x2000 | (5 << 10)), %ax
    out %ax, %dx
    jmp .
msg: .asciz "MBR: hello from the boot sector\r\n"
.org 510
.byte 0x55, 0xaa
