/* test-frame-scale.c — the manager window's thumbnails: right size, right
 * colours, nothing read outside the frame. */
#include <glib.h>
#include <string.h>

#include "frame-scale.h"

typedef struct {
    uint8_t *data;
    HgrConsoleSurface s;
} Frame;

/* A frame whose rows carry `pad` bytes of 0xEE beyond the picture, so a
 * scaler that reads the padding shows it. */
static Frame frame_new(uint32_t w, uint32_t h, uint32_t pad)
{
    Frame f = { 0 };
    f.s.format = HGR_CONSOLE_FORMAT_XRGB8888;
    f.s.width = w;
    f.s.height = h;
    f.s.stride = w * 4 + pad;
    f.data = g_malloc((size_t)f.s.stride * h);
    memset(f.data, 0xEE, (size_t)f.s.stride * h);
    f.s.data = f.data;
    return f;
}

static void put(Frame *f, uint32_t x, uint32_t y, uint32_t xrgb)
{
    uint8_t *p = f->data + (size_t)y * f->s.stride + x * 4;
    p[0] = xrgb & 0xff;
    p[1] = (xrgb >> 8) & 0xff;
    p[2] = (xrgb >> 16) & 0xff;
    p[3] = 0x7f; /* the unused byte: must not become alpha */
}

static void fill(Frame *f, uint32_t x0, uint32_t y0, uint32_t x1, uint32_t y1, uint32_t xrgb)
{
    for (uint32_t y = y0; y < y1; y++)
        for (uint32_t x = x0; x < x1; x++)
            put(f, x, y, xrgb);
}

static uint32_t get(const uint8_t *dst, uint32_t w, uint32_t x, uint32_t y)
{
    const uint8_t *p = dst + ((size_t)y * w + x) * 4;
    g_assert_cmpuint(p[3], ==, 255);
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static void test_fit(void)
{
    uint32_t w, h;

    /* A 1920x1080 screen in a 320x240 box: width-bound, 16:9 kept. */
    hgr_frame_fit(1920, 1080, 320, 240, &w, &h);
    g_assert_cmpuint(w, ==, 320);
    g_assert_cmpuint(h, ==, 180);
    /* 640x480 text mode in a 320x120 strip: height-bound. */
    hgr_frame_fit(640, 480, 320, 120, &w, &h);
    g_assert_cmpuint(w, ==, 160);
    g_assert_cmpuint(h, ==, 120);
    /* Smaller than the box: never enlarged. */
    hgr_frame_fit(100, 50, 320, 240, &w, &h);
    g_assert_cmpuint(w, ==, 100);
    g_assert_cmpuint(h, ==, 50);
    /* Extreme aspect: still at least one pixel high. */
    hgr_frame_fit(100000, 1, 100, 100, &w, &h);
    g_assert_cmpuint(w, ==, 100);
    g_assert_cmpuint(h, ==, 1);
    /* Huge sizes do not overflow. */
    hgr_frame_fit(UINT32_MAX, UINT32_MAX - 1, 200, 200, &w, &h);
    g_assert_cmpuint(w, ==, 200);
    g_assert_cmpuint(h, >=, 199);
    /* Nothing to show. */
    hgr_frame_fit(0, 480, 320, 240, &w, &h);
    g_assert_cmpuint(w, ==, 0);
    g_assert_cmpuint(h, ==, 0);
    hgr_frame_fit(640, 480, 0, 240, &w, &h);
    g_assert_cmpuint(w, ==, 0);
}

/* A solid screen stays exactly its colour, and the padding is not read. */
static void test_solid(void)
{
    Frame f = frame_new(1920, 1080, 64);
    fill(&f, 0, 0, 1920, 1080, 0x1c71d8);
    uint8_t dst[320 * 180 * 4];

    g_assert_true(hgr_frame_scale(&f.s, dst, 320, 180));
    for (uint32_t y = 0; y < 180; y++)
        for (uint32_t x = 0; x < 320; x++)
            g_assert_cmphex(get(dst, 320, x, y), ==, 0x1c71d8);
    g_free(f.data);
}

/* Halves of different colours stay where they were; a 2x2 checkerboard of
 * black and white averages to grey instead of aliasing to one of them. */
static void test_layout_and_average(void)
{
    Frame f = frame_new(640, 480, 0);
    fill(&f, 0, 0, 320, 480, 0xff0000);
    fill(&f, 320, 0, 640, 480, 0x0000ff);
    uint8_t dst[64 * 48 * 4];

    g_assert_true(hgr_frame_scale(&f.s, dst, 64, 48));
    g_assert_cmphex(get(dst, 64, 0, 0), ==, 0xff0000);
    g_assert_cmphex(get(dst, 64, 31, 47), ==, 0xff0000);
    g_assert_cmphex(get(dst, 64, 32, 0), ==, 0x0000ff);
    g_assert_cmphex(get(dst, 64, 63, 47), ==, 0x0000ff);

    for (uint32_t y = 0; y < 480; y++)
        for (uint32_t x = 0; x < 640; x++)
            put(&f, x, y, ((x ^ y) & 1) ? 0xffffff : 0x000000);
    g_assert_true(hgr_frame_scale(&f.s, dst, 64, 48));
    for (uint32_t y = 0; y < 48; y++)
        for (uint32_t x = 0; x < 64; x++)
            g_assert_cmphex(get(dst, 64, x, y), ==, 0x808080);
    g_free(f.data);
}

/* One white pixel in a 10x10 black block leaves a trace in the thumbnail
 * (point sampling would drop it): 1/100 of 255, rounded. */
static void test_thin_detail_survives(void)
{
    Frame f = frame_new(100, 100, 0);
    fill(&f, 0, 0, 100, 100, 0);
    put(&f, 55, 55, 0xffffff);
    uint8_t dst[10 * 10 * 4];

    g_assert_true(hgr_frame_scale(&f.s, dst, 10, 10));
    g_assert_cmphex(get(dst, 10, 5, 5), ==, 0x030303);
    g_assert_cmphex(get(dst, 10, 4, 4), ==, 0);
    g_free(f.data);
}

/* Sizes that do not divide: every thumbnail pixel written, none past the end. */
static void test_odd_sizes(void)
{
    Frame f = frame_new(3, 7, 4);
    fill(&f, 0, 0, 3, 7, 0x102030);
    uint8_t dst[2 * 5 * 4 + 4];
    memset(dst, 0x55, sizeof(dst));

    g_assert_true(hgr_frame_scale(&f.s, dst, 2, 5));
    for (uint32_t y = 0; y < 5; y++)
        for (uint32_t x = 0; x < 2; x++)
            g_assert_cmphex(get(dst, 2, x, y), ==, 0x102030);
    g_assert_cmphex(dst[2 * 5 * 4], ==, 0x55);

    /* Enlarging (not what previews do, but must be safe). */
    uint8_t big[6 * 14 * 4];
    g_assert_true(hgr_frame_scale(&f.s, big, 6, 14));
    g_assert_cmphex(get(big, 6, 5, 13), ==, 0x102030);
    g_free(f.data);
}

/* Empty or unreadable frames are refused and the thumbnail left alone. */
static void test_refused(void)
{
    uint8_t dst[16];
    memset(dst, 0x55, sizeof(dst));
    HgrConsoleSurface off = { 0 };
    g_assert_false(hgr_frame_scale(&off, dst, 2, 2));

    Frame f = frame_new(4, 4, 0);
    f.s.stride = 12; /* less than a row */
    g_assert_false(hgr_frame_scale(&f.s, dst, 2, 2));
    f.s.stride = 16;
    g_assert_false(hgr_frame_scale(&f.s, dst, 0, 2));
    g_assert_false(hgr_frame_scale(NULL, dst, 2, 2));
    for (size_t i = 0; i < sizeof(dst); i++)
        g_assert_cmphex(dst[i], ==, 0x55);
    g_free(f.data);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/app/frame-scale/fit", test_fit);
    g_test_add_func("/app/frame-scale/solid", test_solid);
    g_test_add_func("/app/frame-scale/layout-and-average", test_layout_and_average);
    g_test_add_func("/app/frame-scale/thin-detail-survives", test_thin_detail_survives);
    g_test_add_func("/app/frame-scale/odd-sizes", test_odd_sizes);
    g_test_add_func("/app/frame-scale/refused", test_refused);
    return g_test_run();
}
