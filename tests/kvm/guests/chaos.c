/* chaos.c — a hostile 64-bit guest: tens of thousands of random port and
 * MMIO accesses of random width to every device Hangar has (legacy ports,
 * PCI config space through 0xcf8 and ECAM, BARs in the PCI window), then a
 * clean "done" and power off. The VMM must survive all of it. Ports that
 * would end the run early (power off, reset) are left out, not because they
 * are dangerous but because the test wants the whole barrage. */
#include "guest-lib.h"

#define ROUNDS     200000
#define BOOTS_ADDR 0x300000

static uint64_t state;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static int excluded(uint16_t port)
{
    return (port >= 0x604 && port <= 0x605) ||   /* PM1a_CNT: S5 */
           port == 0xcf9 ||                      /* reset control */
           port == 0x64;                         /* i8042 command: 0xFE pulses reset */
}

static void port_access(uint64_t r)
{
    uint16_t port = (uint16_t)(r >> 16);
    uint32_t val = (uint32_t)(r >> 32);
    if (excluded(port) || excluded(port + 1) || excluded(port + 3))
        return;
    switch (r & 7) {
    case 0: outb(port, (uint8_t)val); break;
    case 1: outw(port, (uint16_t)val); break;
    case 2: outl(port, val); break;
    case 3: (void)inb(port); break;
    case 4: (void)inl(port); break;
    default:                                     /* PCI config, where devices live */
        outl(0xcf8, 0x80000000u | (val & 0x00fffffc));
        if (r & 8)
            outl(0xcfc + (r >> 4 & 3), (uint32_t)(r >> 8));
        else
            (void)inl(0xcfc);
    }
}

static void mmio_access(uint64_t r)
{
    /* The 32-bit PCI window and ECAM: 0xc0000000-0xefffffff. */
    uint64_t addr = 0xc0000000u + ((r >> 8) % 0x30000000u);
    uint64_t val = next();
    switch (r & 7) {
    case 0: MMIO(uint8_t, addr) = (uint8_t)val; break;
    case 1: MMIO(uint16_t, addr & ~1ull) = (uint16_t)val; break;
    case 2: MMIO(uint32_t, addr & ~3ull) = (uint32_t)val; break;
    case 3: MMIO(uint64_t, addr & ~7ull) = val; break;
    case 4: (void)MMIO(uint32_t, addr & ~3ull); break;
    default: (void)MMIO(uint8_t, addr); break;
    }
}

/* Devices are found in config space first and their BAR 0 placed in the
 * 32-bit window (the VMM puts 64-bit BARs above 4 GiB, beyond this guest's
 * page tables), so many accesses hit live registers, not empty window. */
static uint64_t bars[32];
static unsigned n_bars;

static void find_bars(void)
{
    for (unsigned dev = 1; dev < 32; dev++) {
        if (pci_read(dev, 0) == 0xffffffffu)
            continue;
        uint32_t bar = 0xc8000000u + dev * 0x100000u;
        /* AHCI's registers are BAR 5 (32-bit); everyone else's BAR 0. */
        unsigned reg = (pci_read(dev, 0x08) >> 16) == 0x0106 ? 0x24 : 0x10;
        pci_write(dev, 0x04, 0);
        pci_write(dev, reg, bar);
        if (reg == 0x10)
            pci_write(dev, 0x14, 0);
        pci_write(dev, 0x04, 0x6);               /* memory decode + bus master */
        bars[n_bars++] = bar;
    }
}

static void bar_access(uint64_t r)
{
    if (!n_bars)
        return;
    uint64_t addr = bars[(r >> 8) % n_bars] + ((r >> 16) & 0x3ffc);
    if (r & 1)
        MMIO(uint32_t, addr) = (uint32_t)next();
    else
        (void)MMIO(uint32_t, addr);
}

/* Brings each virtio device up the way a driver would, but with random
 * queue sizes and rings that point at random bytes in RAM (or nowhere), so
 * the devices walk garbage descriptor chains and DMA to wild addresses. */
#define GARBAGE 0x400000
#define GARBAGE_SIZE 0x8000

static void virtio_garbage(uint64_t bar)
{
    uint64_t c = bar;                                /* common config at BAR offset 0 */
    volatile uint8_t *g = (uint8_t *)GARBAGE;
    for (unsigned i = 0; i < GARBAGE_SIZE; i++)
        g[i] = (uint8_t)next();
    MMIO(uint8_t, c + 0x14) = 0;
    MMIO(uint8_t, c + 0x14) = 3;
    MMIO(uint32_t, c + 0x08) = 1;
    MMIO(uint32_t, c + 0x0c) = 1;
    MMIO(uint8_t, c + 0x14) = 3 | 8;
    for (uint16_t q = 0; q < 4; q++) {
        uint64_t r = next();
        MMIO(uint16_t, c + 0x16) = q;
        MMIO(uint16_t, c + 0x18) = (r & 1) ? (uint16_t)(1u << (r >> 1 & 7)) : (uint16_t)r;
        uint64_t base = (r & 2) ? GARBAGE + (next() % GARBAGE_SIZE) : next();
        MMIO(uint64_t, c + 0x20) = base & ~15ull;
        MMIO(uint64_t, c + 0x28) = (base + 0x1000) & ~1ull;
        MMIO(uint64_t, c + 0x30) = (base + 0x2000) & ~3ull;
        MMIO(uint16_t, c + 0x1c) = 1;
    }
    MMIO(uint8_t, c + 0x14) = 3 | 8 | 4;
    for (unsigned k = 0; k < 64; k++) {
        for (unsigned i = 0; i < 64; i++)
            g[next() % GARBAGE_SIZE] = (uint8_t)next();
        MMIO(uint16_t, bar + 0x3000 + 4 * (k & 3)) = (uint16_t)k;   /* notify area */
    }
}

__attribute__((section(".text.entry"))) void _start(void)
{
    volatile uint32_t *boots = (uint32_t *)BOOTS_ADDR;
    state = 0x9e3779b97f4a7c15ull ^ ((uint64_t)++*boots << 32);
    puts("chaos: start\n");
    find_bars();
    for (unsigned pass = 0; pass < 6; pass++)
        for (unsigned b = 0; b < n_bars; b++)
            virtio_garbage(bars[b]);
    for (unsigned i = 0; i < ROUNDS; i++) {
        uint64_t r = next();
        switch (r >> 61) {
        case 0: case 1: case 2: port_access(next()); break;
        case 3: case 4: bar_access(next()); break;
        default: mmio_access(next()); break;
        }
    }
    /* Put COM1 back in order (chaos may have set loopback or DLAB). */
    outb(0x3fb, 0x03);
    outb(0x3fc, 0x03);
    outb(0x3f9, 0x00);
    outb(0x3fa, 0x07);
    puts("chaos: done\n");
    poweroff();
}
