/* fpu-control.c — the x87 and SSE control instructions OVMF runs first
 * (SEC's FPU setup, DXE's SetJump/LongJump), with the operand forms it
 * uses, each result printed: on a KVM that emulates guest code, Hangar
 * does these itself, and they must come out as on hardware. */
#include "guest-lib.h"

static volatile uint16_t cw_in = 0x027f, cw_out;
static volatile uint32_t mxcsr_in = 0x1f80 | 0x6000, mxcsr_out;   /* round toward zero */
static volatile uint32_t jmp_buf[4];

__attribute__((section(".text.entry"))) void _start(void)
{
    uint64_t cr4;

    /* SSE on, as OVMF's SEC does before ldmxcsr. */
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | (1u << 9) | (1u << 10)));

    __asm__ volatile("fwait; fninit");
    __asm__ volatile("fldcw %0" :: "m"(cw_in));                 /* RIP-relative */
    __asm__ volatile("fnstcw %0" : "=m"(cw_out));
    puts("fcw ");
    puthex(cw_out, 4);
    putc('\n');

    volatile uint32_t *p = &mxcsr_in;
    __asm__ volatile("ldmxcsr (%0)" :: "r"(p) : "memory");      /* register base */
    __asm__ volatile("stmxcsr 8(%0)" :: "r"(jmp_buf) : "memory");   /* base + disp8 */
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr_out));
    puts("mxcsr ");
    puthex(jmp_buf[2], 8);
    putc(' ');
    puthex(mxcsr_out, 8);
    putc('\n');
    poweroff();
}
