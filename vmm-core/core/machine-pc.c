/* machine-pc.c — Hangar's PC: the backends a config asks for and the one
 * explicit table of devices, in the order they are realized. */
#include "vm-private.h"

#include <string.h>

#include "../block/block.h"
#include "../boot/acpi.h"
#include "../boot/linux-boot.h"
#include "../chardev/chardev.h"
#include "../hw/acpi-pm.h"
#include "../hw/ahci.h"
#include "../hw/boot-timer.h"
#include "../hw/fw-cfg.h"
#include "../hw/i8042.h"
#include "../hw/nvme.h"
#include "../hw/vga.h"
#include "firmware.h"
#include "../hw/rtc-cmos.h"
#include "../hw/serial-8250.h"
#include "../net/net.h"
#include "../pci/pci.h"
#include "../virtio/virtio-blk.h"
#include "../virtio/virtio-console.h"
#include "../x86/cpuid.h"
#include "../virtio/virtio-net.h"
#include "../virtio/virtio-pci.h"
#include "../virtio/virtio-rng.h"
#include "../x86/long-mode.h"

#define FLAT_MAX (1u << 20)
#define FIRMWARE_SLOT    HGR_MEM_MAX_REGIONS   /* after the RAM slots */

struct HgrMachine {
    HgrLinuxBoot *linux_boot;
    GBytes *flat;
    HgrChardev *serial;
    HgrChardev *console;
    GPtrArray *blocks;             /* HgrBlock *, one per config disk */
    HgrBlock *cdrom;               /* the ISO in the SATA CD-ROM drive, or NULL */
    GMutex media_lock;             /* guards cdrom (and config->cdrom) against a change */
    bool cd_drive;                 /* made with a CD-ROM drive (fixed) */
    unsigned cd_port;              /* the drive's AHCI port */
    uint64_t cd_read_before;       /* bytes read from discs since taken out */
    GPtrArray *nets;               /* HgrNetBackend *, one per config net */
    HgrPciBus *pci;
    uint32_t *apic_ids;
    HgrFw *fw;                     /* the firmware, on firmware boots */
    HgrDevice *fw_cfg;
    HgrDevice *vga;                /* the display, on firmware boots */
    HgrDevice *ahci;
    HgrDevice *i8042;              /* where keyboard and mouse input goes */
    HgrDevice *pm;                 /* ACPI PM: the power button */
    GPtrArray *disk_devs;          /* per config disk: its PCI device (NULL: on AHCI) */
};

/* Device constructors, one per table row: index counts instances of a row. */
typedef HgrDevice *(*MakeFn)(HgrVm *vm, unsigned index);
typedef unsigned (*CountFn)(const HgrVm *vm);

static unsigned one(const HgrVm *vm) { return 1; }
static unsigned n_disks_on(const HgrVm *vm, HgrDiskBus bus)
{
    unsigned n = 0;
    for (guint i = 0; i < vm->config->disks->len; i++)
        n += ((const HgrDiskConfig *)vm->config->disks->pdata[i])->bus == bus;
    return n;
}

/* The config index of the i-th disk on `bus`. */
static guint disk_index(const HgrVm *vm, HgrDiskBus bus, unsigned i)
{
    guint k;

    for (k = 0; k < vm->config->disks->len; k++)
        if (((const HgrDiskConfig *)vm->config->disks->pdata[k])->bus == bus && i-- == 0)
            break;
    return k;
}

/* The backend of the i-th disk on `bus`, in configuration order. */
static HgrBlock *disk_on(const HgrVm *vm, HgrDiskBus bus, unsigned i)
{
    guint k = disk_index(vm, bus, i);
    return k < vm->machine->blocks->len ? vm->machine->blocks->pdata[k] : NULL;
}

static HgrDevice *note_disk_dev(HgrVm *vm, HgrDiskBus bus, unsigned i, HgrDevice *dev)
{
    guint k = disk_index(vm, bus, i);
    if (k < vm->machine->disk_devs->len)
        vm->machine->disk_devs->pdata[k] = dev;
    return dev;
}

static unsigned n_virtio_disks(const HgrVm *vm) { return n_disks_on(vm, HGR_DISK_BUS_VIRTIO); }
static unsigned n_nvme_disks(const HgrVm *vm) { return n_disks_on(vm, HGR_DISK_BUS_NVME); }
static bool has_cd_drive(const HgrVmConfig *c)
{
    return c->cdrom || c->cdrom_drive;
}
static unsigned has_ahci(const HgrVm *vm)
{
    return n_disks_on(vm, HGR_DISK_BUS_SATA) > 0 || has_cd_drive(vm->config) ? 1 : 0;
}
static unsigned n_nets(const HgrVm *vm) { return vm->config->nets->len; }
static unsigned has_console(const HgrVm *vm) { return vm->machine->console ? 1 : 0; }
static unsigned has_firmware(const HgrVm *vm) { return vm->machine->fw ? 1 : 0; }

static HgrDevice *make_boot_timer(HgrVm *vm, unsigned i) { return hgr_boot_timer_new(); }
static HgrDevice *make_i8042(HgrVm *vm, unsigned i)
{
    return vm->machine->i8042 = hgr_i8042_new();
}
static HgrDevice *make_rtc(HgrVm *vm, unsigned i) { return hgr_rtc_cmos_new(vm->ram_size); }
static HgrDevice *make_pm(HgrVm *vm, unsigned i) { return vm->machine->pm = hgr_acpi_pm_new(); }
static HgrDevice *make_host_bridge(HgrVm *vm, unsigned i) { return hgr_pci_host_bridge_new(); }
static HgrDevice *make_lpc(HgrVm *vm, unsigned i) { return hgr_pci_lpc_new(); }

static HgrDevice *make_vga(HgrVm *vm, unsigned i)
{
    return vm->machine->vga = hgr_vga_new("vga.0");
}

static unsigned n_flash(const HgrVm *vm) { return hgr_fw_n_flash(vm->machine->fw); }
static HgrDevice *make_pflash(HgrVm *vm, unsigned i)
{
    return hgr_fw_take_flash(vm->machine->fw, i);
}

static HgrDevice *make_fw_cfg(HgrVm *vm, unsigned i)
{
    return vm->machine->fw_cfg = hgr_fw_new_fw_cfg(vm->machine->fw, &vm->mem, vm->n_vcpus);
}

static HgrDevice *make_com1(HgrVm *vm, unsigned i)
{
    return hgr_serial_8250_new("serial-8250.0", HGR_PC_COM1_PORT, HGR_PC_COM1_IRQ,
                               vm->machine->serial);
}

static HgrDevice *make_virtio_blk(HgrVm *vm, unsigned i)
{
    g_autofree char *id = g_strdup_printf("virtio-blk.%u", i);
    return note_disk_dev(vm, HGR_DISK_BUS_VIRTIO, i,
                         hgr_virtio_pci_new(id, hgr_virtio_blk_new(&vm->mem, vm->iothread,
                                                                   disk_on(vm, HGR_DISK_BUS_VIRTIO, i))));
}

static HgrDevice *make_nvme(HgrVm *vm, unsigned i)
{
    g_autofree char *id = g_strdup_printf("nvme.%u", i);
    return note_disk_dev(vm, HGR_DISK_BUS_NVME, i,
                         hgr_nvme_new(id, disk_on(vm, HGR_DISK_BUS_NVME, i), &vm->mem,
                                      vm->iothread));
}

/* One AHCI controller: SATA disks on ports 0.., then the CD-ROM drive. The
 * port count was checked when the backends were opened. */
static HgrDevice *make_ahci(HgrVm *vm, unsigned i)
{
    HgrDevice *dev = hgr_ahci_new("ahci.0", &vm->mem, vm->iothread);
    unsigned port = 0, n = n_disks_on(vm, HGR_DISK_BUS_SATA);

    for (unsigned k = 0; k < n; k++)
        hgr_ahci_attach_disk(dev, port++, disk_on(vm, HGR_DISK_BUS_SATA, k), NULL);
    if (has_cd_drive(vm->config)) {
        vm->machine->cd_drive = true;
        vm->machine->cd_port = port;
        hgr_ahci_attach_cdrom(dev, port, vm->machine->cdrom, NULL);
    }
    vm->machine->ahci = dev;
    return dev;
}

static HgrDevice *make_virtio_net(HgrVm *vm, unsigned i)
{
    /* Locally administered, QEMU's 52:54:00 prefix so guests' tools recognise it. */
    const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + i) };
    g_autofree char *id = g_strdup_printf("virtio-net.%u", i);
    return hgr_virtio_pci_new(id, hgr_virtio_net_new(&vm->mem, vm->iothread,
                                                     vm->machine->nets->pdata[i], mac));
}

static HgrDevice *make_virtio_rng(HgrVm *vm, unsigned i)
{
    return hgr_virtio_pci_new("virtio-rng.0", hgr_virtio_rng_new(&vm->mem, vm->iothread));
}

static HgrDevice *make_virtio_console(HgrVm *vm, unsigned i)
{
    return hgr_virtio_pci_new("virtio-console.0",
                              hgr_virtio_console_new(&vm->mem, vm->iothread,
                                                     vm->machine->console));
}

static const struct {
    MakeFn make;
    CountFn count;
} pc_devices[] = {
    { make_boot_timer,     one },
    { make_com1,           one },
    { make_i8042,          one },
    { make_rtc,            one },
    { make_pm,             one },
    { make_host_bridge,    one },
    { make_lpc,            has_firmware },
    { make_pflash,         n_flash },
    { make_vga,            has_firmware },
    { make_fw_cfg,         has_firmware },
    { make_ahci,           has_ahci },
    { make_nvme,           n_nvme_disks },
    { make_virtio_blk,     n_virtio_disks },
    { make_virtio_net,     n_nets },
    { make_virtio_rng,     one },
    { make_virtio_console, has_console },
};

/* Ctrl-A X on the terminal: the same as pulling the plug. */
static void quit_from_terminal(void *opaque)
{
    hgr_vm_stop(opaque);
}

static bool open_serial(HgrVm *vm, GError **error)
{
    HgrMachine *m = vm->machine;
    const HgrVmConfig *c = vm->config;

    switch (c->serial) {
    case HGR_SERIAL_NONE:
        m->serial = hgr_chardev_new_null();
        break;
    case HGR_SERIAL_STDIO:
        m->serial = hgr_chardev_new_stdio(quit_from_terminal, vm);
        break;
    case HGR_SERIAL_FILE:
        m->serial = hgr_chardev_new_file(c->serial_path, error);
        break;
    case HGR_SERIAL_FD:
        m->serial = hgr_chardev_new_fd(c->serial_fd);
        break;
    }
    if (!m->serial)
        return false;
    if (c->console_path && !(m->console = hgr_chardev_new_file(c->console_path, error)))
        return false;
    return true;
}

static bool open_firmware(HgrVm *vm, GError **error)
{
    HgrMachine *m = vm->machine;

    m->fw = hgr_fw_open(vm->config, error);
    return m->fw && hgr_fw_map(m->fw, vm->vm_fd, FIRMWARE_SLOT, error);
}

static bool open_boot_image(HgrVm *vm, GError **error)
{
    const HgrVmConfig *c = vm->config;
    HgrMachine *m = vm->machine;

    if (c->firmware != HGR_FIRMWARE_NONE)
        return open_firmware(vm, error);
    if (c->flat_image) {
        g_autoptr(GMappedFile) f = g_mapped_file_new(c->flat_image, FALSE, error);
        if (!f)
            return false;
        if (g_mapped_file_get_length(f) > FLAT_MAX) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KERNEL,
                        "%s: a flat image may be at most 1 MiB", c->flat_image);
            return false;
        }
        m->flat = g_mapped_file_get_bytes(f);
        return true;
    }
    if (!c->kernel) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "nothing to boot: give a kernel");
        return false;
    }
    m->linux_boot = hgr_linux_boot_new(c->kernel, c->initrd, c->cmdline, error);
    return m->linux_boot != NULL;
}

static bool open_backends(HgrVm *vm, GError **error)
{
    HgrMachine *m = vm->machine;
    const HgrVmConfig *c = vm->config;

    if (!open_boot_image(vm, error))
        return false;
    for (guint i = 0; i < c->disks->len; i++) {
        const HgrDiskConfig *d = c->disks->pdata[i];
        HgrBlock *b = hgr_block_open(d->path, d->format, d->readonly, error);
        if (!b)
            return false;
        g_ptr_array_add(m->blocks, b);
    }
    if (n_disks_on(vm, HGR_DISK_BUS_SATA) + (has_cd_drive(c) ? 1 : 0) > HGR_AHCI_PORTS) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "at most %u SATA drives (disks and the CD-ROM) fit on the controller",
                    HGR_AHCI_PORTS);
        return false;
    }
    /* An ISO is read-only and raw by definition: it is never probed. */
    if (c->cdrom && !(m->cdrom = hgr_block_open(c->cdrom, HGR_DISK_FORMAT_RAW, true, error)))
        return false;
    for (guint i = 0; i < c->nets->len; i++) {
        HgrNetBackend *n = hgr_net_slirp_new(c->nets->pdata[i], error);
        if (!n)
            return false;
        g_ptr_array_add(m->nets, n);
    }
    /* Last: it creates files, and nothing is written when anything else fails. */
    return open_serial(vm, error);
}

static void attach_backends(HgrVm *vm)
{
    HgrMachine *m = vm->machine;

    hgr_chardev_attach(m->serial, vm->iothread);
    if (m->console)
        hgr_chardev_attach(m->console, vm->iothread);
    for (guint i = 0; i < m->blocks->len; i++)
        hgr_block_attach(m->blocks->pdata[i], vm->iothread);
    if (m->cdrom)
        hgr_block_attach(m->cdrom, vm->iothread);
    for (guint i = 0; i < m->nets->len; i++)
        hgr_net_attach(m->nets->pdata[i], vm->iothread);
}

static unsigned pci_slot(HgrDevice *dev)
{
    return ((HgrPciDevice *)dev)->slot;     /* every PCI device embeds it first */
}

/* Where each drive sits, for the firmware's boot order. */
static HgrFwDrive fw_drive(HgrVm *vm, guint k)
{
    const HgrDiskConfig *d = vm->config->disks->pdata[k];
    HgrDevice *dev = vm->machine->disk_devs->pdata[k];
    unsigned port = 0;

    if (d->bus != HGR_DISK_BUS_SATA)
        return (HgrFwDrive){ d->bus, pci_slot(dev), 0 };
    for (guint j = 0; j < k; j++)
        port += ((const HgrDiskConfig *)vm->config->disks->pdata[j])->bus == HGR_DISK_BUS_SATA;
    return (HgrFwDrive){ HGR_DISK_BUS_SATA, pci_slot(vm->machine->ahci), port };
}

/* What the ACPI tables describe; the APIC IDs live on the machine. */
/* The 64-bit BAR window: from the top of RAM to the top of the guest's
 * physical address space, wherever a firmware puts its BARs there. */
static uint64_t mmio64_size(HgrVm *vm)
{
    uint64_t top = hgr_mem_top(&vm->mem);
    uint64_t limit = 1ull << hgr_x86_phys_bits(vm->cpuid);

    return limit > top + HGR_PCI_MMIO64_SIZE ? limit - top : HGR_PCI_MMIO64_SIZE;
}

static HgrAcpiConfig acpi_config(HgrVm *vm)
{
    HgrMachine *m = vm->machine;

    g_free(m->apic_ids);
    m->apic_ids = g_new(uint32_t, vm->n_vcpus);
    for (unsigned i = 0; i < vm->n_vcpus; i++)
        m->apic_ids[i] = vm->vcpus[i].apic_id;
    return (HgrAcpiConfig){
        .n_cpus = vm->n_vcpus,
        .apic_ids = m->apic_ids,
        .mmio32_base = HGR_PCI_MMIO_BASE,
        .mmio32_size = HGR_PCI_MMIO_SIZE,
        .mmio64_base = hgr_mem_top(&vm->mem),
        .mmio64_size = mmio64_size(vm),
    };
}

/* Files only a firmware reads: the ACPI tables it loads, its boot order. */
static bool add_firmware_files(HgrVm *vm, GError **error)
{
    const HgrVmConfig *c = vm->config;
    g_autofree HgrFwDrive *disks = g_new0(HgrFwDrive, c->disks->len + 1);
    HgrFwDrive cd = { 0 };

    for (guint k = 0; k < c->disks->len; k++)
        disks[k] = fw_drive(vm, k);
    if (has_cd_drive(c))
        cd = (HgrFwDrive){ HGR_DISK_BUS_SATA, pci_slot(vm->machine->ahci),
                           n_disks_on(vm, HGR_DISK_BUS_SATA) };
    HgrFwMachine fm = {
        .ram_size = vm->ram_size, .mem = &vm->mem, .acpi = acpi_config(vm), .disks = disks, .n_disks = c->disks->len,
        .cdrom = has_cd_drive(c) ? &cd : NULL, .boot = c->boot, .uuid = vm->uuid };
    return hgr_fw_add_tables(vm->machine->fw, vm->machine->fw_cfg, &fm, error);
}

static bool check_boot_choice(const HgrVmConfig *c, GError **error)
{
    const char *why = NULL;

    if (c->boot != HGR_BOOT_DEFAULT && c->firmware == HGR_FIRMWARE_NONE)
        why = "a boot device can only be chosen for a firmware boot";
    else if (c->boot == HGR_BOOT_CDROM && !has_cd_drive(c))
        why = "booting from the CD-ROM needs an ISO in the drive";
    else if (c->boot == HGR_BOOT_DISK && c->disks->len == 0)
        why = "booting from a disk needs a disk";
    if (why)
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG, "%s", why);
    return !why;
}

bool hgr_machine_create(HgrVm *vm, GError **error)
{
    HgrMachine *m = g_new0(HgrMachine, 1);

    vm->machine = m;
    g_mutex_init(&m->media_lock);
    m->blocks = g_ptr_array_new();
    m->nets = g_ptr_array_new();
    m->disk_devs = g_ptr_array_new();
    g_ptr_array_set_size(m->disk_devs, vm->config->disks->len);
    if (!check_boot_choice(vm->config, error) || !open_backends(vm, error))
        return false;

    m->pci = hgr_pci_bus_new();
    vm->board.pci = m->pci;
    if (!hgr_pci_bus_realize(m->pci, &vm->board, hgr_mem_top(&vm->mem), mmio64_size(vm), error))
        return false;
    for (size_t row = 0; row < G_N_ELEMENTS(pc_devices); row++) {
        unsigned n = pc_devices[row].count(vm);
        for (unsigned i = 0; i < n; i++) {
            HgrDevice *dev = pc_devices[row].make(vm, i);
            hgr_vm_add_device(vm, dev);
            if (dev->ops->realize && !dev->ops->realize(dev, &vm->board, error))
                return false;
        }
    }
    if (m->fw_cfg && !add_firmware_files(vm, error))
        return false;
    attach_backends(vm);
    return true;
}

static bool load_flat(HgrVm *vm, GError **error)
{
    const HgrVmConfig *c = vm->config;
    HgrCpuEntry *e = &vm->entry;
    gsize len;
    const void *data = g_bytes_get_data(vm->machine->flat, &len);

    if (!c->flat_64bit && (c->flat_addr & 15 || c->flat_addr + len > 0x100000)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "a real-mode image must sit 16-byte aligned below 1 MiB");
        return false;
    }
    if (!hgr_mem_write(&vm->mem, c->flat_addr, data, len)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY,
                    "the flat image does not fit in guest RAM at 0x%" G_GINT64_MODIFIER "x",
                    c->flat_addr);
        return false;
    }
    memset(e, 0, sizeof(*e));
    if (c->flat_64bit) {
        e->long_mode = true;
        e->rip = c->flat_addr;
        e->rsp = 0x8000;
        if (!hgr_x86_write_long_mode(&vm->mem, &e->cr3, &e->gdt_base, &e->gdt_limit)) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY, "RAM too small");
            return false;
        }
    } else {
        e->cs = (uint16_t)(c->flat_addr >> 4);
        e->ip = 0;
        e->rsp = 0xfffe;
    }
    return true;
}

bool hgr_machine_load(HgrVm *vm, GError **error)
{
    HgrMachine *m = vm->machine;

    if (m->flat)
        return load_flat(vm, error);
    if (m->fw) {
        vm->entry = (HgrCpuEntry){ .reset_vector = true, .ip = 0xfff0 };
        return hgr_fw_load(m->fw, &vm->mem, error);
    }

    HgrAcpiConfig acpi = acpi_config(vm);
    uint64_t rsdp;
    if (!hgr_acpi_build(&vm->mem, &acpi, &rsdp, error))
        return false;
    HgrBootEntry be;
    if (!hgr_linux_boot_load(m->linux_boot, &vm->mem, rsdp, &be, error))
        return false;
    vm->entry = (HgrCpuEntry){
        .long_mode = true, .rip = be.rip, .rsi = be.rsi, .cr3 = be.cr3,
        .gdt_base = be.gdt_base, .gdt_limit = be.gdt_limit, .rsp = 0x8ff0 };
    return true;
}

void hgr_machine_board_pause(HgrVm *vm)
{
    HgrMachine *m = vm->machine;

    if (!m)
        return;
    for (guint i = 0; i < m->blocks->len; i++)
        hgr_block_drain(m->blocks->pdata[i]);
    g_mutex_lock(&m->media_lock);
    if (m->cdrom)
        hgr_block_drain(m->cdrom);
    g_mutex_unlock(&m->media_lock);
}

bool hgr_machine_has_cd_drive(HgrVm *vm)
{
    return vm->machine && vm->machine->cd_drive;
}

/* The drive's port is quiesced inside hgr_ahci_change_media, so no request
 * of the guest still uses the old disc when it comes back in *old. */
bool hgr_machine_swap_cdrom(HgrVm *vm, HgrBlock *blk, bool force, HgrBlock **old,
                            GError **error)
{
    HgrMachine *m = vm->machine;
    g_autoptr(GError) e = NULL;

    *old = NULL;
    g_return_val_if_fail(hgr_machine_has_cd_drive(vm), false);   /* the caller checked */
    g_mutex_lock(&m->media_lock);
    bool ok = hgr_ahci_change_media(m->ahci, m->cd_port, blk, force, &e);
    if (ok) {
        if (m->cdrom) {
            uint64_t rd, wr;
            hgr_block_get_traffic(m->cdrom, &rd, &wr);
            m->cd_read_before += rd;
        }
        *old = m->cdrom;
        m->cdrom = blk;
        g_free(vm->config->cdrom);
        vm->config->cdrom = blk ? g_strdup(hgr_block_path(blk)) : NULL;
        vm->config->cdrom_drive = true;
    }
    g_mutex_unlock(&m->media_lock);
    if (ok)
        return true;
    if (g_error_matches(e, HGR_VM_ERROR, HGR_VM_ERROR_STATE_INVALID))
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEDIA_LOCKED,
                    "the guest has locked the CD/DVD tray (its system is using the disc): "
                    "eject it from inside the guest, or force the eject");
    else
        g_propagate_error(error, g_steal_pointer(&e));
    return false;
}

void hgr_machine_free(HgrVm *vm)
{
    HgrMachine *m = vm->machine;

    if (!m)
        return;
    g_clear_pointer(&m->pci, hgr_pci_bus_free);
    for (guint i = 0; i < m->blocks->len; i++)
        hgr_block_free(m->blocks->pdata[i]);
    g_clear_pointer(&m->cdrom, hgr_block_free);
    g_mutex_clear(&m->media_lock);
    for (guint i = 0; i < m->nets->len; i++)
        hgr_net_free(m->nets->pdata[i]);
    g_ptr_array_unref(m->blocks);
    g_ptr_array_unref(m->nets);
    g_ptr_array_unref(m->disk_devs);
    g_clear_pointer(&m->serial, hgr_chardev_free);
    g_clear_pointer(&m->console, hgr_chardev_free);
    g_clear_pointer(&m->linux_boot, hgr_linux_boot_free);
    g_clear_pointer(&m->flat, g_bytes_unref);
    g_free(m->apic_ids);
    g_clear_pointer(&m->fw, hgr_fw_free);
    g_free(m);
    vm->machine = NULL;
}

HgrDevice *hgr_machine_display(HgrVm *vm)
{
    return vm->machine ? vm->machine->vga : NULL;
}

HgrDevice *hgr_machine_power(HgrVm *vm)
{
    return vm->machine ? vm->machine->pm : NULL;
}

void hgr_machine_activity(HgrVm *vm, HgrVmActivity *out)
{
    HgrMachine *m = vm->machine;

    *out = (HgrVmActivity){ 0 };
    if (!m)
        return;
    for (guint i = 0; i < m->blocks->len; i++) {
        uint64_t rd, wr;
        hgr_block_get_traffic(m->blocks->pdata[i], &rd, &wr);
        out->disk_read_bytes += rd;
        out->disk_write_bytes += wr;
    }
    g_mutex_lock(&m->media_lock);
    out->disk_read_bytes += m->cd_read_before;
    if (m->cdrom) {
        uint64_t rd, wr;
        hgr_block_get_traffic(m->cdrom, &rd, &wr);
        out->disk_read_bytes += rd;
    }
    g_mutex_unlock(&m->media_lock);
    for (guint i = 0; i < m->nets->len; i++) {
        HgrNetStats st;
        hgr_net_get_stats(m->nets->pdata[i], &st);
        out->net_rx_bytes += st.rx_bytes;
        out->net_tx_bytes += st.tx_bytes;
    }
}

HgrDevice *hgr_machine_input(HgrVm *vm)
{
    return vm->machine ? vm->machine->i8042 : NULL;
}

bool hgr_machine_read_phys(HgrVm *vm, uint64_t gpa, void *buf, size_t len)
{
    if (hgr_mem_read(&vm->mem, gpa, buf, len))
        return true;
    return vm->machine && vm->machine->fw && hgr_fw_read(vm->machine->fw, gpa, buf, len);
}
