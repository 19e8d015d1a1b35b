/* vga-render.c — VGA text and Bochs VBE frames into an XRGB8888 surface,
 * and the areas that changed since the previous frame.
 *
 * Registers are copied under the device lock, then VRAM is read without it
 * (the guest writes VRAM directly once it is mapped as RAM): every offset
 * comes from a mode checked against the VRAM size, so a mode change in the
 * middle of a frame tears the picture but never reads outside VRAM.
 *
 * How changes are found: in a VBE mode, with VRAM a KVM slot, from the
 * slot's dirty log (and the pages Hangar wrote itself): only rows on
 * written pages are converted and compared, and an unchanged screen costs
 * one ioctl. Otherwise (text mode, no slot, a new mode or palette) the
 * whole frame is rendered and compared with the previous one.
 */
#include "vga-private.h"

#include <string.h>

#include "vga-font.h"

#define TEXT_MAX_COLS 132
#define TEXT_MAX_ROWS 60
#define CELL_WIDTH    8

static uint32_t dac_rgb(const VgaState *s, unsigned index)
{
    const uint8_t *c = &s->dac[(index & 0xff) * 3];

    if (s->vbe[VBE_ENABLE] & VBE_8BIT_DAC)
        return (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
    /* 6-bit DAC values scaled to 8 bits. */
    uint32_t r = c[0] & 0x3f, g = c[1] & 0x3f, b = c[2] & 0x3f;
    return (r << 2 | r >> 4) << 16 | (g << 2 | g >> 4) << 8 | (b << 2 | b >> 4);
}

/* The DAC colour of a 4-bit text attribute colour, through the attribute
 * controller's palette. */
static uint32_t attr_rgb(const VgaState *s, unsigned color)
{
    unsigned index = s->ar[color & 0xf] & 0x3f;

    if (s->ar[0x10] & 0x80)
        index = (index & 0x0f) | (s->ar[0x14] & 0x0f) << 4;
    else
        index |= (s->ar[0x14] & 0x0c) << 4;
    return dac_rgb(s, index & s->dac_mask);
}

static bool frame_resize(Vga *v, uint32_t width, uint32_t height)
{
    size_t pixels = (size_t)width * height;

    if (pixels > v->fb_cap) {
        g_free(v->frame);
        g_free(v->prev);
        v->frame = g_new0(uint32_t, pixels);
        v->prev = g_new0(uint32_t, pixels);
        v->fb_cap = pixels;
    }
    if (width == v->fb_width && height == v->fb_height)
        return false;
    v->fb_width = width;
    v->fb_height = height;
    return true;
}

static void text_geometry(const VgaState *s, uint32_t *cols, uint32_t *rows)
{
    uint32_t vde = s->cr[0x12] | (s->cr[7] & 0x02) << 7 | (s->cr[7] & 0x40) << 3;
    uint32_t char_height = (s->cr[9] & 0x1f) + 1;

    *cols = CLAMP((uint32_t)s->cr[1] + 1, 1, TEXT_MAX_COLS);
    *rows = CLAMP((vde + 1) / char_height, 1, TEXT_MAX_ROWS);
}

static void render_cell(Vga *v, const VgaState *s, uint32_t col, uint32_t row, uint8_t ch,
                        uint8_t attr, bool cursor)
{
    uint32_t fg = attr_rgb(s, attr & 0xf), bg = attr_rgb(s, attr >> 4);
    unsigned cur_start = s->cr[0x0a] & 0x1f, cur_end = s->cr[0x0b] & 0x1f;
    uint32_t *out = v->frame + (size_t)row * HGR_VGA_FONT_HEIGHT * v->fb_width +
                    col * CELL_WIDTH;

    /* With blinking on (the default) bit 7 blinks instead of brightening
     * the background; frames do not blink, so it is just dropped. */
    if (s->ar[0x10] & 0x08)
        bg = attr_rgb(s, (attr >> 4) & 0x7);
    for (unsigned y = 0; y < HGR_VGA_FONT_HEIGHT; y++, out += v->fb_width) {
        uint8_t bits = hgr_vga_font[ch][y];
        if (cursor && y >= cur_start && y <= cur_end)
            bits = 0xff;
        for (unsigned x = 0; x < CELL_WIDTH; x++)
            out[x] = bits & (0x80 >> x) ? fg : bg;
    }
}

/* Text in odd/even layout: character i is VRAM byte 4 * i, its attribute
 * byte 4 * i + 1 (planes 0 and 1); the 16-bit address wraps as on the
 * hardware. */
static void render_text(Vga *v, const VgaState *s)
{
    uint32_t cols, rows;
    uint32_t start = (uint32_t)s->cr[0x0c] << 8 | s->cr[0x0d];
    uint32_t cursor = (uint32_t)s->cr[0x0e] << 8 | s->cr[0x0f];
    bool cursor_on = !(s->cr[0x0a] & 0x20);
    bool display_on = (s->ar_index & 0x20) && !(s->sr[1] & 0x20);

    text_geometry(s, &cols, &rows);
    frame_resize(v, cols * CELL_WIDTH, rows * HGR_VGA_FONT_HEIGHT);
    if (!display_on) {
        memset(v->frame, 0, (size_t)v->fb_width * v->fb_height * 4);
        return;
    }
    for (uint32_t r = 0; r < rows; r++) {
        for (uint32_t c = 0; c < cols; c++) {
            uint32_t addr = (start + r * cols + c) & 0xffff;
            size_t at = (size_t)addr * 4;
            render_cell(v, s, c, r, v->vram[at], v->vram[at + 1],
                        cursor_on && addr == cursor);
        }
    }
}

static uint32_t vbe_pixel(const VgaState *s, const uint8_t *p, unsigned bpp)
{
    uint32_t x;

    switch (bpp) {
    case 8:
        return dac_rgb(s, p[0]);
    case 15:
        x = p[0] | p[1] << 8;
        return ((x >> 10) & 0x1f) << 19 | ((x >> 5) & 0x1f) << 11 | (x & 0x1f) << 3;
    case 16:
        x = p[0] | p[1] << 8;
        return ((x >> 11) & 0x1f) << 19 | ((x >> 5) & 0x3f) << 10 | (x & 0x1f) << 3;
    default:                                   /* 24 and 32: B, G, R (, X) */
        return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
    }
}

/* Pixels [x0, x1) of row y of a VBE frame, converted to XRGB8888. */
static void convert_row(Vga *v, const VgaState *s, const VgaVbeMode *m, uint32_t y,
                        uint32_t x0, uint32_t x1, uint32_t *out)
{
    const uint8_t *src = v->vram + m->start + (size_t)y * m->line;

    if (m->bpp == 32) {
        for (uint32_t x = x0; x < x1; x++)
            out[x - x0] = (uint32_t)src[4 * x + 2] << 16 | (uint32_t)src[4 * x + 1] << 8 |
                          src[4 * x];
        return;
    }
    for (uint32_t x = x0; x < x1; x++)
        out[x - x0] = vbe_pixel(s, src + (size_t)x * m->bytes, m->bpp);
}

static void render_vbe(Vga *v, const VgaState *s, const VgaVbeMode *m)
{
    frame_resize(v, m->width, m->height);
    for (uint32_t y = 0; y < m->height; y++)
        convert_row(v, s, m, y, 0, m->width, v->frame + (size_t)y * m->width);
}

/* Adds columns [x0, x1) of row y to the changed areas: rows arrive in
 * order; a row next to the last area widens it, and once max areas are
 * used the last absorbs the rest. */
static void add_dirty_row(HgrConsoleRect *dirty, unsigned *n, unsigned max, uint32_t y,
                          uint32_t x0, uint32_t x1)
{
    HgrConsoleRect *r = *n ? &dirty[*n - 1] : NULL;

    if (r && (r->y + r->height == y || *n == max)) {
        uint32_t left = MIN(r->x, x0), right = MAX(r->x + r->width, x1);
        r->x = left;
        r->width = right - left;
        r->height = y + 1 - r->y;
    } else if (*n < max) {
        dirty[(*n)++] = (HgrConsoleRect){ x0, y, x1 - x0, 1 };
    }
}

/* Bands of changed rows, each as wide as the changed columns in it. */
static unsigned diff_frames(Vga *v, HgrConsoleRect *dirty, unsigned max)
{
    unsigned n = 0;
    uint32_t w = v->fb_width;

    for (uint32_t y = 0; y < v->fb_height && max; y++) {
        const uint32_t *a = v->frame + (size_t)y * w, *b = v->prev + (size_t)y * w;
        uint32_t x0 = 0, x1 = w;

        if (!memcmp(a, b, (size_t)w * 4))
            continue;
        while (a[x0] == b[x0])
            x0++;
        while (a[x1 - 1] == b[x1 - 1])
            x1--;
        add_dirty_row(dirty, &n, max, y, x0, x1);
    }
    return n;
}

unsigned vga_dirty_pages_to_rects(const uint64_t *bitmap, size_t n_pages, const VgaVbeMode *m,
                                  HgrConsoleRect *out, unsigned max)
{
    uint64_t row_bytes = (uint64_t)m->width * m->bytes;
    unsigned n = 0;
    size_t p = 0;

    if (!max || !m->width || !m->height || !m->bytes || m->line < row_bytes)
        return 0;
    while (p < n_pages) {
        if (!(bitmap[p / 64] >> (p % 64) & 1)) {
            p++;
            continue;
        }
        size_t first = p;
        while (p < n_pages && (bitmap[p / 64] >> (p % 64) & 1))
            p++;
        /* Bytes [a, b) of the frame, which starts at m->start. */
        uint64_t a = (uint64_t)first * VGA_PAGE_SIZE, b = (uint64_t)p * VGA_PAGE_SIZE;
        if (b <= m->start)
            continue;
        a = a > m->start ? a - m->start : 0;
        b -= m->start;
        uint64_t y0 = a / m->line, y1 = (b - 1) / m->line;
        uint64_t x0 = (a - y0 * m->line) / m->bytes;
        uint64_t x1 = m->width;
        if (x0 >= m->width) {                  /* starts past the row's pixels */
            y0++;
            x0 = 0;
        }
        if (y0 >= m->height)
            break;                             /* later pages lie further on */
        if (y0 > y1)
            continue;                          /* only the padding past a row */
        if (y1 >= m->height)
            y1 = m->height - 1;
        else if (y1 == y0)
            x1 = MIN((b - y0 * m->line + m->bytes - 1) / m->bytes, m->width);
        if (y1 > y0)
            x0 = 0;                            /* two rows or more: their width */

        HgrConsoleRect *r = n ? &out[n - 1] : NULL;
        if (r && (y0 <= (uint64_t)r->y + r->height || n == max)) {
            uint32_t left = MIN(r->x, (uint32_t)x0), right = MAX(r->x + r->width, (uint32_t)x1);
            r->x = left;
            r->width = right - left;
            r->height = MAX(r->y + r->height, (uint32_t)y1 + 1) - r->y;
        } else {
            out[n++] = (HgrConsoleRect){ (uint32_t)x0, (uint32_t)y0, (uint32_t)(x1 - x0),
                                         (uint32_t)(y1 - y0 + 1) };
        }
    }
    return n;
}

/* The frame holds mode m's picture and the guest can only have changed it
 * through dirty pages: converts the rows on those pages alone and compares
 * them with what the frame has. */
static unsigned update_dirty_rows(Vga *v, const VgaState *s, const VgaVbeMode *m,
                                  HgrConsoleRect *dirty, unsigned max)
{
    HgrConsoleRect areas[64];
    unsigned n_areas, n = 0;

    n_areas = vga_dirty_pages_to_rects(v->dirty_pages, VGA_VRAM_PAGES, m, areas,
                                       G_N_ELEMENTS(areas));
    for (unsigned i = 0; i < n_areas; i++) {
        const HgrConsoleRect *a = &areas[i];
        for (uint32_t y = a->y; y < a->y + a->height; y++) {
            uint32_t *out = v->frame + (size_t)y * m->width + a->x;
            uint32_t x0 = 0, x1 = a->width;

            convert_row(v, s, m, y, a->x, a->x + a->width, v->row);
            if (!memcmp(v->row, out, (size_t)a->width * 4))
                continue;
            while (v->row[x0] == out[x0])
                x0++;
            while (v->row[x1 - 1] == out[x1 - 1])
                x1--;
            memcpy(out + x0, v->row + x0, (size_t)(x1 - x0) * 4);
            add_dirty_row(dirty, &n, max, y, a->x + x0, a->x + x1);
        }
    }
    return n;
}

/* Whether the frame shows mode m as the guest's VRAM and palette would
 * draw it now, but for the pages written since. */
static bool frame_shows(const Vga *v, const VgaState *s, const VgaVbeMode *m)
{
    const VgaVbeMode *o = &v->shown_mode;

    if (!v->shown_vbe || v->full_refresh || o->width != m->width || o->height != m->height ||
        o->bpp != m->bpp || o->line != m->line || o->start != m->start)
        return false;
    if (m->bpp != 8)
        return true;
    return v->shown_dac8 == !!(s->vbe[VBE_ENABLE] & VBE_8BIT_DAC) &&
           !memcmp(v->shown_dac, s->dac, sizeof(v->shown_dac));
}

const HgrConsoleSurface *hgr_vga_update(HgrDevice *dev, HgrConsoleRect *dirty,
                                        unsigned max_dirty, unsigned *n_dirty)
{
    Vga *v = (Vga *)dev;
    VgaState s;
    VgaVbeMode mode;
    uint64_t written[VGA_PAGE_WORDS];
    bool resized, full, vbe;

    g_mutex_lock(&v->lock);
    s = v->s;
    memcpy(written, v->written, sizeof(written));
    memset(v->written, 0, sizeof(v->written));
    g_mutex_unlock(&v->lock);

    g_mutex_lock(&v->render_lock);
    *n_dirty = 0;
    vbe = vga_vbe_mode(s.vbe, v->vram_size, &mode);
    /* The log is fetched (and so cleared) before VRAM is read: what the
     * guest writes from now on is in the next one. */
    if (vbe && v->board && v->board->get_dirty_log &&
        v->board->get_dirty_log(v->board->opaque, v->vram, v->dirty_pages, VGA_VRAM_PAGES) &&
        frame_shows(v, &s, &mode)) {
        for (unsigned i = 0; i < VGA_PAGE_WORDS; i++)
            v->dirty_pages[i] |= written[i];
        *n_dirty = update_dirty_rows(v, &s, &mode, dirty, max_dirty);
        goto out;
    }

    uint32_t old_w = v->fb_width, old_h = v->fb_height;
    if (v->frame)
        memcpy(v->prev, v->frame, (size_t)old_w * old_h * 4);
    v->shown_vbe = false;
    if (vbe) {
        render_vbe(v, &s, &mode);
        v->shown_vbe = true;
        v->shown_mode = mode;
        v->shown_dac8 = s.vbe[VBE_ENABLE] & VBE_8BIT_DAC;
        memcpy(v->shown_dac, s.dac, sizeof(v->shown_dac));
    } else if (!(s.gr[6] & 0x01)) {
        render_text(v, &s);
    } else {
        frame_resize(v, 0, 0);                 /* VGA graphics modes: not drawn yet */
    }
    resized = v->fb_width != old_w || v->fb_height != old_h;
    full = resized || v->full_refresh;
    v->full_refresh = false;

    if (full && max_dirty && v->fb_width && v->fb_height) {
        dirty[0] = (HgrConsoleRect){ 0, 0, v->fb_width, v->fb_height };
        *n_dirty = 1;
    } else if (!full) {
        *n_dirty = diff_frames(v, dirty, max_dirty);
    }
out:
    v->surface = (HgrConsoleSurface){
        .data = v->fb_width ? (const uint8_t *)v->frame : NULL,
        .format = HGR_CONSOLE_FORMAT_XRGB8888,
        .width = v->fb_width,
        .height = v->fb_height,
        .stride = v->fb_width * 4,
    };
    g_mutex_unlock(&v->render_lock);
    return &v->surface;
}

void hgr_vga_mark_dirty(HgrDevice *dev)
{
    Vga *v = (Vga *)dev;

    g_mutex_lock(&v->render_lock);
    v->full_refresh = true;
    g_mutex_unlock(&v->render_lock);
}
