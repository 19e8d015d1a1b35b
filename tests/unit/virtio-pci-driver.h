/* virtio-pci-driver.h — the driver's side of virtio-pci for unit tests:
 * finds the device and its capabilities through config space and brings
 * it up the way Linux's virtio_pci_modern does. */
#pragma once

#include <string.h>

#include "pci-test-board.h"
#include "virtio/virtio-pci.h"
#include "virtio/virtio-rng.h"
#include "virtq-driver.h"

/* Common configuration offsets (virtio 1.x, 4.1.4.3). */
#define CC_DFSELECT   0x00
#define CC_DF         0x04
#define CC_GFSELECT   0x08
#define CC_GF         0x0c
#define CC_MSIX       0x10
#define CC_NUMQ       0x12
#define CC_STATUS     0x14
#define CC_Q_SELECT   0x16
#define CC_Q_SIZE     0x18
#define CC_Q_MSIX     0x1a
#define CC_Q_ENABLE   0x1c
#define CC_Q_NOFF     0x1e
#define CC_Q_DESC     0x20
#define CC_Q_AVAIL    0x28
#define CC_Q_USED     0x30

#define MSIX_ENABLE   0x8000
#define MSIX_FMASK    0x4000
#define MSI_ADDR(v)   (0xfee00000u | (v) << 12)
#define MSI_DATA(v)   (0x30u + (v))

#define RING_GPA      0x10000
#define BUF_GPA       0x20000
#define QSIZE         16

/* What a driver learns from config space. */
typedef struct {
    TestBoard *tb;
    HgrDevice *dev;
    unsigned devfn;
    uint64_t bar;
    uint32_t common, notify, isr, device;
    uint32_t notify_mult;
    unsigned msix_cap, nvec;
    uint32_t msix_table, msix_pba;
    unsigned pci_cfg_cap;
    uint16_t notify_off;
    TestRing ring;
} Drv;

static inline HgrDevice *new_rng(TestBoard *tb)
{
    HgrDevice *dev = hgr_virtio_pci_new("virtio-rng.0", hgr_virtio_rng_new(&tb->mem, NULL));
    g_assert_true(dev->ops->realize(dev, &tb->board, NULL));
    return dev;
}

static inline uint64_t cc_r(Drv *d, uint32_t off, unsigned len)
{
    return test_io(&d->tb->mmio, d->bar + d->common + off, len);
}

static inline void cc_w(Drv *d, uint32_t off, unsigned len, uint64_t v)
{
    test_io_write(&d->tb->mmio, d->bar + d->common + off, len, v);
}

/* 64-bit registers the way Linux writes them: two 32-bit halves. */
static inline void cc_w64(Drv *d, uint32_t off, uint64_t v)
{
    cc_w(d, off, 4, (uint32_t)v);
    cc_w(d, off + 4, 4, v >> 32);
}

static inline uint8_t status(Drv *d)
{
    return (uint8_t)cc_r(d, CC_STATUS, 1);
}

static inline void set_status(Drv *d, uint8_t s)
{
    cc_w(d, CC_STATUS, 1, s);
}

static inline void msix_entry(Drv *d, unsigned v, bool masked)
{
    uint64_t e = d->bar + d->msix_table + 16 * v;
    test_io_write(&d->tb->mmio, e, 4, MSI_ADDR(v));
    test_io_write(&d->tb->mmio, e + 4, 4, 0);
    test_io_write(&d->tb->mmio, e + 8, 4, MSI_DATA(v));
    test_io_write(&d->tb->mmio, e + 12, 4, masked);
}

static inline void msix_control(Drv *d, uint16_t bits)
{
    uint16_t ctl = (uint16_t)test_cfg_read(d->tb, d->devfn, d->msix_cap + 2, 2);
    test_cfg_write(d->tb, d->devfn, d->msix_cap + 2, 2, (ctl & 0x7ff) | bits);
}

static inline uint64_t pba(Drv *d)
{
    return test_io(&d->tb->mmio, d->bar + d->msix_pba, 8);
}

/* Finds the device and reads its capabilities, as vp_modern_probe does. */
static inline void probe(Drv *d, TestBoard *tb)
{
    memset(d, 0, sizeof(*d));
    d->tb = tb;
    for (d->devfn = 0; d->devfn < 256; d->devfn += 8)
        if (test_cfg_read(tb, d->devfn, 0, 4) == 0x10441af4)
            break;
    g_assert_cmpuint(d->devfn, <, 256);
    g_assert_cmpuint(test_cfg_read(tb, d->devfn, PCI_REVISION_ID, 1), >=, 1);
    g_assert_cmphex(test_cfg_read(tb, d->devfn, PCI_CLASS_PROG, 3), ==, 0x00ff00);
    g_assert_cmphex(test_cfg_read(tb, d->devfn, PCI_SUBSYSTEM_VENDOR_ID, 2), ==, 0x1af4);
    g_assert_cmphex(test_cfg_read(tb, d->devfn, PCI_SUBSYSTEM_ID, 2), >=, 0x40);

    unsigned seen = 0, bar = 99;
    for (uint32_t p = test_cfg_read(tb, d->devfn, PCI_CAPABILITY_LIST, 1), n = 0; p && n < 48;
         p = test_cfg_read(tb, d->devfn, p + 1, 1), n++) {
        uint8_t id = (uint8_t)test_cfg_read(tb, d->devfn, p, 1);
        if (id == PCI_CAP_ID_MSIX) {
            d->msix_cap = p;
            d->nvec = (test_cfg_read(tb, d->devfn, p + 2, 2) & 0x7ff) + 1;
            uint32_t t = test_cfg_read(tb, d->devfn, p + 4, 4);
            uint32_t b = test_cfg_read(tb, d->devfn, p + 8, 4);
            g_assert_cmpuint(t & 7, ==, b & 7);
            d->msix_table = t & ~7u;
            d->msix_pba = b & ~7u;
            continue;
        }
        if (id != PCI_CAP_ID_VNDR)
            continue;
        uint8_t type = (uint8_t)test_cfg_read(tb, d->devfn, p + 3, 1);
        uint32_t off = test_cfg_read(tb, d->devfn, p + 8, 4);
        uint32_t len = test_cfg_read(tb, d->devfn, p + 12, 4);
        if (type != VIRTIO_PCI_CAP_PCI_CFG) {
            bar = test_cfg_read(tb, d->devfn, p + 4, 1);
            g_assert_cmpuint(len, >, 0);
        }
        seen |= 1u << type;
        switch (type) {
        case VIRTIO_PCI_CAP_COMMON_CFG: d->common = off; g_assert_cmpuint(len, >=, 0x38); break;
        case VIRTIO_PCI_CAP_NOTIFY_CFG:
            d->notify = off;
            d->notify_mult = test_cfg_read(tb, d->devfn, p + 16, 4);
            break;
        case VIRTIO_PCI_CAP_ISR_CFG: d->isr = off; break;
        case VIRTIO_PCI_CAP_DEVICE_CFG: d->device = off; break;
        case VIRTIO_PCI_CAP_PCI_CFG: d->pci_cfg_cap = p; break;
        }
    }
    g_assert_cmphex(seen, ==, 0x3e);
    g_assert_cmpuint(d->nvec, ==, 2);              /* one queue + config */
    g_assert_cmpuint(d->notify_mult, ==, 4);

    uint32_t lo = test_cfg_read(tb, d->devfn, PCI_BASE_ADDRESS_0 + 4 * bar, 4);
    g_assert_cmphex(lo & 0x6, ==, 0x4);            /* 64-bit memory BAR */
    d->bar = (lo & ~0xfu) | (uint64_t)test_cfg_read(tb, d->devfn, 0x14 + 4 * bar, 4) << 32;
    test_cfg_write(tb, d->devfn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/* Reset, acknowledge, negotiate; true if the device took FEATURES_OK. */
static inline bool negotiate(Drv *d, uint64_t features)
{
    set_status(d, 0);
    g_assert_cmpuint(status(d), ==, 0);
    set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
    set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    cc_w(d, CC_DFSELECT, 4, 1);
    g_assert_true(cc_r(d, CC_DF, 4) & 1);          /* VIRTIO_F_VERSION_1 */
    cc_w(d, CC_GFSELECT, 4, 0);
    cc_w(d, CC_GF, 4, (uint32_t)features);
    cc_w(d, CC_GFSELECT, 4, 1);
    cc_w(d, CC_GF, 4, features >> 32);
    set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    return status(d) & VIRTIO_STATUS_FEATURES_OK;
}

static inline void setup_msix(Drv *d)
{
    msix_control(d, MSIX_ENABLE | MSIX_FMASK);
    msix_entry(d, 0, false);
    msix_entry(d, 1, false);
    msix_control(d, MSIX_ENABLE);
    cc_w(d, CC_MSIX, 2, 0);
    g_assert_cmpuint(cc_r(d, CC_MSIX, 2), ==, 0);
}

/* Queue 0 of `size` with vector 1; returns queue_enable as read back. */
static inline bool setup_queue(Drv *d, uint16_t size)
{
    test_ring_init(&d->ring, &d->tb->mem, RING_GPA, size && size <= 256 ? size : 16);
    cc_w(d, CC_Q_SELECT, 2, 0);
    g_assert_cmpuint(cc_r(d, CC_Q_SIZE, 2), ==, 64);
    cc_w(d, CC_Q_SIZE, 2, size);
    cc_w(d, CC_Q_MSIX, 2, 1);
    g_assert_cmpuint(cc_r(d, CC_Q_MSIX, 2), ==, 1);
    cc_w64(d, CC_Q_DESC, d->ring.desc);
    cc_w64(d, CC_Q_AVAIL, d->ring.avail);
    cc_w64(d, CC_Q_USED, d->ring.used);
    d->notify_off = (uint16_t)cc_r(d, CC_Q_NOFF, 2);
    cc_w(d, CC_Q_ENABLE, 2, 1);
    return cc_r(d, CC_Q_ENABLE, 2) == 1;
}

static inline void driver_ok(Drv *d)
{
    set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

static inline void bring_up(Drv *d, TestBoard *tb)
{
    probe(d, tb);
    g_assert_true(negotiate(d, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_RING_F_EVENT_IDX));
    setup_msix(d);
    g_assert_true(setup_queue(d, QSIZE));
    driver_ok(d);
    g_assert_cmpuint(status(d), ==, 0xf);
}

static inline void kick(Drv *d, uint16_t q)
{
    test_io_write(&d->tb->mmio, d->bar + d->notify + (uint64_t)d->notify_off * d->notify_mult,
                  2, q);
}

/* Offers one 64-byte writable buffer at descriptor `slot` and kicks. */
static inline void request(Drv *d, uint16_t slot)
{
    memset(d->tb->ram + BUF_GPA + 64 * slot, 0, 64);
    test_ring_desc(&d->ring, slot, BUF_GPA + 64 * slot, 64, VRING_DESC_F_WRITE, 0);
    test_ring_publish(&d->ring, slot);
    /* Interrupt me for this one (virtqueue_enable_cb with event idx). */
    test_ring_set_used_event(&d->ring, test_ring_used_idx(&d->ring));
    kick(d, 0);
}

static inline bool buffer_filled(Drv *d, uint16_t slot)
{
    static const uint8_t zero[64];
    return memcmp(d->tb->ram + BUF_GPA + 64 * slot, zero, 64) != 0;
}
