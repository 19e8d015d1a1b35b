/* test-vm-window-media.c — the VM window's CD/DVD menu with a real VM (KVM,
 * SeaBIOS) under a real X server: its actions are there only while the VM
 * runs (Eject only with a disc in), a disc chosen goes into the drive and
 * the machine's settings, Eject takes it out, and a file that is not a
 * disc is refused in a dialog naming it, the disc staying in. Buttons
 * naming the actions stand in for the menu's items: GTK greys both out
 * alike. */
#include "settings-dialog.h"
#include "vm-window-fixture.h"
#include "vm-window-private.h"

static gboolean machine_running(gpointer data)
{
    return hgr_machine_get_state(data) == HGR_MACHINE_RUNNING;
}

typedef struct {
    HgrMachine *m;
    const char *iso;              /* NULL: the drive empty */
} DiscWait;

static gboolean disc_is(gpointer data)
{
    DiscWait *w = data;
    return !g_strcmp0(hgr_machine_get_config(w->m)->cdrom, w->iso);
}

/* What the machine's file says is in the drive (the next start's disc). */
static char *disc_in_file(HgrMachine *m)
{
    g_autofree char *file = g_strconcat(hgr_machine_get_dir(m), "/", hgr_machine_get_name(m),
                                        ".hangar", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_load(file, &error);

    g_assert_no_error(error);
    return g_strdup(c->cdrom);
}

/* A file the library takes for a disc: an ISO 9660 volume descriptor at
 * 32 KiB, which is what it checks. */
static char *make_iso(const char *dir)
{
    g_autofree char *data = g_malloc0(64 * 1024);
    char *path = g_build_filename(dir, "drivers.iso", NULL);

    memcpy(data + 32 * 1024, "\001CD001\001", 7);
    g_assert_true(g_file_set_contents(path, data, 64 * 1024, NULL));
    return path;
}

static GtkWidget *probe(HgrVmWindow *win, const char *action)
{
    GtkWidget *b = gtk_button_new_with_label(action);
    gtk_actionable_set_action_name(GTK_ACTIONABLE(b), action);
    adw_header_bar_pack_end(win->header_bar, b);
    return b;
}

/* The settings dialog's icon button whose tooltip is tip. */
static GtkWidget *find_button(GtkWidget *root, const char *tip)
{
    if (GTK_IS_BUTTON(root) && !g_strcmp0(gtk_widget_get_tooltip_text(root), tip))
        return root;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *w = find_button(c, tip);
        if (w)
            return w;
    }
    return NULL;
}

static void test_insert_and_eject(void)
{
    Fixture f;

    fixture_setup(&f);           /* no bootable disk: SeaBIOS waits, the VM runs on */
    g_autofree char *iso = make_iso(f.dir);
    g_autofree char *notes = g_build_filename(f.dir, "notes.iso", NULL);
    g_assert_true(g_file_set_contents(notes, "not a disc", -1, NULL));

    HgrVmWindow *win = g_object_new(HGR_TYPE_VM_WINDOW, "machine", f.m, NULL);
    GtkWidget *insert = probe(win, "win.cd-insert"), *eject = probe(win, "win.cd-eject");
    gtk_window_present(GTK_WINDOW(win));
    spin_for_ms(50);
    /* Off: nothing to put a disc in. */
    g_assert_false(gtk_widget_get_sensitive(insert));
    g_assert_false(gtk_widget_get_sensitive(eject));
    g_assert_false(gtk_widget_get_sensitive(win->cd_button));

    g_assert_true(hgr_vm_window_start(win));
    g_assert_true(spin_until(machine_running, f.m, 30));
    spin_for_ms(50);
    g_assert_true(gtk_widget_get_sensitive(insert));
    g_assert_false(gtk_widget_get_sensitive(eject));            /* the drive is empty */
    g_assert_true(gtk_widget_get_sensitive(win->cd_button));

    /* What "Choose Disc Image…" does with the file chosen. */
    hgr_vm_window_change_disc(win, iso, FALSE);
    DiscWait in = { f.m, iso };
    g_assert_true(spin_until(disc_is, &in, 30));
    spin_for_ms(50);
    g_assert_true(gtk_widget_get_sensitive(eject));
    g_autofree char *saved = disc_in_file(f.m);
    g_assert_cmpstr(saved, ==, iso);
    g_assert_null(find_dialog());

    /* Not a disc: a dialog naming the file; the disc stays in. */
    hgr_vm_window_change_disc(win, notes, FALSE);
    g_assert_true(spin_until(dialog_shown, NULL, 30));
    AdwMessageDialog *dialog = find_dialog();
    g_assert_cmpstr(adw_message_dialog_get_heading(dialog), ==, "Cannot Change the Disc");
    g_assert_nonnull(strstr(adw_message_dialog_get_body(dialog), notes));
    adw_message_dialog_response(dialog, "close");
    gtk_window_destroy(GTK_WINDOW(dialog));
    g_assert_cmpstr(hgr_machine_get_config(f.m)->cdrom, ==, iso);

    /* Eject, through the action the menu item names. */
    gtk_widget_activate_action(GTK_WIDGET(win), "win.cd-eject", NULL);
    DiscWait out = { f.m, NULL };
    g_assert_true(spin_until(disc_is, &out, 30));
    spin_for_ms(50);
    g_assert_false(gtk_widget_get_sensitive(eject));
    g_assert_true(gtk_widget_get_sensitive(insert));
    g_free(saved);
    saved = disc_in_file(f.m);
    g_assert_null(saved);
    g_assert_null(find_dialog());

    /* A disc put in elsewhere (another window, hangarctl): Eject follows. */
    g_autoptr(GError) error = NULL;
    g_assert_true(hgr_machine_change_cdrom(f.m, iso, FALSE, &error));
    g_assert_no_error(error);
    spin_for_ms(50);
    g_assert_true(gtk_widget_get_sensitive(eject));

    /* The settings dialog of the running VM: its CD group alone (with the
     * name) still works, and Eject there empties the drive at once. */
    GtkWidget *dlg = hgr_settings_dialog_new(GTK_WINDOW(win), f.m);
    gtk_window_present(GTK_WINDOW(dlg));
    spin_for_ms(50);
    GtkWidget *dlg_eject = find_button(dlg, "Eject");
    g_assert_nonnull(dlg_eject);
    g_assert_true(gtk_widget_is_sensitive(dlg_eject));
    g_signal_emit_by_name(dlg_eject, "clicked");
    g_assert_true(spin_until(disc_is, &out, 30));
    spin_for_ms(50);
    g_assert_false(gtk_widget_get_sensitive(eject));
    g_free(saved);
    saved = disc_in_file(f.m);
    g_assert_null(saved);
    g_assert_null(find_dialog());
    gtk_window_destroy(GTK_WINDOW(dlg));

    /* Off again: the menu goes grey. */
    gtk_widget_activate_action(GTK_WIDGET(win), "win.force-off", NULL);
    g_assert_true(spin_until(machine_stopped, f.m, 30));
    spin_for_ms(50);
    g_assert_false(gtk_widget_get_sensitive(insert));
    g_assert_false(gtk_widget_get_sensitive(win->cd_button));
    gtk_window_destroy(GTK_WINDOW(win));
    spin_for_ms(100);
    fixture_teardown(&f);
}

int main(int argc, char **argv)
{
    if (!vm_window_test_init(&argc, &argv))
        return 0;
    if (access("/dev/kvm", R_OK | W_OK) != 0 || access(HGR_SEABIOS_PATH, R_OK) != 0) {
        printf("1..0 # SKIP needs /dev/kvm (read-write) and %s\n", HGR_SEABIOS_PATH);
        fprintf(stderr, "SKIP: /app/vm-window/cd: needs /dev/kvm and %s\n", HGR_SEABIOS_PATH);
        return 77;
    }
    g_test_add_func("/app/vm-window/cd-insert-and-eject", test_insert_and_eject);
    return g_test_run();
}
