/* vm-media.c — changing the disc in the CD-ROM drive of a live VM: the new
 * ISO is opened and checked here, on the caller's thread, so that nothing
 * the guest sees changes until it is known to be usable. */
#include "vm-private.h"

#include <string.h>
#include <unistd.h>

#include "../block/block.h"

#define VOLUME_DESCRIPTOR_OFFSET (16 * 2048)

/* An optical disc image has a volume descriptor at 32 KiB: ISO 9660
 * ("CD001") or UDF's ("BEA01"). Anything else would only give the guest
 * puzzling read errors, so it is refused with the file's name. */
static bool check_disc_image(HgrBlock *blk, GError **error)
{
    char id[6] = { 0 };
    ssize_t n = pread(hgr_block_file_fd(blk), id, sizeof(id), VOLUME_DESCRIPTOR_OFFSET);

    if (n == (ssize_t)sizeof(id) && (!memcmp(id + 1, "CD001", 5) || !memcmp(id + 1, "BEA01", 5)))
        return true;
    g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_DISK,
                "%s: not a CD/DVD image (no ISO 9660 or UDF volume descriptor)",
                hgr_block_path(blk));
    return false;
}

static bool check_live(HgrVm *vm, GError **error)
{
    g_mutex_lock(&vm->lock);
    HgrVmState s = vm->state;
    g_mutex_unlock(&vm->lock);
    if (s == HGR_VM_STATE_CREATED || s == HGR_VM_STATE_RUNNING || s == HGR_VM_STATE_PAUSED)
        return true;
    g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE_INVALID,
                "cannot change the disc of a VM that is %s", hgr_vm_state_name(s));
    return false;
}

bool hgr_vm_has_cdrom_drive(HgrVm *vm)
{
    return hgr_machine_has_cd_drive(vm);
}

bool hgr_vm_change_cdrom(HgrVm *vm, const char *iso, bool force, GError **error)
{
    g_autoptr(HgrBlock) blk = NULL;
    HgrBlock *old = NULL;

    if (!check_live(vm, error))
        return false;
    if (!hgr_machine_has_cd_drive(vm)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "this VM has no CD/DVD drive; add one in its settings while it is off");
        return false;
    }
    /* Read-only and raw, as at startup: an ISO is never probed. */
    if (iso && (!(blk = hgr_block_open(iso, HGR_DISK_FORMAT_RAW, true, error))
                || !check_disc_image(blk, error)))
        return false;
    if (!hgr_machine_swap_cdrom(vm, blk, force, &old, error))
        return false;                   /* blk is closed; the old disc stays in */
    g_steal_pointer(&blk);              /* the machine's now */
    g_clear_pointer(&old, hgr_block_free);
    g_debug("CD-ROM drive: %s", iso ? iso : "ejected");
    return true;
}
