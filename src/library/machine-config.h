/* machine-config.h — what a VM is, as the user configured it, and its file.
 *
 * The file is a GKeyFile, <Name>.hangar in the machine's folder, versioned
 * and written atomically (temp file, fsync, rename). Relative disk paths
 * are relative to the machine's folder. A file edited by hand into
 * nonsense is refused with the key and the reason, never half-applied.
 */
#pragma once

#include <glib.h>
#include <hangar/vm.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

#define HGR_LIBRARY_ERROR (hgr_library_error_quark())
GQuark hgr_library_error_quark(void);

typedef enum {
    HGR_LIBRARY_ERROR_NAME_INVALID,   /* empty, a '/', a leading '.', control characters */
    HGR_LIBRARY_ERROR_NAME_EXISTS,    /* another VM has this name */
    HGR_LIBRARY_ERROR_NOT_FOUND,      /* no VM of that name or UUID */
    HGR_LIBRARY_ERROR_CONFIG,         /* a config file that cannot be used (the message says why) */
    HGR_LIBRARY_ERROR_VERSION,        /* written by a newer Hangar */
    HGR_LIBRARY_ERROR_IO,             /* the file system refused */
    HGR_LIBRARY_ERROR_BUSY,           /* the VM is running (here or in another process) */
    HGR_LIBRARY_ERROR_NOT_RUNNING,    /* the operation needs a running VM */
    HGR_LIBRARY_ERROR_MEDIA,          /* an ISO that is not an ISO, a disk that vanished */
    HGR_LIBRARY_ERROR_CONTROL,        /* the running VM's control socket failed */
    HGR_LIBRARY_ERROR_MEDIA_LOCKED,   /* the guest locked the CD tray (force ejects anyway) */
} HgrLibraryError;

#define HGR_MACHINE_CONFIG_VERSION 1

typedef struct {
    char *path;            /* absolute, or relative to the machine's folder */
    HgrDiskFormat format;
    HgrDiskBus bus;
    bool readonly;
} HgrMachineDisk;

typedef struct {
    bool udp;
    uint16_t host_port;    /* on 127.0.0.1 */
    uint16_t guest_port;
} HgrPortForward;

typedef struct {
    char *name;
    char *uuid;            /* made at creation, never changes */
    char *os_id;           /* libosinfo short-id ("win11", "debian12"), NULL: unknown */
    char *os_name;         /* for people: "Microsoft Windows 11"; NULL: unknown */
    uint64_t memory_mib;
    unsigned cpus;
    HgrFirmware firmware;  /* BIOS or UEFI (NONE is not offered to users) */
    HgrBootDevice boot;
    GPtrArray *disks;      /* of HgrMachineDisk *, in bus order */
    char *cdrom;           /* ISO path, NULL: empty drive */
    bool network;          /* one NAT network card (virtio-net on libslirp) */
    GArray *port_forwards; /* of HgrPortForward */
    bool serial;           /* a serial port (shown as the serial console; logged) */
} HgrMachineConfig;

HgrMachineConfig *hgr_machine_config_new(void);   /* 2048 MiB, 2 CPUs, BIOS, NAT, serial */
HgrMachineConfig *hgr_machine_config_copy(const HgrMachineConfig *c);
void hgr_machine_config_free(HgrMachineConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HgrMachineConfig, hgr_machine_config_free)

HgrMachineDisk *hgr_machine_config_add_disk(HgrMachineConfig *c, const char *path,
                                            HgrDiskFormat format, HgrDiskBus bus);
void hgr_machine_config_add_port_forward(HgrMachineConfig *c, bool udp,
                                         uint16_t host_port, uint16_t guest_port);

/* Checks a name a user typed: not empty, no '/', no leading '.', no control
 * characters, at most 64 characters. The error says which rule and how to
 * fix it. (Whether the name is taken is the library's question.) */
bool hgr_machine_name_validate(const char *name, GError **error);

/* Checks everything a VM needs that the file cannot promise: memory within
 * the host's, 1..64 CPUs, port numbers, unique host ports. */
bool hgr_machine_config_validate(const HgrMachineConfig *c, GError **error);

HgrMachineConfig *hgr_machine_config_load(const char *path, GError **error);
bool hgr_machine_config_save(const HgrMachineConfig *c, const char *path, GError **error);
/* The same text as the file, for tests and `hangarctl info --raw`. */
char *hgr_machine_config_to_data(const HgrMachineConfig *c, gsize *length);
HgrMachineConfig *hgr_machine_config_from_data(const char *data, gsize length, GError **error);

/* The vmm-core configuration that runs this VM; dir resolves relative disk
 * paths, nvram_path is the machine's nvram.fd, uuid the machine's (what the
 * guest sees in SMBIOS; HGR_LIBRARY_ERROR_CONFIG if it has none). Checks
 * that every disk and the ISO exist (HGR_LIBRARY_ERROR_MEDIA naming the
 * file otherwise). */
HgrVmConfig *hgr_machine_config_to_vm(const HgrMachineConfig *c, const char *dir,
                                      GError **error);

/* The ISO a VM can put in its drive: path (relative to dir unless
 * absolute) made absolute, after checking it is a readable file with an
 * ISO 9660 or UDF header (HGR_LIBRARY_ERROR_MEDIA naming it otherwise). */
char *hgr_machine_config_resolve_iso(const char *path, const char *dir, GError **error);

const char *hgr_firmware_name(HgrFirmware f);          /* "bios", "uefi" */
bool hgr_firmware_from_name(const char *s, HgrFirmware *out);
const char *hgr_disk_bus_name(HgrDiskBus b);           /* "virtio", "sata", "nvme" */
bool hgr_disk_bus_from_name(const char *s, HgrDiskBus *out);

G_END_DECLS
