/* test-new-vm-wizard.c — the New VM wizard on a real library folder, under
 * Xvfb (with-xvfb.sh): ISOs built here by xorriso are identified and set
 * the VM up as the OS needs, files that are no ISO and names the library
 * refuses keep Create disabled with the reason shown, and Create writes the
 * VM the wizard showed. */
#include <adwaita.h>
#include <glib/gstdio.h>

#include "../library/library-private.h"
#include "../library/os-templates.h"
#include "new-vm-wizard.h"

typedef struct {
    char *dir;                 /* temp: the library in lib/, ISOs beside it */
    HgrLibrary *lib;
    HgrNewVmWizard *wiz;       /* weak: NULL once Create closed it */
} Fixture;

static bool have_xorriso;

static void spin(void)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

/* Runs the main loop until cond holds. The deadline only keeps a broken
 * wizard from hanging the suite; nothing here asserts how long it took. */
static bool wait_for(bool (*cond)(Fixture *), Fixture *f)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    while (!cond(f) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    return cond(f);
}

static GtkWidget *child(Fixture *f, const char *name)
{
    return GTK_WIDGET(gtk_widget_get_template_child(GTK_WIDGET(f->wiz),
                                                    HGR_TYPE_NEW_VM_WIZARD, name));
}

static const char *label_text(Fixture *f, const char *name)
{
    return gtk_label_get_label(GTK_LABEL(child(f, name)));
}

static bool create_enabled(Fixture *f)
{
    return gtk_widget_get_sensitive(child(f, "create_button"));
}

static bool media_settled(Fixture *f)
{
    const char *s = label_text(f, "media_status");
    return !g_str_has_prefix(s, "Looking");
}

static bool templates_loaded(Fixture *f)
{
    return gtk_widget_get_first_child(child(f, "template_list")) != NULL;
}

static bool closed(Fixture *f)
{
    return f->wiz == NULL;
}

static char *make_iso(Fixture *f, const char *name, const char *volid, const char *publisher)
{
    g_autofree char *content = g_build_filename(f->dir, "content", NULL);
    g_mkdir_with_parents(content, 0755);
    char *iso = g_build_filename(f->dir, name, NULL);
    const char *argv[] = { "xorriso", "-as", "mkisofs", "-V", volid, "-publisher", publisher,
                           "-o", iso, content, NULL };
    int status = -1;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                               G_SPAWN_STDERR_TO_DEV_NULL,
                               NULL, NULL, NULL, NULL, &status, &error));
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    return iso;
}

static void setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    f->dir = g_dir_make_tmp("hangar-test-wizard-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *root = g_build_filename(f->dir, "lib", NULL);
    f->lib = hgr_library_new(root, &error);
    g_assert_no_error(error);
    f->wiz = hgr_new_vm_wizard_new(NULL, f->lib, NULL);
    g_object_add_weak_pointer(G_OBJECT(f->wiz), (gpointer *)&f->wiz);
    gtk_window_present(GTK_WINDOW(f->wiz));
    spin();
}

static void teardown(Fixture *f, gconstpointer data)
{
    if (f->wiz)
        gtk_window_destroy(GTK_WINDOW(f->wiz));
    spin();
    g_clear_object(&f->lib);
    hgr_library_remove_tree(f->dir, NULL);
    g_free(f->dir);
}

static void type_iso(Fixture *f, const char *path)
{
    gtk_editable_set_text(GTK_EDITABLE(child(f, "iso_entry")), path);
    g_assert_true(wait_for(media_settled, f));
}

static HgrMachine *create(Fixture *f)
{
    g_assert_true(create_enabled(f));
    gtk_widget_activate_action(GTK_WIDGET(f->wiz), "wizard.create", NULL);
    g_assert_true(wait_for(closed, f));
    GListModel *machines = hgr_library_get_machines(f->lib);
    g_assert_cmpuint(g_list_model_get_n_items(machines), ==, 1);
    g_autoptr(HgrMachine) m = g_list_model_get_item(machines, 0);
    return m;   /* the library keeps it */
}

#define NEED_XORRISO() \
    do { \
        if (!have_xorriso) { \
            g_test_skip("SKIP: xorriso is not installed (apt install xorriso)"); \
            return; \
        } \
    } while (0)

/* A Windows 11 ISO: found, named after it, and made with UEFI, NVMe and
 * Microsoft's minimums; the summary says what Hangar lacks for it. */
static void test_windows_11_iso(Fixture *f, gconstpointer data)
{
    NEED_XORRISO();
    g_autofree char *iso = make_iso(f, "win11.iso", "CCCOMA_X64FRE_EN-US_DV9",
                                    "MICROSOFT CORPORATION");
    type_iso(f, iso);
    g_assert_cmpstr(label_text(f, "media_status"), ==, "Found on the ISO: Microsoft Windows 11");
    g_assert_cmpstr(gtk_editable_get_text(GTK_EDITABLE(child(f, "name_entry"))), ==,
                    "Microsoft Windows 11");

    gtk_widget_activate_action(GTK_WIDGET(f->wiz), "wizard.next", NULL);
    gtk_widget_activate_action(GTK_WIDGET(f->wiz), "wizard.next", NULL);
    spin();
    g_autoptr(GString) limits = g_string_new(NULL);
    for (GtkWidget *l = gtk_widget_get_first_child(child(f, "limitations_box")); l;
         l = gtk_widget_get_next_sibling(l))
        g_string_append(limits, gtk_label_get_label(GTK_LABEL(l)));
    g_assert_nonnull(strstr(limits->str, "TPM 2.0"));
    g_assert_nonnull(strstr(limits->str, "virtio-win"));

    HgrMachine *m = create(f);
    const HgrMachineConfig *c = hgr_machine_get_config(m);
    g_assert_cmpstr(c->name, ==, "Microsoft Windows 11");
    g_assert_cmpstr(c->os_id, ==, "win11");
    g_assert_cmpint(c->firmware, ==, HGR_FIRMWARE_UEFI);
    g_assert_cmpuint(c->memory_mib, >=, 4096);
    g_assert_cmpstr(c->cdrom, ==, iso);
    g_assert_cmpuint(c->disks->len, ==, 1);
    g_assert_cmpint(((HgrMachineDisk *)g_ptr_array_index(c->disks, 0))->bus, ==,
                    HGR_DISK_BUS_NVME);
    g_autofree char *nvram = g_build_filename(hgr_machine_get_dir(m), "nvram.fd", NULL);
    g_assert_true(g_file_test(nvram, G_FILE_TEST_IS_REGULAR));
}

/* An ISO the database does not know: said so, and generic settings. */
static void test_unknown_iso(Fixture *f, gconstpointer data)
{
    NEED_XORRISO();
    g_autofree char *iso = make_iso(f, "data.iso", "HANGAR_TEST_DATA", "NOBODY");
    type_iso(f, iso);
    g_assert_true(g_str_has_prefix(label_text(f, "media_status"), "Not recognised"));
    g_assert_false(create_enabled(f));   /* no name yet */
    gtk_editable_set_text(GTK_EDITABLE(child(f, "name_entry")), "Tiny");
    HgrMachine *m = create(f);
    const HgrMachineConfig *c = hgr_machine_get_config(m);
    g_assert_null(c->os_id);
    g_assert_cmpint(c->firmware, ==, HGR_FIRMWARE_BIOS);
    g_assert_cmpint(((HgrMachineDisk *)g_ptr_array_index(c->disks, 0))->bus, ==,
                    HGR_DISK_BUS_SATA);
}

/* A text file given as the ISO: the reason in the window, Create off,
 * nothing written. */
static void test_not_an_iso(Fixture *f, gconstpointer data)
{
    g_autofree char *text = g_build_filename(f->dir, "notes.iso", NULL);
    g_autofree char *junk = g_strnfill(100000, 'x');
    g_file_set_contents(text, junk, -1, NULL);
    gtk_editable_set_text(GTK_EDITABLE(child(f, "name_entry")), "Valid");
    type_iso(f, text);
    g_assert_nonnull(strstr(label_text(f, "media_status"), "is not an ISO 9660 image"));
    g_assert_nonnull(strstr(label_text(f, "media_status"), text));
    g_assert_false(create_enabled(f));
    /* Emptying the path takes the refusal back. */
    type_iso(f, "");
    g_assert_true(create_enabled(f));
    g_assert_cmpuint(g_list_model_get_n_items(hgr_library_get_machines(f->lib)), ==, 0);
}

/* Names the library refuses: Create off and the reason under the entry. */
static void test_refused_names(Fixture *f, gconstpointer data)
{
    g_autoptr(HgrMachineConfig) other = hgr_machine_config_new();
    other->name = g_strdup("Taken");
    g_autoptr(GError) error = NULL;
    g_assert_nonnull(hgr_library_create(f->lib, other, 0, &error));
    g_assert_no_error(error);

    GtkEditable *name = GTK_EDITABLE(child(f, "name_entry"));
    static const char *const refused[] = { "a/b", "Taken", ".hidden" };
    for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
        gtk_editable_set_text(name, refused[i]);
        spin();
        g_assert_false(create_enabled(f));
        g_assert_true(gtk_widget_get_visible(child(f, "name_status")));
        g_test_message("%s: %s", refused[i], label_text(f, "name_status"));
        g_assert_cmpstr(label_text(f, "name_status"), !=, "");
    }
    gtk_editable_set_text(name, "Free");
    spin();
    g_assert_true(create_enabled(f));
    g_assert_false(gtk_widget_get_visible(child(f, "name_status")));
}

/* No ISO, a template picked from the searched list: its settings, an
 * empty CD drive. */
static void test_template_from_list(Fixture *f, gconstpointer data)
{
    g_assert_true(wait_for(templates_loaded, f));
    gtk_editable_set_text(GTK_EDITABLE(child(f, "template_search")), "debian 11");
    GtkListBox *list = GTK_LIST_BOX(child(f, "template_list"));
    GtkListBoxRow *debian = NULL;
    for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(list)); row;
         row = gtk_widget_get_next_sibling(row)) {
        const HgrOsTemplate *t = g_object_get_data(G_OBJECT(row), "template");
        if (t && g_strcmp0(t->id, "debian11") == 0)
            debian = GTK_LIST_BOX_ROW(row);
    }
    g_assert_nonnull(debian);
    gtk_list_box_select_row(list, debian);
    spin();
    g_assert_cmpstr(gtk_editable_get_text(GTK_EDITABLE(child(f, "name_entry"))), ==,
                    "Debian 11");
    HgrMachine *m = create(f);
    const HgrMachineConfig *c = hgr_machine_get_config(m);
    g_assert_cmpstr(c->os_id, ==, "debian11");
    g_assert_null(c->cdrom);
    g_assert_cmpint(((HgrMachineDisk *)g_ptr_array_index(c->disks, 0))->bus, ==,
                    HGR_DISK_BUS_VIRTIO);
}

int main(int argc, char **argv)
{
    gtk_test_init(&argc, &argv, NULL);
    adw_init();
    g_autofree char *xorriso = g_find_program_in_path("xorriso");
    have_xorriso = xorriso != NULL;
#define ADD(path, fn) \
    g_test_add("/app/new-vm-wizard/" path, Fixture, NULL, setup, fn, teardown)
    ADD("windows-11-iso", test_windows_11_iso);
    ADD("unknown-iso", test_unknown_iso);
    ADD("not-an-iso", test_not_an_iso);
    ADD("refused-names", test_refused_names);
    ADD("template-from-list", test_template_from_list);
    return g_test_run();
}
