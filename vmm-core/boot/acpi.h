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
