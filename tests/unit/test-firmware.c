/* test-firmware.c — OVMF as Hangar's PC presents it, without KVM: the two
 * flash chips where OVMF looks for them, the fw_cfg items it reads (RAM
 * map, boot order, ACPI loader, a kernel for direct boot), and variable
 * stores that are damaged, of the wrong size or missing, refused with the
 * reset offered and left as they were. Uses Debian's ovmf package. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/firmware.h"
#include "core/pc.h"
#include "hw/fw-cfg.h"
#include "legacy-board.h"

#define RAM_SIZE (64u << 20)
#define FOUR_GIB (1ull << 32)

typedef struct {
    char *dir;
    char *vars;          /* the VM's store: a fresh copy of the template */
    HgrVmConfig *config;
} Fixture;

static bool have_ovmf(void)
{
    if (access(HGR_OVMF_CODE_PATH, R_OK) == 0 && access(HGR_OVMF_VARS_PATH, R_OK) == 0)
        return true;
    g_printerr("SKIP: " HGR_OVMF_CODE_PATH " or its VARS is missing (the ovmf package)\n");
    g_test_skip("SKIP: no OVMF here (install the ovmf package)");
    return false;
}

static void fixture_init(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    f->dir = g_dir_make_tmp("hangar-uefi-XXXXXX", NULL);
    f->vars = g_build_filename(f->dir, "nvram.fd", NULL);
    f->config = hgr_vm_config_new();
    f->config->firmware = HGR_FIRMWARE_UEFI;
    f->config->nvram_path = g_strdup(f->vars);
    if (access(HGR_OVMF_VARS_PATH, R_OK) == 0) {
        g_assert_true(hgr_firmware_reset_vars(f->vars, &err));
        g_assert_no_error(err);
    }
}

static void fixture_clear(Fixture *f, gconstpointer data)
{
    g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        g_unlink(p);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->vars);
    hgr_vm_config_free(f->config);
}

static GBytes *read_file(const char *path)
{
    g_autofree char *data = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return g_bytes_new_take(g_steal_pointer(&data), len);
}

/* Both chips realized on a test board: the reset vector reads OVMF's last
 * 16 bytes, the store sits right below the code, the two fill the 4 MiB
 * below 4 GiB, and KVM's private pages are outside them. */
static void test_flash_layout(Fixture *f, gconstpointer data)
{
    if (!have_ovmf())
        return;
    g_autoptr(GError) err = NULL;
    LegacyBoard tb;
    HgrFw *fw = hgr_fw_open(f->config, &err);
    g_assert_no_error(err);
    g_assert_nonnull(fw);
    g_assert_cmpuint(hgr_fw_n_flash(fw), ==, 2);

    g_autoptr(GBytes) code = read_file(HGR_OVMF_CODE_PATH);
    gsize code_len;
    const uint8_t *code_data = g_bytes_get_data(code, &code_len);
    uint64_t code_gpa = hgr_fw_flash_gpa(fw, HGR_FW_FLASH_CODE);
    uint64_t vars_gpa = hgr_fw_flash_gpa(fw, HGR_FW_FLASH_VARS);
    g_assert_cmphex(code_gpa, ==, FOUR_GIB - code_len);
    g_assert_cmphex(vars_gpa, ==, FOUR_GIB - (4u << 20));
    g_assert_cmphex(vars_gpa + 540672, ==, code_gpa);
    g_assert_cmphex(HGR_PC_KVM_PRIVATE_BASE + HGR_PC_KVM_PRIVATE_SIZE, <=, vars_gpa);

    legacy_board_init(&tb);
    HgrDevice *devs[2];
    for (unsigned u = 0; u < 2; u++) {
        devs[u] = hgr_fw_take_flash(fw, u);
        legacy_realize(&tb, devs[u]);
    }
    uint8_t vec[16];
    for (unsigned i = 0; i < 16; i++) {
        g_assert_true(hgr_io_bus_dispatch(&tb.mmio, FOUR_GIB - 16 + i, &vec[i], 1, false));
    }
    g_assert_cmpmem(vec, 16, code_data + code_len - 16, 16);
    uint8_t sig[4];
    for (unsigned i = 0; i < 4; i++)
        g_assert_true(hgr_io_bus_dispatch(&tb.mmio, vars_gpa + 40 + i, &sig[i], 1, false));
    g_assert_cmpmem(sig, 4, "_FVH", 4);
    /* Nothing answers just below the store: OVMF's 4 MiB and no more. */
    uint8_t below = 0;
    g_assert_false(hgr_io_bus_dispatch(&tb.mmio, vars_gpa - 1, &below, 1, false));

    /* The code chip refuses a program; the store takes one. */
    uint8_t cmd = 0x40, val = 0x00;
    hgr_io_bus_dispatch(&tb.mmio, code_gpa, &cmd, 1, true);
    hgr_io_bus_dispatch(&tb.mmio, code_gpa, &val, 1, true);
    uint8_t status = 0;
    hgr_io_bus_dispatch(&tb.mmio, code_gpa, &status, 1, false);
    g_assert_cmphex(status & 0x10, ==, 0x10);           /* program error */
    for (unsigned u = 0; u < 2; u++)
        hgr_device_free(devs[u]);
    legacy_board_clear(&tb);
    hgr_fw_free(fw);
}

/* A bzImage as far as the loader looks: "HdrS" and setup_sects. */
static char *fake_kernel(const char *dir, gsize *len)
{
    g_autofree uint8_t *k = g_malloc0(16384);
    char *path = g_build_filename(dir, "vmlinuz", NULL);

    for (unsigned i = 0; i < 16384; i++)
        k[i] = (uint8_t)(i * 7);
    k[0x1f1] = 3;                                       /* setup: (3 + 1) * 512 */
    memcpy(k + 0x202, "HdrS", 4);
    g_assert_true(g_file_set_contents(path, (char *)k, 16384, NULL));
    *len = 16384;
    return path;
}

typedef struct {
    LegacyBoard tb;
    HgrDevice *fw_cfg;
} CfgBoard;

static void item(CfgBoard *b, uint16_t key, void *buf, size_t len)
{
    legacy_out(&b->tb, HGR_FW_CFG_PORT, key, 2);
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = legacy_inb(&b->tb, HGR_FW_CFG_PORT + 1);
}

static uint32_t item_u32(CfgBoard *b, uint16_t key)
{
    uint32_t v = 0;
    item(b, key, &v, 4);
    return GUINT32_FROM_LE(v);
}

/* What OVMF reads through fw_cfg, read back through the ports as it would. */
static void test_fw_cfg_items(Fixture *f, gconstpointer data)
{
    if (!have_ovmf())
        return;
    g_autoptr(GError) err = NULL;
    gsize klen;
    g_autofree char *kernel = fake_kernel(f->dir, &klen);
    g_autofree char *initrd = g_build_filename(f->dir, "initrd", NULL);
    g_assert_true(g_file_set_contents(initrd, "070701-an-initrd", 16, NULL));
    f->config->kernel = g_strdup(kernel);
    f->config->initrd = g_strdup(initrd);
    f->config->cmdline = g_strdup("console=ttyS0 quiet");
    f->config->cdrom = g_strdup("unused.iso");

    HgrFw *fw = hgr_fw_open(f->config, &err);
    g_assert_no_error(err);
    g_autofree uint8_t *ram = g_malloc0(RAM_SIZE);
    HgrGuestMem mem;
    hgr_mem_init_pc(&mem, ram, RAM_SIZE);
    CfgBoard b;
    legacy_board_init(&b.tb);
    b.fw_cfg = hgr_fw_new_fw_cfg(fw, &mem, 2);
    legacy_realize(&b.tb, b.fw_cfg);

    uint32_t apic[2] = { 0, 1 };
    HgrFwDrive disks[2] = { { HGR_DISK_BUS_NVME, 4, 0 }, { HGR_DISK_BUS_SATA, 3, 0 } };
    HgrFwDrive cd = { HGR_DISK_BUS_SATA, 3, 1 };
    HgrFwMachine m = {
        .ram_size = RAM_SIZE, .mem = &mem,
        .acpi = { .n_cpus = 2, .apic_ids = apic, .mmio32_base = HGR_PCI_MMIO_BASE,
                  .mmio32_size = HGR_PCI_MMIO_SIZE, .mmio64_base = FOUR_GIB,
                  .mmio64_size = HGR_PCI_MMIO64_SIZE },
        .disks = disks, .n_disks = 2, .cdrom = &cd, .boot = HGR_BOOT_CDROM };
    g_assert_true(hgr_fw_add_tables(fw, b.fw_cfg, &m, &err));
    g_assert_no_error(err);

    /* etc/e820: RAM adds up to the VM's, the KVM pages are reserved. */
    size_t len;
    const uint8_t *e820 = hgr_fw_cfg_file(b.fw_cfg, "etc/e820", &len);
    g_assert_nonnull(e820);
    g_assert_cmpuint(len % 20, ==, 0);
    uint64_t ram_total = 0;
    bool kvm_reserved = false;
    for (size_t i = 0; i < len; i += 20) {
        uint64_t addr, size;
        uint32_t type;
        memcpy(&addr, e820 + i, 8);
        memcpy(&size, e820 + i + 8, 8);
        memcpy(&type, e820 + i + 16, 4);
        if (type == 1)
            ram_total += size;
        kvm_reserved |= type == 2 && addr == HGR_PC_KVM_PRIVATE_BASE &&
                        size == HGR_PC_KVM_PRIVATE_SIZE;
        /* OVMF reserves the ECAM itself: no second, overlapping entry. */
        g_assert_false(type == 2 && addr == HGR_PCI_ECAM_BASE);
    }
    g_assert_cmpuint(ram_total, ==, mem.ram_size);
    g_assert_true(kvm_reserved);

    /* bootorder: the CD first, then the disks in order, as OVMF's
     * QemuBootOrderLib parses OpenFirmware paths. */
    const char *order = (const char *)hgr_fw_cfg_file(b.fw_cfg, "bootorder", &len);
    g_assert_nonnull(order);
    g_assert_cmpuint(order[len - 1], ==, '\0');
    g_assert_cmpstr(order, ==, "/pci@i0cf8/pci8086,2922@3/drive@1/disk@0\n"
                               "/pci@i0cf8/nvme@4/namespace@1,0\n"
                               "/pci@i0cf8/pci8086,2922@3/drive@0/disk@0");

    /* The ACPI tables come with the loader script OVMF runs. */
    const uint8_t *loader = hgr_fw_cfg_file(b.fw_cfg, "etc/table-loader", &len);
    g_assert_nonnull(loader);
    g_assert_cmpuint(len % 128, ==, 0);
    g_assert_cmpuint(GUINT32_FROM_LE(*(const uint32_t *)loader), ==, 1);   /* ALLOCATE */
    const uint8_t *rsdp = hgr_fw_cfg_file(b.fw_cfg, "etc/acpi/rsdp", &len);
    g_assert_nonnull(rsdp);
    g_assert_cmpmem(rsdp, 8, "RSD PTR ", 8);
    g_assert_nonnull(hgr_fw_cfg_file(b.fw_cfg, "etc/acpi/tables", &len));

    /* SMBIOS: a 2.x entry point and structures that end with type 127
     * (test-smbios has dmidecode judge their contents). */
    const uint8_t *anchor = hgr_fw_cfg_file(b.fw_cfg, "etc/smbios/smbios-anchor", &len);
    g_assert_nonnull(anchor);
    g_assert_cmpuint(len, ==, 31);
    g_assert_cmpmem(anchor, 4, "_SM_", 4);
    size_t tables_len;
    const uint8_t *tables = hgr_fw_cfg_file(b.fw_cfg, "etc/smbios/smbios-tables", &tables_len);
    g_assert_nonnull(tables);
    g_assert_cmpuint(anchor[0x16] | anchor[0x17] << 8, ==, tables_len);
    g_assert_cmpmem(tables + tables_len - 6, 6, "\x7f\x04\x00\x7f\x00\x00", 6);

    /* The kernel split as QEMU splits it, which OVMF joins again. */
    g_autoptr(GBytes) kb = read_file(kernel);
    const uint8_t *kd = g_bytes_get_data(kb, NULL);
    g_assert_cmpuint(item_u32(&b, HGR_FW_CFG_SETUP_SIZE), ==, 2048);
    g_assert_cmpuint(item_u32(&b, HGR_FW_CFG_KERNEL_SIZE), ==, klen - 2048);
    g_autofree uint8_t *setup = g_malloc(2048), *body = g_malloc(klen - 2048);
    item(&b, HGR_FW_CFG_SETUP_DATA, setup, 2048);
    item(&b, HGR_FW_CFG_KERNEL_DATA, body, klen - 2048);
    g_assert_cmpmem(setup, 2048, kd, 2048);
    g_assert_cmpmem(body, klen - 2048, kd + 2048, klen - 2048);
    g_assert_cmpuint(item_u32(&b, HGR_FW_CFG_INITRD_SIZE), ==, 16);
    char rd[16];
    item(&b, HGR_FW_CFG_INITRD_DATA, rd, 16);
    g_assert_cmpmem(rd, 16, "070701-an-initrd", 16);
    g_assert_cmpuint(item_u32(&b, HGR_FW_CFG_CMDLINE_SIZE), ==, strlen("console=ttyS0 quiet") + 1);
    char cmdline[20];
    item(&b, HGR_FW_CFG_CMDLINE_DATA, cmdline, sizeof(cmdline));
    g_assert_cmpstr(cmdline, ==, "console=ttyS0 quiet");

    hgr_device_free(b.fw_cfg);
    legacy_board_clear(&b.tb);
    hgr_fw_free(fw);
}

/* hgr_fw_open fails, the message names the store and offers the reset, and
 * the file is byte for byte what it was. */
static void expect_refused(Fixture *f, const char *why)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) before = read_file(f->vars);

    HgrFw *fw = hgr_fw_open(f->config, &err);
    g_assert_null(fw);
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, f->vars));
    g_assert_nonnull(strstr(err->message, why));
    g_autofree char *offer = g_strdup_printf("hangarctl firmware reset-vars %s", f->vars);
    g_assert_nonnull(strstr(err->message, offer));
    g_autoptr(GBytes) after = read_file(f->vars);
    g_assert_true(g_bytes_equal(before, after));
}

/* Flips bits in place (same inode, as a disk error or a crash would). */
static void corrupt_at(Fixture *f, long off, uint8_t xor)
{
    int fd = open(f->vars, O_RDWR);
    uint8_t b = 0;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, &b, 1, off), ==, 1);
    b ^= xor;
    g_assert_cmpint(pwrite(fd, &b, 1, off), ==, 1);
    close(fd);
}

static void test_vars_bad_signature(Fixture *f, gconstpointer data)
{
    if (!have_ovmf())
        return;
    corrupt_at(f, 41, 0xff);                /* "_FVH" */
    expect_refused(f, "corrupt");
}

static void test_vars_bad_checksum(Fixture *f, gconstpointer data)
{
    if (!have_ovmf())
        return;
    corrupt_at(f, 44, 0x01);                /* attributes: the header sum breaks */
    expect_refused(f, "checksum");
}

static void test_vars_unformatted(Fixture *f, gconstpointer data)
{
    if (!have_ovmf())
        return;
    corrupt_at(f, 72 + 20, 0xff);           /* the variable store's Format byte */
    expect_refused(f, "not formatted");
}

static void test_vars_wrong_size(Fixture *f, gconstpointer data)
{
    if (!have_ovmf())
        return;
    /* The 2 MiB build's store with the 4 MiB build's code. */
    g_autoptr(GBytes) small = read_file("/usr/share/OVMF/OVMF_VARS.fd");
    g_assert_true(g_file_set_contents(f->vars, g_bytes_get_data(small, NULL),
                                      g_bytes_get_size(small), NULL));
    expect_refused(f, "bytes, but this OVMF needs 540672");
}

static void test_vars_truncated(Fixture *f, gconstpointer data)
{
    if (!have_ovmf())
        return;
    g_assert_cmpint(truncate(f->vars, 100), ==, 0);
    expect_refused(f, "bytes");
}

static void test_vars_missing(Fixture *f, gconstpointer data)
{
    if (!have_ovmf())
        return;
    g_autoptr(GError) err = NULL;
    g_unlink(f->vars);
    g_assert_null(hgr_fw_open(f->config, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
    g_assert_nonnull(strstr(err->message, "does not exist"));
    g_assert_nonnull(strstr(err->message, "reset-vars"));
    g_assert_false(g_file_test(f->vars, G_FILE_TEST_EXISTS));    /* not made behind our back */
}

/* A FIFO or a device where the store should be: refused before any open
 * that could block. */
static void test_vars_not_a_file(Fixture *f, gconstpointer data)
{
    if (!have_ovmf())
        return;
    g_autoptr(GError) err = NULL;
    g_unlink(f->vars);
    g_assert_cmpint(mkfifo(f->vars, 0600), ==, 0);
    g_assert_null(hgr_fw_open(f->config, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
    g_assert_nonnull(strstr(err->message, "not a regular file"));
    g_clear_error(&err);
    g_free(f->config->nvram_path);
    f->config->nvram_path = g_strdup("/dev/zero");
    g_assert_null(hgr_fw_open(f->config, &err));
    g_assert_nonnull(strstr(err->message, "not a regular file"));
    g_clear_error(&err);
    /* And the code: a FIFO is not OVMF. */
    g_free(f->config->nvram_path);
    f->config->nvram_path = g_strdup(f->vars);
    f->config->firmware_path = g_strdup(f->vars);
    g_assert_null(hgr_fw_open(f->config, &err));
    g_assert_nonnull(strstr(err->message, "is not OVMF code"));
}

static void test_code_missing(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    f->config->firmware_path = g_build_filename(f->dir, "OVMF_CODE_4M.fd", NULL);
    g_assert_null(hgr_fw_open(f->config, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
    g_assert_nonnull(strstr(err->message, "install the ovmf package"));
}

/* The reset makes a store OVMF accepts, and is refused while a VM holds it. */
static void test_reset_vars(Fixture *f, gconstpointer data)
{
    if (!have_ovmf())
        return;
    g_autoptr(GError) err = NULL;

    corrupt_at(f, 41, 0xff);
    g_assert_true(hgr_firmware_reset_vars(f->vars, &err));
    g_assert_no_error(err);
    g_assert_true(hgr_fw_check_vars(f->vars, 540672, &err));
    g_assert_no_error(err);

    HgrFw *fw = hgr_fw_open(f->config, &err);           /* locks the store */
    g_assert_no_error(err);
    corrupt_at(f, 0, 0x5a);                             /* not a header byte checked */
    g_assert_false(hgr_firmware_reset_vars(f->vars, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
    g_assert_nonnull(strstr(err->message, "in use"));
    g_autofree char *d = NULL;
    g_assert_true(g_file_get_contents(f->vars, &d, NULL, NULL));
    g_assert_cmphex((uint8_t)d[0], ==, 0x5a);           /* left alone */
    hgr_fw_free(fw);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_init, fn, fixture_clear)
    ADD("/vmm/firmware/uefi/flash-layout", test_flash_layout);
    ADD("/vmm/firmware/uefi/fw-cfg-items", test_fw_cfg_items);
    ADD("/vmm/firmware/uefi/vars-bad-signature", test_vars_bad_signature);
    ADD("/vmm/firmware/uefi/vars-bad-checksum", test_vars_bad_checksum);
    ADD("/vmm/firmware/uefi/vars-unformatted", test_vars_unformatted);
    ADD("/vmm/firmware/uefi/vars-wrong-size", test_vars_wrong_size);
    ADD("/vmm/firmware/uefi/vars-truncated", test_vars_truncated);
    ADD("/vmm/firmware/uefi/vars-missing", test_vars_missing);
    ADD("/vmm/firmware/uefi/vars-not-a-file", test_vars_not_a_file);
    ADD("/vmm/firmware/uefi/code-missing", test_code_missing);
    ADD("/vmm/firmware/uefi/reset-vars", test_reset_vars);
    return g_test_run();
}
