/* new-vm-wizard.c — three pages on a GtkStack: name and media, resources,
 * summary. Create works from any page once the name is usable and the ISO
 * (if any) is an ISO; every refusal is shown in the window.
 *
 * Slow work runs on worker threads: loading the OS database (the template
 * list), identifying an ISO, and the host check (it times a guest). Their
 * results come back tagged with a generation number or a cancellable so a
 * stale answer, or one for a closed window, is dropped.
 */
#include <glib/gi18n.h>
#include <unistd.h>

#include "../library/host-check.h"
#include "../library/os-templates.h"
#include "machine-labels.h"
#include "new-vm-wizard.h"
#include "windows.h"

#define GIB (UINT64_C(1) << 30)

static const char *const pages[] = { "media", "resources", "summary" };

struct _HgrNewVmWizard {
    AdwWindow parent;

    AdwToastOverlay *toasts;
    GtkRevealer *error_revealer;
    GtkLabel *error_label;
    GtkStack *stack;
    AdwWindowTitle *window_title;
    GtkButton *create_button;
    GtkEntry *name_entry;
    GtkLabel *name_status;
    GtkEntry *iso_entry;
    GtkLabel *media_status;
    GtkLabel *os_label;
    GtkSearchEntry *template_search;
    GtkListBox *template_list;
    GtkLabel *host_hint;
    GtkSpinButton *memory_spin;
    GtkSpinButton *cpus_spin;
    GtkSpinButton *disk_spin;
    GtkDropDown *firmware_dropdown;
    GtkDropDown *bus_dropdown;
    GtkLabel *resources_hint;
    GtkLabel *summary_label;
    GtkBox *limitations_box;
    GtkBox *host_box;

    HgrLibrary *lib;
    GCancellable *cancellable;     /* every worker of this window */
    GPtrArray *templates;          /* of HgrOsTemplate *, NULL until loaded */
    HgrOsTemplate *iso_template;   /* what the ISO was identified as, or NULL */
    HgrOsTemplate *generic;        /* for an unknown ISO and no choice */
    const HgrOsTemplate *current;  /* the template the VM is made from */
    guint iso_generation;          /* bumped on each ISO path change */
    bool iso_pending;              /* identification of the current path running */
    char *iso_error;               /* why the current path is not usable, or NULL */
    char *auto_name;               /* the name we filled in; the user's own wins */
    bool selecting;                /* we, not the user, are selecting a row */
    HgrHostCheckReport *host;
    bool creating;
};

G_DEFINE_FINAL_TYPE(HgrNewVmWizard, hgr_new_vm_wizard, ADW_TYPE_WINDOW)

/* For an ISO libosinfo does not know and no template chosen: what boots
 * anything, under a translated name. */
static HgrOsTemplate *generic_template(void)
{
    HgrOsTemplate *t = hgr_os_template_generic();
    g_free(t->name);
    t->name = g_strdup(_("Other 64-bit operating system"));
    return t;
}

static const char *firmware_label(HgrFirmware f)
{
    return f == HGR_FIRMWARE_UEFI ? _("UEFI") : _("BIOS");
}

static const char *bus_label(HgrDiskBus b)
{
    switch (b) {
    case HGR_DISK_BUS_VIRTIO: return _("VirtIO");
    case HGR_DISK_BUS_SATA: return _("SATA");
    case HGR_DISK_BUS_NVME: return _("NVMe");
    }
    return "";
}

/* The dropdowns list BIOS, UEFI and VirtIO, SATA, NVMe in enum order. */
static HgrFirmware chosen_firmware(HgrNewVmWizard *self)
{
    return gtk_drop_down_get_selected(self->firmware_dropdown) == 1 ? HGR_FIRMWARE_UEFI
                                                                    : HGR_FIRMWARE_BIOS;
}

static HgrDiskBus chosen_bus(HgrNewVmWizard *self)
{
    return (HgrDiskBus)gtk_drop_down_get_selected(self->bus_dropdown);
}

static void show_error(HgrNewVmWizard *self, const char *message)
{
    gtk_label_set_label(self->error_label, message ? message : "");
    gtk_revealer_set_reveal_child(self->error_revealer, message != NULL);
    if (message)
        adw_toast_overlay_add_toast(self->toasts, adw_toast_new(message));
}

/* ---- validity: what Create needs ---------------------------------------- */

static bool check_name(HgrNewVmWizard *self, char **why)
{
    const char *name = gtk_editable_get_text(GTK_EDITABLE(self->name_entry));
    g_autoptr(GError) error = NULL;
    if (!*name) {
        *why = g_strdup(_("Give the machine a name."));
        return false;
    }
    if (!hgr_library_check_new_name(self->lib, name, &error)) {
        *why = g_strdup(error->message);
        return false;
    }
    return true;
}

static void update_create(HgrNewVmWizard *self)
{
    g_autofree char *why = NULL;
    bool name_ok = check_name(self, &why);
    const char *name = gtk_editable_get_text(GTK_EDITABLE(self->name_entry));
    /* An empty name is not yet an error worth red text. */
    gtk_label_set_label(self->name_status, why ? why : "");
    gtk_widget_set_visible(GTK_WIDGET(self->name_status), !name_ok && *name);
    bool ok = name_ok && !self->iso_pending && !self->iso_error && self->current &&
              !self->creating;
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "wizard.create", ok);
}

/* ---- the template in use -------------------------------------------------- */

/* A free name: the OS name, or "Name 2", "Name 3"... when taken. */
static char *free_name(HgrNewVmWizard *self, const char *base)
{
    for (int i = 1; i < 100; i++) {
        g_autofree char *name = i == 1 ? g_strdup(base) : g_strdup_printf("%s %d", base, i);
        if (hgr_library_check_new_name(self->lib, name, NULL))
            return g_steal_pointer(&name);
    }
    return g_strdup(base);
}

static void use_template(HgrNewVmWizard *self, const HgrOsTemplate *t, const char *source)
{
    self->current = t;
    g_autofree char *os = g_strdup_printf("%s (%s)", t->name, source);
    gtk_label_set_label(self->os_label, os);

    gtk_spin_button_set_value(self->memory_spin, (double)t->memory_mib);
    gtk_spin_button_set_value(self->cpus_spin, t->cpus);
    gtk_spin_button_set_value(self->disk_spin, (double)(t->disk_bytes / GIB));
    gtk_drop_down_set_selected(self->firmware_dropdown, t->firmware == HGR_FIRMWARE_UEFI);
    gtk_drop_down_set_selected(self->bus_dropdown, (guint)t->disk_bus);
    /* Whole sentences with plain %u (G_GUINT64_FORMAT would cut the msgid
     * in two for xgettext, and a translator cannot reorder fragments). */
    g_autofree char *hint = g_strdup_printf(
        _("Recommended for %s: %u MiB of memory, %u CPUs, a %u GiB disk on %s, %s firmware."),
        t->name, (unsigned)t->memory_mib, t->cpus, (unsigned)(t->disk_bytes / GIB),
        bus_label(t->disk_bus), firmware_label(t->firmware));
    const char *net = t->virtio_net
        ? _("The network card is virtio-net, which this system has drivers for.")
        : _("The network card is virtio-net, which this system needs extra drivers for.");
    g_autofree char *hint_all = g_strconcat(hint, " ", net, NULL);
    gtk_label_set_label(self->resources_hint, hint_all);

    /* Follow the OS with the name until the user types their own. */
    const char *name = gtk_editable_get_text(GTK_EDITABLE(self->name_entry));
    if (!*name || g_strcmp0(name, self->auto_name) == 0) {
        g_free(self->auto_name);
        self->auto_name = t->id ? free_name(self, t->name) : g_strdup("");
        gtk_editable_set_text(GTK_EDITABLE(self->name_entry), self->auto_name);
    }
    update_create(self);
}

static const HgrOsTemplate *selected_template(HgrNewVmWizard *self)
{
    GtkListBoxRow *row = gtk_list_box_get_selected_row(self->template_list);
    return row ? g_object_get_data(G_OBJECT(row), "template") : NULL;
}

static void select_template_row(HgrNewVmWizard *self, const char *id)
{
    self->selecting = true;
    gtk_list_box_unselect_all(self->template_list);
    for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->template_list)); row;
         row = gtk_widget_get_next_sibling(row)) {
        const HgrOsTemplate *t = g_object_get_data(G_OBJECT(row), "template");
        if (t && id && g_strcmp0(t->id, id) == 0) {
            gtk_list_box_select_row(self->template_list, GTK_LIST_BOX_ROW(row));
            break;
        }
    }
    self->selecting = false;
}

static void template_row_selected(GtkListBox *list, GtkListBoxRow *row, gpointer data)
{
    HgrNewVmWizard *self = data;
    if (self->selecting || !row)
        return;
    use_template(self, g_object_get_data(G_OBJECT(row), "template"), _("chosen from the list"));
}

/* ---- the template list -------------------------------------------------- */

static GtkWidget *template_row(const HgrOsTemplate *t)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
    gtk_widget_set_margin_top(box, 8);
    gtk_widget_set_margin_bottom(box, 8);
    gtk_widget_set_margin_start(box, 12);
    gtk_widget_set_margin_end(box, 12);
    /* The manager's logos, so a template looks like the VM it becomes. */
    const char *icon_name = hgr_machine_os_icon(t->id);
    if (g_str_equal(icon_name, "computer-symbolic") && g_strcmp0(t->family, "linux") == 0)
        icon_name = "hangar-os-linux-symbolic";
    GtkWidget *icon = gtk_image_new_from_icon_name(icon_name);
    gtk_accessible_update_property(GTK_ACCESSIBLE(icon), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   _("Logo"), -1);
    gtk_box_append(GTK_BOX(box), icon);
    GtkWidget *name = gtk_label_new(t->name);
    gtk_label_set_xalign(GTK_LABEL(name), 0);
    gtk_widget_set_hexpand(name, TRUE);
    gtk_box_append(GTK_BOX(box), name);
    if (t->vendor) {
        GtkWidget *vendor = gtk_label_new(t->vendor);
        gtk_widget_add_css_class(vendor, "dim-label");
        gtk_label_set_ellipsize(GTK_LABEL(vendor), PANGO_ELLIPSIZE_END);
        gtk_box_append(GTK_BOX(box), vendor);
    }
    GtkWidget *row = gtk_list_box_row_new();
    gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), box);
    gtk_accessible_update_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_LABEL, t->name,
                                   -1);
    g_object_set_data(G_OBJECT(row), "template", (gpointer)t);
    return row;
}

/* Word-prefix matching ("win 11", "ubu") and plain substrings ("22.04"). */
static gboolean template_filter(GtkListBoxRow *row, gpointer data)
{
    HgrNewVmWizard *self = data;
    const char *query = gtk_editable_get_text(GTK_EDITABLE(self->template_search));
    const HgrOsTemplate *t = g_object_get_data(G_OBJECT(row), "template");
    if (!*query || !t)
        return TRUE;
    g_autofree char *q = g_utf8_casefold(query, -1);
    g_autofree char *name = g_utf8_casefold(t->name, -1);
    g_auto(GStrv) words = g_strsplit(g_strstrip(q), " ", -1);
    for (char **w = words; *w; w++)
        if (**w && !strstr(name, *w) && !(t->id && strstr(t->id, *w)))
            return FALSE;
    return TRUE;
}

static void search_changed(GtkSearchEntry *entry, gpointer data)
{
    gtk_list_box_invalidate_filter(HGR_NEW_VM_WIZARD(data)->template_list);
}

static void list_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    GError *error = NULL;
    GPtrArray *list = hgr_os_templates_list(&error);
    if (list)
        g_task_return_pointer(task, list, (GDestroyNotify)g_ptr_array_unref);
    else
        g_task_return_error(task, error);
}

static void list_done(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) list = g_task_propagate_pointer(G_TASK(result), &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    HgrNewVmWizard *self = data;
    if (!list) {
        show_error(self, error->message);
        return;
    }
    self->templates = g_steal_pointer(&list);
    for (guint i = 0; i < self->templates->len; i++)
        gtk_list_box_append(self->template_list,
                            template_row(g_ptr_array_index(self->templates, i)));
    if (self->iso_template)
        select_template_row(self, self->iso_template->id);
}

/* ---- the ISO -------------------------------------------------------------- */

/* Forgets what the last ISO was identified as; the VM falls back to the
 * template chosen in the list, or the generic one. */
static void forget_iso_template(HgrNewVmWizard *self)
{
    if (self->current && self->current == self->iso_template) {
        const HgrOsTemplate *chosen = selected_template(self);
        self->current = chosen ? chosen : self->generic;
    }
    g_clear_pointer(&self->iso_template, hgr_os_template_free);
}

typedef struct {
    HgrNewVmWizard *self;
    guint generation;
} IsoJob;

static void iso_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    const char *path = data;
    GError *error = NULL;
    HgrOsTemplate *t = hgr_os_template_identify_iso(path, &error);
    if (error)
        g_task_return_error(task, error);
    else
        g_task_return_pointer(task, t, (GDestroyNotify)hgr_os_template_free);
}

static void iso_done(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autofree IsoJob *job = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrOsTemplate) t = g_task_propagate_pointer(G_TASK(result), &error);
    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result))))
        return;
    HgrNewVmWizard *self = job->self;
    if (job->generation != self->iso_generation)
        return;   /* the path changed since */
    self->iso_pending = false;
    forget_iso_template(self);
    if (error) {
        self->iso_error = g_strdup(error->message);
        gtk_label_set_label(self->media_status, error->message);
        gtk_widget_add_css_class(GTK_WIDGET(self->media_status), "error");
        update_create(self);
        return;
    }
    gtk_widget_remove_css_class(GTK_WIDGET(self->media_status), "error");
    if (!t) {
        gtk_label_set_label(self->media_status,
                            _("Not recognised: the ISO is readable but the operating system "
                              "database does not know it. Choose the system below, or keep "
                              "the generic settings."));
        const HgrOsTemplate *chosen = selected_template(self);
        use_template(self, chosen ? chosen : self->generic,
                     chosen ? _("chosen from the list") : _("generic settings"));
        return;
    }
    self->iso_template = g_steal_pointer(&t);
    g_autofree char *found = g_strdup_printf(_("Found on the ISO: %s"),
                                             self->iso_template->name);
    gtk_label_set_label(self->media_status, found);
    select_template_row(self, self->iso_template->id);
    use_template(self, self->iso_template, _("found on the ISO"));
}

static void iso_changed(GtkEditable *entry, gpointer data)
{
    HgrNewVmWizard *self = data;
    const char *text = gtk_editable_get_text(entry);
    g_autofree char *path = g_strstrip(g_strdup(text));
    self->iso_generation++;
    g_clear_pointer(&self->iso_error, g_free);
    forget_iso_template(self);
    gtk_widget_remove_css_class(GTK_WIDGET(self->media_status), "error");
    if (!*path) {
        self->iso_pending = false;
        gtk_label_set_label(self->media_status,
                            _("No installation media: the VM gets an empty CD drive."));
        const HgrOsTemplate *chosen = selected_template(self);
        use_template(self, chosen ? chosen : self->generic,
                     chosen ? _("chosen from the list") : _("generic settings"));
        return;
    }
    self->iso_pending = true;
    gtk_label_set_label(self->media_status, _("Looking at the ISO…"));
    update_create(self);
    IsoJob *job = g_new0(IsoJob, 1);
    job->self = self;
    job->generation = self->iso_generation;
    g_autoptr(GTask) task = g_task_new(NULL, self->cancellable, iso_done, job);
    g_task_set_task_data(task, g_steal_pointer(&path), g_free);
    g_task_run_in_thread(task, iso_thread);
}

void hgr_new_vm_wizard_set_iso(HgrNewVmWizard *self, GFile *iso)
{
    g_autofree char *path = g_file_get_path(iso);
    if (!path) {
        g_autofree char *uri = g_file_get_uri(iso);
        g_autofree char *msg = g_strdup_printf(_("'%s' is not a local file: copy the ISO to "
                                                 "this computer first."), uri);
        show_error(self, msg);
        return;
    }
    gtk_editable_set_text(GTK_EDITABLE(self->iso_entry), path);
}

static void chooser_response(GtkNativeDialog *dialog, int response, gpointer data)
{
    HgrNewVmWizard *self = data;
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        if (file)
            hgr_new_vm_wizard_set_iso(self, file);
    }
    g_object_unref(dialog);
}

static void choose_iso_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    GtkFileChooserNative *chooser = gtk_file_chooser_native_new(
        _("Choose ISO"), GTK_WINDOW(widget), GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"),
        _("_Cancel"));
    g_autoptr(GtkFileFilter) isos = gtk_file_filter_new();
    gtk_file_filter_set_name(isos, _("Disc images (ISO)"));
    gtk_file_filter_add_pattern(isos, "*.iso");
    gtk_file_filter_add_pattern(isos, "*.ISO");
    gtk_file_filter_add_mime_type(isos, "application/x-cd-image");
    gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(chooser), isos);
    g_autoptr(GtkFileFilter) all = gtk_file_filter_new();
    gtk_file_filter_set_name(all, _("All files"));
    gtk_file_filter_add_pattern(all, "*");
    gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(chooser), all);
    g_signal_connect(chooser, "response", G_CALLBACK(chooser_response), widget);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(chooser));
}

static gboolean file_dropped(GtkDropTarget *target, const GValue *value, double x, double y,
                             gpointer data)
{
    if (!G_VALUE_HOLDS(value, G_TYPE_FILE))
        return FALSE;
    hgr_new_vm_wizard_set_iso(HGR_NEW_VM_WIZARD(data), g_value_get_object(value));
    return TRUE;
}

/* ---- the host ------------------------------------------------------------- */

static void host_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    HgrHostCheckOptions opts = { 0 };
    g_task_return_pointer(task, hgr_host_check_run(&opts),
                          (GDestroyNotify)hgr_host_check_report_free);
}

static void host_done(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(HgrHostCheckReport) r = g_task_propagate_pointer(G_TASK(result), NULL);
    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result))) || !r)
        return;
    HgrNewVmWizard *self = data;
    self->host = g_steal_pointer(&r);
    g_autoptr(GString) hint = g_string_new(NULL);
    for (guint i = 0; i < self->host->items->len; i++) {
        const HgrHostCheckItem *it = g_ptr_array_index(self->host->items, i);
        if (it->level == HGR_HOST_CHECK_OK)
            continue;
        g_string_append_printf(hint, "%s%s", hint->len ? "\n" : "", it->title);
    }
    if (hint->len) {
        g_string_append(hint, _("\nThe Summary page says more."));
        gtk_label_set_label(self->host_hint, hint->str);
    }
    gtk_widget_set_visible(GTK_WIDGET(self->host_hint), hint->len > 0);
}

/* ---- the summary ---------------------------------------------------------- */

static void clear_box(GtkBox *box)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(box))))
        gtk_box_remove(box, child);
}

static void add_line(GtkBox *box, const char *text, const char *css_class)
{
    GtkWidget *label = gtk_label_new(text);
    gtk_label_set_wrap(GTK_LABEL(label), TRUE);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_label_set_selectable(GTK_LABEL(label), TRUE);
    if (css_class)
        gtk_widget_add_css_class(label, css_class);
    gtk_box_append(box, label);
}

static void update_summary(HgrNewVmWizard *self)
{
    const HgrOsTemplate *t = self->current;
    const char *iso = gtk_editable_get_text(GTK_EDITABLE(self->iso_entry));
    g_autofree char *text = g_strdup_printf(
        _("Name: %s\nOperating system: %s\nMemory: %d MiB\nCPUs: %d\nDisk: %d GiB on %s "
          "(a new qcow2 image)\nFirmware: %s\nInstallation media: %s\nNetwork: NAT "
          "(virtio-net)"),
        gtk_editable_get_text(GTK_EDITABLE(self->name_entry)), t ? t->name : _("not chosen"),
        gtk_spin_button_get_value_as_int(self->memory_spin),
        gtk_spin_button_get_value_as_int(self->cpus_spin),
        gtk_spin_button_get_value_as_int(self->disk_spin), bus_label(chosen_bus(self)),
        firmware_label(chosen_firmware(self)), *iso ? iso : _("none"));
    gtk_label_set_label(self->summary_label, text);

    clear_box(self->limitations_box);
    if (chosen_bus(self) == HGR_DISK_BUS_VIRTIO && t && t->disk_bus != HGR_DISK_BUS_VIRTIO)
        add_line(self->limitations_box,
                 _("Disk: this system has no VirtIO disk driver built in; its installer will "
                   "not see the disk. Choose SATA or NVMe."), "warning");
    for (guint i = 0; t && i < t->limitations->len; i++)
        add_line(self->limitations_box, g_ptr_array_index(t->limitations, i), NULL);

    clear_box(self->host_box);
    if (!self->host) {
        add_line(self->host_box, _("Checking this computer…"), "dim-label");
        return;
    }
    bool any = false;
    for (guint i = 0; i < self->host->items->len; i++) {
        const HgrHostCheckItem *it = g_ptr_array_index(self->host->items, i);
        if (it->level == HGR_HOST_CHECK_OK)
            continue;
        g_autofree char *line = g_strdup_printf("%s. %s%s%s", it->title, it->detail,
                                                it->fix ? _(" What to do: ") : "",
                                                it->fix ? it->fix : "");
        add_line(self->host_box, line,
                 it->level == HGR_HOST_CHECK_ERROR ? "error" : "warning");
        any = true;
    }
    if (!any)
        add_line(self->host_box, _("This computer runs virtual machines at full speed."), NULL);
}

/* ---- navigation and Create ----------------------------------------------- */

static int current_page(HgrNewVmWizard *self)
{
    const char *name = gtk_stack_get_visible_child_name(self->stack);
    for (int i = 0; i < (int)G_N_ELEMENTS(pages); i++)
        if (g_strcmp0(name, pages[i]) == 0)
            return i;
    return 0;
}

static void page_changed(GtkStack *stack, GParamSpec *pspec, gpointer data)
{
    HgrNewVmWizard *self = data;
    int page = current_page(self);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "wizard.back", page > 0);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "wizard.next",
                                  page + 1 < (int)G_N_ELEMENTS(pages));
    GtkStackPage *p = gtk_stack_get_page(stack, gtk_stack_get_visible_child(stack));
    g_autofree char *subtitle = g_strdup_printf(_("Step %d of %d: %s"), page + 1,
                                                (int)G_N_ELEMENTS(pages),
                                                gtk_stack_page_get_title(p));
    adw_window_title_set_subtitle(self->window_title, subtitle);
    if (g_str_equal(pages[page], "summary"))
        update_summary(self);
}

static void go(HgrNewVmWizard *self, int delta)
{
    int page = CLAMP(current_page(self) + delta, 0, (int)G_N_ELEMENTS(pages) - 1);
    gtk_stack_set_visible_child_name(self->stack, pages[page]);
}

static void back_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    go(HGR_NEW_VM_WIZARD(widget), -1);
}

static void next_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    go(HGR_NEW_VM_WIZARD(widget), 1);
}

static HgrMachineConfig *build_config(HgrNewVmWizard *self)
{
    HgrMachineConfig *c = hgr_machine_config_new();
    g_free(c->name);
    c->name = g_strdup(gtk_editable_get_text(GTK_EDITABLE(self->name_entry)));
    hgr_os_template_apply(self->current, c);
    c->memory_mib = (uint64_t)gtk_spin_button_get_value_as_int(self->memory_spin);
    c->cpus = (unsigned)gtk_spin_button_get_value_as_int(self->cpus_spin);
    c->firmware = chosen_firmware(self);
    if (c->disks->len > 0)
        ((HgrMachineDisk *)g_ptr_array_index(c->disks, 0))->bus = chosen_bus(self);
    g_autofree char *iso = g_strstrip(g_strdup(gtk_editable_get_text(
        GTK_EDITABLE(self->iso_entry))));
    g_free(c->cdrom);
    c->cdrom = *iso ? g_steal_pointer(&iso) : NULL;
    return c;
}

static void create_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    HgrNewVmWizard *self = HGR_NEW_VM_WIZARD(widget);
    g_autofree char *why = NULL;
    if (!check_name(self, &why)) {
        show_error(self, why);
        gtk_stack_set_visible_child_name(self->stack, "media");
        gtk_widget_grab_focus(GTK_WIDGET(self->name_entry));
        return;
    }
    if (self->iso_error || !self->current) {
        show_error(self, self->iso_error ? self->iso_error : _("Choose an operating system."));
        gtk_stack_set_visible_child_name(self->stack, "media");
        return;
    }
    g_autoptr(HgrMachineConfig) config = build_config(self);
    g_autoptr(GError) error = NULL;
    uint64_t disk = (uint64_t)gtk_spin_button_get_value_as_int(self->disk_spin) * GIB;
    /* Making a sparse qcow2 and a few small files: quick enough for the UI
     * thread, and the window must not close before it is known to work. */
    self->creating = true;
    update_create(self);
    HgrMachine *m = hgr_library_create(self->lib, config, disk, &error);
    self->creating = false;
    if (!m) {
        g_autofree char *msg = g_strdup_printf(_("The machine was not created: %s"),
                                               error->message);
        show_error(self, msg);
        update_create(self);
        return;
    }
    gtk_window_destroy(GTK_WINDOW(self));
}

static void name_changed(GtkEditable *entry, gpointer data)
{
    HgrNewVmWizard *self = data;
    gtk_revealer_set_reveal_child(self->error_revealer, FALSE);
    update_create(self);
}

/* ---- the object ----------------------------------------------------------- */

static void hgr_new_vm_wizard_dispose(GObject *object)
{
    HgrNewVmWizard *self = HGR_NEW_VM_WIZARD(object);
    if (self->cancellable)
        g_cancellable_cancel(self->cancellable);
    g_clear_object(&self->cancellable);
    g_clear_object(&self->lib);
    G_OBJECT_CLASS(hgr_new_vm_wizard_parent_class)->dispose(object);
}

static void hgr_new_vm_wizard_finalize(GObject *object)
{
    HgrNewVmWizard *self = HGR_NEW_VM_WIZARD(object);
    g_clear_pointer(&self->templates, g_ptr_array_unref);
    g_clear_pointer(&self->iso_template, hgr_os_template_free);
    g_clear_pointer(&self->generic, hgr_os_template_free);
    g_clear_pointer(&self->host, hgr_host_check_report_free);
    g_free(self->iso_error);
    g_free(self->auto_name);
    G_OBJECT_CLASS(hgr_new_vm_wizard_parent_class)->finalize(object);
}

static void hgr_new_vm_wizard_class_init(HgrNewVmWizardClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = hgr_new_vm_wizard_dispose;
    object_class->finalize = hgr_new_vm_wizard_finalize;

    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/org/hangar/Hangar/new-vm-wizard.ui");
#define CHILD(name) gtk_widget_class_bind_template_child(widget_class, HgrNewVmWizard, name)
    CHILD(toasts);
    CHILD(error_revealer);
    CHILD(error_label);
    CHILD(stack);
    CHILD(window_title);
    CHILD(create_button);
    CHILD(name_entry);
    CHILD(name_status);
    CHILD(iso_entry);
    CHILD(media_status);
    CHILD(os_label);
    CHILD(template_search);
    CHILD(template_list);
    CHILD(host_hint);
    CHILD(memory_spin);
    CHILD(cpus_spin);
    CHILD(disk_spin);
    CHILD(firmware_dropdown);
    CHILD(bus_dropdown);
    CHILD(resources_hint);
    CHILD(summary_label);
    CHILD(limitations_box);
    CHILD(host_box);
#undef CHILD

    gtk_widget_class_install_action(widget_class, "wizard.back", NULL, back_activated);
    gtk_widget_class_install_action(widget_class, "wizard.next", NULL, next_activated);
    gtk_widget_class_install_action(widget_class, "wizard.create", NULL, create_activated);
    gtk_widget_class_install_action(widget_class, "wizard.choose-iso", NULL,
                                    choose_iso_activated);
    gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void hgr_new_vm_wizard_init(HgrNewVmWizard *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->cancellable = g_cancellable_new();
    self->generic = generic_template();

    gtk_list_box_set_filter_func(self->template_list, template_filter, self, NULL);
    g_signal_connect(self->template_list, "row-selected", G_CALLBACK(template_row_selected),
                     self);
    g_signal_connect(self->template_search, "search-changed", G_CALLBACK(search_changed), self);
    g_signal_connect(self->iso_entry, "changed", G_CALLBACK(iso_changed), self);
    g_signal_connect(self->name_entry, "changed", G_CALLBACK(name_changed), self);
    g_signal_connect(self->stack, "notify::visible-child", G_CALLBACK(page_changed), self);

    GtkDropTarget *drop = gtk_drop_target_new(G_TYPE_FILE, GDK_ACTION_COPY);
    g_signal_connect(drop, "drop", G_CALLBACK(file_dropped), self);
    gtk_widget_add_controller(GTK_WIDGET(self), GTK_EVENT_CONTROLLER(drop));

    /* The host's CPU count bounds the CPUs; memory is bounded by the host's
     * RAM (the library refuses more anyway). */
    long pages_total = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    if (pages_total > 0 && page_size > 0)
        gtk_spin_button_set_range(self->memory_spin, 64,
                                  (double)((uint64_t)pages_total * (uint64_t)page_size >> 20));
    gtk_spin_button_set_range(self->cpus_spin, 1, MIN(64, MAX(2, g_get_num_processors())));
}

HgrNewVmWizard *hgr_new_vm_wizard_new(GtkWindow *parent, HgrLibrary *lib, GFile *iso)
{
    HgrNewVmWizard *self = g_object_new(HGR_TYPE_NEW_VM_WIZARD, "transient-for", parent, NULL);
    self->lib = g_object_ref(lib);
    page_changed(self->stack, NULL, self);
    use_template(self, self->generic, _("generic settings"));
    gtk_label_set_label(self->media_status,
                        _("No installation media: the VM gets an empty CD drive."));

    g_autoptr(GTask) list = g_task_new(NULL, self->cancellable, list_done, self);
    g_task_run_in_thread(list, list_thread);
    g_autoptr(GTask) host = g_task_new(NULL, self->cancellable, host_done, self);
    g_task_run_in_thread(host, host_thread);
    if (iso)
        hgr_new_vm_wizard_set_iso(self, iso);
    return self;
}

void hgr_new_vm_wizard_present(GtkWindow *parent, HgrLibrary *lib, GFile *iso)
{
    gtk_window_present(GTK_WINDOW(hgr_new_vm_wizard_new(parent, lib, iso)));
}
