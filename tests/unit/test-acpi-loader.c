/* test-acpi-loader.c — the ACPI tables handed to firmware through fw_cfg:
 * the test runs the table-loader script as SeaBIOS's romfile_loader does,
 * into a fake RAM, and checks what a guest OS would find there. */
#include <glib.h>
#include <string.h>

#include "boot/acpi.h"
#include "core/pc.h"
#include "hangar/vm.h"

#define RAM_SIZE   (16u << 20)
#define FSEG_BASE  0xF0000u
#define HIGH_TOP   RAM_SIZE

typedef struct {
    bool ovmf;                  /* ADD_CHECKSUM as OVMF does it (else as SeaBIOS) */
    uint8_t *ram;
    uint32_t fseg_next, high_next;
    struct { const char *name; GBytes *data; uint32_t addr; } files[3];
} Loader;

static uint32_t rd32(const uint8_t *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, 4);
    return GUINT32_FROM_LE(v);
}

static uint64_t rd64(const uint8_t *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, 8);
    return GUINT64_FROM_LE(v);
}

static uint8_t sum(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s += p[i];
    return s;
}

static int file_index(Loader *l, const char *name)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(l->files); i++)
        if (l->files[i].name && strncmp(name, l->files[i].name, HGR_ACPI_LOADER_FILESZ) == 0)
            return (int)i;
    g_assert_not_reached();
}

/* An allocated file: its bytes in RAM, bounds-checked against [off, off+len). */
static uint8_t *file_at(Loader *l, int f, uint32_t off, uint32_t len)
{
    g_assert_cmpuint(l->files[f].addr, !=, 0);
    g_assert_cmpuint((uint64_t)off + len, <=, g_bytes_get_size(l->files[f].data));
    return l->ram + l->files[f].addr + off;
}

static void run_command(Loader *l, const uint8_t *e)
{
    uint32_t cmd = rd32(e, 0);
    const char *a = (const char *)e + 4, *b = a + HGR_ACPI_LOADER_FILESZ;

    switch (cmd) {
    case HGR_ACPI_LOADER_ALLOCATE: {
        int f = file_index(l, a);
        uint32_t align = rd32(e, 4 + HGR_ACPI_LOADER_FILESZ);
        uint8_t zone = e[8 + HGR_ACPI_LOADER_FILESZ];
        gsize size = g_bytes_get_size(l->files[f].data);
        g_assert_cmpuint(l->files[f].addr, ==, 0);        /* exactly once */
        g_assert_true(align && (align & (align - 1)) == 0);
        if (zone == HGR_ACPI_LOADER_ZONE_FSEG) {
            l->fseg_next = (l->fseg_next + align - 1) & ~(align - 1);
            l->files[f].addr = l->fseg_next;
            l->fseg_next += size;
            g_assert_cmpuint(l->fseg_next, <=, 0x100000);
        } else {
            g_assert_cmpuint(zone, ==, HGR_ACPI_LOADER_ZONE_HIGH);
            l->high_next = (l->high_next - size) & ~(align - 1);
            l->files[f].addr = l->high_next;
        }
        memcpy(l->ram + l->files[f].addr, g_bytes_get_data(l->files[f].data, NULL), size);
        break;
    }
    case HGR_ACPI_LOADER_ADD_POINTER: {
        int dst = file_index(l, a), src = file_index(l, b);
        uint32_t off = rd32(e, 4 + 2 * HGR_ACPI_LOADER_FILESZ);
        uint8_t size = e[8 + 2 * HGR_ACPI_LOADER_FILESZ];
        g_assert_true(size == 1 || size == 2 || size == 4 || size == 8);
        uint8_t *p = file_at(l, dst, off, size);
        uint64_t v = 0;
        memcpy(&v, p, size);
        v = GUINT64_FROM_LE(v) + l->files[src].addr;
        v = GUINT64_TO_LE(v);
        memcpy(p, &v, size);
        break;
    }
    case HGR_ACPI_LOADER_ADD_CHECKSUM: {
        int f = file_index(l, a);
        uint32_t off = rd32(e, 4 + HGR_ACPI_LOADER_FILESZ);
        uint32_t start = rd32(e, 8 + HGR_ACPI_LOADER_FILESZ);
        uint32_t len = rd32(e, 12 + HGR_ACPI_LOADER_FILESZ);
        /* SeaBIOS subtracts the range's sum from the checksum byte; OVMF
         * stores the negated sum, counting the byte's old value in it: the
         * same result only when that byte starts at zero. */
        uint8_t s = sum(file_at(l, f, start, len), len);
        if (l->ovmf)
            *file_at(l, f, off, 1) = (uint8_t)-s;
        else
            *file_at(l, f, off, 1) -= s;
        break;
    }
    default:
        g_assert_not_reached();
    }
}

static void loader_run(Loader *l, const HgrAcpiBlobs *blobs, bool ovmf)
{
    gsize len;
    const uint8_t *script = g_bytes_get_data(blobs->loader, &len);

    memset(l, 0, sizeof(*l));
    l->ovmf = ovmf;
    l->ram = g_malloc(RAM_SIZE);
    memset(l->ram, 0xa5, RAM_SIZE);     /* the firmware's memory is not clean */
    l->fseg_next = FSEG_BASE + 0x5000;  /* odd spot: nothing may assume address 0 */
    l->high_next = HIGH_TOP - 0x1230;
    l->files[0].name = HGR_ACPI_FILE_TABLES;
    l->files[0].data = blobs->tables;
    l->files[1].name = HGR_ACPI_FILE_RSDP;
    l->files[1].data = blobs->rsdp;
    g_assert_cmpuint(len % HGR_ACPI_LOADER_ENTRY_SIZE, ==, 0);
    for (gsize off = 0; off < len; off += HGR_ACPI_LOADER_ENTRY_SIZE)
        run_command(l, script + off);
}

/* A table at gpa, checked: inside RAM, signature, checksum. */
static const uint8_t *table_at(Loader *l, uint64_t gpa, const char *sig)
{
    g_assert_cmphex(gpa + 36, <=, RAM_SIZE);
    const uint8_t *p = l->ram + gpa;
    g_assert_cmpmem(p, 4, sig, 4);
    g_assert_cmphex(gpa + rd32(p, 4), <=, RAM_SIZE);
    g_assert_cmpuint(sum(p, rd32(p, 4)), ==, 0);
    return p;
}

/* As SeaBIOS finds it: "RSD PTR " on a 16-byte boundary in the F segment. */
static const uint8_t *find_rsdp(Loader *l)
{
    for (uint32_t a = FSEG_BASE; a < 0x100000; a += 16)
        if (!memcmp(l->ram + a, "RSD PTR ", 8))
            return l->ram + a;
    return NULL;
}

static void build(HgrAcpiBlobs *blobs, unsigned n_cpus)
{
    g_autofree uint32_t *ids = g_new(uint32_t, n_cpus);
    for (unsigned i = 0; i < n_cpus; i++)
        ids[i] = i * 2;
    HgrAcpiConfig cfg = {
        .n_cpus = n_cpus, .apic_ids = ids,
        .mmio32_base = HGR_PCI_MMIO_BASE, .mmio32_size = HGR_PCI_MMIO_SIZE,
        .mmio64_base = 0x140000000ULL, .mmio64_size = HGR_PCI_MMIO64_SIZE,
    };
    g_autoptr(GError) err = NULL;

    g_assert_true(hgr_acpi_build_firmware(&cfg, blobs, &err));
    g_assert_no_error(err);
}

static void check_loaded(unsigned n_cpus, bool ovmf)
{
    HgrAcpiBlobs blobs = { 0 };
    Loader l;

    build(&blobs, n_cpus);
    loader_run(&l, &blobs, ovmf);
    const uint8_t *r = find_rsdp(&l);
    g_assert_nonnull(r);
    g_assert_cmpuint(sum(r, 20), ==, 0);
    g_assert_cmpuint(sum(r, 36), ==, 0);
    g_assert_cmpuint(r[15], ==, 2);

    const uint8_t *xsdt = table_at(&l, rd64(r, 24), "XSDT");
    const uint8_t *rsdt = table_at(&l, rd32(r, 16), "RSDT");
    unsigned n = (rd32(xsdt, 4) - 36) / 8;
    const uint8_t *fadt = NULL;
    unsigned seen = 0;
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmpuint(rd32(rsdt, 4), ==, 36 + 4 * n);
    for (unsigned i = 0; i < n; i++) {
        uint64_t gpa = rd64(xsdt, 36 + 8 * i);
        g_assert_cmphex(rd32(rsdt, 36 + 4 * i), ==, gpa);
        const char *sigs[] = { "FACP", "APIC", "MCFG" };
        const uint8_t *t = table_at(&l, gpa, sigs[i]);
        seen |= 1u << i;
        if (i == 0)
            fadt = t;
        if (i == 1)   /* the MADT lists every CPU, xAPIC entries of 8 bytes */
            g_assert_cmpuint(rd32(t, 4), >=, 44 + 8 * n_cpus);
    }
    g_assert_cmpuint(seen, ==, 7);
    uint64_t dsdt = rd64(fadt, 140);
    g_assert_cmphex(rd32(fadt, 40), ==, dsdt);
    table_at(&l, dsdt, "DSDT");
    uint32_t facs = rd32(fadt, 36);
    g_assert_cmphex(facs % 64, ==, 0);
    g_assert_cmpmem(l.ram + facs, 4, "FACS", 4);
    g_free(l.ram);
    hgr_acpi_blobs_clear(&blobs);
}

static void test_loaded_tables(void)
{
    check_loaded(1, false);
    check_loaded(8, false);
}

/* OVMF runs the same script with its own checksum rule; with checksum
 * bytes left set in the blobs it found every table corrupt and installed
 * none (a UEFI guest then had no ACPI: no power-off, no MADT). */
static void test_loaded_tables_ovmf(void)
{
    check_loaded(1, true);
    check_loaded(8, true);
}

/* The tables the firmware loads are the ones a direct boot gets, byte for
 * byte except for the addresses. */
static void test_same_as_direct(void)
{
    HgrAcpiBlobs blobs = { 0 };
    Loader l;
    const uint32_t ids[] = { 0, 2, 4, 6 };
    HgrAcpiConfig cfg = {
        .n_cpus = 4, .apic_ids = ids,
        .mmio32_base = HGR_PCI_MMIO_BASE, .mmio32_size = HGR_PCI_MMIO_SIZE,
        .mmio64_base = 0x140000000ULL, .mmio64_size = HGR_PCI_MMIO64_SIZE,
    };
    g_autofree uint8_t *ram = g_malloc0(2 << 20);
    HgrGuestMem mem;
    uint64_t rsdp;

    hgr_mem_init_pc(&mem, ram, 2 << 20);
    g_assert_true(hgr_acpi_build(&mem, &cfg, &rsdp, NULL));
    g_assert_true(hgr_acpi_build_firmware(&cfg, &blobs, NULL));
    loader_run(&l, &blobs, false);

    const uint8_t *r = find_rsdp(&l);
    const uint8_t *fx = l.ram + rd64(r, 24), *dx = ram + rd64(ram + rsdp, 24);
    for (unsigned i = 0; i < 3; i++) {
        const uint8_t *f = l.ram + rd64(fx, 36 + 8 * i), *d = ram + rd64(dx, 36 + 8 * i);
        g_assert_cmpuint(rd32(f, 4), ==, rd32(d, 4));
        if (i > 0)   /* MADT, MCFG: no addresses inside */
            g_assert_cmpmem(f, rd32(f, 4), d, rd32(d, 4));
        else         /* FADT: same up to the FACS pointer */
            g_assert_cmpmem(f + 10, 26, d + 10, 26);
    }
    const uint8_t *fd = l.ram + rd64(l.ram + rd64(fx, 36), 140);
    const uint8_t *dd = ram + rd64(ram + rd64(dx, 36), 140);
    g_assert_cmpmem(fd, rd32(fd, 4), dd, rd32(dd, 4));
    g_free(l.ram);
    hgr_acpi_blobs_clear(&blobs);
}

static void test_bad_config(void)
{
    HgrAcpiBlobs blobs = { 0 };
    HgrAcpiConfig cfg = { .n_cpus = 0 };
    g_autoptr(GError) err = NULL;

    g_assert_false(hgr_acpi_build_firmware(&cfg, &blobs, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG);
    g_assert_null(blobs.tables);
    g_assert_null(blobs.loader);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/acpi-loader/loaded-tables-valid", test_loaded_tables);
    g_test_add_func("/vmm/acpi-loader/loaded-tables-valid-ovmf", test_loaded_tables_ovmf);
    g_test_add_func("/vmm/acpi-loader/same-as-direct", test_same_as_direct);
    g_test_add_func("/vmm/acpi-loader/bad-config", test_bad_config);
    return g_test_run();
}
