/* display-view.h — the graphical console of a running VM: a GtkGLArea that
 * shows the guest's frame (uploading only what changed, on each frame-clock
 * tick) and, once clicked, sends it keyboard and pointer input until the
 * host key (Right Ctrl) is pressed.
 *
 * Properties: "scale-to-fit" (boolean, read-write: scaled to the view with
 * the aspect kept, or one guest pixel per screen pixel), "grabbed"
 * (boolean, read-only: keyboard and pointer go to the guest).
 */
#pragma once

#include <gtk/gtk.h>
#include <hangar/vm.h>

G_BEGIN_DECLS

#define HGR_TYPE_DISPLAY_VIEW (hgr_display_view_get_type())
G_DECLARE_FINAL_TYPE(HgrDisplayView, hgr_display_view, HGR, DISPLAY_VIEW, GtkGLArea)

GtkWidget *hgr_display_view_new(void);

/* The VM to show and drive; NULL when it stops. Not referenced: the
 * caller sets NULL before vm goes away. */
void hgr_display_view_set_vm(HgrDisplayView *view, HgrVm *vm);

void hgr_display_view_set_scale_to_fit(HgrDisplayView *view, gboolean fit);
gboolean hgr_display_view_get_scale_to_fit(HgrDisplayView *view);

gboolean hgr_display_view_get_grabbed(HgrDisplayView *view);
/* Gives keyboard and pointer back to the host; the guest sees every key
 * it holds released. */
void hgr_display_view_release(HgrDisplayView *view);

/* A key event from the window (which sees keys before its accelerators
 * do): TRUE when it went to the guest (or was the host key). */
gboolean hgr_display_view_key(HgrDisplayView *view, guint hardware_keycode, gboolean down);

/* Presses the keys in order and releases them in reverse (Ctrl+Alt+Del). */
void hgr_display_view_send_combo(HgrDisplayView *view, const unsigned *evdev_codes, unsigned n);

G_END_DECLS
