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
    void *opaque;
};

static inline void hgr_board_event(const HgrBoard *b, HgrBoardEvent event)
{
    if (b->event)
        b->event(b->opaque, event);
}
