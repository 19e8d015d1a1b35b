/* machine-remote.c — a machine that runs in another process (hangarctl
 * start, or another Hangar window), seen and driven through its control
 * socket. Only ever called for machines not running in this process, so a
 * call here never waits on the thread that would have to answer it. */
#include <glib/gi18n-lib.h>
#include <string.h>

#include "control-private.h"
#include "machine-private.h"

#define CALL_TIMEOUT_MS 30000
/* Asking the state is on the app's main thread: a process that hangs must
 * not freeze it for long. */
#define PROBE_TIMEOUT_MS 3000
#define CLOSE_WAIT_US (10 * G_USEC_PER_SEC)

void hgr_machine_remote_drop(HgrMachine *m)
{
    if (!m->remote)
        return;
    g_signal_handler_disconnect(m->remote, m->remote_closed);
    g_dbus_connection_signal_unsubscribe(m->remote, m->remote_signal);
    g_clear_object(&m->remote);
}

static void set_remote_state(HgrMachine *m, const char *id, const char *failure)
{
    HgrMachineState s;

    if (hgr_machine_state_from_id(id, &s))
        hgr_machine_set_state(m, s, failure && *failure ? failure
                                                        : _("the VM failed in the process "
                                                            "that ran it"));
}

static void on_properties_changed(GDBusConnection *c, const char *sender, const char *path,
                                  const char *iface, const char *signal, GVariant *params,
                                  gpointer data)
{
    HgrMachine *m = data;
    const char *changed_iface;
    g_autoptr(GVariant) changed = NULL;
    g_autoptr(GVariant) invalidated = NULL;
    const char *state, *failure = NULL;

    if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(sa{sv}as)")))
        return;
    g_variant_get(params, "(&s@a{sv}@as)", &changed_iface, &changed, &invalidated);
    if (strcmp(changed_iface, HGR_CONTROL_INTERFACE) != 0
        || !g_variant_lookup(changed, "State", "&s", &state))
        return;
    g_variant_lookup(changed, "Failure", "&s", &failure);
    set_remote_state(m, state, failure);
}

static void on_remote_closed(GDBusConnection *c, gboolean vanished, GError *error,
                             gpointer data)
{
    HgrMachine *m = data;

    hgr_machine_remote_drop(m);
    /* A run that failed stays failed (with its reason) once its process is gone. */
    if (m->state != HGR_MACHINE_FAILED)
        hgr_machine_set_state(m, HGR_MACHINE_STOPPED, NULL);
}

bool hgr_machine_remote_probe(HgrMachine *m)
{
    g_autoptr(GError) e = NULL;

    if (m->remote && !g_dbus_connection_is_closed(m->remote))
        return true;
    /* Served by this process: a synchronous call would wait on ourselves. */
    g_autoptr(HgrMachine) here = hgr_machine_lookup_running_here(hgr_machine_get_uuid(m));
    if (here)
        return false;
    if (m->remote) {
        hgr_machine_remote_drop(m);
        if (m->state != HGR_MACHINE_FAILED)
            hgr_machine_set_state(m, HGR_MACHINE_STOPPED, NULL);
    }
    g_autoptr(GDBusConnection) c = hgr_control_connect(hgr_machine_get_uuid(m), &e);
    g_clear_pointer(&m->remote_stuck, g_free);
    if (!c) {
        if (g_error_matches(e, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL)) {
            /* Its process is stopped: so is the VM, in effect. */
            m->remote_stuck = g_strdup(e->message);
            hgr_machine_set_state(m, HGR_MACHINE_PAUSED, NULL);
        }
        return false;
    }
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        c, NULL, HGR_CONTROL_PATH, "org.freedesktop.DBus.Properties", "Get",
        g_variant_new("(ss)", HGR_CONTROL_INTERFACE, "State"), G_VARIANT_TYPE("(v)"),
        G_DBUS_CALL_FLAGS_NONE, PROBE_TIMEOUT_MS, NULL, &e);
    if (!reply) {
        g_debug("%s: control socket does not answer: %s", hgr_machine_get_name(m),
                e->message);
        return false;
    }
    g_autoptr(GVariant) v = NULL;
    g_variant_get(reply, "(v)", &v);
    if (!g_variant_is_of_type(v, G_VARIANT_TYPE_STRING))
        return false;
    m->remote = g_steal_pointer(&c);
    m->remote_signal = g_dbus_connection_signal_subscribe(
        m->remote, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged",
        HGR_CONTROL_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, m, NULL);
    m->remote_closed = g_signal_connect(m->remote, "closed", G_CALLBACK(on_remote_closed), m);
    set_remote_state(m, g_variant_get_string(v, NULL), NULL);
    return true;
}

bool hgr_machine_remote_call(HgrMachine *m, const char *method, GVariant *args,
                             GError **error)
{
    g_autoptr(GError) e = NULL;

    if (!m->remote) {
        if (m->remote_stuck)
            g_set_error_literal(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                                m->remote_stuck);
        else
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_RUNNING,
                        "\"%s\" is not running: start it first", hgr_machine_get_name(m));
        return false;
    }
    g_autoptr(GDBusConnection) c = g_object_ref(m->remote);
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        c, NULL, HGR_CONTROL_PATH, HGR_CONTROL_INTERFACE, method, args, NULL,
        G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &e);

    if (!reply) {
        if (e->domain == HGR_LIBRARY_ERROR || e->domain == HGR_VM_ERROR) {
            g_dbus_error_strip_remote_error(e);
            g_propagate_error(error, g_steal_pointer(&e));
        } else if (g_dbus_error_is_remote_error(e)) {
            g_dbus_error_strip_remote_error(e);
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL, "%s",
                        e->message);
        } else {
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                        "The process running \"%s\" did not answer: %s",
                        hgr_machine_get_name(m), e->message);
        }
        return false;
    }
    if (!strcmp(method, "ForceOff")) {
        /* The other process closes the socket once the VM is gone; wait for
         * that so that "stopped" is true when this returns. */
        gint64 deadline = g_get_monotonic_time() + CLOSE_WAIT_US;
        while (!g_dbus_connection_is_closed(c) && g_get_monotonic_time() < deadline)
            g_usleep(10000);
        hgr_machine_remote_drop(m);
        hgr_machine_set_state(m, HGR_MACHINE_STOPPED, NULL);
    }
    return true;
}
