/* virtio-rng.c — a 64-bit guest that drives virtio-rng the way Linux's
 * virtio_pci_modern does: find the device on PCI, walk its capabilities,
 * negotiate VERSION_1, set up queue 0, kick it, and print what comes back.
 * It also moves the BAR, so the VMM must follow the guest's programming. */
#include "guest-lib.h"

#define RAM_QUEUE 0x200000
#define NEW_BAR   0xc8000000u

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };

static void fail(const char *why)
{
    puts("virtio-rng: FAIL ");
    puts(why);
    putc('\n');
    poweroff();
}

__attribute__((section(".text.entry"))) void _start(void)
{
    unsigned dev;
    for (dev = 0; dev < 32; dev++)
        if (pci_read(dev, 0) == 0x10441af4)
            break;
    if (dev == 32)
        fail("no device 1af4:1044 on bus 0");

    /* Move BAR 0 (64-bit) to an address of our choosing below 4 GiB. */
    pci_write(dev, 0x04, 0);                       /* decode off while moving */
    pci_write(dev, 0x10, NEW_BAR);
    pci_write(dev, 0x14, 0);
    pci_write(dev, 0x04, 0x6);                     /* memory decode + bus master */
    if ((pci_read(dev, 0x10) & ~0xfu) != NEW_BAR)
        fail("BAR 0 did not take the new address");

    uint64_t common = 0, notify = 0, device_cfg = 0;
    uint32_t mult = 0;
    unsigned cap = pci_read(dev, 0x34) & 0xff, guard = 0;
    while (cap && guard++ < 48) {
        uint32_t hdr = pci_read(dev, cap);
        if ((hdr & 0xff) == 0x09) {
            unsigned type = (hdr >> 24) & 0xff, bar = pci_read(dev, cap + 4) & 0xff;
            uint32_t off = pci_read(dev, cap + 8);
            uint64_t base = (uint64_t)(pci_read(dev, 0x10 + 4 * bar) & ~0xfu);
            if (type == 1) common = base + off;
            if (type == 2) { notify = base + off; mult = pci_read(dev, cap + 16); }
            if (type == 4) device_cfg = base + off;
        }
        cap = (hdr >> 8) & 0xff;
    }
    (void)device_cfg;
    if (!common || !notify)
        fail("common or notify capability missing");

    MMIO(uint8_t, common + 0x14) = 0;              /* reset */
    MMIO(uint8_t, common + 0x14) = 1 | 2;          /* ACKNOWLEDGE | DRIVER */
    MMIO(uint32_t, common + 0x08) = 1;
    MMIO(uint32_t, common + 0x0c) = 1;             /* VERSION_1 (bit 32) */
    MMIO(uint32_t, common + 0x08) = 0;
    MMIO(uint32_t, common + 0x0c) = 0;
    MMIO(uint8_t, common + 0x14) = 1 | 2 | 8;      /* FEATURES_OK */
    if (!(MMIO(uint8_t, common + 0x14) & 8))
        fail("device refused VERSION_1");

    MMIO(uint16_t, common + 0x16) = 0;             /* queue_select */
    uint16_t max = MMIO(uint16_t, common + 0x18);
    if (max < 8)
        fail("queue 0 too small");
    MMIO(uint16_t, common + 0x18) = 8;
    struct desc *d = (struct desc *)RAM_QUEUE;
    volatile uint16_t *avail = (uint16_t *)(RAM_QUEUE + 0x1000);
    volatile uint16_t *used = (uint16_t *)(RAM_QUEUE + 0x2000);
    uint8_t *buf = (uint8_t *)(RAM_QUEUE + 0x3000);
    for (int i = 0; i < 32; i++)
        buf[i] = 0;
    MMIO(uint64_t, common + 0x20) = RAM_QUEUE;
    MMIO(uint64_t, common + 0x28) = RAM_QUEUE + 0x1000;
    MMIO(uint64_t, common + 0x30) = RAM_QUEUE + 0x2000;
    MMIO(uint16_t, common + 0x1c) = 1;             /* queue_enable */
    uint16_t notify_off = MMIO(uint16_t, common + 0x1e);
    MMIO(uint8_t, common + 0x14) = 1 | 2 | 8 | 4;  /* DRIVER_OK */

    d[0] = (struct desc){ (uint64_t)(uintptr_t)buf, 32, 2 /* WRITE */, 0 };
    avail[0] = 1;                                  /* no interrupts: we poll */
    avail[2] = 0;                                  /* ring[0] = head 0 */
    __asm__ volatile("mfence" ::: "memory");
    avail[1] = 1;                                  /* idx */
    MMIO(uint16_t, notify + (uint64_t)notify_off * mult) = 0;

    for (unsigned long spin = 0; used[1] != 1; spin++)
        if (spin > 20000000ul)
            fail("no used buffer");
    uint32_t len = *(volatile uint32_t *)(RAM_QUEUE + 0x2000 + 8);
    unsigned nonzero = 0;
    for (int i = 0; i < 32; i++)
        nonzero += buf[i] != 0;
    puts("virtio-rng: ");
    puthex(len, 2);
    puts(" bytes, ");
    puthex(nonzero, 2);
    puts(" nonzero: ");
    for (int i = 0; i < 8; i++)
        puthex(buf[i], 2);
    putc('\n');
    poweroff();
}
