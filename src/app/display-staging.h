/* display-staging.h — the guest frame as the display view keeps it between
 * the VM's display lock and the GL upload.
 *
 * hgr_display_staging_take() runs inside hgr_vm_display_update()'s callback,
 * under the VM's display lock: it copies only the changed areas of the
 * guest's surface into a tightly packed buffer and remembers them. Later,
 * without the lock, the GL side uploads exactly those areas and calls
 * hgr_display_staging_done(). Everything a surface says (size, stride,
 * rectangles) is checked: a guest controls it.
 */
#pragma once

#include <glib.h>
#include <hangar/console.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Areas remembered between two uploads; more are merged into the last. */
#define HGR_DISPLAY_STAGING_MAX_RECTS 16
/* Larger frames are refused (treated as a display that is off). */
#define HGR_DISPLAY_STAGING_MAX_DIM 8192u

typedef struct {
    uint8_t *pixels;          /* width * height XRGB8888 words, row after row */
    uint32_t width, height;   /* 0 x 0 while the display is off */
    HgrConsoleRect pending[HGR_DISPLAY_STAGING_MAX_RECTS];
    unsigned n_pending;       /* areas changed since the last upload */
    bool resized;             /* size changed since the last upload */
} HgrDisplayStaging;

void hgr_display_staging_init(HgrDisplayStaging *st);
void hgr_display_staging_clear(HgrDisplayStaging *st);

/* Copies the areas of s listed in dirty (clipped to s) into the buffer.
 * A new size reallocates the buffer and copies the whole frame. A surface
 * that is off (no data), too large, or whose stride is too small empties
 * the buffer. Returns true while there is something to upload (or, after
 * the display went off, to clear). */
bool hgr_display_staging_take(HgrDisplayStaging *st, const HgrConsoleSurface *s,
                              const HgrConsoleRect *dirty, unsigned n_dirty);

/* Clips r to a width x height frame; false when nothing is left. */
bool hgr_display_rect_clip(HgrConsoleRect *r, uint32_t width, uint32_t height);

/* The uploader has taken every pending area. */
void hgr_display_staging_done(HgrDisplayStaging *st);

G_END_DECLS
