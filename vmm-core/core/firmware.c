/* firmware.c — the firmware's image in guest memory and the fw_cfg items
 * it reads. SeaBIOS is one ROM at 4 GiB - its size, its last 128 KiB also
 * at 0xE0000 as on a real board after shadowing. */
#include "firmware.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "../hw/fw-cfg.h"
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

HgrFw *hgr_fw_open(const HgrVmConfig *config, GError **error)
{
    HgrFw *fw = g_new0(HgrFw, 1);

    fw->kind = config->firmware;
    if (fw->kind == HGR_FIRMWARE_UEFI) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG, "UEFI is not supported yet");
        hgr_fw_free(fw);
        return NULL;
    }
    if (!open_bios(fw, config, error)) {
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
    g_free(fw);
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
    return map_readonly(vm_fd, slot, fw->rom, (1ULL << 32) - fw->rom_size, fw->rom_size,
                        error);
}

typedef struct __attribute__((packed)) {
    uint64_t addr, len;
    uint32_t type;
} E820Entry;

static E820Entry e820_entry(uint64_t addr, uint64_t len, uint32_t type)
{
    return (E820Entry){ GUINT64_TO_LE(addr), GUINT64_TO_LE(len), GUINT32_TO_LE(type) };
}

/* RAM as the guest has it, and the ECAM the ACPI MCFG describes (SeaBIOS
 * reserves its own window; OVMF needs it said). */
static void add_e820(HgrDevice *f, const HgrGuestMem *mem)
{
    E820Entry e820[HGR_MEM_MAX_REGIONS + 1];
    unsigned n = 0;

    for (unsigned r = 0; r < mem->n_regions; r++)
        e820[n++] = e820_entry(mem->regions[r].gpa, mem->regions[r].size, E820_RAM);
    e820[n++] = e820_entry(HGR_PCI_ECAM_BASE, HGR_PCI_ECAM_SIZE, E820_RESERVED);
    hgr_fw_cfg_add_file(f, "etc/e820", e820, n * sizeof(e820[0]), false);
}

HgrDevice *hgr_fw_new_fw_cfg(HgrFw *fw, const HgrGuestMem *mem, unsigned n_cpus)
{
    HgrDevice *f = hgr_fw_cfg_new(mem);
    uint16_t sercon = GUINT16_TO_LE(HGR_PC_COM1_PORT);

    hgr_fw_cfg_add_u64(f, HGR_FW_CFG_RAM_SIZE, mem->ram_size);
    hgr_fw_cfg_add_u16(f, HGR_FW_CFG_NB_CPUS, (uint16_t)n_cpus);
    hgr_fw_cfg_add_u16(f, HGR_FW_CFG_MAX_CPUS, (uint16_t)n_cpus);
    add_e820(f, mem);
    hgr_fw_cfg_add_file(f, "etc/sercon-port", &sercon, sizeof(sercon), false);
    if (fw->vgabios) {
        gsize len;
        const void *rom = g_bytes_get_data(fw->vgabios, &len);
        hgr_fw_cfg_add_file(f, "vgaroms/vgabios-stdvga.bin", rom, len, false);
    }
    return f;
}

/* The OpenFirmware path SeaBIOS and OVMF match a drive against (SeaBIOS's
 * boot.c, OVMF's QemuBootOrderLib): the PCI slot, then the AHCI port as
 * "drive" or an NVMe namespace. */
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
    return g_strdup_printf("/pci@i0cf8/sata@%x/drive@%x/disk@0", d->pci_slot, d->port);
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
    add_boot_order(f, m);
    return true;
}

/* The BIOS area as at power-on: no option ROMs, the ROM's last 128 KiB at
 * 0xE0000. */
bool hgr_fw_load(HgrFw *fw, const HgrGuestMem *mem, GError **error)
{
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
