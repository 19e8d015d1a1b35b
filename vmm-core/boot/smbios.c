/* smbios.c — SMBIOS 2.8 structures for Hangar's PC: system (1), chassis
 * (3), one processor (4) per vCPU, the memory array (16), its device (17)
 * and where it is mapped (19), boot status (32), end (127). Type 0 (the
 * BIOS) is left to the firmware, which knows its own name and version. */
#include "smbios.h"

#include <string.h>

#define HANDLE_SYSTEM  0x0100
#define HANDLE_CHASSIS 0x0300
#define HANDLE_CPU     0x0400
#define HANDLE_ARRAY   0x1000
#define HANDLE_DIMM    0x1100
#define HANDLE_MAP     0x1300
#define HANDLE_BOOT    0x2000
#define HANDLE_END     0x7f00

typedef struct {
    GByteArray *out;
    unsigned count;
    unsigned max_size;
} Builder;

static void put16(uint8_t *p, uint16_t v) { v = GUINT16_TO_LE(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = GUINT32_TO_LE(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = GUINT64_TO_LE(v); memcpy(p, &v, 8); }

/* One structure: its formatted area (type, length and handle filled in
 * here) and its strings, NULL-terminated; string n is referred to as n. */
static void add(Builder *b, uint8_t *s, uint8_t type, uint8_t len, uint16_t handle,
                const char *const *strings)
{
    unsigned start = b->out->len;

    s[0] = type;
    s[1] = len;
    put16(s + 2, handle);
    g_byte_array_append(b->out, s, len);
    for (const char *const *p = strings; p && *p; p++)
        g_byte_array_append(b->out, (const uint8_t *)*p, strlen(*p) + 1);
    if (!strings || !strings[0])
        g_byte_array_append(b->out, (const uint8_t *)"", 1);
    g_byte_array_append(b->out, (const uint8_t *)"", 1);
    b->count++;
    b->max_size = MAX(b->max_size, b->out->len - start);
}

/* SMBIOS 2.6 and later store the first three fields of the UUID little-
 * endian (as Windows and dmidecode read them), the rest as written. */
static void put_uuid(uint8_t *p, const uint8_t uuid[16])
{
    static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6,
                                       8, 9, 10, 11, 12, 13, 14, 15 };
    for (unsigned i = 0; i < 16; i++)
        p[i] = uuid[order[i]];
}

/* A machine with a UUID also gets it as its serial number (which software
 * that licenses per machine reads too): stable, and unique per VM. */
static void add_system(Builder *b, const uint8_t *uuid)
{
    uint8_t s[0x1b] = { 0 };
    g_autofree char *serial = NULL;
    const char *str[] = { "Hangar", "Hangar PC", "1.0", "Hangar PC", NULL, NULL };

    s[4] = 1;                       /* manufacturer */
    s[5] = 2;                       /* product */
    s[6] = 3;                       /* version */
    if (uuid) {
        const uint8_t *u = uuid;
        serial = g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                                 "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4],
                                 u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                                 u[14], u[15]);
        str[4] = serial;
        s[7] = 5;                   /* serial number */
        put_uuid(s + 8, uuid);
    }
    s[0x18] = 6;                    /* woken by the power switch */
    s[0x1a] = 4;                    /* family */
    add(b, s, 1, sizeof(s), HANDLE_SYSTEM, str);
}

static void add_chassis(Builder *b)
{
    uint8_t s[0x15] = { 0 };
    const char *str[] = { "Hangar", NULL };

    s[4] = 1;                       /* manufacturer */
    s[5] = 0x01;                    /* type: other */
    s[9] = s[10] = s[11] = 3;       /* boot-up, power supply, thermal: safe */
    s[12] = 2;                      /* security: unknown */
    add(b, s, 3, sizeof(s), HANDLE_CHASSIS, str);
}

static void add_cpu(Builder *b, unsigned i)
{
    uint8_t s[0x2a] = { 0 };
    g_autofree char *socket = g_strdup_printf("CPU %u", i);
    const char *str[] = { socket, "Hangar", "virtual CPU", NULL };

    s[4] = 1;                       /* socket designation */
    s[5] = 3;                       /* central processor */
    s[6] = 0x01;                    /* family: other */
    s[7] = 2;                       /* manufacturer */
    s[0x10] = 3;                    /* version */
    put16(s + 0x14, 2000);          /* max speed, MHz */
    put16(s + 0x16, 2000);          /* current speed */
    s[0x18] = 0x41;                 /* socket populated, CPU enabled */
    s[0x19] = 0x01;                 /* upgrade: other */
    put16(s + 0x1a, 0xffff);        /* no cache structures */
    put16(s + 0x1c, 0xffff);
    put16(s + 0x1e, 0xffff);
    s[0x23] = s[0x24] = s[0x25] = 1;    /* one core, enabled, one thread */
    put16(s + 0x26, 0x02);          /* characteristics: unknown */
    put16(s + 0x28, 0x01);          /* family 2: other */
    add(b, s, 4, sizeof(s), (uint16_t)(HANDLE_CPU + i), str);
}

static void add_memory(Builder *b, uint64_t ram_size, const HgrGuestMem *mem)
{
    uint64_t kib = ram_size >> 10, mib = ram_size >> 20;
    uint8_t array[0x17] = { 0 }, dimm[0x28] = { 0 };
    const char *dimm_str[] = { "DIMM 0", "Hangar", NULL };

    array[4] = 0x01;                /* location: other */
    array[5] = 0x03;                /* system memory */
    array[6] = 0x03;                /* no error correction */
    if (kib < 0x80000000u) {
        put32(array + 7, (uint32_t)kib);
    } else {
        put32(array + 7, 0x80000000u);
        put64(array + 0x0f, ram_size);
    }
    put16(array + 0x0b, 0xfffe);    /* no error information */
    put16(array + 0x0d, 1);
    add(b, array, 16, sizeof(array), HANDLE_ARRAY, NULL);

    put16(dimm + 4, HANDLE_ARRAY);
    put16(dimm + 6, 0xfffe);
    put16(dimm + 8, 0xffff);        /* widths unknown */
    put16(dimm + 0x0a, 0xffff);
    if (mib < 0x7fff) {
        put16(dimm + 0x0c, (uint16_t)mib);
    } else {
        put16(dimm + 0x0c, 0x7fff);
        put32(dimm + 0x1c, (uint32_t)MIN(mib, 0x7fffffffu));
    }
    dimm[0x0e] = 0x09;              /* DIMM */
    dimm[0x10] = 1;                 /* locator */
    dimm[0x12] = 0x07;              /* RAM */
    put16(dimm + 0x13, 0x02);       /* type detail: other */
    dimm[0x17] = 2;                 /* manufacturer */
    add(b, dimm, 17, sizeof(dimm), HANDLE_DIMM, dimm_str);

    /* Where it is mapped: below 4 GiB (the VGA hole is inside, as on a PC)
     * and above. */
    uint64_t low_end = 0, high_start = 0, high_end = 0;
    for (unsigned r = 0; r < mem->n_regions; r++) {
        uint64_t end = mem->regions[r].gpa + mem->regions[r].size;
        if (mem->regions[r].gpa < HGR_HIGHMEM_BASE) {
            low_end = MAX(low_end, end);
        } else {
            high_start = mem->regions[r].gpa;
            high_end = end;
        }
    }
    uint64_t ranges[2][2] = { { 0, low_end }, { high_start, high_end } };
    for (unsigned i = 0; i < 2; i++) {
        uint8_t map[0x1f] = { 0 };
        if (ranges[i][1] <= ranges[i][0])
            continue;
        uint64_t start = ranges[i][0], last = ranges[i][1] - 1;
        if (last >> 10 < 0xffffffffu) {
            put32(map + 4, (uint32_t)(start >> 10));
            put32(map + 8, (uint32_t)(last >> 10));
        } else {
            put32(map + 4, 0xffffffffu);
            put32(map + 8, 0xffffffffu);
            put64(map + 0x0f, start);
            put64(map + 0x17, last);
        }
        put16(map + 0x0c, HANDLE_ARRAY);
        map[0x0e] = 1;              /* partition width */
        add(b, map, 19, sizeof(map), (uint16_t)(HANDLE_MAP + i), NULL);
    }
}

static uint8_t checksum(const uint8_t *p, unsigned len)
{
    uint8_t sum = 0;
    for (unsigned i = 0; i < len; i++)
        sum += p[i];
    return (uint8_t)-sum;
}

void hgr_smbios_set_address(uint8_t a[HGR_SMBIOS_ANCHOR_SIZE], uint32_t addr)
{
    put32(a + 0x18, addr);
    a[0x15] = 0;
    a[0x15] = checksum(a + 0x10, 0x0f);             /* the "_DMI_" part */
    a[4] = 0;
    a[4] = checksum(a, HGR_SMBIOS_ANCHOR_SIZE);
}

void hgr_smbios_build(const HgrSmbiosConfig *cfg, GBytes **anchor, GBytes **tables)
{
    Builder b = { .out = g_byte_array_new() };
    uint8_t a[HGR_SMBIOS_ANCHOR_SIZE] = { 0 };
    uint8_t boot[0x0b] = { 0 }, end[4] = { 0 };

    add_system(&b, cfg->uuid);
    add_chassis(&b);
    /* The 2.1 entry point counts the table's length in 16 bits: about 72
     * bytes per processor caps them at a number no VM here comes near. */
    for (unsigned i = 0; i < MIN(cfg->n_cpus, 512u); i++)
        add_cpu(&b, i);
    add_memory(&b, cfg->ram_size, cfg->mem);
    add(&b, boot, 32, sizeof(boot), HANDLE_BOOT, NULL);     /* no errors detected */
    add(&b, end, 127, sizeof(end), HANDLE_END, NULL);

    memcpy(a, "_SM_", 4);
    a[5] = HGR_SMBIOS_ANCHOR_SIZE;
    a[6] = 2;                                       /* version 2.8 */
    a[7] = 8;
    put16(a + 8, (uint16_t)b.max_size);
    memcpy(a + 0x10, "_DMI_", 5);
    put16(a + 0x16, (uint16_t)b.out->len);
    put16(a + 0x1c, (uint16_t)b.count);
    a[0x1e] = 0x28;
    hgr_smbios_set_address(a, 0);
    *anchor = g_bytes_new(a, sizeof(a));
    *tables = g_byte_array_free_to_bytes(b.out);
}
