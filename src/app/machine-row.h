/* machine-row.h — one machine in the manager window's list: live
 * thumbnail, name, OS logo and name, state. */
#pragma once

#include <gtk/gtk.h>

#include "../library/machine.h"

G_BEGIN_DECLS

#define HGR_TYPE_MACHINE_ROW (hgr_machine_row_get_type())
G_DECLARE_FINAL_TYPE(HgrMachineRow, hgr_machine_row, HGR, MACHINE_ROW, GtkListBoxRow)

GtkWidget *hgr_machine_row_new(HgrMachine *m);
HgrMachine *hgr_machine_row_get_machine(HgrMachineRow *self);

G_END_DECLS
