/* test-fw-cfg.c — fw_cfg as SeaBIOS drives it: port reads, the file
 * directory, DMA, and everything a hostile guest can aim at it. */
#include <glib.h>
#include <string.h>

#include "hw/fw-cfg.h"
#include "legacy-board.h"

#define RAM_SIZE (4u << 20)
#define SEL  HGR_FW_CFG_PORT
#define DATA (HGR_FW_CFG_PORT + 1)
#define DMA_HI (HGR_FW_CFG_PORT + 4)
#define DMA_LO (HGR_FW_CFG_PORT + 8)
#define DESC 0x1000          /* where the tests put their DMA descriptor */
#define BUF  0x2000

typedef struct {
    LegacyFixture lf;
    uint8_t *ram;
    HgrGuestMem mem;
} Fixture;

static void fixture_init(Fixture *f)
{
    f->ram = g_malloc0(RAM_SIZE);
    hgr_mem_init_pc(&f->mem, f->ram, RAM_SIZE);
    HgrDevice *dev = hgr_fw_cfg_new(&f->mem);
    static const char greeting[] = "hello, firmware";
    uint8_t rw[16] = { 0 };
    hgr_fw_cfg_add_u64(dev, HGR_FW_CFG_RAM_SIZE, RAM_SIZE);
    hgr_fw_cfg_add_u16(dev, HGR_FW_CFG_NB_CPUS, 2);
    g_assert_true(hgr_fw_cfg_add_file(dev, "etc/greeting", greeting, sizeof(greeting), false));
    g_assert_true(hgr_fw_cfg_add_file(dev, "etc/rw", rw, sizeof(rw), true));
    legacy_fixture_init(&f->lf, dev, NULL);
}

static void fixture_clear(Fixture *f)
{
    legacy_fixture_clear(&f->lf);
    g_free(f->ram);
}

static void port_read(Fixture *f, uint16_t key, void *buf, size_t len)
{
    uint8_t *p = buf;

    legacy_out(&f->lf.tb, SEL, key, 2);
    for (size_t i = 0; i < len; i++)
        p[i] = legacy_inb(&f->lf.tb, DATA);
}

/* Writes a descriptor at DESC, kicks DMA through the two 32-bit halves as
 * SeaBIOS does, and returns the control word the device left behind. */
static uint32_t dma_at(Fixture *f, uint64_t desc, uint32_t control, uint32_t len,
                       uint64_t addr)
{
    struct __attribute__((packed)) {
        uint32_t control, length;
        uint64_t address;
    } d = { GUINT32_TO_BE(control), GUINT32_TO_BE(len), GUINT64_TO_BE(addr) };
    uint32_t hi = GUINT32_TO_BE((uint32_t)(desc >> 32)), lo = GUINT32_TO_BE((uint32_t)desc);
    uint32_t out = 0xdeadbeef;

    hgr_mem_write(&f->mem, desc, &d, sizeof(d));
    /* outl(cpu_to_be32(x)): the port sees the big-endian bytes. */
    legacy_out(&f->lf.tb, DMA_HI, GUINT32_FROM_LE(hi), 4);
    legacy_out(&f->lf.tb, DMA_LO, GUINT32_FROM_LE(lo), 4);
    hgr_mem_read(&f->mem, desc, &out, 4);
    return GUINT32_FROM_BE(out);
}

static uint32_t dma(Fixture *f, uint32_t control, uint32_t len, uint64_t addr)
{
    return dma_at(f, DESC, control, len, addr);
}

static uint16_t find_file(Fixture *f, const char *name, uint32_t *size)
{
    uint32_t count;

    port_read(f, HGR_FW_CFG_FILE_DIR, &count, 4);
    count = GUINT32_FROM_BE(count);
    g_assert_cmpuint(count, <=, HGR_FW_CFG_MAX_FILES);
    for (uint32_t i = 0; i < count; i++) {
        struct { uint32_t size; uint16_t key, reserved; char name[56]; } e;
        for (size_t j = 0; j < sizeof(e); j++)
            ((uint8_t *)&e)[j] = legacy_inb(&f->lf.tb, DATA);
        g_assert_nonnull(memchr(e.name, 0, sizeof(e.name)));
        if (strcmp(e.name, name) == 0) {
            *size = GUINT32_FROM_BE(e.size);
            return GUINT16_FROM_BE(e.key);
        }
    }
    return 0;
}

static void test_signature_id(void)
{
    Fixture f;
    fixture_init(&f);
    char sig[5] = { 0 };
    uint32_t id;
    uint64_t ram;
    uint8_t dsig[8];

    port_read(&f, HGR_FW_CFG_SIGNATURE, sig, 4);
    g_assert_cmpstr(sig, ==, "QEMU");
    port_read(&f, HGR_FW_CFG_ID, &id, 4);
    g_assert_cmphex(GUINT32_FROM_LE(id), ==, HGR_FW_CFG_F_TRADITIONAL | HGR_FW_CFG_F_DMA);
    port_read(&f, HGR_FW_CFG_RAM_SIZE, &ram, 8);
    g_assert_cmpuint(GUINT64_FROM_LE(ram), ==, RAM_SIZE);
    /* The DMA register reads as "QEMU CFG" (what OVMF checks). */
    hgr_io_put(dsig, 4, legacy_in(&f.lf.tb, DMA_HI, 4));
    hgr_io_put(dsig + 4, 4, legacy_in(&f.lf.tb, DMA_LO, 4));
    g_assert_cmpmem(dsig, 8, "QEMU CFG", 8);
    /* After reset the signature is selected again. */
    port_read(&f, HGR_FW_CFG_ID, &id, 2);
    f.lf.dev->ops->reset(f.lf.dev);
    g_assert_cmphex(legacy_inb(&f.lf.tb, DATA), ==, 'Q');
    fixture_clear(&f);
}

static void test_file_dir(void)
{
    Fixture f;
    fixture_init(&f);
    uint32_t size = 0;
    char buf[32] = { 0 };

    uint16_t key = find_file(&f, "etc/greeting", &size);
    g_assert_cmphex(key, >=, HGR_FW_CFG_FILE_FIRST);
    g_assert_cmpuint(size, ==, sizeof("hello, firmware"));
    port_read(&f, key, buf, size);
    g_assert_cmpstr(buf, ==, "hello, firmware");
    g_assert_cmpuint(find_file(&f, "etc/none", &size), ==, 0);
    /* Replacing a file keeps its key and changes its size in the directory. */
    g_assert_true(hgr_fw_cfg_add_file(f.lf.dev, "etc/greeting", "hi", 3, false));
    g_assert_cmphex(find_file(&f, "etc/greeting", &size), ==, key);
    g_assert_cmpuint(size, ==, 3);
    /* Names the directory cannot carry are refused. */
    char long_name[HGR_FW_CFG_NAME_MAX + 1];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = 0;
    g_assert_false(hgr_fw_cfg_add_file(f.lf.dev, long_name, "x", 1, false));
    g_assert_false(hgr_fw_cfg_add_file(f.lf.dev, "", "x", 1, false));
    fixture_clear(&f);
}

static void test_full_directory(void)
{
    Fixture f;
    fixture_init(&f);
    unsigned added = 0;

    for (unsigned i = 0; i < HGR_FW_CFG_MAX_FILES + 5; i++) {
        g_autofree char *name = g_strdup_printf("opt/f%u", i);
        added += hgr_fw_cfg_add_file(f.lf.dev, name, &i, sizeof(i), false);
    }
    g_assert_cmpuint(added, ==, HGR_FW_CFG_MAX_FILES - 2);
    uint32_t size;
    g_assert_cmphex(find_file(&f, "opt/f3", &size), !=, 0);
    fixture_clear(&f);
}

static void test_port_hostile(void)
{
    Fixture f;
    fixture_init(&f);
    uint8_t b[64];
    uint16_t nb;

    /* Reads past an item's end are zeros, however many. */
    port_read(&f, HGR_FW_CFG_NB_CPUS, b, 64);
    g_assert_cmpuint(b[0], ==, 2);
    for (unsigned i = 2; i < 64; i++)
        g_assert_cmpuint(b[i], ==, 0);
    /* Selectors naming nothing, in every range, read zeros. */
    const uint16_t bad[] = { 0x3fff, 0x0100, 0x1234, 0x8000, 0xffff, 0xc019,
                             HGR_FW_CFG_FILE_FIRST + 50 };
    for (size_t k = 0; k < G_N_ELEMENTS(bad); k++) {
        memset(b, 0xaa, sizeof(b));
        port_read(&f, bad[k], b, 16);
        for (unsigned i = 0; i < 16; i++)
            g_assert_cmpuint(b[i], ==, 0);
    }
    /* The legacy write channel selects the item but cannot write it. */
    legacy_out(&f.lf.tb, SEL, 0x4000 | HGR_FW_CFG_NB_CPUS, 2);
    legacy_outb(&f.lf.tb, DATA, 7);
    port_read(&f, HGR_FW_CFG_NB_CPUS, &nb, 2);
    g_assert_cmpuint(GUINT16_FROM_LE(nb), ==, 2);
    /* A one-byte selector write is not a select. */
    port_read(&f, HGR_FW_CFG_RAM_SIZE, b, 1);
    legacy_outb(&f.lf.tb, SEL, HGR_FW_CFG_SIGNATURE);
    g_assert_cmpuint(legacy_inb(&f.lf.tb, DATA), ==, (RAM_SIZE >> 8) & 0xff);
    fixture_clear(&f);
}

static void test_dma_read(void)
{
    Fixture f;
    fixture_init(&f);
    uint32_t size;
    char buf[64];

    uint16_t key = find_file(&f, "etc/greeting", &size);
    memset(f.ram + BUF, 0xaa, 64);
    g_assert_cmphex(dma(&f, (uint32_t)key << 16 | HGR_FW_CFG_DMA_SELECT | HGR_FW_CFG_DMA_READ,
                        5, BUF), ==, 0);
    g_assert_cmpmem(f.ram + BUF, 5, "hello", 5);
    g_assert_cmphex(f.ram[BUF + 5], ==, 0xaa);
    /* The next transfer continues where this one stopped; SKIP moves on. */
    g_assert_cmphex(dma(&f, HGR_FW_CFG_DMA_SKIP, 2, 0), ==, 0);
    g_assert_cmphex(dma(&f, HGR_FW_CFG_DMA_READ, 3, BUF), ==, 0);
    g_assert_cmpmem(f.ram + BUF, 3, "fir", 3);
    /* Past the end: the rest of the buffer is zero-filled. */
    memset(f.ram + BUF, 0xaa, 64);
    g_assert_cmphex(dma(&f, HGR_FW_CFG_DMA_READ, 40, BUF), ==, 0);
    memset(buf, 0, sizeof(buf));
    memcpy(buf, "mware", 6);
    g_assert_cmpmem(f.ram + BUF, 40, buf, 40);
    g_assert_cmphex(f.ram[BUF + 40], ==, 0xaa);
    /* One 64-bit write of the address starts a transfer too. */
    struct __attribute__((packed)) { uint32_t c, l; uint64_t a; } d = {
        GUINT32_TO_BE(HGR_FW_CFG_DMA_SELECT | HGR_FW_CFG_DMA_READ), GUINT32_TO_BE(4),
        GUINT64_TO_BE(BUF) };
    uint8_t port[8];
    hgr_mem_write(&f.mem, DESC, &d, sizeof(d));
    for (unsigned i = 0; i < 8; i++)
        port[i] = (uint8_t)((uint64_t)DESC >> (56 - 8 * i));
    hgr_io_bus_dispatch(&f.lf.tb.pio, DMA_HI, port, 8, true);
    g_assert_cmpmem(f.ram + BUF, 4, "QEMU", 4);
    g_assert_cmphex(f.ram[DESC], ==, 0);
    fixture_clear(&f);
}

static void test_dma_hostile(void)
{
    Fixture f;
    fixture_init(&f);
    uint32_t size;
    uint8_t zero[16] = { 0 };
    uint16_t key = find_file(&f, "etc/greeting", &size);
    uint32_t sel_read = (uint32_t)key << 16 | HGR_FW_CFG_DMA_SELECT | HGR_FW_CFG_DMA_READ;

    /* Length 0: done, nothing touched. */
    memset(f.ram, 0x55, 16);
    g_assert_cmphex(dma(&f, sel_read, 0, 0), ==, 0);
    g_assert_cmphex(f.ram[0], ==, 0x55);
    /* Address 0 is RAM like any other. */
    g_assert_cmphex(dma(&f, HGR_FW_CFG_DMA_READ, 5, 0), ==, 0);
    g_assert_cmpmem(f.ram, 5, "hello", 5);
    /* MMIO, past the end of RAM, straddling it, wrapping: ERROR, and the
     * item's offset does not move. */
    const struct { uint64_t addr; uint32_t len; } bad[] = {
        { HGR_IOAPIC_BASE, 4 },
        { RAM_SIZE, 1 },
        { RAM_SIZE - 4, 16 },
        { UINT64_MAX - 7, 16 },
        { 0, UINT32_MAX },
        { HGR_PCI_ECAM_BASE, 4 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_cmphex(dma(&f, sel_read, 0, BUF), ==, 0);
        g_assert_cmphex(dma(&f, HGR_FW_CFG_DMA_READ, bad[i].len, bad[i].addr), ==,
                        HGR_FW_CFG_DMA_ERROR);
        g_assert_cmpmem(f.ram + RAM_SIZE - 4, 4, zero, 4);
        g_assert_cmphex(dma(&f, HGR_FW_CFG_DMA_READ, 1, BUF), ==, 0);
        g_assert_cmphex(f.ram[BUF], ==, 'h');
    }
    /* A descriptor that is not RAM (or only half of it) is ignored. */
    dma_at(&f, HGR_IOAPIC_BASE, sel_read, 4, BUF);
    dma_at(&f, RAM_SIZE - 8, sel_read, 4, BUF);
    dma_at(&f, UINT64_MAX - 3, sel_read, 4, BUF);
    /* A selector naming nothing: reads zero-fill, writes fail. */
    memset(f.ram + BUF, 0xaa, 8);
    g_assert_cmphex(dma(&f, 0x3ff0u << 16 | HGR_FW_CFG_DMA_SELECT | HGR_FW_CFG_DMA_READ,
                        8, BUF), ==, 0);
    g_assert_cmpmem(f.ram + BUF, 8, zero, 8);
    g_assert_cmphex(dma(&f, HGR_FW_CFG_DMA_WRITE, 8, BUF), ==, HGR_FW_CFG_DMA_ERROR);
    /* No control bit at all: nothing happens, successfully. */
    g_assert_cmphex(dma(&f, 0, 8, BUF), ==, 0);
    fixture_clear(&f);
}

static void test_dma_write(void)
{
    Fixture f;
    fixture_init(&f);
    uint32_t size;
    size_t len;
    uint16_t rw = find_file(&f, "etc/rw", &size);
    uint16_t ro = find_file(&f, "etc/greeting", &size);

    memcpy(f.ram + BUF, "0123456789abcdefXYZ", 19);
    g_assert_cmphex(dma(&f, (uint32_t)rw << 16 | HGR_FW_CFG_DMA_SELECT | HGR_FW_CFG_DMA_WRITE,
                        4, BUF), ==, 0);
    g_assert_cmphex(dma(&f, HGR_FW_CFG_DMA_WRITE, 4, BUF + 4), ==, 0);
    g_assert_cmpmem(hgr_fw_cfg_file(f.lf.dev, "etc/rw", &len), 8, "01234567", 8);
    /* Past the end of a writable file: refused whole. */
    g_assert_cmphex(dma(&f, HGR_FW_CFG_DMA_WRITE, 9, BUF), ==, HGR_FW_CFG_DMA_ERROR);
    g_assert_cmphex(dma(&f, (uint32_t)rw << 16 | HGR_FW_CFG_DMA_SELECT | HGR_FW_CFG_DMA_WRITE,
                        17, BUF), ==, HGR_FW_CFG_DMA_ERROR);
    const uint8_t *rwdata = hgr_fw_cfg_file(f.lf.dev, "etc/rw", &len);
    g_assert_cmpuint(len, ==, 16);
    g_assert_cmpmem(rwdata, 8, "01234567", 8);
    g_assert_cmphex(rwdata[8], ==, 0);
    /* A writable file fed from MMIO: refused. */
    g_assert_cmphex(dma(&f, (uint32_t)rw << 16 | HGR_FW_CFG_DMA_SELECT | HGR_FW_CFG_DMA_WRITE,
                        4, HGR_IOAPIC_BASE), ==, HGR_FW_CFG_DMA_ERROR);
    /* Read-only items: files, numbered items, the signature and the directory. */
    const uint16_t ro_keys[] = { ro, HGR_FW_CFG_RAM_SIZE, HGR_FW_CFG_SIGNATURE,
                                 HGR_FW_CFG_FILE_DIR };
    for (size_t i = 0; i < G_N_ELEMENTS(ro_keys); i++)
        g_assert_cmphex(dma(&f, (uint32_t)ro_keys[i] << 16 | HGR_FW_CFG_DMA_SELECT |
                            HGR_FW_CFG_DMA_WRITE, 2, BUF), ==, HGR_FW_CFG_DMA_ERROR);
    g_assert_cmpmem(hgr_fw_cfg_file(f.lf.dev, "etc/greeting", &len), 5, "hello", 5);
    char sig[5] = { 0 };
    port_read(&f, HGR_FW_CFG_SIGNATURE, sig, 4);
    g_assert_cmpstr(sig, ==, "QEMU");
    fixture_clear(&f);
}

static void test_save_load(void)
{
    Fixture a, b;
    fixture_init(&a);
    fixture_init(&b);
    uint32_t size;
    uint16_t key = find_file(&a, "etc/greeting", &size);

    legacy_out(&a.lf.tb, SEL, key, 2);
    for (unsigned i = 0; i < 7; i++)
        legacy_inb(&a.lf.tb, DATA);
    legacy_out(&a.lf.tb, DMA_HI, 0x12345678, 4);       /* a latched high half */
    legacy_roundtrip(a.lf.dev, b.lf.dev);
    /* The restored device goes on with the same byte. */
    g_assert_cmphex(legacy_inb(&b.lf.tb, DATA), ==, 'f');
    legacy_truncated_load_fails(a.lf.dev, b.lf.dev, true);
    /* An offset past the selected item's end is refused (bytes 2-5: offset). */
    g_assert_false(legacy_load_forged(a.lf.dev, b.lf.dev, 5, 0x80));
    g_assert_true(legacy_load_forged(a.lf.dev, b.lf.dev, 2, 16));
    g_assert_cmphex(legacy_inb(&b.lf.tb, DATA), ==, 0);
    fixture_clear(&a);
    fixture_clear(&b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/fw-cfg/signature-id", test_signature_id);
    g_test_add_func("/vmm/fw-cfg/file-dir", test_file_dir);
    g_test_add_func("/vmm/fw-cfg/full-directory", test_full_directory);
    g_test_add_func("/vmm/fw-cfg/port-hostile", test_port_hostile);
    g_test_add_func("/vmm/fw-cfg/dma-read", test_dma_read);
    g_test_add_func("/vmm/fw-cfg/dma-hostile", test_dma_hostile);
    g_test_add_func("/vmm/fw-cfg/dma-write", test_dma_write);
    g_test_add_func("/vmm/fw-cfg/save-load", test_save_load);
    return g_test_run();
}
