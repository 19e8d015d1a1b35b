/* machine-remote.c — a machine that runs in another process (hangarctl
 * start, or another Hangar window), seen and driven through its control
 * socket. Only ever called for machines not running in this process, so a
 * call here never waits on the thread that would have to answer it. */
#include <glib/gi18n-lib.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "control-private.h"
#include "control.h"
#include "machine-private.h"

#define CALL_TIMEOUT_MS 30000
#define PROBE_TIMEOUT_MS HGR_CONTROL_ANSWER_MS
#define CLOSE_WAIT_US (10 * G_USEC_PER_SEC)
#define CLOSE_POLL_MS 10

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

/* Nothing answered: why, for the calls that will be refused. */
static void note_unreachable(HgrMachine *m, const GError *e)
{
    g_clear_pointer(&m->remote_stuck, g_free);
    if (g_error_matches(e, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_RUNNING)) {
        if (m->state != HGR_MACHINE_FAILED)
            hgr_machine_set_state(m, HGR_MACHINE_STOPPED, NULL);
        return;
    }
    /* A process that is stopped, or hangs: it runs the VM, which in effect
     * is paused; calls are refused with the reason. */
    m->remote_stuck = g_strdup(e->message);
    hgr_machine_set_state(m, HGR_MACHINE_PAUSED, NULL);
}

/* The process took the connection but did not answer the question. */
static void note_silent(HgrMachine *m, const GError *e)
{
    g_autoptr(GError) why = g_error_new(
        HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
        _("The process running \"%s\" does not answer (%s): it may hang; end it, or wait "
          "and try again"), hgr_machine_get_name(m), e->message);

    g_debug("%s: control socket does not answer: %s", hgr_machine_get_name(m), e->message);
    note_unreachable(m, why);
}

static bool adopt_connection(HgrMachine *m, GDBusConnection *c, GVariant *reply)
{
    g_autoptr(GVariant) v = NULL;

    g_variant_get(reply, "(v)", &v);
    if (!g_variant_is_of_type(v, G_VARIANT_TYPE_STRING))
        return false;
    g_clear_pointer(&m->remote_stuck, g_free);
    m->remote = g_object_ref(c);
    m->remote_signal = g_dbus_connection_signal_subscribe(
        m->remote, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged",
        HGR_CONTROL_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, m, NULL);
    m->remote_closed = g_signal_connect(m->remote, "closed", G_CALLBACK(on_remote_closed), m);
    set_remote_state(m, g_variant_get_string(v, NULL), NULL);
    return true;
}

/* Is there anything to ask? False when connected already, or when this
 * process runs it (a synchronous call would wait on ourselves). */
static bool needs_probe(HgrMachine *m)
{
    if (m->remote && !g_dbus_connection_is_closed(m->remote))
        return false;
    g_autoptr(HgrMachine) here = hgr_machine_lookup_running_here(hgr_machine_get_uuid(m));
    if (here)
        return false;
    if (m->remote) {
        hgr_machine_remote_drop(m);
        if (m->state != HGR_MACHINE_FAILED)
            hgr_machine_set_state(m, HGR_MACHINE_STOPPED, NULL);
    }
    return true;
}

#define STATE_GET_ARGS                                                               \
    HGR_CONTROL_PATH, "org.freedesktop.DBus.Properties", "Get",                       \
        g_variant_new("(ss)", HGR_CONTROL_INTERFACE, "State"), G_VARIANT_TYPE("(v)"), \
        G_DBUS_CALL_FLAGS_NONE, PROBE_TIMEOUT_MS

bool hgr_machine_remote_probe(HgrMachine *m)
{
    g_autoptr(GError) e = NULL;

    if (!needs_probe(m))
        return m->remote != NULL;
    g_autoptr(GDBusConnection) c = hgr_control_connect(hgr_machine_get_uuid(m), &e);
    if (!c) {
        note_unreachable(m, e);
        return false;
    }
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(c, NULL, STATE_GET_ARGS, NULL, &e);
    if (!reply) {
        note_silent(m, e);
        return false;
    }
    return adopt_connection(m, c, reply);
}

static void on_state_reply(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(HgrMachine) m = data;
    GDBusConnection *c = G_DBUS_CONNECTION(source);
    g_autoptr(GError) e = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(c, res, &e);

    m->refreshing = false;
    if (m->vm || m->server || m->remote)
        return;                 /* it started here, or a waiting probe got there first */
    if (!reply)
        note_silent(m, e);
    else
        adopt_connection(m, c, reply);
}

static void on_refresh_connected(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(HgrMachine) m = data;
    g_autoptr(GError) e = NULL;
    g_autoptr(GDBusConnection) c = hgr_control_connect_finish(res, &e);

    if (!c) {
        m->refreshing = false;
        if (!m->vm && !m->server && !m->remote)
            note_unreachable(m, e);
        return;
    }
    g_dbus_connection_call(c, NULL, STATE_GET_ARGS, NULL, on_state_reply,
                           g_steal_pointer(&m));
}

void hgr_machine_remote_refresh(HgrMachine *m)
{
    if (m->refreshing || !needs_probe(m))
        return;
    m->refreshing = true;
    hgr_control_connect_async(hgr_machine_get_uuid(m), NULL, on_refresh_connected,
                              g_object_ref(m));
}

static bool not_connected(HgrMachine *m, GError **error)
{
    if (m->remote_stuck)
        g_set_error_literal(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                            m->remote_stuck);
    else
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_RUNNING,
                    _("\"%s\" is not running: start it first"), hgr_machine_get_name(m));
    return false;
}

/* A failed call, in the library's terms. */
static GError *call_error(HgrMachine *m, GError *e)
{
    if (e->domain == HGR_LIBRARY_ERROR || e->domain == HGR_VM_ERROR) {
        g_dbus_error_strip_remote_error(e);
        return g_error_copy(e);
    }
    if (g_dbus_error_is_remote_error(e)) {
        g_dbus_error_strip_remote_error(e);
        return g_error_new(HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL, "%s", e->message);
    }
    return g_error_new(HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                       _("The process running \"%s\" did not answer: %s"),
                       hgr_machine_get_name(m), e->message);
}

bool hgr_machine_remote_call(HgrMachine *m, const char *method, GVariant *args,
                             GError **error)
{
    g_autoptr(GError) e = NULL;

    if (!m->remote)
        return not_connected(m, error);
    g_autoptr(GDBusConnection) c = g_object_ref(m->remote);
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        c, NULL, HGR_CONTROL_PATH, HGR_CONTROL_INTERFACE, method, args, NULL,
        G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &e);

    if (!reply) {
        g_propagate_error(error, call_error(m, e));
        return false;
    }
    if (!strcmp(method, "ForceOff")) {
        /* The other process closes the socket once the VM is gone; wait for
         * that so that "stopped" is true when this returns. */
        gint64 deadline = g_get_monotonic_time() + CLOSE_WAIT_US;
        while (!g_dbus_connection_is_closed(c) && g_get_monotonic_time() < deadline)
            g_usleep(CLOSE_POLL_MS * 1000);
        hgr_machine_remote_drop(m);
        hgr_machine_set_state(m, HGR_MACHINE_STOPPED, NULL);
    }
    return true;
}

/* The same without waiting: the task returns when the other process has
 * answered (and, for ForceOff, closed the socket). */
typedef struct {
    GDBusConnection *c;
    bool force_off;
    gint64 close_deadline;
} CallData;

static void call_data_free(gpointer data)
{
    CallData *d = data;
    g_object_unref(d->c);
    g_free(d);
}

static gboolean wait_closed(gpointer data)
{
    GTask *task = data;
    CallData *d = g_task_get_task_data(task);
    HgrMachine *m = g_task_get_source_object(task);

    if (!g_dbus_connection_is_closed(d->c) && g_get_monotonic_time() < d->close_deadline)
        return G_SOURCE_CONTINUE;
    if (m->remote == d->c)
        hgr_machine_remote_drop(m);
    hgr_machine_set_state(m, HGR_MACHINE_STOPPED, NULL);
    g_task_return_boolean(task, TRUE);
    return G_SOURCE_REMOVE;
}

static void on_call_reply(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GTask) task = data;
    CallData *d = g_task_get_task_data(task);
    HgrMachine *m = g_task_get_source_object(task);
    g_autoptr(GError) e = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(d->c, res, &e);

    if (!reply) {
        g_task_return_error(task, call_error(m, e));
        return;
    }
    if (d->force_off) {
        d->close_deadline = g_get_monotonic_time() + CLOSE_WAIT_US;
        g_timeout_add_full(G_PRIORITY_DEFAULT, CLOSE_POLL_MS, wait_closed,
                           g_steal_pointer(&task), g_object_unref);
        return;
    }
    g_task_return_boolean(task, TRUE);
}

void hgr_machine_remote_call_async(HgrMachine *m, const char *method, GVariant *args,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(m, cancellable, callback, user_data);
    GError *error = NULL;

    if (!m->remote) {
        if (args)
            g_variant_unref(g_variant_ref_sink(args));
        not_connected(m, &error);
        g_task_return_error(task, error);
        return;
    }
    CallData *d = g_new0(CallData, 1);
    d->c = g_object_ref(m->remote);
    d->force_off = !strcmp(method, "ForceOff");
    g_task_set_task_data(task, d, call_data_free);
    g_dbus_connection_call(d->c, NULL, HGR_CONTROL_PATH, HGR_CONTROL_INTERFACE, method, args,
                           NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, cancellable,
                           on_call_reply, g_steal_pointer(&task));
}

/* Actions under way: "busy" */

static void set_acting(HgrMachine *m, guint acting)
{
    bool was = m->acting > 0;

    m->acting = acting;
    if (was != (acting > 0))
        g_object_notify_by_pspec(G_OBJECT(m), hgr_machine_props[PROP_BUSY]);
}

static void on_action_done(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GTask) task = data;
    HgrMachine *m = HGR_MACHINE(source);
    GError *error = NULL;
    bool ok = g_task_propagate_boolean(G_TASK(result), &error);

    /* Not busy any more before the caller hears: its callback sees the
     * controls it re-enables enabled. */
    set_acting(m, m->acting - 1);
    if (ok)
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_error(task, error);
}

void hgr_machine_remote_act_async(HgrMachine *m, HgrMachineAction action, const char *method,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
    GTask *task = g_task_new(m, cancellable, callback, user_data);

    g_task_set_source_tag(task, hgr_machine_act_async);
    m->acting_action = action;
    set_acting(m, m->acting + 1);
    hgr_machine_remote_call_async(m, method, NULL, cancellable, on_action_done, task);
}

bool hgr_machine_is_busy(HgrMachine *m)
{
    return m->acting > 0;
}

bool hgr_machine_get_pending_action(HgrMachine *m, HgrMachineAction *action)
{
    if (!m->acting)
        return false;
    if (action)
        *action = m->acting_action;
    return true;
}

/* Screenshots from another process */

char *hgr_machine_screenshot_file_new(GError **error)
{
    g_autofree char *dir = hgr_control_socket_dir();
    g_autofree char *path = g_build_filename(dir, "screenshot-XXXXXX.png", NULL);

    if (g_mkdir_with_parents(dir, 0700) != 0) {
        int e = errno;
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot make the folder %s: %s"), dir, g_strerror(e));
        return NULL;
    }
    int fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot make a file in %s: %s"), dir, g_strerror(e));
        return NULL;
    }
    close(fd);
    return g_steal_pointer(&path);
}
