/* vm-preview.h — a live thumbnail of a machine's screen.
 *
 * While the machine runs in this process, every 500 ms (only while the
 * widget is mapped) it reads a full frame with hgr_vm_display_update(vm,
 * true, ...) — which leaves the live view's dirty areas alone — and shows
 * it scaled down (frame-scale.h). While another process runs it (hangarctl
 * start), every 3 s it asks that process for a screenshot
 * (hgr_machine_screenshot_async, into a private file that is removed once
 * read) and shows it scaled the same way. Otherwise, or when no picture
 * comes, it shows an icon for the state.
 */
#pragma once

#include <gtk/gtk.h>

#include "../library/machine.h"

G_BEGIN_DECLS

#define HGR_TYPE_VM_PREVIEW (hgr_vm_preview_get_type())
G_DECLARE_FINAL_TYPE(HgrVmPreview, hgr_vm_preview, HGR, VM_PREVIEW, GtkWidget)

/* Properties: "machine" (HgrMachine, may be NULL), "max-width" and
 * "max-height" (the thumbnail's box in pixels), "resolution" (read-only
 * string: the guest's screen mode, "1024 × 768", or NULL). */
GtkWidget *hgr_vm_preview_new(void);
void hgr_vm_preview_set_machine(HgrVmPreview *self, HgrMachine *m);
HgrMachine *hgr_vm_preview_get_machine(HgrVmPreview *self);
const char *hgr_vm_preview_get_resolution(HgrVmPreview *self);

G_END_DECLS
