/* test-vm-preview.c — the manager's thumbnail of a VM that another process
 * runs, under a real X server: `hangarctl start` runs SeaBIOS headless,
 * and the preview shows its screen (the firmware's text, scaled like a
 * local frame) with its resolution, leaves no screenshot file behind, and
 * shows the icon again once the VM stops. A process that hangs gets the
 * icon, at once and without a dialog. */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control-private.h"
#include "control.h"
#include "frame-scale.h"
#include "library.h"
#include "vm-preview.h"

#define BOX_W 320
#define BOX_H 240

typedef struct {
    char *dir;
    HgrLibrary *lib;
    HgrMachine *m;                /* the library's */
    GtkWindow *window;
    HgrVmPreview *preview;
    int child_status;             /* of hangarctl start, once child_done */
    gboolean child_done;
    gboolean shot_done, shot_ok;  /* a screenshot asked for by the test */
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();

    f->dir = g_dir_make_tmp("hangar-vm-preview-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *run = g_build_filename(f->dir, "run", NULL);
    g_autofree char *lib = g_build_filename(f->dir, "lib", NULL);
    g_mkdir(run, 0700);
    g_setenv("XDG_RUNTIME_DIR", run, TRUE);
    g_setenv("HANGAR_LIBRARY_DIR", lib, TRUE);     /* for hangarctl */
    f->lib = hgr_library_new(lib, &error);
    g_assert_no_error(error);
    g_free(c->name);
    c->name = g_strdup("Preview Test");
    c->memory_mib = 64;
    c->cpus = 1;
    c->network = false;
    c->firmware = HGR_FIRMWARE_BIOS;
    f->m = hgr_library_create(f->lib, c, 0, &error);
    g_assert_no_error(error);

    f->window = GTK_WINDOW(gtk_window_new());
    f->preview = HGR_VM_PREVIEW(hgr_vm_preview_new());
    g_object_set(f->preview, "max-width", BOX_W, "max-height", BOX_H, NULL);
    gtk_window_set_child(f->window, GTK_WIDGET(f->preview));
    gtk_window_present(f->window);
}

static void teardown(Fixture *f, gconstpointer data)
{
    gtk_window_destroy(f->window);
    if (hgr_machine_query_state(f->m) == HGR_MACHINE_RUNNING ||
        hgr_machine_get_state(f->m) == HGR_MACHINE_PAUSED)
        hgr_machine_force_off(f->m, NULL);
    g_clear_object(&f->lib);
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->dir);
}

/* Turns the main loop until done(f) or a bound (tripled on a loaded
 * machine): the bound is where a broken preview fails, not a measurement. */
static gboolean spin_until(gboolean (*done)(Fixture *), Fixture *f, unsigned seconds)
{
    gint64 end = g_get_monotonic_time() + 3 * (gint64)seconds * G_USEC_PER_SEC;

    while (!done(f)) {
        if (g_get_monotonic_time() > end)
            return FALSE;
        g_main_context_iteration(NULL, FALSE);
        g_usleep(5000);
    }
    return TRUE;
}

static GtkWidget *visible_child(Fixture *f)
{
    GtkWidget *stack = gtk_widget_get_first_child(GTK_WIDGET(f->preview));
    return gtk_stack_get_visible_child(GTK_STACK(stack));
}

/* The thumbnail shown, or NULL while the icon is. */
static GdkTexture *shown_texture(Fixture *f)
{
    GtkWidget *child = visible_child(f);
    if (!GTK_IS_PICTURE(child))
        return NULL;
    GdkPaintable *p = gtk_picture_get_paintable(GTK_PICTURE(child));
    return GDK_IS_TEXTURE(p) ? GDK_TEXTURE(p) : NULL;
}

/* How many of the thumbnail's pixels differ from its first one. */
static unsigned not_background(GdkTexture *tex)
{
    int w = gdk_texture_get_width(tex), h = gdk_texture_get_height(tex);
    g_autofree guint32 *px = g_new(guint32, (size_t)w * h);
    unsigned n = 0;

    gdk_texture_download(tex, (guchar *)px, (gsize)w * 4);
    for (size_t i = 0; i < (size_t)w * h; i++)
        n += px[i] != px[0];
    return n;
}

/* SeaBIOS's text is on the thumbnail (its first screen may be blank). */
static gboolean shows_text(Fixture *f)
{
    GdkTexture *tex = shown_texture(f);
    return tex && not_background(tex) > 50;
}

static gboolean shows_icon(Fixture *f)
{
    return GTK_IS_IMAGE(visible_child(f)) && !hgr_vm_preview_get_resolution(f->preview);
}

static gboolean stopped(Fixture *f)
{
    return hgr_machine_get_state(f->m) == HGR_MACHINE_STOPPED;
}

/* Files left in the folder where the screenshots go. */
static unsigned screenshot_files(void)
{
    g_autofree char *dir = hgr_control_socket_dir();
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    unsigned n = 0;

    while (d && (name = g_dir_read_name(d)))
        n += g_str_has_suffix(name, ".png") || strstr(name, "screenshot") != NULL;
    return n;
}

static void die_with_parent(gpointer data)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void on_child_exit(GPid pid, gint status, gpointer data)
{
    Fixture *f = data;

    f->child_status = status;
    f->child_done = TRUE;
    g_spawn_close_pid(pid);
}

static gboolean child_gone(Fixture *f)
{
    return f->child_done;
}

static void on_shot(GObject *source, GAsyncResult *result, gpointer data)
{
    Fixture *f = data;
    g_autoptr(GError) error = NULL;

    f->shot_ok = hgr_machine_screenshot_finish(HGR_MACHINE(source), result, &error);
    g_assert_no_error(error);
    f->shot_done = TRUE;
}

static gboolean shot_done(Fixture *f)
{
    return f->shot_done;
}

/* Asks the process running it, waiting (a few seconds at most). */
static gboolean running(Fixture *f)
{
    return hgr_machine_query_state(f->m) == HGR_MACHINE_RUNNING;
}

static void test_running_elsewhere(Fixture *f, gconstpointer data)
{
    const char *hangarctl = g_getenv("HANGARCTL");
    g_autoptr(GError) error = NULL;

    if (!hangarctl) {
        g_printerr("SKIP: HANGARCTL is not set (meson test sets it)\n");
        g_test_skip("HANGARCTL is not set (meson test sets it)");
        return;
    }
    /* hangarctl runs the VM headless until it stops: a child of this
     * test, which goes with it if an assertion ends the test first. */
    const char *argv[] = { hangarctl, "start", "Preview Test", NULL };
    GPid pid;
    g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                die_with_parent, NULL, &pid, &error));
    g_assert_no_error(error);
    g_child_watch_add(pid, on_child_exit, f);
    /* The manager window's poll does this without waiting. */
    if (!spin_until(running, f, 60))
        g_error("hangarctl start did not run the VM (%s, status %d)",
                f->child_done ? "it ended" : "it runs", f->child_status);
    g_assert_false(hgr_machine_is_running_here(f->m));

    hgr_vm_preview_set_machine(f->preview, f->m);
    if (!spin_until(shows_text, f, 120))
        g_error("the preview never showed the firmware's screen (showing %s)",
                G_OBJECT_TYPE_NAME(visible_child(f)));

    /* Scaled like a frame of a VM running here: the box's size at most,
     * the screen's aspect kept; the screen's mode is said. */
    GdkTexture *tex = shown_texture(f);
    const char *res = hgr_vm_preview_get_resolution(f->preview);
    g_assert_nonnull(res);
    char *end;
    unsigned sw = (unsigned)strtoul(res, &end, 10);
    while (*end && !g_ascii_isdigit(*end))
        end++;                    /* " × " */
    unsigned sh = (unsigned)strtoul(end, NULL, 10);
    g_assert_cmpuint(sw, >=, 640);
    g_assert_cmpuint(sh, >=, 200);
    uint32_t fw, fh;
    int scale = gtk_widget_get_scale_factor(GTK_WIDGET(f->preview));
    hgr_frame_fit(sw, sh, BOX_W * scale, BOX_H * scale, &fw, &fh);
    g_assert_cmpint(gdk_texture_get_width(tex), ==, (int)fw);
    g_assert_cmpint(gdk_texture_get_height(tex), ==, (int)fh);
    g_assert_cmpuint(fw, <, sw);
    /* Each screenshot's file is gone once read. */
    g_assert_cmpuint(screenshot_files(), ==, 0);

    /* Such a file, written by the other process, is the user's alone. */
    g_autofree char *path = hgr_machine_screenshot_file_new(&error);
    g_assert_no_error(error);
    hgr_machine_screenshot_async(f->m, path, NULL, on_shot, f);
    g_assert_true(spin_until(shot_done, f, 30));
    g_assert_true(f->shot_ok);
    GStatBuf st;
    g_assert_cmpint(g_lstat(path, &st), ==, 0);
    g_assert_true(S_ISREG(st.st_mode));
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    g_assert_cmpint(st.st_size, >, 100);
    g_unlink(path);

    /* Stopped (by whoever): the icon again, and no resolution. */
    g_assert_true(hgr_machine_force_off(f->m, &error));
    g_assert_no_error(error);
    g_assert_true(spin_until(stopped, f, 30));
    g_assert_true(spin_until(shows_icon, f, 10));
    g_assert_cmpuint(screenshot_files(), ==, 0);
    /* And the process that ran it is done, without an error. */
    g_assert_true(spin_until(child_gone, f, 30));
    g_assert_true(g_spawn_check_wait_status(f->child_status, NULL));
}

/* The process running it accepts the connection and never answers: the
 * machine counts as stuck (paused), and the preview shows the icon. */
static void test_hung_process(Fixture *f, gconstpointer data)
{
    g_autofree char *sock = hgr_control_socket_path(hgr_machine_get_uuid(f->m));
    g_autofree char *sock_dir = g_path_get_dirname(sock);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_mkdir_with_parents(sock_dir, 0700);
    g_strlcpy(addr.sun_path, sock, sizeof(addr.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fd, 16), ==, 0);

    g_assert_cmpint(hgr_machine_query_state(f->m), ==, HGR_MACHINE_PAUSED);
    hgr_vm_preview_set_machine(f->preview, f->m);
    /* A few refreshes' worth: never a picture, never a dialog. */
    gint64 end = g_get_monotonic_time() + 7 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_assert_true(shows_icon(f));
        g_usleep(5000);
    }
    GListModel *tops = gtk_window_get_toplevels();
    g_assert_cmpuint(g_list_model_get_n_items(tops), ==, 1);
    g_assert_cmpuint(screenshot_files(), ==, 0);
    hgr_vm_preview_set_machine(f->preview, NULL);
    close(fd);
    g_unlink(sock);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    if (!gtk_init_check()) {
        printf("1..0 # SKIP no display (run under xvfb-run)\n");
        fprintf(stderr, "SKIP: the preview tests need an X server or Wayland display\n");
        return 0;
    }
    adw_init();
    g_test_add("/app/vm-preview/hung-process", Fixture, NULL, setup, test_hung_process,
               teardown);
    if (access("/dev/kvm", R_OK | W_OK) != 0 || access(HGR_SEABIOS_PATH, R_OK) != 0)
        fprintf(stderr, "SKIP: /app/vm-preview/running-elsewhere: needs /dev/kvm "
                "(read-write) and %s\n", HGR_SEABIOS_PATH);
    else
        g_test_add("/app/vm-preview/running-elsewhere", Fixture, NULL, setup,
                   test_running_elsewhere, teardown);
    return g_test_run();
}
