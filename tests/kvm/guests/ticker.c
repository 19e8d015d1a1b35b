/* ticker.c — a 64-bit guest that prints "boot N" once (N counts boots in RAM
 * the image does not cover) and then "tick" lines forever, so the host can
 * see it run, stop while paused, go on after resume and start over on reset. */
#include "guest-lib.h"

#define BOOTS_ADDR 0x300000

__attribute__((section(".text.entry"))) void _start(void)
{
    volatile uint32_t *boots = (uint32_t *)BOOTS_ADDR;
    uint32_t n = ++*boots;

    puts("boot ");
    puthex(n, 2);
    putc('\n');
    for (uint64_t t = 0;; t++) {
        for (volatile unsigned spin = 0; spin < 2000; spin++)
            ;
        puts("tick ");
        puthex(t, 8);
        putc('\n');
    }
}
