/* board.h — what a device is wired to: buses, RAM, interrupts, threads.
 *
 * The VM fills one HgrBoard; unit tests fill their own (their buses, a
 * recording irqchip, vm_fd -1) and realize a device on it alone. Devices
 * never include vm-private.h.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "io-bus.h"
#include "iothread.h"
#include "irq.h"
#include "memory.h"

typedef struct HgrPciBus HgrPciBus;
typedef struct HgrBoard HgrBoard;

typedef enum {
    HGR_BOARD_RESET,       /* reset line pulled (i8042, 0xCF9, ACPI reset) */
    HGR_BOARD_POWEROFF,    /* ACPI S5 */
    HGR_BOARD_BOOTED,      /* boot timer port written */
} HgrBoardEvent;

struct HgrBoard {
    HgrIoBus *pio;
    HgrIoBus *mmio;
    HgrPciBus *pci;              /* NULL when the board has no PCI */
    const HgrGuestMem *mem;
    const HgrIrqChip *irqchip;
    HgrIoThread *iothread;       /* may be NULL in unit tests */
    int vm_fd;                   /* KVM VM fd for ioeventfd/irqfd, or -1 */
    unsigned (*alloc_gsi)(void *opaque);  /* a free GSI for an MSI route */
    bool (*set_msi_route)(void *opaque, unsigned gsi, uint64_t addr, uint32_t data);
    void (*event)(void *opaque, HgrBoardEvent event);
    /* Maps device memory (hva, size bytes, page aligned) as guest RAM at
     * gpa, so guest accesses need no exits; gpa HGR_BOARD_UNMAPPED removes
     * it. Calling again with the same hva moves it. False when KVM refuses
     * (say, gpa overlaps RAM): the device then serves accesses itself.
     * NULL on boards without KVM (unit tests). KVM logs the guest's
     * writes to it (see get_dirty_log). */
    bool (*map_ram)(void *opaque, void *hva, uint64_t gpa, uint64_t size);
    /* Fetches and clears the log of guest writes to what map_ram mapped at
     * hva: bit i of bitmap (n_pages bits, rounded up to whole uint64_t) is
     * set when page i was written since the last call. Callable from any
     * thread while vCPUs run. False when hva is not mapped as RAM now (its
     * accesses then exit to the device) or KVM refuses: nothing is known.
     * Writes the VMM itself makes are not in the log. */
    bool (*get_dirty_log)(void *opaque, const void *hva, uint64_t *bitmap, size_t n_pages);
    /* The same, read-only: reads need no exits, writes still exit to the
     * MMIO handler at gpa (a flash chip in read-array mode). */
    bool (*map_rom)(void *opaque, const void *hva, uint64_t gpa, uint64_t size);
    void *opaque;
};

#define HGR_BOARD_UNMAPPED UINT64_MAX

static inline void hgr_board_event(const HgrBoard *b, HgrBoardEvent event)
{
    if (b->event)
        b->event(b->opaque, event);
}
