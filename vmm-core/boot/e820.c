/* e820.c — the memory map: RAM regions minus the holes a PC keeps. */
#include "e820.h"

#include <glib.h>
#include <stdlib.h>

#include "core/pc.h"

#define EBDA_BASE   0x9fc00ULL
#define EBDA_END    0xa0000ULL
#define LOW_1M      0x100000ULL

typedef struct {
    uint64_t start, end;
} Range;

/* Address ranges that are never reported as RAM, even where mem has RAM. */
static const Range not_ram[] = {
    { EBDA_BASE, LOW_1M },
    { HGR_PCI_ECAM_BASE, HGR_PCI_ECAM_BASE + HGR_PCI_ECAM_SIZE },
};

static const Range reserved[] = {
    { EBDA_BASE, EBDA_END },
    { HGR_PC_ACPI_BASE, LOW_1M },
    { HGR_PCI_ECAM_BASE, HGR_PCI_ECAM_BASE + HGR_PCI_ECAM_SIZE },
};

typedef struct {
    HgrE820Entry e[HGR_E820_MAX];
    unsigned n;
} Map;

static void add(Map *m, uint64_t start, uint64_t end, uint32_t type)
{
    if (end > start && m->n < HGR_E820_MAX)
        m->e[m->n++] = (HgrE820Entry){ .addr = start, .size = end - start, .type = type };
}

/* Adds [start, end) minus every not_ram range (they are sorted and disjoint). */
static void add_ram(Map *m, uint64_t start, uint64_t end)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(not_ram) && start < end; i++) {
        const Range *h = &not_ram[i];
        if (h->end <= start || h->start >= end)
            continue;
        add(m, start, h->start, HGR_E820_RAM);
        start = h->end;
    }
    add(m, start, end, HGR_E820_RAM);
}

static int cmp_entry(const void *a, const void *b)
{
    const HgrE820Entry *x = a, *y = b;

    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

unsigned hgr_e820_build(const HgrGuestMem *mem, HgrE820Entry *out, unsigned max)
{
    Map m = { .n = 0 };

    for (unsigned i = 0; i < mem->n_regions && i < HGR_MEM_MAX_REGIONS; i++) {
        const HgrMemRegion *r = &mem->regions[i];
        if (r->size > UINT64_MAX - r->gpa)
            continue;
        add_ram(&m, r->gpa, r->gpa + r->size);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(reserved); i++)
        add(&m, reserved[i].start, reserved[i].end, HGR_E820_RESERVED);
    qsort(m.e, m.n, sizeof(m.e[0]), cmp_entry);

    unsigned n = m.n < max ? m.n : max;
    for (unsigned i = 0; i < n; i++)
        out[i] = m.e[i];
    return n;
}
