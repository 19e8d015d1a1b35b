/* application.c — Hangar's GtkApplication: opens the library, owns the app
 * actions, opens the manager window. */
#include <glib/gi18n.h>

#include "application.h"
#include "config.h"
#include "windows.h"

struct _HgrApplication {
    AdwApplication parent;
    HgrLibrary *library;
    GError *library_error;        /* why library is NULL */
};

G_DEFINE_FINAL_TYPE(HgrApplication, hgr_application, ADW_TYPE_APPLICATION)

HgrLibrary *hgr_application_get_library(HgrApplication *app)
{
    return app->library;
}

const GError *hgr_application_get_library_error(HgrApplication *app)
{
    return app->library_error;
}

static GtkWindow *main_window(HgrApplication *app)
{
    return gtk_application_get_active_window(GTK_APPLICATION(app));
}

static void on_new_vm(GSimpleAction *action, GVariant *param, gpointer data)
{
    HgrApplication *app = data;
    hgr_new_vm_wizard_present(main_window(app), app->library, NULL);
}

static void on_host_check(GSimpleAction *action, GVariant *param, gpointer data)
{
    hgr_host_check_dialog_present(main_window(data));
}

static void on_about(GSimpleAction *action, GVariant *param, gpointer data)
{
    static const char *developers[] = { "The Hangar developers", NULL };

    adw_show_about_window(main_window(data),
                          "application-name", _("Hangar"),
                          "application-icon", APPLICATION_ID,
                          "version", PACKAGE_VERSION,
                          "developer-name", _("The Hangar developers"),
                          "developers", developers,
                          "license-type", GTK_LICENSE_GPL_2_0,
                          "comments", _("Run virtual machines on your desktop"),
                          NULL);
}

static void on_quit(GSimpleAction *action, GVariant *param, gpointer data)
{
    g_application_quit(G_APPLICATION(data));
}

static const GActionEntry app_actions[] = {
    { .name = "new-vm", .activate = on_new_vm },
    { .name = "host-check", .activate = on_host_check },
    { .name = "about", .activate = on_about },
    { .name = "quit", .activate = on_quit },
};

static void hgr_application_startup(GApplication *gapp)
{
    HgrApplication *app = HGR_APPLICATION(gapp);
    G_APPLICATION_CLASS(hgr_application_parent_class)->startup(gapp);
    /* The icon is in the resources too, so an uninstalled build has it. */
    gtk_window_set_default_icon_name(APPLICATION_ID);
    g_action_map_add_action_entries(G_ACTION_MAP(app), app_actions,
                                    G_N_ELEMENTS(app_actions), app);
    gtk_application_set_accels_for_action(GTK_APPLICATION(app), "app.new-vm",
                                          (const char *[]) { "<Control>n", NULL });
    gtk_application_set_accels_for_action(GTK_APPLICATION(app), "app.quit",
                                          (const char *[]) { "<Control>q", NULL });

    /* A library that cannot be opened is shown in the manager window. */
    app->library = hgr_library_new(g_getenv("HANGAR_LIBRARY_DIR"), &app->library_error);
    if (!app->library)
        g_debug("cannot open the VM library: %s", app->library_error->message);
}

static void hgr_application_activate(GApplication *gapp)
{
    HgrApplication *app = HGR_APPLICATION(gapp);
    GtkWindow *win = main_window(app);

    if (!win)
        win = hgr_manager_window_new(app);
    gtk_window_present(win);
}

/* `hangar FILE.iso` (the file manager's Open With, the desktop file's %F):
 * the manager window, and the New VM wizard with the first file. */
static void hgr_application_open(GApplication *gapp, GFile **files, int n_files,
                                 const char *hint)
{
    HgrApplication *app = HGR_APPLICATION(gapp);

    hgr_application_activate(gapp);
    if (n_files > 0 && app->library)
        hgr_new_vm_wizard_present(main_window(app), app->library, files[0]);
}

static void hgr_application_dispose(GObject *obj)
{
    g_clear_object(&HGR_APPLICATION(obj)->library);
    g_clear_error(&HGR_APPLICATION(obj)->library_error);
    G_OBJECT_CLASS(hgr_application_parent_class)->dispose(obj);
}

static void hgr_application_class_init(HgrApplicationClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = hgr_application_dispose;
    G_APPLICATION_CLASS(klass)->startup = hgr_application_startup;
    G_APPLICATION_CLASS(klass)->activate = hgr_application_activate;
    G_APPLICATION_CLASS(klass)->open = hgr_application_open;
}

static void hgr_application_init(HgrApplication *app)
{
}

HgrApplication *hgr_application_new(void)
{
    return g_object_new(HGR_TYPE_APPLICATION,
                        "application-id", APPLICATION_ID,
                        "flags", G_APPLICATION_HANDLES_OPEN,
                        "resource-base-path", "/org/hangar/Hangar",
                        NULL);
}
