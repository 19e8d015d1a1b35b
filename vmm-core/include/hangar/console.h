/* console.h — a display's picture as frontends consume it.
 *
 * A display device publishes a surface (pixels, format, size, stride) and,
 * each time a frontend asks for a new frame, the rectangles that changed
 * since the last one. The GTK widget uploads only those; a screenshot
 * writes the whole surface as PNG.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    /* 32-bit little-endian words 0x00RRGGBB: bytes B, G, R, unused. */
    HGR_CONSOLE_FORMAT_XRGB8888,
} HgrConsoleFormat;

typedef struct {
    uint32_t x, y, width, height;
} HgrConsoleRect;

typedef struct {
    const uint8_t *data;     /* NULL (and 0x0) while the display is off */
    HgrConsoleFormat format;
    uint32_t width, height;
    uint32_t stride;         /* bytes from one row to the next */
} HgrConsoleSurface;

/* Tightly packed RGBA, 4 * width * height bytes (alpha 255); NULL for an
 * empty surface. */
uint8_t *hgr_console_to_rgba(const HgrConsoleSurface *s);

/* The surface as a PNG file image (8-bit RGB). */
GBytes *hgr_console_encode_png(const HgrConsoleSurface *s, GError **error);
bool hgr_console_write_png(const HgrConsoleSurface *s, const char *path, GError **error);
