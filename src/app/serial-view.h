/* serial-view.h — the VM's serial port as a terminal (VTE).
 *
 * A pseudo-terminal pair stands between the view and the VM: the view's
 * VTE reads and writes the master side, the VM gets the other side (given
 * to hgr_machine_start() as serial_fd), raw so every byte passes as the
 * guest sent it. The pair belongs to whoever keeps it for the VM (the VM
 * window keeps it with the machine, so the VM's serial port outlives a
 * closed window); a view attaches to its master. What the user types goes
 * to the guest; 10,000 lines of scrollback; Ctrl+Shift+C copies,
 * Ctrl+Shift+V pastes.
 */
#pragma once

#include <vte/vte.h>

G_BEGIN_DECLS

typedef struct {
    int master;       /* the terminal's side */
    int guest;        /* the VM's side */
} HgrSerialPty;

/* A raw, non-blocking pair; NULL with error set when none can be made. */
HgrSerialPty *hgr_serial_pty_new(GError **error);
void hgr_serial_pty_free(HgrSerialPty *pty);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HgrSerialPty, hgr_serial_pty_free)

#define HGR_TYPE_SERIAL_VIEW (hgr_serial_view_get_type())
G_DECLARE_FINAL_TYPE(HgrSerialView, hgr_serial_view, HGR, SERIAL_VIEW, VteTerminal)

GtkWidget *hgr_serial_view_new(void);

/* Shows pty's terminal side (pty stays the caller's; the view keeps a
 * copy of its master). Fails only when the fd cannot be duplicated. */
gboolean hgr_serial_view_attach(HgrSerialView *view, const HgrSerialPty *pty, GError **error);

/* Writes a line of Hangar's own into the terminal (why it has no pty). */
void hgr_serial_view_say(HgrSerialView *view, const char *text);

G_END_DECLS
