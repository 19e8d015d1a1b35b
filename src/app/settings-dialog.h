/* settings-dialog.h — the settings of an existing machine (libadwaita
 * preferences). Every change is applied at once through
 * hgr_machine_set_config; what the library refuses (a name taken or with
 * a '/', anything but the name while the machine runs) is shown in the
 * dialog and the control goes back to the value in effect. The disc in the
 * CD/DVD drive changes while it runs too (hgr_machine_change_cdrom). */
#pragma once

#include <adwaita.h>

#include "../library/machine.h"

G_BEGIN_DECLS

#define HGR_TYPE_SETTINGS_DIALOG (hgr_settings_dialog_get_type())
G_DECLARE_FINAL_TYPE(HgrSettingsDialog, hgr_settings_dialog, HGR, SETTINGS_DIALOG,
                     AdwPreferencesWindow)

GtkWidget *hgr_settings_dialog_new(GtkWindow *parent, HgrMachine *m);

G_END_DECLS
