/* library.h — the VMs on disk, shared by the app and hangarctl.
 *
 *   <root>/<Name>/<Name>.hangar   config (machine-config.h)
 *   <root>/<Name>/disk.qcow2      the first disk, made at creation
 *   <root>/<Name>/nvram.fd        UEFI variables (copy of OVMF_VARS_4M.fd)
 *   <root>/<Name>/logs/           serial.log, vmm.log
 *
 * root defaults to $XDG_DATA_HOME/hangar/machines. A folder that cannot be
 * read as a VM is listed in problems (with the reason) and left untouched:
 * the library still opens.
 */
#pragma once

#include <gio/gio.h>

#include "machine-config.h"
#include "machine.h"

G_BEGIN_DECLS

#define HGR_TYPE_LIBRARY (hgr_library_get_type())
G_DECLARE_FINAL_TYPE(HgrLibrary, hgr_library, HGR, LIBRARY, GObject)

/* root NULL: the default. Creates the folder if missing. */
HgrLibrary *hgr_library_new(const char *root, GError **error);
const char *hgr_library_get_root(HgrLibrary *lib);

/* A GListModel of HgrMachine, sorted by name; updated by create, delete,
 * rename and reload (items-changed on the thread that made the library). */
GListModel *hgr_library_get_machines(HgrLibrary *lib);

typedef struct {
    char *path;            /* the folder or file */
    char *message;         /* why it is not listed, and what to do */
} HgrLibraryProblem;
/* Of HgrLibraryProblem *, from the last scan. */
GPtrArray *hgr_library_get_problems(HgrLibrary *lib);

/* Rescans the folder: VMs made or deleted by another process appear or go.
 * (The library also watches its folder and does this by itself, and
 * follows VMs that other processes start and stop: "state" notifies.) */
bool hgr_library_reload(HgrLibrary *lib, GError **error);

/* By name, or by UUID. NULL: not found (error set). Not a new reference. */
HgrMachine *hgr_library_find(HgrLibrary *lib, const char *name_or_uuid, GError **error);

/* Is this name usable for a new VM (valid, and not taken by a machine or
 * folder whose name differs only in case)? */
bool hgr_library_check_new_name(HgrLibrary *lib, const char *name, GError **error);

/* Makes the folder, the first disk (qcow2, disk_size bytes, on the bus of
 * config's first disk, or NVMe/virtio as config says; 0: no disk is made and
 * config's disks are used as given), nvram.fd for UEFI, and writes the
 * config. config->uuid is filled in. Nothing is left behind on failure.
 * Returns the new machine (not a new reference). */
HgrMachine *hgr_library_create(HgrLibrary *lib, const HgrMachineConfig *config,
                               uint64_t disk_size, GError **error);

/* Refused while it runs. delete_files: the folder and everything in it;
 * otherwise the folder is only forgotten (renamed <Name>.removed). */
bool hgr_library_delete(HgrLibrary *lib, HgrMachine *machine, bool delete_files,
                        GError **error);

G_END_DECLS
