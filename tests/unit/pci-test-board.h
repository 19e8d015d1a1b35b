/* pci-test-board.h — a board with a PCI bus for unit tests: port and MMIO
 * buses, guest RAM, a recording irqchip, no KVM, no I/O thread. */
#pragma once

#include <glib.h>

#include "core/board.h"
#include "core/pc.h"
#include "pci/pci.h"

#define TEST_RAM_SIZE (4u << 20)   /* low RAM has the VGA hole at 640 KiB */
#define TEST_MAX_MSI  64

typedef struct {
    uint64_t addr;
    uint32_t data;
} TestMsi;

typedef struct {
    HgrIoBus pio, mmio;
    HgrGuestMem mem;
    uint8_t *ram;
    HgrIrqChip irqchip;
    TestMsi msi[TEST_MAX_MSI];
    unsigned n_msi;
    HgrBoard board;
    HgrPciBus *bus;
    HgrDevice *host_bridge;
} TestBoard;

static inline void test_board_record_msi(void *opaque, uint64_t addr, uint32_t data)
{
    TestBoard *tb = opaque;
    if (tb->n_msi < TEST_MAX_MSI)
        tb->msi[tb->n_msi] = (TestMsi){ addr, data };
    tb->n_msi++;
}

static inline void test_board_set_line(void *opaque, unsigned gsi, bool level)
{
}

/* ram: NULL for a board of its own, or another board's RAM to share. */
static inline TestBoard *test_board_new(uint8_t *ram)
{
    TestBoard *tb = g_new0(TestBoard, 1);

    tb->ram = ram ? ram : g_malloc0(TEST_RAM_SIZE);
    hgr_mem_init_pc(&tb->mem, tb->ram, TEST_RAM_SIZE);
    tb->irqchip = (HgrIrqChip){ .set_line = test_board_set_line,
                                .signal_msi = test_board_record_msi, .opaque = tb };
    tb->board = (HgrBoard){ .pio = &tb->pio, .mmio = &tb->mmio, .mem = &tb->mem,
                            .irqchip = &tb->irqchip, .vm_fd = -1 };
    tb->bus = hgr_pci_bus_new();
    tb->board.pci = tb->bus;
    g_assert_true(hgr_pci_bus_realize(tb->bus, &tb->board, hgr_mem_top(&tb->mem),
                                        HGR_PCI_MMIO64_SIZE, NULL));
    tb->host_bridge = hgr_pci_host_bridge_new();
    g_assert_true(tb->host_bridge->ops->realize(tb->host_bridge, &tb->board, NULL));
    return tb;
}

static inline void test_board_free(TestBoard *tb, bool free_ram)
{
    hgr_device_free(tb->host_bridge);
    hgr_pci_bus_free(tb->bus);
    hgr_io_bus_clear(&tb->pio);
    hgr_io_bus_clear(&tb->mmio);
    if (free_ram)
        g_free(tb->ram);
    g_free(tb);
}

static inline uint64_t test_io(HgrIoBus *bus, uint64_t addr, unsigned len)
{
    uint8_t d[8];
    hgr_io_bus_dispatch(bus, addr, d, len, false);
    return hgr_io_get(d, len);
}

static inline void test_io_write(HgrIoBus *bus, uint64_t addr, unsigned len, uint64_t v)
{
    uint8_t d[8];
    hgr_io_put(d, len, v);
    hgr_io_bus_dispatch(bus, addr, d, len, true);
}

/* Config space through ECAM, as Linux does with MCFG. */
static inline uint32_t test_cfg_read(TestBoard *tb, unsigned devfn, uint32_t off, unsigned len)
{
    return (uint32_t)test_io(&tb->mmio, HGR_PCI_ECAM_BASE + ((uint64_t)devfn << 12) + off, len);
}

static inline void test_cfg_write(TestBoard *tb, unsigned devfn, uint32_t off, unsigned len,
                                  uint32_t v)
{
    test_io_write(&tb->mmio, HGR_PCI_ECAM_BASE + ((uint64_t)devfn << 12) + off, len, v);
}

/* The same through CONFIG_ADDRESS/CONFIG_DATA. */
static inline uint32_t test_cf8_read(TestBoard *tb, unsigned bus, unsigned devfn, uint32_t off,
                                     unsigned len)
{
    test_io_write(&tb->pio, 0xcf8, 4, 0x80000000u | bus << 16 | devfn << 8 | (off & 0xfc));
    return (uint32_t)test_io(&tb->pio, 0xcfc + (off & 3), len);
}

static inline void test_cf8_write(TestBoard *tb, unsigned devfn, uint32_t off, unsigned len,
                                  uint32_t v)
{
    test_io_write(&tb->pio, 0xcf8, 4, 0x80000000u | devfn << 8 | (off & 0xfc));
    test_io_write(&tb->pio, 0xcfc + (off & 3), len, v);
}

/* Saves dev and returns the section bytes. */
static inline GByteArray *test_save(HgrDevice *dev)
{
    GByteArray *s = g_byte_array_new();
    hgr_device_save(dev, s);
    return s;
}

static inline bool test_load(HgrDevice *dev, GByteArray *s, GError **error)
{
    HgrStateSection sec;
    size_t pos = 0;
    return hgr_state_read_section(s->data, s->len, &pos, &sec, error) &&
           hgr_device_load(dev, &sec, error);
}
