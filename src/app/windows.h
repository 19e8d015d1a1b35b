/* windows.h — how the app's windows and dialogs open one another.
 * Each is implemented in its own widget file. */
#pragma once

#include <adwaita.h>

#include "../library/library.h"
#include "application.h"

G_BEGIN_DECLS

/* manager-window.c: the main window, listing the library. */
GtkWindow *hgr_manager_window_new(HgrApplication *app);

/* vm-window.c: shows (or raises) the VM window of m; starts m in this
 * process first when it is stopped. */
void hgr_vm_window_show(HgrApplication *app, HgrMachine *m);

/* new-vm-wizard.c: the New VM wizard; iso: preselected media, or NULL. */
void hgr_new_vm_wizard_present(GtkWindow *parent, HgrLibrary *lib, GFile *iso);

/* host-check-dialog.c: the host virtualization check, run and shown. */
void hgr_host_check_dialog_present(GtkWindow *parent);

/* settings-dialog.c: settings of an existing VM. */
void hgr_settings_dialog_present(GtkWindow *parent, HgrMachine *m);

G_END_DECLS
