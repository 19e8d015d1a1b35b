/* vbe-dirty.S — an MBR for the VGA's dirty tracking: sets an 800x600x32
 * Bochs VBE mode, paints the whole linear framebuffer orange from unreal
 * mode and says "LFB: painted" on COM1; then waits for a byte on COM1,
 * paints a 16x16 blue block at (400, 500), says "LFB: block" and waits
 * for another byte before powering off. */
.code16
.globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
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

    /* Find 1234:1111 on bus 0. */
    mov $0x80000000, %esi
1:  mov %esi, %eax
    mov $0xcf8, %dx
    out %eax, %dx
    mov $0xcfc, %dx
    in %dx, %eax
    cmp $0x11111234, %eax
    je 2f
    add $0x800, %esi
    cmp $0x80010000, %esi
    jb 1b
    mov $nodev, %si
    jmp fail
2:  lea 0x10(%esi), %eax
    mov $0xcf8, %dx
    out %eax, %dx
    mov $0xcfc, %dx
    in %dx, %eax
    and $0xfffffff0, %eax
    mov %eax, %edi

    /* Unreal mode: FS with a 4 GiB limit. */
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

    mov %edi, %ebp                     /* the framebuffer */
    mov $(800 * 600), %ecx
    mov $0x00ff8000, %eax
3:  addr32 movl %eax, %fs:(%edi)
    add $4, %edi
    dec %ecx
    jnz 3b
    mov $done, %si
    call puts
    call getc

    lea ((500 * 800 + 400) * 4)(%ebp), %edi
    mov $16, %bx
    mov $0x000000ff, %eax
7:  mov $16, %ecx
8:  addr32 movl %eax, %fs:(%edi)
    add $4, %edi
    dec %ecx
    jnz 8b
    add $((800 - 16) * 4), %edi
    dec %bx
    jnz 7b
    mov $block, %si
    call puts
    call getc
    jmp off

fail:
    call puts
off:
    mov $0x604, %dx
    mov $(0x2000 | (5 << 10)), %ax
    out %ax, %dx
    jmp .

/* si: NUL-terminated string to COM1 */
puts:
4:  lodsb
    test %al, %al
    jz 6f
    mov %al, %bl
    mov $0x3fd, %dx
5:  in %dx, %al
    test $0x20, %al
    jz 5b
    mov $0x3f8, %dx
    mov %bl, %al
    out %al, %dx
    jmp 4b
6:  ret

/* waits for a byte on COM1 and drops it */
getc:
    mov $0x3fd, %dx
9:  in %dx, %al
    test $0x01, %al
    jz 9b
    mov $0x3f8, %dx
    in %dx, %al
    ret

/* bx: dispi index, cx: value */
dispi:
    mov $0x1ce, %dx
    mov %bx, %ax
    out %ax, %dx
    mov $0x1cf, %dx
    mov %cx, %ax
    out %ax, %dx
    ret

.align 8
gdt:
    .quad 0
    .quad 0x00cf92000000ffff          /* data, base 0, limit 4 GiB */
gdtr:
    .word gdtr - gdt - 1
    .long gdt

done:  .asciz "LFB: painted\r\n"
block: .asciz "LFB: block\r\n"
nodev: .asciz "LFB: no Bochs VGA on bus 0\r\n"
.org 510
.byte 0x55, 0xaa
