/* keyboard.c — a 64-bit guest that sets the i8042 up as a PC BIOS would
 * (translation to scan code set 1, interrupts off: it polls), says "ready",
 * then prints every byte the keyboard sends until it has seen four. */
#include "guest-lib.h"

static void ctrl_wait_write(void)
{
    for (unsigned i = 0; i < 100000 && (inb(0x64) & 2); i++)
        ;
}

__attribute__((section(".text.entry"))) void _start(void)
{
    ctrl_wait_write();
    outb(0x64, 0x60);              /* write command byte */
    ctrl_wait_write();
    outb(0x60, 0x44);              /* translate to set 1, system flag, no IRQs */
    while (inb(0x64) & 1)          /* drop anything left over */
        (void)inb(0x60);
    puts("keyboard: ready\n");
    unsigned got = 0;
    for (unsigned long spin = 0; got < 4 && spin < 400000000ul; spin++) {
        if (inb(0x64) & 1) {
            puts("scan ");
            puthex(inb(0x60), 2);
            putc('\n');
            got++;
        }
    }
    puts(got == 4 ? "keyboard: done\n" : "keyboard: FAIL timeout\n");
    poweroff();
}
