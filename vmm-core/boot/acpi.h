/* acpi.h — the ACPI tables that describe Hangar's PC to the guest. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/memory.h"

typedef struct {
    unsigned n_cpus;
    const uint32_t *apic_ids;          /* n_cpus entries */
    uint64_t mmio32_base, mmio32_size; /* PCI BAR window below 4 GiB */
    uint64_t mmio64_base, mmio64_size; /* PCI BAR window above RAM */
} HgrAcpiConfig;

/* Most CPUs the tables describe: KVM's x86 KVM_MAX_VCPUS. */
#define HGR_ACPI_MAX_CPUS 1024

/* Writes RSDP (ACPI 2.0+, at HGR_PC_ACPI_BASE, 16-byte aligned) and XSDT,
 * RSDT, FADT, FACS, DSDT, MADT, MCFG inside [HGR_PC_ACPI_BASE,
 * +HGR_PC_ACPI_SIZE); the rest of that area is zeroed. *rsdp = its address.
 * HGR_VM_ERROR_CONFIG for a configuration the tables cannot describe,
 * HGR_VM_ERROR_MEMORY when the area is not RAM. Can be called again on reset. */
bool hgr_acpi_build(const HgrGuestMem *mem, const HgrAcpiConfig *cfg, uint64_t *rsdp,
                    GError **error);

/* The same tables for a firmware that loads them itself through fw_cfg
 * (SeaBIOS, OVMF): files HGR_ACPI_FILE_TABLES (every table, built as if at
 * address 0), HGR_ACPI_FILE_RSDP and HGR_ACPI_FILE_LOADER, QEMU's BIOS
 * linker/loader script (128-byte commands: allocate both files, add the
 * tables file's address to every pointer, then fix every checksum). */
#define HGR_ACPI_FILE_TABLES "etc/acpi/tables"
#define HGR_ACPI_FILE_RSDP   "etc/acpi/rsdp"
#define HGR_ACPI_FILE_LOADER "etc/table-loader"

#define HGR_ACPI_LOADER_ENTRY_SIZE   128
#define HGR_ACPI_LOADER_FILESZ       56
#define HGR_ACPI_LOADER_ALLOCATE     1
#define HGR_ACPI_LOADER_ADD_POINTER  2
#define HGR_ACPI_LOADER_ADD_CHECKSUM 3
#define HGR_ACPI_LOADER_ZONE_HIGH    1
#define HGR_ACPI_LOADER_ZONE_FSEG    2

typedef struct {
    GBytes *tables, *rsdp, *loader;
} HgrAcpiBlobs;

/* Fills *out (all three, owned by the caller); errors as hgr_acpi_build. */
bool hgr_acpi_build_firmware(const HgrAcpiConfig *cfg, HgrAcpiBlobs *out, GError **error);
void hgr_acpi_blobs_clear(HgrAcpiBlobs *blobs);
