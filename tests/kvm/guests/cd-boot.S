/* cd-boot.S — a no-emulation El Torito boot image: the firmware loads it
 * at 0x7c00 from the CD, it prints on COM1 and powers off through ACPI S5.
 * Linked at 0; the far jump makes CS = DS = 0x07c0 however it was entered
 * (0000:7c00 or 07c0:0000). */
.code16
.globl _start
_start:
    cli
    ljmp $0x07c0, $1f
1:  mov %cs, %ax
    mov %ax, %ds
    mov $msg, %si
2:  lodsb
    test %al, %al
    jz 4f
    mov %al, %bl
    mov $0x3fd, %dx
3:  in %dx, %al
    test $0x20, %al
    jz 3b
    mov $0x3f8, %dx
    mov %bl, %al
    out %al, %dx
    jmp 2b
4:  mov $0x604, %dx
    mov $(0x2000 | (5 << 10)), %ax
    out %ax, %dx
    jmp .
msg: .asciz "CD: hello from the El Torito image\r\n"
.org 2047          /* one CD sector: -boot-load-size 4 reads 2 KiB */
.byte 0
