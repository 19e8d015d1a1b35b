/* control.c — the control socket of a running VM: a GDBus peer-to-peer
 * server in the process that runs it, and the client side's connect. */
#include "control.h"

#include <glib/gi18n-lib.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include "control-private.h"
#include "machine-private.h"

static const char introspection_xml[] =
    "<node>"
    "  <interface name='" HGR_CONTROL_INTERFACE "'>"
    "    <method name='Pause'/>"
    "    <method name='Resume'/>"
    "    <method name='Shutdown'/>"
    "    <method name='ForceOff'/>"
    "    <method name='Reset'/>"
    "    <method name='Screenshot'><arg type='s' name='path' direction='in'/></method>"
    "    <method name='ChangeCdrom'><arg type='s' name='path' direction='in'/>"
    "      <arg type='b' name='force' direction='in'/></method>"
    "    <property name='State' type='s' access='read'/>"
    "    <property name='Failure' type='s' access='read'/>"
    "    <property name='Name' type='s' access='read'/>"
    "  </interface>"
    "</node>";

#define STALE_AFTER_SECONDS 2

struct HgrControlServer {
    HgrMachine *machine;          /* owns the server */
    GDBusServer *server;
    GDBusNodeInfo *info;
    GPtrArray *connections;       /* of GDBusConnection *, registration id in data */
    char *path;
    gulong notify_id;
};

void hgr_control_register_errors(void)
{
    static gsize once;
    static const struct { int code; const char *name; } names[] = {
        { HGR_LIBRARY_ERROR_NAME_INVALID, "org.hangar.Error.NameInvalid" },
        { HGR_LIBRARY_ERROR_NAME_EXISTS, "org.hangar.Error.NameExists" },
        { HGR_LIBRARY_ERROR_NOT_FOUND, "org.hangar.Error.NotFound" },
        { HGR_LIBRARY_ERROR_CONFIG, "org.hangar.Error.Config" },
        { HGR_LIBRARY_ERROR_VERSION, "org.hangar.Error.Version" },
        { HGR_LIBRARY_ERROR_IO, "org.hangar.Error.IO" },
        { HGR_LIBRARY_ERROR_BUSY, "org.hangar.Error.Busy" },
        { HGR_LIBRARY_ERROR_NOT_RUNNING, "org.hangar.Error.NotRunning" },
        { HGR_LIBRARY_ERROR_MEDIA, "org.hangar.Error.Media" },
        { HGR_LIBRARY_ERROR_CONTROL, "org.hangar.Error.Control" },
        { HGR_LIBRARY_ERROR_MEDIA_LOCKED, "org.hangar.Error.MediaLocked" },
    };

    if (g_once_init_enter(&once)) {
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
            g_dbus_error_register_error(HGR_LIBRARY_ERROR, names[i].code, names[i].name);
        g_once_init_leave(&once, 1);
    }
}

char *hgr_control_socket_dir(void)
{
    const char *runtime = g_getenv("XDG_RUNTIME_DIR");

    if (runtime && *runtime && g_file_test(runtime, G_FILE_TEST_IS_DIR))
        return g_build_filename(runtime, "hangar", NULL);
    return g_strdup_printf("%s/hangar-%u", g_get_tmp_dir(), (unsigned)getuid());
}

char *hgr_control_socket_path(const char *uuid)
{
    g_autofree char *dir = hgr_control_socket_dir();
    g_autofree char *name = g_strconcat(uuid, ".sock", NULL);
    return g_build_filename(dir, name, NULL);
}

static bool process_stopped(pid_t pid)
{
    g_autofree char *stat_path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *text = NULL;

    if (pid <= 0 || !g_file_get_contents(stat_path, &text, NULL, NULL))
        return false;
    /* "pid (comm) S ...": the state follows the last ')'. */
    const char *close_paren = strrchr(text, ')');
    return close_paren && close_paren[1] == ' '
           && (close_paren[2] == 'T' || close_paren[2] == 't');
}

/* Is a process listening on path? A file nobody listens on is what a
 * crashed process left: it is removed. */
typedef enum { SOCKET_DEAD, SOCKET_ALIVE, SOCKET_STOPPED } SocketState;

static SocketState socket_state(const char *path, pid_t *pid)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path))
        return SOCKET_DEAD;
    strcpy(addr.sun_path, path);
    /* Non-blocking: a listener whose backlog is full must not hold us. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return SOCKET_DEAD;
    int r = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
    int e = errno;
    struct ucred cred = { 0 };
    socklen_t len = sizeof(cred);
    bool have_cred = r == 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
    close(fd);
    if (r == 0 || e == EAGAIN) {
        /* A stopped process (Ctrl-Z on `hangarctl start`) accepts but never
         * answers: the D-Bus handshake would wait for ever. */
        if (have_cred && process_stopped(cred.pid)) {
            *pid = cred.pid;
            return SOCKET_STOPPED;
        }
        return SOCKET_ALIVE;
    }
    /* A server binds, then listens: a file made a moment ago may be one
     * that is about to answer, not one left by a crash. */
    struct stat st;
    if (e == ECONNREFUSED && stat(path, &st) == 0
        && time(NULL) - st.st_ctime > STALE_AFTER_SECONDS) {
        g_debug("removing stale control socket %s", path);
        g_unlink(path);
    }
    return SOCKET_DEAD;
}

/* The address to connect to, or NULL with the reason nothing can answer. */
static char *reachable_address(const char *uuid, GError **error)
{
    g_autofree char *path = hgr_control_socket_path(uuid);
    g_autofree char *escaped = g_dbus_address_escape_value(path);
    pid_t pid = 0;
    SocketState state = g_file_test(path, G_FILE_TEST_EXISTS) ? socket_state(path, &pid)
                                                              : SOCKET_DEAD;

    hgr_control_register_errors();
    if (state == SOCKET_DEAD) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_RUNNING,
                    _("The machine is not running (nothing answers on %s)"), path);
        return NULL;
    }
    if (state == SOCKET_STOPPED) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                    _("The process running the machine (%d) is stopped, so the machine is "
                    "too: continue that process (fg in its terminal, or kill -CONT %d)"),
                    (int)pid, (int)pid);
        return NULL;
    }
    return g_strconcat("unix:path=", escaped, NULL);
}

static void handshake_error(const char *address, GError *e, bool timed_out, GError **error)
{
    if (timed_out)
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                    _("The process serving %s does not answer: it may hang; end it, or "
                      "wait and try again"), address + strlen("unix:path="));
    else
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                    _("Cannot reach the running machine on %s: %s"),
                    address + strlen("unix:path="), e->message);
}

/* Cancels the handshake of a synchronous connect that takes too long: a
 * process that accepts but never speaks would otherwise hold us for ever. */
typedef struct {
    GMutex lock;
    GCond cond;
    bool done;
    GCancellable *cancellable;
} Watchdog;

static gpointer watchdog_run(gpointer data)
{
    Watchdog *w = data;
    gint64 deadline = g_get_monotonic_time() + HGR_CONTROL_ANSWER_MS * G_TIME_SPAN_MILLISECOND;

    g_mutex_lock(&w->lock);
    while (!w->done && g_cond_wait_until(&w->cond, &w->lock, deadline))
        ;
    if (!w->done)
        g_cancellable_cancel(w->cancellable);
    g_mutex_unlock(&w->lock);
    return NULL;
}

GDBusConnection *hgr_control_connect(const char *uuid, GError **error)
{
    g_autoptr(GError) e = NULL;
    g_autofree char *address = reachable_address(uuid, error);
    if (!address)
        return NULL;

    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    Watchdog w = { .cancellable = cancellable };
    g_mutex_init(&w.lock);
    g_cond_init(&w.cond);
    GThread *t = g_thread_new("hangar-connect", watchdog_run, &w);
    GDBusConnection *c = g_dbus_connection_new_for_address_sync(
        address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL, cancellable, &e);
    g_mutex_lock(&w.lock);
    w.done = true;
    g_cond_signal(&w.cond);
    g_mutex_unlock(&w.lock);
    g_thread_join(t);
    g_mutex_clear(&w.lock);
    g_cond_clear(&w.cond);
    if (!c)
        handshake_error(address, e, g_cancellable_is_cancelled(cancellable), error);
    return c;
}

typedef struct {
    char *address;
    GCancellable *timeout;        /* cancelled when the handshake takes too long */
    GSource *timer;
    GCancellable *caller;
    gulong caller_id;
} ConnectData;

static void connect_data_free(gpointer data)
{
    ConnectData *d = data;
    if (d->timer) {
        g_source_destroy(d->timer);
        g_source_unref(d->timer);
    }
    if (d->caller)
        g_cancellable_disconnect(d->caller, d->caller_id);
    g_clear_object(&d->caller);
    g_object_unref(d->timeout);
    g_free(d->address);
    g_free(d);
}

static gboolean on_connect_timeout(gpointer data)
{
    g_cancellable_cancel(data);
    return G_SOURCE_REMOVE;
}

static void on_caller_cancelled(GCancellable *caller, gpointer data)
{
    g_cancellable_cancel(data);
}

static void on_handshake(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GTask) task = data;
    ConnectData *d = g_task_get_task_data(task);
    g_autoptr(GError) e = NULL;
    GError *error = NULL;
    GDBusConnection *c = g_dbus_connection_new_for_address_finish(res, &e);

    if (c) {
        g_task_return_pointer(task, c, g_object_unref);
    } else if (d->caller && g_cancellable_is_cancelled(d->caller)) {
        g_task_return_error(task, g_steal_pointer(&e));
    } else {
        handshake_error(d->address, e, g_cancellable_is_cancelled(d->timeout), &error);
        g_task_return_error(task, error);
    }
}

void hgr_control_connect_async(const char *uuid, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
    GError *error = NULL;
    char *address = reachable_address(uuid, &error);

    if (!address) {
        g_task_return_error(task, error);
        return;
    }
    ConnectData *d = g_new0(ConnectData, 1);
    d->address = address;
    d->timeout = g_cancellable_new();
    d->timer = g_timeout_source_new(HGR_CONTROL_ANSWER_MS);
    g_source_set_callback(d->timer, on_connect_timeout, d->timeout, NULL);
    g_source_attach(d->timer, g_main_context_get_thread_default());
    if (cancellable) {
        d->caller = g_object_ref(cancellable);
        d->caller_id = g_cancellable_connect(cancellable, G_CALLBACK(on_caller_cancelled),
                                             d->timeout, NULL);
    }
    g_task_set_task_data(task, d, connect_data_free);
    g_dbus_connection_new_for_address(address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                      NULL, d->timeout, on_handshake,
                                      g_steal_pointer(&task));
}

GDBusConnection *hgr_control_connect_finish(GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

/* The server */

static void do_method(HgrControlServer *s, GDBusConnection *connection, const char *method,
                      GVariant *params, GDBusMethodInvocation *inv)
{
    HgrMachine *m = s->machine;
    g_autoptr(GError) e = NULL;
    bool ok;

    if (!strcmp(method, "ForceOff")) {
        /* Pulling the plug frees this server and its connections: answer
         * first, and make sure the answer has left. */
        g_object_ref(connection);
        g_dbus_method_invocation_return_value(inv, NULL);
        g_dbus_connection_flush_sync(connection, NULL, NULL);
        g_object_unref(connection);
        if (!hgr_machine_force_off(m, &e))
            g_warning("ForceOff: %s", e->message);
        return;
    }
    if (!strcmp(method, "Pause"))
        ok = hgr_machine_pause(m, &e);
    else if (!strcmp(method, "Resume"))
        ok = hgr_machine_resume(m, &e);
    else if (!strcmp(method, "Shutdown"))
        ok = hgr_machine_shutdown(m, &e);
    else if (!strcmp(method, "Reset"))
        ok = hgr_machine_reset(m, &e);
    else if (!strcmp(method, "Screenshot")) {
        const char *path;
        g_variant_get(params, "(&s)", &path);
        if (!g_path_is_absolute(path)) {
            g_dbus_method_invocation_return_error(inv, HGR_LIBRARY_ERROR,
                                                  HGR_LIBRARY_ERROR_CONTROL,
                                                  "Screenshot needs an absolute path, not %s",
                                                  path);
            return;
        }
        ok = hgr_machine_screenshot(m, path, &e);
    } else if (!strcmp(method, "ChangeCdrom")) {
        const char *path;
        gboolean force;
        g_variant_get(params, "(&sb)", &path, &force);
        ok = hgr_machine_change_cdrom(m, *path ? path : NULL, force, &e);
    } else {
        g_dbus_method_invocation_return_error(inv, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                              "No method %s", method);
        return;
    }
    if (ok)
        g_dbus_method_invocation_return_value(inv, NULL);
    else
        g_dbus_method_invocation_return_gerror(inv, e);
}

static void on_method_call(GDBusConnection *connection, const char *sender, const char *path,
                           const char *iface, const char *method, GVariant *params,
                           GDBusMethodInvocation *inv, gpointer data)
{
    do_method(data, connection, method, params, inv);
}

static GVariant *on_get_property(GDBusConnection *connection, const char *sender,
                                 const char *path, const char *iface, const char *property,
                                 GError **error, gpointer data)
{
    HgrControlServer *s = data;

    /* The machine runs here: its own state, never hgr_machine_get_state(),
     * which could ask this very socket once the VM is gone. */
    if (!strcmp(property, "State"))
        return g_variant_new_string(hgr_machine_state_id(s->machine->state));
    if (!strcmp(property, "Failure"))
        return g_variant_new_string(s->machine->failure ? s->machine->failure : "");
    if (!strcmp(property, "Name"))
        return g_variant_new_string(hgr_machine_get_name(s->machine));
    g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "No property %s",
                property);
    return NULL;
}

static const GDBusInterfaceVTable vtable = {
    .method_call = on_method_call,
    .get_property = on_get_property,
};

static void on_connection_closed(GDBusConnection *c, gboolean remote_peer_vanished,
                                 GError *error, gpointer data)
{
    HgrControlServer *s = data;

    g_signal_handlers_disconnect_by_data(c, s);
    g_ptr_array_remove(s->connections, c);
}

static gboolean on_new_connection(GDBusServer *server, GDBusConnection *c, gpointer data)
{
    HgrControlServer *s = data;
    g_autoptr(GError) e = NULL;

    guint id = g_dbus_connection_register_object(c, HGR_CONTROL_PATH, s->info->interfaces[0],
                                                 &vtable, s, NULL, &e);
    if (!id) {
        g_warning("control socket: %s", e->message);
        return FALSE;
    }
    g_object_set_data(G_OBJECT(c), "hgr-registration", GUINT_TO_POINTER(id));
    g_ptr_array_add(s->connections, g_object_ref(c));
    g_signal_connect(c, "closed", G_CALLBACK(on_connection_closed), s);
    return TRUE;
}

static void on_state_changed(GObject *object, GParamSpec *pspec, gpointer data)
{
    HgrControlServer *s = data;
    const char *state = hgr_machine_state_id(s->machine->state);
    const char *failure = s->machine->failure ? s->machine->failure : "";

    for (guint i = 0; i < s->connections->len; i++) {
        GVariantBuilder changed;
        g_variant_builder_init(&changed, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&changed, "{sv}", "State", g_variant_new_string(state));
        g_variant_builder_add(&changed, "{sv}", "Failure", g_variant_new_string(failure));
        g_dbus_connection_emit_signal(s->connections->pdata[i], NULL, HGR_CONTROL_PATH,
                                      "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                      g_variant_new("(sa{sv}as)", HGR_CONTROL_INTERFACE,
                                                    &changed, NULL),
                                      NULL);
    }
}

static bool make_socket_dir(const char *path, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);

    struct stat st;

    if (g_mkdir_with_parents(dir, 0700) != 0) {
        int e = errno;
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                    _("Cannot make the folder for control sockets %s: %s"), dir, g_strerror(e));
        return false;
    }
    /* In /tmp someone else could have made it first. */
    if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid()
        && (st.st_mode & 0077))
        chmod(dir, 0700);
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid()
        || (st.st_mode & 0077)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                    _("The folder for control sockets %s is not yours alone: remove it, or "
                    "set XDG_RUNTIME_DIR"), dir);
        return false;
    }
    return true;
}

HgrControlServer *hgr_control_server_new(HgrMachine *m, GError **error)
{
    g_autofree char *path = hgr_control_socket_path(hgr_machine_get_uuid(m));
    g_autofree char *escaped = g_dbus_address_escape_value(path);
    g_autofree char *address = g_strconcat("unix:path=", escaped, NULL);
    g_autofree char *guid = g_dbus_generate_guid();
    g_autoptr(GError) e = NULL;

    hgr_control_register_errors();
    if (!make_socket_dir(path, error))
        return NULL;
    pid_t pid;
    if (g_file_test(path, G_FILE_TEST_EXISTS) && socket_state(path, &pid) != SOCKET_DEAD) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_BUSY,
                    _("Another process already serves %s: the machine runs there"), path);
        return NULL;
    }
    g_unlink(path);
    GDBusServer *server = g_dbus_server_new_sync(
        address, G_DBUS_SERVER_FLAGS_AUTHENTICATION_REQUIRE_SAME_USER, guid, NULL, NULL, &e);
    if (!server) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                    _("Cannot serve the control socket %s: %s"), path, e->message);
        return NULL;
    }
    HgrControlServer *s = g_new0(HgrControlServer, 1);
    s->machine = m;
    s->server = server;
    s->info = g_dbus_node_info_new_for_xml(introspection_xml, NULL);
    s->connections = g_ptr_array_new_with_free_func(g_object_unref);
    s->path = g_steal_pointer(&path);
    g_signal_connect(server, "new-connection", G_CALLBACK(on_new_connection), s);
    s->notify_id = g_signal_connect(m, "notify::state", G_CALLBACK(on_state_changed), s);
    g_dbus_server_start(server);
    return s;
}

void hgr_control_server_free(HgrControlServer *s)
{
    if (!s)
        return;
    g_signal_handler_disconnect(s->machine, s->notify_id);
    /* The socket file goes first (GDBusServer removes it when it stops):
     * from now on the machine is not running for anyone who looks. */
    g_dbus_server_stop(s->server);
    g_signal_handlers_disconnect_by_data(s->server, s);
    g_clear_object(&s->server);
    for (guint i = 0; i < s->connections->len; i++) {
        GDBusConnection *c = s->connections->pdata[i];
        g_signal_handlers_disconnect_by_data(c, s);
        g_dbus_connection_unregister_object(
            c, GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(c), "hgr-registration")));
        g_dbus_connection_flush_sync(c, NULL, NULL);
        g_dbus_connection_close_sync(c, NULL, NULL);
    }
    g_ptr_array_unref(s->connections);
    g_dbus_node_info_unref(s->info);
    g_free(s->path);
    g_free(s);
}
