/* acpi.c — RSDP, XSDT/RSDT, FADT, FACS, DSDT, MADT and MCFG for Hangar's PC.
 *
 * Tables are assembled in a host buffer that mirrors the ACPI area, then
 * written to guest RAM in one copy, so a failure leaves no half-built set.
 */
#include "acpi.h"

#include <stddef.h>
#include <string.h>

#include "aml.h"
#include "core/pc.h"
#include "hangar/vm.h"

/* Tables are host structs copied byte for byte: x86 hosts only. */
G_STATIC_ASSERT(G_BYTE_ORDER == G_LITTLE_ENDIAN);

#define PACKED __attribute__((packed))

#define OEM_ID          "HANGAR"
#define OEM_TABLE_ID    "HANGARPC"
#define CREATOR_ID      "HGR "
#define CREATOR_REV     1

typedef struct PACKED {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    char creator_id[4];
    uint32_t creator_revision;
} AcpiHeader;
G_STATIC_ASSERT(sizeof(AcpiHeader) == 36);

typedef struct PACKED {
    char signature[8];
    uint8_t checksum;           /* over the first 20 bytes (ACPI 1.0 part) */
    char oem_id[6];
    uint8_t revision;
    uint32_t rsdt;
    uint32_t length;
    uint64_t xsdt;
    uint8_t ext_checksum;       /* over all 36 bytes */
    uint8_t reserved[3];
} Rsdp;
G_STATIC_ASSERT(sizeof(Rsdp) == 36);

/* Generic Address Structure. */
typedef struct PACKED {
    uint8_t space;
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size;        /* 1 byte, 2 word, 3 dword, 4 qword */
    uint64_t address;
} Gas;

#define GAS_SYSTEM_IO 1

/* FADT revision 6 body, after the header. */
typedef struct PACKED {
    uint32_t firmware_ctrl;
    uint32_t dsdt;
    uint8_t reserved0;
    uint8_t pm_profile;
    uint16_t sci_int;
    uint32_t smi_cmd;
    uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
    uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
    uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
    uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
    uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
    uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
    uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags;
    Gas reset_reg;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_firmware_ctrl;
    uint64_t x_dsdt;
    Gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
    Gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
    Gas sleep_control_reg, sleep_status_reg;
    uint64_t hypervisor_id;
} FadtBody;
G_STATIC_ASSERT(sizeof(AcpiHeader) + sizeof(FadtBody) == 276);

#define FADT_WBINVD         (1u << 0)
#define FADT_PROC_C1        (1u << 2)
#define FADT_SLP_BUTTON     (1u << 5)   /* no fixed sleep button */
#define FADT_FIX_RTC        (1u << 6)   /* no RTC wake status in PM1 */
#define FADT_RESET_REG_SUP  (1u << 10)
#define BOOT_ARCH_LEGACY    (1u << 0)
#define BOOT_ARCH_8042      (1u << 1)
#define RESET_VALUE         0x06        /* 0xCF9: full reset, CPU reset */

typedef struct PACKED {
    char signature[4];
    uint32_t length;
    uint32_t hw_signature;
    uint32_t waking_vector;
    uint32_t global_lock;
    uint32_t flags;
    uint64_t x_waking_vector;
    uint8_t version;
    uint8_t reserved0[3];
    uint32_t ospm_flags;
    uint8_t reserved1[24];
} Facs;
G_STATIC_ASSERT(sizeof(Facs) == 64);

typedef struct PACKED {
    uint32_t lapic_addr;
    uint32_t flags;
} MadtBody;

#define MADT_PCAT_COMPAT    1u
#define MADT_ENABLED        1u

enum {
    MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_OVERRIDE = 2, MADT_LAPIC_NMI = 4,
    MADT_X2APIC = 9, MADT_X2APIC_NMI = 10,
};

typedef struct PACKED {
    uint8_t type, length, uid, apic_id;
    uint32_t flags;
} MadtLapic;

typedef struct PACKED {
    uint8_t type, length;
    uint16_t reserved;
    uint32_t x2apic_id, flags, uid;
} MadtX2apic;

typedef struct PACKED {
    uint8_t type, length, id, reserved;
    uint32_t address, gsi_base;
} MadtIoapic;

typedef struct PACKED {
    uint8_t type, length, bus, source;
    uint32_t gsi;
    uint16_t flags;
} MadtOverride;

#define MPS_ACTIVE_HIGH     0x1
#define MPS_LEVEL           (0x3 << 2)

typedef struct PACKED {
    uint8_t type, length, uid;
    uint16_t flags;
    uint8_t lint;
} MadtLapicNmi;

typedef struct PACKED {
    uint8_t type, length;
    uint16_t flags;
    uint32_t uid;
    uint8_t lint;
    uint8_t reserved[3];
} MadtX2apicNmi;

typedef struct PACKED {
    uint64_t reserved;
    uint64_t base;
    uint16_t segment;
    uint8_t bus_start, bus_end;
    uint32_t reserved1;
} McfgBody;
G_STATIC_ASSERT(sizeof(AcpiHeader) + sizeof(McfgBody) == 60);

/* Our IOAPIC's ID: 0, what its ID register holds after reset (KVM's and
 * QEMU's IOAPIC both reset to 0). IOAPIC and LAPIC IDs are separate name
 * spaces since the xAPIC (no shared APIC bus), and 64-bit Linux takes the
 * MADT's ID as given, so matching the register is what matters. */
#define IOAPIC_ID 0

typedef struct {
    uint32_t offset;            /* in the area */
    uint32_t size;              /* of a pointer field; of a table for a checksum */
} Span;

typedef struct {
    GByteArray *area;           /* the tables as they will sit from `base` on */
    uint64_t base;
    GArray *pointers;           /* of Span: fields holding addresses inside the area */
    GArray *tables;             /* of Span: checksummed tables (checksum at +9) */
} Builder;

static uint8_t checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;

    for (size_t i = 0; i < len; i++)
        sum += p[i];
    return -sum;
}

static GByteArray *table_new(const char *signature, uint8_t revision)
{
    GByteArray *t = g_byte_array_new();
    AcpiHeader h = {
        .revision = revision,
        .oem_revision = 1,
        .creator_revision = CREATOR_REV,
    };

    memcpy(h.signature, signature, 4);
    memcpy(h.oem_id, OEM_ID, 6);
    memcpy(h.oem_table_id, OEM_TABLE_ID, 8);
    memcpy(h.creator_id, CREATOR_ID, 4);
    g_byte_array_append(t, (const uint8_t *)&h, sizeof(h));
    return t;
}

/* Appends data at the next `align` boundary; returns its guest address. */
static uint64_t place(Builder *b, const void *data, size_t len, size_t align)
{
    static const uint8_t zeros[64];

    g_byte_array_append(b->area, zeros, (align - b->area->len % align) % align);
    uint64_t gpa = b->base + b->area->len;
    g_byte_array_append(b->area, data, len);
    return gpa;
}

/* Fixes up length and checksum, places the table, frees it. */
static uint64_t place_table(Builder *b, GByteArray *t)
{
    AcpiHeader *h = (AcpiHeader *)t->data;

    h->length = t->len;
    h->checksum = 0;
    h->checksum = checksum(t->data, t->len);
    uint64_t gpa = place(b, t->data, t->len, 16);
    Span span = { (uint32_t)(gpa - b->base), t->len };
    g_array_append_val(b->tables, span);
    g_byte_array_unref(t);
    return gpa;
}

/* Notes that the table at `table_gpa` holds, `offset` bytes in, an address
 * inside the area: firmware loading has to relocate it. */
static void note_pointer(Builder *b, uint64_t table_gpa, size_t offset, unsigned size)
{
    Span span = { (uint32_t)(table_gpa - b->base + offset), size };
    g_array_append_val(b->pointers, span);
}

static void append(GByteArray *t, const void *data, size_t len)
{
    g_byte_array_append(t, data, len);
}

static Gas io_gas(uint16_t port, unsigned len)
{
    return (Gas){
        .space = GAS_SYSTEM_IO,
        .bit_width = 8 * len,
        .access_size = len == 4 ? 3 : len == 2 ? 2 : 1,
        .address = port,
    };
}

static uint64_t build_facs(Builder *b)
{
    Facs f = { .length = sizeof(f), .version = 2 };

    memcpy(f.signature, "FACS", 4);
    return place(b, &f, sizeof(f), 64);
}

static uint64_t build_fadt(Builder *b, uint64_t facs, uint64_t dsdt)
{
    GByteArray *t = table_new("FACP", 6);
    FadtBody f = {
        .firmware_ctrl = facs,
        .dsdt = dsdt,
        .sci_int = HGR_PC_SCI_IRQ,
        .smi_cmd = 0,           /* ACPI mode always on: the PM device reports SCI_EN */
        .pm1a_evt_blk = HGR_PC_PM1A_EVT,
        .pm1a_cnt_blk = HGR_PC_PM1A_CNT,
        .pm_tmr_blk = HGR_PC_PM_TMR,
        .pm1_evt_len = 4,
        .pm1_cnt_len = 2,
        .pm_tmr_len = 4,
        .p_lvl2_lat = 101,      /* > 100: C2 not supported */
        .p_lvl3_lat = 1001,     /* > 1000: C3 not supported */
        .iapc_boot_arch = BOOT_ARCH_LEGACY | BOOT_ARCH_8042,
        /* Power button left as a fixed feature (flag clear) so the host can
         * ask for a clean shutdown through PM1 PWRBTN_STS. TMR_VAL_EXT clear:
         * the PM timer is 24 bits wide. */
        .flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC |
                 FADT_RESET_REG_SUP,
        .reset_reg = io_gas(HGR_PC_RESET_PORT, 1),
        .reset_value = RESET_VALUE,
        .minor_version = 0,
        /* x_firmware_ctrl stays 0: the spec allows only one FACS pointer. */
        .x_dsdt = dsdt,
        .x_pm1a_evt_blk = io_gas(HGR_PC_PM1A_EVT, 4),
        .x_pm1a_cnt_blk = io_gas(HGR_PC_PM1A_CNT, 2),
        .x_pm_tmr_blk = io_gas(HGR_PC_PM_TMR, 4),
    };

    append(t, &f, sizeof(f));
    uint64_t gpa = place_table(b, t);
    note_pointer(b, gpa, sizeof(AcpiHeader) + offsetof(FadtBody, firmware_ctrl), 4);
    note_pointer(b, gpa, sizeof(AcpiHeader) + offsetof(FadtBody, dsdt), 4);
    note_pointer(b, gpa, sizeof(AcpiHeader) + offsetof(FadtBody, x_dsdt), 8);
    return gpa;
}

static void madt_cpus(GByteArray *t, const HgrAcpiConfig *cfg, bool *any_x2apic)
{
    for (unsigned i = 0; i < cfg->n_cpus; i++) {
        uint32_t id = cfg->apic_ids[i];
        /* xAPIC entries hold 8-bit IDs and UIDs, and ID 0xff is broadcast. */
        if (id < 0xff && i < 0xff) {
            MadtLapic e = { MADT_LAPIC, sizeof(e), i, id, MADT_ENABLED };
            append(t, &e, sizeof(e));
        } else {
            MadtX2apic e = { MADT_X2APIC, sizeof(e), 0, id, MADT_ENABLED, i };
            append(t, &e, sizeof(e));
            *any_x2apic = true;
        }
    }
}

static uint64_t build_madt(Builder *b, const HgrAcpiConfig *cfg)
{
    GByteArray *t = table_new("APIC", 3);
    MadtBody body = { .lapic_addr = HGR_LAPIC_BASE, .flags = MADT_PCAT_COMPAT };
    MadtIoapic ioapic = { MADT_IOAPIC, sizeof(ioapic), IOAPIC_ID, 0, HGR_IOAPIC_BASE, 0 };
    /* The PIT's IRQ0 is wired to IOAPIC pin 2; the SCI is level, active high. */
    MadtOverride irq0 = { MADT_OVERRIDE, sizeof(irq0), 0, 0, 2, 0 };
    MadtOverride sci = { MADT_OVERRIDE, sizeof(sci), 0, HGR_PC_SCI_IRQ, HGR_PC_SCI_IRQ,
                         MPS_ACTIVE_HIGH | MPS_LEVEL };
    MadtLapicNmi nmi = { MADT_LAPIC_NMI, sizeof(nmi), 0xff, 0, 1 };   /* LINT1, all CPUs */
    bool any_x2apic = false;

    append(t, &body, sizeof(body));
    madt_cpus(t, cfg, &any_x2apic);
    append(t, &ioapic, sizeof(ioapic));
    append(t, &irq0, sizeof(irq0));
    append(t, &sci, sizeof(sci));
    append(t, &nmi, sizeof(nmi));
    if (any_x2apic) {
        MadtX2apicNmi xnmi = { MADT_X2APIC_NMI, sizeof(xnmi), 0, UINT32_MAX, 1, { 0 } };
        append(t, &xnmi, sizeof(xnmi));
    }
    return place_table(b, t);
}

static uint64_t build_mcfg(Builder *b)
{
    GByteArray *t = table_new("MCFG", 1);
    McfgBody m = {
        .base = HGR_PCI_ECAM_BASE,
        .segment = 0,
        .bus_start = 0,
        .bus_end = (HGR_PCI_ECAM_SIZE >> 20) - 1,
    };

    append(t, &m, sizeof(m));
    return place_table(b, t);
}

static void aml_int_name(HgrAml *a, const char *name, uint64_t v)
{
    hgr_aml_name(a, name);
    hgr_aml_int(a, v);
}

static void aml_eisaid_name(HgrAml *a, const char *name, const char *id)
{
    hgr_aml_name(a, name);
    hgr_aml_eisaid(a, id);
}

static void dsdt_pci(HgrAml *a, const HgrAcpiConfig *cfg)
{
    hgr_aml_device(a, "PCI0");
    aml_eisaid_name(a, "_HID", "PNP0A08");
    aml_eisaid_name(a, "_CID", "PNP0A03");
    aml_int_name(a, "_ADR", 0);
    aml_int_name(a, "_SEG", 0);
    aml_int_name(a, "_UID", 0);
    aml_int_name(a, "_BBN", 0);
    hgr_aml_name(a, "_CRS");
    hgr_aml_resources(a);
    hgr_aml_res_word_bus(a, 0, 255);
    hgr_aml_res_io(a, HGR_PC_PCI_CONFIG_PORT, 8);
    hgr_aml_res_word_io(a, 0x0000, HGR_PC_PCI_CONFIG_PORT - 1);
    hgr_aml_res_word_io(a, 0x0d00, 0xffff);
    hgr_aml_res_dword_mem(a, 0xa0000, 0xbffff, true);      /* legacy VGA */
    if (cfg->mmio32_size)
        hgr_aml_res_dword_mem(a, cfg->mmio32_base, cfg->mmio32_base + cfg->mmio32_size - 1,
                              false);
    if (cfg->mmio64_size)
        hgr_aml_res_qword_mem(a, cfg->mmio64_base, cfg->mmio64_base + cfg->mmio64_size - 1,
                              true);
    hgr_aml_end(a);
    hgr_aml_end(a);
}

/* Ranges nobody may assign to a PCI BAR: ECAM and the PM block. */
static void dsdt_motherboard(HgrAml *a)
{
    hgr_aml_device(a, "MRES");
    aml_eisaid_name(a, "_HID", "PNP0C02");
    aml_int_name(a, "_UID", 0);
    hgr_aml_name(a, "_CRS");
    hgr_aml_resources(a);
    hgr_aml_res_mem32_fixed(a, HGR_PCI_ECAM_BASE, HGR_PCI_ECAM_SIZE);
    hgr_aml_res_io(a, HGR_PC_PM_BASE, HGR_PC_PM_SIZE);
    hgr_aml_end(a);
    hgr_aml_end(a);
}

static void dsdt_isa_device(HgrAml *a, const char *name, const char *hid, uint16_t port,
                            uint8_t len, uint16_t port2, int irq)
{
    hgr_aml_device(a, name);
    aml_eisaid_name(a, "_HID", hid);
    hgr_aml_name(a, "_CRS");
    hgr_aml_resources(a);
    if (len)
        hgr_aml_res_io(a, port, len);
    if (port2)
        hgr_aml_res_io(a, port2, 1);
    if (irq >= 0)
        hgr_aml_res_irq(a, irq);
    hgr_aml_end(a);
}

static void dsdt_legacy(HgrAml *a)
{
    dsdt_isa_device(a, "COM1", "PNP0501", HGR_PC_COM1_PORT, 8, 0, HGR_PC_COM1_IRQ);
    aml_int_name(a, "_UID", 1);
    hgr_aml_method(a, "_STA", 0, false);
    hgr_aml_return(a);
    hgr_aml_int(a, 0x0f);       /* present, enabled, shown, working */
    hgr_aml_end(a);
    hgr_aml_end(a);

    dsdt_isa_device(a, "RTC", "PNP0B00", HGR_PC_RTC_PORT, 2, 0, HGR_PC_RTC_IRQ);
    hgr_aml_end(a);
    dsdt_isa_device(a, "KBD", "PNP0303", HGR_PC_I8042_DATA, 1, HGR_PC_I8042_CMD,
                    HGR_PC_I8042_KBD_IRQ);
    hgr_aml_end(a);
    dsdt_isa_device(a, "MOU", "PNP0F13", 0, 0, 0, HGR_PC_I8042_AUX_IRQ);
    hgr_aml_end(a);
}

/* Processor devices whose _UID matches the MADT's processor UIDs. */
static void dsdt_cpus(HgrAml *a, unsigned n_cpus)
{
    for (unsigned i = 0; i < n_cpus; i++) {
        char name[8];
        g_snprintf(name, sizeof(name), "C%03X", i);
        hgr_aml_device(a, name);
        hgr_aml_name(a, "_HID");
        hgr_aml_string(a, "ACPI0007");
        aml_int_name(a, "_UID", i);
        hgr_aml_end(a);
    }
}

static uint64_t build_dsdt(Builder *b, const HgrAcpiConfig *cfg, GError **error)
{
    g_autoptr(HgrAml) a = hgr_aml_new();

    hgr_aml_name(a, "\\_S5");
    hgr_aml_package(a);
    hgr_aml_int(a, HGR_PC_SLP_TYP_S5);
    hgr_aml_int(a, HGR_PC_SLP_TYP_S5);
    hgr_aml_int(a, 0);
    hgr_aml_int(a, 0);
    hgr_aml_end(a);

    hgr_aml_scope(a, "\\_SB");
    dsdt_pci(a, cfg);
    dsdt_motherboard(a);
    dsdt_legacy(a);
    dsdt_cpus(a, cfg->n_cpus);
    hgr_aml_end(a);

    g_autoptr(GByteArray) aml = hgr_aml_finish(a);
    if (!aml) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG, "ACPI: DSDT could not be encoded");
        return 0;
    }
    GByteArray *t = table_new("DSDT", 2);   /* revision 2: 64-bit integers */
    append(t, aml->data, aml->len);
    return place_table(b, t);
}

/* XSDT and RSDT listing `tables`, and the RSDP that points at both. */
static Rsdp build_roots(Builder *b, const uint64_t *tables, unsigned n)
{
    GByteArray *xsdt = table_new("XSDT", 1);
    GByteArray *rsdt = table_new("RSDT", 1);

    for (unsigned i = 0; i < n; i++) {
        uint32_t addr32 = tables[i];
        append(xsdt, &tables[i], 8);
        append(rsdt, &addr32, 4);
    }
    Rsdp r = { .revision = 2, .length = sizeof(r) };
    memcpy(r.signature, "RSD PTR ", 8);
    memcpy(r.oem_id, OEM_ID, 6);
    r.xsdt = place_table(b, xsdt);
    r.rsdt = place_table(b, rsdt);
    for (unsigned i = 0; i < n; i++) {
        note_pointer(b, r.xsdt, sizeof(AcpiHeader) + 8 * i, 8);
        note_pointer(b, r.rsdt, sizeof(AcpiHeader) + 4 * i, 4);
    }
    r.checksum = checksum((const uint8_t *)&r, 20);
    r.ext_checksum = checksum((const uint8_t *)&r, sizeof(r));
    return r;
}

static bool check_config(const HgrAcpiConfig *cfg, GError **error)
{
    const char *why = NULL;

    if (cfg->n_cpus == 0 || cfg->n_cpus > HGR_ACPI_MAX_CPUS || !cfg->apic_ids)
        why = "CPU count out of range";
    else if (cfg->mmio32_size && (cfg->mmio32_base + cfg->mmio32_size < cfg->mmio32_base ||
                                  cfg->mmio32_base + cfg->mmio32_size > HGR_HIGHMEM_BASE))
        why = "32-bit PCI window not below 4 GiB";
    else if (cfg->mmio64_size && cfg->mmio64_base + cfg->mmio64_size < cfg->mmio64_base)
        why = "64-bit PCI window wraps";
    for (unsigned i = 0; !why && i < cfg->n_cpus; i++) {
        if (cfg->apic_ids[i] == UINT32_MAX)
            why = "APIC ID 0xffffffff";
        for (unsigned j = 0; !why && j < i; j++)
            if (cfg->apic_ids[j] == cfg->apic_ids[i])
                why = "duplicate APIC ID";
    }
    if (why)
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG, "ACPI: %s", why);
    return !why;
}

static void builder_init(Builder *b, uint64_t base)
{
    b->area = g_byte_array_new();
    b->base = base;
    b->pointers = g_array_new(FALSE, FALSE, sizeof(Span));
    b->tables = g_array_new(FALSE, FALSE, sizeof(Span));
}

static void builder_clear(Builder *b)
{
    g_clear_pointer(&b->area, g_byte_array_unref);
    g_clear_pointer(&b->pointers, g_array_unref);
    g_clear_pointer(&b->tables, g_array_unref);
}

/* Everything but the RSDP, appended to b->area; the RSDP is returned. */
static bool build_tables(Builder *b, const HgrAcpiConfig *cfg, Rsdp *rsdp, GError **error)
{
    uint64_t tables[3];

    if (!check_config(cfg, error))
        return false;
    uint64_t facs = build_facs(b);
    uint64_t dsdt = build_dsdt(b, cfg, error);
    if (!dsdt)
        return false;
    tables[0] = build_fadt(b, facs, dsdt);
    tables[1] = build_madt(b, cfg);
    tables[2] = build_mcfg(b);
    *rsdp = build_roots(b, tables, G_N_ELEMENTS(tables));
    if (b->area->len > HGR_PC_ACPI_SIZE) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "ACPI: tables for %u CPUs need %u bytes, more than the %u-byte area",
                    cfg->n_cpus, b->area->len, (unsigned)HGR_PC_ACPI_SIZE);
        return false;
    }
    return true;
}

bool hgr_acpi_build(const HgrGuestMem *mem, const HgrAcpiConfig *cfg, uint64_t *rsdp,
                    GError **error)
{
    Builder b;
    Rsdp r;
    bool ok = false;

    builder_init(&b, HGR_PC_ACPI_BASE);
    /* RSDP first, at the base: filled in last, once the roots exist. */
    Rsdp blank = { 0 };
    uint64_t rsdp_gpa = place(&b, &blank, sizeof(blank), 16);
    if (!build_tables(&b, cfg, &r, error))
        goto out;
    memcpy(b.area->data + (rsdp_gpa - HGR_PC_ACPI_BASE), &r, sizeof(r));

    guint used = b.area->len;
    g_byte_array_set_size(b.area, HGR_PC_ACPI_SIZE);   /* new bytes are not zeroed */
    memset(b.area->data + used, 0, HGR_PC_ACPI_SIZE - used);
    if (!hgr_mem_write(mem, HGR_PC_ACPI_BASE, b.area->data, HGR_PC_ACPI_SIZE)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY,
                    "ACPI: the table area [0x%x, 0x%x) is not guest RAM",
                    HGR_PC_ACPI_BASE, HGR_PC_ACPI_BASE + HGR_PC_ACPI_SIZE);
        goto out;
    }
    *rsdp = rsdp_gpa;
    ok = true;
out:
    builder_clear(&b);
    return ok;
}

/* QEMU's BIOS linker/loader command, 128 bytes, little-endian. */
typedef struct PACKED {
    uint32_t command;
    union {
        struct PACKED {
            char file[HGR_ACPI_LOADER_FILESZ];
            uint32_t align;
            uint8_t zone;
        } alloc;
        struct PACKED {
            char dest_file[HGR_ACPI_LOADER_FILESZ];
            char src_file[HGR_ACPI_LOADER_FILESZ];
            uint32_t offset;
            uint8_t size;
        } pointer;
        struct PACKED {
            char file[HGR_ACPI_LOADER_FILESZ];
            uint32_t offset;
            uint32_t start;
            uint32_t length;
        } cksum;
        uint8_t pad[124];
    };
} LoaderEntry;
G_STATIC_ASSERT(sizeof(LoaderEntry) == HGR_ACPI_LOADER_ENTRY_SIZE);

static void loader_alloc(GByteArray *l, const char *file, uint32_t align, uint8_t zone)
{
    LoaderEntry e = { .command = HGR_ACPI_LOADER_ALLOCATE };

    g_strlcpy(e.alloc.file, file, sizeof(e.alloc.file));
    e.alloc.align = align;
    e.alloc.zone = zone;
    g_byte_array_append(l, (const uint8_t *)&e, sizeof(e));
}

static void loader_pointer(GByteArray *l, const char *dest, uint32_t offset, uint8_t size)
{
    LoaderEntry e = { .command = HGR_ACPI_LOADER_ADD_POINTER };

    g_strlcpy(e.pointer.dest_file, dest, sizeof(e.pointer.dest_file));
    g_strlcpy(e.pointer.src_file, HGR_ACPI_FILE_TABLES, sizeof(e.pointer.src_file));
    e.pointer.offset = offset;
    e.pointer.size = size;
    g_byte_array_append(l, (const uint8_t *)&e, sizeof(e));
}

static void loader_checksum(GByteArray *l, const char *file, uint32_t offset, uint32_t start,
                            uint32_t length)
{
    LoaderEntry e = { .command = HGR_ACPI_LOADER_ADD_CHECKSUM };

    g_strlcpy(e.cksum.file, file, sizeof(e.cksum.file));
    e.cksum.offset = offset;
    e.cksum.start = start;
    e.cksum.length = length;
    g_byte_array_append(l, (const uint8_t *)&e, sizeof(e));
}

/* Every pointer is patched before any checksum is summed: a checksum taken
 * before a later patch to its table would be stale. */
static GBytes *loader_script(const Builder *b)
{
    GByteArray *l = g_byte_array_new();

    loader_alloc(l, HGR_ACPI_FILE_TABLES, 64, HGR_ACPI_LOADER_ZONE_HIGH);   /* FACS: 64 */
    loader_alloc(l, HGR_ACPI_FILE_RSDP, 16, HGR_ACPI_LOADER_ZONE_FSEG);
    for (guint i = 0; i < b->pointers->len; i++) {
        const Span *p = &g_array_index(b->pointers, Span, i);
        loader_pointer(l, HGR_ACPI_FILE_TABLES, p->offset, (uint8_t)p->size);
    }
    loader_pointer(l, HGR_ACPI_FILE_RSDP, offsetof(Rsdp, rsdt), 4);
    loader_pointer(l, HGR_ACPI_FILE_RSDP, offsetof(Rsdp, xsdt), 8);
    for (guint i = 0; i < b->tables->len; i++) {
        const Span *t = &g_array_index(b->tables, Span, i);
        loader_checksum(l, HGR_ACPI_FILE_TABLES, t->offset + offsetof(AcpiHeader, checksum),
                        t->offset, t->size);
    }
    loader_checksum(l, HGR_ACPI_FILE_RSDP, offsetof(Rsdp, checksum), 0, 20);
    loader_checksum(l, HGR_ACPI_FILE_RSDP, offsetof(Rsdp, ext_checksum), 0, sizeof(Rsdp));
    return g_byte_array_free_to_bytes(l);
}

bool hgr_acpi_build_firmware(const HgrAcpiConfig *cfg, HgrAcpiBlobs *out, GError **error)
{
    Builder b;
    Rsdp r;
    bool ok = false;

    /* Built at address 0: every pointer holds an offset in the tables file,
     * and the firmware adds where it put the file. */
    builder_init(&b, 0);
    if (build_tables(&b, cfg, &r, error)) {
        /* Checksums are the loader's to fill in, over fields that start at
         * zero: OVMF stores the sum of the range as the checksum (SeaBIOS
         * subtracts it from what is there), so a byte left over from here
         * makes every table fail OVMF's check, and it installs none. */
        for (guint i = 0; i < b.tables->len; i++) {
            const Span *t = &g_array_index(b.tables, Span, i);
            b.area->data[t->offset + offsetof(AcpiHeader, checksum)] = 0;
        }
        r.checksum = r.ext_checksum = 0;
        out->rsdp = g_bytes_new(&r, sizeof(r));
        out->loader = loader_script(&b);
        out->tables = g_byte_array_free_to_bytes(g_steal_pointer(&b.area));
        ok = true;
    }
    builder_clear(&b);
    return ok;
}

void hgr_acpi_blobs_clear(HgrAcpiBlobs *blobs)
{
    g_clear_pointer(&blobs->tables, g_bytes_unref);
    g_clear_pointer(&blobs->rsdp, g_bytes_unref);
    g_clear_pointer(&blobs->loader, g_bytes_unref);
}
