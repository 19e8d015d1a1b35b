/* machine.c — one VM of the library: its config and state, and running it
 * in this process on vmm-core. A VM running in another process is
 * machine-remote.c's; both answer the same calls. */
#include "machine.h"

#include <glib/gi18n-lib.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "machine-private.h"

G_DEFINE_FINAL_TYPE(HgrMachine, hgr_machine, G_TYPE_OBJECT)

GParamSpec *hgr_machine_props[N_PROPS];

/* The machines running in this process, by UUID (weak entries). */
static GMutex running_lock;
static GHashTable *running_here;

static void register_running(HgrMachine *m)
{
    g_mutex_lock(&running_lock);
    if (!running_here)
        running_here = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_hash_table_insert(running_here, g_strdup(m->config->uuid), m);
    g_mutex_unlock(&running_lock);
}

static void unregister_running(HgrMachine *m)
{
    g_mutex_lock(&running_lock);
    if (running_here && g_hash_table_lookup(running_here, m->config->uuid) == m)
        g_hash_table_remove(running_here, m->config->uuid);
    g_mutex_unlock(&running_lock);
}

HgrMachine *hgr_machine_lookup_running_here(const char *uuid)
{
    HgrMachine *m = NULL;

    g_mutex_lock(&running_lock);
    if (running_here && (m = g_hash_table_lookup(running_here, uuid)))
        g_object_ref(m);
    g_mutex_unlock(&running_lock);
    return m;
}

/* Another HgrMachine object of this process runs this VM. */
static HgrMachine *runner(HgrMachine *m)
{
    if (m->vm)
        return NULL;
    HgrMachine *r = hgr_machine_lookup_running_here(m->config->uuid);
    if (r == m)
        g_clear_object(&r);
    return r;
}

HgrMachine *hgr_machine_runner(HgrMachine *m)
{
    return runner(m);
}

const char *hgr_machine_state_name(HgrMachineState s)
{
    switch (s) {
    case HGR_MACHINE_STOPPED: return "Stopped";
    case HGR_MACHINE_RUNNING: return "Running";
    case HGR_MACHINE_PAUSED: return "Paused";
    case HGR_MACHINE_FAILED: return "Failed";
    }
    return "Unknown";
}

static const char *const state_ids[] = {
    [HGR_MACHINE_STOPPED] = "stopped", [HGR_MACHINE_RUNNING] = "running",
    [HGR_MACHINE_PAUSED] = "paused", [HGR_MACHINE_FAILED] = "failed",
};

const char *hgr_machine_state_id(HgrMachineState s)
{
    return s < G_N_ELEMENTS(state_ids) ? state_ids[s] : "stopped";
}

bool hgr_machine_state_from_id(const char *id, HgrMachineState *out)
{
    for (size_t i = 0; i < G_N_ELEMENTS(state_ids); i++) {
        if (!g_strcmp0(id, state_ids[i])) {
            *out = (HgrMachineState)i;
            return true;
        }
    }
    return false;
}

static void hgr_machine_get_property(GObject *object, guint id, GValue *value,
                                     GParamSpec *pspec)
{
    HgrMachine *m = HGR_MACHINE(object);

    switch (id) {
    case PROP_NAME:
        g_value_set_string(value, m->config->name);
        break;
    case PROP_OS_NAME:
        g_value_set_string(value, m->config->os_name);
        break;
    case PROP_STATE:
        g_value_set_int(value, hgr_machine_get_state(m));
        break;
    case PROP_RUNNING_HERE:
        g_value_set_boolean(value, m->vm != NULL);
        break;
    case PROP_BUSY:
        g_value_set_boolean(value, m->acting > 0);
        break;
    case PROP_CDROM:
        g_value_set_string(value, m->config->cdrom);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void hgr_machine_dispose(GObject *object)
{
    HgrMachine *m = HGR_MACHINE(object);

    if (m->vm) {
        /* The last reference went while it ran: pull the plug rather than
         * leave threads running on freed memory. */
        g_warning("machine %s freed while running: stopping it", m->config->name);
        g_clear_pointer(&m->server, hgr_control_server_free);
        hgr_vm_stop(m->vm);
        hgr_vm_wait(m->vm);
        unregister_running(m);
        g_clear_pointer(&m->vm, hgr_vm_free);
        g_clear_pointer(&m->tag, g_free);
        g_clear_pointer(&m->relay, hgr_serial_relay_free);
    }
    hgr_machine_remote_drop(m);
    hgr_machine_forget_library(m);
    G_OBJECT_CLASS(hgr_machine_parent_class)->dispose(object);
}

static void hgr_machine_finalize(GObject *object)
{
    HgrMachine *m = HGR_MACHINE(object);

    g_free(m->dir);
    hgr_machine_config_free(m->config);
    g_free(m->failure);
    g_free(m->remote_stuck);
    g_main_context_unref(m->context);
    G_OBJECT_CLASS(hgr_machine_parent_class)->finalize(object);
}

static void hgr_machine_class_init(HgrMachineClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->get_property = hgr_machine_get_property;
    oc->dispose = hgr_machine_dispose;
    oc->finalize = hgr_machine_finalize;
    hgr_machine_props[PROP_NAME] =
        g_param_spec_string("name", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    hgr_machine_props[PROP_OS_NAME] =
        g_param_spec_string("os-name", NULL, NULL, NULL,
                            G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    hgr_machine_props[PROP_STATE] =
        g_param_spec_int("state", NULL, NULL, HGR_MACHINE_STOPPED, HGR_MACHINE_FAILED,
                         HGR_MACHINE_STOPPED, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    hgr_machine_props[PROP_RUNNING_HERE] =
        g_param_spec_boolean("running-here", NULL, NULL, FALSE,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    hgr_machine_props[PROP_BUSY] =
        g_param_spec_boolean("busy", NULL, NULL, FALSE,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    hgr_machine_props[PROP_CDROM] =
        g_param_spec_string("cdrom", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, hgr_machine_props);
}

static void hgr_machine_init(HgrMachine *m)
{
}

HgrMachine *hgr_machine_new_internal(HgrLibrary *lib, const char *dir,
                                     HgrMachineConfig *config)
{
    HgrMachine *m = g_object_new(HGR_TYPE_MACHINE, NULL);

    m->library = lib;
    g_object_add_weak_pointer(G_OBJECT(lib), (gpointer *)&m->library);
    m->context = g_main_context_ref(hgr_library_get_context(lib));
    m->dir = g_strdup(dir);
    m->config = config;
    m->state = HGR_MACHINE_STOPPED;
    return m;
}

void hgr_machine_forget_library(HgrMachine *m)
{
    if (m->library) {
        g_object_remove_weak_pointer(G_OBJECT(m->library), (gpointer *)&m->library);
        m->library = NULL;
    }
}

void hgr_machine_update_config(HgrMachine *m, const char *dir, HgrMachineConfig *config)
{
    if (m->vm) {
        /* This process runs it and knows better; the file is read again
         * at the next reload after the run. */
        hgr_machine_config_free(config);
        return;
    }
    if (g_strcmp0(m->dir, dir) != 0) {
        g_free(m->dir);
        m->dir = g_strdup(dir);
    }
    bool name_changed = g_strcmp0(m->config->name, config->name) != 0;
    bool os_changed = g_strcmp0(m->config->os_name, config->os_name) != 0;
    bool cd_changed = g_strcmp0(m->config->cdrom, config->cdrom) != 0;
    hgr_machine_config_free(m->config);
    m->config = config;
    if (cd_changed)
        g_object_notify_by_pspec(G_OBJECT(m), hgr_machine_props[PROP_CDROM]);
    if (name_changed)
        g_object_notify_by_pspec(G_OBJECT(m), hgr_machine_props[PROP_NAME]);
    if (os_changed)
        g_object_notify_by_pspec(G_OBJECT(m), hgr_machine_props[PROP_OS_NAME]);
}

const char *hgr_machine_get_name(HgrMachine *m)
{
    return m->config->name;
}

const char *hgr_machine_get_uuid(HgrMachine *m)
{
    return m->config->uuid;
}

const char *hgr_machine_get_dir(HgrMachine *m)
{
    return m->dir;
}

const HgrMachineConfig *hgr_machine_get_config(HgrMachine *m)
{
    return m->config;
}

void hgr_machine_set_state(HgrMachine *m, HgrMachineState state, const char *failure)
{
    if (state == HGR_MACHINE_FAILED && g_strcmp0(failure, m->failure) != 0) {
        g_free(m->failure);
        m->failure = g_strdup(failure);
    }
    if (m->state == state)
        return;
    m->state = state;
    if (state != HGR_MACHINE_FAILED)
        g_clear_pointer(&m->failure, g_free);
    g_object_notify_by_pspec(G_OBJECT(m), hgr_machine_props[PROP_STATE]);
}

HgrMachineState hgr_machine_get_state(HgrMachine *m)
{
    /* While this process serves the socket (also in the moment between the
     * VM's end and the socket's), the state is ours: never ask ourselves. */
    if (m->vm || m->server)
        return m->state;
    g_autoptr(HgrMachine) r = runner(m);
    return r ? r->state : m->state;
}

void hgr_machine_refresh_state(HgrMachine *m)
{
    if (m->vm || m->server)
        return;
    g_autoptr(HgrMachine) r = runner(m);
    if (!r)
        hgr_machine_remote_refresh(m);
}

HgrMachineState hgr_machine_query_state(HgrMachine *m)
{
    if (!m->vm && !m->server) {
        g_autoptr(HgrMachine) r = runner(m);
        if (!r)
            hgr_machine_remote_probe(m);
    }
    return hgr_machine_get_state(m);
}

const char *hgr_machine_get_failure(HgrMachine *m)
{
    return m->state == HGR_MACHINE_FAILED ? m->failure : NULL;
}

bool hgr_machine_is_running_here(HgrMachine *m)
{
    return m->vm != NULL;
}

bool hgr_machine_is_active(HgrMachine *m)
{
    HgrMachineState s = hgr_machine_query_state(m);
    return s == HGR_MACHINE_RUNNING || s == HGR_MACHINE_PAUSED;
}

HgrVm *hgr_machine_get_vm(HgrMachine *m)
{
    return m->vm;
}

/* Everything but the name (and the UUID, which never changes). */
static bool same_but_name(const HgrMachineConfig *a, const HgrMachineConfig *b)
{
    g_autoptr(HgrMachineConfig) x = hgr_machine_config_copy(a);
    g_autoptr(HgrMachineConfig) y = hgr_machine_config_copy(b);
    gsize lx, ly;

    g_free(y->name);
    y->name = g_strdup(x->name);
    g_free(y->uuid);
    y->uuid = g_strdup(x->uuid);
    g_autofree char *dx = hgr_machine_config_to_data(x, &lx);
    g_autofree char *dy = hgr_machine_config_to_data(y, &ly);
    return lx == ly && !memcmp(dx, dy, lx);
}

/* New name: write <New>.hangar, move the folder, drop <Old>.hangar. */
static bool rename_machine(HgrMachine *m, HgrMachineConfig *c, GError **error)
{
    const char *root = hgr_library_get_root(m->library);
    g_autofree char *new_dir = g_build_filename(root, c->name, NULL);
    g_autofree char *new_file = g_strconcat(m->dir, "/", c->name, ".hangar", NULL);
    g_autofree char *old_name = g_strconcat(m->config->name, ".hangar", NULL);

    if (!hgr_machine_config_save(c, new_file, error))
        return false;
    if (renameat2(AT_FDCWD, m->dir, AT_FDCWD, new_dir, RENAME_NOREPLACE) != 0) {
        int e = errno;
        g_unlink(new_file);
        g_set_error(error, HGR_LIBRARY_ERROR,
                    e == EEXIST ? HGR_LIBRARY_ERROR_NAME_EXISTS : HGR_LIBRARY_ERROR_IO,
                    _("Cannot rename the folder to %s: %s"), new_dir,
                    e == EEXIST ? _("a file of that name exists") : g_strerror(e));
        return false;
    }
    g_autofree char *old_file = g_build_filename(new_dir, old_name, NULL);
    g_unlink(old_file);
    g_free(m->dir);
    m->dir = g_steal_pointer(&new_dir);
    return true;
}

bool hgr_machine_set_config(HgrMachine *m, const HgrMachineConfig *config, GError **error)
{
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_copy(config);
    bool renamed = g_strcmp0(c->name, m->config->name) != 0;

    g_free(c->uuid);
    c->uuid = g_strdup(m->config->uuid);
    if (!hgr_machine_config_validate(c, error))
        return false;
    if (hgr_machine_is_active(m) && !same_but_name(m->config, c)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_BUSY,
                    _("\"%s\" is running: shut it down to change anything but its name"),
                    m->config->name);
        return false;
    }
    /* A machine switched to UEFI gets its variable store now, before the
     * file says UEFI. */
    g_autofree char *nvram = g_build_filename(m->dir, "nvram.fd", NULL);
    if (c->firmware == HGR_FIRMWARE_UEFI && !g_file_test(nvram, G_FILE_TEST_EXISTS)
        && !hgr_library_copy_nvram(m->dir, error))
        return false;
    if (renamed) {
        if (!m->library) {
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_FOUND,
                        _("\"%s\" is no longer in a library"), m->config->name);
            return false;
        }
        if (!hgr_library_check_name_for(m->library, c->name, m, error))
            return false;
        if (!rename_machine(m, c, error))
            return false;
    } else {
        g_autofree char *file = g_strconcat(m->dir, "/", c->name, ".hangar", NULL);
        if (!hgr_machine_config_save(c, file, error))
            return false;
    }
    bool os_changed = g_strcmp0(m->config->os_name, c->os_name) != 0;
    bool cd_changed = g_strcmp0(m->config->cdrom, c->cdrom) != 0;
    hgr_machine_config_free(m->config);
    m->config = g_steal_pointer(&c);
    if (cd_changed)
        g_object_notify_by_pspec(G_OBJECT(m), hgr_machine_props[PROP_CDROM]);
    if (renamed) {
        g_object_notify_by_pspec(G_OBJECT(m), hgr_machine_props[PROP_NAME]);
        if (m->library)
            hgr_library_resort(m->library);
    }
    if (os_changed)
        g_object_notify_by_pspec(G_OBJECT(m), hgr_machine_props[PROP_OS_NAME]);
    return true;
}

/* Running here */

typedef struct {
    HgrMachine *m;
    guint run;
    HgrVmState state;
} StateMessage;

static void state_message_free(gpointer data)
{
    StateMessage *msg = data;
    g_object_unref(msg->m);
    g_free(msg);
}

/* The run is over (the VM has stopped): everyone is told the final state
 * (and why it failed) while hgr_machine_get_vm() is still valid, so views
 * let go of it; then the VM's threads are joined and the socket goes. */
static void finish_run(HgrMachine *m, HgrMachineState state, const char *failure)
{
    hgr_machine_set_state(m, state, failure);
    g_clear_pointer(&m->vm, hgr_vm_free);
    g_clear_pointer(&m->tag, g_free);     /* no VMM thread left to use it */
    g_clear_pointer(&m->relay, hgr_serial_relay_free);
    g_clear_pointer(&m->server, hgr_control_server_free);
    /* Registered until the socket is gone: nothing here may call it. */
    unregister_running(m);
    g_object_notify_by_pspec(G_OBJECT(m), hgr_machine_props[PROP_RUNNING_HERE]);
}

static gboolean apply_vm_state(gpointer data)
{
    StateMessage *msg = data;
    HgrMachine *m = msg->m;

    if (!m->vm || m->run != msg->run)
        return G_SOURCE_REMOVE;       /* from a run that is already over */
    switch (msg->state) {
    case HGR_VM_STATE_RUNNING:
        hgr_machine_set_state(m, HGR_MACHINE_RUNNING, NULL);
        break;
    case HGR_VM_STATE_PAUSED:
        hgr_machine_set_state(m, HGR_MACHINE_PAUSED, NULL);
        break;
    case HGR_VM_STATE_POWERED_OFF:
    case HGR_VM_STATE_STOPPED:
        hgr_vm_wait(m->vm);
        finish_run(m, HGR_MACHINE_STOPPED, NULL);
        break;
    case HGR_VM_STATE_FAILED: {
        g_autofree char *why = g_strdup(hgr_vm_failure(m->vm));
        hgr_vm_wait(m->vm);
        finish_run(m, HGR_MACHINE_FAILED, why ? why : _("the VM failed"));
        break;
    }
    case HGR_VM_STATE_CREATED:
        break;
    }
    return G_SOURCE_REMOVE;
}

/* On a vCPU or I/O thread: the news goes to the library's context, always
 * queued (g_main_context_invoke could run it right here, on a VMM thread
 * that the handler would then try to join). */
typedef struct RunTag {
    HgrMachine *m;
    guint run;
} RunTag;

static void on_vm_state(HgrVm *vm, HgrVmState state, void *data)
{
    RunTag *tag = data;
    HgrMachine *m = tag->m;
    StateMessage *msg = g_new0(StateMessage, 1);
    g_autoptr(GSource) source = g_idle_source_new();

    msg->m = g_object_ref(m);
    msg->run = tag->run;
    msg->state = state;
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, apply_vm_state, msg, state_message_free);
    g_source_attach(source, m->context);
}

static void translate_vm_error(GError **error, GError *e)
{
    if (e->domain == HGR_VM_ERROR && e->code == HGR_VM_ERROR_DISK)
        g_set_error_literal(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA, e->message);
    else
        g_propagate_error(error, g_error_copy(e));
}

void hgr_machine_translate_vm_error(GError **error, GError *e)
{
    translate_vm_error(error, e);
}

static bool connect_serial(HgrMachine *m, HgrVmConfig *vc, const HgrMachineStartOptions *opts,
                           GError **error)
{
    g_autofree char *logs = g_build_filename(m->dir, "logs", NULL);
    g_autofree char *log = g_build_filename(logs, "serial.log", NULL);
    int vm_fd;

    if (!m->config->serial)
        return true;
    g_mkdir_with_parents(logs, 0755);
    m->relay = hgr_serial_relay_new(opts ? opts->serial_fd : -1, log, &vm_fd, error);
    if (!m->relay)
        return false;
    vc->serial = HGR_SERIAL_FD;
    vc->serial_fd = vm_fd;
    return true;
}

static bool check_not_running(HgrMachine *m, GError **error)
{
    if (hgr_machine_is_active(m)) {
        if (m->vm)
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_BUSY,
                        _("\"%s\" is already running"), m->config->name);
        else
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_BUSY,
                        _("\"%s\" is already running (in another window or hangarctl)"),
                        m->config->name);
        return false;
    }
    if (m->vm || m->server) {
        /* Its last run is being wound up (we are in a notify handler). */
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_BUSY,
                    _("\"%s\" is still stopping: start it again in a moment"),
                    m->config->name);
        return false;
    }
    return true;
}

bool hgr_machine_start(HgrMachine *m, const HgrMachineStartOptions *opts, GError **error)
{
    g_autoptr(GError) e = NULL;

    if (!check_not_running(m, error))
        return false;
    g_autoptr(HgrVmConfig) vc = hgr_machine_config_to_vm(m->config, m->dir, error);
    if (!vc || !connect_serial(m, vc, opts, error))
        return false;
    m->vm = hgr_vm_new(vc, &e);
    if (!m->vm) {
        if (m->relay)
            hgr_serial_relay_reclaim_vm_fd(m->relay);
        g_clear_pointer(&m->relay, hgr_serial_relay_free);
        translate_vm_error(error, e);
        return false;
    }
    m->run++;
    m->tag = g_new0(RunTag, 1);
    m->tag->m = m;
    m->tag->run = m->run;
    register_running(m);
    hgr_vm_set_state_callback(m->vm, on_vm_state, m->tag);
    /* Without its socket no other process would know it runs, and could
     * start it a second time: no run without it. */
    m->server = hgr_control_server_new(m, error);
    if (!m->server || !hgr_vm_start(m->vm, &e)) {
        g_clear_pointer(&m->server, hgr_control_server_free);
        g_clear_pointer(&m->vm, hgr_vm_free);
        unregister_running(m);
        g_clear_pointer(&m->tag, g_free);
        g_clear_pointer(&m->relay, hgr_serial_relay_free);
        if (e)
            translate_vm_error(error, e);
        return false;
    }
    hgr_machine_set_state(m, HGR_MACHINE_RUNNING, NULL);
    g_object_notify_by_pspec(G_OBJECT(m), hgr_machine_props[PROP_RUNNING_HERE]);
    return true;
}

static bool not_running_error(HgrMachine *m, GError **error)
{
    g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_RUNNING,
                _("\"%s\" is not running: start it first"), m->config->name);
    return false;
}

/* A vmm-core call that failed: its error, in the library's terms. */
static bool vm_failed(HgrMachine *m, GError *e, GError **error)
{
    if (e)
        translate_vm_error(error, e);
    else
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                    _("\"%s\" did not do that (no reason given)"), m->config->name);
    return false;
}

typedef enum {
    OP_PAUSE = HGR_MACHINE_ACTION_PAUSE,
    OP_RESUME = HGR_MACHINE_ACTION_RESUME,
    OP_SHUTDOWN = HGR_MACHINE_ACTION_SHUTDOWN,
    OP_FORCE_OFF = HGR_MACHINE_ACTION_FORCE_OFF,
    OP_RESET = HGR_MACHINE_ACTION_RESET,
} Op;
static const char *const op_methods[] = {
    [OP_PAUSE] = "Pause", [OP_RESUME] = "Resume", [OP_SHUTDOWN] = "Shutdown",
    [OP_FORCE_OFF] = "ForceOff", [OP_RESET] = "Reset",
};

static bool local_op(HgrMachine *m, Op op, GError **error)
{
    g_autoptr(GError) e = NULL;

    switch (op) {
    case OP_PAUSE:
        if (!hgr_vm_pause(m->vm, &e))
            return vm_failed(m, e, error);
        hgr_machine_set_state(m, HGR_MACHINE_PAUSED, NULL);
        return true;
    case OP_RESUME:
        if (!hgr_vm_resume(m->vm, &e))
            return vm_failed(m, e, error);
        hgr_machine_set_state(m, HGR_MACHINE_RUNNING, NULL);
        return true;
    case OP_SHUTDOWN:
        hgr_vm_power_button(m->vm);
        return true;
    case OP_FORCE_OFF:
        hgr_vm_stop(m->vm);
        hgr_vm_wait(m->vm);
        finish_run(m, HGR_MACHINE_STOPPED, NULL);
        return true;
    case OP_RESET:
        return hgr_vm_reset(m->vm, &e) || vm_failed(m, e, error);
    }
    return false;
}

static bool machine_op(HgrMachine *m, Op op, GError **error)
{
    if (m->vm)
        return local_op(m, op, error);
    if (m->server)
        return not_running_error(m, error);     /* its run is ending */
    g_autoptr(HgrMachine) r = runner(m);
    if (r)
        return machine_op(r, op, error);
    hgr_machine_remote_probe(m);       /* else remote_call says why not */
    return hgr_machine_remote_call(m, op_methods[op], NULL, error);
}

void hgr_machine_act_async(HgrMachine *m, HgrMachineAction action, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
    Op op = (Op)action;

    g_return_if_fail(action <= HGR_MACHINE_ACTION_RESET);
    /* Only another process can keep us waiting: what runs here (or in
     * another object of this process) answers at once. */
    g_autoptr(HgrMachine) r = m->vm || m->server ? NULL : runner(m);
    if (m->vm || m->server || r) {
        g_autoptr(GTask) task = g_task_new(m, cancellable, callback, user_data);
        GError *error = NULL;
        if (machine_op(m, op, &error))
            g_task_return_boolean(task, TRUE);
        else
            g_task_return_error(task, error);
        return;
    }
    /* Not connected: the periodic refresh would have found it, so it is
     * not running, or its process does not answer (the call says which). */
    hgr_machine_remote_act_async(m, action, op_methods[op], cancellable, callback, user_data);
}

bool hgr_machine_act_finish(HgrMachine *m, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, m), false);
    return g_task_propagate_boolean(G_TASK(result), error);
}

bool hgr_machine_pause(HgrMachine *m, GError **error)
{
    return machine_op(m, OP_PAUSE, error);
}

bool hgr_machine_resume(HgrMachine *m, GError **error)
{
    return machine_op(m, OP_RESUME, error);
}

bool hgr_machine_shutdown(HgrMachine *m, GError **error)
{
    return machine_op(m, OP_SHUTDOWN, error);
}

bool hgr_machine_force_off(HgrMachine *m, GError **error)
{
    return machine_op(m, OP_FORCE_OFF, error);
}

bool hgr_machine_reset(HgrMachine *m, GError **error)
{
    return machine_op(m, OP_RESET, error);
}

bool hgr_machine_screenshot(HgrMachine *m, const char *png_path, GError **error)
{
    g_autoptr(GError) e = NULL;

    if (m->vm) {
        if (hgr_vm_screenshot(m->vm, png_path, &e))
            return true;
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL,
                    _("No screenshot of \"%s\": %s"), m->config->name, e->message);
        return false;
    }
    if (m->server)
        return not_running_error(m, error);
    g_autoptr(HgrMachine) r = runner(m);
    if (r)
        return hgr_machine_screenshot(r, png_path, error);
    hgr_machine_remote_probe(m);       /* else remote_call says why not */
    /* The other process writes the file: it needs a path that is not
     * relative to our working folder. */
    g_autofree char *abs = g_canonicalize_filename(png_path, NULL);
    return hgr_machine_remote_call(m, "Screenshot", g_variant_new("(s)", abs), error);
}

HgrMachineState hgr_machine_run_until_stopped(HgrMachine *m)
{
    while (m->vm)
        g_main_context_iteration(m->context, TRUE);
    return m->state;
}

/* Screenshots for thumbnails */

void hgr_machine_screenshot_async(HgrMachine *m, const char *png_path,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
    /* What runs in this process answers at once, as in hgr_machine_act_async(). */
    g_autoptr(HgrMachine) r = m->vm || m->server ? NULL : runner(m);
    if (m->vm || m->server || r) {
        g_autoptr(GTask) task = g_task_new(m, cancellable, callback, user_data);
        GError *error = NULL;
        if (hgr_machine_screenshot(m, png_path, &error))
            g_task_return_boolean(task, TRUE);
        else
            g_task_return_error(task, error);
        return;
    }
    /* The other process writes the file: a path not relative to ours. */
    g_autofree char *abs = g_canonicalize_filename(png_path, NULL);
    hgr_machine_remote_call_async(m, "Screenshot", g_variant_new("(s)", abs), cancellable,
                                  callback, user_data);
}

bool hgr_machine_screenshot_finish(HgrMachine *m, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, m), false);
    return g_task_propagate_boolean(G_TASK(result), error);
}
