/* pci.h — PCI bus 0: config space with write masks, capabilities, BARs.
 *
 * A PCI device embeds HgrPciDevice (which embeds HgrDevice first), fills
 * its config space and BARs in its constructor, and joins the bus from
 * realize() with hgr_pci_bus_add_device(). The bus answers CONFIG_ADDRESS/
 * CONFIG_DATA and ECAM, and owns whole BAR windows on the I/O buses: an
 * access is routed to the BAR that decodes the address at that moment, so
 * the guest may move BARs at run time.
 *
 * Locking: each device's config space and BARs are guarded by pdev->lock, a
 * leaf lock. Device handlers (BAR accesses, hooks) are always called with no
 * PCI lock held, so they may take their own locks and call back in here.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/board.h"
#include "../core/device.h"
#include "../core/io-bus.h"
#include "../core/state.h"

#define HGR_PCI_CONFIG_SIZE    4096
#define HGR_PCI_NUM_BARS       6
#define HGR_PCI_MAX_SLOTS      32
#define HGR_PCI_BAR_UNMAPPED   UINT64_MAX

/* I/O port window for I/O BARs (not in core/pc.h: only PCI uses it). */
#define HGR_PCI_IO_BASE        0xc000
#define HGR_PCI_IO_SIZE        0x4000

/* Config space offsets and bits used outside pci.c. */
#define PCI_VENDOR_ID          0x00
#define PCI_DEVICE_ID          0x02
#define PCI_COMMAND            0x04
#define PCI_COMMAND_IO         0x1
#define PCI_COMMAND_MEMORY     0x2
#define PCI_COMMAND_MASTER     0x4
#define PCI_STATUS             0x06
#define PCI_STATUS_CAP_LIST    0x10
#define PCI_REVISION_ID        0x08
#define PCI_CLASS_PROG         0x09
#define PCI_HEADER_TYPE        0x0e
#define PCI_BASE_ADDRESS_0     0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID       0x2e
#define PCI_CAPABILITY_LIST    0x34
#define PCI_INTERRUPT_LINE     0x3c
#define PCI_CAP_ID_VNDR        0x09
#define PCI_CAP_ID_MSIX        0x11

typedef struct HgrPciBus HgrPciBus;
typedef struct HgrPciDevice HgrPciDevice;

typedef enum {
    HGR_PCI_BAR_NONE,
    HGR_PCI_BAR_IO,
    HGR_PCI_BAR_MEM32,
    HGR_PCI_BAR_MEM64,       /* takes this BAR and the next one */
} HgrPciBarType;

typedef struct {
    HgrPciBarType type;
    uint64_t size;           /* a power of two */
    HgrIoFn fn;              /* gets the offset inside the BAR */
    void *opaque;
} HgrPciBar;

/* Device hooks, all optional, all called with no PCI lock held. */
typedef struct {
    /* A config read of [offset, offset+len) was served from config space
     * into data; the device may replace what it returns. */
    void (*config_read)(HgrPciDevice *pdev, uint32_t offset, uint8_t *data, unsigned len);
    /* A config write was applied (through the write masks). */
    void (*config_write)(HgrPciDevice *pdev, uint32_t offset, const uint8_t *data,
                         unsigned len);
    /* Where BAR `bar` decodes changed (moved, decode switched on or off):
     * hgr_pci_bar_address() tells the new place. */
    void (*bar_moved)(HgrPciDevice *pdev, unsigned bar);
} HgrPciHooks;

struct HgrPciDevice {
    HgrDevice dev;                          /* first: HgrDevice * casts to this */
    HgrPciBus *bus;                         /* set by hgr_pci_bus_add_device */
    unsigned slot;
    const HgrPciHooks *hooks;
    GMutex lock;
    uint8_t config[HGR_PCI_CONFIG_SIZE];
    uint8_t wmask[HGR_PCI_CONFIG_SIZE];     /* bits the guest may write */
    uint8_t w1cmask[HGR_PCI_CONFIG_SIZE];   /* bits the guest clears by writing 1 */
    uint8_t power_on[HGR_PCI_CONFIG_SIZE];  /* config after BAR assignment */
    uint8_t cap_end;                        /* next free byte for a capability */
    HgrPciBar bars[HGR_PCI_NUM_BARS];
};

/* The bus (the machine calls these). */
HgrPciBus *hgr_pci_bus_new(void);
void hgr_pci_bus_free(HgrPciBus *bus);
/* Registers CONFIG_ADDRESS (0xcf8, 1 byte: 0xcf9 is the reset register) and
 * CONFIG_DATA (0xcfc) on board->pio, ECAM at HGR_PCI_ECAM_BASE and the BAR
 * windows on board->mmio/pio. Call before realizing PCI devices. */
bool hgr_pci_bus_realize(HgrPciBus *bus, HgrBoard *board, uint64_t mmio64_base,
                         uint64_t mmio64_size, GError **error);
/* Config access as the guest sees it (tests; the bus handlers use these). */
void hgr_pci_bus_config_read(HgrPciBus *bus, unsigned devfn, uint32_t offset, uint8_t *data,
                             unsigned len);
void hgr_pci_bus_config_write(HgrPciBus *bus, unsigned devfn, uint32_t offset,
                              const uint8_t *data, unsigned len);

/* Building a device (constructor time, before it joins the bus). */
void hgr_pci_device_init(HgrPciDevice *pdev, const HgrDeviceOps *ops, const char *id,
                         uint16_t vendor, uint16_t device, uint32_t class_code,
                         uint8_t revision);
void hgr_pci_device_finalize(HgrPciDevice *pdev);     /* leaves the bus, from destroy */
void hgr_pci_set_subsystem(HgrPciDevice *pdev, uint16_t vendor, uint16_t id);
void hgr_pci_init_bar(HgrPciDevice *pdev, unsigned bar, HgrPciBarType type, uint64_t size,
                      HgrIoFn fn, void *opaque);
/* Appends a capability of `size` bytes to the list; returns its offset, or 0
 * when the standard config space is full. The device fills the body and
 * the write masks of its fields. */
unsigned hgr_pci_add_capability(HgrPciDevice *pdev, uint8_t id, unsigned size);
/* Raw little-endian access for the device itself (no masks, no hooks). */
void hgr_pci_config_set(HgrPciDevice *pdev, uint32_t offset, unsigned len, uint32_t value);
uint32_t hgr_pci_config_get(HgrPciDevice *pdev, uint32_t offset, unsigned len);
void hgr_pci_set_wmask(HgrPciDevice *pdev, uint32_t offset, unsigned len, uint32_t mask);

/* Joins the bus at `slot` (-1: the next free one) and gives every BAR an
 * address in its window. */
bool hgr_pci_bus_add_device(HgrPciBus *bus, HgrPciDevice *pdev, int slot, GError **error);

/* Where the BAR decodes now, or HGR_PCI_BAR_UNMAPPED. */
uint64_t hgr_pci_bar_address(HgrPciDevice *pdev, unsigned bar);

/* Config space back to power-on; BARs keep their assigned addresses. */
void hgr_pci_device_reset(HgrPciDevice *pdev);

/* Saved config space, shared by every PCI device's state. */
typedef struct {
    uint8_t config[HGR_PCI_CONFIG_SIZE];
} HgrPciState;

void hgr_pci_get_state(HgrPciDevice *pdev, HgrPciState *st);
void hgr_pci_visit_state(HgrVisitor *v, HgrPciState *st);
/* Rejects a config space whose read-only bits differ from the live device's
 * (another device, another layout). */
bool hgr_pci_check_state(HgrPciDevice *pdev, const HgrPciState *st, GError **error);
void hgr_pci_set_state(HgrPciDevice *pdev, const HgrPciState *st);

/* HgrDeviceOps entries for a device whose whole state is its config space
 * (state_size = sizeof(HgrPciState)). */
void hgr_pci_config_only_get_state(HgrDevice *dev, void *state);
void hgr_pci_config_only_visit_state(HgrVisitor *v, void *state);
bool hgr_pci_config_only_check_state(HgrDevice *dev, const void *state, GError **error);
void hgr_pci_config_only_set_state(HgrDevice *dev, const void *state);

/* The host bridge (pci-host.c): slot 0. */
HgrDevice *hgr_pci_host_bridge_new(void);
/* The ICH9 LPC bridge (ich9-lpc.c): 00:1f.0, where firmware finds the ACPI
 * PM registers. */
HgrDevice *hgr_pci_lpc_new(void);
