/* smbios.h — the SMBIOS tables that describe Hangar's PC (what dmidecode,
 * Windows and installers read: maker, product, CPUs, memory), handed to
 * the firmware through fw_cfg the way QEMU does it: an entry point and the
 * structures, which SeaBIOS and OVMF copy where the OS finds them. */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "core/memory.h"

#define HGR_SMBIOS_FILE_ANCHOR "etc/smbios/smbios-anchor"
#define HGR_SMBIOS_FILE_TABLES "etc/smbios/smbios-tables"
#define HGR_SMBIOS_ANCHOR_SIZE 31       /* a 2.1 (32-bit) entry point, version 2.8 */

typedef struct {
    unsigned n_cpus;
    uint64_t ram_size;              /* the VM's memory, as its DIMM */
    const HgrGuestMem *mem;         /* where it is mapped */
    /* The system's UUID, 16 bytes in the order its text form reads
     * (RFC 4122), or NULL: all zeros. */
    const uint8_t *uuid;
} HgrSmbiosConfig;

/* *anchor: the entry point with table address 0 (the firmware fills it);
 * *tables: every structure, ending with type 127. Both owned by the caller. */
void hgr_smbios_build(const HgrSmbiosConfig *cfg, GBytes **anchor, GBytes **tables);

/* Puts the table address into an entry point and fixes its checksums, as
 * a firmware does when it places the tables. */
void hgr_smbios_set_address(uint8_t anchor[HGR_SMBIOS_ANCHOR_SIZE], uint32_t addr);
