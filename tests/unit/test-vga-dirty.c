/* test-vga-dirty.c — which parts of the frame the VGA redraws: KVM's dirty
 * log of VRAM pages turned into areas of the frame (fixed cases, then random
 * modes and pages), and updates driven by a fake dirty log together with
 * Hangar's own writes, mode and palette changes. */
#include "vga-fixture.h"

/* --- what KVM's dirty log says, turned into areas of the frame -------- */

static void set_page(uint64_t *bits, size_t page)
{
    bits[page / 64] |= 1ull << (page % 64);
}

static void assert_rect(const HgrConsoleRect *r, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    g_assert_cmpuint(r->x, ==, x);
    g_assert_cmpuint(r->y, ==, y);
    g_assert_cmpuint(r->width, ==, w);
    g_assert_cmpuint(r->height, ==, h);
}

static unsigned pages_to_rects(const uint64_t *bits, size_t n_pages, uint32_t width,
                               uint32_t height, uint32_t bytes, uint32_t line, uint64_t start,
                               HgrConsoleRect *out, unsigned max)
{
    VgaVbeMode m = { .width = width, .height = height, .bpp = bytes == 4 ? 32 : bytes * 8,
                     .bytes = bytes, .line = line, .start = start };
    return vga_dirty_pages_to_rects(bits, n_pages, &m, out, max);
}

static void test_dirty_pages_to_rects(void)
{
    uint64_t bits[VGA_PAGE_WORDS] = { 0 };
    HgrConsoleRect r[16];
    unsigned n;

    /* Nothing written: nothing to redraw. */
    g_assert_cmpuint(pages_to_rects(bits, VGA_VRAM_PAGES, 1920, 1080, 4, 7680, 0, r, 16), ==, 0);

    /* 1920x1080x32: a row is 7680 bytes, 1.875 pages. Page 0 is the first
     * 1024 pixels of row 0; page 2 starts 512 bytes into row 1. */
    set_page(bits, 0);
    n = pages_to_rects(bits, VGA_VRAM_PAGES, 1920, 1080, 4, 7680, 0, r, 16);
    g_assert_cmpuint(n, ==, 1);
    assert_rect(&r[0], 0, 0, 1024, 1);
    memset(bits, 0, sizeof(bits));
    set_page(bits, 2);
    n = pages_to_rects(bits, VGA_VRAM_PAGES, 1920, 1080, 4, 7680, 0, r, 16);
    assert_rect(&r[0], 128, 1, 1024, 1);
    /* Pages on neighbouring rows make one band. */
    set_page(bits, 0);
    n = pages_to_rects(bits, VGA_VRAM_PAGES, 1920, 1080, 4, 7680, 0, r, 16);
    g_assert_cmpuint(n, ==, 1);
    assert_rect(&r[0], 0, 0, 1152, 2);
    /* A page across a row's end (page 1: the end of row 0 and the start of
     * row 1) covers both rows. Far rows stay apart. */
    memset(bits, 0, sizeof(bits));
    set_page(bits, 1);
    set_page(bits, 500 * 7680 / 4096);
    n = pages_to_rects(bits, VGA_VRAM_PAGES, 1920, 1080, 4, 7680, 0, r, 16);
    g_assert_cmpuint(n, ==, 2);
    assert_rect(&r[0], 0, 0, 1920, 2);
    g_assert_cmpuint(r[1].y, ==, 499);         /* page 937 starts in row 499 */
    g_assert_cmpuint(r[1].y + r[1].height, ==, 501);

    /* 24 bpp, 2000 pixels (6000 bytes a row): pixel 1365 straddles pages 0
     * and 1, so page 0 alone covers it. */
    memset(bits, 0, sizeof(bits));
    set_page(bits, 0);
    n = pages_to_rects(bits, VGA_VRAM_PAGES, 2000, 100, 3, 6000, 0, r, 16);
    assert_rect(&r[0], 0, 0, 1366, 1);

    /* A virtual screen wider than the visible one: 1024 pixels of 32 bits
     * shown out of 12288-byte rows. Pages 1 and 2 hold only the hidden
     * part of row 0; page 3 is all of row 1's visible pixels. */
    memset(bits, 0, sizeof(bits));
    set_page(bits, 1);
    set_page(bits, 2);
    g_assert_cmpuint(pages_to_rects(bits, VGA_VRAM_PAGES, 1024, 768, 4, 12288, 0, r, 16), ==, 0);
    set_page(bits, 3);
    n = pages_to_rects(bits, VGA_VRAM_PAGES, 1024, 768, 4, 12288, 0, r, 16);
    g_assert_cmpuint(n, ==, 1);
    assert_rect(&r[0], 0, 1, 1024, 1);

    /* Panned: pages before the frame's start are not in it. */
    memset(bits, 0, sizeof(bits));
    set_page(bits, 0);
    set_page(bits, 1);
    g_assert_cmpuint(pages_to_rects(bits, VGA_VRAM_PAGES, 1024, 768, 4, 4096, 2 * 4096, r, 16),
                     ==, 0);
    set_page(bits, 2);
    n = pages_to_rects(bits, VGA_VRAM_PAGES, 1024, 768, 4, 4096, 2 * 4096, r, 16);
    assert_rect(&r[0], 0, 0, 1024, 1);

    /* Every page of VRAM written (more than the frame): the frame, once. */
    memset(bits, 0xff, sizeof(bits));
    n = pages_to_rects(bits, VGA_VRAM_PAGES, 800, 600, 4, 3200, 0, r, 16);
    g_assert_cmpuint(n, ==, 1);
    assert_rect(&r[0], 0, 0, 800, 600);

    /* More areas than room: the last absorbs the rest. */
    memset(bits, 0, sizeof(bits));
    for (unsigned i = 0; i < 10; i++)
        set_page(bits, i * 100);
    n = pages_to_rects(bits, VGA_VRAM_PAGES, 1024, 768, 4, 4096, 0, r, 3);
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmpuint(r[0].y, ==, 0);
    g_assert_cmpuint(r[1].y, ==, 100);
    g_assert_cmpuint(r[2].y, ==, 200);
    g_assert_cmpuint(r[2].y + r[2].height, ==, 701);   /* rows 800 and 900 are off the frame */

    /* Modes no check would let through still give nothing outside. */
    memset(bits, 0xff, sizeof(bits));
    g_assert_cmpuint(pages_to_rects(bits, VGA_VRAM_PAGES, 0, 600, 4, 3200, 0, r, 16), ==, 0);
    g_assert_cmpuint(pages_to_rects(bits, VGA_VRAM_PAGES, 800, 600, 4, 100, 0, r, 16), ==, 0);
    g_assert_cmpuint(pages_to_rects(bits, VGA_VRAM_PAGES, 800, 600, 0, 3200, 0, r, 16), ==, 0);
    g_assert_cmpuint(pages_to_rects(bits, VGA_VRAM_PAGES, 800, 600, 4, 3200, UINT64_MAX - 5, r,
                                    16), ==, 0);
    g_assert_cmpuint(pages_to_rects(bits, VGA_VRAM_PAGES, 800, 600, 4, 3200, 0, r, 0), ==, 0);
    n = pages_to_rects(bits, VGA_VRAM_PAGES, 800, 600000, 4, UINT32_MAX, 0, r, 16);
    g_assert_cmpuint(n, ==, 1);
    assert_rect(&r[0], 0, 0, 800, 1);          /* 16 MiB is not even one such row */
}

/* Random modes and random pages: every area lies inside the frame, areas
 * come in row order without sharing a row, and every pixel whose bytes
 * touch a written page is in one. */
static void test_dirty_pages_to_rects_random(void)
{
    GRand *rand = g_rand_new_with_seed(7);
    uint64_t bits[VGA_PAGE_WORDS];
    HgrConsoleRect r[8];

    for (unsigned round = 0; round < 400; round++) {
        uint32_t bytes = (uint32_t)g_rand_int_range(rand, 1, 5);
        uint32_t width = (uint32_t)g_rand_int_range(rand, 1, 2561);
        uint32_t height = (uint32_t)g_rand_int_range(rand, 1, 1601);
        uint32_t line = width * bytes + (uint32_t)g_rand_int_range(rand, 0, 9000);
        uint64_t start = (uint64_t)g_rand_int_range(rand, 0, 1 << 22);
        unsigned max = (unsigned)g_rand_int_range(rand, 1, G_N_ELEMENTS(r) + 1);
        unsigned density = (unsigned)g_rand_int_range(rand, 0, 4);

        memset(bits, 0, sizeof(bits));
        for (unsigned p = 0; p < VGA_VRAM_PAGES; p++)
            if (density && g_rand_int_range(rand, 0, 1000) < (int)(density * density))
                set_page(bits, p);
        unsigned n = pages_to_rects(bits, VGA_VRAM_PAGES, width, height, bytes, line, start, r,
                                    max);
        g_assert_cmpuint(n, <=, max);
        for (unsigned i = 0; i < n; i++) {
            g_assert_cmpuint(r[i].width, >, 0);
            g_assert_cmpuint(r[i].height, >, 0);
            g_assert_cmpuint(r[i].x + r[i].width, <=, width);
            g_assert_cmpuint(r[i].y + r[i].height, <=, height);
            if (i)
                g_assert_cmpuint(r[i - 1].y + r[i - 1].height, <=, r[i].y);
        }
        for (unsigned k = 0; k < 2000; k++) {
            uint32_t x = (uint32_t)g_rand_int_range(rand, 0, (gint32)width);
            uint32_t y = (uint32_t)g_rand_int_range(rand, 0, (gint32)height);
            uint64_t a = start + (uint64_t)y * line + (uint64_t)x * bytes;
            bool written = false;
            for (uint64_t p = a / 4096; p <= (a + bytes - 1) / 4096 && p < VGA_VRAM_PAGES; p++)
                written = written || (bits[p / 64] >> (p % 64) & 1);
            if (!written)
                continue;
            bool covered = false;
            for (unsigned i = 0; i < n; i++)
                covered = covered || (x >= r[i].x && x < r[i].x + r[i].width &&
                                      y >= r[i].y && y < r[i].y + r[i].height);
            if (!covered)
                g_error("round %u: pixel (%u,%u) on a written page is in no area", round, x, y);
        }
    }
    g_rand_free(rand);
}

/* A board whose "KVM" dirty log the test writes; it is cleared when
 * fetched, as KVM_GET_DIRTY_LOG does. */
typedef struct {
    bool mapped;
    unsigned calls;
    uint64_t bits[VGA_PAGE_WORDS];
} FakeLog;

static bool fake_get_dirty_log(void *opaque, const void *hva, uint64_t *bitmap, size_t n_pages)
{
    FakeLog *log = opaque;

    g_assert_cmpuint(n_pages, ==, VGA_VRAM_PAGES);
    log->calls++;
    if (!log->mapped)
        return false;
    memcpy(bitmap, log->bits, sizeof(log->bits));
    memset(log->bits, 0, sizeof(log->bits));
    return true;
}

static void guest_pixel(Fixture *f, FakeLog *log, uint32_t x, uint32_t y, uint32_t width,
                        uint32_t px)
{
    size_t at = ((size_t)y * width + x) * 4;
    memcpy(f->vram + at, &px, 4);
    set_page(log->bits, at / 4096);
}

/* With the dirty log, an update redraws what the log and Hangar's own
 * writes say changed, and nothing else; mode and palette changes, a full
 * request and a lost log still give the whole picture. */
static void test_dirty_log(void)
{
    Fixture f;
    FakeLog log = { .mapped = true };
    HgrConsoleRect dirty[16];
    unsigned n;

    fixture_init(&f);
    f.tb->board.get_dirty_log = fake_get_dirty_log;
    f.tb->board.opaque = &log;
    set_mode(&f, 1920, 1080, 32);
    for (uint32_t y = 0; y < 1080; y++)
        for (uint32_t x = 0; x < 1920; x++) {
            uint32_t px = pattern(x, y);
            memcpy(f.vram + (y * 1920 + x) * 4, &px, 4);
        }
    const HgrConsoleSurface *s = update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 1);
    assert_rect(&dirty[0], 0, 0, 1920, 1080);
    g_assert_cmpuint(log.calls, ==, 1);

    /* The guest paints a 10x4 block: that block, exactly. */
    for (uint32_t y = 700; y < 704; y++)
        for (uint32_t x = 1500; x < 1510; x++)
            guest_pixel(&f, &log, x, y, 1920, 0x00ff00);
    s = update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 1);
    assert_rect(&dirty[0], 1500, 700, 10, 4);
    g_assert_cmphex(pixel(s, 1505, 702), ==, 0x00ff00);
    g_assert_cmphex(pixel(s, 1499, 702), ==, pattern(1499, 702));
    g_assert_cmphex(pixel(s, 1505, 704), ==, pattern(1505, 704));

    /* Logged pages whose pixels did not change: nothing to show. */
    set_page(log.bits, 10);
    set_page(log.bits, 2000);
    update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 0);

    /* A write the log does not name is not looked for: no pass over the
     * frame when nothing is dirty. */
    f.vram[(300 * 1920 + 300) * 4] ^= 0xff;
    update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 0);

    /* Writes through the 0xa0000 window (bank 0) are Hangar's own: found
     * without the log. */
    test_io_write(&f.tb->mmio, 0xa0000 + 4 * 5, 4, 0x0000ff);
    s = update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 1);
    assert_rect(&dirty[0], 5, 0, 1, 1);
    g_assert_cmphex(pixel(s, 5, 0), ==, 0x0000ff);

    /* A full request redraws everything, the unlogged pixel too. */
    hgr_vga_mark_dirty(f.dev);
    s = update(&f, dirty, &n);
    assert_rect(&dirty[0], 0, 0, 1920, 1080);
    g_assert_cmphex(pixel(s, 300, 300), ==, pattern(300, 300) ^ 0xff);

    /* No log (the slot is gone): frames are compared whole again. */
    log.mapped = false;
    f.vram[(400 * 1920 + 10) * 4] ^= 0xff;
    update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 1);
    assert_rect(&dirty[0], 10, 400, 1, 1);
    log.mapped = true;

    /* 8 bpp: a palette change redraws every pixel of that colour. */
    set_mode(&f, 640, 480, 8);
    memset(f.vram, 7, 640 * 480);
    update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 1);
    update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 0);
    test_io_write(&f.tb->pio, 0x3c8, 1, 7);
    test_io_write(&f.tb->pio, 0x3c9, 1, 0x3f);
    test_io_write(&f.tb->pio, 0x3c9, 1, 0x00);
    test_io_write(&f.tb->pio, 0x3c9, 1, 0x00);
    s = update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 1);
    assert_rect(&dirty[0], 0, 0, 640, 480);
    g_assert_cmphex(pixel(s, 639, 479), ==, 0xff0000);

    /* A mode change: the new frame whole. */
    set_mode(&f, 800, 600, 32);
    s = update(&f, dirty, &n);
    g_assert_cmpuint(s->width, ==, 800);
    assert_rect(&dirty[0], 0, 0, 800, 600);
    fixture_fini(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/vga/dirty-pages-to-rects", test_dirty_pages_to_rects);
    g_test_add_func("/vmm/vga/dirty-pages-to-rects-random", test_dirty_pages_to_rects_random);
    g_test_add_func("/vmm/vga/dirty-log", test_dirty_log);
    return g_test_run();
}
