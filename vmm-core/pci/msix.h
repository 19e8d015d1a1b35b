/* msix.h — MSI-X: the capability, the vector table and the PBA.
 *
 * The table and PBA live in one of the device's BARs; the device's BAR
 * handler forwards accesses there to hgr_msix_table_io()/hgr_msix_pba_io(),
 * and its config_write hook to hgr_msix_config_write().
 *
 * Delivery: with a KVM VM fd, each vector owns a GSI and an eventfd bound to
 * it with KVM_IRQFD, and the GSI's MSI route follows the table; signalling
 * writes the eventfd. Without one (unit tests), messages go to
 * board->irqchip->signal_msi().
 *
 * Locking: msix->lock is taken inside the device's own lock and outside
 * pdev->lock.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define HGR_MSIX_MAX_VECTORS 64
#define HGR_MSIX_ENTRY_SIZE  16

typedef struct {
    HgrPciDevice *pdev;
    unsigned nvec;
    unsigned cap;                    /* config offset of the capability */
    const HgrBoard *board;           /* set by hgr_msix_realize */
    GMutex lock;
    bool enabled;                    /* control register, cached */
    bool fmask;
    uint8_t table[HGR_MSIX_MAX_VECTORS * HGR_MSIX_ENTRY_SIZE];
    uint64_t pba;
    /* KVM delivery (irqfd[v] < 0 when not used). */
    int irqfd[HGR_MSIX_MAX_VECTORS];
    unsigned gsi[HGR_MSIX_MAX_VECTORS];
    bool route_known[HGR_MSIX_MAX_VECTORS];     /* route_* were sent to KVM */
    bool route_ok[HGR_MSIX_MAX_VECTORS];        /* and KVM took them */
    uint64_t route_addr[HGR_MSIX_MAX_VECTORS];
    uint32_t route_data[HGR_MSIX_MAX_VECTORS];
} HgrMsix;

/* Constructor time: adds the capability pointing at `bar`. */
bool hgr_msix_init(HgrMsix *msix, HgrPciDevice *pdev, unsigned nvec, unsigned bar,
                   uint32_t table_offset, uint32_t pba_offset);
/* Realize time: per vector a GSI and an irqfd when board->vm_fd >= 0. */
bool hgr_msix_realize(HgrMsix *msix, const HgrBoard *board, GError **error);
void hgr_msix_destroy(HgrMsix *msix);
void hgr_msix_reset(HgrMsix *msix);

void hgr_msix_table_io(HgrMsix *msix, uint64_t offset, uint8_t *data, unsigned len,
                       bool is_write);
void hgr_msix_pba_io(HgrMsix *msix, uint64_t offset, uint8_t *data, unsigned len,
                     bool is_write);
/* From the device's config_write hook: picks up enable/function-mask changes. */
void hgr_msix_config_write(HgrMsix *msix, uint32_t offset, unsigned len);

/* Signals `vector`, or marks it pending while it is masked. */
void hgr_msix_notify(HgrMsix *msix, unsigned vector);
bool hgr_msix_vector_valid(const HgrMsix *msix, uint16_t vector);

typedef struct {
    uint32_t nvec;
    uint8_t table[HGR_MSIX_MAX_VECTORS * HGR_MSIX_ENTRY_SIZE];
    uint64_t pba;
} HgrMsixState;

void hgr_msix_get_state(HgrMsix *msix, HgrMsixState *st);
void hgr_msix_visit_state(HgrVisitor *v, HgrMsixState *st);
bool hgr_msix_check_state(HgrMsix *msix, const HgrMsixState *st, GError **error);
/* Call after the PCI config space is loaded: reads enable and mask from it. */
void hgr_msix_set_state(HgrMsix *msix, const HgrMsixState *st);
