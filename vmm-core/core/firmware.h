/* firmware.h — the firmware a PC boots and what it is told about the
 * machine: its image mapped where the reset vector finds it, the BIOS area
 * at power-on, and the fw_cfg items it reads (RAM layout, CPUs, ACPI
 * tables, boot order). machine-pc.c decides which devices exist; this
 * tells the firmware about them. */
#pragma once

#include <glib.h>
#include <hangar/vm.h>
#include <stdbool.h>

#include "../boot/acpi.h"
#include "device.h"
#include "memory.h"

typedef struct HgrFw HgrFw;

/* OVMF's two flash chips, QEMU's pflash units. */
#define HGR_FW_FLASH_CODE   0
#define HGR_FW_FLASH_VARS   1
#define HGR_FW_FLASH_UNITS  2

/* One drive the firmware may boot, as it finds it: its controller's PCI
 * slot and, on the AHCI controller, the port. */
typedef struct {
    HgrDiskBus bus;
    unsigned pci_slot;
    unsigned port;
} HgrFwDrive;

/* The machine as the firmware's tables describe it. */
typedef struct {
    uint64_t ram_size;
    const HgrGuestMem *mem;
    HgrAcpiConfig acpi;
    const HgrFwDrive *disks;       /* one per config disk, in config order */
    unsigned n_disks;
    const HgrFwDrive *cdrom;       /* NULL: no CD-ROM drive */
    HgrBootDevice boot;
    const uint8_t *uuid;           /* SMBIOS's system UUID (16 bytes), NULL: zeros */
} HgrFwMachine;

/* Opens the firmware config->firmware asks for (BIOS or UEFI) and checks
 * it. HGR_VM_ERROR_FIRMWARE naming the package when an image is missing,
 * HGR_VM_ERROR_CONFIG for a combination the firmware cannot boot. */
HgrFw *hgr_fw_open(const HgrVmConfig *config, GError **error);
void hgr_fw_free(HgrFw *fw);

/* UEFI: the flash chips for the machine's device table (0 for the BIOS).
 * take_flash hands one over (the machine frees it from then on); flash_gpa
 * is where it sits. */
unsigned hgr_fw_n_flash(const HgrFw *fw);
HgrDevice *hgr_fw_take_flash(HgrFw *fw, unsigned unit);
uint64_t hgr_fw_flash_gpa(const HgrFw *fw, unsigned unit);

/* Maps the ROM (or the OVMF code flash) read-only below 4 GiB in KVM
 * memory slot `slot` of vm_fd. */
bool hgr_fw_map(HgrFw *fw, int vm_fd, unsigned slot, GError **error);

/* Reads the ROM or code flash as the guest sees it at gpa; false outside. */
bool hgr_fw_read(const HgrFw *fw, uint64_t gpa, void *buf, size_t len);

/* A fw_cfg device carrying what the firmware reads first: RAM size and
 * layout (e820), CPU count, the serial console, the VGA BIOS, and for
 * OVMF's direct boot the kernel, setup, initrd and command line. */
HgrDevice *hgr_fw_new_fw_cfg(HgrFw *fw, const HgrGuestMem *mem, unsigned n_cpus);

/* Adds what needs the whole machine built: ACPI tables with their
 * loader script, SMBIOS, and the boot order. */
bool hgr_fw_add_tables(HgrFw *fw, HgrDevice *fw_cfg, const HgrFwMachine *m, GError **error);

/* At power-on and reset: the BIOS area as the firmware expects it. The
 * vCPU then starts at the reset vector. */
bool hgr_fw_load(HgrFw *fw, const HgrGuestMem *mem, GError **error);

/* Checks a variable store: a firmware volume of `size` bytes (0: any size
 * a flash takes) holding a formatted, healthy variable store. The error
 * says what is wrong and offers the reset. */
bool hgr_fw_check_vars(const char *path, uint64_t size, GError **error);
