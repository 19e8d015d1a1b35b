/* hangar/vm.h — the public API of vmm-core: build, run and control one VM.
 *
 * Everything hangs off the HgrVm object; several VMs may live in one process.
 * No GTK here. Functions that can fail take a GError ** in HGR_VM_ERROR.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "console.h"

G_BEGIN_DECLS

#define HGR_VM_ERROR (hgr_vm_error_quark())
GQuark hgr_vm_error_quark(void);

typedef enum {
    HGR_VM_ERROR_KVM_MISSING,     /* no /dev/kvm */
    HGR_VM_ERROR_KVM_ACCESS,      /* /dev/kvm not accessible (kvm group) */
    HGR_VM_ERROR_KVM,             /* a KVM ioctl failed */
    HGR_VM_ERROR_CONFIG,          /* the configuration asks for something impossible */
    HGR_VM_ERROR_MEMORY,          /* guest RAM could not be had */
    HGR_VM_ERROR_KERNEL,          /* kernel image missing or not a bzImage */
    HGR_VM_ERROR_INITRD,          /* initrd missing, unreadable or too large */
    HGR_VM_ERROR_DISK,            /* disk missing, unreadable, in use */
    HGR_VM_ERROR_NET,             /* network backend failed */
    HGR_VM_ERROR_CHARDEV,         /* serial backend failed */
    HGR_VM_ERROR_STATE,           /* saved state rejected */
    HGR_VM_ERROR_STATE_INVALID,   /* operation not allowed in the current run state */
    HGR_VM_ERROR_FIRMWARE,        /* firmware image missing, unreadable or malformed */
    HGR_VM_ERROR_MEDIA_LOCKED,    /* the guest locked the CD tray (force ejects anyway) */
} HgrVmError;

typedef enum {
    HGR_FIRMWARE_NONE,            /* direct kernel boot (or a flat test image) */
    HGR_FIRMWARE_BIOS,            /* SeaBIOS */
    HGR_FIRMWARE_UEFI,            /* OVMF: code read-only, variables in nvram_path */
} HgrFirmware;

/* What the firmware tries first (written to fw_cfg "bootorder"). */
typedef enum {
    HGR_BOOT_DEFAULT,             /* the firmware's own order: disks before the CD */
    HGR_BOOT_DISK,                /* the first disk in `disks` */
    HGR_BOOT_CDROM,               /* the CD-ROM drive */
} HgrBootDevice;

/* Debian's `seabios` package. */
#define HGR_SEABIOS_PATH "/usr/share/seabios/bios-256k.bin"
/* Debian's `ovmf` package: the code (read-only) and the template of the
 * variable store each VM gets a copy of. */
#define HGR_OVMF_CODE_PATH "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define HGR_OVMF_VARS_PATH "/usr/share/OVMF/OVMF_VARS_4M.fd"

/* Makes path a fresh copy of HGR_OVMF_VARS_PATH (empty variables),
 * atomically: the file is either the old store or the whole copy. Refused
 * while a running VM uses the store. What `hangarctl firmware reset-vars`
 * does, and how a UEFI VM's store begins. */
bool hgr_firmware_reset_vars(const char *path, GError **error);

typedef enum {
    HGR_DISK_FORMAT_RAW,
    HGR_DISK_FORMAT_QCOW2,
} HgrDiskFormat;

/* Creates a new empty disk image of size bytes (raw: a sparse file; qcow2: v3,
 * 64 KiB clusters). Refuses to overwrite an existing file. */
bool hgr_block_create(const char *path, HgrDiskFormat format, uint64_t size, GError **error);

/* Which controller a disk hangs off: virtio-blk (fastest, needs drivers in
 * the guest), SATA on the AHCI controller or NVMe (inbox drivers in Windows
 * and every Linux). */
typedef enum {
    HGR_DISK_BUS_VIRTIO,
    HGR_DISK_BUS_SATA,
    HGR_DISK_BUS_NVME,
} HgrDiskBus;

typedef struct {
    char *path;
    HgrDiskFormat format;
    bool readonly;
    HgrDiskBus bus;
} HgrDiskConfig;

typedef struct {
    bool udp;
    char *host_addr;      /* NULL: 127.0.0.1 */
    uint16_t host_port;
    uint16_t guest_port;
} HgrHostFwd;

typedef struct {
    GArray *hostfwds;     /* of HgrHostFwd */
} HgrNetConfig;

typedef enum {
    HGR_SERIAL_NONE,
    HGR_SERIAL_STDIO,
    HGR_SERIAL_FILE,
    HGR_SERIAL_FD,        /* serial_fd: both directions on one fd (a pty, a socket) */
} HgrSerialKind;

typedef struct {
    uint64_t memory_mib;
    unsigned cpus;

    /* HGR_FIRMWARE_BIOS: the ROM at 4 GiB - its size, and its last 128 KiB
     * copied to 0xE0000; the vCPU starts at the reset vector, the firmware
     * learns about the machine through fw_cfg and boots from the disks.
     * firmware_path NULL: HGR_SEABIOS_PATH. */
    HgrFirmware firmware;
    char *firmware_path;
    /* HGR_FIRMWARE_UEFI: firmware_path NULL means HGR_OVMF_CODE_PATH
     * (pflash unit 0, read-only, ending at 4 GiB); nvram_path is the VM's
     * own copy of OVMF_VARS (pflash unit 1, right below it), written by the
     * guest. Required for UEFI; checked, never rewritten (a corrupt one is
     * refused: hgr_firmware_reset_vars). A kernel, initrd and cmdline are
     * handed to OVMF through fw_cfg, which boots the kernel's EFI stub. */
    char *nvram_path;
    HgrBootDevice boot;   /* firmware boots only */

    /* Direct Linux boot. */
    char *kernel;
    char *initrd;
    char *cmdline;

    /* Instead of a kernel: a flat binary copied to flat_addr and entered there,
     * in real mode (CS = flat_addr >> 4, IP 0; flat_addr below 1 MiB, 16-byte
     * aligned) or in 64-bit mode with the first 4 GiB identity-mapped. For
     * tiny test programs and the host speed check. */
    char *flat_image;
    uint64_t flat_addr;
    bool flat_64bit;

    GPtrArray *disks;     /* of HgrDiskConfig *, in bus order */
    char *cdrom;          /* an ISO in the SATA CD-ROM drive, or NULL: no drive */
    bool cdrom_drive;     /* a CD-ROM drive even when cdrom is NULL (an empty one),
                           * so that hgr_vm_change_cdrom can insert a disc later */
    GPtrArray *nets;      /* of HgrNetConfig * */

    HgrSerialKind serial;
    char *serial_path;    /* HGR_SERIAL_FILE */
    int serial_fd;        /* HGR_SERIAL_FD */
    char *console_path;   /* virtio-console output file; NULL: no virtio-console */

    char *kvm_path;       /* NULL: /dev/kvm (tests point this elsewhere) */

    /* The machine's identity as the guest reads it (SMBIOS type 1: Windows
     * activation, /sys/class/dmi/id/product_uuid), in the usual text form
     * "4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55" (hex digits of either case);
     * also the system's serial number, in lower case.
     * hgr_vm_new() refuses any other form with HGR_VM_ERROR_CONFIG. NULL:
     * all zeros, as QEMU gives without -uuid. Give the same one every boot. */
    char *uuid;
} HgrVmConfig;

HgrVmConfig *hgr_vm_config_new(void);
void hgr_vm_config_free(HgrVmConfig *config);
/* Adds a virtio disk; set ->bus on the result for another controller. */
HgrDiskConfig *hgr_vm_config_add_disk(HgrVmConfig *config, const char *path,
                                      HgrDiskFormat format, bool readonly);
HgrNetConfig *hgr_vm_config_add_net(HgrVmConfig *config);
void hgr_net_config_add_hostfwd(HgrNetConfig *net, bool udp, const char *host_addr,
                                uint16_t host_port, uint16_t guest_port);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HgrVmConfig, hgr_vm_config_free)

typedef enum {
    HGR_VM_STATE_CREATED,
    HGR_VM_STATE_RUNNING,
    HGR_VM_STATE_PAUSED,
    HGR_VM_STATE_POWERED_OFF,     /* the guest powered off */
    HGR_VM_STATE_STOPPED,         /* the host stopped it (hgr_vm_stop) */
    HGR_VM_STATE_FAILED,          /* KVM refused to go on (internal error, bad state) */
} HgrVmState;

const char *hgr_vm_state_name(HgrVmState state);

typedef struct HgrVm HgrVm;

/* Builds the machine: opens KVM, allocates RAM, opens every backend, loads
 * the kernel. Nothing is written to any disk before hgr_vm_start(). */
HgrVm *hgr_vm_new(const HgrVmConfig *config, GError **error);
void hgr_vm_free(HgrVm *vm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HgrVm, hgr_vm_free)

bool hgr_vm_start(HgrVm *vm, GError **error);
bool hgr_vm_pause(HgrVm *vm, GError **error);
bool hgr_vm_resume(HgrVm *vm, GError **error);
/* A hardware reset: devices reset, vCPUs back to their power-on state, the
 * kernel loaded again. The VM keeps its run state. */
bool hgr_vm_reset(HgrVm *vm, GError **error);
/* Stops the VM from the host side (pulling the plug). */
void hgr_vm_stop(HgrVm *vm);
/* Blocks until the VM is powered off, stopped or failed; returns that state. */
HgrVmState hgr_vm_wait(HgrVm *vm);
HgrVmState hgr_vm_get_state(HgrVm *vm);
/* Why the VM failed, when its state is HGR_VM_STATE_FAILED. */
const char *hgr_vm_failure(HgrVm *vm);

typedef void (*HgrVmStateFn)(HgrVm *vm, HgrVmState state, void *user_data);
/* Called from a VMM thread whenever the run state changes. */
void hgr_vm_set_state_callback(HgrVm *vm, HgrVmStateFn fn, void *user_data);

typedef void (*HgrVmBootFn)(HgrVm *vm, uint64_t boot_ns, void *user_data);
/* Called from a vCPU thread when the guest writes the boot timer port. */
void hgr_vm_set_boot_callback(HgrVm *vm, HgrVmBootFn fn, void *user_data);

/* Writes what the VM's display shows now as a PNG. Fails when the VM has no
 * display or the guest has not set a mode yet. Any thread. */
bool hgr_vm_screenshot(HgrVm *vm, const char *path, GError **error);

/* Puts another disc in the CD-ROM drive (iso NULL: ejects it), from any
 * thread, while the VM is created, runs or is paused. The ISO is opened as
 * at startup (read-only, raw, locked against writers) and must carry an ISO
 * 9660 or UDF volume descriptor. The guest hears of it as a media change
 * (UNIT ATTENTION); a reset keeps the new disc. The old disc is closed
 * once no request of the guest uses it any more. Refused, with the old disc
 * left in: a VM without a drive (HGR_VM_ERROR_CONFIG), a tray the guest has
 * locked (HGR_VM_ERROR_MEDIA_LOCKED, unless force), a file that cannot be
 * used (HGR_VM_ERROR_DISK, naming it), a VM that has ended
 * (HGR_VM_ERROR_STATE_INVALID). */
bool hgr_vm_change_cdrom(HgrVm *vm, const char *iso, bool force, GError **error);
/* Whether the VM has a CD-ROM drive (fixed when it is made). Any thread. */
bool hgr_vm_has_cdrom_drive(HgrVm *vm);

/* Console input, from any thread, never blocking: a key by its Linux evdev
 * code (KEY_*; GTK's hardware keycode minus 8) pressed or released, and
 * relative pointer motion with the buttons held (HGR_INPUT_BUTTON_* in
 * hangar/input.h). They reach the guest's PS/2 keyboard and mouse. */
void hgr_vm_input_key(HgrVm *vm, unsigned evdev_code, bool down);
void hgr_vm_input_pointer(HgrVm *vm, int dx, int dy, int wheel, unsigned buttons);

/* Presses the ACPI power button: the guest's OS shuts down cleanly if it
 * listens (hgr_vm_stop is the power cord). Any thread, never blocks. */
void hgr_vm_power_button(HgrVm *vm);

/* The display as a frontend consumes it. fn is called once, synchronously,
 * with the current frame and the areas that changed since the previous
 * incremental hgr_vm_display_update() (all of it when full is true); the
 * surface is valid only during the call. A full update does not consume
 * the changes: thumbnails and screenshots read full frames while one live
 * view reads incrementally. Returns false when the VM has no display.
 * Any thread; never waits on a vCPU. */
typedef void (*HgrVmDisplayFn)(const HgrConsoleSurface *surface, const HgrConsoleRect *dirty,
                               unsigned n_dirty, void *user_data);
bool hgr_vm_display_update(HgrVm *vm, bool full, HgrVmDisplayFn fn, void *user_data);

/* Bytes moved since start, for activity lights. Any thread. */
typedef struct {
    uint64_t disk_read_bytes, disk_write_bytes;
    uint64_t net_rx_bytes, net_tx_bytes;
} HgrVmActivity;
void hgr_vm_get_activity(HgrVm *vm, HgrVmActivity *out);

/* Number of resets the guest asked for (reboot) since start. */
unsigned hgr_vm_reboot_count(HgrVm *vm);

/* Boot timer: the guest's init writes one byte to I/O port 0x501 (the port
 * QEMU's isa-debug-exit uses by default, so one init serves both VMMs); this
 * is the time from hgr_vm_start() to the first such write, in ns, or 0. */
#define HGR_BOOT_TIMER_PORT 0x501
uint64_t hgr_vm_boot_time_ns(HgrVm *vm);

G_END_DECLS
