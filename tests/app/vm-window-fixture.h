/* vm-window-fixture.h — what the VM window's tests share (test-vm-window.c,
 * test-vm-window-media.c): a library with one SeaBIOS machine in a
 * temporary folder, and waiting on the main loop for what a user would
 * see. */
#pragma once

#include <adwaita.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "library.h"
#include "vm-window.h"

extern GResource *hangar_get_resource(void);

/* GTK, libadwaita and the app's resources; false (after printing a TAP
 * SKIP) when there is no display. Warnings are logged, not fatal: the
 * library's control server unlinks its socket before stopping the
 * GDBusServer, which then warns that it cannot delete it. Criticals stay
 * fatal; outcomes are asserted. */
static inline gboolean vm_window_test_init(int *argc, char ***argv)
{
    g_test_init(argc, argv, NULL);
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    if (!gtk_init_check()) {
        printf("1..0 # SKIP no display (run under xvfb-run)\n");
        fprintf(stderr, "SKIP: the VM window tests need an X server or Wayland display\n");
        return FALSE;
    }
    adw_init();
    hangar_get_resource();     /* links the window's .ui in */
    return TRUE;
}

typedef struct {
    char *dir;
    HgrLibrary *lib;
    HgrMachine *m;
    HgrVmWindow *win;
} Fixture;

/* Runs the main loop until done(data) or a generous bound; the bound is
 * where a broken VM or view fails the test, not a measurement. On these
 * shared 2-core machines with a software KVM a loaded run is several times
 * slower than a quiet one, so every bound is tripled. */
static inline gboolean spin_until(gboolean (*done)(gpointer), gpointer data, unsigned seconds)
{
    gint64 end = g_get_monotonic_time() + 3 * (gint64)seconds * G_USEC_PER_SEC;

    while (!done(data)) {
        if (g_get_monotonic_time() > end)
            return FALSE;
        g_main_context_iteration(NULL, FALSE);
        g_usleep(2000);
    }
    return TRUE;
}

static inline void spin_for_ms(unsigned ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(2000);
    }
}

static inline gboolean machine_stopped(gpointer data)
{
    return hgr_machine_get_state(data) == HGR_MACHINE_STOPPED;
}

static inline gboolean machine_paused(gpointer data)
{
    return hgr_machine_get_state(data) == HGR_MACHINE_PAUSED;
}

static inline AdwMessageDialog *find_dialog(void)
{
    GListModel *tops = gtk_window_get_toplevels();        /* not ours */
    for (guint i = 0; i < g_list_model_get_n_items(tops); i++) {
        g_autoptr(GObject) w = g_list_model_get_item(tops, i);
        if (ADW_IS_MESSAGE_DIALOG(w) && gtk_widget_get_visible(GTK_WIDGET(w)))
            return ADW_MESSAGE_DIALOG(w);
    }
    return NULL;
}

static inline gboolean dialog_shown(gpointer data)
{
    return find_dialog() != NULL;
}

static inline char *write_boot_disk(const char *dir, const guint8 *code, gsize code_len)
{
    g_autoptr(GError) error = NULL;
    char *path = g_build_filename(dir, "echo.img", NULL);
    gsize size = 1 << 20;
    g_autofree guint8 *disk = g_malloc0(size);

    memcpy(disk, code, code_len);
    disk[510] = 0x55;
    disk[511] = 0xaa;
    g_file_set_contents(path, (const char *)disk, (gssize)size, &error);
    g_assert_no_error(error);
    return path;
}

static inline void fixture_setup_with(Fixture *f, const guint8 *boot, gsize boot_len)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();

    f->dir = g_dir_make_tmp("hangar-vm-window-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *run = g_build_filename(f->dir, "run", NULL);
    g_autofree char *lib = g_build_filename(f->dir, "lib", NULL);
    g_mkdir(run, 0700);
    g_setenv("XDG_RUNTIME_DIR", run, TRUE);
    f->lib = hgr_library_new(lib, &error);
    g_assert_no_error(error);
    g_free(c->name);
    c->name = g_strdup("Window Test");
    c->memory_mib = 64;
    c->cpus = 1;
    c->network = false;
    c->serial = true;
    c->firmware = HGR_FIRMWARE_BIOS;
    if (boot) {
        g_autofree char *disk = write_boot_disk(f->dir, boot, boot_len);
        hgr_machine_config_add_disk(c, disk, HGR_DISK_FORMAT_RAW, HGR_DISK_BUS_VIRTIO);
    }
    f->m = g_object_ref(hgr_library_create(f->lib, c, 0, &error));
    g_assert_no_error(error);
}

static inline void fixture_setup(Fixture *f)
{
    fixture_setup_with(f, NULL, 0);
}

static inline void fixture_teardown(Fixture *f)
{
    if (hgr_machine_get_state(f->m) != HGR_MACHINE_STOPPED)
        hgr_machine_force_off(f->m, NULL);
    spin_until(machine_stopped, f->m, 30);
    g_clear_object(&f->m);
    g_clear_object(&f->lib);
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->dir);
}
