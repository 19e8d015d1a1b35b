/* linux-boot.h — direct boot of a bzImage through its 64-bit entry point
 * (Documentation/x86/boot.rst, "64-bit Boot Protocol").
 *
 * hgr_linux_boot_new() reads and checks the kernel, initrd and command line
 * up front, so a bad file is reported when the VM is built; load() only
 * copies into guest RAM and can run again on every reset.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/memory.h"

/* Selectors of the boot GDT (what the 64-bit protocol asks for). */
#define HGR_BOOT_CS 0x10   /* flat 64-bit code, DPL 0 */
#define HGR_BOOT_DS 0x18   /* flat data */

typedef struct HgrLinuxBoot HgrLinuxBoot;

/* initrd and cmdline may be NULL. Errors (HGR_VM_ERROR_KERNEL / _INITRD)
 * name the file and the cause in one line: missing, unreadable, a
 * directory, not a bzImage, truncated, boot protocol < 2.06, no 64-bit
 * entry (XLF_KERNEL_64), command line longer than cmdline_size, initrd too
 * large. Nothing touches guest RAM. */
HgrLinuxBoot *hgr_linux_boot_new(const char *kernel, const char *initrd, const char *cmdline,
                                 GError **error);
void hgr_linux_boot_free(HgrLinuxBoot *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HgrLinuxBoot, hgr_linux_boot_free)

typedef struct {
    uint64_t rip;        /* 64-bit entry: load address + 0x200 */
    uint64_t rsi;        /* boot_params (zero page) */
    uint64_t cr3;        /* identity page tables covering the first 4 GiB */
    uint64_t gdt_base;
    uint16_t gdt_limit;  /* GDT: 0x10 = flat 64-bit code (__BOOT_CS), 0x18 = flat data */
} HgrBootEntry;

/* Writes kernel (at 1 MiB), initrd (as high as allowed: below
 * initrd_addr_max, below 4 GiB, inside low RAM, page aligned), command line,
 * zero page (setup header from the image, type_of_loader 0xff, e820 table
 * from hgr_e820_build, acpi_rsdp_addr = rsdp, CAN_USE_HEAP, heap_end_ptr),
 * page tables and GDT, all below 1 MiB except kernel and initrd. Fails with
 * HGR_VM_ERROR_MEMORY if RAM is too small for kernel + initrd. The vCPU then
 * starts in long mode (CR0.PE|PG, CR4.PAE, EFER.LME|LMA) with CS =
 * HGR_BOOT_CS, DS/ES/SS = HGR_BOOT_DS, interrupts off. */
bool hgr_linux_boot_load(const HgrLinuxBoot *b, const HgrGuestMem *mem, uint64_t rsdp,
                         HgrBootEntry *entry, GError **error);
