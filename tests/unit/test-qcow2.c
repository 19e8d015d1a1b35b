/* test-qcow2.c — the qcow2 driver judged by qemu-img: images qemu writes read
 * right, images we write pass `qemu-img check` and `qemu-img compare` against
 * a raw reference kept beside them, hostile headers are refused. */
#include "vmm-config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "block/block.h"

#define MIB (1024 * 1024)

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

/* Runs a command in tmpdir; returns its exit status, output in *out. */
static int run(char **out, const char *first, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (char *)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_autofree char *o = NULL, *e = NULL;
    int status = -1;
    g_autoptr(GError) error = NULL;
    if (!g_spawn_sync(tmpdir, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                      &o, &e, &status, &error))
        g_error("%s: %s", first, error->message);
    if (out)
        *out = g_strconcat(o, e, NULL);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool have_qemu(void)
{
    g_autofree char *img = g_find_program_in_path("qemu-img");
    g_autofree char *io = g_find_program_in_path("qemu-io");
    if (img && io)
        return true;
    g_test_skip("qemu-img/qemu-io (qemu-utils) not installed");
    return false;
}

static void qemu_ok(const char *first, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (char *)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_autofree char *o = NULL, *e = NULL;
    int status = -1;
    g_assert_true(g_spawn_sync(tmpdir, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, &o, &e, &status, NULL));
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("%s failed: %s%s", first, o, e);
}

/* qemu-img check: 0 clean, 3 leaks only, 2 corrupt. */
static int check_image(const char *path)
{
    g_autofree char *out = NULL;
    int rc = run(&out, "qemu-img", "check", path, NULL);
    if (rc != 0)
        g_test_message("qemu-img check %s -> %d:\n%s", path, rc, out);
    return rc;
}

static void assert_same_as_raw(const char *qcow2, const char *raw)
{
    g_autofree char *out = NULL;
    int rc = run(&out, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", qcow2, raw, NULL);
    if (rc != 0)
        g_error("qemu-img compare %s %s: %s", qcow2, raw, out);
}

static HgrBlock *open_q(const char *path, bool ro)
{
    g_autoptr(GError) error = NULL;
    HgrBlock *b = hgr_block_open(path, HGR_DISK_FORMAT_QCOW2, ro, &error);
    g_assert_no_error(error);
    return b;
}

static void done_cb(HgrBlockReq *req, int ret)
{
    *(int *)req->opaque = ret;
}

static int io(HgrBlock *b, HgrBlockOp op, uint64_t off, void *buf, uint64_t len)
{
    int ret = 1;
    struct iovec iov = { buf, len };
    HgrBlockReq req = { .op = op, .offset = off, .len = len, .iov = buf ? &iov : NULL,
                        .iovcnt = buf ? 1 : 0, .done = done_cb, .opaque = &ret };
    hgr_block_submit(b, &req);
    g_assert_cmpint(ret, !=, 1);        /* no I/O thread: completed inline */
    return ret;
}

/* The raw reference: same operations on a plain file. */
static void ref_write(int fd, uint64_t off, const void *buf, uint64_t len)
{
    g_assert_cmpint(pwrite(fd, buf, len, (off_t)off), ==, (ssize_t)len);
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)((i * 31 + seed * 7 + (i >> 9)) ^ seed);
}

/* Reads the whole disk through the driver and compares it with a raw file. */
static void assert_reads_like(HgrBlock *b, const char *raw)
{
    gsize len;
    g_autofree char *want = NULL;
    g_assert_true(g_file_get_contents(raw, &want, &len, NULL));
    g_assert_cmpuint(len, ==, hgr_block_size(b));
    g_autofree uint8_t *got = g_malloc(len);
    /* In odd pieces, so requests straddle clusters. */
    for (uint64_t off = 0; off < len;) {
        uint64_t n = MIN(len - off, 3 * 4096 + 512);
        g_assert_cmpint(io(b, HGR_BLOCK_READ, off, got + off, n), ==, 0);
        off += n;
    }
    g_assert_true(memcmp(got, want, len) == 0);
}

static void test_read_qemu_written(gconstpointer compat)
{
    if (!have_qemu())
        return;
    g_autofree char *img = tmp_path("qread.qcow2");
    g_autofree char *raw = tmp_path("qread.raw");
    g_autofree char *opt = g_strdup_printf("compat=%s,cluster_size=4096", (char *)compat);
    g_unlink(img);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", opt, img, "4M", NULL);
    qemu_ok("qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 64k",
            "-c", "write -P 0xcd 1000k 9k", "-c", "write -P 0x11 2M 512k",
            "-c", "write -z 2100k 64k", "-c", "write -P 0x5a 4095k 1k", img, NULL);
    qemu_ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", img, raw, NULL);
    g_autoptr(HgrBlock) b = open_q(img, true);
    g_assert_cmpuint(hgr_block_size(b), ==, 4 * MIB);
    assert_reads_like(b, raw);
}

/* Random writes through the driver, mirrored to a raw file; qemu judges. */
static void write_workload(HgrBlock *b, int ref, uint64_t size, unsigned count, uint32_t seed)
{
    GRand *r = g_rand_new_with_seed(seed);
    g_autofree uint8_t *buf = g_malloc(256 * 1024);
    for (unsigned i = 0; i < count; i++) {
        uint64_t len = (uint64_t)g_rand_int_range(r, 1, 512) * 512;
        uint64_t off = (uint64_t)g_rand_int_range(r, 0, (gint32)((size - len) / 512)) * 512;
        fill(buf, len, seed + i);
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE, off, buf, len), ==, 0);
        ref_write(ref, off, buf, len);
    }
    g_rand_free(r);
}

static void test_write_judged(gconstpointer compat)
{
    if (!have_qemu())
        return;
    g_autofree char *img = tmp_path("qwrite.qcow2");
    g_autofree char *raw = tmp_path("qwrite.raw");
    g_autofree char *opt = g_strdup_printf("compat=%s,cluster_size=4096", (char *)compat);
    g_unlink(img);
    g_unlink(raw);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", opt, img, "8M", NULL);
    qemu_ok("qemu-img", "create", "-q", "-f", "raw", raw, "8M", NULL);
    int ref = open(raw, O_RDWR);
    g_assert_cmpint(ref, >=, 0);
    {
        g_autoptr(HgrBlock) b = open_q(img, false);
        write_workload(b, ref, 8 * MIB, 60, 1);
        assert_reads_like(b, raw);
        g_assert_cmpint(io(b, HGR_BLOCK_FLUSH, 0, NULL, 0), ==, 0);
    }
    close(ref);
    g_assert_cmpint(check_image(img), ==, 0);
    assert_same_as_raw(img, raw);
}

static void test_create(void)
{
    if (!have_qemu())
        return;
    g_autofree char *img = tmp_path("created.qcow2");
    g_autofree char *raw = tmp_path("created.raw");
    g_unlink(img);
    g_unlink(raw);
    g_autoptr(GError) error = NULL;
    g_assert_true(hgr_block_create(img, HGR_DISK_FORMAT_QCOW2, 16 * MIB, &error));
    g_assert_no_error(error);
    g_assert_false(hgr_block_create(img, HGR_DISK_FORMAT_QCOW2, 16 * MIB, &error));
    g_assert_error(error, HGR_VM_ERROR, HGR_VM_ERROR_DISK);
    g_clear_error(&error);
    g_assert_cmpint(check_image(img), ==, 0);
    g_assert_true(hgr_block_create(raw, HGR_DISK_FORMAT_RAW, 16 * MIB, &error));
    int ref = open(raw, O_RDWR);
    {
        g_autoptr(HgrBlock) b = open_q(img, false);
        g_assert_cmpuint(hgr_block_size(b), ==, 16 * MIB);
        write_workload(b, ref, 16 * MIB, 40, 2);
    }
    close(ref);
    g_assert_cmpint(check_image(img), ==, 0);
    assert_same_as_raw(img, raw);
}

/* Small clusters: the refcount table outgrows its cluster and moves. */
static void test_refcount_growth(void)
{
    if (!have_qemu())
        return;
    g_autofree char *img = tmp_path("grow.qcow2");
    g_autofree char *raw = tmp_path("grow.raw");
    g_unlink(img);
    g_unlink(raw);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", img, "24M",
            NULL);
    qemu_ok("qemu-img", "create", "-q", "-f", "raw", raw, "24M", NULL);
    int ref = open(raw, O_RDWR);
    g_autofree uint8_t *buf = g_malloc(MIB);
    {
        g_autoptr(HgrBlock) b = open_q(img, false);
        for (unsigned i = 0; i < 20; i++) {
            fill(buf, MIB, i);
            g_assert_cmpint(io(b, HGR_BLOCK_WRITE, (uint64_t)i * MIB + 512, buf, MIB), ==, 0);
            ref_write(ref, (uint64_t)i * MIB + 512, buf, MIB);
        }
    }
    close(ref);
    g_assert_cmpint(check_image(img), ==, 0);
    assert_same_as_raw(img, raw);
}

static void test_backing_chain(void)
{
    if (!have_qemu())
        return;
    g_autofree char *base = tmp_path("base.raw");
    g_autofree char *mid = tmp_path("mid.qcow2");
    g_autofree char *top = tmp_path("top.qcow2");
    g_autofree char *want = tmp_path("chain-want.raw");
    g_autofree char *got = tmp_path("chain-got.raw");
    g_unlink(mid);
    g_unlink(top);
    g_unlink(want);
    g_unlink(got);
    g_autofree uint8_t *buf = g_malloc(4 * MIB);
    fill(buf, 4 * MIB, 9);
    g_assert_true(g_file_set_contents(base, (char *)buf, 4 * MIB, NULL));
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw",
            "-o", "cluster_size=4096", mid, NULL);
    qemu_ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x77 64k 12k", mid, NULL);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2",
            "-o", "cluster_size=4096", top, NULL);
    qemu_ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", top, want, NULL);
    int ref = open(want, O_RDWR);
    {
        g_autoptr(HgrBlock) b = open_q(top, false);
        assert_reads_like(b, want);
        /* Partial clusters over base and mid data: the rest is copied up. */
        memset(buf, 0xe1, 1024);
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE, 66 * 1024 + 512, buf, 1024), ==, 0);
        ref_write(ref, 66 * 1024 + 512, buf, 1024);
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE, 3 * MIB + 1024, buf, 512), ==, 0);
        ref_write(ref, 3 * MIB + 1024, buf, 512);
        /* Discarding a whole cluster must not show the backing data again. */
        g_assert_cmpint(io(b, HGR_BLOCK_DISCARD, 2 * MIB, NULL, 8192), ==, 0);
        memset(buf, 0, 8192);
        ref_write(ref, 2 * MIB, buf, 8192);
        assert_reads_like(b, want);
    }
    close(ref);
    g_assert_cmpint(check_image(top), ==, 0);
    g_assert_cmpint(check_image(mid), ==, 0);
    qemu_ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", top, got, NULL);
    g_autofree char *a = NULL, *c = NULL;
    gsize la, lc;
    g_assert_true(g_file_get_contents(want, &a, &la, NULL));
    g_assert_true(g_file_get_contents(got, &c, &lc, NULL));
    g_assert_true(la == lc && memcmp(a, c, la) == 0);
}

static void test_zero_discard(void)
{
    if (!have_qemu())
        return;
    g_autofree char *img = tmp_path("zero.qcow2");
    g_autofree char *raw = tmp_path("zero.raw");
    g_unlink(img);
    g_unlink(raw);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", img, "2M",
            NULL);
    qemu_ok("qemu-img", "create", "-q", "-f", "raw", raw, "2M", NULL);
    int ref = open(raw, O_RDWR);
    g_autofree uint8_t *buf = g_malloc(MIB);
    g_autofree uint8_t *zero = g_malloc0(MIB);
    {
        g_autoptr(HgrBlock) b = open_q(img, false);
        fill(buf, MIB, 3);
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE, 0, buf, MIB), ==, 0);
        ref_write(ref, 0, buf, MIB);
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE_ZEROES, 4096 + 512, NULL, 5 * 4096), ==, 0);
        ref_write(ref, 4096 + 512, zero, 5 * 4096);
        g_assert_cmpint(io(b, HGR_BLOCK_DISCARD, 64 * 1024, NULL, 64 * 1024), ==, 0);
        ref_write(ref, 64 * 1024, zero, 64 * 1024);
        /* Zeroes over never-written space, then data over a zero cluster. */
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE_ZEROES, MIB + 8192, NULL, 8192), ==, 0);
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE, MIB + 8192 + 100 * 0 + 512, buf, 512), ==, 0);
        ref_write(ref, MIB + 8192 + 512, buf, 512);
        assert_reads_like(b, raw);
    }
    close(ref);
    g_assert_cmpint(check_image(img), ==, 0);
    assert_same_as_raw(img, raw);
    g_autofree char *map = NULL;
    run(&map, "qemu-img", "map", "--output=json", img, NULL);
    g_assert_nonnull(strstr(map, "\"zero\": true"));
}

static void test_compressed(void)
{
    if (!have_qemu())
        return;
    g_autofree char *raw = tmp_path("comp.raw");
    g_autofree char *img = tmp_path("comp.qcow2");
    g_unlink(img);
    g_autofree uint8_t *buf = g_malloc(2 * MIB);
    for (size_t i = 0; i < 2 * MIB; i++)
        buf[i] = (uint8_t)((i / 1000) % 7 == 0 ? g_random_int() : (i >> 12));
    g_assert_true(g_file_set_contents(raw, (char *)buf, 2 * MIB, NULL));
    qemu_ok("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=4096",
            raw, img, NULL);
    int ref = open(raw, O_RDWR);
    {
        g_autoptr(HgrBlock) b = open_q(img, false);
        assert_reads_like(b, raw);
        fill(buf, 8192, 5);
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE, 10 * 4096 + 1024, buf, 8192), ==, 0);
        ref_write(ref, 10 * 4096 + 1024, buf, 8192);
        g_assert_cmpint(io(b, HGR_BLOCK_DISCARD, 40 * 4096, NULL, 4 * 4096), ==, 0);
        memset(buf, 0, 4 * 4096);
        ref_write(ref, 40 * 4096, buf, 4 * 4096);
        assert_reads_like(b, raw);
    }
    close(ref);
    g_assert_cmpint(check_image(img), ==, 0);
    assert_same_as_raw(img, raw);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("hangar-qcow2-XXXXXX", NULL);
    g_test_add_data_func("/vmm/qcow2/read-qemu-written/v3", "1.1", test_read_qemu_written);
    g_test_add_data_func("/vmm/qcow2/read-qemu-written/v2", "0.10", test_read_qemu_written);
    g_test_add_data_func("/vmm/qcow2/writes-pass-qemu-check/v3", "1.1", test_write_judged);
    g_test_add_data_func("/vmm/qcow2/writes-pass-qemu-check/v2", "0.10", test_write_judged);
    g_test_add_func("/vmm/qcow2/create", test_create);
    g_test_add_func("/vmm/qcow2/refcount-table-grows", test_refcount_growth);
    g_test_add_func("/vmm/qcow2/backing-chain", test_backing_chain);
    g_test_add_func("/vmm/qcow2/zero-and-discard", test_zero_discard);
    g_test_add_func("/vmm/qcow2/compressed", test_compressed);
    int rc = g_test_run();
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        g_printerr("cannot remove %s\n", tmpdir);
    return rc;
}
