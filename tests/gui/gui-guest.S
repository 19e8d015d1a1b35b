/* gui-guest.S — the boot program of the GUI tier's test ISO: a no-emulation
 * El Torito image (SeaBIOS loads its 2 KiB at 0x7c00) that
 *  - sets an 800x600x32 Bochs VBE mode through the dispi ports, finds the
 *    linear framebuffer in the VGA's BAR0 and paints four quadrants in four
 *    distinct colours (the test finds them, in this layout, in a screenshot
 *    of the VM window);
 *  - says one line on COM1 (the test reads it in the serial console);
 *  - then idles with hlt, woken by the timer tick, and on each
 *    tick echoes what arrived on COM1 (typed into the serial console), says
 *    each line back after Enter ("HANGAR-GUI-GUEST: the host typed: ..."),
 *    says each scan code the keyboard sent ("HANGAR-GUI-GUEST: key 1e"), and
 *    looks at PM1 PWRBTN_STS: when the power button was pressed it says so
 *    and powers off through ACPI S5, as an OS that listens would.
 * Linked at 0; the far jump makes CS = DS = 0x07c0 however it was entered. */
.code16
.globl _start
_start:
    cli
    ljmp $0x07c0, $1f
1:  mov %cs, %ax
    mov %ax, %ds
    xor %ax, %ax
    mov %ax, %ss
    mov $0x7c00, %sp

    /* dispi: XRES=800, YRES=600, BPP=32, ENABLE=enabled|LFB */
    mov $1, %bx
    mov $800, %cx
    call dispi
    mov $2, %bx
    mov $600, %cx
    call dispi
    mov $3, %bx
    mov $32, %cx
    call dispi
    mov $4, %bx
    mov $0x41, %cx
    call dispi

    /* The Bochs VGA, 1234:1111, on bus 0: its BAR0 is the framebuffer. */
    mov $0x80000000, %esi
2:  mov %esi, %eax
    mov $0xcf8, %dx
    out %eax, %dx
    mov $0xcfc, %dx
    in %dx, %eax
    cmp $0x11111234, %eax
    je 3f
    add $0x800, %esi
    cmp $0x80010000, %esi
    jb 2b
    mov $nodev, %si
    call puts
    jmp idle
3:  lea 0x10(%esi), %eax
    mov $0xcf8, %dx
    out %eax, %dx
    mov $0xcfc, %dx
    in %dx, %eax
    and $0xfffffff0, %eax
    mov %eax, %edi

    /* Unreal mode: FS with a 4 GiB limit, to reach the framebuffer. */
    lgdt gdtr
    mov %cr0, %eax
    or $1, %al
    mov %eax, %cr0
    mov $8, %bx
    mov %bx, %fs
    and $0xfe, %al
    mov %eax, %cr0
    xor %bx, %bx
    mov %bx, %fs

    /* Row by row: top half orange | azure, bottom half green | magenta. */
    xor %bx, %bx
4:  cmp $300, %bx
    jae 5f
    mov $0x00ff8000, %eax
    mov $0x000080ff, %edx
    jmp 6f
5:  mov $0x0020c020, %eax
    mov $0x00c020c0, %edx
6:  mov $400, %cx
7:  addr32 movl %eax, %fs:(%edi)
    add $4, %edi
    loop 7b
    mov $400, %cx
8:  addr32 movl %edx, %fs:(%edi)
    add $4, %edi
    loop 8b
    inc %bx
    cmp $600, %bx
    jb 4b

    mov $hello, %si
    call puts

    /* Our own timer handler: SeaBIOS's would hand COM1 input to its serial
     * console (as keystrokes) before this loop could read it. */
    xor %ax, %ax
    mov %ax, %es
    movw $tick, %es:(8 * 4)
    mov %cs, %es:(8 * 4 + 2)
    /* And our own keyboard handler: scan codes typed into the display are
     * queued here and said on COM1, not eaten by the BIOS. */
    movw $kbd, %es:(9 * 4)
    mov %cs, %es:(9 * 4 + 2)

idle:
    sti
    hlt
    cli
    /* Echo what is typed on COM1; at Enter, say the whole line back. */
9:  mov $0x3fd, %dx
    in %dx, %al
    test $0x01, %al
    jz 10f
    mov $0x3f8, %dx
    in %dx, %al
    call putc
    cmp $'\r', %al
    je 13f
    mov len, %bx
    cmp $LINE_MAX, %bx
    jae 9b
    mov %al, line(%bx)
    inc %bx
    mov %bx, len
    jmp 9b
13: mov $'\n', %al
    call putc
    mov len, %bx
    movb $0, line(%bx)
    movw $0, len
    mov $got, %si
    call puts
    mov $line, %si
    call puts
    mov $crlf, %si
    call puts
    jmp 9b
    /* Say each queued scan code: "HANGAR-GUI-GUEST: key 1e". */
10: mov kq_tail, %bx
    cmp kq_head, %bx
    je 14f
    and $15, %bx
    mov kq(%bx), %cl
    incw kq_tail
    mov $keymsg, %si
    call puts
    mov %cl, %al
    shr $4, %al
    call puthex
    mov %cl, %al
    call puthex
    mov $crlf, %si
    call puts
    jmp 10b
    /* The power button: clear its status (write 1) and power off. */
14: mov $0x600, %dx
    in %dx, %ax
    test $0x0100, %ax
    jz idle
    mov $0x0100, %ax
    out %ax, %dx
    mov $bye, %si
    call puts
    mov $0x604, %dx
    mov $(0x2000 | (5 << 10)), %ax
    out %ax, %dx
    jmp idle

/* IRQ0: acknowledge at the PIC; waking the hlt is all it is for. */
tick:
    push %ax
    mov $0x20, %al
    out %al, $0x20
    pop %ax
    iret

/* IRQ1: a byte from the keyboard (not the mouse: AUXB clear) into the queue. */
kbd:
    push %ax
    push %bx
    in $0x64, %al
    test $0x01, %al
    jz 15f
    test $0x20, %al
    in $0x60, %al
    jnz 15f
    mov %cs:kq_head, %bx
    and $15, %bx
    mov %al, %cs:kq(%bx)
    incw %cs:kq_head
15: mov $0x20, %al
    out %al, $0x20
    pop %bx
    pop %ax
    iret

/* al's low nibble to COM1 as a hex digit. */
puthex:
    and $0x0f, %al
    add $'0', %al
    cmp $'9', %al
    jbe 16f
    add $('a' - '9' - 1), %al
16: jmp putc

/* bx: dispi index, cx: value */
dispi:
    mov $0x1ce, %dx
    mov %bx, %ax
    out %ax, %dx
    mov $0x1cf, %dx
    mov %cx, %ax
    out %ax, %dx
    ret

/* al: a byte to COM1 (polling LSR's THRE); keeps al. */
putc:
    push %ax
    mov $0x3fd, %dx
11: in %dx, %al
    test $0x20, %al
    jz 11b
    pop %ax
    mov $0x3f8, %dx
    out %al, %dx
    ret

/* ds:si: a NUL-terminated string to COM1. */
puts:
    lodsb
    test %al, %al
    jz 12f
    call putc
    jmp puts
12: ret

.align 8
gdt:
    .quad 0
    .quad 0x00cf92000000ffff          /* data, base 0, limit 4 GiB */
gdtr:
    .word gdtr - gdt - 1
    .long gdt + 0x7c00                /* linear: the image sits at 0x7c00 */

got:   .asciz "HANGAR-GUI-GUEST: the host typed: "
crlf:  .asciz "\r\n"
hello: .asciz "HANGAR-GUI-GUEST: hello on COM1, screen painted\r\n"
bye:   .asciz "HANGAR-GUI-GUEST: power button pressed, powering off\r\n"
nodev: .asciz "HANGAR-GUI-GUEST: no Bochs VGA on bus 0\r\n"
keymsg: .asciz "HANGAR-GUI-GUEST: key "
kq_head: .word 0
kq_tail: .word 0
kq:    .space 16
.equ LINE_MAX, 60
len:   .word 0
line:  .space LINE_MAX + 1
.org 2047          /* one CD sector: -boot-load-size 4 reads 2 KiB */
.byte 0
