/* vm-window.h — the window of one running VM: its screen and serial
 * console, power controls, activity. hgr_vm_window_show() (windows.h)
 * opens it. */
#pragma once

#include <adwaita.h>

#include "../library/machine.h"

G_BEGIN_DECLS

#define HGR_TYPE_VM_WINDOW (hgr_vm_window_get_type())
G_DECLARE_FINAL_TYPE(HgrVmWindow, hgr_vm_window, HGR, VM_WINDOW, AdwApplicationWindow)

HgrMachine *hgr_vm_window_get_machine(HgrVmWindow *win);

G_END_DECLS
