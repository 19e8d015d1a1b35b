/* machine-details.c — the manager window's details pane (machine-details.h). */
#include <glib/gi18n.h>

#include "machine-details.h"
#include "machine-labels.h"
#include "vm-preview.h"

struct _HgrMachineDetails {
    AdwBin parent;
    HgrMachine *machine;
    HgrVmPreview *preview;
    GtkLabel *title_label;
    GtkImage *os_icon;
    GtkLabel *os_label;
    GtkLabel *state_label;
    AdwActionRow *memory_row;
    AdwActionRow *cpus_row;
    AdwActionRow *firmware_row;
    AdwActionRow *boot_row;
    AdwActionRow *serial_row;
    AdwActionRow *resolution_row;
    GtkListBox *storage_list;
    GtkListBox *network_list;
};

G_DEFINE_FINAL_TYPE(HgrMachineDetails, hgr_machine_details, ADW_TYPE_BIN)

static void clear_list(GtkListBox *list)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(list))))
        gtk_list_box_remove(list, child);
}

static void add_row(GtkListBox *list, const char *icon, const char *title, const char *subtitle)
{
    GtkWidget *row = adw_action_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
    adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle ? subtitle : "");
    /* Paths and port rules are for copying, not for markup. */
    adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
    if (icon)
        adw_action_row_set_icon_name(ADW_ACTION_ROW(row), icon);
    gtk_list_box_append(list, row);
}

static void set_value(AdwActionRow *row, const char *value)
{
    adw_action_row_set_subtitle(row, value);
}

static const char *boot_label(HgrBootDevice boot)
{
    switch (boot) {
    case HGR_BOOT_DISK: return _("Hard disk first");
    case HGR_BOOT_CDROM: return _("CD/DVD first");
    case HGR_BOOT_DEFAULT: break;
    }
    return _("Firmware default (disks, then CD/DVD)");
}

static void fill_storage(HgrMachineDetails *self, const HgrMachineConfig *c)
{
    clear_list(self->storage_list);
    for (guint i = 0; c->disks && i < c->disks->len; i++) {
        const HgrMachineDisk *d = g_ptr_array_index(c->disks, i);
        /* Translators: "Disk 1 (SATA, qcow2 image)" */
        g_autofree char *title = g_strdup_printf(_("Disk %u (%s, %s)"), i + 1,
                                                 hgr_disk_bus_label(d->bus),
                                                 hgr_disk_format_label(d->format));
        add_row(self->storage_list, "drive-harddisk-symbolic", title, d->path);
    }
    add_row(self->storage_list, "media-optical-symbolic", _("CD/DVD Drive"),
            c->cdrom ? c->cdrom : _("Empty"));
}

static void fill_network(HgrMachineDetails *self, const HgrMachineConfig *c)
{
    clear_list(self->network_list);
    if (!c->network) {
        add_row(self->network_list, "network-offline-symbolic", _("Not connected"), NULL);
        return;
    }
    add_row(self->network_list, "network-wired-symbolic", _("NAT"),
            _("The guest reaches the network through the host"));
    for (guint i = 0; c->port_forwards && i < c->port_forwards->len; i++) {
        const HgrPortForward *pf = &g_array_index(c->port_forwards, HgrPortForward, i);
        g_autofree char *rule = hgr_port_forward_label(pf);
        add_row(self->network_list, "network-transmit-receive-symbolic", _("Port Forwarding"),
                rule);
    }
}

static void update_state(HgrMachineDetails *self)
{
    HgrMachine *m = self->machine;
    if (!m)
        return;
    HgrMachineState state = hgr_machine_get_state(m);
    g_autofree char *text = NULL;

    if (state == HGR_MACHINE_FAILED && hgr_machine_get_failure(m))
        text = g_strdup_printf(_("Failed: %s"), hgr_machine_get_failure(m));
    else if ((state == HGR_MACHINE_RUNNING || state == HGR_MACHINE_PAUSED) &&
             !hgr_machine_is_running_here(m))
        text = g_strdup_printf(_("%s in another process (hangarctl)"),
                               hgr_machine_state_label(state));
    else
        text = g_strdup(hgr_machine_state_label(state));
    HgrMachineAction pending;
    if (hgr_machine_get_pending_action(m, &pending)) {
        g_free(text);
        text = g_strdup(hgr_machine_action_progress_label(pending));
    }
    gtk_label_set_label(self->state_label, text);
}

static void update_resolution(HgrMachineDetails *self)
{
    const char *res = hgr_vm_preview_get_resolution(self->preview);
    set_value(self->resolution_row, res ? res : _("Not running"));
}

void hgr_machine_details_refresh(HgrMachineDetails *self)
{
    HgrMachine *m = self->machine;
    if (!m)
        return;
    const HgrMachineConfig *c = hgr_machine_get_config(m);
    g_autofree char *memory = hgr_memory_label(c->memory_mib);
    g_autofree char *cpus = g_strdup_printf("%u", c->cpus);

    gtk_label_set_label(self->title_label, hgr_machine_get_name(m));
    gtk_label_set_label(self->os_label, hgr_machine_os_label(c));
    gtk_image_set_from_icon_name(self->os_icon, hgr_machine_os_icon(c->os_id));
    set_value(self->memory_row, memory);
    set_value(self->cpus_row, cpus);
    set_value(self->firmware_row, hgr_firmware_label(c->firmware));
    set_value(self->boot_row, boot_label(c->boot));
    set_value(self->serial_row, c->serial ? _("Enabled") : _("Disabled"));
    fill_storage(self, c);
    fill_network(self, c);
    update_state(self);
    update_resolution(self);
}

static void on_machine_notify(HgrMachine *m, GParamSpec *pspec, HgrMachineDetails *self)
{
    /* A rename or a state change: the config may have changed with it. */
    hgr_machine_details_refresh(self);
}

static void on_resolution(HgrVmPreview *p, GParamSpec *pspec, HgrMachineDetails *self)
{
    update_resolution(self);
}

void hgr_machine_details_set_machine(HgrMachineDetails *self, HgrMachine *m)
{
    if (self->machine == m)
        return;
    if (self->machine)
        g_signal_handlers_disconnect_by_data(self->machine, self);
    g_set_object(&self->machine, m);
    hgr_vm_preview_set_machine(self->preview, m);
    if (m) {
        g_signal_connect(m, "notify", G_CALLBACK(on_machine_notify), self);
        hgr_machine_details_refresh(self);
    }
}

static void hgr_machine_details_dispose(GObject *obj)
{
    HgrMachineDetails *self = HGR_MACHINE_DETAILS(obj);
    if (self->machine)
        g_signal_handlers_disconnect_by_data(self->machine, self);
    g_clear_object(&self->machine);
    gtk_widget_dispose_template(GTK_WIDGET(self), HGR_TYPE_MACHINE_DETAILS);
    G_OBJECT_CLASS(hgr_machine_details_parent_class)->dispose(obj);
}

static void hgr_machine_details_class_init(HgrMachineDetailsClass *klass)
{
    GtkWidgetClass *wc = GTK_WIDGET_CLASS(klass);

    G_OBJECT_CLASS(klass)->dispose = hgr_machine_details_dispose;
    g_type_ensure(HGR_TYPE_VM_PREVIEW);
    gtk_widget_class_set_template_from_resource(wc, "/org/hangar/Hangar/machine-details.ui");
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, preview);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, title_label);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, os_icon);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, os_label);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, state_label);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, memory_row);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, cpus_row);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, firmware_row);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, boot_row);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, serial_row);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, resolution_row);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, storage_list);
    gtk_widget_class_bind_template_child(wc, HgrMachineDetails, network_list);
}

static void hgr_machine_details_init(HgrMachineDetails *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    g_signal_connect(self->preview, "notify::resolution", G_CALLBACK(on_resolution), self);
}

GtkWidget *hgr_machine_details_new(void)
{
    return g_object_new(HGR_TYPE_MACHINE_DETAILS, NULL);
}
