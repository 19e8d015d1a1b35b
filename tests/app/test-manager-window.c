/* test-manager-window.c — the manager window and the settings dialog on a
 * real library folder, under Xvfb (with-xvfb.sh): what a user sees listed,
 * which buttons work in which state, and that a refused setting changes
 * nothing on disk while an accepted one is written. */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "application.h"
#include "control-private.h"
#include "control.h"
#include "fake-control-process.h"
#include "machine-private.h"
#include "new-vm-wizard.h"
#include "manager-window-private.h"
#include "settings-dialog.h"
#include "vm-window-private.h"
#include "windows.h"

typedef struct {
    char *dir;                    /* the library folder */
    HgrApplication *app;
    HgrManagerWindow *win;
} Fixture;

static void spin(void)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

static void make_vm(const char *dir, const char *name)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrLibrary) lib = hgr_library_new(dir, &error);
    g_assert_no_error(error);
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();
    c->name = g_strdup(name);
    g_assert_nonnull(hgr_library_create(lib, c, 0, &error));
    g_assert_no_error(error);
}

/* The app as `hangar` runs it, on dir, and its manager window. */
static void open_app(Fixture *f, const char *dir)
{
    g_setenv("HANGAR_LIBRARY_DIR", dir, TRUE);
    static unsigned n;
    g_autofree char *id = g_strdup_printf("org.hangar.Hangar.Test%u", ++n);
    f->app = hgr_application_new();
    /* One id each: a finished test's app may still be on the bus. */
    g_application_set_application_id(G_APPLICATION(f->app), id);
    g_application_set_flags(G_APPLICATION(f->app),
                            G_APPLICATION_NON_UNIQUE | G_APPLICATION_HANDLES_OPEN);
    g_autoptr(GError) error = NULL;
    g_application_register(G_APPLICATION(f->app), NULL, &error);
    g_assert_no_error(error);
    f->win = HGR_MANAGER_WINDOW(hgr_manager_window_new(f->app));
    gtk_window_present(GTK_WINDOW(f->win));
    spin();
}

static void setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    f->dir = g_dir_make_tmp("hangar-test-manager-XXXXXX", &error);
    g_assert_no_error(error);
}

static void teardown(Fixture *f, gconstpointer data)
{
    if (f->win)
        gtk_window_destroy(GTK_WINDOW(f->win));
    spin();
    g_clear_object(&f->app);
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", f->dir);
    g_assert_cmpint(system(rm), ==, 0);
    g_free(f->dir);
}

static const char *visible_page(Fixture *f)
{
    return gtk_stack_get_visible_child_name(f->win->main_stack);
}

static guint n_rows(Fixture *f)
{
    guint n = 0;
    for (GtkWidget *c = gtk_widget_get_first_child(GTK_WIDGET(f->win->machine_list)); c;
         c = gtk_widget_get_next_sibling(c))
        n += GTK_IS_LIST_BOX_ROW(c);
    return n;
}

/* An empty library invites to create the first VM. */
static void test_empty(Fixture *f, gconstpointer data)
{
    open_app(f, f->dir);
    g_assert_cmpstr(visible_page(f), ==, "empty");
    g_assert_null(hgr_manager_window_get_selected(f->win));
    g_assert_false(gtk_widget_get_sensitive(f->win->start_button));
}

/* VMs are listed by name; a folder that is no VM is left out, not fatal;
 * a stopped VM can be started but not paused or shut down. */
static void test_list_and_actions(Fixture *f, gconstpointer data)
{
    make_vm(f->dir, "Zeta");
    make_vm(f->dir, "alpha");
    make_vm(f->dir, "Beta");
    g_autofree char *junk = g_build_filename(f->dir, "Junk", NULL);
    g_assert_cmpint(g_mkdir(junk, 0755), ==, 0);
    g_autofree char *junk_cfg = g_build_filename(junk, "Junk.hangar", NULL);
    g_assert_true(g_file_set_contents(junk_cfg, "[[[ not a config", -1, NULL));

    open_app(f, f->dir);
    g_assert_cmpstr(visible_page(f), ==, "library");
    g_assert_cmpuint(n_rows(f), ==, 3);
    g_assert_cmpuint(hgr_library_get_problems(f->win->library)->len, ==, 1);

    GtkListBoxRow *first = gtk_list_box_get_row_at_index(f->win->machine_list, 0);
    g_assert_true(gtk_list_box_row_is_selected(first));
    HgrMachine *m = hgr_manager_window_get_selected(f->win);
    g_assert_nonnull(m);
    g_assert_cmpstr(hgr_machine_get_name(m), ==, "alpha");
    g_assert_cmpint(hgr_machine_get_state(m), ==, HGR_MACHINE_STOPPED);

    g_assert_true(gtk_widget_get_sensitive(f->win->start_button));
    g_assert_false(gtk_widget_get_sensitive(f->win->pause_button));
    g_assert_false(gtk_widget_get_sensitive(f->win->shutdown_button));
    g_assert_true(gtk_widget_get_visible(f->win->pause_button));
    g_assert_false(gtk_widget_get_visible(f->win->resume_button));

    /* Selecting another row shows that machine. */
    gtk_list_box_select_row(f->win->machine_list,
                            gtk_list_box_get_row_at_index(f->win->machine_list, 2));
    spin();
    g_assert_cmpstr(hgr_machine_get_name(hgr_manager_window_get_selected(f->win)), ==, "Zeta");

    /* A VM made by another process (`hangarctl create`) appears by itself
     * (the window watches the folder); 30 s is only a bound on a hang. */
    make_vm(f->dir, "Gamma");
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (n_rows(f) < 4 && g_get_monotonic_time() < deadline)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(10000);
    g_assert_cmpuint(n_rows(f), ==, 4);
}

/* A library folder that cannot be opened is said in the window. */
static void test_library_error(Fixture *f, gconstpointer data)
{
    g_autofree char *file = g_build_filename(f->dir, "not-a-folder", NULL);
    g_assert_true(g_file_set_contents(file, "x", 1, NULL));
    open_app(f, file);
    g_assert_cmpstr(visible_page(f), ==, "error");
    g_assert_nonnull(hgr_application_get_library_error(f->app));
}

/* The first descendant of root of type t (and, for buttons, label). */
static GtkWidget *find(GtkWidget *root, GType t, const char *label)
{
    if (G_TYPE_CHECK_INSTANCE_TYPE(root, t) &&
        (!label || (GTK_IS_BUTTON(root) && !g_strcmp0(gtk_button_get_label(GTK_BUTTON(root)), label))))
        return root;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *w = find(c, t, label);
        if (w)
            return w;
    }
    return NULL;
}

static char *config_text(HgrMachine *m)
{
    g_autofree char *path = g_strdup_printf("%s/%s.hangar", hgr_machine_get_dir(m),
                                            hgr_machine_get_name(m));
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

/* A name with '/' or one that is taken is refused with a message in the
 * dialog, and nothing changes on disk; a good one renames the VM. */
static void test_settings_name(Fixture *f, gconstpointer data)
{
    make_vm(f->dir, "Alpha");
    make_vm(f->dir, "Beta");
    open_app(f, f->dir);
    HgrMachine *m = hgr_library_find(f->win->library, "Alpha", NULL);
    g_autofree char *before = config_text(m);

    GtkWidget *dlg = hgr_settings_dialog_new(GTK_WINDOW(f->win), m);
    gtk_window_present(GTK_WINDOW(dlg));
    spin();
    GtkWidget *name = find(dlg, ADW_TYPE_ENTRY_ROW, NULL);
    g_assert_nonnull(name);

    const char *bad[] = { "A/B", "Beta", "" };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        gtk_editable_set_text(GTK_EDITABLE(name), bad[i]);
        g_signal_emit_by_name(name, "apply");
        spin();
        g_assert_cmpstr(hgr_machine_get_name(m), ==, "Alpha");
        g_autofree char *after = config_text(m);
        g_assert_cmpstr(after, ==, before);
        g_assert_true(gtk_widget_has_css_class(name, "error"));
        /* What was typed stays, to be corrected. */
        g_assert_cmpstr(gtk_editable_get_text(GTK_EDITABLE(name)), ==, bad[i]);
    }

    gtk_editable_set_text(GTK_EDITABLE(name), "Alpha Two");
    g_signal_emit_by_name(name, "apply");
    spin();
    g_assert_cmpstr(hgr_machine_get_name(m), ==, "Alpha Two");
    g_assert_false(gtk_widget_has_css_class(name, "error"));
    g_autofree char *renamed = g_build_filename(f->dir, "Alpha Two", "Alpha Two.hangar", NULL);
    g_assert_true(g_file_test(renamed, G_FILE_TEST_IS_REGULAR));
    gtk_window_destroy(GTK_WINDOW(dlg));
}

/* Memory and port forwarding apply at once; a second rule on the same host
 * port is refused and leaves one rule on disk. */
static void test_settings_apply(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    make_vm(f->dir, "Alpha");
    open_app(f, f->dir);
    HgrMachine *m = hgr_library_find(f->win->library, "Alpha", NULL);
    g_autofree char *path = g_strdup_printf("%s/Alpha.hangar", hgr_machine_get_dir(m));

    GtkWidget *dlg = hgr_settings_dialog_new(GTK_WINDOW(f->win), m);
    gtk_window_present(GTK_WINDOW(dlg));
    spin();

    GtkWidget *memory = find(dlg, GTK_TYPE_SPIN_BUTTON, NULL); /* the first: memory */
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(memory), 3072);
    spin();
    g_autoptr(HgrMachineConfig) c1 = hgr_machine_config_load(path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c1->memory_mib, ==, 3072);
    guint rules = c1->port_forwards->len;

    GtkWidget *add = find(dlg, GTK_TYPE_BUTTON, "_Add Rule");
    g_assert_nonnull(add);
    g_signal_emit_by_name(add, "clicked");
    spin();
    g_signal_emit_by_name(add, "clicked");
    spin();
    g_autoptr(HgrMachineConfig) c2 = hgr_machine_config_load(path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c2->port_forwards->len, ==, rules + 1);
    g_assert_cmpuint(c2->memory_mib, ==, 3072);
    gtk_window_destroy(GTK_WINDOW(dlg));
}

/* Drops on the window as GTK delivers them: a list of files. */
static gboolean drop_files(Fixture *f, GFile *file)
{
    g_autoptr(GListModel) controllers = gtk_widget_observe_controllers(GTK_WIDGET(f->win));
    GtkDropTarget *target = NULL;
    for (guint i = 0; !target && i < g_list_model_get_n_items(controllers); i++) {
        g_autoptr(GObject) c = g_list_model_get_item(controllers, i);
        if (GTK_IS_DROP_TARGET(c))
            target = GTK_DROP_TARGET(c);
    }
    g_assert_nonnull(target);

    GSList one = { .data = file, .next = NULL };
    g_auto(GValue) value = G_VALUE_INIT;
    g_value_init(&value, GDK_TYPE_FILE_LIST);
    g_value_take_boxed(&value, gdk_file_list_new_from_list(&one));
    gboolean accepted = FALSE;
    g_signal_emit_by_name(target, "drop", &value, 10.0, 10.0, &accepted);
    spin();
    return accepted;
}

static HgrNewVmWizard *find_wizard(void)
{
    GListModel *tops = gtk_window_get_toplevels(); /* not a new reference */
    for (guint i = 0; i < g_list_model_get_n_items(tops); i++) {
        g_autoptr(GObject) w = g_list_model_get_item(tops, i);
        if (HGR_IS_NEW_VM_WIZARD(w))
            return HGR_NEW_VM_WIZARD(w);
    }
    return NULL;
}

/* An ISO dropped on the window opens the New VM wizard; a folder does not. */
static void test_drop(Fixture *f, gconstpointer data)
{
    open_app(f, f->dir);
    g_autoptr(GFile) folder = g_file_new_for_path(f->dir);
    g_assert_false(drop_files(f, folder));
    g_assert_null(find_wizard());

    g_autofree char *iso_path = g_build_filename(f->dir, "installer.iso", NULL);
    g_assert_true(g_file_set_contents(iso_path, "not really an ISO", -1, NULL));
    g_autoptr(GFile) iso = g_file_new_for_path(iso_path);
    g_assert_true(drop_files(f, iso));
    HgrNewVmWizard *wizard = find_wizard();
    g_assert_nonnull(wizard);
    g_assert_true(gtk_window_get_transient_for(GTK_WINDOW(wizard)) == GTK_WINDOW(f->win));
    gtk_window_destroy(GTK_WINDOW(wizard));
}

/* `hangar FILE.iso` (Open With in a file manager) opens the wizard with it. */
static void test_open_file(Fixture *f, gconstpointer data)
{
    open_app(f, f->dir);
    g_autofree char *iso_path = g_build_filename(f->dir, "installer.iso", NULL);
    g_assert_true(g_file_set_contents(iso_path, "not really an ISO", -1, NULL));
    GFile *files[] = { g_file_new_for_path(iso_path) };

    g_application_open(G_APPLICATION(f->app), files, 1, "");
    spin();
    HgrNewVmWizard *wizard = find_wizard();
    g_assert_nonnull(wizard);
    /* The manager window it opened over, not a second one. */
    g_assert_true(gtk_window_get_transient_for(GTK_WINDOW(wizard)) == GTK_WINDOW(f->win));
    gtk_window_destroy(GTK_WINDOW(wizard));
    g_object_unref(files[0]);
}

static gboolean count_tick(gpointer data)
{
    (*(guint *)data)++;
    return G_SOURCE_CONTINUE;
}

/* The control socket of the library's one VM, its folder made: where the
 * process running it would answer. */
static char *only_vm_socket(Fixture *f)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrLibrary) lib = hgr_library_new(f->dir, &error);
    g_assert_no_error(error);
    g_autoptr(HgrMachine) m = g_list_model_get_item(hgr_library_get_machines(lib), 0);
    char *sock = hgr_control_socket_path(hgr_machine_get_uuid(m));
    g_autofree char *sock_dir = g_path_get_dirname(sock);
    g_mkdir_with_parents(sock_dir, 0700);
    return sock;
}

/* A VM whose process (`hangarctl start`) hangs: it takes the connection
 * and never answers. The window asks for its state all the same, and goes
 * on drawing and answering clicks meanwhile; once the question gives up,
 * the VM shows as stuck (paused), not as stopped, so Start stays off. */
static void test_hung_process(Fixture *f, gconstpointer data)
{
    make_vm(f->dir, "Stuck");
    g_autofree char *sock = only_vm_socket(f);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_strlcpy(addr.sun_path, sock, sizeof(addr.sun_path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fd, 16), ==, 0);

    open_app(f, f->dir);
    HgrMachine *m = hgr_manager_window_get_selected(f->win);
    g_assert_nonnull(m);
    g_assert_true(m->refreshing);            /* the window asked at once */
    guint ticks = 0;
    guint source = g_timeout_add(1, count_tick, &ticks);
    while (m->refreshing && ticks == 0)
        g_main_context_iteration(NULL, TRUE);
    g_assert_true(m->refreshing);            /* unanswered, and the loop turned */
    while (m->refreshing)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(source);
    spin();

    g_assert_cmpint(hgr_machine_get_state(m), ==, HGR_MACHINE_PAUSED);
    g_assert_false(gtk_widget_get_sensitive(f->win->start_button));
    g_assert_true(gtk_widget_get_visible(f->win->resume_button));
    close(fd);
    g_unlink(sock);
}

/* Whether a window's action is enabled, as a button naming it sees it:
 * a hidden probe button, parented to the window for the question. */
static gboolean action_enabled(gpointer window, const char *action)
{
    GtkWidget *probe = gtk_button_new();

    gtk_widget_set_visible(probe, FALSE);
    gtk_widget_set_parent(probe, GTK_WIDGET(window));
    gtk_actionable_set_action_name(GTK_ACTIONABLE(probe), action);
    gboolean enabled = gtk_widget_get_sensitive(probe);
    gtk_widget_unparent(probe);
    return enabled;
}

static const char *const state_actions[] = {
    "win.start", "win.pause", "win.resume", "win.pause-resume", "win.shutdown",
    "win.force-off", "win.reset",
};
static const char *const vm_window_state_actions[] = {
    "win.start", "win.pause", "win.shutdown", "win.force-off", "win.reset",
};

/* A VM whose process (`hangarctl start`) takes a Pause and sits on it:
 * while it does, nothing that changes the VM's state can be clicked, in
 * the manager window or in the VM's own window, and both say "Pausing…".
 * When it answers, the controls come back; when the process goes away
 * with the next Pause unanswered, the VM shows as stopped and can be
 * started (nothing stays greyed out). */
static void test_action_pending(Fixture *f, gconstpointer data)
{
    make_vm(f->dir, "Busy");
    g_autofree char *sock = only_vm_socket(f);
    Fake *fake = fake_start(sock);

    open_app(f, f->dir);
    HgrMachine *m = hgr_manager_window_get_selected(f->win);
    g_assert_nonnull(m);
    while (hgr_machine_get_state(m) != HGR_MACHINE_RUNNING)
        g_main_context_iteration(NULL, TRUE);
    spin();
    hgr_vm_window_show(f->app, m);
    HgrVmWindow *vmwin = g_object_get_data(G_OBJECT(m), "hgr-vm-window");
    g_assert_nonnull(vmwin);
    spin();
    g_assert_true(action_enabled(f->win, "win.pause"));
    g_assert_true(action_enabled(f->win, "win.force-off"));
    g_assert_true(action_enabled(vmwin, "win.pause"));
    g_assert_true(gtk_widget_get_sensitive(f->win->pause_button));

    /* The click; the other process has it and does not answer. */
    gtk_widget_activate_action(GTK_WIDGET(f->win), "win.pause", NULL);
    while (!g_atomic_int_get(&fake->pause_seen))
        g_main_context_iteration(NULL, TRUE);
    spin();
    for (guint i = 0; i < G_N_ELEMENTS(state_actions); i++)
        if (action_enabled(f->win, state_actions[i]))
            g_error("manager window: %s is enabled while a Pause is unanswered",
                    state_actions[i]);
    for (guint i = 0; i < G_N_ELEMENTS(vm_window_state_actions); i++)
        if (action_enabled(vmwin, vm_window_state_actions[i]))
            g_error("VM window: %s is enabled while a Pause is unanswered",
                    vm_window_state_actions[i]);
    g_assert_false(gtk_widget_get_sensitive(f->win->pause_button));
    g_assert_false(gtk_widget_get_sensitive(f->win->shutdown_button));
    g_assert_false(gtk_widget_get_sensitive(GTK_WIDGET(vmwin->pause_button)));
    g_assert_cmpstr(gtk_label_get_text(vmwin->state_label), ==, "Pausing…");
    /* A second Pause (Ctrl+P, say) goes nowhere. */
    g_assert_true(hgr_machine_is_busy(m));

    /* Answered: everything a running VM offers is back. */
    g_main_context_invoke(fake->context, fake_answer_pause, fake);
    while (hgr_machine_is_busy(m))
        g_main_context_iteration(NULL, TRUE);
    spin();
    g_assert_true(action_enabled(f->win, "win.pause"));
    g_assert_true(action_enabled(f->win, "win.shutdown"));
    g_assert_true(action_enabled(vmwin, "win.force-off"));
    g_assert_true(gtk_widget_get_sensitive(f->win->pause_button));
    g_assert_cmpstr(gtk_label_get_text(vmwin->state_label), !=, "Pausing…");

    /* Paused again from the VM window; the process dies on it. */
    g_atomic_int_set(&fake->pause_seen, 0);
    gtk_widget_activate_action(GTK_WIDGET(vmwin), "win.pause", NULL);
    while (!g_atomic_int_get(&fake->pause_seen))
        g_main_context_iteration(NULL, TRUE);
    spin();
    g_assert_false(action_enabled(f->win, "win.force-off"));
    g_assert_false(action_enabled(vmwin, "win.force-off"));
    fake_stop(fake);
    while (hgr_machine_is_busy(m) || hgr_machine_get_state(m) != HGR_MACHINE_STOPPED)
        g_main_context_iteration(NULL, TRUE);
    spin();
    g_assert_true(action_enabled(f->win, "win.start"));
    g_assert_true(action_enabled(vmwin, "win.start"));
    g_assert_true(gtk_widget_get_sensitive(f->win->start_button));
    gtk_window_destroy(GTK_WINDOW(vmwin));
    /* The failed Pause is said in a dialog over the VM window. */
    GListModel *tops = gtk_window_get_toplevels();
    for (guint i = 0; i < g_list_model_get_n_items(tops); i++) {
        g_autoptr(GObject) w = g_list_model_get_item(tops, i);
        if (ADW_IS_MESSAGE_DIALOG(w))
            gtk_window_destroy(GTK_WINDOW(w));
    }
    spin();
    g_unlink(sock);
}

int main(int argc, char **argv)
{
    gtk_test_init(&argc, &argv, NULL);
    adw_init();
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/app/manager/empty", test_empty);
    ADD("/app/manager/list-and-actions", test_list_and_actions);
    ADD("/app/manager/library-error", test_library_error);
    ADD("/app/manager/drop", test_drop);
    ADD("/app/manager/open-file", test_open_file);
    ADD("/app/manager/hung-process", test_hung_process);
    ADD("/app/manager/action-pending", test_action_pending);
    ADD("/app/settings/name", test_settings_name);
    ADD("/app/settings/apply", test_settings_apply);
    return g_test_run();
}
