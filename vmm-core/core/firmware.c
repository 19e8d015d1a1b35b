/* firmware.c — the firmware's image in guest memory and the fw_cfg items
 * it reads. SeaBIOS is one ROM at 4 GiB - its size, its last 128 KiB also
 * at 0xE0000 as on a real board after shadowing. OVMF is two flash chips
 * as on QEMU's q35: the code (read-only, unit 0) ending at 4 GiB, the VM's
 * variable store (unit 1) right below it; OVMF was built for that layout. */
#include "firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../boot/smbios.h"
#include "../hw/fw-cfg.h"
#include "../hw/pflash.h"
#include "pc.h"

/* The BIOS area below 1 MiB: option ROMs from 0xC0000, then the last
 * 128 KiB of the BIOS image at 0xE0000 (RAM here, see pci-host.c on PAM). */
#define BIOS_AREA_BASE   0xC0000u
#define BIOS_SHADOW_BASE 0xE0000u
#define BIOS_SHADOW_SIZE 0x20000u
#define BIOS_ROM_MIN     BIOS_SHADOW_SIZE
#define BIOS_ROM_MAX     0x40000u
#define E820_RAM         1
#define E820_RESERVED    2

struct HgrFw {
    HgrFirmware kind;
    uint8_t *rom;                  /* the image, page-aligned host memory */
    size_t rom_size;
    GBytes *vgabios;               /* the VGA option ROM, handed over through fw_cfg */
    HgrDevice *flash[HGR_FW_FLASH_UNITS];   /* UEFI; NULL once the machine took it */
    uint64_t flash_gpa[HGR_FW_FLASH_UNITS];
    const uint8_t *code;           /* the code flash's contents, for its memory slot */
    uint64_t code_size;
    GBytes *kernel, *setup, *initrd;        /* UEFI direct boot through fw_cfg */
    char *cmdline;
};

static bool read_bios(HgrFw *fw, const char *path, GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *data = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, &err)) {
        if (g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                        "the BIOS %s is missing: install the seabios package "
                        "(apt install seabios)", path);
        else
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                        "cannot read the BIOS %s: %s", path, err->message);
        return false;
    }
    if (len < BIOS_ROM_MIN || len > BIOS_ROM_MAX || len % 0x10000) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                    "%s is not a BIOS image: %" G_GSIZE_FORMAT " bytes, where 128 or "
                    "256 KiB are expected", path, len);
        return false;
    }
    void *rom = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rom == MAP_FAILED) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY,
                    "cannot map the firmware: %s", g_strerror(errno));
        return false;
    }
    memcpy(rom, data, len);
    fw->rom = rom;
    fw->rom_size = len;
    return true;
}

static bool open_bios(HgrFw *fw, const HgrVmConfig *c, GError **error)
{
    const char *path = c->firmware_path ? c->firmware_path : HGR_SEABIOS_PATH;

    if (c->kernel || c->flat_image) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "a kernel cannot be booted through the BIOS yet: boot it directly "
                    "(firmware none) or from a disk");
        return false;
    }
    if (!read_bios(fw, path, error))
        return false;
    /* The VGA BIOS comes with SeaBIOS (same package); without it the screen
     * stays dark but the serial console still works, so say so and go on. */
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *vgabios = g_build_filename(dir, "vgabios-stdvga.bin", NULL);
    g_autoptr(GMappedFile) vf = g_mapped_file_new(vgabios, FALSE, NULL);
    if (vf)
        fw->vgabios = g_mapped_file_get_bytes(vf);
    else
        g_warning("%s is missing: the VM's screen stays dark (install the seabios package)",
                  vgabios);
    return true;
}

/* ---- OVMF ---- */

#define FV_SIGNATURE_OFFSET 40
#define FV_MIN_HEADER       56          /* up to the first block map entry */
#define VARSTORE_FORMATTED  0x5a
#define VARSTORE_HEALTHY    0xfe

/* The firmware volume OVMF keeps its variables in (gEfiSystemNvDataFvGuid). */
static const uint8_t nvdata_fv_guid[16] = {
    0x8d, 0x2b, 0xf1, 0xff, 0x96, 0x76, 0x8b, 0x4c,
    0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50 };

static bool vars_error(GError **error, const char *path, const char *why)
{
    g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                "the UEFI variable store %s %s; nothing was changed. To start over with "
                "empty variables (boot entries and settings are lost), run "
                "'hangarctl firmware reset-vars %s'", path, why, path);
    return false;
}

bool hgr_fw_check_vars(const char *path, uint64_t size, GError **error)
{
    g_autoptr(GError) err = NULL;
    struct stat st;

    /* Before opening: a FIFO would block us, a device is no store. */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return vars_error(error, path, "is not a regular file");
    g_autoptr(GMappedFile) f = g_mapped_file_new(path, FALSE, &err);
    if (!f) {
        if (g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return vars_error(error, path, "does not exist");
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                    "cannot read the UEFI variable store %s: %s", path, err->message);
        return false;
    }
    const uint8_t *d = (const uint8_t *)g_mapped_file_get_contents(f);
    uint64_t len = g_mapped_file_get_length(f);
    if (size && len != size) {
        g_autofree char *why = g_strdup_printf(
            "is %" G_GUINT64_FORMAT " bytes, but this OVMF needs %" G_GUINT64_FORMAT
            " (a store made for another OVMF build)", len, size);
        return vars_error(error, path, why);
    }
    if (len < HGR_PFLASH_SECTOR || len % HGR_PFLASH_SECTOR || len > HGR_PFLASH_MAX_SIZE)
        return vars_error(error, path, "has a size no flash chip has");
    if (memcmp(d + FV_SIGNATURE_OFFSET, "_FVH", 4) != 0 || memcmp(d + 16, nvdata_fv_guid, 16))
        return vars_error(error, path, "is corrupt: no variable firmware volume header");

    uint64_t fv_len = GUINT64_FROM_LE(*(const uint64_t *)(d + 32));
    uint16_t hdr_len = GUINT16_FROM_LE(*(const uint16_t *)(d + 48));
    uint16_t sum = 0;
    if (fv_len != len || hdr_len < FV_MIN_HEADER || hdr_len % 2 || hdr_len + 28u > len)
        return vars_error(error, path, "is corrupt: its volume header does not fit the file");
    for (unsigned i = 0; i < hdr_len; i += 2)
        sum += (uint16_t)(d[i] | d[i + 1] << 8);
    if (sum != 0)
        return vars_error(error, path, "is corrupt: its volume header checksum is wrong");
    /* VARIABLE_STORE_HEADER after the volume header: GUID, Size, Format, State. */
    uint32_t store = GUINT32_FROM_LE(*(const uint32_t *)(d + hdr_len + 16));
    if (store > len - hdr_len || d[hdr_len + 20] != VARSTORE_FORMATTED ||
        d[hdr_len + 21] != VARSTORE_HEALTHY)
        return vars_error(error, path, "is corrupt: its variable store is not formatted");
    return true;
}

/* Reads a kernel for OVMF's direct boot: QEMU's split of a bzImage into
 * the real-mode setup and the rest, which OVMF joins again. */
static bool read_kernel(HgrFw *fw, const HgrVmConfig *c, GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GMappedFile) k = g_mapped_file_new(c->kernel, FALSE, &err);

    if (!k) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KERNEL, "kernel %s: %s", c->kernel,
                    err->message);
        return false;
    }
    const uint8_t *d = (const uint8_t *)g_mapped_file_get_contents(k);
    gsize len = g_mapped_file_get_length(k);
    unsigned sects = len > 0x206 ? (d[0x1f1] ? d[0x1f1] : 4) : 0;
    gsize setup = (gsize)(sects + 1) * 512;
    if (len <= 0x206 || memcmp(d + 0x202, "HdrS", 4) != 0 || setup >= len) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KERNEL,
                    "%s is not a Linux kernel (bzImage)", c->kernel);
        return false;
    }
    g_autoptr(GBytes) all = g_mapped_file_get_bytes(k);
    fw->setup = g_bytes_new_from_bytes(all, 0, setup);
    fw->kernel = g_bytes_new_from_bytes(all, setup, len - setup);
    if (c->initrd) {
        g_autoptr(GMappedFile) i = g_mapped_file_new(c->initrd, FALSE, &err);
        if (!i) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_INITRD, "initrd %s: %s", c->initrd,
                        err->message);
            return false;
        }
        if (g_mapped_file_get_length(i) > G_MAXUINT32) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_INITRD,
                        "initrd %s: larger than 4 GiB", c->initrd);
            return false;
        }
        fw->initrd = g_mapped_file_get_bytes(i);
    }
    fw->cmdline = g_strdup(c->cmdline ? c->cmdline : "");
    return true;
}

static void add_blob(HgrDevice *f, uint16_t size_key, uint16_t data_key, GBytes *b)
{
    gsize len = 0;
    const void *data = b ? g_bytes_get_data(b, &len) : NULL;

    hgr_fw_cfg_add_u32(f, size_key, (uint32_t)len);
    if (len)
        hgr_fw_cfg_add_bytes(f, data_key, data, len);
}

/* The selectors QEMU's -kernel fills and OVMF's QemuKernelLoaderFsDxe reads. */
static void add_kernel(HgrFw *fw, HgrDevice *f)
{
    g_autoptr(GBytes) cmdline = g_bytes_new(fw->cmdline, strlen(fw->cmdline) + 1);

    add_blob(f, HGR_FW_CFG_SETUP_SIZE, HGR_FW_CFG_SETUP_DATA, fw->setup);
    add_blob(f, HGR_FW_CFG_KERNEL_SIZE, HGR_FW_CFG_KERNEL_DATA, fw->kernel);
    add_blob(f, HGR_FW_CFG_INITRD_SIZE, HGR_FW_CFG_INITRD_DATA, fw->initrd);
    add_blob(f, HGR_FW_CFG_CMDLINE_SIZE, HGR_FW_CFG_CMDLINE_DATA, cmdline);
}

/* A regular file's size; 0 for anything else (a FIFO would block the
 * open, a device has no size worth trusting). */
static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
}

static bool open_uefi(HgrFw *fw, const HgrVmConfig *c, GError **error)
{
    const char *code = c->firmware_path ? c->firmware_path : HGR_OVMF_CODE_PATH;

    if (c->flat_image) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "a flat image cannot be booted through UEFI");
        return false;
    }
    if (access(code, F_OK) != 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                    "the UEFI firmware %s is missing: install the ovmf package "
                    "(apt install ovmf)", code);
        return false;
    }
    if (!c->nvram_path) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "UEFI needs the VM's variable store (a copy of %s)", HGR_OVMF_VARS_PATH);
        return false;
    }
    /* OVMF is built for one layout: code and variables fill 2 or 4 MiB. */
    uint64_t code_size = file_size(code);
    uint64_t total = code_size > (2u << 20) ? 4u << 20 : 2u << 20;
    if (code_size < HGR_PFLASH_SECTOR || code_size >= total) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                    "%s is not OVMF code: %" G_GUINT64_FORMAT " bytes, where a 2 or 4 MiB "
                    "build is expected", code, code_size);
        return false;
    }
    if (!hgr_fw_check_vars(c->nvram_path, total - code_size, error))
        return false;
    fw->flash_gpa[HGR_FW_FLASH_CODE] = (1ULL << 32) - code_size;
    fw->flash_gpa[HGR_FW_FLASH_VARS] = (1ULL << 32) - total;
    fw->flash[HGR_FW_FLASH_CODE] = hgr_pflash_new("pflash.0", code,
                                                  fw->flash_gpa[HGR_FW_FLASH_CODE], true, error);
    if (!fw->flash[HGR_FW_FLASH_CODE])
        return false;
    fw->code = hgr_pflash_host_mem(fw->flash[HGR_FW_FLASH_CODE], &fw->code_size);
    fw->flash[HGR_FW_FLASH_VARS] = hgr_pflash_new("pflash.1", c->nvram_path,
                                                  fw->flash_gpa[HGR_FW_FLASH_VARS], false, error);
    if (!fw->flash[HGR_FW_FLASH_VARS])
        return false;
    return !c->kernel || read_kernel(fw, c, error);
}

bool hgr_firmware_reset_vars(const char *path, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    /* A running VM holds its store locked; replacing it under the VM would
     * lose what the guest writes next. */
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                    "%s: in use by a running virtual machine; stop it first", path);
        return false;
    }
    if (access(HGR_OVMF_VARS_PATH, F_OK) != 0) {
        if (fd >= 0)
            close(fd);
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                    "the UEFI variable store template %s is missing: install the ovmf "
                    "package (apt install ovmf)", HGR_OVMF_VARS_PATH);
        return false;
    }
    bool ok = hgr_pflash_copy_vars(HGR_OVMF_VARS_PATH, path, error);
    if (fd >= 0)
        close(fd);
    return ok;
}

HgrFw *hgr_fw_open(const HgrVmConfig *config, GError **error)
{
    HgrFw *fw = g_new0(HgrFw, 1);
    bool ok;

    fw->kind = config->firmware;
    if (fw->kind == HGR_FIRMWARE_UEFI)
        ok = open_uefi(fw, config, error);
    else
        ok = open_bios(fw, config, error);
    if (!ok) {
        hgr_fw_free(fw);
        return NULL;
    }
    return fw;
}

void hgr_fw_free(HgrFw *fw)
{
    if (!fw)
        return;
    if (fw->rom)
        munmap(fw->rom, fw->rom_size);
    g_clear_pointer(&fw->vgabios, g_bytes_unref);
    for (unsigned u = 0; u < HGR_FW_FLASH_UNITS; u++)
        if (fw->flash[u])
            hgr_device_free(fw->flash[u]);
    g_clear_pointer(&fw->kernel, g_bytes_unref);
    g_clear_pointer(&fw->setup, g_bytes_unref);
    g_clear_pointer(&fw->initrd, g_bytes_unref);
    g_free(fw->cmdline);
    g_free(fw);
}

unsigned hgr_fw_n_flash(const HgrFw *fw)
{
    return fw && fw->kind == HGR_FIRMWARE_UEFI ? HGR_FW_FLASH_UNITS : 0;
}

HgrDevice *hgr_fw_take_flash(HgrFw *fw, unsigned unit)
{
    g_return_val_if_fail(unit < HGR_FW_FLASH_UNITS, NULL);
    return g_steal_pointer(&fw->flash[unit]);
}

uint64_t hgr_fw_flash_gpa(const HgrFw *fw, unsigned unit)
{
    g_return_val_if_fail(unit < HGR_FW_FLASH_UNITS, 0);
    return fw->flash_gpa[unit];
}

static bool map_readonly(int vm_fd, unsigned slot, const void *hva, uint64_t gpa,
                         uint64_t size, GError **error)
{
    /* Guest writes to a read-only slot exit as MMIO: dropped, or taken by
     * the flash device registered there. */
    struct kvm_userspace_memory_region region = {
        .slot = slot, .flags = KVM_MEM_READONLY, .guest_phys_addr = gpa,
        .memory_size = size, .userspace_addr = (uintptr_t)hva };

    if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM,
                    "cannot map the firmware at 0x%" G_GINT64_MODIFIER "x: %s", gpa,
                    g_strerror(errno));
        return false;
    }
    return true;
}

bool hgr_fw_map(HgrFw *fw, int vm_fd, unsigned slot, GError **error)
{
    if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM,
                    "this KVM cannot map read-only memory, which the firmware needs");
        return false;
    }
    if (fw->kind == HGR_FIRMWARE_UEFI)
        return map_readonly(vm_fd, slot, fw->code, fw->flash_gpa[HGR_FW_FLASH_CODE],
                            fw->code_size, error);
    return map_readonly(vm_fd, slot, fw->rom, (1ULL << 32) - fw->rom_size, fw->rom_size,
                        error);
}

bool hgr_fw_read(const HgrFw *fw, uint64_t gpa, void *buf, size_t len)
{
    const uint8_t *img = fw->kind == HGR_FIRMWARE_UEFI ? fw->code : fw->rom;
    uint64_t size = fw->kind == HGR_FIRMWARE_UEFI ? fw->code_size : fw->rom_size;
    uint64_t base = (1ULL << 32) - size;

    if (!img || gpa < base || len > size || gpa - base > size - len)
        return false;
    memcpy(buf, img + (gpa - base), len);
    return true;
}

typedef struct __attribute__((packed)) {
    uint64_t addr, len;
    uint32_t type;
} E820Entry;

static E820Entry e820_entry(uint64_t addr, uint64_t len, uint32_t type)
{
    return (E820Entry){ GUINT64_TO_LE(addr), GUINT64_TO_LE(len), GUINT32_TO_LE(type) };
}

/* RAM as the guest has it, KVM's private pages (as QEMU lists them), and
 * for SeaBIOS, which hands this map to the OS, the ECAM the ACPI MCFG
 * describes. OVMF reserves the ECAM itself (its PCIEXBAR), and a second,
 * overlapping reservation would only make its memory map disagree. */
static void add_e820(HgrDevice *f, const HgrGuestMem *mem, bool ecam)
{
    E820Entry e820[HGR_MEM_MAX_REGIONS + 2];
    unsigned n = 0;

    for (unsigned r = 0; r < mem->n_regions; r++)
        e820[n++] = e820_entry(mem->regions[r].gpa, mem->regions[r].size, E820_RAM);
    if (ecam)
        e820[n++] = e820_entry(HGR_PCI_ECAM_BASE, HGR_PCI_ECAM_SIZE, E820_RESERVED);
    e820[n++] = e820_entry(HGR_PC_KVM_PRIVATE_BASE, HGR_PC_KVM_PRIVATE_SIZE, E820_RESERVED);
    hgr_fw_cfg_add_file(f, "etc/e820", e820, n * sizeof(e820[0]), false);
}

HgrDevice *hgr_fw_new_fw_cfg(HgrFw *fw, const HgrGuestMem *mem, unsigned n_cpus)
{
    HgrDevice *f = hgr_fw_cfg_new(mem);
    uint16_t sercon = GUINT16_TO_LE(HGR_PC_COM1_PORT);

    hgr_fw_cfg_add_u64(f, HGR_FW_CFG_RAM_SIZE, mem->ram_size);
    hgr_fw_cfg_add_u16(f, HGR_FW_CFG_NB_CPUS, (uint16_t)n_cpus);
    hgr_fw_cfg_add_u16(f, HGR_FW_CFG_MAX_CPUS, (uint16_t)n_cpus);
    add_e820(f, mem, fw->kind != HGR_FIRMWARE_UEFI);
    hgr_fw_cfg_add_file(f, "etc/sercon-port", &sercon, sizeof(sercon), false);
    if (fw->vgabios) {
        gsize len;
        const void *rom = g_bytes_get_data(fw->vgabios, &len);
        hgr_fw_cfg_add_file(f, "vgaroms/vgabios-stdvga.bin", rom, len, false);
    }
    if (fw->kernel)
        add_kernel(fw, f);
    return f;
}

/* The OpenFirmware path SeaBIOS and OVMF match a drive against (SeaBIOS's
 * boot.c, OVMF's QemuBootOrderLib): the PCI slot, then the AHCI port as
 * "drive" or an NVMe namespace. The AHCI controller goes by QEMU's name for
 * the ICH9 one, "pci8086,2922": OVMF turns only that into a Sata(port)
 * device path (anything else matches every drive on the controller), and
 * SeaBIOS matches any name there. */
static char *drive_path(const HgrFwDrive *d)
{
    switch (d->bus) {
    case HGR_DISK_BUS_VIRTIO:
        return g_strdup_printf("/pci@i0cf8/scsi@%x/disk@0,0", d->pci_slot);
    case HGR_DISK_BUS_NVME:
        return g_strdup_printf("/pci@i0cf8/nvme@%x/namespace@1,0", d->pci_slot);
    case HGR_DISK_BUS_SATA:
        break;
    }
    return g_strdup_printf("/pci@i0cf8/pci8086,2922@%x/drive@%x/disk@0", d->pci_slot, d->port);
}

/* "bootorder": the chosen device, then the others in configuration order,
 * one path a line. */
static void add_boot_order(HgrDevice *f, const HgrFwMachine *m)
{
    g_autoptr(GString) order = g_string_new(NULL);
    g_autofree char *cd = m->cdrom ? drive_path(m->cdrom) : NULL;

    if (m->boot == HGR_BOOT_DEFAULT)
        return;
    if (m->boot == HGR_BOOT_CDROM && cd)
        g_string_append_printf(order, "%s\n", cd);
    for (unsigned k = 0; k < m->n_disks; k++) {
        g_autofree char *path = drive_path(&m->disks[k]);
        g_string_append_printf(order, "%s\n", path);
    }
    if (m->boot == HGR_BOOT_DISK && cd)
        g_string_append_printf(order, "%s\n", cd);
    if (order->len == 0)
        return;
    g_string_truncate(order, order->len - 1);
    hgr_fw_cfg_add_file(f, "bootorder", order->str, order->len + 1, false);
}

bool hgr_fw_add_tables(HgrFw *fw, HgrDevice *f, const HgrFwMachine *m, GError **error)
{
    HgrAcpiBlobs blobs = { 0 };

    if (!hgr_acpi_build_firmware(&m->acpi, &blobs, error))
        return false;
    GBytes *files[] = { blobs.tables, blobs.rsdp, blobs.loader };
    const char *names[] = { HGR_ACPI_FILE_TABLES, HGR_ACPI_FILE_RSDP, HGR_ACPI_FILE_LOADER };
    for (unsigned i = 0; i < G_N_ELEMENTS(files); i++) {
        gsize len;
        const void *data = g_bytes_get_data(files[i], &len);
        hgr_fw_cfg_add_file(f, names[i], data, len, false);
    }
    hgr_acpi_blobs_clear(&blobs);

    g_autoptr(GBytes) anchor = NULL, tables = NULL;
    HgrSmbiosConfig sc = { .n_cpus = m->acpi.n_cpus, .ram_size = m->ram_size,
                           .mem = m->mem, .uuid = m->uuid };
    hgr_smbios_build(&sc, &anchor, &tables);
    hgr_fw_cfg_add_file(f, HGR_SMBIOS_FILE_ANCHOR, g_bytes_get_data(anchor, NULL),
                        g_bytes_get_size(anchor), false);
    hgr_fw_cfg_add_file(f, HGR_SMBIOS_FILE_TABLES, g_bytes_get_data(tables, NULL),
                        g_bytes_get_size(tables), false);
    add_boot_order(f, m);
    return true;
}

/* The BIOS area as at power-on: no option ROMs, the ROM's last 128 KiB at
 * 0xE0000. Nothing for OVMF, which runs from its flash. */
bool hgr_fw_load(HgrFw *fw, const HgrGuestMem *mem, GError **error)
{
    if (fw->kind == HGR_FIRMWARE_UEFI)
        return true;
    uint8_t *area = hgr_mem_ptr(mem, BIOS_AREA_BASE, 0x100000 - BIOS_AREA_BASE);

    if (!area) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY, "RAM too small for the BIOS");
        return false;
    }
    memset(area, 0, BIOS_SHADOW_BASE - BIOS_AREA_BASE);
    memcpy(area + (BIOS_SHADOW_BASE - BIOS_AREA_BASE),
           fw->rom + fw->rom_size - BIOS_SHADOW_SIZE, BIOS_SHADOW_SIZE);
    return true;
}
