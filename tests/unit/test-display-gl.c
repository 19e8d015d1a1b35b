/* test-display-gl.c — the display's GL side on an offscreen context: the
 * texture holds exactly the guest frame after uploading only the changed
 * areas, a mode change remakes it, and the drawn picture has the guest's
 * colors, 1:1 or scaled with its aspect kept. */
#include <stdio.h>

#include "display-gl.h"
#include "egl-context.h"

static TestEgl egl;

static void test_place(void)
{
    /* 16:9 into a square: full width, centered vertically. */
    HgrDisplayPlacement p = hgr_display_place(1920, 1080, 1000, 1000, true);
    g_assert_cmpfloat_with_epsilon(p.width, 1000, 1e-9);
    g_assert_cmpfloat_with_epsilon(p.height, 562.5, 1e-9);
    g_assert_cmpfloat_with_epsilon(p.x, 0, 1e-9);
    g_assert_cmpfloat_with_epsilon(p.y, 218.75, 1e-9);
    /* 4:3 into a wide view: full height, centered horizontally, enlarged. */
    p = hgr_display_place(640, 480, 1600, 960, true);
    g_assert_cmpfloat_with_epsilon(p.height, 960, 1e-9);
    g_assert_cmpfloat_with_epsilon(p.width, 1280, 1e-9);
    g_assert_cmpfloat_with_epsilon(p.x, 160, 1e-9);
    /* 1:1: pixel for pixel, centered on whole pixels, cropped when larger. */
    p = hgr_display_place(640, 480, 801, 600, false);
    g_assert_cmpfloat(p.width, ==, 640);
    g_assert_cmpfloat(p.x, ==, 80);
    g_assert_cmpfloat(p.y, ==, 60);
    p = hgr_display_place(1024, 768, 800, 600, false);
    g_assert_cmpfloat(p.x, ==, -112);
    g_assert_cmpfloat(p.y, ==, -84);
    /* Nothing to place. */
    p = hgr_display_place(0, 0, 800, 600, true);
    g_assert_cmpfloat(p.width, ==, 0);
    p = hgr_display_place(640, 480, 0, 600, true);
    g_assert_cmpfloat(p.width, ==, 0);
}

static void test_pointer_scale(void)
{
    /* A 1920x1080 guest shown 960 wide: one unit of host motion is two
     * guest pixels; shown at 3840 wide, half a pixel. */
    g_assert_cmpfloat_with_epsilon(hgr_display_guest_per_unit(1920, 1080, 960, 1000, true, 1),
                                   2.0, 1e-9);
    g_assert_cmpfloat_with_epsilon(hgr_display_guest_per_unit(1920, 1080, 3840, 2160, true, 1),
                                   0.5, 1e-9);
    /* Height-bound: 640x480 in a 2000x240 view is 320x240. */
    g_assert_cmpfloat_with_epsilon(hgr_display_guest_per_unit(640, 480, 2000, 240, true, 1),
                                   2.0, 1e-9);
    /* 1:1 is per device pixel: twice per unit on a HiDPI screen. */
    g_assert_cmpfloat(hgr_display_guest_per_unit(640, 480, 100, 100, false, 2), ==, 2.0);
    g_assert_cmpfloat(hgr_display_guest_per_unit(640, 480, 100, 100, false, 1), ==, 1.0);
    /* No frame yet, or no view: motion passes unscaled, never 0 or NaN. */
    g_assert_cmpfloat(hgr_display_guest_per_unit(0, 0, 800, 600, true, 1), ==, 1.0);
    g_assert_cmpfloat(hgr_display_guest_per_unit(640, 480, 0, 0, true, 1), ==, 1.0);
}

static HgrConsoleSurface surface(uint32_t *pixels, uint32_t width, uint32_t height)
{
    return (HgrConsoleSurface){ .data = (const uint8_t *)pixels,
                                .format = HGR_CONSOLE_FORMAT_XRGB8888,
                                .width = width, .height = height, .stride = width * 4 };
}

static void assert_texture_equals(HgrDisplayGl *gl, const uint32_t *frame,
                                  uint32_t width, uint32_t height)
{
    uint32_t tw, th;
    unsigned tex = hgr_display_gl_texture(gl, &tw, &th);
    g_assert_cmpuint(tw, ==, width);
    g_assert_cmpuint(th, ==, height);
    g_autofree uint8_t *back = test_egl_read_texture(tex, (int)width, (int)height);
    g_assert_cmpmem(back, (size_t)width * height * 4, frame, (size_t)width * height * 4);
}

static void test_upload_dirty_readback(void)
{
    /* Odd sizes: rows of the staging buffer must be followed exactly. */
    const uint32_t w = 203, h = 151;
    g_autofree uint32_t *frame = g_new(uint32_t, w * h);
    g_autofree uint32_t *expect = g_new(uint32_t, w * h);
    g_autoptr(GError) error = NULL;
    HgrDisplayStaging st;
    HgrDisplayGl *gl = hgr_display_gl_new(&error);

    g_assert_no_error(error);
    for (uint32_t i = 0; i < w * h; i++)
        frame[i] = g_test_rand_int();
    HgrConsoleSurface s = surface(frame, w, h);
    hgr_display_staging_init(&st);
    hgr_display_staging_take(&st, &s, NULL, 0);
    g_assert_cmpuint(hgr_display_gl_upload(gl, &st), ==, 1);
    assert_texture_equals(gl, frame, w, h);

    /* The guest redraws two areas and reports them, and changes a third
     * without reporting it: the texture follows what was reported. */
    HgrConsoleRect dirty[] = { { 10, 20, 33, 17 }, { 150, 140, 100, 100 } };
    memcpy(expect, frame, (size_t)w * h * 4);
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            uint32_t v = g_test_rand_int();
            bool in0 = x >= 10 && x < 43 && y >= 20 && y < 37;
            bool in1 = x >= 150 && y >= 140;
            bool in2 = x < 20 && y >= 100 && y < 120;
            if (in0 || in1 || in2)
                frame[y * w + x] = v;
            if (in0 || in1)
                expect[y * w + x] = v;
        }
    }
    hgr_display_staging_take(&st, &s, dirty, G_N_ELEMENTS(dirty));
    g_assert_cmpuint(hgr_display_gl_upload(gl, &st), ==, 2);
    g_assert_cmpuint(st.n_pending, ==, 0);
    assert_texture_equals(gl, expect, w, h);

    /* Nothing new: nothing sent. */
    g_assert_false(hgr_display_staging_take(&st, &s, NULL, 0));
    g_assert_cmpuint(hgr_display_gl_upload(gl, &st), ==, 0);

    /* A view realized again gets a new context and texture: it must show
     * the whole frame though nothing is pending. */
    HgrDisplayGl *gl2 = hgr_display_gl_new(&error);
    g_assert_no_error(error);
    g_assert_cmpuint(hgr_display_gl_upload(gl2, &st), ==, 1);
    assert_texture_equals(gl2, expect, w, h);
    hgr_display_gl_free(gl2);

    /* A mode change remakes the texture at the new size. */
    const uint32_t w2 = 64, h2 = 300;
    g_autofree uint32_t *frame2 = g_new(uint32_t, w2 * h2);
    for (uint32_t i = 0; i < w2 * h2; i++)
        frame2[i] = g_test_rand_int();
    HgrConsoleSurface s2 = surface(frame2, w2, h2);
    hgr_display_staging_take(&st, &s2, NULL, 0);
    hgr_display_gl_upload(gl, &st);
    assert_texture_equals(gl, frame2, w2, h2);
    g_assert_cmpint(glGetError(), ==, GL_NO_ERROR);

    hgr_display_staging_clear(&st);
    hgr_display_gl_free(gl);
}

/* An RGBA pixel of the drawn picture, top row first. */
static const uint8_t *at(const uint8_t *pic, int width, int x, int y)
{
    return pic + ((size_t)y * width + x) * 4;
}

static void assert_rgb(const uint8_t *p, uint8_t r, uint8_t g, uint8_t b)
{
    g_assert_cmpuint(p[0], ==, r);
    g_assert_cmpuint(p[1], ==, g);
    g_assert_cmpuint(p[2], ==, b);
    g_assert_cmpuint(p[3], ==, 255);
}

static void test_draw_colors_one_to_one(void)
{
    const uint32_t w = 97, h = 61;
    g_autofree uint32_t *frame = g_new(uint32_t, w * h);
    g_autoptr(GError) error = NULL;
    HgrDisplayStaging st;
    HgrDisplayGl *gl = hgr_display_gl_new(&error);

    g_assert_no_error(error);
    /* The X byte is garbage, as guests leave it: it must not show. */
    for (uint32_t i = 0; i < w * h; i++)
        frame[i] = (g_test_rand_int() & 0x00ffffff) | 0x5a000000;
    HgrConsoleSurface s = surface(frame, w, h);
    hgr_display_staging_init(&st);
    hgr_display_staging_take(&st, &s, NULL, 0);
    hgr_display_gl_upload(gl, &st);

    test_egl_target(&egl, (int)w, (int)h);
    hgr_display_gl_draw(gl, (int)w, (int)h, false);
    g_autofree uint8_t *pic = test_egl_read_target(&egl);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint32_t v = frame[y * w + x];
            assert_rgb(at(pic, (int)w, (int)x, (int)y), v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff);
        }
    hgr_display_staging_clear(&st);
    hgr_display_gl_free(gl);
}

static void test_draw_scaled_letterbox(void)
{
    const uint32_t w = 40, h = 20;
    uint32_t frame[40 * 20];
    g_autoptr(GError) error = NULL;
    HgrDisplayStaging st;
    HgrDisplayGl *gl = hgr_display_gl_new(&error);

    g_assert_no_error(error);
    /* Left half red, right half blue. */
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            frame[y * w + x] = x < w / 2 ? 0xff0000 : 0x0000ff;
    HgrConsoleSurface s = surface(frame, w, h);
    hgr_display_staging_init(&st);
    hgr_display_staging_take(&st, &s, NULL, 0);
    hgr_display_gl_upload(gl, &st);

    /* 2:1 into 80x80: scaled to 80x40, black bars above and below. */
    test_egl_target(&egl, 80, 80);
    hgr_display_gl_draw(gl, 80, 80, true);
    g_autofree uint8_t *pic = test_egl_read_target(&egl);
    assert_rgb(at(pic, 80, 0, 0), 0, 0, 0);
    assert_rgb(at(pic, 80, 79, 19), 0, 0, 0);
    assert_rgb(at(pic, 80, 40, 79), 0, 0, 0);
    assert_rgb(at(pic, 80, 0, 20), 255, 0, 0);
    assert_rgb(at(pic, 80, 30, 40), 255, 0, 0);
    assert_rgb(at(pic, 80, 50, 40), 0, 0, 255);
    assert_rgb(at(pic, 80, 79, 59), 0, 0, 255);

    /* 1:1 in the same view: 40x20 in the middle, black around. */
    hgr_display_gl_draw(gl, 80, 80, false);
    g_autofree uint8_t *pic2 = test_egl_read_target(&egl);
    assert_rgb(at(pic2, 80, 19, 40), 0, 0, 0);
    assert_rgb(at(pic2, 80, 20, 30), 255, 0, 0);
    assert_rgb(at(pic2, 80, 39, 49), 255, 0, 0);
    assert_rgb(at(pic2, 80, 40, 30), 0, 0, 255);
    assert_rgb(at(pic2, 80, 59, 49), 0, 0, 255);
    assert_rgb(at(pic2, 80, 60, 40), 0, 0, 0);
    assert_rgb(at(pic2, 80, 40, 50), 0, 0, 0);

    /* The display turns off: the view goes black. */
    HgrConsoleSurface off = { 0 };
    hgr_display_staging_take(&st, &off, NULL, 0);
    hgr_display_gl_upload(gl, &st);
    hgr_display_gl_draw(gl, 80, 80, true);
    g_autofree uint8_t *pic3 = test_egl_read_target(&egl);
    assert_rgb(at(pic3, 80, 30, 40), 0, 0, 0);
    g_assert_cmpint(glGetError(), ==, GL_NO_ERROR);

    hgr_display_staging_clear(&st);
    hgr_display_gl_free(gl);
}

static char *no_egl;

/* The GL cases need an offscreen context; without one they skip, loudly. */
static void gl_case(gconstpointer data)
{
    if (no_egl) {
        g_autofree char *why = g_strdup_printf("no offscreen OpenGL: %s", no_egl);
        g_printerr("SKIP: %s\n", why);
        g_test_skip(why);
        return;
    }
    ((void (*)(void))data)();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!test_egl_init(&egl, &no_egl))
        test_egl_fini(&egl);
    g_test_add_func("/display/gl/place", test_place);
    g_test_add_func("/display/gl/pointer-scale", test_pointer_scale);
    g_test_add_data_func("/display/gl/upload-dirty-readback", test_upload_dirty_readback, gl_case);
    g_test_add_data_func("/display/gl/draw-colors-one-to-one", test_draw_colors_one_to_one, gl_case);
    g_test_add_data_func("/display/gl/draw-scaled-letterbox", test_draw_scaled_letterbox, gl_case);
    int rc = g_test_run();
    test_egl_fini(&egl);
    g_free(no_egl);
    return rc;
}
