/* manager-window-actions.c — win.start, win.pause, ... on the selected
 * machine, enabled by its state. Failures become toasts. */
#include <glib/gi18n.h>

#include "manager-window-private.h"
#include "windows.h"

/* An action under way. The machine may run in another process, which may
 * hang: the window never waits for it, and hears back here. */
typedef struct {
    GWeakRef window;
    HgrMachineAction action;
} Act;

/* Whole translated sentences: the machine, then the reason. */
static char *failure_message(HgrMachineAction action, const char *name, const char *why)
{
    switch (action) {
    case HGR_MACHINE_ACTION_PAUSE:
        return g_strdup_printf(_("Cannot pause “%s”: %s"), name, why);
    case HGR_MACHINE_ACTION_RESUME:
        return g_strdup_printf(_("Cannot resume “%s”: %s"), name, why);
    case HGR_MACHINE_ACTION_SHUTDOWN:
        return g_strdup_printf(_("Cannot shut down “%s”: %s"), name, why);
    case HGR_MACHINE_ACTION_FORCE_OFF:
        return g_strdup_printf(_("Cannot force off “%s”: %s"), name, why);
    case HGR_MACHINE_ACTION_RESET:
        return g_strdup_printf(_("Cannot reset “%s”: %s"), name, why);
    }
    return g_strdup(why);
}

static void on_act_done(GObject *source, GAsyncResult *result, gpointer data)
{
    Act *act = data;
    HgrMachine *m = HGR_MACHINE(source);
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrManagerWindow) self = g_weak_ref_get(&act->window);

    if (!hgr_machine_act_finish(m, result, &error) && self) {
        g_autofree char *msg = failure_message(act->action, hgr_machine_get_name(m),
                                               error->message);
        hgr_manager_window_toast(self, msg);
    }
    if (self)
        hgr_manager_window_update_actions(self);
    g_weak_ref_clear(&act->window);
    g_free(act);
}

/* Runs action on m; a failure becomes a toast. */
static void act_on(HgrManagerWindow *self, HgrMachine *m, HgrMachineAction action)
{
    if (!m)
        return;
    Act *act = g_new0(Act, 1);
    g_weak_ref_init(&act->window, self);
    act->action = action;
    hgr_machine_act_async(m, action, NULL, on_act_done, act);
    hgr_manager_window_update_actions(self);
}

static void on_start(GtkWidget *w, const char *action, GVariant *param)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(w);
    /* Opens the VM window, which starts a stopped machine (and reports
     * its own errors); a machine running here just gets its window raised. */
    if (self->selected)
        hgr_vm_window_show(self->app, self->selected);
    hgr_manager_window_update_actions(self);
}

static void on_pause(GtkWidget *w, const char *action, GVariant *param)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(w);
    act_on(self, self->selected, HGR_MACHINE_ACTION_PAUSE);
}

static void on_resume(GtkWidget *w, const char *action, GVariant *param)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(w);
    act_on(self, self->selected, HGR_MACHINE_ACTION_RESUME);
}

/* Toggles: the one shortcut (Ctrl+P) for both. */
static void on_pause_resume(GtkWidget *w, const char *action, GVariant *param)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(w);
    if (self->selected && hgr_machine_get_state(self->selected) == HGR_MACHINE_PAUSED)
        on_resume(w, action, param);
    else if (self->selected && hgr_machine_get_state(self->selected) == HGR_MACHINE_RUNNING)
        on_pause(w, action, param);
}

static void on_shutdown(GtkWidget *w, const char *action, GVariant *param)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(w);
    act_on(self, self->selected, HGR_MACHINE_ACTION_SHUTDOWN);
}

static void on_reset(GtkWidget *w, const char *action, GVariant *param)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(w);
    act_on(self, self->selected, HGR_MACHINE_ACTION_RESET);
}

static void on_force_off_response(AdwMessageDialog *dialog, const char *response,
                                  HgrManagerWindow *self)
{
    HgrMachine *m = g_object_get_data(G_OBJECT(dialog), "machine");
    if (g_strcmp0(response, "force-off") != 0 || !m)
        return;
    act_on(self, m, HGR_MACHINE_ACTION_FORCE_OFF);
}

/* Pulling the plug loses what the guest has not written: ask first. */
static void on_force_off(GtkWidget *w, const char *action, GVariant *param)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(w);
    if (!self->selected)
        return;
    g_autofree char *heading = g_strdup_printf(_("Force Off “%s”?"),
                                               hgr_machine_get_name(self->selected));
    GtkWidget *dialog = adw_message_dialog_new(GTK_WINDOW(self), heading,
        _("The virtual machine stops at once, as if its power cord were pulled. "
          "Anything the guest has not saved is lost."));
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(dialog),
                                     "cancel", _("_Cancel"), "force-off", _("_Force Off"), NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(dialog), "force-off",
                                               ADW_RESPONSE_DESTRUCTIVE);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
    g_object_set_data_full(G_OBJECT(dialog), "machine", g_object_ref(self->selected),
                           g_object_unref);
    g_signal_connect(dialog, "response", G_CALLBACK(on_force_off_response), self);
    gtk_window_present(GTK_WINDOW(dialog));
}

static void on_settings(GtkWidget *w, const char *action, GVariant *param)
{
    HgrManagerWindow *self = HGR_MANAGER_WINDOW(w);
    if (self->selected)
        hgr_settings_dialog_present(GTK_WINDOW(self), self->selected);
}

void hgr_manager_window_update_actions(HgrManagerWindow *self)
{
    GtkWidget *w = GTK_WIDGET(self);
    HgrMachine *m = self->selected;
    HgrMachineState state = m ? hgr_machine_get_state(m) : HGR_MACHINE_STOPPED;
    bool here = m && hgr_machine_is_running_here(m);
    bool up = state == HGR_MACHINE_RUNNING || state == HGR_MACHINE_PAUSED;
    /* While an action is under way nothing else may change the state: a
     * second click would overtake the first (hgr_machine_is_busy()). */
    bool idle = m && !hgr_machine_is_busy(m);

    /* Start also raises the window of a machine running here; one run by
     * another process has its console there. */
    gtk_widget_action_set_enabled(w, "win.start", idle && (!up || here));
    gtk_widget_action_set_enabled(w, "win.pause", idle && state == HGR_MACHINE_RUNNING);
    gtk_widget_action_set_enabled(w, "win.resume", idle && state == HGR_MACHINE_PAUSED);
    gtk_widget_action_set_enabled(w, "win.pause-resume", idle && up);
    gtk_widget_action_set_enabled(w, "win.shutdown", idle && state == HGR_MACHINE_RUNNING);
    gtk_widget_action_set_enabled(w, "win.force-off", idle && up);
    gtk_widget_action_set_enabled(w, "win.reset", idle && state == HGR_MACHINE_RUNNING);
    gtk_widget_action_set_enabled(w, "win.settings", m != NULL);
    /* Running here, Start shows the machine's window: say so, and do not
     * look like Resume next to it. */
    bool show = up && here;
    gtk_button_set_icon_name(GTK_BUTTON(self->start_button),
                             show ? "video-display-symbolic" : "media-playback-start-symbolic");
    gtk_widget_set_tooltip_text(self->start_button,
                                show ? _("Show the Window (Ctrl+Return)") : _("Start (Ctrl+Return)"));
    gtk_accessible_update_property(GTK_ACCESSIBLE(self->start_button),
                                   GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   show ? _("Show Window") : _("Start"), -1);
    gtk_widget_set_visible(self->pause_button, state != HGR_MACHINE_PAUSED);
    gtk_widget_set_visible(self->resume_button, state == HGR_MACHINE_PAUSED);
}

void hgr_manager_window_install_actions(GtkWidgetClass *wc)
{
    gtk_widget_class_install_action(wc, "win.start", NULL, on_start);
    gtk_widget_class_install_action(wc, "win.pause", NULL, on_pause);
    gtk_widget_class_install_action(wc, "win.resume", NULL, on_resume);
    gtk_widget_class_install_action(wc, "win.pause-resume", NULL, on_pause_resume);
    gtk_widget_class_install_action(wc, "win.shutdown", NULL, on_shutdown);
    gtk_widget_class_install_action(wc, "win.force-off", NULL, on_force_off);
    gtk_widget_class_install_action(wc, "win.reset", NULL, on_reset);
    gtk_widget_class_install_action(wc, "win.settings", NULL, on_settings);

    gtk_widget_class_add_binding_action(wc, GDK_KEY_Return, GDK_CONTROL_MASK, "win.start", NULL);
    gtk_widget_class_add_binding_action(wc, GDK_KEY_p, GDK_CONTROL_MASK, "win.pause-resume", NULL);
    gtk_widget_class_add_binding_action(wc, GDK_KEY_comma, GDK_CONTROL_MASK, "win.settings", NULL);
}
