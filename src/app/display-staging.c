/* display-staging.c — copies the changed areas of the guest frame out from
 * under the VM's display lock (see display-staging.h). */
#include <string.h>

#include "display-staging.h"

void hgr_display_staging_init(HgrDisplayStaging *st)
{
    memset(st, 0, sizeof(*st));
}

void hgr_display_staging_clear(HgrDisplayStaging *st)
{
    g_clear_pointer(&st->pixels, g_free);
    hgr_display_staging_init(st);
}

bool hgr_display_rect_clip(HgrConsoleRect *r, uint32_t width, uint32_t height)
{
    if (r->x >= width || r->y >= height || !r->width || !r->height)
        return false;
    /* Compared by subtraction: x + width may wrap around. */
    if (r->width > width - r->x)
        r->width = width - r->x;
    if (r->height > height - r->y)
        r->height = height - r->y;
    return true;
}

static bool rect_contains(const HgrConsoleRect *outer, const HgrConsoleRect *r)
{
    return r->x >= outer->x && r->y >= outer->y &&
           r->x + r->width <= outer->x + outer->width &&
           r->y + r->height <= outer->y + outer->height;
}

static HgrConsoleRect rect_union(const HgrConsoleRect *a, const HgrConsoleRect *b)
{
    uint32_t x0 = MIN(a->x, b->x), y0 = MIN(a->y, b->y);
    uint32_t x1 = MAX(a->x + a->width, b->x + b->width);
    uint32_t y1 = MAX(a->y + a->height, b->y + b->height);
    return (HgrConsoleRect){ x0, y0, x1 - x0, y1 - y0 };
}

/* Remembers r (already clipped) for the next upload. */
static void add_pending(HgrDisplayStaging *st, const HgrConsoleRect *r)
{
    for (unsigned i = 0; i < st->n_pending; i++)
        if (rect_contains(&st->pending[i], r))
            return;
    if (r->width == st->width && r->height == st->height) {
        st->pending[0] = *r;
        st->n_pending = 1;
        return;
    }
    if (st->n_pending < HGR_DISPLAY_STAGING_MAX_RECTS) {
        st->pending[st->n_pending++] = *r;
        return;
    }
    /* Out of room: the last area grows to cover this one too. Uploading a
     * little more than changed is cheaper than tracking every rectangle. */
    HgrConsoleRect *last = &st->pending[HGR_DISPLAY_STAGING_MAX_RECTS - 1];
    *last = rect_union(last, r);
}

static void copy_rect(HgrDisplayStaging *st, const HgrConsoleSurface *s,
                      const HgrConsoleRect *r)
{
    size_t dst_stride = (size_t)st->width * 4;
    size_t row_bytes = (size_t)r->width * 4;
    const uint8_t *src = s->data + (size_t)r->y * s->stride + (size_t)r->x * 4;
    uint8_t *dst = st->pixels + (size_t)r->y * dst_stride + (size_t)r->x * 4;

    if (row_bytes == dst_stride && s->stride == dst_stride) {
        memcpy(dst, src, row_bytes * r->height);       /* whole rows: one copy */
        return;
    }
    for (uint32_t row = 0; row < r->height; row++)
        memcpy(dst + row * dst_stride, src + row * (size_t)s->stride, row_bytes);
}

static bool surface_usable(const HgrConsoleSurface *s)
{
    return s && s->data && s->format == HGR_CONSOLE_FORMAT_XRGB8888 &&
           s->width && s->height &&
           s->width <= HGR_DISPLAY_STAGING_MAX_DIM &&
           s->height <= HGR_DISPLAY_STAGING_MAX_DIM &&
           s->stride / 4 >= s->width;
}

/* Empties the buffer: the display is off. */
static bool go_dark(HgrDisplayStaging *st)
{
    if (!st->pixels && !st->width)
        return false;
    g_clear_pointer(&st->pixels, g_free);
    st->width = st->height = 0;
    st->n_pending = 0;
    st->resized = true;
    return true;
}

bool hgr_display_staging_take(HgrDisplayStaging *st, const HgrConsoleSurface *s,
                              const HgrConsoleRect *dirty, unsigned n_dirty)
{
    if (!surface_usable(s))
        return go_dark(st) || st->resized;

    if (s->width != st->width || s->height != st->height || !st->pixels) {
        g_free(st->pixels);
        st->pixels = g_try_malloc((size_t)s->width * s->height * 4);
        if (!st->pixels) {                     /* shown as off, nothing lost */
            st->width = st->height = 0;
            st->n_pending = 0;
            st->resized = true;
            return true;
        }
        st->width = s->width;
        st->height = s->height;
        st->resized = true;
        st->n_pending = 0;
        /* The new buffer holds nothing yet, whatever the guest says changed. */
        HgrConsoleRect all = { 0, 0, s->width, s->height };
        copy_rect(st, s, &all);
        add_pending(st, &all);
        return true;
    }

    for (unsigned i = 0; i < n_dirty; i++) {
        HgrConsoleRect r = dirty[i];
        if (!hgr_display_rect_clip(&r, st->width, st->height))
            continue;
        copy_rect(st, s, &r);
        add_pending(st, &r);
    }
    return st->n_pending > 0 || st->resized;
}

void hgr_display_staging_done(HgrDisplayStaging *st)
{
    st->n_pending = 0;
    st->resized = false;
}
