/* library.c — the folder of VMs: scanning it, creating and deleting VMs. */
#include "library.h"

#include <glib/gi18n-lib.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control-private.h"
#include "library-private.h"

#define REMOVED_SUFFIX ".removed"

struct _HgrLibrary {
    GObject parent;
    char *root;
    GListStore *machines;
    GPtrArray *problems;
    GMainContext *context;
    GFileMonitor *sockets;        /* VMs starting and stopping in other processes */
    GFileMonitor *folder;         /* VMs made, renamed or deleted by other processes */
    GSource *reload;              /* pending, on context */
};

#define RELOAD_DELAY_MS 250

#define PROBE_DELAY_MS 300

static HgrMachine *find_by_uuid(HgrLibrary *lib, const char *uuid, guint *pos);

G_DEFINE_FINAL_TYPE(HgrLibrary, hgr_library, G_TYPE_OBJECT)

static void problem_free(HgrLibraryProblem *p)
{
    g_free(p->path);
    g_free(p->message);
    g_free(p);
}

static void add_problem(HgrLibrary *lib, const char *path, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void add_problem(HgrLibrary *lib, const char *path, const char *fmt, ...)
{
    HgrLibraryProblem *p = g_new0(HgrLibraryProblem, 1);
    va_list ap;

    va_start(ap, fmt);
    p->path = g_strdup(path);
    p->message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_debug("library problem: %s: %s", path, p->message);
    g_ptr_array_add(lib->problems, p);
}

static void hgr_library_finalize(GObject *object)
{
    HgrLibrary *lib = HGR_LIBRARY(object);

    for (guint i = 0; i < g_list_model_get_n_items(G_LIST_MODEL(lib->machines)); i++) {
        g_autoptr(HgrMachine) m = g_list_model_get_item(G_LIST_MODEL(lib->machines), i);
        hgr_machine_forget_library(m);
    }
    if (lib->sockets)
        g_signal_handlers_disconnect_by_data(lib->sockets, lib);
    g_clear_object(&lib->sockets);
    if (lib->folder)
        g_signal_handlers_disconnect_by_data(lib->folder, lib);
    g_clear_object(&lib->folder);
    if (lib->reload) {
        g_source_destroy(lib->reload);
        g_clear_pointer(&lib->reload, g_source_unref);
    }
    g_clear_object(&lib->machines);
    g_clear_pointer(&lib->problems, g_ptr_array_unref);
    g_clear_pointer(&lib->context, g_main_context_unref);
    g_free(lib->root);
    G_OBJECT_CLASS(hgr_library_parent_class)->finalize(object);
}

static void hgr_library_class_init(HgrLibraryClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = hgr_library_finalize;
}

static void hgr_library_init(HgrLibrary *lib)
{
    lib->machines = g_list_store_new(HGR_TYPE_MACHINE);
    lib->problems = g_ptr_array_new_with_free_func((GDestroyNotify)problem_free);
    lib->context = g_main_context_ref_thread_default();
}

/* By name as people sort: "alpine" before "Debian" before "fedora". */
static char *sort_key(HgrMachine *m)
{
    g_autofree char *folded = g_utf8_casefold(hgr_machine_get_name(m), -1);
    return g_utf8_collate_key(folded, -1);
}

static int compare_machines(gconstpointer a, gconstpointer b, gpointer data)
{
    g_autofree char *ka = sort_key((HgrMachine *)a);
    g_autofree char *kb = sort_key((HgrMachine *)b);
    int r = strcmp(ka, kb);

    return r ? r : g_strcmp0(hgr_machine_get_name((HgrMachine *)a),
                             hgr_machine_get_name((HgrMachine *)b));
}

typedef struct {
    GWeakRef lib;
    char *uuid;
} Probe;

static void probe_free(gpointer data)
{
    Probe *p = data;
    g_weak_ref_clear(&p->lib);
    g_free(p->uuid);
    g_free(p);
}

/* Asking the machine its state (without waiting) connects to the new
 * socket (or notices it went), which notifies "state" for the app. */
static gboolean probe_machine(gpointer data)
{
    Probe *p = data;
    g_autoptr(HgrLibrary) lib = g_weak_ref_get(&p->lib);
    HgrMachine *m = lib ? find_by_uuid(lib, p->uuid, NULL) : NULL;

    if (m && !hgr_machine_is_running_here(m))
        hgr_machine_refresh_state(m);
    return G_SOURCE_REMOVE;
}

static void on_socket_event(GFileMonitor *monitor, GFile *file, GFile *other,
                            GFileMonitorEvent event, gpointer data)
{
    HgrLibrary *lib = data;
    g_autofree char *base = g_file_get_basename(file);

    if ((event != G_FILE_MONITOR_EVENT_CREATED && event != G_FILE_MONITOR_EVENT_DELETED)
        || !g_str_has_suffix(base, ".sock"))
        return;
    Probe *p = g_new0(Probe, 1);
    g_weak_ref_init(&p->lib, lib);
    p->uuid = g_strndup(base, strlen(base) - strlen(".sock"));
    /* The server binds before it listens: give it a moment. */
    g_autoptr(GSource) source = g_timeout_source_new(PROBE_DELAY_MS);
    g_source_set_callback(source, probe_machine, p, probe_free);
    g_source_attach(source, lib->context);
}

static void watch_sockets(HgrLibrary *lib)
{
    g_autofree char *dir = hgr_control_socket_dir();
    g_autoptr(GFile) file = g_file_new_for_path(dir);
    g_autoptr(GError) error = NULL;

    g_mkdir_with_parents(dir, 0700);
    lib->sockets = g_file_monitor_directory(file, G_FILE_MONITOR_NONE, NULL, &error);
    if (!lib->sockets) {
        g_debug("not watching %s: %s", dir, error->message);
        return;
    }
    g_signal_connect(lib->sockets, "changed", G_CALLBACK(on_socket_event), lib);
}

static gboolean reload_now(gpointer data)
{
    HgrLibrary *lib = data;
    g_autoptr(GError) error = NULL;

    g_clear_pointer(&lib->reload, g_source_unref);
    if (!hgr_library_reload(lib, &error))
        g_debug("reload: %s", error->message);
    return G_SOURCE_REMOVE;
}

/* Something changed in the root folder: reload once things settle. */
static void on_folder_event(GFileMonitor *monitor, GFile *file, GFile *other,
                            GFileMonitorEvent event, gpointer data)
{
    HgrLibrary *lib = data;

    if (event == G_FILE_MONITOR_EVENT_CHANGED
        || event == G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT
        || event == G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED || lib->reload)
        return;
    lib->reload = g_timeout_source_new(RELOAD_DELAY_MS);
    g_source_set_callback(lib->reload, reload_now, lib, NULL);
    g_source_attach(lib->reload, lib->context);
}

static void watch_folder(HgrLibrary *lib)
{
    g_autoptr(GFile) file = g_file_new_for_path(lib->root);
    g_autoptr(GError) error = NULL;

    lib->folder = g_file_monitor_directory(file, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
    if (!lib->folder) {
        g_debug("not watching %s: %s", lib->root, error->message);
        return;
    }
    g_signal_connect(lib->folder, "changed", G_CALLBACK(on_folder_event), lib);
}

HgrLibrary *hgr_library_new(const char *root, GError **error)
{
    g_autoptr(HgrLibrary) lib = g_object_new(HGR_TYPE_LIBRARY, NULL);

    lib->root = root ? g_canonicalize_filename(root, NULL)
                     : g_build_filename(g_get_user_data_dir(), "hangar", "machines", NULL);
    if (g_mkdir_with_parents(lib->root, 0755) != 0) {
        int e = errno;
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot make the library folder %s: %s"), lib->root, g_strerror(e));
        return NULL;
    }
    if (!hgr_library_reload(lib, error))
        return NULL;
    watch_sockets(lib);
    watch_folder(lib);
    return g_steal_pointer(&lib);
}

const char *hgr_library_get_root(HgrLibrary *lib)
{
    return lib->root;
}

GListModel *hgr_library_get_machines(HgrLibrary *lib)
{
    return G_LIST_MODEL(lib->machines);
}

GPtrArray *hgr_library_get_problems(HgrLibrary *lib)
{
    return lib->problems;
}

GMainContext *hgr_library_get_context(HgrLibrary *lib)
{
    return lib->context;
}

static HgrMachine *machine_at(HgrLibrary *lib, guint i)
{
    HgrMachine *m = g_list_model_get_item(G_LIST_MODEL(lib->machines), i);
    g_object_unref(m);                /* the store keeps it */
    return m;
}

static HgrMachine *find_by_uuid(HgrLibrary *lib, const char *uuid, guint *pos)
{
    for (guint i = 0; i < g_list_model_get_n_items(G_LIST_MODEL(lib->machines)); i++) {
        HgrMachine *m = machine_at(lib, i);
        if (!g_strcmp0(hgr_machine_get_uuid(m), uuid)) {
            if (pos)
                *pos = i;
            return m;
        }
    }
    return NULL;
}

/* One folder of the root: a machine's config, or a problem. */
static HgrMachineConfig *scan_folder(HgrLibrary *lib, const char *name, const char *dir,
                                     GHashTable *uuids)
{
    g_autofree char *file = g_strconcat(dir, "/", name, ".hangar", NULL);
    g_autoptr(GError) error = NULL;

    if (!g_file_test(file, G_FILE_TEST_EXISTS)) {
        add_problem(lib, dir, "this folder has no %s.hangar, so it is not a Hangar machine: "
                    "move it out of %s, or put its settings file back", name, lib->root);
        return NULL;
    }
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_load(file, &error);
    if (!c) {
        /* The problem carries the path; the message need not repeat it. */
        g_autofree char *prefix = g_strconcat(file, ": ", NULL);
        const char *why = g_str_has_prefix(error->message, prefix)
                              ? error->message + strlen(prefix) : error->message;
        if (g_error_matches(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_VERSION))
            add_problem(lib, file, "%s", why);
        else
            add_problem(lib, file, "%s. Fix the file by hand, or delete the machine's folder",
                        why);
        return NULL;
    }
    if (strcmp(c->name, name) != 0) {
        add_problem(lib, file, "the file names the machine \"%s\" but its folder is "
                    "\"%s\": make the two names equal", c->name, name);
        return NULL;
    }
    const char *other = g_hash_table_lookup(uuids, c->uuid);
    if (other) {
        add_problem(lib, file, "this machine has the same UUID as \"%s\" (a copied "
                    "folder?): remove the copy, or give it a new uuid", other);
        return NULL;
    }
    g_hash_table_insert(uuids, g_strdup(c->uuid), g_strdup(c->name));
    return g_steal_pointer(&c);
}

bool hgr_library_reload(HgrLibrary *lib, GError **error)
{
    g_autoptr(GError) e = NULL;
    g_autoptr(GDir) d = g_dir_open(lib->root, 0, &e);
    g_autoptr(GHashTable) uuids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                        g_free);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    const char *name;

    if (!d) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot read the library folder: %s"), e->message);
        return false;
    }
    g_ptr_array_set_size(lib->problems, 0);
    while ((name = g_dir_read_name(d))) {
        /* Hidden folders are machines being made; .removed ones were forgotten. */
        if (name[0] == '.' || g_str_has_suffix(name, REMOVED_SUFFIX))
            continue;
        g_autofree char *dir = g_build_filename(lib->root, name, NULL);
        if (!g_file_test(dir, G_FILE_TEST_IS_DIR) || g_file_test(dir, G_FILE_TEST_IS_SYMLINK))
            continue;
        HgrMachineConfig *c = scan_folder(lib, name, dir, uuids);
        if (!c)
            continue;
        HgrMachine *m = find_by_uuid(lib, c->uuid, NULL);
        if (m) {
            /* The same machine, perhaps renamed by another process: the
             * object (and whatever window shows it) stays. */
            hgr_machine_update_config(m, dir, c);
        } else {
            m = hgr_machine_new_internal(lib, dir, c);
            g_list_store_insert_sorted(lib->machines, m, compare_machines, NULL);
            g_object_unref(m);
        }
        g_hash_table_add(seen, m);
    }
    /* Machines whose folder went away (another process deleted them). One
     * running here stays: its process still owns it. */
    for (guint i = g_list_model_get_n_items(G_LIST_MODEL(lib->machines)); i > 0; i--) {
        HgrMachine *m = machine_at(lib, i - 1);
        if (!g_hash_table_contains(seen, m) && !hgr_machine_is_running_here(m)) {
            hgr_machine_forget_library(m);
            g_list_store_remove(lib->machines, i - 1);
        }
    }
    g_list_store_sort(lib->machines, compare_machines, NULL);
    return true;
}

HgrMachine *hgr_library_find(HgrLibrary *lib, const char *name_or_uuid, GError **error)
{
    for (guint i = 0; i < g_list_model_get_n_items(G_LIST_MODEL(lib->machines)); i++) {
        HgrMachine *m = machine_at(lib, i);
        if (!g_strcmp0(hgr_machine_get_name(m), name_or_uuid)
            || !g_strcmp0(hgr_machine_get_uuid(m), name_or_uuid))
            return m;
    }
    g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_FOUND,
                _("There is no machine named \"%s\" in %s: check the name "
                "(hangarctl list shows them)"), name_or_uuid, lib->root);
    return NULL;
}

/* Names are compared as the list sorts them, ignoring case: "windows 11"
 * beside "Windows 11" is confusing, and on a case-insensitive file system
 * their folders are one. */
static bool same_name(const char *a, const char *b)
{
    g_autofree char *fa = g_utf8_casefold(a, -1);
    g_autofree char *fb = g_utf8_casefold(b, -1);
    return !strcmp(fa, fb);
}

char *hgr_library_name_taken(HgrLibrary *lib, const char *name, HgrMachine *except)
{
    for (guint i = 0; i < g_list_model_get_n_items(G_LIST_MODEL(lib->machines)); i++) {
        HgrMachine *m = machine_at(lib, i);
        if (m != except && same_name(hgr_machine_get_name(m), name))
            return g_strdup(hgr_machine_get_name(m));
    }
    /* Any folder (or file, or link) of that name in the library takes it. */
    g_autoptr(GDir) root = g_dir_open(lib->root, 0, NULL);
    g_autofree char *own = except ? g_path_get_basename(hgr_machine_get_dir(except)) : NULL;
    const char *entry;
    while (root && (entry = g_dir_read_name(root))) {
        if (g_strcmp0(entry, own) != 0 && same_name(entry, name))
            return g_strdup(entry);
    }
    return NULL;
}

bool hgr_library_check_name_for(HgrLibrary *lib, const char *name, HgrMachine *except,
                                GError **error)
{
    if (!hgr_machine_name_validate(name, error))
        return false;
    if (g_str_has_suffix(name, REMOVED_SUFFIX)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_INVALID,
                    _("A name ending in \"%s\" marks a forgotten machine's folder: "
                    "choose another name"), REMOVED_SUFFIX);
        return false;
    }
    g_autofree char *taken = hgr_library_name_taken(lib, name, except);
    if (taken) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_EXISTS,
                    _("A machine named \"%s\" already exists: choose another name"), taken);
        return false;
    }
    return true;
}

bool hgr_library_check_new_name(HgrLibrary *lib, const char *name, GError **error)
{
    return hgr_library_check_name_for(lib, name, NULL, error);
}

void hgr_library_resort(HgrLibrary *lib)
{
    g_list_store_sort(lib->machines, compare_machines, NULL);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) == 0 ? 0 : -1;
}

bool hgr_library_remove_tree(const char *path, GError **error)
{
    /* FTW_PHYS: a symbolic link inside is removed, never followed. */
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
        int e = errno;
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot remove %s: %s"), path, g_strerror(e));
        return false;
    }
    return true;
}

static const char *ovmf_vars_path(void)
{
    /* Tests point this at a missing file to see the error a user gets
     * without the ovmf package. */
    const char *p = g_getenv("HANGAR_OVMF_VARS");
    return p && *p ? p : HGR_OVMF_VARS_PATH;
}

bool hgr_library_copy_nvram(const char *dir, GError **error)
{
    const char *vars = ovmf_vars_path();
    g_autofree char *dest = g_build_filename(dir, "nvram.fd", NULL);
    g_autoptr(GFile) src = g_file_new_for_path(vars);
    g_autoptr(GFile) dst = g_file_new_for_path(dest);
    g_autoptr(GError) e = NULL;

    if (!g_file_test(vars, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA,
                    _("UEFI needs the firmware's variable store %s, which is missing: "
                    "install the ovmf package (or choose BIOS)"), vars);
        return false;
    }
    if (!g_file_copy(src, dst, G_FILE_COPY_NONE, NULL, NULL, NULL, &e)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot copy the UEFI variable store: %s"), e->message);
        return false;
    }
    return true;
}

/* Everything of a new machine, in a hidden folder that becomes the real one
 * by one rename at the end. */
static bool populate(const char *tmp, HgrMachineConfig *c, uint64_t disk_size,
                     GError **error)
{
    g_autofree char *logs = g_build_filename(tmp, "logs", NULL);
    g_autofree char *file = g_strconcat(tmp, "/", c->name, ".hangar", NULL);

    if (g_mkdir(logs, 0755) != 0) {
        int e = errno;
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot make %s: %s"), logs, g_strerror(e));
        return false;
    }
    if (disk_size) {
        g_autofree char *disk = g_build_filename(tmp, "disk.qcow2", NULL);
        g_autoptr(GError) e = NULL;
        if (!hgr_block_create(disk, HGR_DISK_FORMAT_QCOW2, disk_size, &e)) {
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                        _("Cannot make the machine's disk: %s"), e->message);
            return false;
        }
    }
    if (c->firmware == HGR_FIRMWARE_UEFI && !hgr_library_copy_nvram(tmp, error))
        return false;
    return hgr_machine_config_save(c, file, error);
}

HgrMachine *hgr_library_create(HgrLibrary *lib, const HgrMachineConfig *config,
                               uint64_t disk_size, GError **error)
{
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_copy(config);
    g_autofree char *uuid = g_uuid_string_random();

    if (!hgr_library_check_new_name(lib, c->name, error))
        return NULL;
    g_free(c->uuid);
    c->uuid = g_strdup(uuid);
    if (disk_size) {
        /* The first disk (a template's entry names only its bus) is made here. */
        if (c->disks->len == 0)
            hgr_machine_config_add_disk(c, NULL, HGR_DISK_FORMAT_QCOW2, HGR_DISK_BUS_VIRTIO);
        HgrMachineDisk *first = c->disks->pdata[0];
        g_free(first->path);
        first->path = g_strdup("disk.qcow2");
        first->format = HGR_DISK_FORMAT_QCOW2;
        first->readonly = false;
    }
    if (!hgr_machine_config_validate(c, error))
        return NULL;

    g_autofree char *pattern = g_strconcat(lib->root, "/.", c->name, ".new-XXXXXX", NULL);
    if (!g_mkdtemp_full(pattern, 0755)) {
        int e = errno;
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot make a folder in %s: %s"), lib->root, g_strerror(e));
        return NULL;
    }
    g_autofree char *dir = g_build_filename(lib->root, c->name, NULL);
    if (!populate(pattern, c, disk_size, error)) {
        hgr_library_remove_tree(pattern, NULL);
        return NULL;
    }
    /* RENAME_NOREPLACE: a folder of that name made meanwhile is not replaced. */
    if (renameat2(AT_FDCWD, pattern, AT_FDCWD, dir, RENAME_NOREPLACE) != 0) {
        int e = errno;
        hgr_library_remove_tree(pattern, NULL);
        if (e == EEXIST)
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_EXISTS,
                        _("A machine named \"%s\" already exists: choose another name"),
                        c->name);
        else
            g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                        _("Cannot make the folder %s: %s"), dir, g_strerror(e));
        return NULL;
    }
    HgrMachine *m = hgr_machine_new_internal(lib, dir, g_steal_pointer(&c));
    g_list_store_insert_sorted(lib->machines, m, compare_machines, NULL);
    g_object_unref(m);
    return m;
}

bool hgr_library_delete(HgrLibrary *lib, HgrMachine *machine, bool delete_files,
                        GError **error)
{
    guint pos;
    g_autofree char *dir = g_strdup(hgr_machine_get_dir(machine));

    if (!find_by_uuid(lib, hgr_machine_get_uuid(machine), &pos)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_FOUND,
                    _("The machine \"%s\" is not in this library"), hgr_machine_get_name(machine));
        return false;
    }
    if (hgr_machine_is_active(machine)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_BUSY,
                    _("The machine \"%s\" is running: shut it down first"),
                    hgr_machine_get_name(machine));
        return false;
    }
    if (delete_files) {
        if (!hgr_library_remove_tree(dir, error))
            return false;
    } else {
        g_autofree char *dest = NULL;
        for (unsigned n = 1;; n++) {
            g_free(dest);
            dest = n == 1 ? g_strconcat(dir, REMOVED_SUFFIX, NULL)
                          : g_strdup_printf("%s-%u%s", dir, n, REMOVED_SUFFIX);
            if (renameat2(AT_FDCWD, dir, AT_FDCWD, dest, RENAME_NOREPLACE) == 0)
                break;
            if (errno != EEXIST || n > 1000) {
                int e = errno;
                g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                            _("Cannot rename %s: %s"), dir, g_strerror(e));
                return false;
            }
        }
    }
    hgr_machine_forget_library(machine);
    g_list_store_remove(lib->machines, pos);
    return true;
}
