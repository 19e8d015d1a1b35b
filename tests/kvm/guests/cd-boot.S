/* cd-boot.S — a no-emulation El Torito boot image: the firmware loads it
 * at 0x7c00 from the CD, it prints on COM1, looks for the RSDP the firmware
 * loaded (fw_cfg etc/acpi/rsdp: OEM "HANGAR", first checksum right) and
 * says whether it found it, then powers off through ACPI S5.
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
    call puts
    /* ES:DI walks the F segment in 16-byte steps. */
    mov $0xf000, %ax
    mov %ax, %es
    xor %di, %di
5:  mov $rsdp_sig, %si
    mov $15, %cx              /* "RSD PTR ", the checksum, "HANGAR" */
    push %di
6:  cmp $7, %cx
    je 7f                     /* byte 8, the checksum: not compared */
    mov (%si), %al
    cmp %es:(%di), %al
    jne 8f
7:  inc %si
    inc %di
    loop 6b
    pop %di
    xor %bl, %bl              /* the ACPI 1.0 checksum: 20 bytes sum to 0 */
    mov $20, %cx
    push %di
9:  add %es:(%di), %bl
    inc %di
    loop 9b
    pop %di
    test %bl, %bl
    jnz 10f
    mov $found, %si
    call puts
    jmp 4f
8:  pop %di
    add $16, %di
    jnz 5b
10: mov $missing, %si
    call puts
4:  mov $0x604, %dx
    mov $(0x2000 | (5 << 10)), %ax
    out %ax, %dx
    jmp .

puts:
    lodsb
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
    jmp puts
3:  ret

rsdp_sig: .ascii "RSD PTR ?HANGAR"
found: .asciz "CD: ACPI RSDP from Hangar\r\n"
missing: .asciz "CD: no ACPI RSDP from Hangar\r\n"
msg: .asciz "CD: hello from the El Torito image\r\n"
.org 2047          /* one CD sector: -boot-load-size 4 reads 2 KiB */
.byte 0
