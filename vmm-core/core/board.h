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
     * NULL on boards without KVM (unit tests). */
    bool (*map_ram)(void *opaque, void *hva, uint64_t gpa, uint64_t size);
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
