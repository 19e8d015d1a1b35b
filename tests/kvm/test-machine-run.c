/* test-machine-run.c — library machines running in this process on real KVM
 * and SeaBIOS: the state a user sees follows the guest (on the main thread),
 * the serial port reaches both the console fd and the log, a second library
 * in the same process drives the VM without deadlocking on its own control
 * socket, and media problems name the file. */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "library-private.h"
#include "library.h"

static const char *guests_dir;
static GThread *main_thread;

typedef struct {
    char *root;
    HgrLibrary *lib;
    GArray *states;               /* HgrMachineState as notified */
    bool notified_off_main;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->root = g_dir_make_tmp("hgr-machine-run-XXXXXX", NULL);
    f->lib = hgr_library_new(f->root, &error);
    g_assert_no_error(error);
    f->states = g_array_new(FALSE, FALSE, sizeof(int));
}

static void teardown(Fixture *f, gconstpointer data)
{
    g_clear_object(&f->lib);
    hgr_library_remove_tree(f->root, NULL);
    g_free(f->root);
    g_array_unref(f->states);
}

static void on_state(GObject *obj, GParamSpec *pspec, gpointer data)
{
    Fixture *f = data;
    int s = hgr_machine_get_state(HGR_MACHINE(obj));

    if (g_thread_self() != main_thread)
        f->notified_off_main = true;
    g_array_append_val(f->states, s);
}

/* A machine whose disk is tests/kvm's boot sector (prints on COM1, powers
 * off), or with disk_size an empty qcow2 (SeaBIOS waits, "No bootable
 * device"). */
static HgrMachine *make_machine(Fixture *f, const char *name, bool boot_sector)
{
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();
    g_autoptr(GError) error = NULL;

    c->name = g_strdup(name);
    c->memory_mib = 64;
    c->cpus = 1;
    c->network = false;
    if (boot_sector) {
        g_autofree char *bin = g_build_filename(guests_dir, "boot-sector.bin", NULL);
        g_autofree char *code = NULL;
        gsize len;
        g_assert_true(g_file_get_contents(bin, &code, &len, NULL));
        g_autofree char *img = g_strconcat(f->root, "/", name, "-mbr.img", NULL);
        g_autofree char *padded = g_malloc0(1 << 20);
        memcpy(padded, code, MIN(len, 1u << 20));
        g_assert_true(g_file_set_contents(img, padded, 1 << 20, NULL));
        hgr_machine_config_add_disk(c, img, HGR_DISK_FORMAT_RAW, HGR_DISK_BUS_VIRTIO);
    }
    HgrMachine *m = hgr_library_create(f->lib, c, boot_sector ? 0 : 1 << 20, &error);
    g_assert_no_error(error);
    g_signal_connect(m, "notify::state", G_CALLBACK(on_state), f);
    return m;
}

static char *read_available(int fd)
{
    GString *s = g_string_new(NULL);
    char buf[1024];
    ssize_t n;

    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        g_string_append_len(s, buf, n);
    return g_string_free(s, FALSE);
}

typedef struct {
    bool vm_valid_at_stop;
    bool restart_refused;
} StopCheck;

/* What a VM window does when the state leaves RUNNING: let go of the VM
 * (still valid now), perhaps try to start again at once. */
static void on_stop(GObject *obj, GParamSpec *pspec, gpointer data)
{
    HgrMachine *m = HGR_MACHINE(obj);
    StopCheck *c = data;
    g_autoptr(GError) error = NULL;

    if (hgr_machine_get_state(m) != HGR_MACHINE_STOPPED)
        return;
    c->vm_valid_at_stop = hgr_machine_get_vm(m) != NULL;
    c->restart_refused = !hgr_machine_start(m, NULL, &error)
                         && g_error_matches(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_BUSY);
}

static void test_boot_sector(Fixture *f, gconstpointer data)
{
    StopCheck stop = { 0 };
    HgrMachine *m = make_machine(f, "Boot", true);
    g_autoptr(GError) error = NULL;
    int pair[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
    HgrMachineStartOptions opts = { .serial_fd = pair[0] };
    gulong stop_id = g_signal_connect(m, "notify::state", G_CALLBACK(on_stop), &stop);
    g_assert_true(hgr_machine_start(m, &opts, &error));
    g_assert_no_error(error);
    g_assert_true(hgr_machine_is_running_here(m));
    g_assert_nonnull(hgr_machine_get_vm(m));
    g_autofree char *sock = hgr_control_socket_path(hgr_machine_get_uuid(m));
    g_assert_true(g_file_test(sock, G_FILE_TEST_EXISTS));

    /* The guest powers itself off; the news comes through the main loop. */
    g_assert_cmpint(hgr_machine_run_until_stopped(m), ==, HGR_MACHINE_STOPPED);
    g_assert_false(hgr_machine_is_running_here(m));
    g_assert_null(hgr_machine_get_vm(m));
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
    g_assert_true(stop.vm_valid_at_stop);
    g_assert_true(stop.restart_refused);
    g_signal_handler_disconnect(m, stop_id);
    g_assert_false(f->notified_off_main);
    g_assert_cmpuint(f->states->len, >=, 2);
    g_assert_cmpint(g_array_index(f->states, int, 0), ==, HGR_MACHINE_RUNNING);
    g_assert_cmpint(g_array_index(f->states, int, f->states->len - 1), ==,
                    HGR_MACHINE_STOPPED);

    g_autofree char *console = read_available(pair[1]);
    g_autofree char *log_path = g_build_filename(hgr_machine_get_dir(m), "logs", "serial.log",
                                                 NULL);
    g_autofree char *log = NULL;
    g_assert_true(g_file_get_contents(log_path, &log, NULL, NULL));
    g_assert_nonnull(strstr(console, "MBR: hello from the boot sector"));
    g_assert_nonnull(strstr(log, "MBR: hello from the boot sector"));
    /* The console fd stays the caller's. */
    g_assert_cmpint(fcntl(pair[0], F_GETFD), >=, 0);
    close(pair[0]);
    close(pair[1]);

    /* A second run appends to the log. */
    g_assert_true(hgr_machine_start(m, NULL, &error));
    hgr_machine_run_until_stopped(m);
    g_autofree char *log2 = NULL;
    g_assert_true(g_file_get_contents(log_path, &log2, NULL, NULL));
    char *first = strstr(log2, "MBR: hello");
    g_assert_nonnull(first);
    g_assert_nonnull(strstr(first + 1, "MBR: hello"));
}

typedef struct {
    char *uuid;
    char *png;
    char *state;
    bool shot;
    int done;
} ClientJob;

/* Another "process": a thread talking to the control socket while the main
 * thread serves it. */
static gpointer client_thread(gpointer data)
{
    ClientJob *job = data;
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) error = NULL;

    g_main_context_push_thread_default(ctx);
    g_autoptr(GDBusConnection) c = hgr_control_connect(job->uuid, &error);
    if (c) {
        g_autoptr(GVariant) v = g_dbus_connection_call_sync(
            c, NULL, "/org/hangar/Machine", "org.freedesktop.DBus.Properties", "Get",
            g_variant_new("(ss)", "org.hangar.Machine1", "State"), G_VARIANT_TYPE("(v)"),
            G_DBUS_CALL_FLAGS_NONE, 30000, NULL, NULL);
        if (v) {
            g_autoptr(GVariant) s = NULL;
            g_variant_get(v, "(v)", &s);
            job->state = g_variant_dup_string(s, NULL);
        }
        /* SeaBIOS sets its video mode soon after start. */
        for (int i = 0; i < 600 && !job->shot; i++) {
            g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                c, NULL, "/org/hangar/Machine", "org.hangar.Machine1", "Screenshot",
                g_variant_new("(s)", job->png), NULL, G_DBUS_CALL_FLAGS_NONE, 30000, NULL,
                NULL);
            job->shot = r != NULL;
            if (!job->shot)
                g_usleep(100000);
        }
    }
    g_main_context_pop_thread_default(ctx);
    g_atomic_int_set(&job->done, 1);
    g_main_context_wakeup(g_main_context_default());
    return NULL;
}

static void query_other(GObject *obj, GParamSpec *pspec, gpointer other)
{
    hgr_machine_get_state(other);
    g_autoptr(GError) error = NULL;
    hgr_machine_screenshot(other, "/nonexistent/x.png", &error);
}

static void test_two_libraries(Fixture *f, gconstpointer data)
{
    HgrMachine *m = make_machine(f, "Idle", false);
    g_autoptr(GError) error = NULL;

    g_assert_true(hgr_machine_start(m, NULL, &error));
    g_assert_no_error(error);

    /* The same VM seen by a second library of this process (a second
     * window): driven through the running machine, never through a D-Bus
     * call to ourselves on the thread that would have to answer it. */
    g_autoptr(HgrLibrary) lib2 = hgr_library_new(f->root, &error);
    HgrMachine *m2 = hgr_library_find(lib2, "Idle", &error);
    g_assert_nonnull(m2);
    g_assert_false(hgr_machine_is_running_here(m2));
    g_assert_cmpint(hgr_machine_get_state(m2), ==, HGR_MACHINE_RUNNING);
    g_assert_true(hgr_machine_pause(m2, &error));
    g_assert_no_error(error);
    g_assert_cmpint(hgr_machine_get_state(m), ==, HGR_MACHINE_PAUSED);
    g_assert_true(hgr_machine_resume(m2, &error));
    g_assert_cmpint(hgr_machine_get_state(m2), ==, HGR_MACHINE_RUNNING);
    g_assert_true(hgr_machine_reset(m2, &error));
    g_assert_no_error(error);
    g_assert_cmpint(hgr_machine_get_state(m), ==, HGR_MACHINE_RUNNING);
    g_assert_false(hgr_machine_start(m2, NULL, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_BUSY);
    g_clear_error(&error);
    g_assert_false(hgr_library_delete(lib2, m2, true, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_BUSY);
    g_clear_error(&error);

    /* Another client on the control socket, served while we iterate. */
    ClientJob job = { .uuid = g_strdup(hgr_machine_get_uuid(m)),
                      .png = g_build_filename(f->root, "shot.png", NULL) };
    GThread *t = g_thread_new("client", client_thread, &job);
    while (!g_atomic_int_get(&job.done))
        g_main_context_iteration(NULL, TRUE);
    g_thread_join(t);
    g_assert_cmpstr(job.state, ==, "running");
    g_assert_true(job.shot);
    g_autofree char *png = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(job.png, &png, &len, NULL));
    g_assert_cmpmem(png, 8, "\x89PNG\r\n\x1a\n", 8);
    g_free(job.uuid);
    g_free(job.png);
    g_free(job.state);

    /* An app refreshing every view of the VM when one notifies: the other
     * object must not ask the socket this process is still serving. */
    g_signal_connect(m, "notify::state", G_CALLBACK(query_other), m2);
    g_assert_true(hgr_machine_force_off(m2, &error));
    g_assert_no_error(error);
    g_assert_cmpint(hgr_machine_get_state(m), ==, HGR_MACHINE_STOPPED);
    g_assert_false(hgr_machine_is_running_here(m));
    g_assert_cmpint(hgr_machine_get_state(m2), ==, HGR_MACHINE_STOPPED);
    g_assert_false(f->notified_off_main);
}

/* A file the library takes for a disc: an ISO 9660 volume descriptor at
 * 32 KiB (what it checks; nothing here boots from it). */
static char *make_iso(const char *dir, const char *name)
{
    g_autofree char *data = g_malloc0(64 * 1024);
    char *path = g_build_filename(dir, name, NULL);

    memcpy(data + 32 * 1024, "\001CD001\001", 7);
    g_assert_true(g_file_set_contents(path, data, 64 * 1024, NULL));
    return path;
}

/* The cdrom key of the machine's file as it is on disk now. */
static char *cdrom_in_file(HgrMachine *m)
{
    g_autofree char *file = g_strconcat(hgr_machine_get_dir(m), "/", hgr_machine_get_name(m),
                                        ".hangar", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_load(file, &error);

    g_assert_no_error(error);
    return g_strdup(c->cdrom);
}

static bool saw_state(Fixture *f, HgrMachineState s)
{
    for (guint i = 0; i < f->states->len; i++)
        if (g_array_index(f->states, int, i) == (int)s)
            return true;
    return false;
}

static gboolean give_up(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/* Iterates the main loop (no polling of the machine) until its "state"
 * notifications included s; the limit only ends a hung test. */
static bool wait_for_state(Fixture *f, HgrMachineState s)
{
    bool late = false;
    guint id = g_timeout_add_seconds(120, give_up, &late);

    while (!saw_state(f, s) && !late)
        g_main_context_iteration(NULL, TRUE);
    if (!late)
        g_source_remove(id);
    return saw_state(f, s);
}

/* `hangarctl start` in another process: the library hears of it by itself,
 * follows its state, and drives it over the control socket. */
static void test_other_process(Fixture *f, gconstpointer data)
{
    const char *hangarctl = g_getenv("HANGARCTL");
    if (!hangarctl) {
        g_test_skip("SKIP: HANGARCTL is not set (run through meson)");
        return;
    }
    HgrMachine *m = make_machine(f, "Elsewhere", false);
    g_autoptr(GError) error = NULL;
    const char *argv[] = { hangarctl, "start", "--library", f->root, "Elsewhere", NULL };
    g_autoptr(GSubprocess) child = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                                     &error);
    g_assert_no_error(error);

    g_assert_true(wait_for_state(f, HGR_MACHINE_RUNNING));
    g_assert_false(hgr_machine_is_running_here(m));
    g_assert_null(hgr_machine_get_vm(m));
    g_assert_true(hgr_machine_pause(m, &error));
    g_assert_no_error(error);
    g_assert_true(wait_for_state(f, HGR_MACHINE_PAUSED));   /* PropertiesChanged */
    g_assert_true(hgr_machine_resume(m, &error));

    /* Its disc, changed in the other process: the refusal keeps its code. */
    g_autofree char *iso = make_iso(f->root, "elsewhere.iso");
    g_autofree char *missing = g_build_filename(f->root, "missing.iso", NULL);
    g_assert_true(hgr_machine_change_cdrom(m, iso, false, &error));
    g_assert_no_error(error);
    g_autofree char *saved = cdrom_in_file(m);
    g_assert_cmpstr(saved, ==, iso);
    g_assert_false(hgr_machine_change_cdrom(m, missing, false, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA);
    g_assert_nonnull(strstr(error->message, missing));
    g_clear_error(&error);

    g_assert_false(hgr_machine_start(m, NULL, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_BUSY);
    g_clear_error(&error);
    g_assert_true(hgr_machine_force_off(m, &error));
    g_assert_no_error(error);
    g_assert_cmpint(hgr_machine_get_state(m), ==, HGR_MACHINE_STOPPED);
    g_assert_true(g_subprocess_wait_check(child, NULL, &error));
    g_assert_no_error(error);
    g_assert_false(f->notified_off_main);
}

static void test_media_named(Fixture *f, gconstpointer data)
{
    HgrMachine *a = make_machine(f, "A", false);
    g_autoptr(GError) error = NULL;
    g_autofree char *disk = g_build_filename(hgr_machine_get_dir(a), "disk.qcow2", NULL);

    /* Two machines on one disk: the second is told it is in use. */
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_copy(hgr_machine_get_config(a));
    g_free(c->name);
    c->name = g_strdup("B");
    g_free(((HgrMachineDisk *)c->disks->pdata[0])->path);
    ((HgrMachineDisk *)c->disks->pdata[0])->path = g_strdup(disk);
    HgrMachine *b = hgr_library_create(f->lib, c, 0, &error);
    g_assert_no_error(error);
    g_assert_true(hgr_machine_start(a, NULL, &error));
    g_assert_false(hgr_machine_start(b, NULL, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA);
    g_assert_nonnull(strstr(error->message, disk));
    g_assert_nonnull(strstr(error->message, "in use"));
    g_clear_error(&error);
    g_assert_cmpint(hgr_machine_get_state(b), ==, HGR_MACHINE_STOPPED);
    g_assert_true(hgr_machine_force_off(a, &error));

    /* The disk vanished. */
    g_autofree char *moved = g_strconcat(disk, ".moved", NULL);
    g_assert_cmpint(g_rename(disk, moved), ==, 0);
    g_assert_false(hgr_machine_start(a, NULL, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA);
    g_assert_nonnull(strstr(error->message, disk));
    g_assert_false(hgr_machine_is_running_here(a));
    g_autofree char *sock = hgr_control_socket_path(hgr_machine_get_uuid(a));
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
}

typedef struct {
    char *uuid;
    const char *path;             /* what ChangeCdrom gets */
    char *error_name;             /* the D-Bus error, NULL when it worked */
    int done;
} CdJob;

static gpointer cd_client_thread(gpointer data)
{
    CdJob *job = data;
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) error = NULL;

    g_main_context_push_thread_default(ctx);
    g_autoptr(GDBusConnection) c = hgr_control_connect(job->uuid, &error);
    g_autoptr(GVariant) r = c ? g_dbus_connection_call_sync(
        c, NULL, "/org/hangar/Machine", "org.hangar.Machine1", "ChangeCdrom",
        g_variant_new("(sb)", job->path, FALSE), NULL, G_DBUS_CALL_FLAGS_NONE, 30000, NULL,
        &error) : NULL;
    if (!r)
        job->error_name = g_dbus_error_is_remote_error(error) ? g_dbus_error_get_remote_error(error)
                                                               : g_strdup(error->message);
    g_main_context_pop_thread_default(ctx);
    g_atomic_int_set(&job->done, 1);
    g_main_context_wakeup(g_main_context_default());
    return NULL;
}

/* ChangeCdrom called by another "process" on the control socket. */
static char *call_change_cdrom(HgrMachine *m, const char *path)
{
    CdJob job = { .uuid = g_strdup(hgr_machine_get_uuid(m)), .path = path };
    GThread *t = g_thread_new("cd-client", cd_client_thread, &job);

    while (!g_atomic_int_get(&job.done))
        g_main_context_iteration(NULL, TRUE);
    g_thread_join(t);
    g_free(job.uuid);
    return job.error_name;
}

static void on_changed(GObject *source, GAsyncResult *res, gpointer data)
{
    GError **error = data;
    bool ok = hgr_machine_change_cdrom_finish(HGR_MACHINE(source), res, error);
    g_assert_true(ok == (*error == NULL));
    *(int *)g_object_get_data(source, "test-done") = 1;
}

static void count_notify(gpointer counter)
{
    (*(int *)counter)++;
}

/* The disc of a machine running here: changed by the library call, the
 * asynchronous one and the control socket, the file following each time;
 * refusals name the file and change nothing. */
static void test_change_cdrom(Fixture *f, gconstpointer data)
{
    HgrMachine *m = make_machine(f, "Disc", false);
    g_autoptr(GError) error = NULL;
    g_autofree char *iso1 = make_iso(f->root, "one.iso");
    g_autofree char *iso2 = make_iso(hgr_machine_get_dir(m), "two.iso");
    g_autofree char *missing = g_build_filename(f->root, "missing.iso", NULL);
    g_autofree char *text = g_build_filename(f->root, "notes.iso", NULL);
    g_assert_true(g_file_set_contents(text, "not a disc", -1, NULL));

    /* Not running: nothing to change (the settings do that). */
    g_assert_false(hgr_machine_change_cdrom(m, iso1, false, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_RUNNING);
    g_clear_error(&error);

    int notified = 0;
    g_signal_connect_swapped(m, "notify::cdrom", G_CALLBACK(count_notify), &notified);

    /* The drive is there although the machine was made with it empty. */
    g_assert_true(hgr_machine_start(m, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(hgr_vm_has_cdrom_drive(hgr_machine_get_vm(m)));
    g_assert_true(hgr_machine_change_cdrom(m, iso1, false, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(hgr_machine_get_config(m)->cdrom, ==, iso1);
    g_autofree char *saved = cdrom_in_file(m);
    g_assert_cmpstr(saved, ==, iso1);
    g_assert_cmpint(notified, ==, 1);

    const char *bad[] = { missing, text, f->root };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(hgr_machine_change_cdrom(m, bad[i], false, &error));
        g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA);
        g_test_message("%s", error->message);
        g_assert_nonnull(strstr(error->message, bad[i]));
        g_clear_error(&error);
        g_free(saved);
        saved = cdrom_in_file(m);
        g_assert_cmpstr(saved, ==, iso1);
    }

    /* Relative to the machine's folder, and kept so in the file. */
    int done = 0;
    g_object_set_data(G_OBJECT(m), "test-done", &done);
    hgr_machine_change_cdrom_async(m, "two.iso", false, NULL, on_changed, &error);
    while (!done)
        g_main_context_iteration(NULL, TRUE);
    g_assert_no_error(error);
    g_free(saved);
    saved = cdrom_in_file(m);
    g_assert_cmpstr(saved, ==, "two.iso");

    /* Over the control socket: a refusal comes back as its error name,
     * then the eject. */
    g_autofree char *refused = call_change_cdrom(m, missing);
    g_assert_cmpstr(refused, ==, "org.hangar.Error.Media");
    g_autofree char *ejected = call_change_cdrom(m, "");
    g_assert_null(ejected);
    g_assert_null(hgr_machine_get_config(m)->cdrom);
    g_free(saved);
    saved = cdrom_in_file(m);
    g_assert_null(saved);
    g_assert_cmpint(notified, ==, 3);           /* refusals notify nothing */

    g_assert_true(hgr_machine_force_off(m, &error));
    g_assert_false(hgr_machine_change_cdrom(m, iso2, false, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_RUNNING);
}

/* Without its control socket nobody else would know it runs: no run. */
static void test_no_socket_no_run(Fixture *f, gconstpointer data)
{
    HgrMachine *m = make_machine(f, "Hidden", false);
    g_autoptr(GError) error = NULL;
    g_autofree char *saved = g_strdup(g_getenv("XDG_RUNTIME_DIR"));
    g_autofree char *bad = g_build_filename(f->root, "run", NULL);
    g_autofree char *blocker = g_build_filename(bad, "hangar", NULL);

    g_mkdir(bad, 0700);
    g_assert_true(g_file_set_contents(blocker, "not a folder", -1, NULL));
    g_setenv("XDG_RUNTIME_DIR", bad, TRUE);
    bool started = hgr_machine_start(m, NULL, &error);
    g_setenv("XDG_RUNTIME_DIR", saved, TRUE);
    g_assert_false(started);
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL);
    g_assert_nonnull(strstr(error->message, blocker));
    g_assert_false(hgr_machine_is_running_here(m));
    g_assert_cmpint(hgr_machine_get_state(m), ==, HGR_MACHINE_STOPPED);
    /* The disk is free again: the next start works. */
    g_clear_error(&error);
    g_assert_true(hgr_machine_start(m, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(hgr_machine_force_off(m, &error));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    main_thread = g_thread_self();
    guests_dir = g_getenv("HANGAR_KVM_GUESTS");
    if (access("/dev/kvm", R_OK | W_OK) != 0 || !g_file_test(HGR_SEABIOS_PATH, G_FILE_TEST_EXISTS)
        || !guests_dir) {
        g_printerr("SKIP: needs /dev/kvm, the seabios package and HANGAR_KVM_GUESTS\n");
        return 77;
    }
    g_autofree char *run = g_dir_make_tmp("hgr-run-XXXXXX", NULL);
    g_setenv("XDG_RUNTIME_DIR", run, TRUE);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/library/machine/boot-sector-to-poweroff", test_boot_sector);
    ADD("/library/machine/two-libraries-one-vm", test_two_libraries);
    ADD("/library/machine/other-process", test_other_process);
    ADD("/library/machine/media-named", test_media_named);
    ADD("/library/machine/no-socket-no-run", test_no_socket_no_run);
    ADD("/library/machine/change-cdrom", test_change_cdrom);
    int status = g_test_run();
    hgr_library_remove_tree(run, NULL);
    return status;
}
