/* test-qcow2.c — the qcow2 driver judged by qemu-img: images qemu writes read
 * right, images we write pass `qemu-img check` and `qemu-img compare` against
 * a raw reference kept beside them, hostile headers are refused. */
#include "vmm-config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "block/block.h"

#define MIB (1024 * 1024)

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

/* Runs a command in tmpdir; returns its exit status, output in *out. */
static int run_va(char **out, const char *first, va_list ap)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (char *)a);
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

static int run(char **out, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    int rc = run_va(out, first, ap);
    va_end(ap);
    return rc;
}

static void qemu_ok(const char *first, ...)
{
    g_autofree char *out = NULL;
    va_list ap;
    va_start(ap, first);
    int rc = run_va(&out, first, ap);
    va_end(ap);
    if (rc != 0)
        g_error("%s failed (%d): %s", first, rc, out);
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

/* A fresh qcow2 image made by qemu-img and a raw reference of the same size;
 * returns the reference's fd. */
static int make_pair(const char *name, const char *opts, const char *size, char **img,
                     char **raw)
{
    g_autofree char *qname = g_strconcat(name, ".qcow2", NULL);
    g_autofree char *rname = g_strconcat(name, ".raw", NULL);
    *img = tmp_path(qname);
    *raw = tmp_path(rname);
    g_unlink(*img);
    g_unlink(*raw);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", opts, *img, size, NULL);
    qemu_ok("qemu-img", "create", "-q", "-f", "raw", *raw, size, NULL);
    int ref = open(*raw, O_RDWR);
    g_assert_cmpint(ref, >=, 0);
    return ref;
}

/* After clean use: no leaks, no errors, same contents as the reference. */
static void finish_pair(const char *img, const char *raw, int ref)
{
    close(ref);
    g_assert_cmpint(check_image(img), ==, 0);
    assert_same_as_raw(img, raw);
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

static void test_read_qemu_written(gconstpointer opts)
{
    if (!have_qemu())
        return;
    g_autofree char *img = tmp_path("qread.qcow2");
    g_autofree char *raw = tmp_path("qread.raw");
    g_unlink(img);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", opts, img, "4M", NULL);
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

static void test_write_judged(gconstpointer opts)
{
    if (!have_qemu())
        return;
    g_autofree char *img = NULL, *raw = NULL;
    int ref = make_pair("qwrite", opts, "8M", &img, &raw);
    {
        g_autoptr(HgrBlock) b = open_q(img, false);
        write_workload(b, ref, 8 * MIB, 60, 1);
        assert_reads_like(b, raw);
        g_assert_cmpint(io(b, HGR_BLOCK_FLUSH, 0, NULL, 0), ==, 0);
    }
    finish_pair(img, raw, ref);
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
    g_autofree char *img = NULL, *raw = NULL;
    int ref = make_pair("grow", "cluster_size=512", "24M", &img, &raw);
    g_autofree uint8_t *buf = g_malloc(MIB);
    {
        g_autoptr(HgrBlock) b = open_q(img, false);
        for (unsigned i = 0; i < 20; i++) {
            fill(buf, MIB, i);
            g_assert_cmpint(io(b, HGR_BLOCK_WRITE, (uint64_t)i * MIB + 512, buf, MIB), ==, 0);
            ref_write(ref, (uint64_t)i * MIB + 512, buf, MIB);
        }
    }
    finish_pair(img, raw, ref);
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
    g_autofree char *img = NULL, *raw = NULL;
    int ref = make_pair("zero", "cluster_size=4096", "2M", &img, &raw);
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
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE, MIB + 8192 + 512, buf, 512), ==, 0);
        ref_write(ref, MIB + 8192 + 512, buf, 512);
        assert_reads_like(b, raw);
    }
    finish_pair(img, raw, ref);
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

/* Hostile headers: one field changed in a good image; opening must fail with
 * the reason (read-write, and read-only unless the image is merely flagged). */
typedef struct {
    const char *name;
    unsigned off, width;
    uint64_t value;
    const char *reason;
    bool ro_ok;
} Mutation;

static const Mutation mutations[] = {
    { "magic", 0, 4, 0x12345678, "magic" },
    { "version-1", 4, 4, 1, "version" },
    { "version-4", 4, 4, 4, "version" },
    { "cluster-bits-8", 20, 4, 8, "cluster bits" },
    { "cluster-bits-22", 20, 4, 22, "cluster bits" },
    { "cluster-bits-max", 20, 4, 0xffffffff, "cluster bits" },
    { "size-max", 24, 8, UINT64_MAX, "disk size" },
    { "size-unaligned", 24, 8, MIB + 1, "disk size" },
    { "size-beyond-l1", 24, 8, 1ull << 40, "cannot map" },
    { "encrypted", 32, 4, 1, "encrypted" },
    { "l1-size-0", 36, 4, 0, "cannot map" },
    { "l1-size-max", 36, 4, 0xffffffff, "too large" },
    { "l1-offset-0", 40, 8, 0, "overlaps the header" },
    { "l1-offset-unaligned", 40, 8, 0x30008, "aligned" },
    { "l1-offset-past-eof", 40, 8, 1ull << 40, "past the end" },
    { "l1-offset-max", 40, 8, UINT64_MAX, "aligned" },
    { "rt-offset-0", 48, 8, 0, "overlaps the header" },
    { "rt-offset-unaligned", 48, 8, 0x10010, "aligned" },
    { "rt-offset-past-eof", 48, 8, 1ull << 40, "past the end" },
    { "rt-clusters-0", 56, 4, 0, "refcount table of 0" },
    { "rt-clusters-max", 56, 4, 0xffffffff, "refcount table of" },
    { "rt-clusters-past-eof", 56, 4, 100, "past the end" },
    { "snapshots-max", 60, 4, 0xffffffff, "snapshots" },
    { "snapshot-offset-0", 60, 4, 1, "snapshot table overlaps the header" },
    { "incompat-unknown", 72, 8, 1ull << 40, "incompatible features" },
    { "incompat-data-file", 72, 8, 1ull << 2, "external data file" },
    { "incompat-zstd", 72, 8, 1ull << 3, "zstd compression" },
    { "incompat-extended-l2", 72, 8, 1ull << 4, "extended L2" },
    { "dirty", 72, 8, 1, "dirty", true },
    { "corrupt", 72, 8, 2, "corrupt", true },
    { "refcount-order-7", 96, 4, 7, "refcount order" },
    { "header-length-0", 100, 4, 0, "header length" },
    { "header-length-unaligned", 100, 4, 105, "header length" },
    { "header-length-max", 100, 4, 0xffffffff, "header length" },
    { "backing-name-past-header", 8, 8, 1ull << 40, "backing file name" },
};

static void put_field(const char *path, unsigned off, unsigned width, uint64_t v)
{
    uint8_t b[8];
    for (unsigned i = 0; i < width; i++)
        b[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
    int fd = open(path, O_RDWR);
    g_assert_cmpint(pwrite(fd, b, width, off), ==, (ssize_t)width);
    close(fd);
}

static uint64_t get_field(const char *path, unsigned off, unsigned width)
{
    uint8_t b[8];
    int fd = open(path, O_RDONLY);
    g_assert_cmpint(pread(fd, b, width, off), ==, (ssize_t)width);
    close(fd);
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v = (v << 8) | b[i];
    return v;
}

static void assert_refused(const char *path, bool ro, const char *reason)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrBlock) b = hgr_block_open(path, HGR_DISK_FORMAT_QCOW2, ro, &error);
    g_assert_null(b);
    g_assert_error(error, HGR_VM_ERROR, HGR_VM_ERROR_DISK);
    if (!strstr(error->message, reason))
        g_error("expected '%s' in: %s", reason, error->message);
}

static char *good_image(const char *name)
{
    char *img = tmp_path(name);
    g_unlink(img);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", img, "1M",
            NULL);
    qemu_ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x42 0 4k", img, NULL);
    return img;
}

static void test_hostile_header(gconstpointer data)
{
    const Mutation *m = data;
    if (!have_qemu())
        return;
    g_autofree char *img = good_image("hostile.qcow2");
    put_field(img, m->off, m->width, m->value);
    assert_refused(img, false, m->reason);
    if (!m->ro_ok) {
        assert_refused(img, true, m->reason);
        return;
    }
    g_autoptr(HgrBlock) b = open_q(img, true);
    uint8_t buf[512];
    g_assert_cmpint(io(b, HGR_BLOCK_READ, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(buf[0], ==, 0x42);
}

/* Tables whose entries point at other metadata. */
static void test_hostile_tables(void)
{
    if (!have_qemu())
        return;
    g_autofree char *img = good_image("tables.qcow2");
    uint64_t l1 = get_field(img, 40, 8), rt = get_field(img, 48, 8);
    uint64_t l2 = get_field(img, (unsigned)l1, 8) & 0x00fffffffffffe00ull;

    put_field(img, (unsigned)l1, 8, rt | (1ull << 63));        /* L2 table = refcount table */
    assert_refused(img, false, "overlaps other metadata");
    put_field(img, (unsigned)l1, 8, l2 | (1ull << 63));

    /* A data cluster that is the refcount table: writing there is refused
     * and the image is flagged so nothing else writes to it either. */
    put_field(img, (unsigned)l2, 8, rt | (1ull << 63));
    uint64_t rt0 = get_field(img, (unsigned)rt, 8);
    {
        g_autoptr(HgrBlock) b = open_q(img, false);
        uint8_t buf[512] = { 0xff };
        g_test_expect_message("hangar-vmm", G_LOG_LEVEL_WARNING, "*points at metadata*");
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE, 0, buf, sizeof(buf)), ==, -EIO);
        g_test_assert_expected_messages();
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE, 512 * 1024, buf, sizeof(buf)), ==, -EIO);
    }
    g_assert_cmpuint(get_field(img, (unsigned)rt, 8), ==, rt0);
    g_assert_cmpuint(get_field(img, 72, 8) & 2, ==, 2);
    assert_refused(img, false, "corrupt");
}

static void make_backed(const char *name, const char *backing, const char *fmt)
{
    g_autofree char *img = tmp_path(name);
    g_unlink(img);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", fmt, img,
            "1M", NULL);
}

static void test_hostile_backing(void)
{
    if (!have_qemu())
        return;
    g_autofree char *raw = tmp_path("hb.raw");
    g_assert_true(g_file_set_contents(raw, "", 0, NULL));
    g_assert_cmpint(truncate(raw, MIB), ==, 0);
    struct {
        const char *backing, *fmt, *reason;
    } cases[] = {
        { "json:{\"file\":{\"driver\":\"file\",\"filename\":\"/etc/passwd\"}}", "raw",
          "json:" },
        { "/etc/passwd", "raw", "absolute" },
        { "../hb.raw", "raw", "leaves the image's directory" },
        { "sub/../../hb.raw", "raw", "leaves the image's directory" },
        { "hb.raw", "vmdk", "not supported" },
        { "self.qcow2", "qcow2", "the image itself" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("backing %s", cases[i].backing);
        make_backed("self.qcow2", cases[i].backing, cases[i].fmt);
        g_autofree char *img = tmp_path("self.qcow2");
        assert_refused(img, true, cases[i].reason);
        assert_refused(img, false, cases[i].reason);
    }
    /* a -> b -> a */
    make_backed("loop-a.qcow2", "loop-b.qcow2", "qcow2");
    make_backed("loop-b.qcow2", "loop-a.qcow2", "qcow2");
    g_autofree char *a = tmp_path("loop-a.qcow2");
    assert_refused(a, true, "a loop");
    /* No recorded backing format: never guessed. */
    make_backed("nofmt.qcow2", "hb.raw", "raw");
    g_autofree char *nofmt = tmp_path("nofmt.qcow2");
    g_autofree char *h = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(nofmt, &h, &len, NULL));
    const uint8_t ext[4] = { 0xe2, 0x79, 0x2a, 0xca };
    uint8_t *p = memmem(h, 4096, ext, 4);
    g_assert_nonnull(p);
    put_field(nofmt, (unsigned)(p - (uint8_t *)h), 4, 0x12345678);
    assert_refused(nofmt, true, "no recorded format");
}

/* Every metadata or data write of an allocating workload fails in turn
 * (ENOSPC); qemu-img check must never find corruption afterwards. */
/* A qemu-img image of 512-byte clusters filled until its file nears the
 * 8 MiB the first refcount table covers, so that the next writes also move
 * the refcount table; returns the guest offset after the filled part. */
static uint64_t make_nearly_full(const char *tmpl)
{
    uint8_t buf[512];
    uint64_t off = 0;

    g_unlink(tmpl);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", tmpl, "16M",
            NULL);
    g_autoptr(HgrBlock) b = open_q(tmpl, false);
    GStatBuf st = { 0 };
    for (; g_stat(tmpl, &st) == 0 && st.st_size < 8 * MIB - 16 * 512; off += 512) {
        fill(buf, sizeof(buf), (uint32_t)off);
        g_assert_cmpint(io(b, HGR_BLOCK_WRITE, off, buf, sizeof(buf)), ==, 0);
    }
    return off;
}

/* 48 allocating writes from off on; the first error. */
static int write_48(const char *img, uint64_t off)
{
    uint8_t buf[512];
    int ret = 0;

    fill(buf, sizeof(buf), 0x5eed);
    g_autoptr(HgrBlock) b = open_q(img, false);
    for (uint64_t o = off; o < off + 48 * 512 && ret == 0; o += 512)
        ret = io(b, HGR_BLOCK_WRITE, o, buf, sizeof(buf));
    return ret;
}

static void test_enospc(void)
{
    if (!have_qemu())
        return;
    g_autofree char *tmpl = tmp_path("nospace-template.qcow2");
    g_autofree char *img = tmp_path("nospace.qcow2");
    uint64_t off = make_nearly_full(tmpl);
    g_assert_cmpint(check_image(tmpl), ==, 0);
    unsigned faults = 0;
    for (unsigned n = 1; n < 200; n++) {
        qemu_ok("cp", tmpl, img, NULL);
        g_autofree char *nth = g_strdup_printf("%u", n);
        g_setenv("HANGAR_QCOW2_FAULT", nth, TRUE);
        int ret = write_48(img, off);
        g_unsetenv("HANGAR_QCOW2_FAULT");
        if (ret == 0)
            break;
        g_assert_cmpint(ret, ==, -ENOSPC);
        faults++;
        int rc = check_image(img);
        if (rc != 0 && rc != 3)
            g_error("fault at write %u left a corrupt image", n);
    }
    g_assert_cmpuint(faults, >, 100);
}

/* The process dies (as with SIGKILL) between two of its writes to the image,
 * at every point in turn: whatever reached the file, qemu-img check finds at
 * worst leaked clusters, and Hangar opens the image read-write again. */
static void test_crash(void)
{
    if (!have_qemu())
        return;
    g_autofree char *tmpl = tmp_path("crash-template.qcow2");
    g_autofree char *img = tmp_path("crash.qcow2");
    uint64_t off = make_nearly_full(tmpl);
    unsigned crashes = 0;
    for (unsigned n = 1; n < 200; n++) {
        qemu_ok("cp", tmpl, img, NULL);
        pid_t pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
            g_autofree char *nth = g_strdup_printf("kill:%u", n);
            g_setenv("HANGAR_QCOW2_FAULT", nth, TRUE);
            _exit(write_48(img, off) == 0 ? 1 : 2);   /* 0 only from the fault */
        }
        int status = 0;
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 1)
            break;                                    /* every write done: past the end */
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        crashes++;
        int rc = check_image(img);
        if (rc != 0 && rc != 3)
            g_error("a crash before write %u left a corrupt image", n);
        g_autoptr(HgrBlock) again = open_q(img, false);
        g_assert_nonnull(again);
    }
    g_assert_cmpuint(crashes, >, 100);
}

typedef struct {
    int ret, calls;
    bool on_iothread;
    HgrIoThread *t;
} ThreadIo;

static void thread_done(HgrBlockReq *req, int ret)
{
    ThreadIo *io = req->opaque;
    io->ret = ret;
    io->calls++;
    io->on_iothread = hgr_iothread_is_current(io->t);
}

/* Attached to a running I/O thread (as under virtio-blk), requests complete
 * there, after submit returned, and drain waits for them. */
static void test_iothread(void)
{
    if (!have_qemu())
        return;
    g_autofree char *img = tmp_path("thread.qcow2");
    g_unlink(img);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", img, "1M", NULL);
    HgrIoThread *t = hgr_iothread_new("qcow2-test");
    hgr_iothread_start(t);
    {
        g_autoptr(HgrBlock) b = open_q(img, false);
        hgr_block_attach(b, t);
        uint8_t out[4096], in[4096];
        fill(out, sizeof(out), 77);
        for (int op = HGR_BLOCK_WRITE; op >= HGR_BLOCK_READ; op--) {
            ThreadIo io = { .ret = 1, .t = t };
            struct iovec iov = { op == HGR_BLOCK_WRITE ? out : in, sizeof(out) };
            HgrBlockReq req = { .op = op, .offset = 8192, .iov = &iov, .iovcnt = 1,
                                .done = thread_done, .opaque = &io };
            hgr_block_submit(b, &req);
            hgr_block_drain(b);
            g_assert_cmpint(io.calls, ==, 1);
            g_assert_cmpint(io.ret, ==, 0);
            g_assert_true(io.on_iothread);
        }
        g_assert_true(memcmp(in, out, sizeof(in)) == 0);
    }
    hgr_iothread_free(t);
    g_assert_cmpint(check_image(img), ==, 0);
}

/* Many requests in flight at once on an I/O thread, as a guest queues them:
 * in-place data (whose clusters lie in the file out of guest order, so one
 * request maps to several runs of host clusters) goes to the AIO engine
 * while writes to unallocated clusters allocate; nothing is lost or mixed
 * up, every request completes once on the I/O thread, and qemu finds the
 * image clean and equal to the reference. */
#define INFLIGHT 64

typedef struct {
    HgrBlockReq req;
    struct iovec iov[2];
    ThreadIo io;
} Flying;

static void fly(HgrBlock *b, Flying *f, HgrIoThread *t, HgrBlockOp op, uint64_t off,
                uint8_t *buf, uint64_t len)
{
    /* Two iovec entries, split off a cluster boundary. */
    uint64_t first = MIN(len, 1536);
    f->io = (ThreadIo){ .ret = 1, .t = t };
    f->iov[0] = (struct iovec){ buf, first };
    f->iov[1] = (struct iovec){ buf + first, len - first };
    f->req = (HgrBlockReq){ .op = op, .offset = off, .iov = f->iov, .iovcnt = len > first ? 2 : 1,
                            .done = thread_done, .opaque = &f->io };
    hgr_block_submit(b, &f->req);
}

static void test_in_flight(void)
{
    if (!have_qemu())
        return;
    g_autofree char *img = NULL, *raw = NULL;
    int ref = make_pair("inflight", "cluster_size=4096", "4M", &img, &raw);
    /* The second half allocated first: guest 2M..3.5M sits before 0..2M in
     * the file; 3.5M..4M stays unallocated. */
    qemu_ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 2M 1536k", "-c", "write -P 0x11 0 2M",
            img, NULL);
    g_autofree uint8_t *init = g_malloc(4 * MIB);
    memset(init, 0x11, 2 * MIB);
    memset(init + 2 * MIB, 0x22, 1536 * 1024);
    memset(init + 3584 * 1024, 0, 512 * 1024);
    ref_write(ref, 0, init, 4 * MIB);

    HgrIoThread *t = hgr_iothread_new("qcow2-test");
    hgr_iothread_start(t);
    GRand *r = g_rand_new_with_seed(5);
    g_autofree Flying *fl = g_new0(Flying, INFLIGHT);
    g_autofree uint8_t *out = g_malloc(4 * MIB), *in = g_malloc0(4 * MIB);
    uint64_t off[INFLIGHT], len[INFLIGHT];
    {
        g_autoptr(HgrBlock) b = open_q(img, false);
        hgr_block_attach(b, t);
        /* One 64 KiB slot each, so no two overlap; the slot at 2M straddles
         * the jump in the file. */
        for (unsigned k = 0; k < INFLIGHT; k++) {
            off[k] = k * 65536ull + (uint64_t)g_rand_int_range(r, 0, 64) * 512;
            len[k] = (uint64_t)g_rand_int_range(r, 1, 64) * 512;
            if (k == 31)
                off[k] = 2 * MIB - 10 * 512, len[k] = 60 * 512;
            fill(out + off[k], len[k], k + 1);
            ref_write(ref, off[k], out + off[k], len[k]);
        }
        for (unsigned k = 0; k < INFLIGHT; k++)
            fly(b, &fl[k], t, HGR_BLOCK_WRITE, off[k], out + off[k], len[k]);
        hgr_block_drain(b);
        for (unsigned k = 0; k < INFLIGHT; k++) {
            g_assert_cmpint(fl[k].io.calls, ==, 1);
            g_assert_cmpint(fl[k].io.ret, ==, 0);
            g_assert_true(fl[k].io.on_iothread);
        }
        /* Read all back, again all at once, in 64 KiB pieces that straddle
         * clusters and the allocated/unallocated border. */
        for (unsigned k = 0; k < INFLIGHT; k++)
            fly(b, &fl[k], t, HGR_BLOCK_READ, k * 65536ull, in + k * 65536ull, 65536);
        hgr_block_drain(b);
        for (unsigned k = 0; k < INFLIGHT; k++) {
            g_assert_cmpint(fl[k].io.calls, ==, 1);
            g_assert_cmpint(fl[k].io.ret, ==, 0);
        }
    }
    hgr_iothread_free(t);
    g_rand_free(r);
    g_assert_cmpint(pread(ref, out, 4 * MIB, 0), ==, 4 * MIB);
    g_assert_true(memcmp(in, out, 4 * MIB) == 0);
    finish_pair(img, raw, ref);
}

/* Images qemu-img makes with features Hangar does not read: refused with a
 * message that names the feature and a qemu-img command; that command,
 * run as given, makes an image Hangar opens with the same contents. */
static void test_unsupported_converted(gconstpointer opts)
{
    if (!have_qemu())
        return;
    g_autofree char *img = tmp_path("unsupported.qcow2");
    g_autofree char *data = tmp_path("unsupported.data");
    g_autofree char *fixed = tmp_path("NEW.qcow2");
    /* "data_file=" names the file here. */
    g_autofree char *o = g_str_has_suffix(opts, "=") ? g_strconcat(opts, data, NULL)
                                                      : g_strdup(opts);
    g_unlink(img);
    g_unlink(fixed);
    qemu_ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", o, img, "4M", NULL);
    qemu_ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x6b 64k 128k", img, NULL);

    g_autoptr(GError) error = NULL;
    g_assert_null(hgr_block_open(img, HGR_DISK_FORMAT_QCOW2, false, &error));
    g_assert_error(error, HGR_VM_ERROR, HGR_VM_ERROR_DISK);
    const char *cmd = strstr(error->message, "qemu-img convert");
    g_assert_nonnull(cmd);
    g_test_message("%s", error->message);
    g_autofree char *in_dir = g_strdup_printf("cd '%s' && %s", tmpdir, cmd);
    g_assert_cmpint(system(in_dir), ==, 0);
    g_autoptr(HgrBlock) b = open_q(fixed, false);
    uint8_t buf[4096];
    g_assert_cmpint(io(b, HGR_BLOCK_READ, 64 * 1024, buf, sizeof(buf)), ==, 0);
    for (size_t k = 0; k < sizeof(buf); k++)
        g_assert_cmpuint(buf[k], ==, 0x6b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("hangar-qcow2-XXXXXX", NULL);
    /* Images as qemu-img makes them with the options people use. */
    static const struct { const char *name, *opts; } kinds[] = {
        { "v3", "compat=1.1,cluster_size=4096" },
        { "v2", "compat=0.10,cluster_size=4096" },
        { "default-64k", "cluster_size=65536" },
        { "512b-clusters", "cluster_size=512" },
        { "2m-clusters", "cluster_size=2M" },
        { "refcount-1bit", "refcount_bits=1,cluster_size=4096" },
        { "refcount-64bit", "refcount_bits=64,cluster_size=4096" },
        { "lazy-refcounts", "lazy_refcounts=on,cluster_size=4096" },
        { "prealloc-metadata", "preallocation=metadata,cluster_size=4096" },
        { "prealloc-full", "preallocation=full,cluster_size=65536" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        g_autofree char *rd = g_strdup_printf("/vmm/qcow2/read-qemu-written/%s", kinds[i].name);
        g_autofree char *wr = g_strdup_printf("/vmm/qcow2/writes-pass-qemu-check/%s",
                                              kinds[i].name);
        g_test_add_data_func(rd, kinds[i].opts, test_read_qemu_written);
        g_test_add_data_func(wr, kinds[i].opts, test_write_judged);
    }
    g_test_add_func("/vmm/qcow2/create", test_create);
    g_test_add_data_func("/vmm/qcow2/unsupported/zstd", "compression_type=zstd",
                         test_unsupported_converted);
    g_test_add_data_func("/vmm/qcow2/unsupported/extended-l2", "extended_l2=on",
                         test_unsupported_converted);
    g_test_add_data_func("/vmm/qcow2/unsupported/data-file", "data_file=",
                         test_unsupported_converted);
    g_test_add_func("/vmm/qcow2/completes-on-iothread", test_iothread);
    g_test_add_func("/vmm/qcow2/many-in-flight-on-iothread", test_in_flight);
    g_test_add_func("/vmm/qcow2/refcount-table-grows", test_refcount_growth);
    g_test_add_func("/vmm/qcow2/backing-chain", test_backing_chain);
    g_test_add_func("/vmm/qcow2/zero-and-discard", test_zero_discard);
    g_test_add_func("/vmm/qcow2/compressed", test_compressed);
    for (size_t i = 0; i < G_N_ELEMENTS(mutations); i++) {
        g_autofree char *name = g_strdup_printf("/vmm/qcow2/hostile-header/%s",
                                                mutations[i].name);
        g_test_add_data_func(name, &mutations[i], test_hostile_header);
    }
    g_test_add_func("/vmm/qcow2/hostile-tables", test_hostile_tables);
    g_test_add_func("/vmm/qcow2/hostile-backing", test_hostile_backing);
    g_test_add_func("/vmm/qcow2/enospc-never-corrupts", test_enospc);
    g_test_add_func("/vmm/qcow2/crash-never-corrupts", test_crash);
    int rc = g_test_run();
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        g_printerr("cannot remove %s\n", tmpdir);
    return rc;
}
