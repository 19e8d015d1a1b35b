/* manager-window-private.h — shared by manager-window.c and
 * manager-window-actions.c. */
#pragma once

#include "machine-details.h"
#include "manager-window.h"

struct _HgrManagerWindow {
    AdwApplicationWindow parent;

    HgrApplication *app;
    HgrLibrary *library;          /* NULL when it could not be opened */
    GSettings *settings;          /* NULL when the schema is not installed */
    HgrMachine *selected;
    /* While the list box follows a change of the library: its own row
     * selections then are not the user's, and the selection is restored. */
    gboolean list_updating;
    HgrMachine *keep_selected;
    GFileMonitor *library_monitor;
    guint reload_idle;
    guint state_poll;

    AdwToastOverlay *toasts;
    AdwWindowTitle *window_title;
    GtkStack *main_stack;
    AdwStatusPage *error_page;
    GtkRevealer *host_banner;
    GtkLabel *host_banner_label;
    GtkListBox *machine_list;
    HgrMachineDetails *details;
    GtkWidget *start_button;
    GtkWidget *pause_button;
    GtkWidget *shutdown_button;
    GtkWidget *resume_button;
};

/* manager-window-actions.c */
void hgr_manager_window_install_actions(GtkWidgetClass *wc);
/* Enables win.* for the selected machine's state. */
void hgr_manager_window_update_actions(HgrManagerWindow *self);
