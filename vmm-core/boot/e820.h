/* e820.h — the BIOS memory map a direct-booted kernel gets in its zero page. */
#pragma once

#include <stdint.h>

#include "core/memory.h"

#define HGR_E820_RAM       1
#define HGR_E820_RESERVED  2

/* Most entries hgr_e820_build() ever produces for a PC map (plenty of room). */
#define HGR_E820_MAX       16

typedef struct {
    uint64_t addr, size;
    uint32_t type;
} HgrE820Entry;

/* RAM from mem, with [0x9fc00,0xa0000), [HGR_PC_ACPI_BASE, 1 MiB) and the ECAM
 * window (HGR_PCI_ECAM_BASE/SIZE) reserved (Linux only uses ECAM that e820
 * reserves). Entries are sorted by address and never overlap. Only mem's
 * region list is read, never guest RAM. Returns the number of entries
 * written to out (at most max; entries past max are dropped). */
unsigned hgr_e820_build(const HgrGuestMem *mem, HgrE820Entry *out, unsigned max);
