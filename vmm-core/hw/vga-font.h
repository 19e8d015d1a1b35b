/* vga-font.h — the 8x16 code page 437 font the text renderer draws with,
 * generated at build time from a Debian console font (gen-vga-font.py). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define HGR_VGA_FONT_HEIGHT 16

/* false when the build found no console font: the glyphs are blank. */
extern const bool hgr_vga_font_present;
extern const uint8_t hgr_vga_font[256][HGR_VGA_FONT_HEIGHT];
