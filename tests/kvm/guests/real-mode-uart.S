/* real-mode-uart.S — a 16-bit guest: programs COM1 the way a BIOS does,
 * prints through it polling LSR, echoes the bytes the host sends (reading
 * RBR when LSR.DR says so), counts resets in RAM the image does not cover,
 * reboots once through the reset control register, then powers off (S5). */
.code16
.globl _start
_start:
    cli
    mov $0x2000, %ax
    mov %ax, %ds
    mov $0x9000, %ax
    mov %ax, %ss
    mov $0xfffe, %sp

    mov $0x3fb, %dx            /* LCR: DLAB on, divisor 1 (115200), 8N1 */
    mov $0x80, %al
    out %al, %dx
    mov $0x3f8, %dx
    mov $1, %al
    out %al, %dx
    mov $0x3f9, %dx
    xor %al, %al
    out %al, %dx
    mov $0x3fb, %dx
    mov $0x03, %al
    out %al, %dx
    mov $0x3fa, %dx            /* FCR: FIFOs on and cleared */
    mov $0x07, %al
    out %al, %dx

    incb 0                     /* boots so far, at 0x20000 */
    cmpb $1, 0
    jne second_boot

    mov $hello, %si
    call puts
    /* Echo 4 bytes from the host, upper-cased. */
    mov $4, %cx
echo:
    mov $0x3fd, %dx
1:  in %dx, %al
    test $1, %al               /* LSR.DR */
    jz 1b
    mov $0x3f8, %dx
    in %dx, %al
    sub $0x20, %al
    call putc
    loop echo
    mov $'\n', %al
    call putc
    mov $0xcf9, %dx            /* reset control register: hard reset */
    mov $0x06, %al
    out %al, %dx
    jmp .                      /* never reached: the reset stops this vCPU */

second_boot:
    mov $again, %si
    call puts
    mov $0x604, %dx            /* PM1a_CNT: SLP_TYP=S5, SLP_EN */
    mov $(0x2000 | (5 << 10)), %ax
    out %ax, %dx
    jmp .

puts:                          /* cs:si, NUL-terminated */
    lodsb %cs:(%si), %al
    test %al, %al
    jz 2f
    call putc
    jmp puts
2:  ret

putc:
    push %ax
    mov $0x3fd, %dx
3:  in %dx, %al
    test $0x20, %al            /* LSR.THRE */
    jz 3b
    pop %ax
    mov $0x3f8, %dx
    out %al, %dx
    ret

hello: .asciz "real mode: hello\n"
again: .asciz "real mode: after reset\n"
