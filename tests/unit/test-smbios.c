/* test-smbios.c — the SMBIOS tables, judged by dmidecode (an independent
 * parser, as iasl judges the ACPI tables), from a dump file laid out the
 * way `dmidecode --dump-bin` writes one. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "boot/smbios.h"
#include "dmidecode-judge.h"

/* dmidecode's output (stdout and stderr) for the tables of a VM with
 * n_cpus, ram_size and uuid (16 bytes or NULL), or NULL (test skipped)
 * without dmidecode. */
static char *dmidecode_uuid(unsigned n_cpus, uint64_t ram_size, const uint8_t *uuid)
{
    g_autofree char *prog = dmi_find_dmidecode();
    if (!prog) {
        g_printerr("SKIP: dmidecode is missing (apt install dmidecode)\n");
        g_test_skip("SKIP: dmidecode is missing (apt install dmidecode)");
        return NULL;
    }
    /* Only the RAM's layout matters; it is never touched. */
    HgrGuestMem mem;
    hgr_mem_init_pc(&mem, (uint8_t *)0x1000, ram_size);
    HgrSmbiosConfig cfg = { .n_cpus = n_cpus, .ram_size = ram_size, .mem = &mem,
                            .uuid = uuid };
    g_autoptr(GBytes) anchor = NULL, tables = NULL;
    hgr_smbios_build(&cfg, &anchor, &tables);
    g_assert_cmpuint(g_bytes_get_size(anchor), ==, HGR_SMBIOS_ANCHOR_SIZE);

    /* The firmware's part, as dmidecode's dump format has it: the entry
     * point at 0 pointing at the table at 32. */
    g_autoptr(GByteArray) dump = g_byte_array_new();
    uint8_t a[32] = { 0 };
    memcpy(a, g_bytes_get_data(anchor, NULL), HGR_SMBIOS_ANCHOR_SIZE);
    hgr_smbios_set_address(a, 32);
    g_byte_array_append(dump, a, 32);
    g_byte_array_append(dump, g_bytes_get_data(tables, NULL), g_bytes_get_size(tables));
    g_autofree char *dir = g_dir_make_tmp("hangar-smbios-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "dmi.bin", NULL);
    g_assert_true(g_file_set_contents(path, (char *)dump->data, dump->len, NULL));
    char *out = dmi_decode_dump(prog, path);
    g_rmdir(dir);
    return out;
}

static char *dmidecode(unsigned n_cpus, uint64_t ram_size)
{
    return dmidecode_uuid(n_cpus, ram_size, NULL);
}

static unsigned count(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* What a guest's `dmidecode` shows: who made the machine, every CPU, the
 * memory and where it sits. */
static void test_small_vm(void)
{
    g_autofree char *out = dmidecode(2, 512ull << 20);
    if (!out)
        return;
    dmi_assert_clean(out);
    g_assert_nonnull(strstr(out, "SMBIOS 2.8 present."));
    g_assert_nonnull(strstr(out, "Manufacturer: Hangar"));
    g_assert_nonnull(strstr(out, "Product Name: Hangar PC"));
    g_assert_cmpuint(count(out, "Processor Information"), ==, 2);
    g_assert_nonnull(strstr(out, "Socket Designation: CPU 1"));
    g_assert_nonnull(strstr(out, "Size: 512 MB"));
    g_assert_nonnull(strstr(out, "Ending Address: 0x0001FFFFFFF"));
    g_assert_cmpuint(count(out, "Memory Array Mapped Address"), ==, 1);
    g_assert_nonnull(strstr(out, "End Of Table"));
}

/* More than fits below 4 GiB: two mapped ranges, the size in the wide
 * fields. */
static void test_large_vm(void)
{
    g_autofree char *out = dmidecode(8, 40ull << 30);
    if (!out)
        return;
    dmi_assert_clean(out);
    g_assert_cmpuint(count(out, "Processor Information"), ==, 8);
    g_assert_nonnull(strstr(out, "Size: 40 GB"));
    g_assert_nonnull(strstr(out, "Maximum Capacity: 40 GB"));
    g_assert_cmpuint(count(out, "Memory Array Mapped Address"), ==, 2);
    g_assert_nonnull(strstr(out, "Starting Address: 0x00100000000"));
}

/* The VM's UUID is the guest's machine identity (Windows activation,
 * /sys/class/dmi/id/product_uuid): dmidecode must print the very string
 * the VM was given. Its fields are all different, so a field stored in the
 * wrong byte order would show. */
static void test_uuid(void)
{
    static const uint8_t uuid[16] = { 0x4a, 0x1f, 0x09, 0xc2, 0x8b, 0x3e, 0x4d, 0x5a,
                                      0x9f, 0x61, 0x0c, 0x7e, 0x2b, 0x8d, 0x3a, 0x55 };
    g_autofree char *out = dmidecode_uuid(1, 256ull << 20, uuid);
    if (!out)
        return;
    dmi_assert_clean(out);
    g_assert_nonnull(strstr(out, "\tUUID: 4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55\n"));
    g_assert_cmpuint(count(out, "UUID:"), ==, 1);
    /* The system's serial number is the UUID too (stable, one per VM). */
    g_assert_nonnull(strstr(out, "\tSerial Number: 4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55\n"));
}

/* No UUID given: all zeros, as QEMU without -uuid, which dmidecode reports
 * as not settable. */
static void test_no_uuid(void)
{
    g_autofree char *out = dmidecode(1, 256ull << 20);
    if (!out)
        return;
    dmi_assert_clean(out);
    g_assert_nonnull(strstr(out, "\tUUID: Not Settable\n"));
    g_assert_nonnull(strstr(out, "System Information\n\tManufacturer: Hangar\n"
                                 "\tProduct Name: Hangar PC\n\tVersion: 1.0\n"
                                 "\tSerial Number: Not Specified\n"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/smbios/small-vm", test_small_vm);
    g_test_add_func("/vmm/smbios/large-vm", test_large_vm);
    g_test_add_func("/vmm/smbios/uuid", test_uuid);
    g_test_add_func("/vmm/smbios/no-uuid", test_no_uuid);
    return g_test_run();
}
