/* settings-dialog.c — the settings of an existing machine (settings-dialog.h). */
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "../library/os-templates.h"
#include "iso-chooser.h"
#include "machine-labels.h"
#include "settings-dialog.h"
#include "windows.h"

struct _HgrSettingsDialog {
    AdwPreferencesWindow parent;
    HgrMachine *machine;
    bool loading;                 /* widgets being set from the config: no apply */

    AdwPreferencesGroup *name_group;
    AdwEntryRow *name_row;
    AdwPreferencesGroup *system_group;
    GtkSpinButton *memory_spin;
    GtkSpinButton *cpus_spin;
    AdwComboRow *firmware_row;
    AdwComboRow *boot_row;
    GtkSwitch *serial_switch;
    AdwPreferencesGroup *disks_group;
    GtkListBox *disk_list;
    AdwPreferencesGroup *new_disk_group;
    GtkSpinButton *disk_size_spin;
    AdwComboRow *disk_bus_row;
    AdwPreferencesGroup *cd_group;
    AdwActionRow *cd_row;
    GtkWidget *cd_eject_button;
    AdwPreferencesGroup *network_group;
    GtkSwitch *nat_switch;
    AdwPreferencesGroup *forward_group;
    GtkListBox *forward_list;
    AdwPreferencesGroup *new_forward_group;
    AdwComboRow *protocol_row;
    GtkSpinButton *host_port_spin;
    GtkSpinButton *guest_port_spin;
};

G_DEFINE_FINAL_TYPE(HgrSettingsDialog, hgr_settings_dialog, ADW_TYPE_PREFERENCES_WINDOW)

static void load(HgrSettingsDialog *self);

static void show_error(HgrSettingsDialog *self, const char *message)
{
    AdwToast *toast = adw_toast_new(message);
    adw_toast_set_timeout(toast, 0);
    adw_preferences_window_add_toast(ADW_PREFERENCES_WINDOW(self), toast);
}

static HgrMachineConfig *config_copy(HgrSettingsDialog *self)
{
    return hgr_machine_config_copy(hgr_machine_get_config(self->machine));
}

/* Says why a change was refused: a toast, and the whole message under the
 * group whose control it was (a toast is cut to one line). */
static void show_group_error(HgrSettingsDialog *self, AdwPreferencesGroup *group,
                             const char *message)
{
    show_error(self, message);
    adw_preferences_group_set_description(group, message);
}

/* Applies c; on refusal says why (at group) and puts the controls back to
 * what is in effect. */
static bool apply(HgrSettingsDialog *self, const HgrMachineConfig *c, AdwPreferencesGroup *group)
{
    g_autoptr(GError) error = NULL;
    bool ok = hgr_machine_set_config(self->machine, c, &error);

    load(self);
    if (!ok)
        show_group_error(self, group, error->message);
    return ok;
}

/* ---- general ---- */

static void on_name_apply(AdwEntryRow *row, HgrSettingsDialog *self)
{
    g_autoptr(HgrMachineConfig) c = config_copy(self);
    g_autoptr(GError) error = NULL;
    /* A copy: load() below replaces the text this would point into. */
    g_autofree char *name = g_strdup(gtk_editable_get_text(GTK_EDITABLE(row)));

    if (!hgr_machine_name_validate(name, &error)) {
        /* Keep what was typed, so it can be corrected. */
        gtk_widget_add_css_class(GTK_WIDGET(row), "error");
        show_group_error(self, self->name_group, error->message);
        return;
    }
    g_free(c->name);
    c->name = g_strdup(name);
    if (!apply(self, c, self->name_group)) {
        /* Keep what was typed (load() put the name in effect back). */
        gtk_editable_set_text(GTK_EDITABLE(row), name);
        gtk_widget_add_css_class(GTK_WIDGET(row), "error");
        return;
    }
    gtk_widget_remove_css_class(GTK_WIDGET(row), "error");
}

static void on_system_changed(HgrSettingsDialog *self)
{
    if (self->loading)
        return;
    g_autoptr(HgrMachineConfig) c = config_copy(self);
    c->memory_mib = (uint64_t)gtk_spin_button_get_value_as_int(self->memory_spin);
    c->cpus = (unsigned)gtk_spin_button_get_value_as_int(self->cpus_spin);
    c->firmware = adw_combo_row_get_selected(self->firmware_row) == 1 ? HGR_FIRMWARE_UEFI
                                                                       : HGR_FIRMWARE_BIOS;
    switch (adw_combo_row_get_selected(self->boot_row)) {
    case 1: c->boot = HGR_BOOT_DISK; break;
    case 2: c->boot = HGR_BOOT_CDROM; break;
    default: c->boot = HGR_BOOT_DEFAULT; break;
    }
    c->serial = gtk_switch_get_active(self->serial_switch);
    bool network_changed = c->network != gtk_switch_get_active(self->nat_switch);
    c->network = gtk_switch_get_active(self->nat_switch);
    apply(self, c, network_changed ? self->network_group : self->system_group);
}

static void on_spin_changed(GtkSpinButton *spin, HgrSettingsDialog *self)
{
    on_system_changed(self);
}

static void on_notify_changed(GObject *obj, GParamSpec *pspec, HgrSettingsDialog *self)
{
    on_system_changed(self);
}

/* ---- disks ---- */

static void on_remove_disk(GtkButton *button, HgrSettingsDialog *self)
{
    guint index = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(button), "index"));
    g_autoptr(HgrMachineConfig) c = config_copy(self);

    if (!c->disks || index >= c->disks->len)
        return;
    g_ptr_array_remove_index(c->disks, index);
    apply(self, c, self->disks_group);
}

static char *disk_path_for_new(HgrSettingsDialog *self, char **basename_out)
{
    const char *dir = hgr_machine_get_dir(self->machine);
    for (unsigned i = 2;; i++) {
        g_autofree char *base = g_strdup_printf("disk%u.qcow2", i);
        g_autofree char *path = g_build_filename(dir, base, NULL);
        if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
            *basename_out = g_steal_pointer(&base);
            return g_steal_pointer(&path);
        }
    }
}

static void on_create_disk(GtkButton *button, HgrSettingsDialog *self)
{
    static const HgrDiskBus buses[] = { HGR_DISK_BUS_VIRTIO, HGR_DISK_BUS_SATA, HGR_DISK_BUS_NVME };
    g_autoptr(GError) error = NULL;
    g_autofree char *base = NULL;
    g_autofree char *path = disk_path_for_new(self, &base);
    uint64_t gib = (uint64_t)gtk_spin_button_get_value_as_int(self->disk_size_spin);
    guint bus = adw_combo_row_get_selected(self->disk_bus_row);

    if (hgr_machine_get_state(self->machine) != HGR_MACHINE_STOPPED &&
        hgr_machine_get_state(self->machine) != HGR_MACHINE_FAILED) {
        show_group_error(self, self->new_disk_group,
                         _("Shut down the virtual machine before adding a disk"));
        return;
    }
    if (!hgr_block_create(path, HGR_DISK_FORMAT_QCOW2, gib << 30, &error)) {
        show_group_error(self, self->new_disk_group, error->message);
        return;
    }
    g_autoptr(HgrMachineConfig) c = config_copy(self);
    hgr_machine_config_add_disk(c, base, HGR_DISK_FORMAT_QCOW2,
                                buses[MIN(bus, G_N_ELEMENTS(buses) - 1)]);
    /* Refused: the new image is not left behind. */
    if (!apply(self, c, self->new_disk_group))
        g_unlink(path);
}

/* ---- CD/DVD ---- */

static gboolean is_live(HgrMachine *m)
{
    HgrMachineState state = hgr_machine_get_state(m);
    return state == HGR_MACHINE_RUNNING || state == HGR_MACHINE_PAUSED;
}

static void on_live_cdrom_changed(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(HgrSettingsDialog) self = data;
    g_autoptr(GError) error = NULL;
    bool ok = hgr_machine_change_cdrom_finish(HGR_MACHINE(source), result, &error);

    load(self);
    if (!ok)
        show_group_error(self, self->cd_group, error->message);
}

static void set_cdrom(HgrSettingsDialog *self, const char *path)
{
    /* The disc is the one thing that changes while the VM runs: it goes
     * into the drive at once (and into the settings with it). */
    if (is_live(self->machine)) {
        hgr_machine_change_cdrom_async(self->machine, path, false, NULL, on_live_cdrom_changed,
                                       g_object_ref(self));
        return;
    }
    g_autoptr(HgrMachineConfig) c = config_copy(self);
    g_free(c->cdrom);
    c->cdrom = g_strdup(path);
    apply(self, c, self->cd_group);
}

static void on_iso_chosen(GtkNativeDialog *chooser, int response, HgrSettingsDialog *self)
{
    gboolean not_local;
    g_autofree char *path = hgr_iso_chooser_finish(chooser, response, &not_local);
    g_autoptr(GError) error = NULL;

    if (not_local)
        show_group_error(self, self->cd_group, _("Choose an image on a local disk"));
    if (!path)
        return;
    /* Refuse what is not an ISO 9660 image now, not at the next start.
     * (An ISO the OS database does not know is fine.) */
    g_autoptr(HgrOsTemplate) t = hgr_os_template_identify_iso(path, &error);
    if (error && g_error_matches(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA)) {
        show_group_error(self, self->cd_group, error->message);
        return;
    }
    set_cdrom(self, path);
}

static void on_cd_choose(GtkButton *button, HgrSettingsDialog *self)
{
    GtkFileChooserNative *chooser = hgr_iso_chooser_new(GTK_WINDOW(self),
                                                        _("Choose an ISO Image"), _("_Insert"));
    g_signal_connect(chooser, "response", G_CALLBACK(on_iso_chosen), self);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(chooser));
}

static void on_cd_eject(GtkButton *button, HgrSettingsDialog *self)
{
    set_cdrom(self, NULL);
}

/* ---- port forwarding ---- */

static void on_remove_forward(GtkButton *button, HgrSettingsDialog *self)
{
    guint index = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(button), "index"));
    g_autoptr(HgrMachineConfig) c = config_copy(self);

    if (!c->port_forwards || index >= c->port_forwards->len)
        return;
    g_array_remove_index(c->port_forwards, index);
    apply(self, c, self->forward_group);
}

static void on_add_forward(GtkButton *button, HgrSettingsDialog *self)
{
    g_autoptr(HgrMachineConfig) c = config_copy(self);
    hgr_machine_config_add_port_forward(c, adw_combo_row_get_selected(self->protocol_row) == 1,
        (uint16_t)gtk_spin_button_get_value_as_int(self->host_port_spin),
        (uint16_t)gtk_spin_button_get_value_as_int(self->guest_port_spin));
    apply(self, c, self->new_forward_group);
}

/* ---- config → widgets ---- */

static void clear_list(GtkListBox *list)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(list))))
        gtk_list_box_remove(list, child);
}

/* A row with a remove button that carries the item's index. */
static void add_removable(GtkListBox *list, const char *title, const char *subtitle,
                          const char *remove_label, guint index, GCallback on_remove,
                          HgrSettingsDialog *self)
{
    GtkWidget *row = adw_action_row_new();
    GtkWidget *remove = gtk_button_new_from_icon_name("user-trash-symbolic");

    adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
    if (subtitle)
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
    gtk_widget_set_valign(remove, GTK_ALIGN_CENTER);
    gtk_widget_add_css_class(remove, "flat");
    gtk_widget_set_tooltip_text(remove, remove_label);
    gtk_accessible_update_property(GTK_ACCESSIBLE(remove), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   remove_label, -1);
    g_object_set_data(G_OBJECT(remove), "index", GUINT_TO_POINTER(index));
    g_signal_connect(remove, "clicked", on_remove, self);
    adw_action_row_add_suffix(ADW_ACTION_ROW(row), remove);
    gtk_list_box_append(list, row);
}

static void load_lists(HgrSettingsDialog *self, const HgrMachineConfig *c)
{
    clear_list(self->disk_list);
    for (guint i = 0; c->disks && i < c->disks->len; i++) {
        const HgrMachineDisk *d = g_ptr_array_index(c->disks, i);
        g_autofree char *title = g_strdup_printf(_("Disk %u (%s, %s)"), i + 1,
                                                 hgr_disk_bus_label(d->bus),
                                                 hgr_disk_format_label(d->format));
        g_autofree char *remove = g_strdup_printf(_("Remove Disk %u"), i + 1);
        add_removable(self->disk_list, title, d->path, remove, i, G_CALLBACK(on_remove_disk), self);
    }
    gtk_widget_set_visible(GTK_WIDGET(self->disk_list), c->disks && c->disks->len);

    clear_list(self->forward_list);
    for (guint i = 0; c->port_forwards && i < c->port_forwards->len; i++) {
        const HgrPortForward *pf = &g_array_index(c->port_forwards, HgrPortForward, i);
        g_autofree char *rule = hgr_port_forward_label(pf);
        g_autofree char *remove = g_strdup_printf(_("Remove Rule %u"), i + 1);
        add_removable(self->forward_list, rule, NULL, remove, i, G_CALLBACK(on_remove_forward), self);
    }
    gtk_widget_set_visible(GTK_WIDGET(self->forward_list),
                           c->port_forwards && c->port_forwards->len);
}

static void load(HgrSettingsDialog *self)
{
    const HgrMachineConfig *c = hgr_machine_get_config(self->machine);
    HgrMachineState state = hgr_machine_get_state(self->machine);
    bool stopped = state == HGR_MACHINE_STOPPED || state == HGR_MACHINE_FAILED;

    self->loading = true;
    g_autofree char *title = g_strdup_printf(_("Settings of “%s”"), hgr_machine_get_name(self->machine));
    gtk_window_set_title(GTK_WINDOW(self), title);
    gtk_editable_set_text(GTK_EDITABLE(self->name_row), hgr_machine_get_name(self->machine));
    gtk_spin_button_set_value(self->memory_spin, (double)c->memory_mib);
    gtk_spin_button_set_value(self->cpus_spin, c->cpus);
    adw_combo_row_set_selected(self->firmware_row, c->firmware == HGR_FIRMWARE_UEFI ? 1 : 0);
    adw_combo_row_set_selected(self->boot_row, c->boot == HGR_BOOT_DISK ? 1
                                               : c->boot == HGR_BOOT_CDROM ? 2 : 0);
    gtk_switch_set_active(self->serial_switch, c->serial);
    gtk_switch_set_active(self->nat_switch, c->network);
    adw_action_row_set_subtitle(self->cd_row, c->cdrom ? c->cdrom : _("Empty"));
    gtk_widget_set_sensitive(self->cd_eject_button, c->cdrom != NULL);
    load_lists(self, c);

    /* While it runs only the name and the disc may change (the library
     * refuses the rest); say so instead of letting every click fail. */
    const char *busy = stopped ? NULL : _("Shut down the virtual machine to change these settings.");
    AdwPreferencesGroup *groups[] = {
        self->system_group, self->disks_group, self->new_disk_group,
        self->network_group, self->forward_group, self->new_forward_group,
    };
    for (guint i = 0; i < G_N_ELEMENTS(groups); i++)
        gtk_widget_set_sensitive(GTK_WIDGET(groups[i]), stopped);
    adw_preferences_group_set_description(self->system_group, busy);
    adw_preferences_group_set_description(self->cd_group, stopped ? NULL
        : _("The disc changes in the running virtual machine at once, as in a real drive."));
    adw_preferences_group_set_description(self->network_group, busy);
    adw_preferences_group_set_description(self->disks_group,
        busy ? busy : _("Removing a disk here keeps its image file."));
    adw_preferences_group_set_description(self->name_group, NULL);
    adw_preferences_group_set_description(self->new_disk_group, NULL);
    adw_preferences_group_set_description(self->new_forward_group, NULL);
    adw_preferences_group_set_description(self->forward_group,
        _("Connections to a port of this computer (127.0.0.1) reach a port of the guest."));
    self->loading = false;
}

static void on_machine_notify(HgrMachine *m, GParamSpec *pspec, HgrSettingsDialog *self)
{
    load(self);
}

static void hgr_settings_dialog_dispose(GObject *obj)
{
    HgrSettingsDialog *self = HGR_SETTINGS_DIALOG(obj);
    if (self->machine)
        g_signal_handlers_disconnect_by_data(self->machine, self);
    g_clear_object(&self->machine);
    gtk_widget_dispose_template(GTK_WIDGET(self), HGR_TYPE_SETTINGS_DIALOG);
    G_OBJECT_CLASS(hgr_settings_dialog_parent_class)->dispose(obj);
}

#define BIND(name) gtk_widget_class_bind_template_child(wc, HgrSettingsDialog, name)

static void hgr_settings_dialog_class_init(HgrSettingsDialogClass *klass)
{
    GtkWidgetClass *wc = GTK_WIDGET_CLASS(klass);

    G_OBJECT_CLASS(klass)->dispose = hgr_settings_dialog_dispose;
    gtk_widget_class_set_template_from_resource(wc, "/org/hangar/Hangar/settings-dialog.ui");
    BIND(name_group);
    BIND(name_row);
    BIND(system_group);
    BIND(memory_spin);
    BIND(cpus_spin);
    BIND(firmware_row);
    BIND(boot_row);
    BIND(serial_switch);
    BIND(disks_group);
    BIND(disk_list);
    BIND(new_disk_group);
    BIND(disk_size_spin);
    BIND(disk_bus_row);
    BIND(cd_group);
    BIND(cd_row);
    BIND(cd_eject_button);
    BIND(network_group);
    BIND(nat_switch);
    BIND(forward_group);
    BIND(forward_list);
    BIND(new_forward_group);
    BIND(protocol_row);
    BIND(host_port_spin);
    BIND(guest_port_spin);
    gtk_widget_class_bind_template_callback(wc, on_name_apply);
    gtk_widget_class_bind_template_callback(wc, on_spin_changed);
    gtk_widget_class_bind_template_callback(wc, on_notify_changed);
    gtk_widget_class_bind_template_callback(wc, on_create_disk);
    gtk_widget_class_bind_template_callback(wc, on_cd_choose);
    gtk_widget_class_bind_template_callback(wc, on_cd_eject);
    gtk_widget_class_bind_template_callback(wc, on_add_forward);
    gtk_widget_class_add_binding_action(wc, GDK_KEY_Escape, 0, "window.close", NULL);
}

/* libadwaita 1.2 builds a search entry into every preferences window and
 * names it nothing; search is off here, but screen readers still list it. */
static void name_search_entries(GtkWidget *w)
{
    if (GTK_IS_SEARCH_ENTRY(w))
        gtk_accessible_update_property(GTK_ACCESSIBLE(w), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("Search Settings"), -1);
    for (GtkWidget *c = gtk_widget_get_first_child(w); c; c = gtk_widget_get_next_sibling(c))
        name_search_entries(c);
}

static void hgr_settings_dialog_init(HgrSettingsDialog *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    name_search_entries(GTK_WIDGET(self));
}

GtkWidget *hgr_settings_dialog_new(GtkWindow *parent, HgrMachine *m)
{
    HgrSettingsDialog *self = g_object_new(HGR_TYPE_SETTINGS_DIALOG,
                                           "transient-for", parent, NULL);
    self->machine = g_object_ref(m);
    load(self);
    g_signal_connect(m, "notify", G_CALLBACK(on_machine_notify), self);
    return GTK_WIDGET(self);
}

void hgr_settings_dialog_present(GtkWindow *parent, HgrMachine *m)
{
    gtk_window_present(GTK_WINDOW(hgr_settings_dialog_new(parent, m)));
}
