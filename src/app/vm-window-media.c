/* vm-window-media.c — the VM window's CD/DVD menu: a disc image put in
 * the running VM's drive (win.cd-insert, through a file chooser) or taken
 * out (win.cd-eject). The machine runs here or in another process; either
 * way nothing here waits for it. */
#include <glib/gi18n.h>

#include "iso-chooser.h"
#include "vm-window-private.h"

/* One change under way: the window may close before the VM answers. */
typedef struct {
    GWeakRef window;
    char *iso;                    /* NULL: eject */
    gboolean force;
} Change;

static void change_free(Change *c)
{
    g_weak_ref_clear(&c->window);
    g_free(c->iso);
    g_free(c);
}

static void on_force_response(AdwMessageDialog *dialog, const char *response, gpointer data)
{
    Change *c = data;
    g_autoptr(HgrVmWindow) win = g_weak_ref_get(&c->window);

    if (win && g_str_equal(response, "force"))
        hgr_vm_window_change_disc(win, c->iso, TRUE);
}

/* The guest's system has locked the drive (it uses the disc): taking the
 * disc away may upset it, so the user decides. */
static void ask_force(HgrVmWindow *win, Change *c, const char *message)
{
    GtkWidget *w = adw_message_dialog_new(GTK_WINDOW(win), _("The Drive Is Locked"), message);
    AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG(w);
    Change *again = g_new0(Change, 1);

    g_weak_ref_init(&again->window, win);
    again->iso = g_strdup(c->iso);
    adw_message_dialog_add_responses(dialog, "cancel", _("_Cancel"), "force",
                                     c->iso ? _("_Change Anyway") : _("_Eject Anyway"), NULL);
    adw_message_dialog_set_response_appearance(dialog, "force", ADW_RESPONSE_DESTRUCTIVE);
    adw_message_dialog_set_close_response(dialog, "cancel");
    g_signal_connect_data(dialog, "response", G_CALLBACK(on_force_response), again,
                          (GClosureNotify)(void (*)(void))change_free, 0);
    gtk_window_present(GTK_WINDOW(dialog));
}

static void on_changed(GObject *source, GAsyncResult *result, gpointer data)
{
    Change *c = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrVmWindow) win = g_weak_ref_get(&c->window);
    gboolean ok = hgr_machine_change_cdrom_finish(HGR_MACHINE(source), result, &error);

    if (win && !ok && !c->force
        && g_error_matches(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA_LOCKED)) {
        ask_force(win, c, error->message);
    } else if (win && !ok) {
        hgr_vm_window_error(win, c->iso ? _("Cannot Change the Disc") : _("Cannot Eject the Disc"),
                            error->message);
    } else if (win) {
        g_autofree char *name = c->iso ? g_path_get_basename(c->iso) : NULL;
        g_autofree char *text = name ? g_strdup_printf(_("“%s” is in the CD/DVD drive"), name)
                                     : g_strdup(_("The CD/DVD drive is empty"));
        hgr_vm_window_toast(win, text);
    }
    if (win)
        hgr_vm_window_update_actions(win);
    change_free(c);
}

void hgr_vm_window_change_disc(HgrVmWindow *win, const char *iso, gboolean force)
{
    Change *c = g_new0(Change, 1);

    g_weak_ref_init(&c->window, win);
    c->iso = g_strdup(iso);
    c->force = force;
    hgr_machine_change_cdrom_async(win->machine, iso, force, NULL, on_changed, c);
}

static void on_iso_chosen(GtkNativeDialog *chooser, int response, gpointer data)
{
    HgrVmWindow *win = data;
    gboolean not_local;
    g_autofree char *path = hgr_iso_chooser_finish(chooser, response, &not_local);

    if (not_local)
        hgr_vm_window_error(win, _("Cannot Change the Disc"),
                            _("Choose a disc image on a local disk"));
    if (path)
        hgr_vm_window_change_disc(win, path, FALSE);
}

static void cd_insert_activated(GtkWidget *widget, const char *name, GVariant *param)
{
    GtkFileChooserNative *chooser =
        hgr_iso_chooser_new(GTK_WINDOW(widget), _("Choose a Disc Image"), _("_Insert"));

    /* Disconnected if the window goes first. */
    g_signal_connect_object(chooser, "response", G_CALLBACK(on_iso_chosen), widget, 0);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(chooser));
}

static void cd_eject_activated(GtkWidget *widget, const char *name, GVariant *param)
{
    hgr_vm_window_change_disc(HGR_VM_WINDOW(widget), NULL, FALSE);
}

void hgr_vm_window_class_add_media_actions(GtkWidgetClass *widget_class)
{
    gtk_widget_class_install_action(widget_class, "win.cd-insert", NULL, cd_insert_activated);
    gtk_widget_class_install_action(widget_class, "win.cd-eject", NULL, cd_eject_activated);
}

void hgr_vm_window_update_media_actions(HgrVmWindow *win)
{
    HgrMachineState state = hgr_machine_get_state(win->machine);
    gboolean live = state == HGR_MACHINE_RUNNING || state == HGR_MACHINE_PAUSED;
    HgrVm *vm = hgr_machine_get_vm(win->machine);
    /* The library gives every machine a drive; a VM running here says. */
    gboolean drive = live && (!vm || hgr_vm_has_cdrom_drive(vm));
    const char *iso = hgr_machine_get_config(win->machine)->cdrom;
    GtkWidget *w = GTK_WIDGET(win);
    g_autofree char *name = iso ? g_path_get_basename(iso) : NULL;
    g_autofree char *tip = name ? g_strdup_printf(_("CD/DVD drive: %s"), name)
                                : g_strdup(_("CD/DVD drive: empty"));

    gtk_widget_action_set_enabled(w, "win.cd-insert", drive);
    gtk_widget_action_set_enabled(w, "win.cd-eject", drive && iso);
    gtk_widget_set_sensitive(win->cd_button, drive);
    gtk_widget_set_tooltip_text(win->cd_button, drive ? tip : _("CD/DVD drive (while the VM runs)"));
}
