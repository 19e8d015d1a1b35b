/* machine-row.c — one machine in the manager window's list (machine-row.h). */
#include <glib/gi18n.h>

#include "machine-labels.h"
#include "machine-row.h"
#include "vm-preview.h"

struct _HgrMachineRow {
    GtkListBoxRow parent;
    HgrMachine *machine;
    HgrVmPreview *preview;
    GtkLabel *name_label;
    GtkImage *os_icon;
    GtkLabel *os_label;
    GtkLabel *state_label;
};

G_DEFINE_FINAL_TYPE(HgrMachineRow, hgr_machine_row, GTK_TYPE_LIST_BOX_ROW)

static void update(HgrMachineRow *self)
{
    HgrMachine *m = self->machine;
    const HgrMachineConfig *c = hgr_machine_get_config(m);
    HgrMachineState state = hgr_machine_get_state(m);
    const char *state_text = hgr_machine_state_label(state);
    g_autofree char *elsewhere = NULL;

    /* A VM that `hangarctl start` runs shows up as running, but its
     * screen and console are in that process. */
    if ((state == HGR_MACHINE_RUNNING || state == HGR_MACHINE_PAUSED) &&
        !hgr_machine_is_running_here(m))
        state_text = elsewhere = g_strdup_printf(_("%s (in another process)"), state_text);
    /* An action under way says so until the machine has answered. */
    HgrMachineAction pending;
    if (hgr_machine_get_pending_action(m, &pending))
        state_text = hgr_machine_action_progress_label(pending);

    gtk_label_set_label(self->name_label, hgr_machine_get_name(m));
    gtk_label_set_label(self->os_label, hgr_machine_os_label(c));
    gtk_image_set_from_icon_name(self->os_icon, hgr_machine_os_icon(c ? c->os_id : NULL));
    gtk_label_set_label(self->state_label, state_text);
    gtk_widget_remove_css_class(GTK_WIDGET(self->state_label), "success");
    gtk_widget_remove_css_class(GTK_WIDGET(self->state_label), "error");
    gtk_widget_remove_css_class(GTK_WIDGET(self->state_label), "dim-label");
    gtk_widget_add_css_class(GTK_WIDGET(self->state_label),
                             state == HGR_MACHINE_RUNNING ? "success"
                             : state == HGR_MACHINE_FAILED ? "error" : "dim-label");

    /* What a screen reader (and the GUI tests) read for the row. */
    g_autofree char *a11y = g_strdup_printf("%s, %s", hgr_machine_get_name(m), state_text);
    gtk_accessible_update_property(GTK_ACCESSIBLE(self), GTK_ACCESSIBLE_PROPERTY_LABEL, a11y, -1);
}

static void on_notify(HgrMachine *m, GParamSpec *pspec, HgrMachineRow *self)
{
    update(self);
}

HgrMachine *hgr_machine_row_get_machine(HgrMachineRow *self)
{
    return self->machine;
}

static void hgr_machine_row_dispose(GObject *obj)
{
    HgrMachineRow *self = HGR_MACHINE_ROW(obj);
    if (self->machine)
        g_signal_handlers_disconnect_by_data(self->machine, self);
    g_clear_object(&self->machine);
    gtk_widget_dispose_template(GTK_WIDGET(self), HGR_TYPE_MACHINE_ROW);
    G_OBJECT_CLASS(hgr_machine_row_parent_class)->dispose(obj);
}

static void hgr_machine_row_class_init(HgrMachineRowClass *klass)
{
    GtkWidgetClass *wc = GTK_WIDGET_CLASS(klass);

    G_OBJECT_CLASS(klass)->dispose = hgr_machine_row_dispose;
    g_type_ensure(HGR_TYPE_VM_PREVIEW);
    gtk_widget_class_set_template_from_resource(wc, "/org/hangar/Hangar/machine-row.ui");
    gtk_widget_class_bind_template_child(wc, HgrMachineRow, preview);
    gtk_widget_class_bind_template_child(wc, HgrMachineRow, name_label);
    gtk_widget_class_bind_template_child(wc, HgrMachineRow, os_icon);
    gtk_widget_class_bind_template_child(wc, HgrMachineRow, os_label);
    gtk_widget_class_bind_template_child(wc, HgrMachineRow, state_label);
}

static void hgr_machine_row_init(HgrMachineRow *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
}

GtkWidget *hgr_machine_row_new(HgrMachine *m)
{
    HgrMachineRow *self = g_object_new(HGR_TYPE_MACHINE_ROW, NULL);

    self->machine = g_object_ref(m);
    hgr_vm_preview_set_machine(self->preview, m);
    g_signal_connect(m, "notify", G_CALLBACK(on_notify), self);
    update(self);
    return GTK_WIDGET(self);
}
