/* long-mode.h — what a vCPU needs in RAM to start in 64-bit mode. */
#pragma once

#include "../core/memory.h"

/* Writes a GDT (0x10 code, 0x18 data) and page tables identity-mapping the
 * first 4 GiB with 2 MiB pages, below 64 KiB. False when RAM is too small. */
bool hgr_x86_write_long_mode(const HgrGuestMem *mem, uint64_t *cr3, uint64_t *gdt_base,
                             uint16_t *gdt_limit);
