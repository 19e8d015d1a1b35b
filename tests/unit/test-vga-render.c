/* test-vga-render.c — what the VGA draws on the console surface: Bochs VBE
 * modes at 8, 16 and 32 bpp (with panning, the framebuffer BAR and the
 * change tracking of frame comparison), text mode against the console font,
 * and PNG screenshots checked by decoders independent of ours. */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/vga-font.h"
#include "vga-fixture.h"

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

/* A screenshot written over a file keeps that file's permissions: one
 * into a private file (0600) is never readable by others, not even for a
 * moment; a new file gets the usual mode. */
static void test_png_keeps_mode(void)
{
    Fixture f;
    fixture_init(&f);
    g_autoptr(GError) err = NULL;
    GStatBuf st;

    set_mode(&f, 16, 8, 32);
    const HgrConsoleSurface *s = update(&f, NULL, NULL);
    g_autofree char *dir = g_dir_make_tmp("hangar-vga-XXXXXX", &err);
    g_assert_no_error(err);
    g_autofree char *png = g_build_filename(dir, "private.png", NULL);
    int fd = g_open(png, O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, 0600);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    g_assert_true(hgr_console_write_png(s, png, &err));
    g_assert_no_error(err);
    g_assert_cmpint(g_stat(png, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    g_assert_cmpint(st.st_size, >, 8);

    mode_t old = umask(022);
    g_autofree char *fresh = g_build_filename(dir, "fresh.png", NULL);
    g_assert_true(hgr_console_write_png(s, fresh, &err));
    umask(old);
    g_assert_no_error(err);
    g_assert_cmpint(g_stat(fresh, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0644);
    g_unlink(png);
    g_unlink(fresh);
    g_rmdir(dir);
    fixture_fini(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/vga/vbe-modes", test_vbe_mode);
    g_test_add_func("/vmm/vga/text-hangar", test_text_mode);
    g_test_add_func("/vmm/vga/png-decoded", test_png);
    g_test_add_func("/vmm/vga/png-keeps-mode", test_png_keeps_mode);
    return g_test_run();
}
