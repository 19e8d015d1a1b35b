/* test-pflash.c — the CFI flash as OVMF probes, programs and erases it, on a
 * temporary copy of Debian's OVMF variable store. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/pflash.h"
#include "legacy-board.h"

#define VARS_TEMPLATE "/usr/share/OVMF/OVMF_VARS_4M.fd"
#define CODE_IMAGE    "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define GPA           0xffc00000ull

typedef struct {
    LegacyBoard tb;
    HgrDevice *dev;
    char *dir;
    char *path;
} Fixture;

static int guest_warnings;

/* Warnings the guest triggers are counted; any other fails the test. */
static void count_guest_warnings(const gchar *domain, GLogLevelFlags level,
                                 const gchar *message, gpointer data)
{
    if (strstr(message, "unknown command")) {
        guest_warnings++;
        return;
    }
    g_log_default_handler(domain, level, message, data);
    g_test_fail();
}

static bool have_ovmf(void)
{
    if (g_file_test(VARS_TEMPLATE, G_FILE_TEST_EXISTS) &&
        g_file_test(CODE_IMAGE, G_FILE_TEST_EXISTS))
        return true;
    g_test_skip("SKIPPED: no " VARS_TEMPLATE " (install the ovmf package)");
    return false;
}

static void fixture_init(Fixture *f)
{
    g_autoptr(GError) err = NULL;

    legacy_board_init(&f->tb);
    f->dir = g_dir_make_tmp("pflash-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->path = g_build_filename(f->dir, "vars.fd", NULL);
    g_assert_true(hgr_pflash_copy_vars(VARS_TEMPLATE, f->path, &err));
    g_assert_no_error(err);
    f->dev = hgr_pflash_new("pflash.vars", f->path, GPA, false, &err);
    g_assert_no_error(err);
    legacy_realize(&f->tb, f->dev);
}

static void fixture_clear(Fixture *f)
{
    hgr_device_free(f->dev);
    legacy_board_clear(&f->tb);
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static uint32_t rd(Fixture *f, uint64_t off, unsigned len)
{
    uint8_t d[8] = { 0 };

    g_assert_true(hgr_io_bus_dispatch(&f->tb.mmio, GPA + off, d, len, false));
    return (uint32_t)hgr_io_get(d, len);
}

static void wr(Fixture *f, uint64_t off, uint32_t v, unsigned len)
{
    uint8_t d[8];

    hgr_io_put(d, len, v);
    g_assert_true(hgr_io_bus_dispatch(&f->tb.mmio, GPA + off, d, len, true));
}

static uint8_t file_byte(const char *path, uint64_t off)
{
    uint8_t b = 0;
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, &b, 1, (off_t)off), ==, 1);
    close(fd);
    return b;
}

static void test_cfi_query(void)
{
    Fixture f;
    if (!have_ovmf())
        return;
    fixture_init(&f);

    wr(&f, 0x55, 0x98, 1);
    g_assert_cmphex(rd(&f, 0x10, 1), ==, 'Q');
    g_assert_cmphex(rd(&f, 0x11, 1), ==, 'R');
    g_assert_cmphex(rd(&f, 0x12, 1), ==, 'Y');
    g_assert_cmphex(rd(&f, 0x13, 1), ==, 0x01);
    /* 540672 bytes: 132 sectors of 4 KiB, device size rounded up to 2^20. */
    g_assert_cmpuint(rd(&f, 0x27, 1), ==, 20);
    g_assert_cmpuint(rd(&f, 0x2d, 1) | rd(&f, 0x2e, 1) << 8, ==, 131);
    g_assert_cmpuint((rd(&f, 0x2f, 1) | rd(&f, 0x30, 1) << 8) * 256, ==, 4096);
    wr(&f, 0, 0x90, 1);
    g_assert_cmphex(rd(&f, 0, 1), ==, 0x89);
    wr(&f, 0, 0xff, 1);
    g_assert_cmphex(rd(&f, 40, 1), ==, '_');
    g_assert_cmphex(rd(&f, 40, 4), ==, 0x4856465f);     /* "_FVH" little-endian */
    fixture_clear(&f);
}

/* OVMF's QemuFlashDetected, step by step: only a real flash answers 0 here. */
static void test_ovmf_probe(void)
{
    Fixture f;
    if (!have_ovmf())
        return;
    fixture_init(&f);

    uint64_t off = 16;          /* first byte that is neither 0x00 nor 0x70 */
    uint8_t orig = (uint8_t)rd(&f, off, 1);
    g_assert_cmphex(orig, !=, 0x00);
    wr(&f, off, 0x50, 1);
    g_assert_cmphex(rd(&f, off, 1), ==, orig);
    wr(&f, off, 0x70, 1);
    g_assert_cmphex(rd(&f, off, 1), ==, 0x00);
    wr(&f, off, 0xff, 1);
    g_assert_cmphex(rd(&f, off, 1), ==, orig);
    fixture_clear(&f);
}

static void test_program_erase(void)
{
    Fixture f;
    if (!have_ovmf())
        return;
    fixture_init(&f);

    uint64_t off = 0x41000 + 7;
    wr(&f, off, 0x10, 1);
    wr(&f, off, 0x5a, 1);
    g_assert_cmphex(rd(&f, off, 1) & 0x80, ==, 0x80);   /* status: ready */
    wr(&f, off, 0x40, 1);
    wr(&f, off + 1, 0xc3, 1);
    wr(&f, 0, 0xff, 1);
    g_assert_cmphex(rd(&f, off, 2), ==, 0xc35a);
    g_assert_cmphex(file_byte(f.path, off), ==, 0x5a);
    g_assert_cmphex(file_byte(f.path, off + 1), ==, 0xc3);

    /* Buffered write of 4 bytes. */
    wr(&f, 0x41100, 0xe8, 1);
    g_assert_cmphex(rd(&f, 0x41100, 1) & 0x80, ==, 0x80);
    wr(&f, 0x41100, 3, 1);
    wr(&f, 0x41100, 0x11223344, 4);
    wr(&f, 0x41100, 0xd0, 1);
    wr(&f, 0, 0xff, 1);
    g_assert_cmphex(rd(&f, 0x41100, 4), ==, 0x11223344);
    g_assert_cmphex(file_byte(f.path, 0x41103), ==, 0x11);

    /* Erase through an address in the middle of the sector. */
    wr(&f, 0x41800, 0x20, 1);
    wr(&f, 0x41800, 0xd0, 1);
    g_assert_cmphex(rd(&f, 0x41000, 1), ==, 0x80);      /* status, no error */
    wr(&f, 0, 0xff, 1);
    for (uint64_t o = 0x41000; o < 0x42000; o += 4)
        g_assert_cmphex(rd(&f, o, 4), ==, 0xffffffff);
    g_assert_cmphex(file_byte(f.path, off), ==, 0xff);
    g_assert_cmphex(file_byte(f.path, 0x41fff), ==, 0xff);
    /* Neighbours untouched: the FV header is in sector 0. */
    g_assert_cmphex(rd(&f, 40, 4), ==, 0x4856465f);
    fixture_clear(&f);
}

static void test_code_readonly(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *before = NULL, *after = NULL;
    gsize n1, n2;
    LegacyBoard tb;

    if (!have_ovmf())
        return;
    legacy_board_init(&tb);
    HgrDevice *dev = hgr_pflash_new("pflash.code", CODE_IMAGE, GPA, true, &err);
    g_assert_no_error(err);
    legacy_realize(&tb, dev);
    g_assert_true(g_file_get_contents(CODE_IMAGE, &before, &n1, NULL));

    uint8_t d[1] = { 0x10 }, v[1] = { 0x00 }, st[1];
    hgr_io_bus_dispatch(&tb.mmio, GPA + 100, d, 1, true);
    hgr_io_bus_dispatch(&tb.mmio, GPA + 100, v, 1, true);
    hgr_io_bus_dispatch(&tb.mmio, GPA + 100, st, 1, false);
    g_assert_cmphex(st[0] & 0x10, ==, 0x10);            /* program error */
    d[0] = 0x20;
    v[0] = 0xd0;
    hgr_io_bus_dispatch(&tb.mmio, GPA, d, 1, true);
    hgr_io_bus_dispatch(&tb.mmio, GPA, v, 1, true);
    hgr_io_bus_dispatch(&tb.mmio, GPA, st, 1, false);
    g_assert_cmphex(st[0] & 0x20, ==, 0x20);            /* erase error */

    uint64_t size;
    const uint8_t *mem = hgr_pflash_host_mem(dev, &size);
    g_assert_cmpuint(size, ==, n1);
    g_assert_cmpmem(mem, size, before, n1);
    hgr_device_free(dev);
    g_assert_true(g_file_get_contents(CODE_IMAGE, &after, &n2, NULL));
    g_assert_cmpmem(before, n1, after, n2);
    legacy_board_clear(&tb);
}

static void test_bad_files(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("pflash-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "vars.fd", NULL);
    g_autofree char *copy = g_build_filename(dir, "copy.fd", NULL);
    g_autofree uint8_t *zero = g_malloc0(8192);

    /* A variable store without the firmware volume header. */
    g_assert_true(g_file_set_contents(path, (char *)zero, 8192, NULL));
    g_assert_null(hgr_pflash_new("v", path, GPA, false, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
    g_assert_nonnull(strstr(err->message, "not a UEFI variable store"));
    g_assert_nonnull(strstr(err->message, "hangarctl firmware reset-vars"));
    g_clear_error(&err);
    g_assert_false(hgr_pflash_copy_vars(path, copy, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
    g_assert_false(g_file_test(copy, G_FILE_TEST_EXISTS));
    g_clear_error(&err);

    /* Not a multiple of the sector, and empty. */
    g_assert_true(g_file_set_contents(path, (char *)zero, 5000, NULL));
    g_assert_null(hgr_pflash_new("v", path, GPA, true, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(path, "", 0, NULL));
    g_assert_null(hgr_pflash_new("v", path, GPA, true, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
    g_clear_error(&err);
    g_assert_null(hgr_pflash_new("v", "/nonexistent/vars.fd", GPA, true, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
    g_clear_error(&err);

    /* Two VMs on one variable store. */
    if (have_ovmf()) {
        g_assert_true(hgr_pflash_copy_vars(VARS_TEMPLATE, path, &err));
        HgrDevice *a = hgr_pflash_new("a", path, GPA, false, &err);
        g_assert_no_error(err);
        g_assert_null(hgr_pflash_new("b", path, GPA, false, &err));
        g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
        hgr_device_free(a);
    }
    g_unlink(path);
    g_rmdir(dir);
}

/* Every command byte followed by every other in every width, at the last
 * bytes of the flash: the file keeps its size and the host stays up. */
static void test_hostile(void)
{
    Fixture f;
    if (!have_ovmf())
        return;
    fixture_init(&f);
    uint64_t size;
    hgr_pflash_host_mem(f.dev, &size);
    const unsigned widths[] = { 1, 2, 4, 8 };
    const uint8_t cmds[] = { 0x00, 0x10, 0x20, 0x40, 0x50, 0x60, 0x70, 0x90, 0x98, 0xd0,
                             0xe8, 0xff, 0x01, 0x2f, 0x1f, 0x42 };

    for (unsigned a = 0; a < G_N_ELEMENTS(cmds); a++) {
        for (unsigned b = 0; b < G_N_ELEMENTS(cmds); b++) {
            for (unsigned w = 0; w < G_N_ELEMENTS(widths); w++) {
                uint64_t off = size - widths[w] + (b & 1);  /* may straddle the end */
                if (off >= size)
                    off = size - 1;
                wr(&f, off, cmds[a], widths[w]);
                wr(&f, off, cmds[b], widths[w]);
                wr(&f, off, 0x00000000, widths[w]);
                rd(&f, off, widths[w]);
            }
        }
    }
    /* A buffered write that claims more than it gets, then strays. */
    wr(&f, 0x1000, 0xe8, 1);
    wr(&f, 0x1000, 0xff, 1);
    wr(&f, 0x1000, 0xe8, 1);
    wr(&f, 0x1000, 31, 1);
    wr(&f, 0x5000, 0xab, 1);
    wr(&f, 0, 0x50, 1);
    wr(&f, 0, 0x70, 1);
    g_assert_cmphex(rd(&f, 0, 1), ==, 0x00);
    wr(&f, 0, 0xff, 1);
    g_assert_cmphex(rd(&f, 0x5000, 1), !=, 0xab);

    g_assert_cmpint(guest_warnings, >=, 1);     /* rate-limited, so not one each */
    struct stat st;
    g_assert_cmpint(stat(f.path, &st), ==, 0);
    g_assert_cmpuint((uint64_t)st.st_size, ==, size);
    /* Past the end of the range nobody answers. */
    uint8_t d[4];
    g_assert_false(hgr_io_bus_dispatch(&f.tb.mmio, GPA + size, d, 4, false));
    fixture_clear(&f);
}

static void test_save_load(void)
{
    Fixture f, g;
    if (!have_ovmf())
        return;
    fixture_init(&f);
    g.dir = NULL;
    legacy_board_init(&g.tb);
    g.dir = g_dir_make_tmp("pflash-XXXXXX", NULL);
    g.path = g_build_filename(g.dir, "vars.fd", NULL);
    g_assert_true(hgr_pflash_copy_vars(VARS_TEMPLATE, g.path, NULL));
    g.dev = hgr_pflash_new("pflash.vars", g.path, GPA, false, NULL);
    legacy_realize(&g.tb, g.dev);

    /* Mid buffered write: two of four bytes in. */
    wr(&f, 0x2000, 0xe8, 1);
    wr(&f, 0x2000, 3, 1);
    wr(&f, 0x2000, 0xbeef, 2);
    legacy_roundtrip(f.dev, g.dev);
    wr(&g, 0x2002, 0xcafe, 2);
    wr(&g, 0x2000, 0xd0, 1);
    g_assert_cmphex(rd(&g, 0x2000, 1), ==, 0x80);
    wr(&g, 0, 0xff, 1);
    g_assert_cmphex(rd(&g, 0x2002, 2), ==, 0xcafe);

    wr(&f, 0x2002, 0xcafe, 2);
    wr(&f, 0x2000, 0xd0, 1);
    wr(&f, 0, 0x98, 1);
    legacy_roundtrip(f.dev, g.dev);
    g_assert_cmphex(rd(&g, 0x10, 1), ==, 'Q');
    legacy_truncated_load_fails(f.dev, g.dev, true);

    /* Layout: size u64, mode, pending, status, buf_left u32, buf_sector u64. */
    const struct { size_t off; uint8_t val; } bad[] = {
        { 0, 0x01 },        /* a different file size */
        { 8, 9 },           /* mode */
        { 9, 40 },          /* pending */
        { 10, 0x41 },       /* reserved status bit */
        { 11, 200 },        /* buffered count */
        { 22, 0xff },       /* buffered sector past the end */
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++)
        g_assert_false(legacy_load_forged(f.dev, g.dev, bad[i].off, bad[i].val));
    g_assert_cmphex(rd(&g, 0x10, 1), ==, 'Q');
    fixture_clear(&f);
    fixture_clear(&g);
}

/* What the board was last asked to map read-only, as KVM would see it. */
typedef struct {
    unsigned calls;
    const uint8_t *hva;
    uint64_t gpa, size;
} RomMap;

static RomMap rom_map;

static bool record_rom(void *opaque, const void *hva, uint64_t gpa, uint64_t size)
{
    rom_map.calls++;
    rom_map.hva = hva;
    rom_map.gpa = gpa;
    rom_map.size = size;
    return true;
}

/* In read-array mode the store is mapped, so OVMF's variable reads need no
 * exits; a command takes the mapping away until read-array comes back, so
 * the probe's status read and every status poll still reach the device,
 * and programmed bytes show through the mapping. */
static void test_read_array_mapping(void)
{
    Fixture f;
    g_autoptr(GError) err = NULL;
    if (!have_ovmf())
        return;
    rom_map = (RomMap){ 0 };
    legacy_board_init(&f.tb);
    f.tb.board.map_rom = record_rom;
    f.dir = g_dir_make_tmp("pflash-XXXXXX", NULL);
    f.path = g_build_filename(f.dir, "vars.fd", NULL);
    g_assert_true(hgr_pflash_copy_vars(VARS_TEMPLATE, f.path, &err));
    f.dev = hgr_pflash_new("pflash.vars", f.path, GPA, false, &err);
    g_assert_no_error(err);
    legacy_realize(&f.tb, f.dev);

    g_assert_cmpuint(rom_map.calls, ==, 1);
    g_assert_cmphex(rom_map.gpa, ==, GPA);
    g_assert_cmpuint(rom_map.size, ==, 540672);
    g_assert_cmpmem(rom_map.hva + 40, 4, "_FVH", 4);

    /* OVMF's probe: clear status (still reading the array), read status. */
    wr(&f, 0x100, 0x50, 1);
    g_assert_cmphex(rom_map.gpa, ==, GPA);
    wr(&f, 0x100, 0x70, 1);
    g_assert_cmphex(rom_map.gpa, ==, HGR_BOARD_UNMAPPED);
    g_assert_cmphex(rd(&f, 0x100, 1), ==, 0x00);
    wr(&f, 0x100, 0xff, 1);
    g_assert_cmphex(rom_map.gpa, ==, GPA);

    /* A program cycle as OVMF's QemuFlashWrite does it. */
    uint64_t off = 540672 - 1;
    wr(&f, off, 0x10, 1);
    g_assert_cmphex(rom_map.gpa, ==, HGR_BOARD_UNMAPPED);
    wr(&f, off, 0x5a, 1);
    wr(&f, off, 0xff, 1);
    g_assert_cmphex(rom_map.gpa, ==, GPA);
    g_assert_cmphex(rom_map.hva[off], ==, 0x5a);

    /* Going away: the mapping first, while the memory is still there. */
    unsigned calls = rom_map.calls;
    hgr_device_free(f.dev);
    g_assert_cmpuint(rom_map.calls, ==, calls + 1);
    g_assert_cmphex(rom_map.gpa, ==, HGR_BOARD_UNMAPPED);

    /* The code chip is never mapped by the device (the machine maps it). */
    calls = rom_map.calls;
    f.dev = hgr_pflash_new("pflash.code", CODE_IMAGE, GPA - (4u << 20), true, &err);
    g_assert_no_error(err);
    legacy_realize(&f.tb, f.dev);
    g_assert_cmpuint(rom_map.calls, ==, calls);
    fixture_clear(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    g_log_set_handler("hangar-vmm", G_LOG_LEVEL_WARNING, count_guest_warnings, NULL);
    g_test_add_func("/vmm/pflash/cfi-query", test_cfi_query);
    g_test_add_func("/vmm/pflash/ovmf-probe", test_ovmf_probe);
    g_test_add_func("/vmm/pflash/program-erase-persist", test_program_erase);
    g_test_add_func("/vmm/pflash/code-readonly", test_code_readonly);
    g_test_add_func("/vmm/pflash/bad-files", test_bad_files);
    g_test_add_func("/vmm/pflash/hostile", test_hostile);
    g_test_add_func("/vmm/pflash/save-load", test_save_load);
    g_test_add_func("/vmm/pflash/read-array-mapping", test_read_array_mapping);
    return g_test_run();
}
