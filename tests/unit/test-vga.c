/* test-vga.c — VGA text mode and Bochs VBE rendered to the console
 * surface, hostile dispi programming, PNG screenshots, save/load. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mman.h>

#include "hangar/vm.h"
#include "hw/vga-font.h"
#include "hw/vga-private.h"
#include "pci-test-board.h"

typedef struct {
    TestBoard *tb;
    HgrDevice *dev;
    uint8_t *vram;
    size_t vram_size;
} Fixture;

static void fixture_init(Fixture *f)
{
    g_autoptr(GError) err = NULL;

    f->tb = test_board_new(NULL);
    f->dev = hgr_vga_new("vga");
    g_assert_nonnull(f->dev);
    g_assert_true(f->dev->ops->realize(f->dev, &f->tb->board, &err));
    g_assert_no_error(err);
    f->vram = hgr_vga_vram(f->dev, &f->vram_size);
    g_assert_cmpuint(f->vram_size, ==, 16u << 20);
}

static void fixture_fini(Fixture *f)
{
    hgr_device_free(f->dev);
    test_board_free(f->tb, true);
}

static void dispi_write(Fixture *f, unsigned index, uint16_t val)
{
    test_io_write(&f->tb->pio, 0x1ce, 2, index);
    test_io_write(&f->tb->pio, 0x1cf, 2, val);
}

static uint16_t dispi_read(Fixture *f, unsigned index)
{
    test_io_write(&f->tb->pio, 0x1ce, 2, index);
    return (uint16_t)test_io(&f->tb->pio, 0x1cf, 2);
}

static void set_mode(Fixture *f, uint16_t w, uint16_t h, uint16_t bpp)
{
    dispi_write(f, VBE_ENABLE, 0);
    dispi_write(f, VBE_XRES, w);
    dispi_write(f, VBE_YRES, h);
    dispi_write(f, VBE_BPP, bpp);
    dispi_write(f, VBE_ENABLE, VBE_ENABLED | VBE_LFB_ENABLED);
}

static const HgrConsoleSurface *update(Fixture *f, HgrConsoleRect *dirty, unsigned *n)
{
    HgrConsoleRect local[16];
    unsigned ln;

    return hgr_vga_update(f->dev, dirty ? dirty : local, 16, n ? n : &ln);
}

static uint32_t pixel(const HgrConsoleSurface *s, uint32_t x, uint32_t y)
{
    const uint8_t *p = s->data + (size_t)y * s->stride + x * 4;
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t pattern(uint32_t x, uint32_t y)
{
    return ((x * 7) & 0xff) << 16 | ((y * 3) & 0xff) << 8 | ((x ^ y) & 0xff);
}

static void test_pci_identity(void)
{
    Fixture f;
    fixture_init(&f);
    unsigned devfn = ((HgrPciDevice *)f.dev)->slot << 3;

    g_assert_cmphex(test_cfg_read(f.tb, devfn, PCI_VENDOR_ID, 4), ==, 0x11111234);
    g_assert_cmphex(test_cfg_read(f.tb, devfn, 0x08, 4) >> 8, ==, 0x030000);
    /* BAR0: 16 MiB prefetchable memory; BAR2: 4 KiB memory. */
    test_cfg_write(f.tb, devfn, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    g_assert_cmphex(test_cfg_read(f.tb, devfn, PCI_BASE_ADDRESS_0, 4), ==, 0xff000008);
    test_cfg_write(f.tb, devfn, PCI_BASE_ADDRESS_0 + 8, 4, 0xffffffff);
    g_assert_cmphex(test_cfg_read(f.tb, devfn, PCI_BASE_ADDRESS_0 + 8, 4), ==, 0xfffff000);
    fixture_fini(&f);
}

/* What Linux's bochs DRM driver checks before it takes the device
 * (bochs_hw_init): the dispi ID through BAR2 at 0x500, the VRAM size it
 * reports against BAR0's, and on PCI revision 2 QEMU's extended registers
 * at 0x600 (block size, framebuffer byte order). */
static void test_bochs_drm_probe(void)
{
    Fixture f;
    fixture_init(&f);
    HgrPciDevice *pdev = (HgrPciDevice *)f.dev;
    unsigned devfn = pdev->slot << 3;

    g_assert_cmphex(test_cfg_read(f.tb, devfn, 0x08, 1), >=, 2);        /* revision */
    g_assert_cmphex(test_cfg_read(f.tb, devfn, 0x2c, 4), ==, 0x11001af4); /* subsystem */
    test_cfg_write(f.tb, devfn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    uint64_t bar2 = hgr_pci_bar_address(pdev, 2);
    g_assert_cmpuint(bar2, !=, HGR_PCI_BAR_UNMAPPED);

    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x500 + 2 * VBE_ID, 2) & 0xfff0, ==, 0xb0c0);
    g_assert_cmpuint(test_io(&f.tb->mmio, bar2 + 0x500 + 2 * VBE_VIDEO_MEMORY_64K, 2) << 16,
                     ==, f.vram_size);
    test_cfg_write(f.tb, devfn, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    g_assert_cmpuint(~(test_cfg_read(f.tb, devfn, PCI_BASE_ADDRESS_0, 4) & ~0xfu) + 1, ==,
                     f.vram_size);

    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x600, 4), ==, 8);
    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x604, 4), ==, 0x1e1e1e1e);
    /* Little endian is all there is: asking for big endian changes nothing
     * and says so; byte reads and reads past the block are harmless. */
    test_io_write(&f.tb->mmio, bar2 + 0x604, 4, 0xbebebebe);
    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x604, 4), ==, 0x1e1e1e1e);
    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x607, 1), ==, 0x1e);
    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x606, 4), ==, 0xffffffff);
    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x608, 4), ==, 0xffffffff);
    /* No EDID blob at 0: its header does not parse, so the driver falls
     * back to its built-in modes. */
    g_assert_cmphex(test_io(&f.tb->mmio, bar2, 4), ==, 0xffffffff);
    fixture_fini(&f);
}

static void test_vbe_mode(void)
{
    Fixture f;
    HgrConsoleRect dirty[16];
    unsigned n;
    fixture_init(&f);

    g_assert_cmphex(dispi_read(&f, VBE_ID), ==, VBE_ID5);
    g_assert_cmpuint(dispi_read(&f, VBE_VIDEO_MEMORY_64K), ==, 256);
    set_mode(&f, 1024, 768, 32);
    g_assert_cmpuint(dispi_read(&f, VBE_XRES), ==, 1024);
    g_assert_cmpuint(dispi_read(&f, VBE_VIRT_HEIGHT), ==, (16u << 20) / 4096);
    for (uint32_t y = 0; y < 768; y++)
        for (uint32_t x = 0; x < 1024; x++) {
            uint32_t px = pattern(x, y);
            memcpy(f.vram + (y * 1024 + x) * 4, &px, 4);
        }
    const HgrConsoleSurface *s = update(&f, dirty, &n);
    g_assert_cmpuint(s->width, ==, 1024);
    g_assert_cmpuint(s->height, ==, 768);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpuint(dirty[0].width, ==, 1024);
    g_assert_cmpuint(dirty[0].height, ==, 768);
    for (uint32_t y = 0; y < 768; y += 17)
        for (uint32_t x = 0; x < 1024; x += 13)
            g_assert_cmphex(pixel(s, x, y), ==, pattern(x, y));

    /* Nothing changed: nothing dirty. One pixel changed: only it. */
    update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 0);
    f.vram[(100 * 1024 + 200) * 4] ^= 0xff;
    s = update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpuint(dirty[0].x, ==, 200);
    g_assert_cmpuint(dirty[0].y, ==, 100);
    g_assert_cmpuint(dirty[0].width, ==, 1);
    g_assert_cmpuint(dirty[0].height, ==, 1);
    hgr_vga_mark_dirty(f.dev);
    update(&f, dirty, &n);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpuint(dirty[0].height, ==, 768);

    /* Panning through the MMIO copy of the dispi registers in BAR2. */
    HgrPciDevice *pdev = (HgrPciDevice *)f.dev;
    test_cfg_write(f.tb, pdev->slot << 3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    uint64_t bar2 = hgr_pci_bar_address(pdev, 2);
    g_assert_cmpuint(bar2, !=, HGR_PCI_BAR_UNMAPPED);
    g_assert_cmpuint(test_io(&f.tb->mmio, bar2 + 0x500 + 2 * VBE_XRES, 2), ==, 1024);
    test_io_write(&f.tb->mmio, bar2 + 0x500 + 2 * VBE_Y_OFFSET, 2, 10);
    s = update(&f, NULL, NULL);
    g_assert_cmphex(pixel(s, 5, 0), ==, pattern(5, 10));

    /* The linear framebuffer through BAR0. */
    uint64_t bar0 = hgr_pci_bar_address(pdev, 0);
    test_io_write(&f.tb->mmio, bar0 + 10 * 4096 + 8, 4, 0x123456);
    s = update(&f, NULL, NULL);
    g_assert_cmphex(pixel(s, 2, 0), ==, 0x123456);

    /* 8 bpp through the DAC, 16 bpp 565. */
    set_mode(&f, 640, 480, 8);
    test_io_write(&f.tb->pio, 0x3c8, 1, 7);
    test_io_write(&f.tb->pio, 0x3c9, 1, 0x3f);
    test_io_write(&f.tb->pio, 0x3c9, 1, 0x00);
    test_io_write(&f.tb->pio, 0x3c9, 1, 0x20);
    f.vram[3] = 7;
    s = update(&f, NULL, NULL);
    g_assert_cmphex(pixel(s, 3, 0), ==, 0xff0082);
    set_mode(&f, 800, 600, 16);
    f.vram[0] = 0x1f;                          /* blue */
    f.vram[1] = 0xf8;                          /* red */
    s = update(&f, NULL, NULL);
    g_assert_cmpuint(s->width, ==, 800);
    g_assert_cmphex(pixel(s, 0, 0), ==, 0xf800f8);
    fixture_fini(&f);
}

static void put_text(Fixture *f, unsigned cell, char ch, uint8_t attr)
{
    test_io_write(&f->tb->mmio, 0xb8000 + cell * 2, 1, (uint8_t)ch);
    test_io_write(&f->tb->mmio, 0xb8000 + cell * 2 + 1, 1, attr);
}

static void test_text_mode(void)
{
    static const char word[] = "HANGAR";
    Fixture f;
    fixture_init(&f);

    if (!hgr_vga_font_present) {
        g_test_skip("NO CONSOLE FONT at build time (install console-setup-linux)");
        fixture_fini(&f);
        return;
    }
    for (unsigned i = 0; i < 80 * 25; i++)
        put_text(&f, i, ' ', 0x07);
    /* Row 2, column 10: white on blue. Cursor off, so cells are glyphs only. */
    for (unsigned i = 0; word[i]; i++)
        put_text(&f, 2 * 80 + 10 + i, word[i], 0x1f);
    test_io_write(&f.tb->pio, 0x3d4, 1, 0x0a);
    test_io_write(&f.tb->pio, 0x3d5, 1, 0x20);
    g_assert_cmphex(test_io(&f.tb->mmio, 0xb8000 + (2 * 80 + 10) * 2, 1), ==, 'H');

    const HgrConsoleSurface *s = update(&f, NULL, NULL);
    g_assert_cmpuint(s->width, ==, 640);
    g_assert_cmpuint(s->height, ==, 400);
    for (unsigned i = 0; word[i]; i++) {
        unsigned lit = 0, bits = 0;
        for (unsigned y = 0; y < 16; y++) {
            uint8_t row = hgr_vga_font[(uint8_t)word[i]][y];
            bits += __builtin_popcount(row);
            for (unsigned x = 0; x < 8; x++) {
                uint32_t px = pixel(s, (10 + i) * 8 + x, 2 * 16 + y);
                bool on = px == 0xffffff;
                g_assert_true(on || px == 0x0000aa);
                g_assert_cmpint(on, ==, !!(row & (0x80 >> x)));
                lit += on;
            }
        }
        g_assert_cmpuint(bits, >, 10);
        g_assert_cmpuint(lit, ==, bits);
    }
    g_assert_cmphex(pixel(s, 0, 0), ==, 0);

    /* The cursor (scan lines 14-15) at row 0, column 0, in grey. */
    test_io_write(&f.tb->pio, 0x3d4, 2, 0x0e0a);
    test_io_write(&f.tb->pio, 0x3d4, 2, 0x0f0b);
    test_io_write(&f.tb->pio, 0x3d4, 2, 0x000e);
    test_io_write(&f.tb->pio, 0x3d4, 2, 0x000f);
    HgrConsoleRect dirty[16];
    unsigned n;
    s = update(&f, dirty, &n);
    g_assert_cmphex(pixel(s, 3, 14), ==, 0xaaaaaa);
    g_assert_cmphex(pixel(s, 3, 13), ==, 0);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpuint(dirty[0].y, ==, 14);
    g_assert_cmpuint(dirty[0].height, ==, 2);
    g_assert_cmpuint(dirty[0].width, ==, 8);
    fixture_fini(&f);
}

/* Whatever the registers say, the surface is a sane size and rendering
 * stays inside VRAM (the mapping is followed by a guard page). */
static void check_surface(Fixture *f)
{
    const HgrConsoleSurface *s = update(f, NULL, NULL);
    g_assert_cmpuint((uint64_t)s->width * s->height * 4, <=, 16u << 20);
    g_assert_cmpuint(s->width, <=, HGR_VGA_MAX_XRES);
    g_assert_cmpuint(s->height, <=, HGR_VGA_MAX_YRES);
}

static void test_hostile_dispi(void)
{
    static const uint16_t values[] = { 0, 1, 7, 8, 15, 24, 32, 33, 640, 1920, 2560, 4096,
                                       0x7fff, 0x8000, 0xfffe, 0xffff };
    Fixture f;
    fixture_init(&f);
    HgrPciDevice *pdev = (HgrPciDevice *)f.dev;
    Vga *v = (Vga *)f.dev;
    void *guard = mmap((uint8_t *)f.vram + f.vram_size, 4096, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

    /* Every register alone with every value, in an enabled mode. */
    for (unsigned reg = 0; reg < VBE_NUM_REGS + 2; reg++) {
        for (unsigned k = 0; k < G_N_ELEMENTS(values); k++) {
            set_mode(&f, 1920, 1080, 32);
            dispi_write(&f, reg, values[k]);
            check_surface(&f);
        }
    }
    /* Larger than VRAM: disabled; virtual width and offsets past VRAM: the
     * visible mode at the top of VRAM. */
    set_mode(&f, 2560, 1600, 32);
    g_assert_cmpuint(update(&f, NULL, NULL)->width, ==, 2560);
    dispi_write(&f, VBE_VIRT_WIDTH, 0xffff);
    dispi_write(&f, VBE_Y_OFFSET, 0xffff);
    dispi_write(&f, VBE_X_OFFSET, 0xffff);
    const HgrConsoleSurface *s = update(&f, NULL, NULL);
    g_assert_cmpuint(s->width, ==, 2560);
    g_assert_cmpuint(v->surface.height, ==, 1600);
    dispi_write(&f, VBE_ENABLE, 0);
    dispi_write(&f, VBE_XRES, 2560);
    dispi_write(&f, VBE_YRES, 1600);
    dispi_write(&f, VBE_BPP, 32);
    dispi_write(&f, VBE_VIRT_WIDTH, 4000);
    dispi_write(&f, VBE_ENABLE, VBE_ENABLED | VBE_NOCLEARMEM);
    g_assert_cmpuint(dispi_read(&f, VBE_VIRT_HEIGHT), ==, (16u << 20) / (2560 * 4));
    /* A bank past VRAM: writes dropped, reads all ones. */
    dispi_write(&f, VBE_BANK, 0xffff);
    test_io_write(&f.tb->mmio, 0xa0000, 4, 0x12345678);
    g_assert_cmphex(test_io(&f.tb->mmio, 0xa0000, 4), ==, 0xffffffff);
    dispi_write(&f, VBE_BANK, 255);
    test_io_write(&f.tb->mmio, 0xafffe, 2, 0xbeef);
    g_assert_cmphex(f.vram[f.vram_size - 1], ==, 0xbe);
    /* BAR0 access straddling the end of VRAM. */
    test_cfg_write(f.tb, pdev->slot << 3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    uint64_t bar0 = hgr_pci_bar_address(pdev, 0);
    test_io_write(&f.tb->mmio, bar0 + f.vram_size - 2, 4, 0);
    g_assert_cmphex(f.vram[f.vram_size - 1], ==, 0xbe);

    /* Random dispi programming, with frames in between (mode changes in
     * the middle of scanout are covered by the snapshot of registers). */
    GRand *rand = g_rand_new_with_seed(3);
    for (unsigned i = 0; i < 3000; i++) {
        unsigned reg = g_rand_int_range(rand, 0, VBE_NUM_REGS + 1);
        uint16_t val = g_rand_boolean(rand) ? values[g_rand_int_range(rand, 0, 16)]
                                            : (uint16_t)g_rand_int(rand);
        if (reg == VBE_ENABLE)
            val |= VBE_NOCLEARMEM;
        dispi_write(&f, reg, val);
        if (i % 37 == 0)
            check_surface(&f);
    }
    g_rand_free(rand);
    if (guard != MAP_FAILED)
        munmap(guard, 4096);
    fixture_fini(&f);
}

static void test_vga_ports(void)
{
    Fixture f;
    fixture_init(&f);

    /* Attribute flip-flop: index, data; reading 0x3da resets it. */
    test_io(&f.tb->pio, 0x3da, 1);
    test_io_write(&f.tb->pio, 0x3c0, 1, 0x01);
    test_io_write(&f.tb->pio, 0x3c0, 1, 0x3c);
    g_assert_cmphex(test_io(&f.tb->pio, 0x3c1, 1), ==, 0x3c);
    /* DAC read back, wrapping at 256 entries. */
    test_io_write(&f.tb->pio, 0x3c8, 1, 255);
    for (unsigned i = 0; i < 6; i++)
        test_io_write(&f.tb->pio, 0x3c9, 1, 10 + i);
    test_io_write(&f.tb->pio, 0x3c7, 1, 0);
    g_assert_cmphex(test_io(&f.tb->pio, 0x3c9, 1), ==, 13);
    /* CRTC 0-7 are write-protected by CR11 bit 7. */
    test_io_write(&f.tb->pio, 0x3d4, 2, 0x8011);
    test_io_write(&f.tb->pio, 0x3d4, 2, 0x1201);
    test_io_write(&f.tb->pio, 0x3d4, 1, 0x01);
    g_assert_cmphex(test_io(&f.tb->pio, 0x3d5, 1), ==, 0x4f);
    /* Out-of-range indexes read 0 and writes go nowhere. */
    test_io_write(&f.tb->pio, 0x3d4, 2, 0x55ff);
    g_assert_cmphex(test_io(&f.tb->pio, 0x3d5, 1), ==, 0);
    test_io_write(&f.tb->pio, 0x3ce, 2, 0x550e);
    g_assert_cmphex(test_io(&f.tb->pio, 0x3cf, 1), ==, 0);
    /* Planar writes reach every plane the map mask enables. */
    test_io_write(&f.tb->pio, 0x3c4, 2, 0x0604);      /* sequential, not chain 4 */
    test_io_write(&f.tb->pio, 0x3c4, 2, 0x0502);      /* planes 0 and 2 */
    test_io_write(&f.tb->pio, 0x3ce, 2, 0x0506);      /* graphics, 0xa0000 64K */
    test_io_write(&f.tb->mmio, 0xa0010, 1, 0x77);
    g_assert_cmphex(f.vram[0x40], ==, 0x77);
    g_assert_cmphex(f.vram[0x41], ==, 0);
    g_assert_cmphex(f.vram[0x42], ==, 0x77);
    test_io_write(&f.tb->pio, 0x3ce, 2, 0x0204);      /* read plane 2 */
    g_assert_cmphex(test_io(&f.tb->mmio, 0xa0010, 1), ==, 0x77);
    fixture_fini(&f);
}

static bool run_judge(const char *const *argv, char **out)
{
    g_autoptr(GError) err = NULL;
    int status;
    return g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                        NULL, NULL, out, NULL, &status, &err) &&
           g_spawn_check_wait_status(status, NULL);
}

/* A PNG decoder independent of ours: chunk CRCs checked, IDAT inflated,
 * the RGB bytes printed as hex. */
static const char png_decoder[] =
    "import sys, struct, zlib\n"
    "d = open(sys.argv[1], 'rb').read()\n"
    "assert d[:8] == b'\\x89PNG\\r\\n\\x1a\\n'\n"
    "p, idat, hdr = 8, b'', None\n"
    "while p < len(d):\n"
    "    n, t = struct.unpack('>I4s', d[p:p + 8])\n"
    "    body = d[p + 8:p + 8 + n]\n"
    "    assert struct.unpack('>I', d[p + 8 + n:p + 12 + n])[0] == zlib.crc32(t + body)\n"
    "    if t == b'IHDR': hdr = struct.unpack('>IIBBBBB', body)\n"
    "    if t == b'IDAT': idat += body\n"
    "    p += 12 + n\n"
    "w, h, depth, ctype = hdr[:4]\n"
    "assert depth == 8 and ctype == 2\n"
    "raw = zlib.decompress(idat)\n"
    "rows = [raw[y * (1 + 3 * w):(y + 1) * (1 + 3 * w)] for y in range(h)]\n"
    "assert all(r[0] == 0 for r in rows)\n"
    "print(w, h, b''.join(r[1:] for r in rows).hex())\n";

static void test_png(void)
{
    Fixture f;
    fixture_init(&f);
    g_autoptr(GError) err = NULL;

    set_mode(&f, 37, 21, 32);
    for (uint32_t y = 0; y < 21; y++)
        for (uint32_t x = 0; x < 37; x++) {
            uint32_t px = pattern(x, y);
            memcpy(f.vram + (y * 37 + x) * 4, &px, 4);
        }
    const HgrConsoleSurface *s = update(&f, NULL, NULL);
    g_autofree char *dir = g_dir_make_tmp("hangar-vga-XXXXXX", &err);
    g_assert_no_error(err);
    g_autofree char *png = g_build_filename(dir, "shot.png", NULL);
    g_autofree char *py = g_build_filename(dir, "decode.py", NULL);
    g_assert_true(hgr_console_write_png(s, png, &err));
    g_assert_no_error(err);
    g_file_set_contents(py, png_decoder, -1, NULL);

    g_autofree uint8_t *rgba = hgr_console_to_rgba(s);
    GString *want = g_string_new("37 21 ");
    for (size_t i = 0; i < 37 * 21; i++)
        g_string_append_printf(want, "%02x%02x%02x", rgba[i * 4], rgba[i * 4 + 1],
                               rgba[i * 4 + 2]);
    g_assert_cmphex(rgba[(5 * 37 + 9) * 4], ==, pattern(9, 5) >> 16);

    g_autofree char *out = NULL;
    g_autofree char *ppm = g_build_filename(dir, "shot.rgb", NULL);
    g_autofree char *rgb_out = g_strconcat("rgb:", ppm, NULL);
    const char *python[] = { "python3", py, png, NULL };
    const char *convert[] = { "convert", png, "-depth", "8", rgb_out, NULL };
    unsigned judges = 0;
    if (run_judge(python, &out)) {
        g_strchomp(out);
        g_assert_cmpstr(out, ==, want->str);
        judges++;
    }
    if (run_judge(convert, NULL)) {
        g_autofree char *rgb = NULL;
        gsize len;
        g_assert_true(g_file_get_contents(ppm, &rgb, &len, NULL));
        g_assert_cmpuint(len, ==, 37 * 21 * 3);
        for (size_t i = 0; i < 37 * 21; i++)
            g_assert_cmpmem(rgb + i * 3, 3, rgba + i * 4, 3);
        g_unlink(ppm);
        judges++;
    }
    g_string_free(want, TRUE);
    g_test_message("PNG judges that ran: %u", judges);
    if (!judges)
        g_test_skip("NO PNG JUDGE: neither python3 nor ImageMagick convert ran");
    g_unlink(png);
    g_unlink(py);
    g_rmdir(dir);
    fixture_fini(&f);
}

static void test_save_load(void)
{
    Fixture a, b;
    g_autoptr(GError) err = NULL;
    fixture_init(&a);
    fixture_init(&b);

    set_mode(&a, 800, 600, 8);
    dispi_write(&a, VBE_Y_OFFSET, 3);
    test_io_write(&a.tb->pio, 0x3c8, 1, 9);
    test_io_write(&a.tb->pio, 0x3c9, 1, 0x11);
    test_io_write(&a.tb->pio, 0x3d4, 2, 0x330c);
    test_io_write(&a.tb->pio, 0x3c0, 1, 0x05);        /* flip-flop left at data */
    g_autoptr(GByteArray) saved = test_save(a.dev);
    g_assert_true(test_load(b.dev, saved, &err));
    g_assert_no_error(err);

    VgaState sa, sb;
    a.dev->ops->get_state(a.dev, &sa);
    b.dev->ops->get_state(b.dev, &sb);
    g_assert_cmpmem(&sa, sizeof(sa), &sb, sizeof(sb));
    g_assert_cmpuint(dispi_read(&b, VBE_XRES), ==, 800);
    g_assert_cmpuint(update(&b, NULL, NULL)->width, ==, 800);

    /* A state with an index out of range is rejected. */
    sb.dac_sub = 7;
    g_assert_false(b.dev->ops->check_state(b.dev, &sb, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
    fixture_fini(&a);
    fixture_fini(&b);
}

/* What the board was asked to map as RAM, last call first. */
typedef struct {
    unsigned calls;
    void *hva;
    uint64_t gpa, size;
} MapLog;

static bool record_map_ram(void *opaque, void *hva, uint64_t gpa, uint64_t size)
{
    MapLog *log = opaque;
    log->calls++;
    log->hva = hva;
    log->gpa = gpa;
    log->size = size;
    return true;
}

/* VRAM is guest RAM wherever BAR0 decodes (no exit per pixel), follows the
 * BAR when the guest moves it, and goes away when decode is switched off. */
static void test_vram_slot(void)
{
    g_autoptr(GError) err = NULL;
    MapLog log = { 0 };
    TestBoard *tb = test_board_new(NULL);
    tb->board.map_ram = record_map_ram;
    tb->board.opaque = &log;
    HgrDevice *dev = hgr_vga_new("vga");
    g_assert_true(dev->ops->realize(dev, &tb->board, &err));
    g_assert_no_error(err);
    HgrPciDevice *pdev = (HgrPciDevice *)dev;
    size_t vram_size;
    uint8_t *vram = hgr_vga_vram(dev, &vram_size);

    unsigned devfn = pdev->slot << 3;
    uint16_t cmd = (uint16_t)test_cfg_read(tb, devfn, 0x04, 2);
    g_assert_false(cmd & 0x2);                 /* no decode until the firmware says so */
    g_assert_cmpuint(log.gpa, ==, HGR_BOARD_UNMAPPED);

    cmd |= 0x2;
    test_cfg_write(tb, devfn, 0x04, 2, cmd);
    uint64_t bar0 = hgr_pci_bar_address(pdev, 0);
    g_assert_cmpuint(bar0, !=, HGR_PCI_BAR_UNMAPPED);
    g_assert_true(log.hva == vram);
    g_assert_cmpuint(log.size, ==, vram_size);
    g_assert_cmpuint(log.gpa, ==, bar0);

    uint32_t moved = bar0 == 0xd0000000u ? 0xd1000000u : 0xd0000000u;   /* clear of BAR2 */
    test_cfg_write(tb, devfn, 0x10, 4, moved);
    g_assert_cmpuint(hgr_pci_bar_address(pdev, 0), ==, moved);
    g_assert_cmpuint(log.gpa, ==, moved);

    unsigned before = log.calls;
    test_cfg_write(tb, devfn, 0x04, 2, cmd & ~0x2u);     /* memory decode off */
    g_assert_cmpuint(log.calls, ==, before + 1);
    g_assert_cmpuint(log.gpa, ==, HGR_BOARD_UNMAPPED);

    test_cfg_write(tb, devfn, 0x04, 2, cmd);
    g_assert_cmpuint(log.gpa, ==, moved);

    hgr_device_free(dev);
    g_assert_cmpuint(log.gpa, ==, HGR_BOARD_UNMAPPED);    /* gone before its memory */
    test_board_free(tb, true);
}

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
    g_test_add_func("/vmm/vga/pci-identity", test_pci_identity);
    g_test_add_func("/vmm/vga/vbe-modes", test_vbe_mode);
    g_test_add_func("/vmm/vga/bochs-drm-probe", test_bochs_drm_probe);
    g_test_add_func("/vmm/vga/text-hangar", test_text_mode);
    g_test_add_func("/vmm/vga/vga-ports", test_vga_ports);
    g_test_add_func("/vmm/vga/hostile-dispi", test_hostile_dispi);
    g_test_add_func("/vmm/vga/png-decoded", test_png);
    g_test_add_func("/vmm/vga/save-load", test_save_load);
    g_test_add_func("/vmm/vga/vram-slot", test_vram_slot);
    g_test_add_func("/vmm/vga/dirty-pages-to-rects", test_dirty_pages_to_rects);
    g_test_add_func("/vmm/vga/dirty-pages-to-rects-random", test_dirty_pages_to_rects_random);
    g_test_add_func("/vmm/vga/dirty-log", test_dirty_log);
    return g_test_run();
}
