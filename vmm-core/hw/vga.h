/* vga.h — standard VGA with the Bochs VBE extensions (PCI 1234:1111).
 *
 * BAR0: 16 MiB prefetchable VRAM (the linear framebuffer). BAR2: 4 KiB
 * MMIO, VGA ports 0x3c0-0x3df at 0x400 and the Bochs dispi registers at
 * 0x500, as QEMU's stdvga. realize() also takes ports 0x3c0-0x3df and
 * 0x1ce-0x1cf and the 0xa0000-0xbffff window on the board buses.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../core/device.h"
#include "hangar/console.h"

#define HGR_VGA_VRAM_SIZE (16u << 20)
#define HGR_VGA_MAX_XRES  2560
#define HGR_VGA_MAX_YRES  1600

HgrDevice *hgr_vga_new(const char *id);

/* The VRAM the device owns (page aligned, HGR_VGA_VRAM_SIZE bytes), for the
 * machine to map as a RAM slot where BAR0 decodes. */
uint8_t *hgr_vga_vram(HgrDevice *dev, size_t *size);

/* The next hgr_vga_update() reports the whole surface dirty. */
void hgr_vga_mark_dirty(HgrDevice *dev);

/* Renders the current frame and returns it (valid until the next call);
 * dirty[0..*n_dirty) are the areas that differ from the previous frame,
 * at most max_dirty of them (the last one absorbs the rest). */
const HgrConsoleSurface *hgr_vga_update(HgrDevice *dev, HgrConsoleRect *dirty,
                                        unsigned max_dirty, unsigned *n_dirty);
