/* test-display-staging.c — the display view's copy of the guest frame:
 * only changed areas are copied, every rectangle a guest can report is
 * clipped, and mode changes and a display turned off are followed. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "display-staging.h"

/* A guest frame whose last byte is followed by an inaccessible page, so a
 * copy reading past it crashes the test instead of passing silently. */
typedef struct {
    HgrConsoleSurface s;
    uint8_t *map;
    size_t map_len;
} Frame;

static void frame_init(Frame *f, uint32_t width, uint32_t height, uint32_t stride)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = (size_t)stride * height;
    size_t pages = (len + page - 1) / page;

    f->map_len = (pages + 1) * page;
    f->map = mmap(NULL, f->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(f->map != MAP_FAILED);
    g_assert_cmpint(mprotect(f->map + pages * page, page, PROT_NONE), ==, 0);
    uint8_t *data = f->map + pages * page - len;
    f->s = (HgrConsoleSurface){
        .data = data, .format = HGR_CONSOLE_FORMAT_XRGB8888,
        .width = width, .height = height, .stride = stride,
    };
}

static void frame_fini(Frame *f)
{
    munmap(f->map, f->map_len);
}

static uint32_t *px(Frame *f, uint32_t x, uint32_t y)
{
    return (uint32_t *)(uintptr_t)(f->s.data + (size_t)y * f->s.stride + (size_t)x * 4);
}

/* Every pixel gets a value that names the pixel and a generation. */
static void frame_paint(Frame *f, uint32_t gen)
{
    for (uint32_t y = 0; y < f->s.height; y++)
        for (uint32_t x = 0; x < f->s.width; x++)
            *px(f, x, y) = gen << 24 | y << 12 | x;
}

static uint32_t staged(const HgrDisplayStaging *st, uint32_t x, uint32_t y)
{
    uint32_t v;
    memcpy(&v, st->pixels + ((size_t)y * st->width + x) * 4, 4);
    return v;
}

static bool in_rect(const HgrConsoleRect *r, uint32_t x, uint32_t y)
{
    return x >= r->x && x - r->x < r->width && y >= r->y && y - r->y < r->height;
}

static void test_first_frame_copies_all(void)
{
    Frame f;
    HgrDisplayStaging st;
    HgrConsoleRect small = { 3, 4, 2, 2 };

    frame_init(&f, 64, 48, 64 * 4 + 32);      /* rows padded, as VBE allows */
    frame_paint(&f, 1);
    hgr_display_staging_init(&st);
    /* The guest reports a small change, but nothing was staged before. */
    g_assert_true(hgr_display_staging_take(&st, &f.s, &small, 1));
    g_assert_true(st.resized);
    g_assert_cmpuint(st.width, ==, 64);
    g_assert_cmpuint(st.height, ==, 48);
    g_assert_cmpuint(st.n_pending, ==, 1);
    g_assert_cmpuint(st.pending[0].width, ==, 64);
    g_assert_cmpuint(st.pending[0].height, ==, 48);
    for (uint32_t y = 0; y < 48; y++)
        g_assert_cmpmem(st.pixels + y * 64 * 4, 64 * 4, px(&f, 0, y), 64 * 4);
    hgr_display_staging_clear(&st);
    frame_fini(&f);
}

static void test_copies_only_dirty(void)
{
    Frame f;
    HgrDisplayStaging st;
    HgrConsoleRect dirty[] = { { 5, 6, 10, 3 }, { 0, 40, 64, 8 } };

    frame_init(&f, 64, 48, 64 * 4);
    frame_paint(&f, 1);
    hgr_display_staging_init(&st);
    hgr_display_staging_take(&st, &f.s, NULL, 0);
    hgr_display_staging_done(&st);
    g_assert_false(hgr_display_staging_take(&st, &f.s, NULL, 0));

    /* The whole frame changes; only two areas are reported. */
    frame_paint(&f, 2);
    g_assert_true(hgr_display_staging_take(&st, &f.s, dirty, G_N_ELEMENTS(dirty)));
    g_assert_false(st.resized);
    g_assert_cmpuint(st.n_pending, ==, 2);
    g_assert_cmpmem(&st.pending[0], sizeof(dirty[0]), &dirty[0], sizeof(dirty[0]));
    g_assert_cmpmem(&st.pending[1], sizeof(dirty[1]), &dirty[1], sizeof(dirty[1]));
    for (uint32_t y = 0; y < 48; y++) {
        for (uint32_t x = 0; x < 64; x++) {
            bool changed = in_rect(&dirty[0], x, y) || in_rect(&dirty[1], x, y);
            g_assert_cmphex(staged(&st, x, y), ==, (changed ? 2u : 1u) << 24 | y << 12 | x);
        }
    }
    hgr_display_staging_clear(&st);
    frame_fini(&f);
}

static void test_hostile_rects_clipped(void)
{
    Frame f;
    HgrDisplayStaging st;
    const HgrConsoleRect hostile[] = {
        { 60, 10, 100, 2 },                   /* runs off the right edge */
        { 10, 46, 2, 0xffffffffu },           /* runs off the bottom */
        { 8, 8, 0xfffffff8u, 1 },             /* x + width wraps to 0 */
        { 0xfffffff0u, 0, 0x20, 5 },          /* starts far outside, wraps back in */
        { 64, 0, 1, 1 },                      /* just outside */
        { 0, 48, 1, 1 },
        { 7, 7, 0, 5 },                       /* empty */
        { 0, 0, 0xffffffffu, 0xffffffffu },   /* everything and more */
    };
    const HgrConsoleRect clipped[] = {
        { 60, 10, 4, 2 }, { 10, 46, 2, 2 }, { 8, 8, 56, 1 }, { 0, 0, 64, 48 },
    };

    frame_init(&f, 64, 48, 64 * 4);
    frame_paint(&f, 1);
    hgr_display_staging_init(&st);
    hgr_display_staging_take(&st, &f.s, NULL, 0);
    hgr_display_staging_done(&st);

    frame_paint(&f, 2);
    /* Each alone: clipped to the frame, never read or written beyond it. */
    for (unsigned i = 0; i < G_N_ELEMENTS(hostile); i++) {
        HgrConsoleRect r = hostile[i];
        bool kept = hgr_display_rect_clip(&r, 64, 48);
        hgr_display_staging_take(&st, &f.s, &hostile[i], 1);
        g_assert_cmpuint(st.n_pending, ==, kept ? 1 : 0);
        if (kept) {
            g_assert_cmpuint(st.pending[0].x + st.pending[0].width, <=, 64);
            g_assert_cmpuint(st.pending[0].y + st.pending[0].height, <=, 48);
        }
        hgr_display_staging_done(&st);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(clipped); i++) {
        HgrConsoleRect r = hostile[i == 3 ? 7 : i];
        g_assert_true(hgr_display_rect_clip(&r, 64, 48));
        g_assert_cmpmem(&r, sizeof(r), &clipped[i], sizeof(r));
    }
    /* The last one covered the frame: everything is the new generation. */
    for (uint32_t y = 0; y < 48; y++)
        g_assert_cmpmem(st.pixels + y * 64 * 4, 64 * 4, px(&f, 0, y), 64 * 4);
    hgr_display_staging_clear(&st);
    frame_fini(&f);
}

static void test_mode_change(void)
{
    Frame a, b;
    HgrDisplayStaging st;
    HgrConsoleRect tiny = { 0, 0, 1, 1 };

    frame_init(&a, 64, 48, 64 * 4);
    frame_init(&b, 30, 100, 32 * 4);
    frame_paint(&a, 1);
    frame_paint(&b, 3);
    hgr_display_staging_init(&st);
    hgr_display_staging_take(&st, &a.s, NULL, 0);
    hgr_display_staging_done(&st);

    /* A new mode: whatever the guest reports, the whole frame is taken. */
    g_assert_true(hgr_display_staging_take(&st, &b.s, &tiny, 1));
    g_assert_true(st.resized);
    g_assert_cmpuint(st.width, ==, 30);
    g_assert_cmpuint(st.height, ==, 100);
    g_assert_cmpuint(st.n_pending, ==, 1);
    g_assert_cmpuint(st.pending[0].width * st.pending[0].height, ==, 3000);
    for (uint32_t y = 0; y < 100; y++)
        g_assert_cmpmem(st.pixels + y * 30 * 4, 30 * 4, px(&b, 0, y), 30 * 4);
    hgr_display_staging_clear(&st);
    frame_fini(&a);
    frame_fini(&b);
}

static void test_unusable_surfaces(void)
{
    Frame f;
    HgrDisplayStaging st;
    HgrConsoleSurface off = { 0 };

    frame_init(&f, 64, 48, 64 * 4);
    frame_paint(&f, 1);
    hgr_display_staging_init(&st);
    hgr_display_staging_take(&st, &f.s, NULL, 0);
    hgr_display_staging_done(&st);

    /* The display turns off: the view must clear once, then rest. */
    g_assert_true(hgr_display_staging_take(&st, &off, NULL, 0));
    g_assert_true(st.resized);
    g_assert_cmpuint(st.width, ==, 0);
    g_assert_null(st.pixels);
    hgr_display_staging_done(&st);
    g_assert_false(hgr_display_staging_take(&st, &off, NULL, 0));

    /* A stride shorter than a row, or a size past any real screen, is off
     * too; the pixels are not touched. */
    HgrConsoleSurface bad = f.s;
    bad.stride = 63 * 4;
    g_assert_false(hgr_display_staging_take(&st, &bad, NULL, 0));
    g_assert_null(st.pixels);
    bad = f.s;
    bad.width = HGR_DISPLAY_STAGING_MAX_DIM + 1;
    bad.stride = 0xffffffffu;
    g_assert_false(hgr_display_staging_take(&st, &bad, NULL, 0));
    g_assert_null(st.pixels);

    /* And back on. */
    g_assert_true(hgr_display_staging_take(&st, &f.s, NULL, 0));
    g_assert_true(st.resized);
    g_assert_cmpuint(st.width, ==, 64);
    hgr_display_staging_clear(&st);
    frame_fini(&f);
}

static void test_many_rects_merge(void)
{
    Frame f;
    HgrDisplayStaging st;
    HgrConsoleRect dirty[40];

    frame_init(&f, 200, 100, 200 * 4);
    frame_paint(&f, 1);
    hgr_display_staging_init(&st);
    hgr_display_staging_take(&st, &f.s, NULL, 0);
    hgr_display_staging_done(&st);

    frame_paint(&f, 2);
    for (unsigned i = 0; i < G_N_ELEMENTS(dirty); i++)
        dirty[i] = (HgrConsoleRect){ (i * 37) % 190, (i * 13) % 95, 4 + i % 5, 3 };
    /* Reported in two updates before one upload, as two frame-clock ticks
     * without a redraw would. */
    hgr_display_staging_take(&st, &f.s, dirty, 20);
    hgr_display_staging_take(&st, &f.s, dirty + 20, 20);
    g_assert_cmpuint(st.n_pending, <=, HGR_DISPLAY_STAGING_MAX_RECTS);
    /* Each changed area is inside a pending one (so it will be uploaded),
     * and holds the new pixels. */
    for (unsigned i = 0; i < G_N_ELEMENTS(dirty); i++) {
        const HgrConsoleRect *d = &dirty[i];
        bool covered = false;
        for (unsigned j = 0; j < st.n_pending; j++)
            covered |= in_rect(&st.pending[j], d->x, d->y) &&
                       in_rect(&st.pending[j], d->x + d->width - 1, d->y + d->height - 1);
        g_assert_true(covered);
        for (uint32_t y = d->y; y < d->y + d->height; y++)
            for (uint32_t x = d->x; x < d->x + d->width; x++)
                g_assert_cmphex(staged(&st, x, y), ==, *px(&f, x, y));
    }
    hgr_display_staging_clear(&st);
    frame_fini(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/display/staging/first-frame-copies-all", test_first_frame_copies_all);
    g_test_add_func("/display/staging/copies-only-dirty", test_copies_only_dirty);
    g_test_add_func("/display/staging/hostile-rects-clipped", test_hostile_rects_clipped);
    g_test_add_func("/display/staging/mode-change", test_mode_change);
    g_test_add_func("/display/staging/unusable-surfaces", test_unusable_surfaces);
    g_test_add_func("/display/staging/many-rects-merge", test_many_rects_merge);
    return g_test_run();
}
