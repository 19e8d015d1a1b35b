/* vm-window-actions.c — the VM window's actions (win.*), installed on the
 * class: the header bar's buttons and menu name them. */
#include <glib/gi18n.h>
#include <linux/input-event-codes.h>

#include "vm-window-private.h"

/* One action under way: the window may close before the other process
 * answers, so it is held weakly. */
typedef struct {
    GWeakRef window;
    HgrMachineAction action;
    const char *heading;          /* translated, static */
    gboolean close_after;         /* the close dialog chose it */
} Act;

static void on_act_done(GObject *source, GAsyncResult *result, gpointer data)
{
    Act *act = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrVmWindow) win = g_weak_ref_get(&act->window);
    gboolean ok = hgr_machine_act_finish(HGR_MACHINE(source), result, &error);

    if (win && !ok) {
        /* A refusal is shown, never only logged. */
        hgr_vm_window_error(win, act->heading, error->message);
    } else if (win && act->close_after) {
        hgr_vm_window_close_for_good(win);
    } else if (win && act->action == HGR_MACHINE_ACTION_SHUTDOWN) {
        hgr_vm_window_toast(win, _("The guest was asked to shut down. If it does not, use Force Off."));
    }
    if (win)
        hgr_vm_window_update_actions(win);
    g_weak_ref_clear(&act->window);
    g_free(act);
}

/* Runs action on the machine without waiting: a VM running in another
 * process that hangs must not freeze this window. */
static void act(HgrVmWindow *win, HgrMachineAction action, const char *heading,
                gboolean close_after)
{
    Act *a = g_new0(Act, 1);

    g_weak_ref_init(&a->window, win);
    a->action = action;
    a->heading = heading;
    a->close_after = close_after;
    hgr_machine_act_async(win->machine, action, NULL, on_act_done, a);
}

static void start_activated(GtkWidget *widget, const char *name, GVariant *param)
{
    hgr_vm_window_start(HGR_VM_WINDOW(widget));
}

static void pause_activated(GtkWidget *widget, const char *name, GVariant *param)
{
    HgrVmWindow *win = HGR_VM_WINDOW(widget);

    if (hgr_machine_get_state(win->machine) == HGR_MACHINE_PAUSED)
        act(win, HGR_MACHINE_ACTION_RESUME, _("Cannot Resume"), FALSE);
    else
        act(win, HGR_MACHINE_ACTION_PAUSE, _("Cannot Pause"), FALSE);
}

static void shutdown_activated(GtkWidget *widget, const char *name, GVariant *param)
{
    act(HGR_VM_WINDOW(widget), HGR_MACHINE_ACTION_SHUTDOWN, _("Cannot Shut Down"), FALSE);
}

static void force_off_activated(GtkWidget *widget, const char *name, GVariant *param)
{
    act(HGR_VM_WINDOW(widget), HGR_MACHINE_ACTION_FORCE_OFF, _("Cannot Force Off"), FALSE);
}

static void reset_activated(GtkWidget *widget, const char *name, GVariant *param)
{
    act(HGR_VM_WINDOW(widget), HGR_MACHINE_ACTION_RESET, _("Cannot Reset"), FALSE);
}

static void send_cad_activated(GtkWidget *widget, const char *name, GVariant *param)
{
    static const unsigned cad[] = { KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE };

    hgr_display_view_send_combo(HGR_VM_WINDOW(widget)->display, cad, G_N_ELEMENTS(cad));
}

void hgr_vm_window_class_add_actions(GtkWidgetClass *widget_class)
{
    gtk_widget_class_install_action(widget_class, "win.start", NULL, start_activated);
    gtk_widget_class_install_action(widget_class, "win.pause", NULL, pause_activated);
    gtk_widget_class_install_action(widget_class, "win.shutdown", NULL, shutdown_activated);
    gtk_widget_class_install_action(widget_class, "win.force-off", NULL, force_off_activated);
    gtk_widget_class_install_action(widget_class, "win.reset", NULL, reset_activated);
    gtk_widget_class_install_action(widget_class, "win.send-cad", NULL, send_cad_activated);
    gtk_widget_class_install_property_action(widget_class, "win.fullscreen", "fullscreened");
    gtk_widget_class_install_property_action(widget_class, "win.scale", "scale-to-fit");
    gtk_widget_class_add_binding_action(widget_class, GDK_KEY_F11, 0, "win.fullscreen", NULL);
}

void hgr_vm_window_update_actions(HgrVmWindow *win)
{
    HgrMachineState state = hgr_machine_get_state(win->machine);
    gboolean live = state == HGR_MACHINE_RUNNING || state == HGR_MACHINE_PAUSED;
    gboolean here = hgr_machine_is_running_here(win->machine);
    /* An action under way (here or from the manager window): nothing else
     * may change the state until it is answered. */
    gboolean idle = !hgr_machine_is_busy(win->machine);
    GtkWidget *w = GTK_WIDGET(win);

    gtk_widget_action_set_enabled(w, "win.start", idle && !live);
    gtk_widget_action_set_enabled(w, "win.pause", idle && live);
    gtk_widget_action_set_enabled(w, "win.shutdown", idle && state == HGR_MACHINE_RUNNING);
    gtk_widget_action_set_enabled(w, "win.force-off", idle && live);
    gtk_widget_action_set_enabled(w, "win.reset", idle && live);
    gtk_widget_action_set_enabled(w, "win.send-cad", state == HGR_MACHINE_RUNNING && here);
    hgr_vm_window_update_media_actions(win);
}

static void on_close_response(AdwMessageDialog *dialog, const char *response, gpointer data)
{
    HgrVmWindow *win = data;

    HgrMachineState state = hgr_machine_get_state(win->machine);

    if (g_str_equal(response, "cancel"))
        return;
    /* The VM may have stopped while the question was up: just close. */
    if (state != HGR_MACHINE_RUNNING && state != HGR_MACHINE_PAUSED) {
        hgr_vm_window_close_for_good(win);
        return;
    }
    /* The window goes once the VM has taken the order; a refusal keeps it
     * (and is shown). */
    if (g_str_equal(response, "shutdown")) {
        act(win, HGR_MACHINE_ACTION_SHUTDOWN, _("Cannot Shut Down"), TRUE);
        return;
    }
    if (g_str_equal(response, "force-off")) {
        act(win, HGR_MACHINE_ACTION_FORCE_OFF, _("Cannot Force Off"), TRUE);
        return;
    }
    /* "keep": the VM runs on in Hangar; the manager window shows it. */
    hgr_vm_window_close_for_good(win);
}

void hgr_vm_window_ask_close(HgrVmWindow *win)
{
    g_autofree char *heading = g_strdup_printf(_("“%s” Is Running"),
                                               hgr_machine_get_name(win->machine));
    GtkWidget *w = adw_message_dialog_new(GTK_WINDOW(win), heading,
        _("Closing the window does not stop the virtual machine. What should happen to it?"));
    AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG(w);

    adw_message_dialog_add_responses(dialog,
                                     "cancel", _("_Cancel"),
                                     "keep", _("_Keep Running"),
                                     "force-off", _("_Force Off"),
                                     "shutdown", _("_Shut Down"),
                                     NULL);
    adw_message_dialog_set_response_appearance(dialog, "force-off", ADW_RESPONSE_DESTRUCTIVE);
    adw_message_dialog_set_response_appearance(dialog, "shutdown", ADW_RESPONSE_SUGGESTED);
    adw_message_dialog_set_default_response(dialog, "shutdown");
    adw_message_dialog_set_close_response(dialog, "cancel");
    g_signal_connect(dialog, "response", G_CALLBACK(on_close_response), win);
    gtk_window_present(GTK_WINDOW(dialog));
}
