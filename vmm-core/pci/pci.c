/* pci.c — bus 0: config space (CF8/CFC and ECAM), write masks, capabilities,
 * BAR assignment and run-time BAR dispatch. */
#include "pci.h"

#include <hangar/vm.h>
#include <string.h>

#include "../core/pc.h"

#define CONFIG_ADDRESS_ENABLE 0x80000000u
#define PCI_CACHE_LINE_SIZE   0x0c
#define PCI_LATENCY_TIMER     0x0d
#define PCI_STATUS_W1C        0xf900
#define PCI_COMMAND_WRITABLE  0x0547   /* IO, MEMORY, MASTER, PARITY, SERR, INTX_DISABLE */
#define PCI_STD_CONFIG_SIZE   256
#define PCI_CAP_START         0x40

typedef struct {
    HgrPciBus *bus;
    uint64_t base;
    uint64_t size;
    uint64_t next;           /* bump allocator for power-on assignment */
    bool is_io;
} PciWindow;

enum { WIN_IO, WIN_MMIO32, WIN_MMIO64, N_WINDOWS };

struct HgrPciBus {
    HgrPciDevice *slots[HGR_PCI_MAX_SLOTS];
    PciWindow windows[N_WINDOWS];
    bool realized;
    uint32_t config_address;         /* CF8 latch, accessed atomically */
};

HgrPciBus *hgr_pci_bus_new(void)
{
    return g_new0(HgrPciBus, 1);
}

void hgr_pci_bus_free(HgrPciBus *bus)
{
    if (!bus)
        return;
    for (unsigned s = 0; s < HGR_PCI_MAX_SLOTS; s++)
        if (bus->slots[s])
            bus->slots[s]->bus = NULL;
    g_free(bus);
}

/* Config space bytes, little-endian, no locking (callers hold pdev->lock or
 * own the device before it joins a bus). */
static uint32_t cfg_get(const HgrPciDevice *pdev, uint32_t off, unsigned len)
{
    return (uint32_t)hgr_io_get(pdev->config + off, len);
}

static void bytes_put(uint8_t *p, unsigned len, uint32_t v)
{
    hgr_io_put(p, len, v);
}

static const PciWindow *window_for(const HgrPciBus *bus, HgrPciBarType type, uint64_t addr,
                                   uint64_t size)
{
    for (unsigned w = 0; w < N_WINDOWS; w++) {
        const PciWindow *win = &bus->windows[w];
        if (win->is_io != (type == HGR_PCI_BAR_IO) || !win->size)
            continue;
        if (addr >= win->base && addr - win->base < win->size &&
            size <= win->size - (addr - win->base))
            return win;
    }
    return NULL;
}

/* Where BAR i decodes: its register, if decode is on and the whole BAR
 * lies inside a window of its kind. pdev->lock held. */
static uint64_t bar_addr_locked(const HgrPciDevice *pdev, unsigned i)
{
    const HgrPciBar *b = &pdev->bars[i];
    uint16_t cmd = (uint16_t)cfg_get(pdev, PCI_COMMAND, 2);
    uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;
    uint64_t addr;

    switch (b->type) {
    case HGR_PCI_BAR_IO:
        if (!(cmd & PCI_COMMAND_IO))
            return HGR_PCI_BAR_UNMAPPED;
        addr = cfg_get(pdev, reg, 4) & ~3u;
        break;
    case HGR_PCI_BAR_MEM32:
        if (!(cmd & PCI_COMMAND_MEMORY))
            return HGR_PCI_BAR_UNMAPPED;
        addr = cfg_get(pdev, reg, 4) & ~0xfu;
        break;
    case HGR_PCI_BAR_MEM64:
        if (!(cmd & PCI_COMMAND_MEMORY))
            return HGR_PCI_BAR_UNMAPPED;
        addr = (cfg_get(pdev, reg, 4) & ~0xfu) | (uint64_t)cfg_get(pdev, reg + 4, 4) << 32;
        break;
    default:
        return HGR_PCI_BAR_UNMAPPED;
    }
    if (!pdev->bus || !window_for(pdev->bus, b->type, addr, b->size))
        return HGR_PCI_BAR_UNMAPPED;
    return addr;
}

static void bar_addrs_locked(const HgrPciDevice *pdev, uint64_t addrs[HGR_PCI_NUM_BARS])
{
    for (unsigned i = 0; i < HGR_PCI_NUM_BARS; i++)
        addrs[i] = bar_addr_locked(pdev, i);
}

uint64_t hgr_pci_bar_address(HgrPciDevice *pdev, unsigned bar)
{
    if (bar >= HGR_PCI_NUM_BARS)
        return HGR_PCI_BAR_UNMAPPED;
    g_mutex_lock(&pdev->lock);
    uint64_t addr = bar_addr_locked(pdev, bar);
    g_mutex_unlock(&pdev->lock);
    return addr;
}

static void notify_moved(HgrPciDevice *pdev, const uint64_t before[HGR_PCI_NUM_BARS],
                         const uint64_t after[HGR_PCI_NUM_BARS])
{
    if (!pdev->hooks || !pdev->hooks->bar_moved)
        return;
    for (unsigned i = 0; i < HGR_PCI_NUM_BARS; i++)
        if (before[i] != after[i])
            pdev->hooks->bar_moved(pdev, i);
}

/* Replaces the whole config space (reset, load) and tells the device which
 * BARs moved. */
static void replace_config(HgrPciDevice *pdev, const uint8_t *config)
{
    uint64_t before[HGR_PCI_NUM_BARS], after[HGR_PCI_NUM_BARS];

    g_mutex_lock(&pdev->lock);
    bar_addrs_locked(pdev, before);
    memcpy(pdev->config, config, HGR_PCI_CONFIG_SIZE);
    bar_addrs_locked(pdev, after);
    g_mutex_unlock(&pdev->lock);
    notify_moved(pdev, before, after);
}

/* Building a device */

void hgr_pci_device_init(HgrPciDevice *pdev, const HgrDeviceOps *ops, const char *id,
                         uint16_t vendor, uint16_t device, uint32_t class_code,
                         uint8_t revision)
{
    hgr_device_init(&pdev->dev, ops, id);
    g_mutex_init(&pdev->lock);
    hgr_pci_config_set(pdev, PCI_VENDOR_ID, 2, vendor);
    hgr_pci_config_set(pdev, PCI_DEVICE_ID, 2, device);
    hgr_pci_config_set(pdev, PCI_REVISION_ID, 1, revision);
    hgr_pci_config_set(pdev, PCI_CLASS_PROG, 3, class_code);
    hgr_pci_set_wmask(pdev, PCI_COMMAND, 2, PCI_COMMAND_WRITABLE);
    bytes_put(pdev->w1cmask + PCI_STATUS, 2, PCI_STATUS_W1C);
    hgr_pci_set_wmask(pdev, PCI_CACHE_LINE_SIZE, 1, 0xff);
    hgr_pci_set_wmask(pdev, PCI_LATENCY_TIMER, 1, 0xff);
    hgr_pci_set_wmask(pdev, PCI_INTERRUPT_LINE, 1, 0xff);
    pdev->cap_end = PCI_CAP_START;
}

void hgr_pci_device_finalize(HgrPciDevice *pdev)
{
    if (pdev->bus)
        pdev->bus->slots[pdev->slot] = NULL;
    pdev->bus = NULL;
    g_mutex_clear(&pdev->lock);
}

void hgr_pci_set_subsystem(HgrPciDevice *pdev, uint16_t vendor, uint16_t id)
{
    hgr_pci_config_set(pdev, PCI_SUBSYSTEM_VENDOR_ID, 2, vendor);
    hgr_pci_config_set(pdev, PCI_SUBSYSTEM_ID, 2, id);
}

void hgr_pci_config_set(HgrPciDevice *pdev, uint32_t offset, unsigned len, uint32_t value)
{
    g_return_if_fail(len <= 4 && offset + len <= HGR_PCI_CONFIG_SIZE);
    bytes_put(pdev->config + offset, len, value);
}

uint32_t hgr_pci_config_get(HgrPciDevice *pdev, uint32_t offset, unsigned len)
{
    g_return_val_if_fail(len <= 4 && offset + len <= HGR_PCI_CONFIG_SIZE, 0);
    g_mutex_lock(&pdev->lock);
    uint32_t v = cfg_get(pdev, offset, len);
    g_mutex_unlock(&pdev->lock);
    return v;
}

void hgr_pci_set_wmask(HgrPciDevice *pdev, uint32_t offset, unsigned len, uint32_t mask)
{
    g_return_if_fail(len <= 4 && offset + len <= HGR_PCI_CONFIG_SIZE);
    bytes_put(pdev->wmask + offset, len, mask);
}

void hgr_pci_init_bar(HgrPciDevice *pdev, unsigned bar, HgrPciBarType type, uint64_t size,
                      HgrIoFn fn, void *opaque)
{
    /* Programming errors, not guest input. */
    g_return_if_fail(bar < HGR_PCI_NUM_BARS && size >= 16 && (size & (size - 1)) == 0);
    g_return_if_fail(type != HGR_PCI_BAR_MEM64 || bar + 1 < HGR_PCI_NUM_BARS);

    uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * bar;
    uint64_t mask = ~(size - 1);
    pdev->bars[bar] = (HgrPciBar){ .type = type, .size = size, .fn = fn, .opaque = opaque };
    switch (type) {
    case HGR_PCI_BAR_IO:
        hgr_pci_config_set(pdev, reg, 4, 0x1);
        hgr_pci_set_wmask(pdev, reg, 4, (uint32_t)mask & ~3u);
        break;
    case HGR_PCI_BAR_MEM32:
        hgr_pci_config_set(pdev, reg, 4, 0x0);
        hgr_pci_set_wmask(pdev, reg, 4, (uint32_t)mask & ~0xfu);
        break;
    case HGR_PCI_BAR_MEM64:
        hgr_pci_config_set(pdev, reg, 4, 0x4);
        hgr_pci_set_wmask(pdev, reg, 4, (uint32_t)mask & ~0xfu);
        hgr_pci_set_wmask(pdev, reg + 4, 4, (uint32_t)(mask >> 32));
        break;
    default:
        break;
    }
}

unsigned hgr_pci_add_capability(HgrPciDevice *pdev, uint8_t id, unsigned size)
{
    unsigned off = (pdev->cap_end + 3u) & ~3u;

    if (size < 2 || off + size > PCI_STD_CONFIG_SIZE)
        return 0;
    if (!pdev->config[PCI_CAPABILITY_LIST]) {
        pdev->config[PCI_CAPABILITY_LIST] = (uint8_t)off;
    } else {
        unsigned last = pdev->config[PCI_CAPABILITY_LIST];
        while (pdev->config[last + 1])
            last = pdev->config[last + 1];
        pdev->config[last + 1] = (uint8_t)off;
    }
    pdev->config[off] = id;
    pdev->config[off + 1] = 0;
    pdev->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    pdev->cap_end = (uint8_t)MIN(off + size, 0xffu);
    return off;
}

/* Guest config access */

static HgrPciDevice *find_device(HgrPciBus *bus, unsigned devfn)
{
    if (devfn >= 256 || (devfn & 7))      /* function 0 only */
        return NULL;
    return bus->slots[devfn >> 3];
}

void hgr_pci_bus_config_read(HgrPciBus *bus, unsigned devfn, uint32_t offset, uint8_t *data,
                             unsigned len)
{
    HgrPciDevice *pdev = find_device(bus, devfn);

    if (!pdev || offset >= HGR_PCI_CONFIG_SIZE || len > HGR_PCI_CONFIG_SIZE - offset) {
        memset(data, 0xff, len);
        return;
    }
    g_mutex_lock(&pdev->lock);
    memcpy(data, pdev->config + offset, len);
    g_mutex_unlock(&pdev->lock);
    if (pdev->hooks && pdev->hooks->config_read)
        pdev->hooks->config_read(pdev, offset, data, len);
}

void hgr_pci_bus_config_write(HgrPciBus *bus, unsigned devfn, uint32_t offset,
                              const uint8_t *data, unsigned len)
{
    HgrPciDevice *pdev = find_device(bus, devfn);
    uint64_t before[HGR_PCI_NUM_BARS], after[HGR_PCI_NUM_BARS];

    if (!pdev || offset >= HGR_PCI_CONFIG_SIZE || len > HGR_PCI_CONFIG_SIZE - offset)
        return;
    g_mutex_lock(&pdev->lock);
    bar_addrs_locked(pdev, before);
    for (unsigned i = 0; i < len; i++) {
        uint32_t o = offset + i;
        uint8_t v = (pdev->config[o] & ~pdev->wmask[o]) | (data[i] & pdev->wmask[o]);
        pdev->config[o] = v & ~(data[i] & pdev->w1cmask[o]);
    }
    bar_addrs_locked(pdev, after);
    g_mutex_unlock(&pdev->lock);
    if (pdev->hooks && pdev->hooks->config_write)
        pdev->hooks->config_write(pdev, offset, data, len);
    notify_moved(pdev, before, after);
}

/* CONFIG_ADDRESS at 0xcf8: only whole-dword accesses reach the latch (byte
 * accesses are the legacy type-2 probe Linux does; they must not). */
static void config_address_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
                              bool is_write)
{
    HgrPciBus *bus = opaque;

    if (len != 4) {
        if (!is_write)
            memset(data, 0xff, len);
        return;
    }
    if (is_write)
        g_atomic_int_set((gint *)&bus->config_address, (gint)(hgr_io_get(data, 4) & ~3u));
    else
        hgr_io_put(data, 4, (uint32_t)g_atomic_int_get((gint *)&bus->config_address));
}

static void config_data_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
                           bool is_write)
{
    HgrPciBus *bus = opaque;
    uint32_t addr = (uint32_t)g_atomic_int_get((gint *)&bus->config_address);
    unsigned n = (unsigned)MIN((uint64_t)len, 4 - offset);

    if (!is_write)
        memset(data, 0xff, len);
    if (!(addr & CONFIG_ADDRESS_ENABLE) || ((addr >> 16) & 0xff) != 0)
        return;
    unsigned devfn = (addr >> 8) & 0xff;
    uint32_t reg = (addr & 0xfc) + (uint32_t)offset;
    if (is_write)
        hgr_pci_bus_config_write(bus, devfn, reg, data, n);
    else
        hgr_pci_bus_config_read(bus, devfn, reg, data, n);
}

static void ecam_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
    HgrPciBus *bus = opaque;
    unsigned devfn = (offset >> 12) & 0xff;
    uint32_t reg = offset & 0xfff;

    if (offset >> 20) {               /* only bus 0 is populated */
        if (!is_write)
            memset(data, 0xff, len);
        return;
    }
    if (is_write)
        hgr_pci_bus_config_write(bus, devfn, reg, data, len);
    else
        hgr_pci_bus_config_read(bus, devfn, reg, data, len);
}

/* A BAR window: find the BAR decoding the address now, then call its
 * handler outside the lock. */
static void window_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
                      bool is_write)
{
    PciWindow *win = opaque;
    uint64_t addr = win->base + offset;

    for (unsigned s = 0; s < HGR_PCI_MAX_SLOTS; s++) {
        HgrPciDevice *pdev = win->bus->slots[s];
        if (!pdev)
            continue;
        HgrIoFn fn = NULL;
        void *fn_opaque = NULL;
        uint64_t bar_off = 0;
        g_mutex_lock(&pdev->lock);
        for (unsigned i = 0; i < HGR_PCI_NUM_BARS && !fn; i++) {
            const HgrPciBar *b = &pdev->bars[i];
            if (b->type == HGR_PCI_BAR_NONE || (b->type == HGR_PCI_BAR_IO) != win->is_io)
                continue;
            uint64_t base = bar_addr_locked(pdev, i);
            if (base != HGR_PCI_BAR_UNMAPPED && addr >= base && addr - base < b->size &&
                len <= b->size - (addr - base)) {
                fn = b->fn;
                fn_opaque = b->opaque;
                bar_off = addr - base;
            }
        }
        g_mutex_unlock(&pdev->lock);
        if (fn) {
            fn(fn_opaque, bar_off, data, len, is_write);
            return;
        }
    }
    if (!is_write)
        memset(data, 0xff, len);
}

bool hgr_pci_bus_realize(HgrPciBus *bus, HgrBoard *board, uint64_t mmio64_base,
                         uint64_t mmio64_size, GError **error)
{
    bus->windows[WIN_IO] = (PciWindow){ bus, HGR_PCI_IO_BASE, HGR_PCI_IO_SIZE,
                                        HGR_PCI_IO_BASE, true };
    bus->windows[WIN_MMIO32] = (PciWindow){ bus, HGR_PCI_MMIO_BASE, HGR_PCI_MMIO_SIZE,
                                            HGR_PCI_MMIO_BASE, false };
    bus->windows[WIN_MMIO64] = (PciWindow){ bus, mmio64_base, mmio64_size, mmio64_base, false };
    const struct {
        HgrIoBus *io;
        uint64_t base, size;
        HgrIoFn fn;
        void *opaque;
        const char *name;
    } ranges[] = {
        { board->pio, HGR_PC_PCI_CONFIG_PORT, 1, config_address_io, bus, "pci-config-address" },
        { board->pio, HGR_PC_PCI_CONFIG_PORT + 4, 4, config_data_io, bus, "pci-config-data" },
        { board->mmio, HGR_PCI_ECAM_BASE, HGR_PCI_ECAM_SIZE, ecam_io, bus, "pci-ecam" },
        { board->pio, HGR_PCI_IO_BASE, HGR_PCI_IO_SIZE, window_io, &bus->windows[WIN_IO],
          "pci-io" },
        { board->mmio, HGR_PCI_MMIO_BASE, HGR_PCI_MMIO_SIZE, window_io,
          &bus->windows[WIN_MMIO32], "pci-mmio32" },
        { board->mmio, mmio64_base, mmio64_size, window_io,
          &bus->windows[WIN_MMIO64], "pci-mmio64" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ranges); i++) {
        if (!hgr_io_bus_register(ranges[i].io, ranges[i].base, ranges[i].size, ranges[i].fn,
                                 ranges[i].opaque, ranges[i].name)) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                        "PCI: %s at 0x%" G_GINT64_MODIFIER "x overlaps another device",
                        ranges[i].name, ranges[i].base);
            return false;
        }
    }
    bus->realized = true;
    return true;
}

static bool assign_bars(HgrPciBus *bus, HgrPciDevice *pdev, GError **error)
{
    for (unsigned i = 0; i < HGR_PCI_NUM_BARS; i++) {
        HgrPciBar *b = &pdev->bars[i];
        PciWindow *win;
        switch (b->type) {
        case HGR_PCI_BAR_IO:    win = &bus->windows[WIN_IO]; break;
        case HGR_PCI_BAR_MEM32: win = &bus->windows[WIN_MMIO32]; break;
        case HGR_PCI_BAR_MEM64: win = &bus->windows[WIN_MMIO64]; break;
        default: continue;
        }
        uint64_t addr = (win->next + b->size - 1) & ~(b->size - 1);
        if (addr < win->base || addr - win->base > win->size ||
            b->size > win->size - (addr - win->base)) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                        "PCI: no room for BAR %u of %s", i, pdev->dev.id);
            return false;
        }
        win->next = addr + b->size;
        uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;
        hgr_pci_config_set(pdev, reg, 4, (uint32_t)addr | (cfg_get(pdev, reg, 4) & 0xf));
        if (b->type == HGR_PCI_BAR_MEM64)
            hgr_pci_config_set(pdev, reg + 4, 4, (uint32_t)(addr >> 32));
    }
    return true;
}

bool hgr_pci_bus_add_device(HgrPciBus *bus, HgrPciDevice *pdev, int slot, GError **error)
{
    if (!bus || !bus->realized) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: the board has no realized PCI bus", pdev->dev.id);
        return false;
    }
    if (slot < 0) {
        for (slot = 0; slot < HGR_PCI_MAX_SLOTS && bus->slots[slot]; slot++)
            ;
    }
    if (slot >= HGR_PCI_MAX_SLOTS || bus->slots[slot]) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: no free PCI slot", pdev->dev.id);
        return false;
    }
    if (!assign_bars(bus, pdev, error))
        return false;
    memcpy(pdev->power_on, pdev->config, HGR_PCI_CONFIG_SIZE);
    pdev->slot = (unsigned)slot;
    pdev->bus = bus;
    bus->slots[slot] = pdev;
    return true;
}

void hgr_pci_device_reset(HgrPciDevice *pdev)
{
    replace_config(pdev, pdev->power_on);
}

/* Saved state */

void hgr_pci_get_state(HgrPciDevice *pdev, HgrPciState *st)
{
    g_mutex_lock(&pdev->lock);
    memcpy(st->config, pdev->config, HGR_PCI_CONFIG_SIZE);
    g_mutex_unlock(&pdev->lock);
}

void hgr_pci_visit_state(HgrVisitor *v, HgrPciState *st)
{
    hgr_visit_bytes(v, st->config, HGR_PCI_CONFIG_SIZE);
}

bool hgr_pci_check_state(HgrPciDevice *pdev, const HgrPciState *st, GError **error)
{
    bool ok = true;
    unsigned bad = 0;

    g_mutex_lock(&pdev->lock);
    for (unsigned i = 0; i < HGR_PCI_CONFIG_SIZE && ok; i++) {
        uint8_t ro = (uint8_t)~(pdev->wmask[i] | pdev->w1cmask[i]);
        if ((st->config[i] ^ pdev->config[i]) & ro) {
            ok = false;
            bad = i;
        }
    }
    g_mutex_unlock(&pdev->lock);
    if (!ok)
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "%s: saved PCI config differs from this device at read-only offset 0x%x",
                    pdev->dev.id, bad);
    return ok;
}

void hgr_pci_set_state(HgrPciDevice *pdev, const HgrPciState *st)
{
    replace_config(pdev, st->config);
}

void hgr_pci_config_only_get_state(HgrDevice *dev, void *state)
{
    hgr_pci_get_state((HgrPciDevice *)dev, state);
}

void hgr_pci_config_only_visit_state(HgrVisitor *v, void *state)
{
    hgr_pci_visit_state(v, state);
}

bool hgr_pci_config_only_check_state(HgrDevice *dev, const void *state, GError **error)
{
    return hgr_pci_check_state((HgrPciDevice *)dev, state, error);
}

void hgr_pci_config_only_set_state(HgrDevice *dev, const void *state)
{
    hgr_pci_set_state((HgrPciDevice *)dev, state);
}
