/* new-vm-wizard.h — the New VM wizard: name and installation media (an ISO
 * identified by libosinfo, or an OS template), resources, and a summary
 * that says plainly what Hangar cannot give that OS yet. */
#pragma once

#include <adwaita.h>

#include "../library/library.h"

G_BEGIN_DECLS

#define HGR_TYPE_NEW_VM_WIZARD (hgr_new_vm_wizard_get_type())
G_DECLARE_FINAL_TYPE(HgrNewVmWizard, hgr_new_vm_wizard, HGR, NEW_VM_WIZARD, AdwWindow)

/* iso: preselected installation media, or NULL. */
HgrNewVmWizard *hgr_new_vm_wizard_new(GtkWindow *parent, HgrLibrary *lib, GFile *iso);

/* Sets the ISO path as if typed (drops and the file chooser use it too). */
void hgr_new_vm_wizard_set_iso(HgrNewVmWizard *self, GFile *iso);

G_END_DECLS
