/* long-mode.c — the GDT and identity page tables a 64-bit entry needs. */
#include "long-mode.h"

#define GDT_ADDR   0x500
#define PML4_ADDR  0x9000
#define PDPT_ADDR  0xa000
#define PD_ADDR    0xb000            /* four page directories: 0xb000-0xefff */

bool hgr_x86_write_long_mode(const HgrGuestMem *mem, uint64_t *cr3, uint64_t *gdt_base,
                             uint16_t *gdt_limit)
{
    /* null, null, 0x10 flat 64-bit code, 0x18 flat data (Linux's __BOOT_CS/DS). */
    const uint64_t gdt[4] = { 0, 0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL };
    uint64_t pml4 = PDPT_ADDR | 3, pdpt[4], pd[512];

    if (!hgr_mem_write(mem, GDT_ADDR, gdt, sizeof(gdt)) ||
        !hgr_mem_write(mem, PML4_ADDR, &pml4, sizeof(pml4)))
        return false;
    for (unsigned i = 0; i < 4; i++) {
        pdpt[i] = (PD_ADDR + 0x1000ULL * i) | 3;
        for (unsigned j = 0; j < 512; j++)   /* 2 MiB pages, present + writable */
            pd[j] = ((uint64_t)i << 30) | ((uint64_t)j << 21) | 0x83;
        if (!hgr_mem_write(mem, PD_ADDR + 0x1000ULL * i, pd, sizeof(pd)))
            return false;
    }
    if (!hgr_mem_write(mem, PDPT_ADDR, pdpt, sizeof(pdpt)))
        return false;
    *cr3 = PML4_ADDR;
    *gdt_base = GDT_ADDR;
    *gdt_limit = sizeof(gdt) - 1;
    return true;
}
