/* host-check-dialog.h — the host virtualization check, run and shown. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define HGR_TYPE_HOST_CHECK_DIALOG (hgr_host_check_dialog_get_type())
G_DECLARE_FINAL_TYPE(HgrHostCheckDialog, hgr_host_check_dialog, HGR, HOST_CHECK_DIALOG,
                     AdwWindow)

/* Starts the check at once (on a worker thread) and shows each item as it
 * comes back, with its level, what was found and what to do. */
HgrHostCheckDialog *hgr_host_check_dialog_new(GtkWindow *parent);

G_END_DECLS
