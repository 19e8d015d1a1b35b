/* bench-display.c — what one full 1920x1080 frame costs the VM window's
 * display path, step by step, against a plain memcpy of the frame (the
 * limit): the staging copy out from under the display lock, + the texture
 * upload, + drawing it. Prints time and CPU per frame, the frame rate it
 * sustains and the share of one core it needs at 60 frames per second.
 * Also a small update (one 400x40 line of text) to show that only dirty
 * areas cost, and what vmm-core's VGA spends per hgr_vm_display_update()
 * (the view calls it on every frame-clock tick) to render the frame and
 * find what changed: comparing whole frames, and with VRAM as a real KVM
 * memory slot whose dirty log names what the guest wrote. Not pass/fail:
 * meson suite `bench`.
 *
 * The GL rows use whatever EGL gives offscreen: Mesa's llvmpipe (software)
 * on a machine without a GPU, where upload and draw cost CPU that a GPU
 * would take. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "display-gl.h"
#include "egl-context.h"
#include "hw/vga-private.h"
#include "pci-test-board.h"

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

typedef void (*FrameFn)(void *data, unsigned frame_no);

/* Runs fn for about 1.5 s and prints its time and CPU per frame. */
static void measure_fn(const char *what, FrameFn fn, void *data)
{
    unsigned frames = 0;
    double t0, c0, t1;

    fn(data, 0);                                       /* warm up */
    t0 = now(CLOCK_MONOTONIC);
    c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    do {
        fn(data, ++frames);
        t1 = now(CLOCK_MONOTONIC);
    } while (t1 - t0 < 1.5 || frames < 10);
    double wall = (t1 - t0) / frames, cpu = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / frames;
    printf("%-44s %8.3f ms %8.3f ms %9.0f %8.1f %%\n", what, wall * 1e3, cpu * 1e3,
           1 / wall, cpu * 60 * 100);
    if (cpu > wall)
        printf("%-44s (CPU above time: the GL driver's own threads)\n", "");
}

typedef struct {
    Bench *b;
    Step step;
    const HgrConsoleRect *dirty;
} StepJob;

static void step_frame(void *data, unsigned frame_no)
{
    StepJob *job = data;
    one_frame(job->b, job->step, job->dirty, frame_no);
}

static void measure(Bench *b, const char *what, Step step, const HgrConsoleRect *dirty)
{
    StepJob job = { b, step, dirty };
    measure_fn(what, step_frame, &job);
}

/* vmm-core's side: the VGA in a 1920x1080x32 VBE mode, as a guest sets it. */
typedef struct {
    TestBoard *tb;
    HgrDevice *dev;
    uint8_t *vram;
    bool change;
} VgaJob;

static void dispi_write(VgaJob *v, unsigned index, uint16_t val)
{
    test_io_write(&v->tb->pio, 0x1ce, 2, index);
    test_io_write(&v->tb->pio, 0x1cf, 2, val);
}

static void vga_frame(void *data, unsigned frame_no)
{
    VgaJob *v = data;
    HgrConsoleRect dirty[16];
    unsigned n;

    if (v->change)                    /* one pixel in every row: all rows differ */
        for (size_t y = 0; y < H; y++)
            ((uint32_t *)v->vram)[y * W + (frame_no + y) % W] ^= 0x00ffffff;
    hgr_vga_update(v->dev, dirty, G_N_ELEMENTS(dirty), &n);
}

static void bench_vga(void)
{
    g_autoptr(GError) error = NULL;
    size_t size;
    VgaJob v = { .tb = test_board_new(NULL), .dev = hgr_vga_new("vga") };

    if (!v.dev->ops->realize(v.dev, &v.tb->board, &error)) {
        printf("VGA: cannot make one: %s\n", error->message);
        test_board_free(v.tb, true);
        return;
    }
    v.vram = hgr_vga_vram(v.dev, &size);
    dispi_write(&v, VBE_ENABLE, 0);
    dispi_write(&v, VBE_XRES, W);
    dispi_write(&v, VBE_YRES, H);
    dispi_write(&v, VBE_BPP, 32);
    dispi_write(&v, VBE_ENABLE, VBE_ENABLED | VBE_LFB_ENABLED);
    for (size_t i = 0; i < (size_t)W * H; i++)
        ((uint32_t *)v.vram)[i] = (uint32_t)(i * 2654435761u) & 0xffffff;
    measure_fn("vmm-core VGA update, nothing changed", vga_frame, &v);   /* no log: compared */
    v.change = true;
    measure_fn("vmm-core VGA update, every row changed", vga_frame, &v);
    hgr_device_free(v.dev);
    test_board_free(v.tb, true);
}

/* A KVM VM with no vCPU, only the VGA's VRAM as a dirty-logged slot, as
 * vmm-core's VM maps it: the log's cost is the real ioctl's. */
typedef struct {
    int vm_fd;
    const void *hva;
} KvmSlot;

static bool kvm_map_ram(void *opaque, void *hva, uint64_t gpa, uint64_t size)
{
    KvmSlot *k = opaque;
    bool unmap = gpa == HGR_BOARD_UNMAPPED;
    struct kvm_userspace_memory_region r = {
        .slot = 0, .flags = KVM_MEM_LOG_DIRTY_PAGES, .guest_phys_addr = unmap ? 0 : gpa,
        .memory_size = unmap ? 0 : size, .userspace_addr = (uintptr_t)hva };

    k->hva = unmap ? NULL : hva;
    return ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) == 0;
}

static bool kvm_get_dirty_log(void *opaque, const void *hva, uint64_t *bitmap, size_t n_pages)
{
    KvmSlot *k = opaque;
    struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bitmap };

    (void)n_pages;
    return hva == k->hva && ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &log) == 0;
}

static void bench_vga_dirty_log(void)
{
    g_autoptr(GError) error = NULL;
    KvmSlot k = { -1, NULL };
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    size_t size;

    if (kvm >= 0)
        k.vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
    if (k.vm_fd < 0) {
        printf("SKIP: vmm-core VGA update with KVM's dirty log: no KVM VM here (%s)\n",
               g_strerror(errno));
        if (kvm >= 0)
            close(kvm);
        return;
    }
    VgaJob v = { .tb = test_board_new(NULL), .dev = hgr_vga_new("vga") };
    v.tb->board.map_ram = kvm_map_ram;
    v.tb->board.get_dirty_log = kvm_get_dirty_log;
    v.tb->board.opaque = &k;
    if (!v.dev->ops->realize(v.dev, &v.tb->board, &error)) {
        printf("VGA: cannot make one: %s\n", error->message);
    } else {
        /* The firmware's memory decode maps BAR0, hence the slot. */
        test_cfg_write(v.tb, ((HgrPciDevice *)v.dev)->slot << 3, PCI_COMMAND, 2,
                       PCI_COMMAND_MEMORY);
        v.vram = hgr_vga_vram(v.dev, &size);
        dispi_write(&v, VBE_ENABLE, 0);
        dispi_write(&v, VBE_XRES, W);
        dispi_write(&v, VBE_YRES, H);
        dispi_write(&v, VBE_BPP, 32);
        dispi_write(&v, VBE_ENABLE, VBE_ENABLED | VBE_LFB_ENABLED);
        if (!k.hva)
            printf("SKIP: vmm-core VGA update with KVM's dirty log: KVM refused the slot\n");
        else
            measure_fn("vmm-core VGA update, KVM dirty log, no change", vga_frame, &v);
    }
    hgr_device_free(v.dev);
    test_board_free(v.tb, true);
    close(k.vm_fd);
    close(kvm);
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
    bench_vga();
    bench_vga_dirty_log();
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
