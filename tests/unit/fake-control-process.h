/* fake-control-process.h — the process running a VM elsewhere, hung, for
 * the tests that check nothing here waits on it (tests/unit
 * test-machine-remote.c, tests/app test-vm-window.c). A thread with its
 * own main context serves the VM's control socket: it answers the state
 * ("running") but holds every Pause unanswered until the test lets it go
 * with fake_answer_pause(). fake_stop() ends it: its connections close, as
 * the kernel would close them when the process exits. */
#pragma once

#include <gio/gio.h>
#include <stdbool.h>

#include "control.h"

static const char fake_xml[] =
    "<node><interface name='" HGR_CONTROL_INTERFACE "'>"
    "  <method name='Pause'/>"
    "  <property name='State' type='s' access='read'/>"
    "</interface></node>";

typedef struct {
    char *address;
    GMainContext *context;
    GMainLoop *loop;
    GThread *thread;
    GDBusNodeInfo *info;
    GDBusServer *server;
    GPtrArray *connections;
    GDBusMethodInvocation *held;
    gint pause_seen;
    GMutex lock;
    GCond ready;
    bool started;
} Fake;

static void fake_method(GDBusConnection *c, const char *sender, const char *path,
                        const char *iface, const char *method, GVariant *params,
                        GDBusMethodInvocation *inv, gpointer data)
{
    Fake *fake = data;
    fake->held = inv;                  /* hangs: no answer until the test says */
    g_atomic_int_set(&fake->pause_seen, 1);
}

static GVariant *fake_get_property(GDBusConnection *c, const char *sender, const char *path,
                                   const char *iface, const char *prop, GError **error,
                                   gpointer data)
{
    return g_variant_new_string("running");
}

static const GDBusInterfaceVTable fake_vtable = { fake_method, fake_get_property, NULL };

static gboolean fake_new_connection(GDBusServer *server, GDBusConnection *c, gpointer data)
{
    Fake *fake = data;
    g_dbus_connection_register_object(c, HGR_CONTROL_PATH, fake->info->interfaces[0],
                                      &fake_vtable, fake, NULL, NULL);
    g_ptr_array_add(fake->connections, g_object_ref(c));
    return TRUE;
}

static gpointer fake_run(gpointer data)
{
    Fake *fake = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *guid = g_dbus_generate_guid();

    g_main_context_push_thread_default(fake->context);
    fake->server = g_dbus_server_new_sync(fake->address, G_DBUS_SERVER_FLAGS_NONE, guid, NULL,
                                          NULL, &error);
    g_assert_no_error(error);
    g_signal_connect(fake->server, "new-connection", G_CALLBACK(fake_new_connection), fake);
    g_dbus_server_start(fake->server);
    g_mutex_lock(&fake->lock);
    fake->started = true;
    g_cond_signal(&fake->ready);
    g_mutex_unlock(&fake->lock);
    g_main_loop_run(fake->loop);
    g_dbus_server_stop(fake->server);
    for (guint i = 0; i < fake->connections->len; i++)
        g_dbus_connection_close_sync(fake->connections->pdata[i], NULL, NULL);
    g_main_context_pop_thread_default(fake->context);
    return NULL;
}

static Fake *fake_start(const char *socket_path)
{
    Fake *fake = g_new0(Fake, 1);
    g_autofree char *escaped = g_dbus_address_escape_value(socket_path);

    fake->address = g_strconcat("unix:path=", escaped, NULL);
    fake->context = g_main_context_new();
    fake->loop = g_main_loop_new(fake->context, FALSE);
    fake->info = g_dbus_node_info_new_for_xml(fake_xml, NULL);
    fake->connections = g_ptr_array_new_with_free_func(g_object_unref);
    g_mutex_init(&fake->lock);
    g_cond_init(&fake->ready);
    fake->thread = g_thread_new("fake-process", fake_run, fake);
    g_mutex_lock(&fake->lock);
    while (!fake->started)
        g_cond_wait(&fake->ready, &fake->lock);
    g_mutex_unlock(&fake->lock);
    return fake;
}

/* Run on fake->context (g_main_context_invoke): the held Pause returns. */
static gboolean fake_answer_pause(gpointer data)
{
    Fake *fake = data;
    g_dbus_method_invocation_return_value(fake->held, NULL);
    fake->held = NULL;
    return G_SOURCE_REMOVE;
}

static void fake_stop(Fake *fake)
{
    g_main_loop_quit(fake->loop);
    g_thread_join(fake->thread);
    g_ptr_array_unref(fake->connections);
    g_object_unref(fake->server);
    g_dbus_node_info_unref(fake->info);
    g_main_loop_unref(fake->loop);
    g_main_context_unref(fake->context);
    g_mutex_clear(&fake->lock);
    g_cond_clear(&fake->ready);
    g_free(fake->address);
    g_free(fake);
}
