/* os-templates.h — what to give a guest OS, from libosinfo's database.
 *
 * A template is one 64-bit OS from osinfo-db with the values a new VM
 * starts from: the database's recommended memory, CPUs and disk (raised
 * to at least its minimum), UEFI where the OS needs or prefers it, and
 * virtio only where the OS has the drivers inbox (otherwise NVMe/SATA).
 * Windows 11: UEFI, at least 4 GiB, 2 CPUs and 64 GiB.
 */
#pragma once

#include <glib.h>
#include <hangar/vm.h>
#include <stdbool.h>
#include <stdint.h>

#include "machine-config.h"

G_BEGIN_DECLS

typedef struct {
    char *id;              /* libosinfo short-id, "win11" */
    char *name;            /* "Microsoft Windows 11" */
    char *family;          /* "winnt", "linux", ... */
    char *vendor;          /* "Microsoft Corporation" */
    char *logo_icon;       /* icon name for the OS logo, or a generic one */
    uint64_t memory_mib;
    unsigned cpus;
    uint64_t disk_bytes;
    HgrFirmware firmware;
    HgrDiskBus disk_bus;
    bool virtio_net;       /* has virtio-net drivers inbox */
    /* What Hangar cannot give this OS yet, one sentence each, for the
     * wizard's summary page (e.g. "TPM 2.0: Windows 11 setup checks for
     * it; Hangar has no TPM yet"). */
    GPtrArray *limitations;
} HgrOsTemplate;

void hgr_os_template_free(HgrOsTemplate *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HgrOsTemplate, hgr_os_template_free)

/* The 64-bit templates, newest releases first within a family; of
 * HgrOsTemplate *. Errors when the database cannot be loaded (the message
 * names the `osinfo-db` package). */
GPtrArray *hgr_os_templates_list(GError **error);

/* By short-id; NULL when unknown. */
HgrOsTemplate *hgr_os_template_lookup(const char *id, GError **error);

/* For media the database does not know and no OS chosen: id NULL, BIOS,
 * SATA, 2 GiB, 2 CPUs, 20 GiB, and the limitations every guest has. */
HgrOsTemplate *hgr_os_template_generic(void);

/* Identifies the OS on an installation ISO (volume ID and the rest of the
 * ISO 9660 header, through libosinfo). Returns NULL with
 * HGR_LIBRARY_ERROR_MEDIA when the file is not an ISO image or is missing;
 * returns NULL and no error when it is an ISO that the database does not
 * know. */
HgrOsTemplate *hgr_os_template_identify_iso(const char *iso_path, GError **error);

/* Fills a new VM's config from the template: os_id, os_name, memory, CPUs,
 * firmware, network, and a first disk entry on the template's bus (the
 * library makes the image at creation). */
void hgr_os_template_apply(const HgrOsTemplate *t, HgrMachineConfig *config);

G_END_DECLS
