/* machine-config.c — the VM config struct, its checks, and the vmm-core
 * configuration made from it. The file format is machine-config-file.c. */
#include "machine-config.h"

#include <glib/gi18n-lib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK(hgr-library-error-quark, hgr_library_error)

#define NAME_MAX_CHARS 64
#define CPUS_MAX 64
#define MEMORY_MIN_MIB 16

static void machine_disk_free(HgrMachineDisk *d)
{
    g_free(d->path);
    g_free(d);
}

HgrMachineConfig *hgr_machine_config_new(void)
{
    HgrMachineConfig *c = g_new0(HgrMachineConfig, 1);

    c->memory_mib = 2048;
    c->cpus = 2;
    c->firmware = HGR_FIRMWARE_BIOS;
    c->boot = HGR_BOOT_DEFAULT;
    c->disks = g_ptr_array_new_with_free_func((GDestroyNotify)machine_disk_free);
    c->network = true;
    c->port_forwards = g_array_new(FALSE, TRUE, sizeof(HgrPortForward));
    c->serial = true;
    return c;
}

HgrMachineConfig *hgr_machine_config_copy(const HgrMachineConfig *c)
{
    HgrMachineConfig *n = hgr_machine_config_new();

    n->name = g_strdup(c->name);
    n->uuid = g_strdup(c->uuid);
    n->os_id = g_strdup(c->os_id);
    n->os_name = g_strdup(c->os_name);
    n->memory_mib = c->memory_mib;
    n->cpus = c->cpus;
    n->firmware = c->firmware;
    n->boot = c->boot;
    for (guint i = 0; i < c->disks->len; i++) {
        const HgrMachineDisk *d = c->disks->pdata[i];
        hgr_machine_config_add_disk(n, d->path, d->format, d->bus)->readonly = d->readonly;
    }
    n->cdrom = g_strdup(c->cdrom);
    n->network = c->network;
    g_array_append_vals(n->port_forwards, c->port_forwards->data, c->port_forwards->len);
    n->serial = c->serial;
    return n;
}

void hgr_machine_config_free(HgrMachineConfig *c)
{
    if (!c)
        return;
    g_free(c->name);
    g_free(c->uuid);
    g_free(c->os_id);
    g_free(c->os_name);
    g_ptr_array_unref(c->disks);
    g_free(c->cdrom);
    g_array_unref(c->port_forwards);
    g_free(c);
}

HgrMachineDisk *hgr_machine_config_add_disk(HgrMachineConfig *c, const char *path,
                                            HgrDiskFormat format, HgrDiskBus bus)
{
    HgrMachineDisk *d = g_new0(HgrMachineDisk, 1);

    d->path = g_strdup(path);
    d->format = format;
    d->bus = bus;
    g_ptr_array_add(c->disks, d);
    return d;
}

void hgr_machine_config_add_port_forward(HgrMachineConfig *c, bool udp,
                                         uint16_t host_port, uint16_t guest_port)
{
    HgrPortForward f = { .udp = udp, .host_port = host_port, .guest_port = guest_port };

    g_array_append_val(c->port_forwards, f);
}

bool hgr_machine_name_validate(const char *name, GError **error)
{
    if (!name || !*name) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_INVALID,
                    _("The name is empty: give the machine a name"));
        return false;
    }
    if (!g_utf8_validate(name, -1, NULL)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_INVALID,
                    _("The name is not valid UTF-8 text: type it again"));
        return false;
    }
    if (strchr(name, '/')) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_INVALID,
                    _("The name \"%s\" contains a '/': names become folder names, "
                    "so leave out the slash"), name);
        return false;
    }
    if (name[0] == '.') {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_INVALID,
                    _("The name \"%s\" starts with a '.', which would hide its folder: "
                    "start it with another character"), name);
        return false;
    }
    for (const char *p = name; *p; p = g_utf8_next_char(p)) {
        if (g_unichar_iscntrl(g_utf8_get_char(p))) {
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_INVALID,
                        _("The name contains a control character (such as a tab or a "
                        "line break): use only printable characters"));
            return false;
        }
    }
    if (g_utf8_strlen(name, -1) > NAME_MAX_CHARS) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_INVALID,
                    _("The name is %ld characters long: shorten it to at most %d"),
                    g_utf8_strlen(name, -1), NAME_MAX_CHARS);
        return false;
    }
    return true;
}

static uint64_t host_memory_mib(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGE_SIZE);

    if (pages <= 0 || page_size <= 0)
        return UINT64_MAX;
    return (uint64_t)pages * (uint64_t)page_size / (1024 * 1024);
}

static bool validate_port_forwards(const HgrMachineConfig *c, GError **error)
{
    for (guint i = 0; i < c->port_forwards->len; i++) {
        const HgrPortForward *f = &g_array_index(c->port_forwards, HgrPortForward, i);
        if (!f->host_port || !f->guest_port) {
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                        _("Port forward %u: port 0 is not a port (use 1 to 65535)"), i + 1);
            return false;
        }
        for (guint j = 0; j < i; j++) {
            const HgrPortForward *g = &g_array_index(c->port_forwards, HgrPortForward, j);
            if (g->udp == f->udp && g->host_port == f->host_port) {
                g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                            _("Host port %s %u is forwarded twice: give each forward its "
                            "own host port"), f->udp ? "UDP" : "TCP", f->host_port);
                return false;
            }
        }
    }
    return true;
}

bool hgr_machine_config_validate(const HgrMachineConfig *c, GError **error)
{
    if (!hgr_machine_name_validate(c->name, error))
        return false;
    uint64_t host = host_memory_mib();
    if (c->memory_mib < MEMORY_MIN_MIB || c->memory_mib > host) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("Memory of %" PRIu64 " MiB is not possible: give between %d "
                      "and %" PRIu64 " MiB (this computer's memory)"),
                    c->memory_mib, MEMORY_MIN_MIB, host);
        return false;
    }
    if (c->cpus < 1 || c->cpus > CPUS_MAX) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("%u CPUs is not possible: give between 1 and %d"), c->cpus, CPUS_MAX);
        return false;
    }
    if (c->firmware != HGR_FIRMWARE_BIOS && c->firmware != HGR_FIRMWARE_UEFI) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("The firmware must be BIOS or UEFI"));
        return false;
    }
    if (c->boot > HGR_BOOT_CDROM) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("The boot device must be the default, the disk or the CD-ROM"));
        return false;
    }
    if (c->boot == HGR_BOOT_DISK && c->disks->len == 0) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("The machine boots from its disk but has none: add a disk or boot "
                    "from the CD-ROM"));
        return false;
    }
    for (guint i = 0; i < c->disks->len; i++) {
        const HgrMachineDisk *d = c->disks->pdata[i];
        if (!d->path || !*d->path) {
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                        _("Disk %u has no file: choose its image"), i + 1);
            return false;
        }
        if (d->format > HGR_DISK_FORMAT_QCOW2 || d->bus > HGR_DISK_BUS_NVME) {
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                        _("Disk %u has an unknown format or bus"), i + 1);
            return false;
        }
    }
    if (c->cdrom && !*c->cdrom) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("The CD-ROM drive names an empty file name: choose an ISO or empty "
                    "the drive"));
        return false;
    }
    return validate_port_forwards(c, error);
}

/* A disk or ISO the VM will open: it must be a regular file (not a
 * directory, not a device) that exists now. */
static char *resolve_media(const char *path, const char *dir, const char *what,
                           GError **error)
{
    g_autofree char *full = g_path_is_absolute(path) || !dir
                                ? g_strdup(path)
                                : g_build_filename(dir, path, NULL);

    if (!g_file_test(full, G_FILE_TEST_EXISTS)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA,
                    _("The %s %s does not exist: put it back, or change the machine's "
                    "settings"), what, full);
        return NULL;
    }
    if (!g_file_test(full, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA,
                    _("The %s %s is not a regular file: choose an image file"), what, full);
        return NULL;
    }
    if (access(full, R_OK) != 0) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA,
                    _("The %s %s cannot be read: check its permissions"), what, full);
        return NULL;
    }
    return g_steal_pointer(&full);
}

/* An optical disc image has a volume descriptor at 32 KiB: ISO 9660
 * ("CD001") or UDF's ("BEA01"). Anything else in the drive would only give
 * the firmware's puzzling "could not read the boot disk". */
static bool check_disc_image(const char *path, GError **error)
{
    char id[6] = { 0 };
    FILE *f = fopen(path, "rb");
    bool ok = f && fseek(f, 16 * 2048, SEEK_SET) == 0 && fread(id, 1, 6, f) == 6
              && (!memcmp(id + 1, "CD001", 5) || !memcmp(id + 1, "BEA01", 5));

    if (f)
        fclose(f);
    if (!ok)
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA,
                    _("%s is not a CD/DVD image (no ISO 9660 or UDF header): choose an "
                    "installation ISO, or empty the drive"), path);
    return ok;
}

char *hgr_machine_config_resolve_iso(const char *path, const char *dir, GError **error)
{
    g_autofree char *full = resolve_media(path, dir, _("ISO image"), error);

    if (!full || !check_disc_image(full, error))
        return NULL;
    return g_steal_pointer(&full);
}

HgrVmConfig *hgr_machine_config_to_vm(const HgrMachineConfig *c, const char *dir,
                                      GError **error)
{
    g_autoptr(HgrVmConfig) vm = hgr_vm_config_new();

    if (!hgr_machine_config_validate(c, error))
        return NULL;
    /* The guest knows the machine by it (Windows activation, cloud-init):
     * a machine without one would look like a new computer every boot. */
    if (!c->uuid || !g_uuid_string_is_valid(c->uuid)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("The machine's UUID '%s' is not a UUID: its settings file must "
                      "keep the one it was created with"), c->uuid ? c->uuid : "");
        return NULL;
    }
    vm->uuid = g_strdup(c->uuid);
    vm->memory_mib = c->memory_mib;
    vm->cpus = c->cpus;
    vm->firmware = c->firmware;
    vm->boot = c->boot;
    /* firmware_path stays NULL: vmm-core picks Debian's SeaBIOS or OVMF. */
    if (c->firmware == HGR_FIRMWARE_UEFI)
        vm->nvram_path = g_build_filename(dir, "nvram.fd", NULL);
    for (guint i = 0; i < c->disks->len; i++) {
        const HgrMachineDisk *d = c->disks->pdata[i];
        g_autofree char *path = resolve_media(d->path, dir, _("disk image"), error);
        if (!path)
            return NULL;
        hgr_vm_config_add_disk(vm, path, d->format, d->readonly)->bus = d->bus;
    }
    /* Always a drive, empty or not: a disc can go in while the VM runs. */
    vm->cdrom_drive = true;
    if (c->cdrom && !(vm->cdrom = hgr_machine_config_resolve_iso(c->cdrom, dir, error)))
        return NULL;
    if (c->network) {
        HgrNetConfig *net = hgr_vm_config_add_net(vm);
        for (guint i = 0; i < c->port_forwards->len; i++) {
            const HgrPortForward *f = &g_array_index(c->port_forwards, HgrPortForward, i);
            hgr_net_config_add_hostfwd(net, f->udp, NULL, f->host_port, f->guest_port);
        }
    }
    vm->serial = HGR_SERIAL_NONE;     /* the caller connects it (machine.c) */
    return g_steal_pointer(&vm);
}

const char *hgr_firmware_name(HgrFirmware f)
{
    switch (f) {
    case HGR_FIRMWARE_BIOS: return "bios";
    case HGR_FIRMWARE_UEFI: return "uefi";
    case HGR_FIRMWARE_NONE: return "none";
    }
    return "unknown";
}

bool hgr_firmware_from_name(const char *s, HgrFirmware *out)
{
    if (!g_strcmp0(s, "bios"))
        *out = HGR_FIRMWARE_BIOS;
    else if (!g_strcmp0(s, "uefi"))
        *out = HGR_FIRMWARE_UEFI;
    else
        return false;
    return true;
}

const char *hgr_disk_bus_name(HgrDiskBus b)
{
    switch (b) {
    case HGR_DISK_BUS_VIRTIO: return "virtio";
    case HGR_DISK_BUS_SATA: return "sata";
    case HGR_DISK_BUS_NVME: return "nvme";
    }
    return "unknown";
}

bool hgr_disk_bus_from_name(const char *s, HgrDiskBus *out)
{
    if (!g_strcmp0(s, "virtio"))
        *out = HGR_DISK_BUS_VIRTIO;
    else if (!g_strcmp0(s, "sata"))
        *out = HGR_DISK_BUS_SATA;
    else if (!g_strcmp0(s, "nvme"))
        *out = HGR_DISK_BUS_NVME;
    else
        return false;
    return true;
}
