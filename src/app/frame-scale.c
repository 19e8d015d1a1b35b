/* frame-scale.c — box-filter downscaling of console frames (frame-scale.h). */
#include "frame-scale.h"

#include <glib.h>
#include <string.h>

void hgr_frame_fit(uint32_t src_w, uint32_t src_h, uint32_t max_w, uint32_t max_h,
                   uint32_t *out_w, uint32_t *out_h)
{
    *out_w = *out_h = 0;
    if (!src_w || !src_h || !max_w || !max_h)
        return;
    if (max_w > src_w)
        max_w = src_w;
    if (max_h > src_h)
        max_h = src_h;
    /* Width-bound or height-bound: compare max_w / src_w with max_h / src_h
     * in 64-bit integers so no size can overflow or round the wrong way. */
    if ((uint64_t)max_w * src_h <= (uint64_t)max_h * src_w) {
        *out_w = max_w;
        *out_h = (uint32_t)MAX((uint64_t)max_w * src_h / src_w, 1);
    } else {
        *out_h = max_h;
        *out_w = (uint32_t)MAX((uint64_t)max_h * src_w / src_h, 1);
    }
}

/* The source span [*lo, *hi) that destination index i of n covers in a
 * source of size src: never empty, even when enlarging. */
static void span(uint32_t i, uint32_t n, uint32_t src, uint32_t *lo, uint32_t *hi)
{
    *lo = (uint32_t)((uint64_t)i * src / n);
    *hi = (uint32_t)((uint64_t)(i + 1) * src / n);
    if (*hi <= *lo)
        *hi = *lo + 1;
}

bool hgr_frame_scale(const HgrConsoleSurface *s, uint8_t *dst, uint32_t dst_w, uint32_t dst_h)
{
    if (!s || !s->data || !s->width || !s->height || !dst || !dst_w || !dst_h)
        return false;
    if (s->format != HGR_CONSOLE_FORMAT_XRGB8888 || s->stride / 4 < s->width)
        return false;

    g_autofree uint32_t *x_lo = g_new(uint32_t, dst_w);
    g_autofree uint32_t *x_hi = g_new(uint32_t, dst_w);
    g_autofree uint64_t *sums = g_new(uint64_t, (size_t)dst_w * 3);
    for (uint32_t dx = 0; dx < dst_w; dx++)
        span(dx, dst_w, s->width, &x_lo[dx], &x_hi[dx]);

    for (uint32_t dy = 0; dy < dst_h; dy++) {
        uint32_t y_lo, y_hi;
        span(dy, dst_h, s->height, &y_lo, &y_hi);
        memset(sums, 0, sizeof(uint64_t) * dst_w * 3);
        for (uint32_t y = y_lo; y < y_hi; y++) {
            const uint8_t *row = s->data + (size_t)y * s->stride;
            for (uint32_t dx = 0; dx < dst_w; dx++) {
                uint64_t b = 0, g = 0, r = 0;
                for (uint32_t x = x_lo[dx]; x < x_hi[dx]; x++) {
                    b += row[x * 4 + 0];
                    g += row[x * 4 + 1];
                    r += row[x * 4 + 2];
                }
                sums[dx * 3 + 0] += b;
                sums[dx * 3 + 1] += g;
                sums[dx * 3 + 2] += r;
            }
        }
        uint8_t *out = dst + (size_t)dy * dst_w * 4;
        for (uint32_t dx = 0; dx < dst_w; dx++) {
            uint64_t n = (uint64_t)(x_hi[dx] - x_lo[dx]) * (y_hi - y_lo);
            /* Rounded to nearest, so a solid colour stays exactly itself. */
            out[dx * 4 + 0] = (uint8_t)((sums[dx * 3 + 0] + n / 2) / n);
            out[dx * 4 + 1] = (uint8_t)((sums[dx * 3 + 1] + n / 2) / n);
            out[dx * 4 + 2] = (uint8_t)((sums[dx * 3 + 2] + n / 2) / n);
            out[dx * 4 + 3] = 255;
        }
    }
    return true;
}
