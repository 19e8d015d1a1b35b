/* machine-media.c — the disc in a running machine's CD/DVD drive: changed
 * in the VM (here, or through the control socket of the process running
 * it) and then in the machine's file, so the next start has it too. */
#include <glib/gi18n-lib.h>

#include "control-private.h"
#include "machine-private.h"

/* The vmm-core refusals, said for the user of this machine. */
static void change_failed(HgrMachine *m, GError *e, GError **error)
{
    const char *name = hgr_machine_get_name(m);

    if (g_error_matches(e, HGR_VM_ERROR, HGR_VM_ERROR_MEDIA_LOCKED))
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA_LOCKED,
                    _("The system in \"%s\" has locked its CD/DVD drive, as it does while it "
                      "uses the disc: eject it from inside the guest, or force the eject"),
                    name);
    else if (g_error_matches(e, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG))
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("\"%s\" has no CD/DVD drive: add one in its settings while it is off"),
                    name);
    else if (g_error_matches(e, HGR_VM_ERROR, HGR_VM_ERROR_STATE_INVALID))
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_RUNNING,
                    _("\"%s\" is not running: start it first"), name);
    else
        hgr_machine_translate_vm_error(error, e);
}

/* The VM has the new disc: the file follows. */
static bool save_cdrom(HgrMachine *m, const char *iso, GError **error)
{
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_copy(m->config);
    g_autofree char *file = g_strconcat(m->dir, "/", c->name, ".hangar", NULL);
    g_autoptr(GError) e = NULL;

    g_free(c->cdrom);
    c->cdrom = g_strdup(iso);
    if (!hgr_machine_config_save(c, file, &e)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("The disc was changed, but the settings of \"%s\" could not be saved, "
                      "so its next start has the old one: %s"), c->name, e->message);
        return false;
    }
    hgr_machine_config_free(m->config);
    m->config = g_steal_pointer(&c);
    g_object_notify_by_pspec(G_OBJECT(m), hgr_machine_props[PROP_CDROM]);
    return true;
}

static bool change_here(HgrMachine *m, const char *iso, bool force, GError **error)
{
    g_autofree char *full = NULL;
    g_autoptr(GError) e = NULL;

    if (iso && !(full = hgr_machine_config_resolve_iso(iso, m->dir, error)))
        return false;
    if (!hgr_vm_change_cdrom(m->vm, full, force, &e)) {
        change_failed(m, e, error);
        return false;
    }
    return save_cdrom(m, iso, error);
}

static bool not_running(HgrMachine *m, GError **error)
{
    g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_RUNNING,
                _("\"%s\" is not running: start it first"), hgr_machine_get_name(m));
    return false;
}

static GVariant *call_args(const char *iso, bool force)
{
    return g_variant_new("(sb)", iso ? iso : "", force);
}

bool hgr_machine_change_cdrom(HgrMachine *m, const char *iso, bool force, GError **error)
{
    if (m->vm)
        return change_here(m, iso, force, error);
    if (m->server)
        return not_running(m, error);           /* its run is ending */
    g_autoptr(HgrMachine) r = hgr_machine_runner(m);
    if (r)
        return hgr_machine_change_cdrom(r, iso, force, error);
    hgr_machine_remote_probe(m);                /* else remote_call says why not */
    return hgr_machine_remote_call(m, "ChangeCdrom", call_args(iso, force), error);
}

void hgr_machine_change_cdrom_async(HgrMachine *m, const char *iso, bool force,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
    /* What runs in this process answers at once; only another process can
     * keep us waiting. */
    g_autoptr(HgrMachine) r = m->vm || m->server ? NULL : hgr_machine_runner(m);
    if (m->vm || m->server || r) {
        g_autoptr(GTask) task = g_task_new(m, cancellable, callback, user_data);
        GError *error = NULL;
        if (hgr_machine_change_cdrom(m, iso, force, &error))
            g_task_return_boolean(task, TRUE);
        else
            g_task_return_error(task, error);
        return;
    }
    hgr_machine_remote_call_async(m, "ChangeCdrom", call_args(iso, force), cancellable,
                                  callback, user_data);
}

bool hgr_machine_change_cdrom_finish(HgrMachine *m, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, m), false);
    return g_task_propagate_boolean(G_TASK(result), error);
}
