/* machine-details.h — the manager window's details pane: the selected
 * machine's preview, system, display, storage and network. */
#pragma once

#include <adwaita.h>

#include "../library/machine.h"

G_BEGIN_DECLS

#define HGR_TYPE_MACHINE_DETAILS (hgr_machine_details_get_type())
G_DECLARE_FINAL_TYPE(HgrMachineDetails, hgr_machine_details, HGR, MACHINE_DETAILS, AdwBin)

GtkWidget *hgr_machine_details_new(void);
/* m may be NULL (nothing selected). */
void hgr_machine_details_set_machine(HgrMachineDetails *self, HgrMachine *m);
/* Reads the machine's config again (after its settings changed). */
void hgr_machine_details_refresh(HgrMachineDetails *self);

G_END_DECLS
