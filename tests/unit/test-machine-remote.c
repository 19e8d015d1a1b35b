/* test-machine-remote.c — a VM run by another process that hangs must not
 * hang us: the state is asked and the actions are sent without waiting, and
 * the main loop keeps turning meanwhile. The "other process" is played by a
 * thread with its own main context: a socket that accepts and never speaks,
 * or a control server that answers the state but never a Pause. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control-private.h"
#include "control.h"
#include "fake-control-process.h"
#include "library.h"
#include "machine-private.h"

typedef struct {
    char *tmp;
    HgrLibrary *lib;
    HgrMachine *m;                /* not ours: the library's */
    char *socket_path;
    guint ticks;                  /* of a source on the main context */
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->tmp = g_dir_make_tmp("hgr-remote-XXXXXX", NULL);
    g_autofree char *run = g_build_filename(f->tmp, "run", NULL);
    g_autofree char *root = g_build_filename(f->tmp, "machines", NULL);
    g_mkdir(run, 0700);
    g_setenv("XDG_RUNTIME_DIR", run, TRUE);
    f->lib = hgr_library_new(root, &error);
    g_assert_no_error(error);

    g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();
    c->name = g_strdup("Elsewhere");
    c->memory_mib = 64;
    c->cpus = 1;
    f->m = hgr_library_create(f->lib, c, 1 << 20, &error);
    g_assert_no_error(error);
    g_autofree char *dir = hgr_control_socket_dir();
    g_mkdir(dir, 0700);
    f->socket_path = hgr_control_socket_path(hgr_machine_get_uuid(f->m));
}

static void teardown(Fixture *f, gconstpointer data)
{
    g_clear_object(&f->lib);      /* f->m is the library's */
    g_unlink(f->socket_path);
    g_free(f->socket_path);
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->tmp);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->tmp);
}

static gboolean tick(gpointer data)
{
    Fixture *f = data;
    f->ticks++;
    return G_SOURCE_CONTINUE;
}

/* Iterates the main context while *flag is value. */
static void iterate_while(bool *flag, bool value)
{
    while (*flag == value)
        g_main_context_iteration(NULL, TRUE);
}

/* A process that accepts the connection and never says a word (hangs). */
static int silent_listener(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fd, 16), ==, 0);
    return fd;
}

typedef struct {
    bool done;
    bool ok;
    GError *error;
} ActResult;

static void on_act_done(GObject *source, GAsyncResult *res, gpointer data)
{
    ActResult *r = data;
    r->ok = hgr_machine_act_finish(HGR_MACHINE(source), res, &r->error);
    r->done = true;
}

static void on_shot_done(GObject *source, GAsyncResult *res, gpointer data)
{
    ActResult *r = data;
    r->ok = hgr_machine_screenshot_finish(HGR_MACHINE(source), res, &r->error);
    r->done = true;
}

static void test_silent_process(Fixture *f, gconstpointer data)
{
    int fd = silent_listener(f->socket_path);
    guint source = g_timeout_add(1, tick, f);

    /* The question is out; the window's loop goes on meanwhile. */
    hgr_machine_refresh_state(f->m);
    g_assert_true(f->m->refreshing);
    guint before = f->ticks;
    while (f->m->refreshing && f->ticks == before)
        g_main_context_iteration(NULL, TRUE);
    g_assert_true(f->m->refreshing);       /* still unanswered, and the loop turned */
    g_assert_cmpint(hgr_machine_get_state(f->m), ==, HGR_MACHINE_STOPPED);
    iterate_while(&f->m->refreshing, true);

    /* A process that never answers counts as stuck: actions say so. The
     * machine is busy until the refusal is in. */
    g_assert_cmpint(hgr_machine_get_state(f->m), ==, HGR_MACHINE_PAUSED);
    ActResult r = { 0 };
    hgr_machine_act_async(f->m, HGR_MACHINE_ACTION_PAUSE, NULL, on_act_done, &r);
    g_assert_true(hgr_machine_is_busy(f->m));
    iterate_while(&r.done, false);
    g_assert_false(hgr_machine_is_busy(f->m));
    g_assert_false(r.ok);
    g_assert_error(r.error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL);
    g_assert_nonnull(strstr(r.error->message, "does not answer"));
    g_clear_error(&r.error);

    /* hangarctl's waiting question gives up too, with the same reason. */
    g_clear_pointer(&f->m->remote_stuck, g_free);
    g_assert_cmpint(hgr_machine_query_state(f->m), ==, HGR_MACHINE_PAUSED);
    g_assert_nonnull(f->m->remote_stuck);
    g_assert_nonnull(strstr(f->m->remote_stuck, "does not answer"));

    g_source_remove(source);
    close(fd);
}

static void on_state(GObject *object, GParamSpec *pspec, gpointer data)
{
    *(bool *)data = true;
}

/* What "busy" said, in order: 1 for true, 0 for false. */
static void on_busy(GObject *object, GParamSpec *pspec, gpointer data)
{
    g_string_append_c(data, hgr_machine_is_busy(HGR_MACHINE(object)) ? '1' : '0');
}

/* The machine was busy (and said so once) when the action's callback ran? */
typedef struct {
    ActResult r;
    bool busy_in_callback;
} BusyResult;

static void on_act_done_busy(GObject *source, GAsyncResult *res, gpointer data)
{
    BusyResult *b = data;
    b->busy_in_callback = hgr_machine_is_busy(HGR_MACHINE(source));
    on_act_done(source, res, &b->r);
}

static void wait_running(Fixture *f)
{
    bool changed = false;

    g_signal_connect(f->m, "notify::state", G_CALLBACK(on_state), &changed);
    hgr_machine_refresh_state(f->m);
    iterate_while(&changed, false);
    g_signal_handlers_disconnect_by_data(f->m, &changed);
    g_assert_cmpint(hgr_machine_get_state(f->m), ==, HGR_MACHINE_RUNNING);
}

static void test_hung_pause(Fixture *f, gconstpointer data)
{
    Fake *fake = fake_start(f->socket_path);
    bool changed = false;

    g_signal_connect(f->m, "notify::state", G_CALLBACK(on_state), &changed);
    hgr_machine_refresh_state(f->m);
    iterate_while(&changed, false);
    g_assert_cmpint(hgr_machine_get_state(f->m), ==, HGR_MACHINE_RUNNING);

    /* Pause goes out; the other process takes it and hangs. The loop here
     * goes on turning, and the action is not over. */
    ActResult r = { 0 };
    guint source = g_timeout_add(1, tick, f);
    hgr_machine_act_async(f->m, HGR_MACHINE_ACTION_PAUSE, NULL, on_act_done, &r);
    while (!g_atomic_int_get(&fake->pause_seen))
        g_main_context_iteration(NULL, TRUE);
    guint before = f->ticks;
    while (f->ticks == before)
        g_main_context_iteration(NULL, TRUE);
    g_assert_false(r.done);

    /* When it answers at last, the action completes. */
    g_main_context_invoke(fake->context, fake_answer_pause, fake);
    iterate_while(&r.done, false);
    g_assert_no_error(r.error);
    g_assert_true(r.ok);
    g_assert_false(hgr_machine_is_busy(f->m));

    g_source_remove(source);
    g_signal_handlers_disconnect_by_data(f->m, &changed);
    fake_stop(fake);
}

/* While a Pause waits on a hung process the machine is busy, whatever
 * else happens meanwhile, and says so once; when the process goes away the
 * Pause fails with the reason and the machine is no longer busy, before
 * the caller hears of it (its controls come back at once). */
static void test_busy_until_answered(Fixture *f, gconstpointer data)
{
    Fake *fake = fake_start(f->socket_path);
    g_autoptr(GString) busy = g_string_new(NULL);
    HgrMachineAction pending;

    wait_running(f);
    g_assert_false(hgr_machine_is_busy(f->m));
    g_assert_false(hgr_machine_get_pending_action(f->m, NULL));
    g_signal_connect(f->m, "notify::busy", G_CALLBACK(on_busy), busy);

    BusyResult b = { 0 };
    hgr_machine_act_async(f->m, HGR_MACHINE_ACTION_PAUSE, NULL, on_act_done_busy, &b);
    g_assert_cmpstr(busy->str, ==, "1");
    g_assert_true(hgr_machine_get_pending_action(f->m, &pending));
    g_assert_cmpint(pending, ==, HGR_MACHINE_ACTION_PAUSE);
    while (!g_atomic_int_get(&fake->pause_seen))
        g_main_context_iteration(NULL, TRUE);
    /* The state is asked again meanwhile (the windows poll): still busy. */
    hgr_machine_refresh_state(f->m);
    for (int i = 0; i < 20; i++)
        g_main_context_iteration(NULL, FALSE);
    g_assert_false(b.r.done);
    g_assert_true(hgr_machine_is_busy(f->m));

    /* The process ends without answering. */
    fake_stop(fake);
    iterate_while(&b.r.done, false);
    g_assert_false(b.r.ok);
    g_assert_error(b.r.error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONTROL);
    g_clear_error(&b.r.error);
    g_assert_false(b.busy_in_callback);
    g_assert_false(hgr_machine_is_busy(f->m));
    g_assert_false(hgr_machine_get_pending_action(f->m, NULL));
    g_assert_cmpstr(busy->str, ==, "10");
    g_signal_handlers_disconnect_by_data(f->m, busy);
}

/* Actions on one machine overlap (a UI that lets them): busy until the
 * last one is answered. */
static void test_busy_counts_actions(Fixture *f, gconstpointer data)
{
    Fake *fake = fake_start(f->socket_path);
    ActResult first = { 0 }, second = { 0 };
    HgrMachineAction pending;

    wait_running(f);
    hgr_machine_act_async(f->m, HGR_MACHINE_ACTION_PAUSE, NULL, on_act_done, &first);
    while (!g_atomic_int_get(&fake->pause_seen))
        g_main_context_iteration(NULL, TRUE);
    /* The fake has no Reset: refused at once, while the Pause still waits. */
    hgr_machine_act_async(f->m, HGR_MACHINE_ACTION_RESET, NULL, on_act_done, &second);
    g_assert_true(hgr_machine_get_pending_action(f->m, &pending));
    g_assert_cmpint(pending, ==, HGR_MACHINE_ACTION_RESET);
    iterate_while(&second.done, false);
    g_assert_false(second.ok);
    g_clear_error(&second.error);
    g_assert_true(hgr_machine_is_busy(f->m));

    g_main_context_invoke(fake->context, fake_answer_pause, fake);
    iterate_while(&first.done, false);
    g_assert_true(first.ok);
    g_assert_false(hgr_machine_is_busy(f->m));
    fake_stop(fake);
}

/* The file a screenshot from another process goes to: the user's alone. */
static void test_screenshot_file(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = hgr_machine_screenshot_file_new(&error);
    g_autofree char *dir = hgr_control_socket_dir();
    GStatBuf st;

    g_assert_no_error(error);
    g_assert_true(g_str_has_prefix(path, dir));
    g_assert_cmpint(g_lstat(path, &st), ==, 0);
    g_assert_true(S_ISREG(st.st_mode));
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    g_assert_cmpint(st.st_size, ==, 0);
    g_assert_cmpint(g_lstat(dir, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0077, ==, 0);
    g_unlink(path);

    /* Not running anywhere: the screenshot is refused at once, saying so. */
    ActResult r = { 0 };
    hgr_machine_screenshot_async(f->m, path, NULL, on_shot_done, &r);
    iterate_while(&r.done, false);
    g_assert_false(r.ok);
    g_assert_error(r.error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_RUNNING);
    g_clear_error(&r.error);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/machine-remote/silent-process", Fixture, NULL, setup, test_silent_process,
               teardown);
    g_test_add("/machine-remote/hung-pause", Fixture, NULL, setup, test_hung_pause, teardown);
    g_test_add("/machine-remote/busy-until-answered", Fixture, NULL, setup,
               test_busy_until_answered, teardown);
    g_test_add("/machine-remote/busy-counts-actions", Fixture, NULL, setup,
               test_busy_counts_actions, teardown);
    g_test_add("/machine-remote/screenshot-file", Fixture, NULL, setup, test_screenshot_file,
               teardown);
    return g_test_run();
}
