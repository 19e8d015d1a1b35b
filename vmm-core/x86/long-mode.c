/* long-mode.c — the GDT and identity page tables a 64-bit entry needs. */
#include "long-mode.h"

#include <glib.h>

#define GDT_ADDR   0x500
#define PML4_ADDR  0x9000
#define PDPT_ADDR  0xa000
#define PD_ADDR    0xb000            /* four page directories: 0xb000-0xefff */
#define PAGE       4096u
#define PTE_PRESENT 0x1u
#define PTE_WRITE   0x2u
#define PTE_LARGE   0x80u

/* Accessed bits preset, so the CPU never has to write the GDT. */
static const uint64_t gdt[] = {
    0,
    0x00cf9b000000ffffULL,     /* 0x08: flat 32-bit code */
    0x00af9b000000ffffULL,     /* 0x10: flat 64-bit code (L=1), Linux's __BOOT_CS */
    0x00cf93000000ffffULL,     /* 0x18: flat data, __BOOT_DS */
};

bool hgr_x86_write_long_mode(const HgrGuestMem *mem, uint64_t *cr3, uint64_t *gdt_base,
                             uint16_t *gdt_limit)
{
    /* Whole pages, so nothing a previous boot left in them survives a reset:
     * PML4 -> one PDPT -> four PDs of 2 MiB pages, gpa == va for 0-4 GiB. */
    const size_t n = 6 * 512;
    g_autofree uint64_t *pt = g_new0(uint64_t, n);
    uint64_t *pdpt = pt + 512, *pd = pt + 1024;

    pt[0] = PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
    for (unsigned i = 0; i < 4; i++)
        pdpt[i] = (PD_ADDR + (uint64_t)i * PAGE) | PTE_PRESENT | PTE_WRITE;
    for (unsigned i = 0; i < 4 * 512; i++)
        pd[i] = ((uint64_t)i << 21) | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
    if (!hgr_mem_write(mem, PML4_ADDR, pt, n * sizeof(uint64_t)) ||
        !hgr_mem_write(mem, GDT_ADDR, gdt, sizeof(gdt)))
        return false;
    *cr3 = PML4_ADDR;
    *gdt_base = GDT_ADDR;
    *gdt_limit = sizeof(gdt) - 1;
    return true;
}
