/* screenshot.c — console surfaces as RGBA and as PNG (8-bit RGB, one
 * IDAT, zlib's deflate and CRC-32). */
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "hangar/console.h"
#include "hangar/vm.h"

static bool surface_ok(const HgrConsoleSurface *s)
{
    return s && s->data && s->width && s->height &&
           s->format == HGR_CONSOLE_FORMAT_XRGB8888 && s->stride / 4 >= s->width;
}

static uint32_t surface_pixel(const HgrConsoleSurface *s, uint32_t x, uint32_t y)
{
    const uint8_t *p = s->data + (size_t)y * s->stride + (size_t)x * 4;

    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

uint8_t *hgr_console_to_rgba(const HgrConsoleSurface *s)
{
    if (!surface_ok(s))
        return NULL;
    uint8_t *out = g_malloc((size_t)s->width * s->height * 4), *o = out;
    for (uint32_t y = 0; y < s->height; y++) {
        for (uint32_t x = 0; x < s->width; x++, o += 4) {
            uint32_t px = surface_pixel(s, x, y);
            o[0] = px >> 16;
            o[1] = px >> 8;
            o[2] = px;
            o[3] = 0xff;
        }
    }
    return out;
}

static void put_be32(GByteArray *out, uint32_t v)
{
    uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };
    g_byte_array_append(out, b, 4);
}

static void put_chunk(GByteArray *out, const char *type, const uint8_t *data, size_t len)
{
    uint32_t crc = crc32(0, (const Bytef *)type, 4);

    put_be32(out, (uint32_t)len);
    g_byte_array_append(out, (const guint8 *)type, 4);
    if (len) {
        g_byte_array_append(out, data, (guint)len);
        crc = crc32(crc, data, (uInt)len);
    }
    put_be32(out, crc);
}

GBytes *hgr_console_encode_png(const HgrConsoleSurface *s, GError **error)
{
    static const uint8_t magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

    if (!surface_ok(s)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE_INVALID,
                    "the display shows nothing to capture");
        return NULL;
    }
    /* Each row: filter type 0 (none), then R, G, B. */
    size_t row = 1 + (size_t)s->width * 3, raw_len = row * s->height;
    g_autofree uint8_t *raw = g_malloc(raw_len);
    for (uint32_t y = 0; y < s->height; y++) {
        uint8_t *o = raw + y * row;
        *o++ = 0;
        for (uint32_t x = 0; x < s->width; x++) {
            uint32_t px = surface_pixel(s, x, y);
            *o++ = px >> 16;
            *o++ = px >> 8;
            *o++ = px;
        }
    }
    uLongf zlen = compressBound(raw_len);
    g_autofree uint8_t *z = g_malloc(zlen);
    if (compress2(z, &zlen, raw, raw_len, Z_DEFAULT_COMPRESSION) != Z_OK) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY, "PNG: deflate failed");
        return NULL;
    }

    uint8_t ihdr[13] = {
        s->width >> 24, s->width >> 16, s->width >> 8, s->width,
        s->height >> 24, s->height >> 16, s->height >> 8, s->height,
        8, 2, 0, 0, 0,          /* 8 bits, truecolour, deflate, filter 0, no interlace */
    };
    GByteArray *out = g_byte_array_sized_new(zlen + 64);
    g_byte_array_append(out, magic, sizeof(magic));
    put_chunk(out, "IHDR", ihdr, sizeof(ihdr));
    put_chunk(out, "IDAT", z, zlen);
    put_chunk(out, "IEND", NULL, 0);
    return g_byte_array_free_to_bytes(out);
}

bool hgr_console_write_png(const HgrConsoleSurface *s, const char *path, GError **error)
{
    g_autoptr(GBytes) png = hgr_console_encode_png(s, error);
    gsize len;
    const char *data;

    if (!png)
        return false;
    data = g_bytes_get_data(png, &len);
    /* Written whole or not at all (a new file renamed over the old), but a
     * file that is replaced keeps its permissions: a screenshot asked for
     * into a private file (mode 0600, the app's thumbnails of a VM that
     * another process runs) stays private. */
    struct stat st;
    int mode = lstat(path, &st) == 0 && S_ISREG(st.st_mode) ? (int)(st.st_mode & 0777) : 0666;
    return g_file_set_contents_full(path, data, (gssize)len,
                                    G_FILE_SET_CONTENTS_CONSISTENT |
                                    G_FILE_SET_CONTENTS_ONLY_EXISTING,
                                    mode, error);
}
