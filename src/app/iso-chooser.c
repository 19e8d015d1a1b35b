/* iso-chooser.c — see iso-chooser.h. */
#include <glib/gi18n.h>

#include "iso-chooser.h"

GtkFileChooserNative *hgr_iso_chooser_new(GtkWindow *parent, const char *title,
                                          const char *accept_label)
{
    GtkFileChooserNative *chooser = gtk_file_chooser_native_new(
        title, parent, GTK_FILE_CHOOSER_ACTION_OPEN, accept_label, _("_Cancel"));
    g_autoptr(GtkFileFilter) isos = gtk_file_filter_new();

    gtk_file_filter_set_name(isos, _("Disc images (ISO)"));
    gtk_file_filter_add_mime_type(isos, "application/x-cd-image");
    gtk_file_filter_add_pattern(isos, "*.iso");
    gtk_file_filter_add_pattern(isos, "*.ISO");
    gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(chooser), isos);
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(chooser), TRUE);
    return chooser;
}

char *hgr_iso_chooser_finish(GtkNativeDialog *chooser, int response, gboolean *not_local)
{
    g_autoptr(GFile) file = NULL;

    if (response == GTK_RESPONSE_ACCEPT)
        file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(chooser));
    gtk_native_dialog_destroy(chooser);
    g_object_unref(chooser);
    char *path = file ? g_file_get_path(file) : NULL;
    *not_local = file && !path;
    return path;
}
