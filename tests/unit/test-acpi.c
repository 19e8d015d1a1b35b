/* test-acpi.c — the ACPI tables, checked by hand and by iasl. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "boot/acpi.h"
#include "boot/aml.h"
#include "core/pc.h"
#include "hangar/vm.h"

#define RAM_SIZE (2 * 1024 * 1024)

typedef struct {
    uint8_t *ram;
    HgrGuestMem mem;
    uint64_t rsdp;
    const uint8_t *xsdt, *fadt, *madt, *mcfg, *dsdt, *facs;
} Tables;

static uint16_t rd16(const uint8_t *p, size_t off)
{
    uint16_t v;
    memcpy(&v, p + off, 2);
    return v;
}

static uint32_t rd32(const uint8_t *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, 4);
    return v;
}

static uint64_t rd64(const uint8_t *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, 8);
    return v;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s += p[i];
    return s;
}

/* A table at gpa, checked: inside the ACPI area, signature, checksum, OEM. */
static const uint8_t *table_at(Tables *t, uint64_t gpa, const char *sig)
{
    g_assert_cmphex(gpa, >=, HGR_PC_ACPI_BASE);
    g_assert_cmphex(gpa + 36, <=, HGR_PC_ACPI_BASE + HGR_PC_ACPI_SIZE);
    const uint8_t *p = t->ram + gpa;
    uint32_t len = rd32(p, 4);
    g_assert_cmpmem(p, 4, sig, 4);
    g_assert_cmpuint(len, >=, 36);
    g_assert_cmphex(gpa + len, <=, HGR_PC_ACPI_BASE + HGR_PC_ACPI_SIZE);
    g_assert_cmpuint(sum(p, len), ==, 0);
    g_assert_cmpmem(p + 10, 6, "HANGAR", 6);
    return p;
}

static void tables_build(Tables *t, unsigned n_cpus, const uint32_t *ids)
{
    HgrAcpiConfig cfg = {
        .n_cpus = n_cpus,
        .apic_ids = ids,
        .mmio32_base = HGR_PCI_MMIO_BASE,
        .mmio32_size = HGR_PCI_MMIO_SIZE,
        .mmio64_base = 0x140000000ULL,
        .mmio64_size = HGR_PCI_MMIO64_SIZE,
    };
    g_autoptr(GError) err = NULL;

    memset(t, 0, sizeof(*t));
    t->ram = g_malloc0(RAM_SIZE);
    memset(t->ram + HGR_PC_ACPI_BASE, 0xa5, HGR_PC_ACPI_SIZE);   /* stale bytes */
    hgr_mem_init_pc(&t->mem, t->ram, RAM_SIZE);
    g_assert_true(hgr_acpi_build(&t->mem, &cfg, &t->rsdp, &err));
    g_assert_no_error(err);

    const uint8_t *r = t->ram + t->rsdp;
    g_assert_cmpmem(r, 8, "RSD PTR ", 8);
    t->xsdt = table_at(t, rd64(r, 24), "XSDT");
    unsigned n = (rd32(t->xsdt, 4) - 36) / 8;
    for (unsigned i = 0; i < n; i++) {
        uint64_t gpa = rd64(t->xsdt, 36 + 8 * i);
        const uint8_t *p = t->ram + gpa;
        if (!memcmp(p, "FACP", 4))
            t->fadt = table_at(t, gpa, "FACP");
        else if (!memcmp(p, "APIC", 4))
            t->madt = table_at(t, gpa, "APIC");
        else if (!memcmp(p, "MCFG", 4))
            t->mcfg = table_at(t, gpa, "MCFG");
        else
            g_assert_not_reached();
    }
    g_assert_nonnull(t->fadt);
    g_assert_nonnull(t->madt);
    g_assert_nonnull(t->mcfg);
    t->dsdt = table_at(t, rd64(t->fadt, 140), "DSDT");
    uint64_t facs = rd32(t->fadt, 36);
    g_assert_cmphex(facs % 64, ==, 0);
    t->facs = t->ram + facs;
    g_assert_cmpmem(t->facs, 4, "FACS", 4);
    g_assert_cmpuint(rd32(t->facs, 4), ==, 64);
}

static void tables_free(Tables *t)
{
    g_free(t->ram);
}

static void test_rsdp(void)
{
    static const uint32_t ids[] = { 0 };
    Tables t;

    tables_build(&t, 1, ids);
    g_assert_cmphex(t.rsdp, ==, HGR_PC_ACPI_BASE);   /* the BIOS area Linux scans */
    g_assert_cmphex(t.rsdp % 16, ==, 0);
    const uint8_t *r = t.ram + t.rsdp;
    g_assert_cmpuint(sum(r, 20), ==, 0);
    g_assert_cmpuint(sum(r, 36), ==, 0);
    g_assert_cmpuint(r[15], ==, 2);                   /* ACPI 2.0+ */
    g_assert_cmpuint(rd32(r, 20), ==, 36);
    g_assert_cmpmem(r + 9, 6, "HANGAR", 6);
    /* The RSDT lists the same tables as the XSDT, for 32-bit readers. */
    const uint8_t *rsdt = table_at(&t, rd32(r, 16), "RSDT");
    g_assert_cmpuint((rd32(rsdt, 4) - 36) / 4, ==, (rd32(t.xsdt, 4) - 36) / 8);
    for (unsigned i = 0; i < (rd32(rsdt, 4) - 36) / 4; i++)
        g_assert_cmphex(rd32(rsdt, 36 + 4 * i), ==, rd64(t.xsdt, 36 + 8 * i));
    /* Stale bytes after the tables are gone. */
    g_assert_cmpuint(t.ram[HGR_PC_ACPI_BASE + HGR_PC_ACPI_SIZE - 1], ==, 0);

    /* A rebuild (reset) writes the same bytes. */
    Tables again;
    tables_build(&again, 1, ids);
    g_assert_cmpmem(t.ram + HGR_PC_ACPI_BASE, HGR_PC_ACPI_SIZE,
                    again.ram + HGR_PC_ACPI_BASE, HGR_PC_ACPI_SIZE);
    tables_free(&again);
    tables_free(&t);
}

typedef struct {
    unsigned n_lapic;
    uint32_t lapic_ids[16];
    uint32_t lapic_uids[16];
    unsigned n_ioapic;
    uint32_t ioapic_addr, ioapic_gsi_base;
    int irq0_gsi, sci_gsi;
    uint16_t sci_flags;
} MadtInfo;

static MadtInfo madt_walk(const uint8_t *m)
{
    MadtInfo info = { .irq0_gsi = -1, .sci_gsi = -1 };
    uint32_t len = rd32(m, 4);

    for (uint32_t off = 44; off < len;) {
        uint8_t type = m[off], elen = m[off + 1];
        g_assert_cmpuint(elen, >=, 2);
        g_assert_cmpuint(off + elen, <=, len);
        if (type == 0 || type == 9) {
            g_assert_cmpuint(info.n_lapic, <, G_N_ELEMENTS(info.lapic_ids));
            bool x2 = type == 9;
            g_assert_cmpuint(elen, ==, x2 ? 16 : 8);
            g_assert_cmpuint(rd32(m, off + (x2 ? 8 : 4)) & 1, ==, 1);    /* enabled */
            info.lapic_ids[info.n_lapic] = x2 ? rd32(m, off + 4) : m[off + 3];
            info.lapic_uids[info.n_lapic++] = x2 ? rd32(m, off + 12) : m[off + 2];
        } else if (type == 1) {
            info.n_ioapic++;
            info.ioapic_addr = rd32(m, off + 4);
            info.ioapic_gsi_base = rd32(m, off + 8);
        } else if (type == 2) {
            g_assert_cmpuint(m[off + 2], ==, 0);     /* ISA */
            if (m[off + 3] == 0)
                info.irq0_gsi = rd32(m, off + 4);
            if (m[off + 3] == HGR_PC_SCI_IRQ) {
                info.sci_gsi = rd32(m, off + 4);
                info.sci_flags = rd16(m, off + 8);
            }
        }
        off += elen;
    }
    return info;
}

static void test_madt(void)
{
    static const uint32_t ids[] = { 0, 2, 4, 6 };
    Tables t;

    tables_build(&t, G_N_ELEMENTS(ids), ids);
    g_assert_cmphex(rd32(t.madt, 36), ==, HGR_LAPIC_BASE);
    g_assert_cmphex(rd32(t.madt, 40) & 1, ==, 1);    /* PCAT_COMPAT: 8259s present */
    MadtInfo info = madt_walk(t.madt);
    g_assert_cmpuint(info.n_lapic, ==, G_N_ELEMENTS(ids));
    for (unsigned i = 0; i < G_N_ELEMENTS(ids); i++) {
        g_assert_cmpuint(info.lapic_ids[i], ==, ids[i]);
        g_assert_cmpuint(info.lapic_uids[i], ==, i);
    }
    g_assert_cmpuint(info.n_ioapic, ==, 1);
    g_assert_cmphex(info.ioapic_addr, ==, HGR_IOAPIC_BASE);
    g_assert_cmpuint(info.ioapic_gsi_base, ==, 0);
    g_assert_cmpint(info.irq0_gsi, ==, 2);
    g_assert_cmpint(info.sci_gsi, ==, HGR_PC_SCI_IRQ);
    g_assert_cmphex(info.sci_flags, ==, 0x000d);     /* level, active high */
    tables_free(&t);
}

/* APIC IDs that do not fit the 8-bit xAPIC entry get x2APIC entries. */
static void test_madt_x2apic(void)
{
    static const uint32_t ids[] = { 0, 1, 300 };
    Tables t;

    tables_build(&t, G_N_ELEMENTS(ids), ids);
    MadtInfo info = madt_walk(t.madt);
    g_assert_cmpuint(info.n_lapic, ==, 3);
    g_assert_cmpuint(info.lapic_ids[2], ==, 300);
    g_assert_cmpuint(info.lapic_uids[2], ==, 2);
    tables_free(&t);
}

static void test_fadt_mcfg(void)
{
    static const uint32_t ids[] = { 0, 1 };
    Tables t;

    tables_build(&t, 2, ids);
    const uint8_t *f = t.fadt;
    g_assert_cmpuint(rd32(f, 4), ==, 276);
    g_assert_cmpuint(f[8], ==, 6);
    g_assert_cmpuint(rd16(f, 46), ==, HGR_PC_SCI_IRQ);
    g_assert_cmphex(rd32(f, 48), ==, 0);                 /* no SMI_CMD: ACPI always on */
    g_assert_cmphex(rd32(f, 56), ==, HGR_PC_PM1A_EVT);
    g_assert_cmphex(rd32(f, 64), ==, HGR_PC_PM1A_CNT);
    g_assert_cmphex(rd32(f, 76), ==, HGR_PC_PM_TMR);
    g_assert_cmpuint(f[88], ==, 4);
    g_assert_cmpuint(f[89], ==, 2);
    g_assert_cmpuint(f[91], ==, 4);
    g_assert_cmphex(rd16(f, 109) & 2, ==, 2);            /* 8042 present */
    uint32_t flags = rd32(f, 112);
    g_assert_cmphex(flags & (1u << 10), !=, 0);          /* RESET_REG_SUP */
    g_assert_cmphex(flags & (1u << 20), ==, 0);          /* not hardware-reduced */
    g_assert_cmphex(flags & (1u << 8), ==, 0);           /* 24-bit PM timer */
    g_assert_cmpuint(f[116], ==, 1);                     /* SystemIO */
    g_assert_cmphex(rd64(f, 120), ==, HGR_PC_RESET_PORT);
    g_assert_cmphex(f[128], ==, 0x06);
    g_assert_cmphex(rd32(f, 36), !=, 0);                 /* FACS: exactly one pointer */
    g_assert_cmphex(rd64(f, 132), ==, 0);
    g_assert_cmphex(rd32(f, 40), ==, rd64(f, 140));      /* DSDT, 32 and 64 */
    g_assert_cmphex(rd64(f, 148 + 4), ==, HGR_PC_PM1A_EVT);
    g_assert_cmphex(rd64(f, 172 + 4), ==, HGR_PC_PM1A_CNT);
    g_assert_cmphex(rd64(f, 208 + 4), ==, HGR_PC_PM_TMR);
    g_assert_cmpuint(f[208 + 1], ==, 32);

    const uint8_t *m = t.mcfg;
    g_assert_cmpuint(rd32(m, 4), ==, 60);
    g_assert_cmphex(rd64(m, 44), ==, HGR_PCI_ECAM_BASE);
    g_assert_cmpuint(rd16(m, 52), ==, 0);
    g_assert_cmpuint(m[54], ==, 0);
    g_assert_cmpuint(m[55], ==, (HGR_PCI_ECAM_SIZE >> 20) - 1);

    /* \_S5_ is a 4-element package starting with the S5 SLP_TYP. */
    const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04,
                           0x0a, HGR_PC_SLP_TYP_S5, 0x0a, HGR_PC_SLP_TYP_S5, 0x00, 0x00 };
    g_assert_nonnull(memmem(t.dsdt + 36, rd32(t.dsdt, 4) - 36, s5, sizeof(s5)));
    tables_free(&t);
}

static void test_bad_config(void)
{
    uint32_t ids[] = { 0, 1, 1 };
    g_autofree uint8_t *ram = g_malloc0(RAM_SIZE);
    HgrGuestMem mem;
    uint64_t rsdp = 0;
    struct {
        HgrAcpiConfig cfg;
        int code;
    } cases[] = {
        { { .n_cpus = 0, .apic_ids = ids }, HGR_VM_ERROR_CONFIG },
        { { .n_cpus = 3, .apic_ids = ids }, HGR_VM_ERROR_CONFIG },        /* duplicate */
        { { .n_cpus = 1, .apic_ids = NULL }, HGR_VM_ERROR_CONFIG },
        { { .n_cpus = 1, .apic_ids = ids, .mmio32_base = 0xf0000000,
            .mmio32_size = 0x20000000 }, HGR_VM_ERROR_CONFIG },          /* crosses 4 GiB */
        { { .n_cpus = 1, .apic_ids = ids, .mmio64_base = UINT64_MAX - 10,
            .mmio64_size = 0x1000 }, HGR_VM_ERROR_CONFIG },              /* wraps */
    };

    hgr_mem_init_pc(&mem, ram, RAM_SIZE);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_assert_false(hgr_acpi_build(&mem, &cases[i].cfg, &rsdp, &err));
        g_assert_error(err, HGR_VM_ERROR, cases[i].code);
    }
    /* RAM that ends before the BIOS area. */
    g_autoptr(GError) err = NULL;
    HgrAcpiConfig ok = { .n_cpus = 1, .apic_ids = ids };
    hgr_mem_init_pc(&mem, ram, 640 * 1024);
    g_assert_false(hgr_acpi_build(&mem, &ok, &rsdp, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY);
    g_assert_cmpuint(rsdp, ==, 0);
}

/* The most CPUs the tables describe still fit the area. */
static void test_many_cpus(void)
{
    g_autofree uint32_t *ids = g_new(uint32_t, HGR_ACPI_MAX_CPUS);
    Tables t;

    for (unsigned i = 0; i < HGR_ACPI_MAX_CPUS; i++)
        ids[i] = i;
    tables_build(&t, HGR_ACPI_MAX_CPUS, ids);
    const uint8_t *m = t.madt;
    unsigned n = 0;
    for (uint32_t off = 44; off < rd32(m, 4); off += m[off + 1])
        n += m[off] == 0 || m[off] == 9;
    g_assert_cmpuint(n, ==, HGR_ACPI_MAX_CPUS);
    tables_free(&t);
}

static GByteArray *finish(HgrAml *a)
{
    GByteArray *out = hgr_aml_finish(a);
    g_assert_nonnull(out);
    return out;
}

static void test_aml_encoding(void)
{
    g_autoptr(HgrAml) a = hgr_aml_new();

    hgr_aml_name(a, "\\_SB.PCI0._HID");
    hgr_aml_eisaid(a, "PNP0A08");
    hgr_aml_name(a, "X");
    hgr_aml_package(a);
    hgr_aml_int(a, 0x1234);
    hgr_aml_int(a, 0x12345678);
    hgr_aml_int(a, 0x123456789aULL);
    hgr_aml_string(a, "ab");
    hgr_aml_end(a);
    g_autoptr(GByteArray) out = finish(a);
    const uint8_t want[] = {
        0x08, '\\', 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', '_', 'H', 'I', 'D',
        0x0c, 0x41, 0xd0, 0x0a, 0x08,
        0x08, 'X', '_', '_', '_',
        0x12, 0x17, 4,
        0x0b, 0x34, 0x12,
        0x0c, 0x78, 0x56, 0x34, 0x12,
        0x0e, 0x9a, 0x78, 0x56, 0x34, 0x12, 0, 0, 0,
        0x0d, 'a', 'b', 0,
    };
    g_assert_cmpmem(out->data, out->len, want, sizeof(want));
}

/* PkgLength takes 1 to 4 bytes, and its value counts those bytes too. */
static void test_aml_pkg_length(void)
{
    /* content: what follows PkgLength (the element count and the string). */
    static const struct { size_t content; size_t n; } cases[] = {
        { 62, 1 }, { 63, 2 }, { 4093, 2 }, { 4094, 3 }, { 0xffffc, 3 }, { 0xffffd, 4 },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(HgrAml) a = hgr_aml_new();
        g_autofree char *s = g_strnfill(cases[i].content - 3, 'x');   /* count, 0x0d, NUL */
        hgr_aml_package(a);
        hgr_aml_string(a, s);
        hgr_aml_end(a);
        g_autoptr(GByteArray) out = finish(a);
        size_t n = cases[i].n;
        g_assert_cmpuint(out->len, ==, 1 + n + cases[i].content);
        g_assert_cmpuint(out->data[1] >> 6, ==, n - 1);
        size_t len = n == 1 ? out->data[1] : out->data[1] & 0xf;
        for (size_t k = 1; k < n; k++)
            len |= (size_t)out->data[1 + k] << (4 + 8 * (k - 1));
        g_assert_cmpuint(len, ==, out->len - 1);    /* everything after the opcode */
        g_assert_cmpuint(out->data[1 + n], ==, 1);  /* one element */
    }
}

static void test_aml_misuse(void)
{
    g_autoptr(HgrAml) a = hgr_aml_new();

    g_test_expect_message("hangar-vmm", G_LOG_LEVEL_CRITICAL, "*scope left open*");
    hgr_aml_device(a, "DEV");
    g_assert_null(hgr_aml_finish(a));
    g_test_assert_expected_messages();

    g_test_expect_message("hangar-vmm", G_LOG_LEVEL_CRITICAL, "*malformed name*");
    hgr_aml_name(a, "toolong");
    hgr_aml_int(a, 1);
    g_assert_null(hgr_aml_finish(a));
    g_test_assert_expected_messages();

    g_test_expect_message("hangar-vmm", G_LOG_LEVEL_CRITICAL, "*outside a resource*");
    hgr_aml_res_io(a, 0x3f8, 8);
    g_assert_null(hgr_aml_finish(a));
    g_test_assert_expected_messages();

    /* After a failed finish the builder starts afresh. */
    hgr_aml_int(a, 0);
    g_autoptr(GByteArray) out = finish(a);
    g_assert_cmpuint(out->len, ==, 1);
}

/* Runs argv in dir; returns stdout+stderr, asserting exit status 0. */
static char *run_ok(const char *dir, const char *const *argv)
{
    g_autofree char *out = NULL, *errout = NULL;
    g_autoptr(GError) err = NULL;
    int status;

    g_assert_true(g_spawn_sync(dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, &errout, &status, &err));
    g_assert_no_error(err);
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("%s %s failed:\n%s%s", argv[0], argv[1], out, errout);
    return g_strconcat(out, errout, NULL);
}

/* Disassembles table with iasl, compiles the result again (unoptimized, so
 * AML keeps its encoding) and checks that iasl produced our bytes: every
 * field and every AML term means to iasl what we meant. Returns the text. */
static char *iasl_roundtrip(const char *dir, const char *name, const uint8_t *table)
{
    g_autofree char *dat = g_strdup_printf("%s/%s.dat", dir, name);
    g_autofree char *dsl = g_strdup_printf("%s/%s.dsl", dir, name);
    g_autofree char *re = g_strdup_printf("%s/%s-re", dir, name);
    g_autofree char *aml = g_strdup_printf("%s/%s-re.aml", dir, name);
    uint32_t len = rd32(table, 4);
    g_autoptr(GError) err = NULL;
    g_autofree char *again = NULL;
    char *text = NULL;
    size_t again_len;

    g_assert_true(g_file_set_contents(dat, (const char *)table, len, &err));
    g_free(run_ok(dir, (const char *[]){ "iasl", "-d", dat, NULL }));
    g_assert_true(g_file_get_contents(dsl, &text, NULL, &err));
    g_autofree char *log = run_ok(dir, (const char *[]){ "iasl", "-oa", "-p", re, dsl, NULL });
    if (!strstr(log, " 0 Errors"))
        g_error("iasl %s:\n%s", dsl, log);
    g_assert_true(g_file_get_contents(aml, &again, &again_len, &err));
    /* The header's compiler ID and checksum are iasl's own. */
    g_assert_cmpmem(again + 36, again_len - 36, table + 36, len - 36);
    return text;
}

static void assert_has(const char *text, const char *what)
{
    if (!strstr(text, what))
        g_error("iasl output lacks \"%s\":\n%s", what, text);
}

static void test_iasl(void)
{
    static const uint32_t ids[] = { 0, 1, 300 };
    g_autofree char *iasl = g_find_program_in_path("iasl");
    Tables t;

    if (!iasl) {
        g_printerr("WARNING: iasl not installed (apt-get install acpica-tools): "
                   "the ACPI tables were NOT checked by the ACPICA tools\n");
        g_test_skip("iasl not installed (apt-get install acpica-tools): ACPI tables NOT "
                    "checked by iasl");
        return;
    }
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("hangar-acpi-XXXXXX", &err);
    g_assert_no_error(err);
    tables_build(&t, G_N_ELEMENTS(ids), ids);

    g_autofree char *dsdt = iasl_roundtrip(dir, "dsdt", t.dsdt);
    const char *dsdt_want[] = {
        "_S5_", "Package (0x04)", "Device (PCI0)", "EisaId (\"PNP0A08\")",
        "EisaId (\"PNP0A03\")", "_SEG", "_BBN", "WordBusNumber", "0x00FF",
        "0x0CF7", "0x0D00", "0xFFFF", "DWordMemory", "0xC0000000", "0xFEBFFFFF",
        "QWordMemory", "0x0000000140000000", "EisaId (\"PNP0C02\")", "0xB0000000",
        "0x10000000", "EisaId (\"PNP0501\")", "0x03F8", "IRQNoFlags ()", "{4}",
        "EisaId (\"PNP0B00\")", "EisaId (\"PNP0303\")", "EisaId (\"PNP0F13\")",
        "\"ACPI0007\"", "Device (C002)", "Method (_STA",
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(dsdt_want); i++)
        assert_has(dsdt, dsdt_want[i]);

    g_autofree char *fadt = iasl_roundtrip(dir, "facp", t.fadt);
    const char *fadt_want[] = {
        "Fixed ACPI Description Table", "Address : 0000000000000CF9", "Value to cause reset : 06",
        "SCI Interrupt : 0009", "PM1A Event Block Address : 00000600",
        "PM1A Control Block Address : 00000604", "PM Timer Block Address : 00000608",
        "Reset Register Supported (V2) : 1", "8042 Present on ports 60/64 (V2) : 1",
        "Hardware Reduced (V5) : 0", "Oem ID : \"HANGAR\"",
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(fadt_want); i++)
        assert_has(fadt, fadt_want[i]);

    g_autofree char *madt = iasl_roundtrip(dir, "apic", t.madt);
    assert_has(madt, "Local Apic Address : FEE00000");
    assert_has(madt, "[I/O APIC]");
    assert_has(madt, "Address : FEC00000");
    assert_has(madt, "Source : 09");
    g_auto(GStrv) lapics = g_strsplit(madt, "[Processor Local APIC]", -1);
    g_assert_cmpuint(g_strv_length(lapics) - 1, ==, 2);
    assert_has(madt, "Processor x2Apic ID : 0000012C");
    g_autofree char *mcfg = iasl_roundtrip(dir, "mcfg", t.mcfg);
    assert_has(mcfg, "Base Address : 00000000B0000000");
    assert_has(mcfg, "End Bus Number : FF");

    tables_free(&t);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    for (const char *f; d && (f = g_dir_read_name(d));) {
        g_autofree char *path = g_build_filename(dir, f, NULL);
        g_unlink(path);
    }
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/acpi/rsdp-points-to-xsdt", test_rsdp);
    g_test_add_func("/vmm/acpi/madt-lists-cpus", test_madt);
    g_test_add_func("/vmm/acpi/madt-x2apic-ids", test_madt_x2apic);
    g_test_add_func("/vmm/acpi/fadt-mcfg-dsdt-values", test_fadt_mcfg);
    g_test_add_func("/vmm/acpi/bad-config", test_bad_config);
    g_test_add_func("/vmm/acpi/max-cpus-fit", test_many_cpus);
    g_test_add_func("/vmm/acpi/iasl-disassembles", test_iasl);
    g_test_add_func("/vmm/aml/encoding", test_aml_encoding);
    g_test_add_func("/vmm/aml/pkg-length", test_aml_pkg_length);
    g_test_add_func("/vmm/aml/misuse-fails", test_aml_misuse);
    return g_test_run();
}
