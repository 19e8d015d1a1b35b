/* test-block.c — opening, locking and I/O of raw images with both AIO engines.
 * File contents are checked with plain pread, not through the code under test. */
#include "vmm-config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/aio.h"
#include "block/block.h"

#define IMG_SIZE (1024 * 1024)

static char *tmpdir;

static char *make_image(const char *name, size_t size, uint8_t fill)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    g_autofree uint8_t *buf = g_malloc(size);
    memset(buf, fill, size);
    g_assert_true(g_file_set_contents(path, (char *)buf, (gssize)size, NULL));
    return path;
}

static void read_file_at(const char *path, uint64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, (off_t)off), ==, (ssize_t)len);
    close(fd);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
    return len == 0 || (p[0] == v && memcmp(p, p + 1, len - 1) == 0);
}

/* The test data names the engine. */
static HgrBlock *open_with(const char *engine, const char *path, bool ro, GError **error)
{
    return hgr_block_open_engine(path, HGR_DISK_FORMAT_RAW, ro, engine, error);
}

static bool engine_available(const char *engine)
{
    if (strcmp(engine, "io_uring") != 0)
        return true;
#if HAVE_LIBURING
    g_autofree char *p = make_image("probe.img", 4096, 0);
    g_autoptr(HgrBlock) b = open_with(engine, p, true, NULL);
    if (b && strcmp(hgr_block_aio_name(b), "io_uring") == 0)
        return true;
#endif
    g_test_skip("io_uring is not available here");
    return false;
}

/* Open errors */

static void assert_open_fails(const char *path, bool ro, const char *cause)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(HgrBlock) b = hgr_block_open(path, HGR_DISK_FORMAT_RAW, ro, &err);
    g_assert_null(b);
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_DISK);
    g_assert_true(strstr(err->message, path) != NULL);
    if (!strstr(err->message, cause))
        g_error("\"%s\" does not say \"%s\"", err->message, cause);
}

static void test_open_errors(void)
{
    g_autofree char *missing = g_build_filename(tmpdir, "missing.img", NULL);
    assert_open_fails(missing, false, "no such file");
    assert_open_fails(tmpdir, true, "is a directory");
    assert_open_fails(tmpdir, false, "is a directory");
    /* /dev/null reads as an empty disk, but it is no disk image: refused. */
    assert_open_fails("/dev/null", true, "not a regular file or block device");

    g_autofree char *fifo = g_build_filename(tmpdir, "fifo", NULL);
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    assert_open_fails(fifo, false, "not a regular file or block device");   /* no hang */
    g_unlink(fifo);
}

static void test_open_unreadable(void)
{
    if (geteuid() == 0) {
        g_test_skip("running as root: permissions do not stop root");
        return;
    }
    g_autofree char *dir = g_build_filename(tmpdir, "locked", NULL);
    g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
    g_autofree char *img = g_build_filename(dir, "disk.img", NULL);
    g_assert_true(g_file_set_contents(img, "x", 1, NULL));
    g_assert_cmpint(chmod(dir, 0), ==, 0);
    assert_open_fails(img, true, "permission denied");
    g_assert_cmpint(chmod(dir, 0700), ==, 0);

    g_assert_cmpint(chmod(img, 0400), ==, 0);
    assert_open_fails(img, false, "permission denied");
    g_autoptr(HgrBlock) b = hgr_block_open(img, HGR_DISK_FORMAT_RAW, true, NULL);
    g_assert_nonnull(b);
}

static void test_open_writes_nothing(void)
{
    g_autofree char *p = make_image("untouched.img", 8192 + 100, 0x5a);
    struct stat before, after;
    g_assert_cmpint(g_stat(p, &before), ==, 0);
    g_usleep(20000);
    {
        g_autoptr(HgrBlock) b = hgr_block_open(p, HGR_DISK_FORMAT_RAW, false, NULL);
        g_assert_nonnull(b);
        g_assert_cmpuint(hgr_block_size(b), ==, 8192 + 100);
        g_assert_false(hgr_block_readonly(b));
    }
    g_assert_cmpint(g_stat(p, &after), ==, 0);
    g_assert_cmpint(after.st_size, ==, before.st_size);
    g_assert_cmpint(after.st_mtim.tv_sec, ==, before.st_mtim.tv_sec);
    g_assert_cmpint(after.st_mtim.tv_nsec, ==, before.st_mtim.tv_nsec);
}

/* HANGAR_AIO=thread forces the fallback (run first: setenv is only safe
 * before threads exist). */
static void test_env_forces_thread(void)
{
    g_autofree char *p = make_image("env.img", 4096, 0);
    g_setenv("HANGAR_AIO", "thread", TRUE);
    g_autoptr(HgrBlock) b = hgr_block_open(p, HGR_DISK_FORMAT_RAW, true, NULL);
    g_unsetenv("HANGAR_AIO");
    g_assert_cmpstr(hgr_block_aio_name(b), ==, "thread");
#if HAVE_LIBURING
    g_autoptr(HgrBlock) d = hgr_block_open(p, HGR_DISK_FORMAT_RAW, true, NULL);
    if (strcmp(hgr_block_aio_name(d), "io_uring") != 0)
        g_test_message("io_uring unavailable: the default fell back to %s",
                       hgr_block_aio_name(d));
#endif
}

static void test_lock_conflict(void)
{
    g_autofree char *p = make_image("locked.img", 4096, 0);
    g_autoptr(GError) err = NULL;

    HgrBlock *rw = hgr_block_open(p, HGR_DISK_FORMAT_RAW, false, NULL);
    g_assert_nonnull(rw);
    assert_open_fails(p, false, "in use by another VM");
    assert_open_fails(p, true, "in use by another VM");
    hgr_block_free(rw);

    /* Readers share; a writer waits for all of them. */
    HgrBlock *r1 = hgr_block_open(p, HGR_DISK_FORMAT_RAW, true, NULL);
    HgrBlock *r2 = hgr_block_open(p, HGR_DISK_FORMAT_RAW, true, NULL);
    g_assert_nonnull(r1);
    g_assert_nonnull(r2);
    assert_open_fails(p, false, "in use by another VM");
    hgr_block_free(r1);
    assert_open_fails(p, false, "in use by another VM");
    hgr_block_free(r2);
    rw = hgr_block_open(p, HGR_DISK_FORMAT_RAW, false, &err);
    g_assert_no_error(err);
    hgr_block_free(rw);
}

/* I/O */

typedef struct {
    HgrBlockReq req;
    struct iovec iov;
    int ret;
    int calls;
    bool on_iothread;
    HgrIoThread *t;
} Io;

static void io_done(HgrBlockReq *req, int ret)
{
    Io *io = req->opaque;
    io->ret = ret;
    io->calls++;
    io->on_iothread = io->t && hgr_iothread_is_current(io->t);
}

static void io_prep(Io *io, HgrBlockOp op, uint64_t off, void *buf, uint64_t len,
                    HgrIoThread *t)
{
    memset(io, 0, sizeof(*io));
    io->t = t;
    io->iov = (struct iovec){ buf, len };
    io->req = (HgrBlockReq){ .op = op, .offset = off, .len = len, .done = io_done,
                             .opaque = io };
    if (op == HGR_BLOCK_READ || op == HGR_BLOCK_WRITE) {
        io->req.iov = &io->iov;
        io->req.iovcnt = 1;
    }
}

/* Runs one request and returns its result; with t, the completion must come
 * on the I/O thread and only after submit returned... or at drain. */
static int run_io(HgrBlock *b, HgrIoThread *t, HgrBlockOp op, uint64_t off, void *buf,
                  uint64_t len)
{
    Io io;
    io_prep(&io, op, off, buf, len, t);
    hgr_block_submit(b, &io.req);
    if (!t)
        g_assert_cmpint(io.calls, ==, 1);      /* inline */
    hgr_block_drain(b);
    g_assert_cmpint(io.calls, ==, 1);
    if (t)
        g_assert_true(io.on_iothread);
    return io.ret;
}

static void check_ops(const char *engine, HgrIoThread *t)
{
    g_autofree char *p = make_image("ops.img", IMG_SIZE, 0xee);
    g_autoptr(HgrBlock) b = open_with(engine, p, false, NULL);
    g_assert_nonnull(b);
    g_assert_cmpstr(hgr_block_aio_name(b), ==, engine);
    if (t)
        hgr_block_attach(b, t);

    uint8_t buf[8192], chk[8192];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    g_assert_cmpint(run_io(b, t, HGR_BLOCK_WRITE, 4096, buf, sizeof(buf)), ==, 0);
    read_file_at(p, 4096, chk, sizeof(chk));
    g_assert_cmpmem(chk, sizeof(chk), buf, sizeof(buf));
    read_file_at(p, 0, chk, 4096);
    g_assert_true(all_bytes(chk, 4096, 0xee));

    memset(chk, 0, sizeof(chk));
    g_assert_cmpint(run_io(b, t, HGR_BLOCK_READ, 4096, chk, sizeof(chk)), ==, 0);
    g_assert_cmpmem(chk, sizeof(chk), buf, sizeof(buf));
    g_assert_cmpint(run_io(b, t, HGR_BLOCK_FLUSH, 0, NULL, 0), ==, 0);

    g_assert_cmpint(run_io(b, t, HGR_BLOCK_DISCARD, 65536, NULL, 65536), ==, 0);
    read_file_at(p, 65536, chk, sizeof(chk));
    /* A discarded range reads as zeros where the file system punches holes
     * (ext4, tmpfs, xfs, btrfs); it must never read as anything else. */
    g_assert_true(all_bytes(chk, sizeof(chk), 0) || all_bytes(chk, sizeof(chk), 0xee));

    g_assert_cmpint(run_io(b, t, HGR_BLOCK_WRITE_ZEROES, 4096 + 512, NULL, 4096), ==, 0);
    read_file_at(p, 4096, chk, sizeof(chk));
    g_assert_cmpmem(chk, 512, buf, 512);
    g_assert_true(all_bytes(chk + 512, 4096, 0));
    g_assert_cmpmem(chk + 4608, sizeof(chk) - 4608, buf + 4608, sizeof(buf) - 4608);

    struct stat st;
    g_assert_cmpint(g_stat(p, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, IMG_SIZE);

    /* Past the end is refused, not extended. */
    g_assert_cmpint(run_io(b, t, HGR_BLOCK_WRITE, IMG_SIZE - 512, buf, 1024), ==, -EINVAL);
    g_assert_cmpint(run_io(b, t, HGR_BLOCK_READ, UINT64_MAX - 511, buf, 1024), ==, -EINVAL);
    g_assert_cmpint(run_io(b, t, HGR_BLOCK_DISCARD, IMG_SIZE, NULL, 512), ==, -EINVAL);
    g_assert_cmpint(g_stat(p, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, IMG_SIZE);

    /* The activity lights count what the guest moved, not what was refused. */
    uint64_t rd, wr;
    hgr_block_get_traffic(b, &rd, &wr);
    g_assert_cmpuint(rd, ==, sizeof(chk));
    g_assert_cmpuint(wr, ==, sizeof(buf));
}

static void test_ops_inline(gconstpointer engine)
{
    if (engine_available(engine))
        check_ops(engine, NULL);
}

static void test_ops_iothread(gconstpointer engine)
{
    if (!engine_available(engine))
        return;
    HgrIoThread *t = hgr_iothread_new("test-io");
    hgr_iothread_start(t);
    check_ops(engine, t);
    hgr_iothread_free(t);
}

static void test_readonly(gconstpointer engine)
{
    if (!engine_available(engine))
        return;
    g_autofree char *p = make_image("ro.img", 65536, 0x11);
    g_autoptr(HgrBlock) b = open_with(engine, p, true, NULL);
    g_assert_nonnull(b);
    g_assert_true(hgr_block_readonly(b));

    uint8_t buf[4096];
    memset(buf, 0x22, sizeof(buf));
    g_assert_cmpint(run_io(b, NULL, HGR_BLOCK_WRITE, 0, buf, sizeof(buf)), ==, -EROFS);
    g_assert_cmpint(run_io(b, NULL, HGR_BLOCK_DISCARD, 0, NULL, 4096), ==, -EROFS);
    g_assert_cmpint(run_io(b, NULL, HGR_BLOCK_WRITE_ZEROES, 0, NULL, 4096), ==, -EROFS);
    g_assert_cmpint(run_io(b, NULL, HGR_BLOCK_READ, 0, buf, sizeof(buf)), ==, 0);
    g_assert_true(all_bytes(buf, sizeof(buf), 0x11));
    read_file_at(p, 0, buf, sizeof(buf));
    g_assert_true(all_bytes(buf, sizeof(buf), 0x11));
}

/* The image shrank under us: the part past the new end reads as zeros. */
static void test_short_read_zeros(gconstpointer engine)
{
    if (!engine_available(engine))
        return;
    g_autofree char *p = make_image("shrunk.img", 65536, 0x33);
    g_autoptr(HgrBlock) b = open_with(engine, p, false, NULL);
    g_assert_cmpint(truncate(p, 40960), ==, 0);
    uint8_t buf[16384];
    memset(buf, 0x77, sizeof(buf));
    g_assert_cmpint(run_io(b, NULL, HGR_BLOCK_READ, 32768, buf, sizeof(buf)), ==, 0);
    g_assert_true(all_bytes(buf, 8192, 0x33));
    g_assert_true(all_bytes(buf + 8192, 8192, 0));
}

/* More iovecs than one preadv takes (IOV_MAX): the engines continue where
 * the short transfer stopped. */
static void test_many_iovecs(gconstpointer engine)
{
    if (!engine_available(engine))
        return;
    enum { N = 1100, SEG = 512 };
    g_autofree char *p = make_image("iov.img", N * SEG, 0);
    g_autoptr(HgrBlock) b = open_with(engine, p, false, NULL);
    g_autofree uint8_t *data = g_malloc(N * SEG);
    g_autofree struct iovec *iov = g_new(struct iovec, N);
    for (unsigned i = 0; i < N; i++) {
        memset(data + i * SEG, (uint8_t)(i + 1), SEG);
        /* Reverse order in memory, so a dropped or repeated segment shows. */
        iov[i] = (struct iovec){ data + (N - 1 - i) * SEG, SEG };
    }
    Io io;
    io_prep(&io, HGR_BLOCK_WRITE, 0, NULL, 0, NULL);
    io.req.iov = iov;
    io.req.iovcnt = N;
    hgr_block_submit(b, &io.req);
    g_assert_cmpint(io.ret, ==, 0);
    g_autofree uint8_t *chk = g_malloc(N * SEG);
    read_file_at(p, 0, chk, N * SEG);
    for (unsigned i = 0; i < N; i++)
        g_assert_true(all_bytes(chk + i * SEG, SEG, (uint8_t)(N - i)));

    memset(data, 0, N * SEG);
    io_prep(&io, HGR_BLOCK_READ, 0, NULL, 0, NULL);
    io.req.iov = iov;
    io.req.iovcnt = N;
    hgr_block_submit(b, &io.req);
    g_assert_cmpint(io.ret, ==, 0);
    for (unsigned i = 0; i < N; i++)
        g_assert_true(all_bytes(data + i * SEG, SEG, (uint8_t)(i + 1)));
}

/* Many requests in flight at once, submitted as one plugged batch. */
static void test_batch_in_flight(gconstpointer engine)
{
    if (!engine_available(engine))
        return;
    enum { N = 64, LEN = 4096 };
    g_autofree char *p = make_image("batch.img", N * LEN, 0);
    g_autoptr(HgrBlock) b = open_with(engine, p, false, NULL);
    HgrIoThread *t = hgr_iothread_new("test-io");
    hgr_iothread_start(t);
    hgr_block_attach(b, t);
    hgr_block_attach(b, t);         /* idempotent */

    g_autofree Io *io = g_new(Io, N);
    g_autofree uint8_t *bufs = g_malloc(N * LEN);
    hgr_block_plug(b);
    for (unsigned i = 0; i < N; i++) {
        memset(bufs + i * LEN, (uint8_t)(0x80 + i), LEN);
        io_prep(&io[i], HGR_BLOCK_WRITE, (uint64_t)i * LEN, bufs + i * LEN, LEN, t);
        hgr_block_submit(b, &io[i].req);
    }
    hgr_block_unplug(b);
    hgr_block_drain(b);
    for (unsigned i = 0; i < N; i++) {
        g_assert_cmpint(io[i].calls, ==, 1);
        g_assert_cmpint(io[i].ret, ==, 0);
        g_assert_true(io[i].on_iothread);
    }
    g_autofree uint8_t *chk = g_malloc(N * LEN);
    read_file_at(p, 0, chk, N * LEN);
    g_assert_cmpmem(chk, N * LEN, bufs, N * LEN);
    hgr_block_free(g_steal_pointer(&b));
    hgr_iothread_free(t);
}

/* Nobody runs the I/O thread's loop: drain dispatches the completions itself. */
static void test_drain_stopped_thread(gconstpointer engine)
{
    if (!engine_available(engine))
        return;
    g_autofree char *p = make_image("stopped.img", 65536, 0x44);
    g_autoptr(HgrBlock) b = open_with(engine, p, false, NULL);
    HgrIoThread *t = hgr_iothread_new("never-started");
    hgr_block_attach(b, t);
    uint8_t buf[4096];
    Io io;
    io_prep(&io, HGR_BLOCK_READ, 0, buf, sizeof(buf), t);
    hgr_block_submit(b, &io.req);
    g_assert_cmpint(io.calls, ==, 0);      /* never inside submit once attached */
    Io bad;
    io_prep(&bad, HGR_BLOCK_READ, 65536, buf, sizeof(buf), t);
    hgr_block_submit(b, &bad.req);
    g_assert_cmpint(bad.calls, ==, 0);
    hgr_block_drain(b);
    g_assert_cmpint(io.calls, ==, 1);
    g_assert_cmpint(io.ret, ==, 0);
    g_assert_cmpint(bad.ret, ==, -EINVAL);
    g_assert_true(all_bytes(buf, sizeof(buf), 0x44));
    hgr_block_free(g_steal_pointer(&b));
    hgr_iothread_free(t);
}

/* The write-zeroes fallbacks, fed the answers of a file system that has
 * neither ZERO_RANGE nor PUNCH_HOLE: it ends up writing zeros. */
static void test_write_zeroes_fallback(void)
{
    HgrBlockReq req = { .op = HGR_BLOCK_WRITE_ZEROES, .offset = 4096, .len = 100000 };
    HgrAioJob j;

    hgr_aio_job_init(&j, &req);
    g_assert_cmpint(j.action, ==, HGR_AIO_FALLOCATE);
    g_assert_true(j.falloc_mode & FALLOC_FL_ZERO_RANGE);
    g_assert_false(hgr_aio_job_step(&j, -EOPNOTSUPP));
    g_assert_cmpint(j.action, ==, HGR_AIO_FALLOCATE);
    g_assert_true(j.falloc_mode & FALLOC_FL_PUNCH_HOLE);
    g_assert_false(hgr_aio_job_step(&j, -EOPNOTSUPP));
    uint64_t written = 0;
    for (int steps = 0; steps < 10; steps++) {
        g_assert_cmpint(j.action, ==, HGR_AIO_PWRITEV);
        g_assert_cmpuint(j.offset, ==, 4096 + written);
        g_assert_true(all_bytes(j.iov[0].iov_base, j.iov[0].iov_len, 0));
        int n = (int)MIN(j.iov[0].iov_len, 30000);     /* short writes too */
        written += n;
        if (hgr_aio_job_step(&j, n))
            break;
    }
    g_assert_cmpuint(written, ==, 100000);
    g_assert_cmpint(j.ret, ==, 0);
    hgr_aio_job_clear(&j);

    /* A write that makes no progress fails instead of spinning. */
    hgr_aio_job_init(&j, &req);
    g_assert_false(hgr_aio_job_step(&j, -EOPNOTSUPP));
    g_assert_false(hgr_aio_job_step(&j, -EINVAL));
    g_assert_true(hgr_aio_job_step(&j, 0));
    g_assert_cmpint(j.ret, ==, -EIO);
    hgr_aio_job_clear(&j);

    /* A real error is not mistaken for "unsupported". */
    hgr_aio_job_init(&j, &req);
    g_assert_true(hgr_aio_job_step(&j, -ENOSPC));
    g_assert_cmpint(j.ret, ==, -ENOSPC);
    hgr_aio_job_clear(&j);

    /* Discard on a file system without holes is fine; EIO is not. */
    req.op = HGR_BLOCK_DISCARD;
    hgr_aio_job_init(&j, &req);
    g_assert_true(hgr_aio_job_step(&j, -EOPNOTSUPP));
    g_assert_cmpint(j.ret, ==, 0);
    hgr_aio_job_init(&j, &req);
    g_assert_true(hgr_aio_job_step(&j, -EIO));
    g_assert_cmpint(j.ret, ==, -EIO);
}

/* tmpfs has PUNCH_HOLE but not ZERO_RANGE: the first fallback, for real. */
static void test_write_zeroes_tmpfs(gconstpointer engine)
{
    if (!engine_available(engine))
        return;
    if (!g_file_test("/dev/shm", G_FILE_TEST_IS_DIR)) {
        g_test_skip("no /dev/shm");
        return;
    }
    g_autofree char *p = g_strdup_printf("/dev/shm/hangar-test-block-%d.img", getpid());
    uint8_t fill[65536];
    memset(fill, 0x99, sizeof(fill));
    g_assert_true(g_file_set_contents(p, (char *)fill, sizeof(fill), NULL));
    {
        g_autoptr(HgrBlock) b = open_with(engine, p, false, NULL);
        g_assert_cmpint(run_io(b, NULL, HGR_BLOCK_WRITE_ZEROES, 8192, NULL, 16384), ==, 0);
    }
    uint8_t chk[65536];
    read_file_at(p, 0, chk, sizeof(chk));
    g_unlink(p);
    g_assert_true(all_bytes(chk, 8192, 0x99));
    g_assert_true(all_bytes(chk + 8192, 16384, 0));
    g_assert_true(all_bytes(chk + 24576, sizeof(chk) - 24576, 0x99));
}

static void add_engine_tests(const char *engine)
{
    static const struct {
        const char *name;
        GTestDataFunc fn;
    } tests[] = {
        { "ops-inline", test_ops_inline },
        { "ops-iothread", test_ops_iothread },
        { "readonly-refuses-writes", test_readonly },
        { "short-read-zeros", test_short_read_zeros },
        { "many-iovecs", test_many_iovecs },
        { "batch-in-flight", test_batch_in_flight },
        { "drain-stopped-thread", test_drain_stopped_thread },
        { "write-zeroes-tmpfs", test_write_zeroes_tmpfs },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(tests); i++) {
        g_autofree char *path = g_strdup_printf("/vmm/block/%s/%s", engine, tests[i].name);
        g_test_add_data_func(path, engine, tests[i].fn);
    }
}

static void rm_tree(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
            rm_tree(p);
        else
            g_unlink(p);
    }
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("hangar-test-block-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);

    g_test_add_func("/vmm/block/env-forces-thread", test_env_forces_thread);
    g_test_add_func("/vmm/block/open-errors", test_open_errors);
    g_test_add_func("/vmm/block/open-unreadable", test_open_unreadable);
    g_test_add_func("/vmm/block/open-writes-nothing", test_open_writes_nothing);
    g_test_add_func("/vmm/block/lock-conflict", test_lock_conflict);
    g_test_add_func("/vmm/block/write-zeroes-fallback", test_write_zeroes_fallback);
    add_engine_tests("io_uring");
    add_engine_tests("thread");

    int ret = g_test_run();
    rm_tree(tmpdir);
    g_free(tmpdir);
    return ret;
}
