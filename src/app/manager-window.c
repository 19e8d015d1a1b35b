/* manager-window.c — the main window (manager-window.h): the library as a
 * list, details of the selection, ISO drops, library problems as toasts,
 * the first-start host check and the launch-time probe for the bench. */
#include <glib/gi18n.h>
#include <stdio.h>
#include <time.h>

#include "../library/host-check.h"
#include "machine-row.h"
#include "manager-window-private.h"
#include "windows.h"

G_DEFINE_FINAL_TYPE(HgrManagerWindow, hgr_manager_window, ADW_TYPE_APPLICATION_WINDOW)

#define SCHEMA_ID "org.hangar.Hangar"

void hgr_manager_window_toast(HgrManagerWindow *self, const char *message)
{
    AdwToast *toast = adw_toast_new(message);
    adw_toast_set_timeout(toast, 8);
    adw_toast_overlay_add_toast(self->toasts, toast);
}

HgrMachine *hgr_manager_window_get_selected(HgrManagerWindow *self)
{
    return self->selected;
}

/* Settings when the schema is installed (or GSETTINGS_SCHEMA_DIR points at
 * the build's data/); without it the window works, remembering nothing. */
static GSettings *settings_new(void)
{
    GSettingsSchemaSource *src = g_settings_schema_source_get_default();
    g_autoptr(GSettingsSchema) schema =
        src ? g_settings_schema_source_lookup(src, SCHEMA_ID, TRUE) : NULL;
    if (!schema) {
        g_message("GSettings schema %s is not installed: window size and first start "
                  "are not remembered (install Hangar, or run it through `meson devenv`)",
                  SCHEMA_ID);
        return NULL;
    }
    return g_settings_new_full(schema, NULL, NULL);
}

/* ---- selection ---- */

static void on_selected_notify(HgrMachine *m, GParamSpec *pspec, HgrManagerWindow *self)
{
    hgr_manager_window_update_actions(self);
    adw_window_title_set_subtitle(self->window_title, hgr_machine_get_name(m));
}

static void select_machine(HgrManagerWindow *self, HgrMachine *m)
{
    if (self->selected == m)
        return;
    if (self->selected)
        g_signal_handlers_disconnect_by_data(self->selected, self);
    g_set_object(&self->selected, m);
    if (m)
        g_signal_connect(m, "notify", G_CALLBACK(on_selected_notify), self);
    hgr_machine_details_set_machine(self->details, m);
    adw_window_title_set_subtitle(self->window_title, m ? hgr_machine_get_name(m) : NULL);
    if (self->settings)
        g_settings_set_string(self->settings, "last-selected-machine",
                              m ? hgr_machine_get_uuid(m) : "");
    hgr_manager_window_update_actions(self);
}

static void on_row_selected(GtkListBox *list, GtkListBoxRow *row, HgrManagerWindow *self)
{
    if (self->list_updating)
        return;
    select_machine(self, row ? hgr_machine_row_get_machine(HGR_MACHINE_ROW(row)) : NULL);
}

static GtkWidget *create_row(gpointer item, gpointer data)
{
    return hgr_machine_row_new(HGR_MACHINE(item));
}

/* The row to select after the list changed: the one selected before, else
 * the one remembered from last time, else the first. */
static void reselect(HgrManagerWindow *self)
{
    GListModel *machines = hgr_library_get_machines(self->library);
    guint n = g_list_model_get_n_items(machines);
    g_autofree char *remembered =
        self->settings ? g_settings_get_string(self->settings, "last-selected-machine") : NULL;
    int pick = n ? 0 : -1;

    for (guint i = 0; i < n; i++) {
        g_autoptr(HgrMachine) m = g_list_model_get_item(machines, i);
        if (m == self->selected) {
            pick = (int)i;
            break;
        }
        if (remembered && g_strcmp0(hgr_machine_get_uuid(m), remembered) == 0)
            pick = (int)i;
    }
    GtkListBoxRow *row = pick >= 0 ? gtk_list_box_get_row_at_index(self->machine_list, pick) : NULL;
    gtk_list_box_select_row(self->machine_list, row);
    if (!row)
        select_machine(self, NULL);
}

/* Runs before the list box's own handler (connected first): a reload that
 * replaces rows makes the list box select and unselect rows on its own. */
static void on_machines_changing(GListModel *machines, guint pos, guint removed, guint added,
                                 HgrManagerWindow *self)
{
    self->list_updating = TRUE;
    g_set_object(&self->keep_selected, self->selected);
}

static void on_machines_changed(GListModel *machines, guint pos, guint removed, guint added,
                                HgrManagerWindow *self)
{
    guint n = g_list_model_get_n_items(machines);

    self->list_updating = FALSE;
    if (self->keep_selected && self->selected != self->keep_selected)
        select_machine(self, self->keep_selected);
    g_clear_object(&self->keep_selected);
    gtk_stack_set_visible_child_name(self->main_stack, n ? "library" : "empty");
    reselect(self);
}

/* ---- what other processes do: `hangarctl create`, `start`, `set` ---- */

#define RELOAD_DELAY_MS 300
#define STATE_POLL_MS 2000

static gboolean reload_now(gpointer data)
{
    HgrManagerWindow *self = data;
    g_autoptr(GError) error = NULL;

    self->reload_idle = 0;
    if (!hgr_library_reload(self->library, &error))
        hgr_manager_window_toast(self, error->message);
    return G_SOURCE_REMOVE;
}

/* Folders come and go in bursts (a VM being made): reload once after. */
static void schedule_reload(HgrManagerWindow *self)
{
    g_clear_handle_id(&self->reload_idle, g_source_remove);
    self->reload_idle = g_timeout_add(RELOAD_DELAY_MS, reload_now, self);
}

static void on_library_changed(GFileMonitor *mon, GFile *file, GFile *other,
                               GFileMonitorEvent event, HgrManagerWindow *self)
{
    if (event == G_FILE_MONITOR_EVENT_CREATED || event == G_FILE_MONITOR_EVENT_DELETED ||
        event == G_FILE_MONITOR_EVENT_MOVED_IN || event == G_FILE_MONITOR_EVENT_MOVED_OUT ||
        event == G_FILE_MONITOR_EVENT_RENAMED)
        schedule_reload(self);
}

/* Nothing tells this process when another one starts a VM; asking for
 * the state looks for its control socket (a failed connect when there is
 * none) and notifies when it finds one. The asking never waits: another
 * process that hangs cannot freeze this window. */
static gboolean poll_states(gpointer data)
{
    HgrManagerWindow *self = data;
    GListModel *machines = hgr_library_get_machines(self->library);

    for (guint i = 0; i < g_list_model_get_n_items(machines); i++) {
        g_autoptr(HgrMachine) m = g_list_model_get_item(machines, i);
        hgr_machine_refresh_state(m);
    }
    return G_SOURCE_CONTINUE;
}

static void watch_library(HgrManagerWindow *self)
{
    g_autoptr(GFile) root = g_file_new_for_path(hgr_library_get_root(self->library));
    g_autoptr(GError) error = NULL;

    self->library_monitor = g_file_monitor_directory(root, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
    if (self->library_monitor)
        g_signal_connect(self->library_monitor, "changed", G_CALLBACK(on_library_changed), self);
    else
        g_debug("not watching the library folder: %s", error->message);
    poll_states(self);
    self->state_poll = g_timeout_add(STATE_POLL_MS, poll_states, self);
}

/* ---- library problems: folders that are not VMs ---- */

static void show_library_problems(HgrManagerWindow *self)
{
    GPtrArray *problems = hgr_library_get_problems(self->library);
    guint n = problems ? problems->len : 0;

    for (guint i = 0; i < n && i < 3; i++) {
        const HgrLibraryProblem *p = g_ptr_array_index(problems, i);
        g_autofree char *base = g_path_get_basename(p->path);
        g_autofree char *msg = g_strdup_printf(_("“%s” is not listed: %s"), base, p->message);
        AdwToast *toast = adw_toast_new(msg);
        adw_toast_set_timeout(toast, 20);
        /* A toast shows one line; the fix is often past it. */
        adw_toast_set_button_label(toast, _("_Details"));
        adw_toast_set_action_name(toast, "win.library-problem");
        adw_toast_set_action_target_value(toast, g_variant_new_uint32(i));
        adw_toast_overlay_add_toast(self->toasts, toast);
    }
    if (n > 3) {
        g_autofree char *msg = g_strdup_printf(
            g_dngettext(NULL, "%u more folder in the library is not a virtual machine",
                        "%u more folders in the library are not virtual machines", n - 3),
            n - 3);
        hgr_manager_window_toast(self, msg);
    }
}

/* win.library-problem(u): the whole message about one folder. */
static void on_library_problem(GtkWidget *w, const char *action, GVariant *param)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(w);
    GPtrArray *problems = self->library ? hgr_library_get_problems(self->library) : NULL;
    guint i = g_variant_get_uint32(param);

    if (!problems || i >= problems->len)
        return;
    const HgrLibraryProblem *p = g_ptr_array_index(problems, i);
    g_autofree char *base = g_path_get_basename(p->path);
    g_autofree char *heading = g_strdup_printf(_("“%s” Is Not Listed"), base);
    g_autofree char *body = g_strdup_printf(_("%s\n\nIt is in %s. Nothing in it was changed."),
                                            p->message, p->path);
    GtkWidget *dialog = adw_message_dialog_new(GTK_WINDOW(self), heading, body);
    adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(dialog), "close", _("_Close"));
    gtk_window_present(GTK_WINDOW(dialog));
}

/* ---- dropping an ISO starts the wizard with it ---- */

static gboolean on_drop(GtkDropTarget *target, const GValue *value, double x, double y,
                        HgrManagerWindow *self)
{
    GSList *files = G_VALUE_HOLDS(value, GDK_TYPE_FILE_LIST) ? g_value_get_boxed(value) : NULL;
    GFile *file = files ? files->data : NULL;

    if (!file)
        return FALSE;
    if (g_file_query_file_type(file, G_FILE_QUERY_INFO_NONE, NULL) == G_FILE_TYPE_DIRECTORY) {
        g_autofree char *name = g_file_get_parse_name(file);
        g_autofree char *msg = g_strdup_printf(
            _("“%s” is a folder: drop an installation image (an .iso file) to create a virtual machine"),
            name);
        hgr_manager_window_toast(self, msg);
        return FALSE;
    }
    if (!self->library) {
        hgr_manager_window_toast(self, _("The virtual machine library could not be opened"));
        return FALSE;
    }
    /* The wizard identifies the image and says so when it is no ISO. */
    hgr_new_vm_wizard_present(GTK_WINDOW(self), self->library, file);
    return TRUE;
}

/* ---- first start: is KVM there and fast? ---- */

static void host_check_thread(GTask *task, gpointer src, gpointer data, GCancellable *c)
{
    g_task_return_pointer(task, hgr_host_check_run(NULL),
                          (GDestroyNotify)hgr_host_check_report_free);
}

static void host_check_done(GObject *src, GAsyncResult *res, gpointer data)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(src);
    g_autoptr(HgrHostCheckReport) report = g_task_propagate_pointer(G_TASK(res), NULL);

    if (self->settings)
        g_settings_set_boolean(self->settings, "first-run", FALSE);
    if (!report || report->level == HGR_HOST_CHECK_OK)
        return;
    /* The worst finding, in a banner until closed; the dialog has the rest. */
    const HgrHostCheckItem *worst = NULL;
    for (guint i = 0; i < report->items->len; i++) {
        const HgrHostCheckItem *it = g_ptr_array_index(report->items, i);
        if (it->level == report->level) {
            worst = it;
            break;
        }
    }
    gtk_label_set_label(self->host_banner_label,
                        worst ? worst->title : _("This computer cannot run fast virtual machines"));
    gtk_revealer_set_reveal_child(self->host_banner, TRUE);
}

static void on_host_banner_close(GtkButton *button, HgrManagerWindow *self)
{
    gtk_revealer_set_reveal_child(self->host_banner, FALSE);
}

static void maybe_first_run_check(HgrManagerWindow *self)
{
    if (!self->settings || !g_settings_get_boolean(self->settings, "first-run"))
        return;
    g_autoptr(GTask) task = g_task_new(self, NULL, host_check_done, NULL);
    g_task_run_in_thread(task, host_check_thread);
}

/* ---- after the first frame ---- */

/* HANGAR_BENCH_LAUNCH set: print when the first frame was painted, on the
 * monotonic clock the bench started its timer on. */
static void on_first_paint(GdkFrameClock *clock, HgrManagerWindow *self)
{
    struct timespec ts;

    g_signal_handlers_disconnect_by_func(clock, on_first_paint, self);
    if (g_getenv("HANGAR_BENCH_LAUNCH")) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        printf("hangar-first-frame-ns %lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
        fflush(stdout);
    }
    /* What is not needed for the first frame waits for it. */
    if (self->library)
        show_library_problems(self);
    maybe_first_run_check(self);
}

static void hgr_manager_window_map(GtkWidget *w)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(w);
    GTK_WIDGET_CLASS(hgr_manager_window_parent_class)->map(w);
    GdkFrameClock *clock = gtk_widget_get_frame_clock(w);
    if (clock && !g_object_get_data(G_OBJECT(self), "painted")) {
        g_object_set_data(G_OBJECT(self), "painted", GINT_TO_POINTER(1));
        g_signal_connect(clock, "after-paint", G_CALLBACK(on_first_paint), self);
    }
}

static void on_active_changed(GtkWindow *win, GParamSpec *pspec, HgrManagerWindow *self)
{
    /* Back from the settings dialog, the wizard or a terminal where
     * `hangarctl set` ran: show what changed. */
    if (!gtk_window_is_active(win))
        return;
    if (self->library)
        schedule_reload(self);
    hgr_machine_details_refresh(self->details);
}

static void setup_library(HgrManagerWindow *self)
{
    const GError *error = hgr_application_get_library_error(self->app);

    if (!self->library) {
        g_autofree char *desc = g_strdup_printf(
            _("%s\n\nCheck that the folder can be written, or set HANGAR_LIBRARY_DIR to another folder, then start Hangar again."),
            error ? error->message : _("Unknown error"));
        adw_status_page_set_description(self->error_page, desc);
        gtk_stack_set_visible_child_name(self->main_stack, "error");
        gtk_widget_action_set_enabled(GTK_WIDGET(self), "win.start", FALSE);
        return;
    }
    GListModel *machines = hgr_library_get_machines(self->library);
    g_signal_connect_object(machines, "items-changed", G_CALLBACK(on_machines_changing), self, 0);
    gtk_list_box_bind_model(self->machine_list, machines, create_row, self, NULL);
    g_signal_connect_object(machines, "items-changed", G_CALLBACK(on_machines_changed), self, 0);
    on_machines_changed(machines, 0, 0, 0, self);
    watch_library(self);
}

/* The size is kept only when not maximized, so unmaximizing next time
 * goes back to it. */
static gboolean hgr_manager_window_close_request(GtkWindow *win)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(win);
    if (self->settings) {
        int w, h;
        gboolean maximized = gtk_window_is_maximized(win);
        gtk_window_get_default_size(win, &w, &h);
        if (!maximized && w > 0 && h > 0) {
            g_settings_set_int(self->settings, "window-width", w);
            g_settings_set_int(self->settings, "window-height", h);
        }
        g_settings_set_boolean(self->settings, "window-maximized", maximized);
    }
    return GTK_WINDOW_CLASS(hgr_manager_window_parent_class)->close_request(win);
}

static void hgr_manager_window_dispose(GObject *obj)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(obj);
    if (self->selected)
        g_signal_handlers_disconnect_by_data(self->selected, self);
    g_clear_object(&self->selected);
    g_clear_object(&self->keep_selected);
    g_clear_object(&self->settings);
    g_clear_handle_id(&self->reload_idle, g_source_remove);
    g_clear_handle_id(&self->state_poll, g_source_remove);
    if (self->library_monitor)
        g_signal_handlers_disconnect_by_data(self->library_monitor, self);
    g_clear_object(&self->library_monitor);
    gtk_widget_dispose_template(GTK_WIDGET(self), HGR_TYPE_MANAGER_WINDOW);
    G_OBJECT_CLASS(hgr_manager_window_parent_class)->dispose(obj);
}

static void hgr_manager_window_class_init(HgrManagerWindowClass *klass)
{
    GtkWidgetClass *wc = GTK_WIDGET_CLASS(klass);

    G_OBJECT_CLASS(klass)->dispose = hgr_manager_window_dispose;
    wc->map = hgr_manager_window_map;
    GTK_WINDOW_CLASS(klass)->close_request = hgr_manager_window_close_request;
    g_type_ensure(HGR_TYPE_MACHINE_DETAILS);
    gtk_widget_class_set_template_from_resource(wc, "/org/hangar/Hangar/manager-window.ui");
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, toasts);
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, window_title);
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, main_stack);
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, error_page);
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, host_banner);
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, host_banner_label);
    gtk_widget_class_bind_template_callback(wc, on_host_banner_close);
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, machine_list);
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, details);
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, start_button);
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, pause_button);
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, shutdown_button);
    gtk_widget_class_bind_template_child(wc, HgrManagerWindow, resume_button);
    hgr_manager_window_install_actions(wc);
    gtk_widget_class_install_action(wc, "win.library-problem", "u", on_library_problem);
}

static void hgr_manager_window_init(HgrManagerWindow *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    g_signal_connect(self->machine_list, "row-selected", G_CALLBACK(on_row_selected), self);
    g_signal_connect(self, "notify::is-active", G_CALLBACK(on_active_changed), self);

    GtkDropTarget *drop = gtk_drop_target_new(GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
    g_signal_connect(drop, "drop", G_CALLBACK(on_drop), self);
    gtk_widget_add_controller(GTK_WIDGET(self), GTK_EVENT_CONTROLLER(drop));

    self->settings = settings_new();
    if (self->settings) {
        gtk_window_set_default_size(GTK_WINDOW(self),
                                    g_settings_get_int(self->settings, "window-width"),
                                    g_settings_get_int(self->settings, "window-height"));
        if (g_settings_get_boolean(self->settings, "window-maximized"))
            gtk_window_maximize(GTK_WINDOW(self));
    }
    hgr_manager_window_update_actions(self);
}

GtkWindow *hgr_manager_window_new(HgrApplication *app)
{
    HgrManagerWindow *self = g_object_new(HGR_TYPE_MANAGER_WINDOW, "application", app, NULL);

    self->app = app;
    self->library = hgr_application_get_library(app);
    setup_library(self);
    return GTK_WINDOW(self);
}
