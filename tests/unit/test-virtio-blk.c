/* test-virtio-blk.c — virtio-blk driven like a guest driver would, through the
 * transport-independent virtio core, with its rings in a fake RAM. Data on
 * the host file is checked with plain pread. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "block/aio.h"
#include "block/block.h"
#include "virtio/virtio-blk.h"

#define RAM_SIZE (4u << 20)
#define DESC_GPA 0x1000
#define AVAIL_GPA 0x2000
#define USED_GPA 0x3000
#define BUF_GPA 0x100000              /* above the VGA window */
#define QSIZE 256
#define IMG_SECTORS 2048            /* 1 MiB */

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

#define F_RO 5
#define F_DISCARD 13
#define F_WRITE_ZEROES 14

typedef struct {
    uint64_t gpa;
    uint32_t len;
    bool writable;
} Seg;

typedef struct {
    const char *engine;
    bool iothread;
} Mode;

typedef struct {
    char *dir;
    char *path;
    uint8_t *ram;
    HgrGuestMem mem;
    HgrBlock *blk;
    HgrIoThread *t;
    HgrVirtioDevice *vdev;
    uint16_t avail_idx;
    uint16_t next_desc;
    uint64_t next_buf;
    gint irqs;
    gint irqs_on_iothread;
} Fx;

/* Guest side: rings in fake RAM */

static void on_irq(void *opaque, unsigned q)
{
    Fx *fx = opaque;
    g_atomic_int_inc(&fx->irqs);
    if (fx->t && hgr_iothread_is_current(fx->t))
        g_atomic_int_inc(&fx->irqs_on_iothread);
}

static uint64_t alloc_buf(Fx *fx, uint32_t len)
{
    uint64_t gpa = fx->next_buf;
    fx->next_buf = (fx->next_buf + len + 15) & ~15ULL;
    g_assert_cmpuint(fx->next_buf, <=, RAM_SIZE);
    return gpa;
}

static void *gpa_ptr(Fx *fx, uint64_t gpa)
{
    return fx->ram + gpa;
}

static uint16_t used_idx(Fx *fx)
{
    uint16_t v;
    memcpy(&v, fx->ram + USED_GPA + 2, 2);
    return v;
}

static void used_elem(Fx *fx, uint16_t i, uint32_t *id, uint32_t *len)
{
    const uint8_t *p = fx->ram + USED_GPA + 4 + 8 * (i % QSIZE);
    memcpy(id, p, 4);
    memcpy(len, p + 4, 4);
}

/* Writes a descriptor chain and makes it available (no kick). */
static uint16_t add_chain(Fx *fx, const Seg *segs, unsigned n)
{
    uint16_t head = fx->next_desc;
    for (unsigned i = 0; i < n; i++) {
        uint16_t d = (uint16_t)((head + i) % QSIZE);
        uint8_t *p = fx->ram + DESC_GPA + 16 * d;
        uint16_t flags = (uint16_t)((i + 1 < n ? 1 : 0) | (segs[i].writable ? 2 : 0));
        uint16_t next = (uint16_t)((d + 1) % QSIZE);
        memcpy(p, &segs[i].gpa, 8);
        memcpy(p + 8, &segs[i].len, 4);
        memcpy(p + 12, &flags, 2);
        memcpy(p + 14, &next, 2);
    }
    fx->next_desc = (uint16_t)((head + n) % QSIZE);
    memcpy(fx->ram + AVAIL_GPA + 4 + 2 * (fx->avail_idx % QSIZE), &head, 2);
    fx->avail_idx++;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(fx->ram + AVAIL_GPA + 2, &fx->avail_idx, 2);
    return head;
}

static void kick(Fx *fx)
{
    g_mutex_lock(&fx->vdev->lock);
    hgr_virtio_queue_notify(fx->vdev, 0);
    g_mutex_unlock(&fx->vdev->lock);
}

/* Waits until the device has used `want` chains in total. */
static void wait_used(Fx *fx, uint16_t want)
{
    hgr_block_drain(fx->blk);
    g_assert_cmpuint(used_idx(fx), ==, want);
}

static uint64_t put_header(Fx *fx, uint32_t type, uint64_t sector)
{
    uint64_t gpa = alloc_buf(fx, 16);
    uint32_t zero = 0;
    memcpy(gpa_ptr(fx, gpa), &type, 4);
    memcpy(gpa_ptr(fx, gpa) + 4, &zero, 4);
    memcpy(gpa_ptr(fx, gpa) + 8, &sector, 8);
    return gpa;
}

/* One request: header, data (device-readable for writes, writable for
 * reads), status. Returns the status byte; *used_len the length in used. */
static uint8_t request(Fx *fx, uint32_t type, uint64_t sector, uint64_t data_gpa,
                       uint32_t data_len, bool data_writable, uint32_t *used_len)
{
    uint64_t status = alloc_buf(fx, 1);
    *(uint8_t *)gpa_ptr(fx, status) = 0xee;
    Seg segs[3] = { { put_header(fx, type, sector), 16, false } };
    unsigned n = 1;
    if (data_len)
        segs[n++] = (Seg){ data_gpa, data_len, data_writable };
    segs[n++] = (Seg){ status, 1, true };
    uint16_t head = add_chain(fx, segs, n);
    uint16_t before = used_idx(fx);
    kick(fx);
    wait_used(fx, (uint16_t)(before + 1));
    uint32_t id, len;
    used_elem(fx, before, &id, &len);
    g_assert_cmpuint(id, ==, head);
    if (used_len)
        *used_len = len;
    return *(uint8_t *)gpa_ptr(fx, status);
}

static uint64_t put_segments(Fx *fx, const uint64_t *sectors, const uint32_t *counts,
                             const uint32_t *flags, unsigned n)
{
    uint64_t gpa = alloc_buf(fx, 16 * MAX(n, 1));
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = gpa_ptr(fx, gpa + 16 * i);
        memcpy(p, &sectors[i], 8);
        memcpy(p + 8, &counts[i], 4);
        memcpy(p + 12, &flags[i], 4);
    }
    return gpa;
}

static uint8_t one_range(Fx *fx, uint32_t type, uint64_t sector, uint32_t count, uint32_t flags)
{
    uint64_t segs = put_segments(fx, &sector, &count, &flags, 1);
    return request(fx, type, sector, segs, 16, false, NULL);
}

/* Fixture */

/* Guest nonsense is logged as a warning, which GTest would make fatal:
 * count the device's warnings instead; any other warning fails the test. */
static gint guest_warnings;

static void count_guest_warnings(const gchar *domain, GLogLevelFlags level,
                                 const gchar *message, gpointer data)
{
    if (strstr(message, "virtio-blk")) {
        g_atomic_int_inc(&guest_warnings);
        return;
    }
    g_log_default_handler(domain, level, message, data);
    g_test_fail();
}


static void fx_setup(Fx *fx, const Mode *mode, bool readonly, uint8_t fill)
{
    memset(fx, 0, sizeof(*fx));
    fx->dir = g_dir_make_tmp("hangar-test-vblk-XXXXXX", NULL);
    fx->path = g_build_filename(fx->dir, "disk.img", NULL);
    g_autofree uint8_t *img = g_malloc(IMG_SECTORS * 512);
    memset(img, fill, IMG_SECTORS * 512);
    g_assert_true(g_file_set_contents(fx->path, (char *)img, IMG_SECTORS * 512, NULL));

    fx->ram = g_malloc0(RAM_SIZE);
    hgr_mem_init_pc(&fx->mem, fx->ram, RAM_SIZE);
    fx->next_buf = BUF_GPA;
    g_autoptr(GError) err = NULL;
    fx->blk = hgr_block_open_engine(fx->path, HGR_DISK_FORMAT_RAW, readonly, mode->engine,
                                    &err);
    g_assert_no_error(err);
    if (mode->iothread) {
        fx->t = hgr_iothread_new("test-io");
        hgr_iothread_start(fx->t);
    }
    fx->vdev = hgr_virtio_blk_new(&fx->mem, fx->t, fx->blk);
    fx->vdev->transport = (HgrVirtioTransport){ .notify_queue = on_irq, .opaque = fx };

    /* What a driver does: negotiate (no event idx: one rule for interrupts),
     * place the queue, go. */
    HgrVirtioDevice *v = fx->vdev;
    g_mutex_lock(&v->lock);
    hgr_virtio_set_status(v, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    uint64_t features = v->device_features & ~(1ULL << VIRTIO_RING_F_EVENT_IDX);
    g_assert_true(hgr_virtio_set_driver_features(v, features));
    hgr_virtio_set_status(v, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                             VIRTIO_STATUS_FEATURES_OK);
    g_assert_true(v->status & VIRTIO_STATUS_FEATURES_OK);
    v->queues[0].size = QSIZE;
    v->queues[0].desc_gpa = DESC_GPA;
    v->queues[0].avail_gpa = AVAIL_GPA;
    v->queues[0].used_gpa = USED_GPA;
    hgr_virtio_queue_enable(v, 0);
    hgr_virtio_set_status(v, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                             VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    g_assert_true(hgr_virtio_is_running(v));
    g_mutex_unlock(&v->lock);
}

static void fx_teardown(Fx *fx)
{
    hgr_virtio_destroy(fx->vdev);
    g_free(fx->vdev);
    hgr_block_free(fx->blk);
    if (fx->t)
        hgr_iothread_free(fx->t);
    g_unlink(fx->path);
    g_rmdir(fx->dir);
    g_free(fx->path);
    g_free(fx->dir);
    g_free(fx->ram);
}

static void read_image(Fx *fx, uint64_t off, void *buf, size_t len)
{
    g_autofree char *img = NULL;
    gsize size;
    g_assert_true(g_file_get_contents(fx->path, &img, &size, NULL));
    g_assert_cmpuint(off + len, <=, size);
    memcpy(buf, img + off, len);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
    return len == 0 || (p[0] == v && memcmp(p, p + 1, len - 1) == 0);
}

static bool skip_unavailable(const Mode *mode)
{
    if (strcmp(mode->engine, "io_uring") != 0)
        return false;
    g_autofree char *dir = g_dir_make_tmp("hangar-test-vblk-XXXXXX", NULL);
    g_autofree char *p = g_build_filename(dir, "probe", NULL);
    g_file_set_contents(p, "", 0, NULL);
    HgrBlock *b = hgr_block_open_engine(p, HGR_DISK_FORMAT_RAW, true, "io_uring", NULL);
    bool ok = b && strcmp(hgr_block_aio_name(b), "io_uring") == 0;
    hgr_block_free(b);
    g_unlink(p);
    g_rmdir(dir);
    if (!ok)
        g_test_skip("io_uring is not available here");
    return !ok;
}

/* Every request type, end to end. */
static void test_requests(gconstpointer data)
{
    const Mode *mode = data;
    if (skip_unavailable(mode))
        return;
    Fx fx;
    fx_setup(&fx, mode, false, 0xaa);
    uint8_t chk[8192];
    uint32_t len;

    /* OUT, data split over two descriptors. */
    uint64_t wbuf = alloc_buf(&fx, 4096);
    for (unsigned i = 0; i < 4096; i++)
        ((uint8_t *)gpa_ptr(&fx, wbuf))[i] = (uint8_t)(i ^ (i >> 8));
    uint64_t status = alloc_buf(&fx, 1);
    Seg w[] = { { put_header(&fx, T_OUT, 10), 16, false }, { wbuf, 1024, false },
                { wbuf + 1024, 3072, false }, { status, 1, true } };
    add_chain(&fx, w, G_N_ELEMENTS(w));
    kick(&fx);
    wait_used(&fx, 1);
    g_assert_cmpuint(*(uint8_t *)gpa_ptr(&fx, status), ==, S_OK);
    read_image(&fx, 10 * 512, chk, 4096);
    g_assert_cmpmem(chk, 4096, gpa_ptr(&fx, wbuf), 4096);
    read_image(&fx, 9 * 512, chk, 512);
    g_assert_true(all_bytes(chk, 512, 0xaa));

    /* IN reads it back; used length counts data and status. */
    uint64_t rbuf = alloc_buf(&fx, 4096);
    g_assert_cmpuint(request(&fx, T_IN, 10, rbuf, 4096, true, &len), ==, S_OK);
    g_assert_cmpuint(len, ==, 4097);
    g_assert_cmpmem(gpa_ptr(&fx, rbuf), 4096, gpa_ptr(&fx, wbuf), 4096);

    g_assert_cmpuint(request(&fx, T_FLUSH, 0, 0, 0, false, &len), ==, S_OK);
    g_assert_cmpuint(len, ==, 1);

    uint64_t id = alloc_buf(&fx, 20);
    g_assert_cmpuint(request(&fx, T_GET_ID, 0, id, 20, true, &len), ==, S_OK);
    g_assert_cmpuint(len, ==, 21);
    g_assert_cmpmem(gpa_ptr(&fx, id), 3, "HGR", 3);
    hgr_virtio_blk_set_serial(fx.vdev, "my-disk");
    g_assert_cmpuint(request(&fx, T_GET_ID, 0, id, 20, true, &len), ==, S_OK);
    g_assert_cmpmem(gpa_ptr(&fx, id), 8, "my-disk\0", 8);

    g_assert_cmpuint(one_range(&fx, T_WRITE_ZEROES, 11, 2, 0), ==, S_OK);
    read_image(&fx, 10 * 512, chk, 4096);
    g_assert_cmpmem(chk, 512, gpa_ptr(&fx, wbuf), 512);
    g_assert_true(all_bytes(chk + 512, 1024, 0));
    g_assert_cmpmem(chk + 1536, 2560, gpa_ptr(&fx, wbuf) + 1536, 2560);

    g_assert_cmpuint(one_range(&fx, T_WRITE_ZEROES, 20, 8, 1), ==, S_OK);   /* UNMAP ok */
    read_image(&fx, 20 * 512, chk, 4096);
    g_assert_true(all_bytes(chk, 4096, 0));

    /* Discard, two segments at once; the ranges read as zeros (ext4/tmpfs
     * punch holes) or keep their data, never anything else. */
    uint64_t secs[2] = { 64, 256 };
    uint32_t counts[2] = { 16, 16 }, flags[2] = { 0, 0 };
    uint64_t segs = put_segments(&fx, secs, counts, flags, 2);
    g_assert_cmpuint(request(&fx, T_DISCARD, 0, segs, 32, false, NULL), ==, S_OK);
    read_image(&fx, 64 * 512, chk, 8192);
    g_assert_true(all_bytes(chk, 8192, 0) || all_bytes(chk, 8192, 0xaa));

    g_assert_cmpuint(request(&fx, 99, 0, 0, 0, false, &len), ==, S_UNSUPP);
    g_assert_cmpuint(len, ==, 1);
    g_assert_cmpuint(request(&fx, 14 /* SECURE_ERASE */, 0, 0, 0, false, NULL), ==, S_UNSUPP);

    g_assert_cmpint(g_atomic_int_get(&fx.irqs), >=, 1);
    if (mode->iothread) {
        /* Asynchronous completions interrupt from the I/O thread. */
        g_assert_cmpint(g_atomic_int_get(&fx.irqs_on_iothread), >=, 1);
    }
    g_assert_true(hgr_virtio_is_running(fx.vdev));
    fx_teardown(&fx);
}

/* Hostile requests: a status, never a crash, the disk untouched. */
static void test_hostile(gconstpointer data)
{
    const Mode *mode = data;
    if (skip_unavailable(mode))
        return;
    Fx fx;
    fx_setup(&fx, mode, false, 0x5c);
    uint64_t buf = alloc_buf(&fx, 8192);
    uint64_t status = alloc_buf(&fx, 1);
    uint32_t len;
    uint16_t used = 0;

    /* Header shorter than 16 bytes. */
    *(uint8_t *)gpa_ptr(&fx, status) = 0xee;
    Seg shorthdr[] = { { put_header(&fx, T_OUT, 0), 8, false }, { status, 1, true } };
    add_chain(&fx, shorthdr, 2);
    kick(&fx);
    wait_used(&fx, ++used);
    g_assert_cmpuint(*(uint8_t *)gpa_ptr(&fx, status), ==, S_IOERR);

    /* Only a status byte. */
    Seg onlystatus[] = { { status, 1, true } };
    add_chain(&fx, onlystatus, 1);
    kick(&fx);
    wait_used(&fx, ++used);
    g_assert_cmpuint(*(uint8_t *)gpa_ptr(&fx, status), ==, S_IOERR);

    /* No writable byte at all: returned with nothing written. */
    Seg nostatus[] = { { put_header(&fx, T_OUT, 0), 16, false }, { buf, 512, false } };
    add_chain(&fx, nostatus, 2);
    kick(&fx);
    wait_used(&fx, ++used);
    uint32_t id;
    used_elem(&fx, used - 1, &id, &len);
    g_assert_cmpuint(len, ==, 0);

    /* A header split over two descriptors is legal. */
    uint64_t hdr = put_header(&fx, T_IN, 0);
    Seg split[] = { { hdr, 8, false }, { hdr + 8, 8, false }, { buf, 512, true },
                    { status, 1, true } };
    add_chain(&fx, split, 4);
    kick(&fx);
    wait_used(&fx, ++used);
    g_assert_cmpuint(*(uint8_t *)gpa_ptr(&fx, status), ==, S_OK);
    g_assert_true(all_bytes(gpa_ptr(&fx, buf), 512, 0x5c));

    /* Out of range or overflowing sectors, odd lengths. */
    memset(gpa_ptr(&fx, buf), 0x11, 8192);
    g_assert_cmpuint(request(&fx, T_OUT, IMG_SECTORS, buf, 512, false, NULL), ==, S_IOERR);
    g_assert_cmpuint(request(&fx, T_OUT, IMG_SECTORS - 1, buf, 1024, false, NULL), ==,
                     S_IOERR);
    g_assert_cmpuint(request(&fx, T_IN, UINT64_MAX, buf, 512, true, NULL), ==, S_IOERR);
    g_assert_cmpuint(request(&fx, T_IN, UINT64_MAX / 512 + 1, buf, 512, true, NULL), ==,
                     S_IOERR);
    g_assert_cmpuint(request(&fx, T_OUT, 0, buf, 513, false, NULL), ==, S_IOERR);
    g_assert_cmpuint(request(&fx, T_IN, 0, buf, 511, true, &len), ==, S_IOERR);
    g_assert_cmpuint(len, ==, 1);
    used += 6;

    /* Discard / write-zeroes segment lists. */
    uint64_t sec[17];
    uint32_t cnt[17], flg[17];
    for (unsigned i = 0; i < 17; i++) {
        sec[i] = 8 * i;
        cnt[i] = 8;
        flg[i] = 0;
    }
    uint64_t many = put_segments(&fx, sec, cnt, flg, 17);
    g_assert_cmpuint(request(&fx, T_DISCARD, 0, many, 17 * 16, false, NULL), ==, S_UNSUPP);
    g_assert_cmpuint(request(&fx, T_WRITE_ZEROES, 0, many, 17 * 16, false, NULL), ==,
                     S_UNSUPP);
    g_assert_cmpuint(request(&fx, T_DISCARD, 0, many, 20, false, NULL), ==, S_UNSUPP);
    g_assert_cmpuint(request(&fx, T_DISCARD, 0, 0, 0, false, NULL), ==, S_UNSUPP);
    g_assert_cmpuint(one_range(&fx, T_DISCARD, 0, 8, 1), ==, S_UNSUPP);   /* UNMAP */
    g_assert_cmpuint(one_range(&fx, T_WRITE_ZEROES, 0, 8, 2), ==, S_UNSUPP);
    g_assert_cmpuint(one_range(&fx, T_WRITE_ZEROES, IMG_SECTORS - 4, 8, 0), ==, S_IOERR);
    g_assert_cmpuint(one_range(&fx, T_DISCARD, UINT64_MAX - 2, 8, 0), ==, S_IOERR);
    g_assert_cmpuint(one_range(&fx, T_WRITE_ZEROES, 0, UINT32_MAX, 0), ==, S_IOERR);
    /* A bad segment after a good one fails the whole request, nothing done. */
    sec[1] = IMG_SECTORS;
    uint64_t mixed = put_segments(&fx, sec, cnt, flg, 2);
    g_assert_cmpuint(request(&fx, T_WRITE_ZEROES, 0, mixed, 32, false, NULL), ==, S_IOERR);

    /* GET_ID into a 4-byte buffer writes 4 bytes, not 20. */
    memset(gpa_ptr(&fx, buf), 0x77, 32);
    g_assert_cmpuint(request(&fx, T_GET_ID, 0, buf, 4, true, &len), ==, S_OK);
    g_assert_cmpuint(len, ==, 5);
    g_assert_true(all_bytes(gpa_ptr(&fx, buf) + 4, 28, 0x77));

    uint8_t img[IMG_SECTORS * 512];
    read_image(&fx, 0, img, sizeof(img));
    g_assert_true(all_bytes(img, sizeof(img), 0x5c));
    g_assert_true(hgr_virtio_is_running(fx.vdev));

    /* A descriptor index out of the table breaks the queue, not the host. */
    uint16_t bad = QSIZE + 5;
    memcpy(fx.ram + AVAIL_GPA + 4 + 2 * (fx.avail_idx % QSIZE), &bad, 2);
    fx.avail_idx++;
    memcpy(fx.ram + AVAIL_GPA + 2, &fx.avail_idx, 2);
    kick(&fx);
    g_assert_true(fx.vdev->status & VIRTIO_STATUS_NEEDS_RESET);
    fx_teardown(&fx);
}

static void test_readonly(gconstpointer data)
{
    const Mode *mode = data;
    if (skip_unavailable(mode))
        return;
    Fx fx;
    fx_setup(&fx, mode, true, 0x3c);
    g_assert_true(fx.vdev->device_features & (1ULL << F_RO));
    g_assert_false(fx.vdev->device_features & (1ULL << F_DISCARD));
    g_assert_false(fx.vdev->device_features & (1ULL << F_WRITE_ZEROES));

    uint64_t buf = alloc_buf(&fx, 4096);
    memset(gpa_ptr(&fx, buf), 0x99, 4096);
    g_assert_cmpuint(request(&fx, T_OUT, 0, buf, 4096, false, NULL), ==, S_IOERR);
    g_assert_cmpuint(one_range(&fx, T_DISCARD, 0, 8, 0), ==, S_UNSUPP);
    g_assert_cmpuint(one_range(&fx, T_WRITE_ZEROES, 0, 8, 0), ==, S_UNSUPP);
    g_assert_cmpuint(request(&fx, T_IN, 0, buf, 4096, true, NULL), ==, S_OK);
    g_assert_true(all_bytes(gpa_ptr(&fx, buf), 4096, 0x3c));
    g_assert_cmpuint(request(&fx, T_FLUSH, 0, 0, 0, false, NULL), ==, S_OK);
    uint8_t img[4096];
    read_image(&fx, 0, img, sizeof(img));
    g_assert_true(all_bytes(img, sizeof(img), 0x3c));
    fx_teardown(&fx);
}

static void test_config(void)
{
    Mode mode = { "thread", false };
    Fx fx;
    fx_setup(&fx, &mode, false, 0);
    uint64_t cap = 0;
    uint32_t v32 = 0;

    g_mutex_lock(&fx.vdev->lock);
    hgr_virtio_config_read(fx.vdev, 0, &cap, 8);
    g_assert_cmpuint(cap, ==, IMG_SECTORS);
    hgr_virtio_config_read(fx.vdev, 4, &v32, 4);         /* high half */
    g_assert_cmpuint(v32, ==, 0);
    hgr_virtio_config_read(fx.vdev, 0, &v32, 4);
    g_assert_cmpuint(v32, ==, IMG_SECTORS);
    hgr_virtio_config_read(fx.vdev, 20, &v32, 4);        /* blk_size */
    g_assert_cmpuint(v32, ==, 512);
    hgr_virtio_config_read(fx.vdev, 12, &v32, 4);        /* seg_max */
    g_assert_cmpuint(v32, >, 0);
    g_assert_cmpuint(v32, <=, QSIZE - 2);
    hgr_virtio_config_read(fx.vdev, 40, &v32, 4);        /* max_discard_seg */
    g_assert_cmpuint(v32, >=, 1);
    v32 = 0xdead;
    hgr_virtio_config_read(fx.vdev, 58, &v32, 4);        /* crosses the end */
    g_assert_cmpuint(v32, ==, 0);
    hgr_virtio_config_write(fx.vdev, 0, &v32, 4);        /* ignored */
    hgr_virtio_config_read(fx.vdev, 0, &cap, 8);
    g_assert_cmpuint(cap, ==, IMG_SECTORS);
    g_mutex_unlock(&fx.vdev->lock);
    fx_teardown(&fx);
}

/* Many requests popped and submitted in one kick; all complete with the
 * right data, and a synchronous batch raises one interrupt. */
static void test_many_in_flight(gconstpointer data)
{
    const Mode *mode = data;
    if (skip_unavailable(mode))
        return;
    enum { N = 64 };
    Fx fx;
    fx_setup(&fx, mode, false, 0);
    uint8_t img[N * 512];
    for (unsigned i = 0; i < N; i++)
        memset(img + i * 512, (uint8_t)(i + 1), 512);
    int fd = open(fx.path, O_WRONLY);
    g_assert_cmpint(pwrite(fd, img, sizeof(img), 0), ==, (ssize_t)sizeof(img));
    close(fd);

    uint64_t bufs = alloc_buf(&fx, N * 512), stat = alloc_buf(&fx, N);
    memset(gpa_ptr(&fx, stat), 0xee, N);
    for (unsigned i = 0; i < N; i++) {
        /* Reverse order, so completions are not just sequential. */
        unsigned s = N - 1 - i;
        Seg segs[] = { { put_header(&fx, T_IN, s), 16, false },
                       { bufs + 512 * s, 512, true }, { stat + s, 1, true } };
        add_chain(&fx, segs, 3);
    }
    kick(&fx);
    wait_used(&fx, N);
    g_assert_cmpmem(gpa_ptr(&fx, bufs), N * 512, img, sizeof(img));
    g_assert_true(all_bytes(gpa_ptr(&fx, stat), N, S_OK));
    if (!mode->iothread)
        g_assert_cmpint(fx.irqs, ==, 1);
    else
        g_assert_cmpint(g_atomic_int_get(&fx.irqs_on_iothread), ==, g_atomic_int_get(&fx.irqs));
    fx_teardown(&fx);
}

/* Requests in flight when the driver resets: the reset waits for them, and
 * afterwards nothing is written to the rings or status bytes. The I/O thread
 * is attached but not running, so the requests are surely still in flight. */
static void test_reset_in_flight(gconstpointer data)
{
    const Mode *mode = data;
    if (skip_unavailable(mode))
        return;
    Mode stopped = { mode->engine, false };
    Fx fx;
    fx_setup(&fx, &stopped, false, 0x42);
    fx.t = hgr_iothread_new("not-running");
    /* Rebuild the device with the (stopped) thread. */
    hgr_virtio_destroy(fx.vdev);
    g_free(fx.vdev);
    fx.vdev = hgr_virtio_blk_new(&fx.mem, fx.t, fx.blk);
    fx.vdev->transport = (HgrVirtioTransport){ .notify_queue = on_irq, .opaque = &fx };
    HgrVirtioDevice *v = fx.vdev;
    g_mutex_lock(&v->lock);
    hgr_virtio_set_status(v, 3);
    hgr_virtio_set_driver_features(v, 1ULL << VIRTIO_F_VERSION_1);
    hgr_virtio_set_status(v, 3 | VIRTIO_STATUS_FEATURES_OK);
    v->queues[0].size = QSIZE;
    v->queues[0].desc_gpa = DESC_GPA;
    v->queues[0].avail_gpa = AVAIL_GPA;
    v->queues[0].used_gpa = USED_GPA;
    hgr_virtio_queue_enable(v, 0);
    hgr_virtio_set_status(v, 3 | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    g_mutex_unlock(&v->lock);

    uint64_t buf = alloc_buf(&fx, 8 * 512), stat = alloc_buf(&fx, 8);
    memset(gpa_ptr(&fx, stat), 0xee, 8);
    for (unsigned i = 0; i < 8; i++) {
        Seg segs[] = { { put_header(&fx, T_IN, i), 16, false },
                       { buf + 512 * i, 512, true }, { stat + i, 1, true } };
        add_chain(&fx, segs, 3);
    }
    kick(&fx);
    g_assert_cmpuint(used_idx(&fx), ==, 0);

    g_mutex_lock(&v->lock);
    hgr_virtio_set_status(v, 0);
    g_mutex_unlock(&v->lock);
    g_assert_cmpuint(v->status, ==, 0);
    /* Nothing left to finish later: the rings and status bytes stay as the
     * driver left them. */
    hgr_block_drain(fx.blk);
    g_assert_cmpuint(used_idx(&fx), ==, 0);
    g_assert_true(all_bytes(gpa_ptr(&fx, stat), 8, 0xee));
    g_assert_cmpint(fx.irqs, ==, 0);
    fx_teardown(&fx);
}

/* The same with the I/O thread running: whatever had not completed when the
 * reset began is dropped, and nothing changes in guest memory afterwards. */
static void test_reset_running(gconstpointer data)
{
    const Mode *mode = data;
    if (skip_unavailable(mode))
        return;
    enum { N = 64, LEN = 16384 };
    Fx fx;
    fx_setup(&fx, mode, false, 0x24);
    uint64_t bufs = alloc_buf(&fx, N * LEN), stat = alloc_buf(&fx, N);
    memset(gpa_ptr(&fx, stat), 0xee, N);
    for (unsigned i = 0; i < N; i++) {
        Seg segs[] = { { put_header(&fx, T_IN, (i * LEN / 512) % (IMG_SECTORS - 32)), 16,
                         false },
                       { bufs + (uint64_t)i * LEN, LEN, true }, { stat + i, 1, true } };
        add_chain(&fx, segs, 3);
    }
    kick(&fx);
    g_mutex_lock(&fx.vdev->lock);
    hgr_virtio_set_status(fx.vdev, 0);
    g_mutex_unlock(&fx.vdev->lock);

    g_autofree uint8_t *before = g_memdup2(fx.ram, RAM_SIZE);
    g_usleep(20000);
    hgr_block_drain(fx.blk);
    g_assert_true(memcmp(before, fx.ram, RAM_SIZE) == 0);
    /* Each request either completed normally or left no trace. */
    uint16_t used = used_idx(&fx);
    g_assert_cmpuint(used, <=, N);
    unsigned done = 0;
    for (unsigned i = 0; i < N; i++)
        done += *(uint8_t *)gpa_ptr(&fx, stat + i) == S_OK;
    g_assert_cmpuint(done, ==, used);
    g_test_message("%u of %u requests completed before the reset", done, N);
    fx_teardown(&fx);
}

/* Save -> load -> compare, and a disk that changed size is refused. */
static void test_save_load(void)
{
    Mode mode = { "thread", false };
    Fx fx;
    fx_setup(&fx, &mode, false, 0);
    uint64_t buf = alloc_buf(&fx, 512);
    request(&fx, T_IN, 3, buf, 512, true, NULL);

    const HgrVirtioOps *ops = fx.vdev->ops;
    HgrVirtioState st = { 0 }, back = { 0 };
    g_autoptr(GByteArray) out = g_byte_array_new();
    hgr_virtio_get_state(fx.vdev, &st);
    {
        g_autoptr(HgrVisitor) sv = hgr_visitor_new_save(out);
        hgr_virtio_visit_state(sv, ops, &st);
    }
    hgr_virtio_state_prepare(ops, &back);
    {
        g_autoptr(HgrVisitor) lv = hgr_visitor_new_load(out->data, out->len);
        hgr_virtio_visit_state(lv, ops, &back);
        g_assert_false(hgr_visitor_overrun(lv));
        g_assert_cmpuint(hgr_visitor_remaining(lv), ==, 0);
    }
    g_autoptr(GError) err = NULL;
    g_assert_true(hgr_virtio_check_state(fx.vdev, &back, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(back.driver_features, ==, st.driver_features);
    g_assert_cmpuint(back.status, ==, st.status);
    g_assert_cmpuint(back.num_queues, ==, 1);
    g_assert_cmpuint(st.queues[0].used_idx, ==, 1);
    back.queues[0].max_size = st.queues[0].max_size;    /* the device's, not saved */
    g_assert_cmpmem(&back.queues[0], sizeof(HgrVirtq), &st.queues[0], sizeof(HgrVirtq));
    g_assert_cmpmem(back.device_state, ops->state_size, st.device_state, ops->state_size);

    /* Into a fresh device on the same disk: it carries on where it was. */
    HgrVirtioDevice *v2 = hgr_virtio_blk_new(&fx.mem, NULL, fx.blk);
    g_assert_true(hgr_virtio_check_state(v2, &back, NULL));
    hgr_virtio_set_state(v2, &back);
    HgrVirtioState again = { 0 };
    hgr_virtio_get_state(v2, &again);
    g_assert_cmpmem(&again.queues[0], sizeof(HgrVirtq), &st.queues[0], sizeof(HgrVirtq));
    g_assert_cmpuint(again.status, ==, st.status);
    hgr_virtio_state_clear(&again);
    hgr_virtio_destroy(v2);
    g_free(v2);

    /* The image grew after saving. */
    g_autofree char *big = g_build_filename(fx.dir, "big.img", NULL);
    g_assert_true(g_file_set_contents(big, "", 0, NULL));
    g_assert_cmpint(truncate(big, (IMG_SECTORS + 8) * 512), ==, 0);
    HgrBlock *bb = hgr_block_open_engine(big, HGR_DISK_FORMAT_RAW, false, "thread", NULL);
    HgrVirtioDevice *v3 = hgr_virtio_blk_new(&fx.mem, NULL, bb);
    g_assert_false(hgr_virtio_check_state(v3, &back, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
    g_assert_nonnull(strstr(err->message, "changed after saving"));
    hgr_virtio_destroy(v3);
    g_free(v3);
    hgr_block_free(bb);
    g_unlink(big);

    hgr_virtio_state_clear(&st);
    hgr_virtio_state_clear(&back);
    fx_teardown(&fx);
}

/* A guest repeating a bad request does not flood the log. */
static void test_warnings_rate_limited(void)
{
    Mode mode = { "thread", false };
    Fx fx;
    fx_setup(&fx, &mode, false, 0);
    uint64_t buf = alloc_buf(&fx, 512);
    g_atomic_int_set(&guest_warnings, 0);
    for (unsigned i = 0; i < 200; i++)
        g_assert_cmpuint(request(&fx, T_IN, IMG_SECTORS + i, buf, 512, true, NULL), ==,
                         S_IOERR);
    g_assert_cmpint(g_atomic_int_get(&guest_warnings), >=, 1);
    g_assert_cmpint(g_atomic_int_get(&guest_warnings), <=, 3);
    fx_teardown(&fx);
}

int main(int argc, char **argv)
{
    static const Mode modes[] = {
        { "io_uring", false }, { "io_uring", true }, { "thread", false }, { "thread", true },
    };
    static const struct {
        const char *name;
        GTestDataFunc fn;
    } tests[] = {
        { "requests", test_requests },
        { "hostile", test_hostile },
        { "readonly", test_readonly },
        { "many-in-flight", test_many_in_flight },
    };

    g_test_init(&argc, &argv, NULL);
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    g_log_set_handler("hangar-vmm", G_LOG_LEVEL_WARNING, count_guest_warnings, NULL);
    for (size_t m = 0; m < G_N_ELEMENTS(modes); m++) {
        for (size_t i = 0; i < G_N_ELEMENTS(tests); i++) {
            g_autofree char *path = g_strdup_printf("/vmm/virtio-blk/%s-%s/%s",
                                                    modes[m].engine,
                                                    modes[m].iothread ? "iothread" : "inline",
                                                    tests[i].name);
            g_test_add_data_func(path, &modes[m], tests[i].fn);
        }
    }
    g_test_add_data_func("/vmm/virtio-blk/io_uring/reset-in-flight", &modes[0],
                         test_reset_in_flight);
    g_test_add_data_func("/vmm/virtio-blk/thread/reset-in-flight", &modes[2],
                         test_reset_in_flight);
    g_test_add_data_func("/vmm/virtio-blk/io_uring/reset-running", &modes[1],
                         test_reset_running);
    g_test_add_data_func("/vmm/virtio-blk/thread/reset-running", &modes[3],
                         test_reset_running);
    g_test_add_func("/vmm/virtio-blk/config-space", test_config);
    g_test_add_func("/vmm/virtio-blk/save-load", test_save_load);
    g_test_add_func("/vmm/virtio-blk/warnings-rate-limited", test_warnings_rate_limited);
    return g_test_run();
}
