/* iso-chooser.h — the file chooser for a disc image (ISO), as the settings
 * dialog and the VM window's CD/DVD menu open it. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* A modal native chooser over parent, showing disc images; the caller
 * connects "response" and shows it. */
GtkFileChooserNative *hgr_iso_chooser_new(GtkWindow *parent, const char *title,
                                          const char *accept_label);

/* In its "response" handler: destroys and frees the chooser, and returns
 * the local path chosen. NULL: cancelled, or *not_local when the file
 * chosen has no local path (a network location). */
char *hgr_iso_chooser_finish(GtkNativeDialog *chooser, int response, gboolean *not_local);

G_END_DECLS
