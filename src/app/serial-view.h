/* serial-view.h — the VM's serial port as a terminal (VTE).
 *
 * The view owns a pseudo-terminal: VTE reads and writes the master side,
 * the VM gets the other side (hgr_serial_view_get_guest_fd(), given to
 * hgr_machine_start() as serial_fd), set raw so every byte passes as the
 * guest sent it. What the user types goes to the guest; 10,000 lines of
 * scrollback; Ctrl+Shift+C copies, Ctrl+Shift+V pastes.
 */
#pragma once

#include <vte/vte.h>

G_BEGIN_DECLS

#define HGR_TYPE_SERIAL_VIEW (hgr_serial_view_get_type())
G_DECLARE_FINAL_TYPE(HgrSerialView, hgr_serial_view, HGR, SERIAL_VIEW, VteTerminal)

GtkWidget *hgr_serial_view_new(void);

/* The guest's end of the terminal, owned by the view (valid while it
 * lives); -1 when no pseudo-terminal could be made (the view says why). */
int hgr_serial_view_get_guest_fd(HgrSerialView *view);

G_END_DECLS
