/* frame-scale.h — a VM's screen shrunk to a thumbnail, without GTK.
 *
 * The manager window's previews read full frames from vmm-core twice a
 * second and show them a few hundred pixels wide. A box filter (each
 * thumbnail pixel the mean of the screen pixels it covers) keeps text and
 * thin lines legible where point sampling would drop them.
 */
#pragma once

#include <hangar/console.h>
#include <stdbool.h>
#include <stdint.h>

/* The largest size with src's aspect ratio that fits max_w x max_h, at
 * least 1x1; never larger than src (thumbnails do not enlarge). 0x0 when
 * src or the box is empty. */
void hgr_frame_fit(uint32_t src_w, uint32_t src_h, uint32_t max_w, uint32_t max_h,
                   uint32_t *out_w, uint32_t *out_h);

/* Scales s (XRGB8888) into dst, dst_w x dst_h pixels of 4 bytes B, G, R, A
 * (alpha 255; GDK_MEMORY_B8G8R8A8), rows of dst_w * 4 bytes. Returns false,
 * leaving dst alone, when s is empty or has a size or stride that cannot
 * be read (stride below width * 4) or dst is empty. */
bool hgr_frame_scale(const HgrConsoleSurface *s, uint8_t *dst, uint32_t dst_w, uint32_t dst_h);
