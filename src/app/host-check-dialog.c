/* host-check-dialog.c — runs hgr_host_check_run on a worker thread (it
 * times a tiny guest, which must not freeze the window) and lists every
 * item: its level as an icon and a word, what was found, and the fix. */
#include <glib/gi18n.h>

#include "../library/host-check.h"
#include "host-check-dialog.h"
#include "windows.h"

struct _HgrHostCheckDialog {
    AdwWindow parent;
    GtkSpinner *spinner;
    GtkImage *summary_icon;
    GtkLabel *summary_label;
    GtkListBox *items_list;
    GCancellable *cancellable;   /* of the check running, to drop its result */
};

G_DEFINE_FINAL_TYPE(HgrHostCheckDialog, hgr_host_check_dialog, ADW_TYPE_WINDOW)

static const char *level_icon(HgrHostCheckLevel level)
{
    switch (level) {
    case HGR_HOST_CHECK_OK: return "emblem-ok-symbolic";
    case HGR_HOST_CHECK_WARNING: return "dialog-warning-symbolic";
    case HGR_HOST_CHECK_ERROR: return "dialog-error-symbolic";
    }
    return "dialog-question-symbolic";
}

static const char *level_word(HgrHostCheckLevel level)
{
    switch (level) {
    case HGR_HOST_CHECK_OK: return _("OK");
    case HGR_HOST_CHECK_WARNING: return _("Warning");
    case HGR_HOST_CHECK_ERROR: return _("Problem");
    }
    return "";
}

static GtkWidget *wrapped_label(const char *text, const char *css_class)
{
    GtkWidget *label = gtk_label_new(text);
    gtk_label_set_wrap(GTK_LABEL(label), TRUE);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    if (css_class)
        gtk_widget_add_css_class(label, css_class);
    return label;
}

/* One row: [icon] title / detail / "What to do: fix" (selectable, since
 * fixes carry commands to copy). */
static GtkWidget *item_row(const HgrHostCheckItem *it)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
    gtk_widget_set_margin_top(box, 12);
    gtk_widget_set_margin_bottom(box, 12);
    gtk_widget_set_margin_start(box, 12);
    gtk_widget_set_margin_end(box, 12);
    GtkWidget *icon = gtk_image_new_from_icon_name(level_icon(it->level));
    gtk_widget_set_valign(icon, GTK_ALIGN_START);
    gtk_accessible_update_property(GTK_ACCESSIBLE(icon), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   level_word(it->level), -1);
    if (it->level == HGR_HOST_CHECK_WARNING)
        gtk_widget_add_css_class(icon, "warning");
    else if (it->level == HGR_HOST_CHECK_ERROR)
        gtk_widget_add_css_class(icon, "error");
    else
        gtk_widget_add_css_class(icon, "success");
    gtk_box_append(GTK_BOX(box), icon);

    GtkWidget *text = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);
    gtk_widget_set_hexpand(text, TRUE);
    gtk_box_append(GTK_BOX(text), wrapped_label(it->title, "heading"));
    if (it->detail)
        gtk_box_append(GTK_BOX(text), wrapped_label(it->detail, "dim-label"));
    if (it->fix) {
        g_autofree char *fix = g_strdup_printf(_("What to do: %s"), it->fix);
        GtkWidget *label = wrapped_label(fix, NULL);
        gtk_label_set_selectable(GTK_LABEL(label), TRUE);
        gtk_box_append(GTK_BOX(text), label);
    }
    gtk_box_append(GTK_BOX(box), text);

    GtkWidget *row = gtk_list_box_row_new();
    gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), box);
    gtk_list_box_row_set_activatable(GTK_LIST_BOX_ROW(row), FALSE);
    g_autofree char *name = g_strdup_printf("%s: %s", level_word(it->level), it->title);
    gtk_accessible_update_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
    return row;
}

static void clear_items(HgrHostCheckDialog *self)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->items_list))))
        gtk_list_box_remove(self->items_list, child);
}

static void show_report(HgrHostCheckDialog *self, const HgrHostCheckReport *r)
{
    clear_items(self);
    for (guint i = 0; i < r->items->len; i++)
        gtk_list_box_append(self->items_list, item_row(g_ptr_array_index(r->items, i)));
    const char *summary = r->level == HGR_HOST_CHECK_OK
        ? _("This computer can run virtual machines at full speed.")
        : r->level == HGR_HOST_CHECK_WARNING
        ? _("Virtual machines can run here, with the limits below.")
        : _("Virtual machines cannot run here until the problems below are fixed.");
    gtk_label_set_label(self->summary_label, summary);
    gtk_image_set_from_icon_name(self->summary_icon, level_icon(r->level));
    gtk_widget_set_visible(GTK_WIDGET(self->summary_icon), TRUE);
    gtk_spinner_stop(self->spinner);
    gtk_widget_set_visible(GTK_WIDGET(self->spinner), FALSE);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "check.rerun", TRUE);
}

static void check_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    HgrHostCheckOptions opts = { 0 };
    g_task_return_pointer(task, hgr_host_check_run(&opts),
                          (GDestroyNotify)hgr_host_check_report_free);
}

static void check_done(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(HgrHostCheckReport) r = g_task_propagate_pointer(G_TASK(result), NULL);
    /* The window may be gone: the task holds no reference to it. */
    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result))) || !r)
        return;
    show_report(HGR_HOST_CHECK_DIALOG(data), r);
}

static void start_check(HgrHostCheckDialog *self)
{
    if (self->cancellable)
        g_cancellable_cancel(self->cancellable);
    g_clear_object(&self->cancellable);
    self->cancellable = g_cancellable_new();
    clear_items(self);
    gtk_label_set_label(self->summary_label, _("Checking this computer…"));
    gtk_widget_set_visible(GTK_WIDGET(self->summary_icon), FALSE);
    gtk_widget_set_visible(GTK_WIDGET(self->spinner), TRUE);
    gtk_spinner_start(self->spinner);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "check.rerun", FALSE);
    g_autoptr(GTask) task = g_task_new(NULL, self->cancellable, check_done, self);
    g_task_run_in_thread(task, check_thread);
}

static void rerun_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    start_check(HGR_HOST_CHECK_DIALOG(widget));
}

static void hgr_host_check_dialog_dispose(GObject *object)
{
    HgrHostCheckDialog *self = HGR_HOST_CHECK_DIALOG(object);
    if (self->cancellable)
        g_cancellable_cancel(self->cancellable);
    g_clear_object(&self->cancellable);
    G_OBJECT_CLASS(hgr_host_check_dialog_parent_class)->dispose(object);
}

static void hgr_host_check_dialog_class_init(HgrHostCheckDialogClass *klass)
{
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    G_OBJECT_CLASS(klass)->dispose = hgr_host_check_dialog_dispose;
    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/org/hangar/Hangar/host-check-dialog.ui");
    gtk_widget_class_bind_template_child(widget_class, HgrHostCheckDialog, spinner);
    gtk_widget_class_bind_template_child(widget_class, HgrHostCheckDialog, summary_icon);
    gtk_widget_class_bind_template_child(widget_class, HgrHostCheckDialog, summary_label);
    gtk_widget_class_bind_template_child(widget_class, HgrHostCheckDialog, items_list);
    gtk_widget_class_install_action(widget_class, "check.rerun", NULL, rerun_activated);
    gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void hgr_host_check_dialog_init(HgrHostCheckDialog *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
}

HgrHostCheckDialog *hgr_host_check_dialog_new(GtkWindow *parent)
{
    HgrHostCheckDialog *self = g_object_new(HGR_TYPE_HOST_CHECK_DIALOG,
                                            "transient-for", parent, NULL);
    start_check(self);
    return self;
}

void hgr_host_check_dialog_present(GtkWindow *parent)
{
    gtk_window_present(GTK_WINDOW(hgr_host_check_dialog_new(parent)));
}
