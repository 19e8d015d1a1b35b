/* manager-window.h — the main window: the VM library as a list, the
 * selected machine's details, and the actions on it. */
#pragma once

#include <adwaita.h>

#include "application.h"

G_BEGIN_DECLS

#define HGR_TYPE_MANAGER_WINDOW (hgr_manager_window_get_type())
G_DECLARE_FINAL_TYPE(HgrManagerWindow, hgr_manager_window, HGR, MANAGER_WINDOW,
                     AdwApplicationWindow)

/* The selected machine, or NULL. */
HgrMachine *hgr_manager_window_get_selected(HgrManagerWindow *self);
/* Shows message as a toast in the window. */
void hgr_manager_window_toast(HgrManagerWindow *self, const char *message);

G_END_DECLS
