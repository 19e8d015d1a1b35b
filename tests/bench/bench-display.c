/* bench-display.c — what one full 1920x1080 frame costs the VM window's
 * display path, step by step, against a plain memcpy of the frame (the
 * limit): the staging copy out from under the display lock, + the texture
 * upload, + drawing it. Prints time and CPU per frame, the frame rate it
 * sustains and the share of one core it needs at 60 frames per second.
 * Also a small update (one 400x40 line of text) to show that only dirty
 * areas cost. Not pass/fail: meson suite `bench`.
 *
 * The GL rows use whatever EGL gives offscreen: Mesa's llvmpipe (software)
 * on a machine without a GPU, where upload and draw cost CPU that a GPU
 * would take. */
#include <stdio.h>
#include <time.h>

#include "display-gl.h"
#include "egl-context.h"

#define W 1920
#define H 1080

typedef enum { STEP_MEMCPY, STEP_STAGING, STEP_UPLOAD, STEP_DRAW } Step;

typedef struct {
    uint32_t *frame, *copy;
    HgrConsoleSurface s;
    HgrDisplayStaging st;
    HgrDisplayGl *gl;
    TestEgl egl;
} Bench;

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void one_frame(Bench *b, Step step, const HgrConsoleRect *dirty, unsigned frame_no)
{
    /* The guest changes the area, as a real one would between frames. */
    b->frame[(size_t)dirty->y * W + dirty->x] = frame_no;
    if (step == STEP_MEMCPY) {
        memcpy(b->copy, b->frame, (size_t)W * H * 4);
        return;
    }
    hgr_display_staging_take(&b->st, &b->s, dirty, 1);
    if (step == STEP_STAGING) {
        hgr_display_staging_done(&b->st);
        return;
    }
    hgr_display_gl_upload(b->gl, &b->st);
    if (step == STEP_DRAW)
        hgr_display_gl_draw(b->gl, W, H, true);
    glFinish();                        /* count the GL work in this frame */
}

static void measure(Bench *b, const char *what, Step step, const HgrConsoleRect *dirty)
{
    unsigned frames = 0;
    double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID), t1;

    one_frame(b, step, dirty, 0);                      /* warm up */
    t0 = now(CLOCK_MONOTONIC);
    c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    do {
        one_frame(b, step, dirty, ++frames);
        t1 = now(CLOCK_MONOTONIC);
    } while (t1 - t0 < 1.5 || frames < 10);
    double wall = (t1 - t0) / frames, cpu = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / frames;
    printf("%-44s %8.3f ms %8.3f ms %9.0f %8.1f %%\n", what, wall * 1e3, cpu * 1e3,
           1 / wall, cpu * 60 * 100);
    if (cpu > wall)
        printf("%-44s (CPU above time: the GL driver's own threads)\n", "");
}

int main(void)
{
    Bench b = { 0 };
    g_autofree char *why = NULL;
    g_autoptr(GError) error = NULL;
    HgrConsoleRect full = { 0, 0, W, H }, line = { 200, 500, 400, 40 };

    b.frame = g_new(uint32_t, (size_t)W * H);
    b.copy = g_new(uint32_t, (size_t)W * H);
    for (size_t i = 0; i < (size_t)W * H; i++)
        b.frame[i] = (uint32_t)(i * 2654435761u);
    b.s = (HgrConsoleSurface){ .data = (const uint8_t *)b.frame,
                               .format = HGR_CONSOLE_FORMAT_XRGB8888,
                               .width = W, .height = H, .stride = W * 4 };
    hgr_display_staging_init(&b.st);
    hgr_display_staging_take(&b.st, &b.s, NULL, 0);
    hgr_display_staging_done(&b.st);

    printf("display path, %dx%d XRGB8888 frame\n", W, H);
    printf("%-44s %11s %11s %9s %10s\n", "step (cumulative)", "time/frame", "CPU/frame",
           "frames/s", "core@60fps");
    measure(&b, "memcpy of the frame (the limit)", STEP_MEMCPY, &full);
    measure(&b, "staging copy, full frame dirty", STEP_STAGING, &full);

    bool have_gl = test_egl_init(&b.egl, &why) && (b.gl = hgr_display_gl_new(&error));
    if (have_gl) {
        test_egl_target(&b.egl, W, H);
        hgr_display_staging_take(&b.st, &b.s, &full, 1);
        hgr_display_gl_upload(b.gl, &b.st);
        printf("GL: %s, %s\n", glGetString(GL_RENDERER), glGetString(GL_VERSION));
        measure(&b, "+ texture upload, full frame", STEP_UPLOAD, &full);
        measure(&b, "+ draw (scaled to 1920x1080), full frame", STEP_DRAW, &full);
    }
    measure(&b, "staging copy, one 400x40 line dirty", STEP_STAGING, &line);
    if (have_gl) {
        measure(&b, "+ texture upload, one line", STEP_UPLOAD, &line);
        measure(&b, "+ draw, one line", STEP_DRAW, &line);
        hgr_display_gl_free(b.gl);
        test_egl_fini(&b.egl);
    }
    hgr_display_staging_clear(&b.st);
    g_free(b.frame);
    g_free(b.copy);
    if (!have_gl) {
        fprintf(stderr, "SKIP: the GL rows: %s\n",
                why ? why : error ? error->message : "no GL");
        return 77;
    }
    return 0;
}
