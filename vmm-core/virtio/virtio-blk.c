/* virtio-blk.c — virtio block device (virtio 1.x, section 5.2).
 *
 * Every available request is popped, checked and submitted to the block
 * backend at once; completions arrive later on the I/O thread, possibly out
 * of order. Nothing in a request is trusted: the header and discard segments
 * are copied out of guest memory before they are checked.
 */
#include "virtio-blk.h"

#include "../core/ratelimit.h"

#include <errno.h>
#include <hangar/vm.h>
#include <string.h>

#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2
#define STATUS_PENDING      0xff       /* ours: submitted, completes later */

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1
#define VIRTIO_BLK_ID_BYTES 20

#define SECTOR 512
#define QUEUE_SIZE 256
#define SEG_MAX (QUEUE_SIZE - 2)          /* a chain also holds header and status */
#define SIZE_MAX_BYTES (1u << 20)
#define MAX_DISCARD_SECTORS (1u << 22)    /* 2 GiB: punching holes is cheap */
#define MAX_WRITE_ZEROES_SECTORS (1u << 18)
#define MAX_DWZ_SEG 16
#define DISCARD_ALIGNMENT 8               /* 4 KiB, the usual file system block */

typedef struct {
    uint64_t capacity;
    uint32_t size_max;
    uint32_t seg_max;
    uint16_t cylinders;
    uint8_t heads;
    uint8_t sectors;
    uint32_t blk_size;
    uint8_t physical_block_exp;
    uint8_t alignment_offset;
    uint16_t min_io_size;
    uint32_t opt_io_size;
    uint8_t writeback;
    uint8_t unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t discard_sector_alignment;
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
} __attribute__((packed)) BlkConfig;
G_STATIC_ASSERT(sizeof(BlkConfig) == 60);

typedef struct {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
} BlkHeader;

typedef struct {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
} BlkSegment;

typedef struct {
    HgrVirtioDevice vdev;            /* first: the owner g_free()s the device */
    HgrBlock *blk;
    uint64_t capacity;               /* sectors */
    char serial[VIRTIO_BLK_ID_BYTES];
    bool async;                      /* completions come on the I/O thread */

    /* Under vdev.lock. */
    unsigned inflight;               /* requests submitted, not completed */
    bool resetting;                  /* drop completions: the driver let go */
    bool notify_pending[HGR_VIRTIO_MAX_QUEUES];   /* pushed in a kick, interrupt owed */
    HgrRateLimit warn_limit;         /* guest-triggered warnings */
    HgrVirtqElem elem;               /* scratch for popping */
} VirtioBlk;

typedef struct {
    VirtioBlk *s;
    unsigned q;
    uint16_t head;
    uint8_t *status;                 /* the driver's status byte, in checked RAM */
    uint32_t data_in;                /* bytes the device writes before the status */
    unsigned pending;                /* block requests out, +1 while submitting */
    int ret;
    unsigned n_sub;
    struct iovec *iov;
    HgrBlockReq sub[];
} BlkReq;

G_GNUC_PRINTF(2, 3)
static void guest_warn(VirtioBlk *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *who = g_strdup_printf("virtio-blk %s", hgr_block_path(s->blk));
    hgr_warn_ratelimited(&s->warn_limit, who, "%s", msg);
}

static VirtioBlk *blk_of(HgrVirtioDevice *vdev)
{
    return (VirtioBlk *)vdev;
}

/* Completion */

static void push_locked(VirtioBlk *s, unsigned q, uint16_t head, uint32_t written, bool notify)
{
    if (notify) {
        hgr_virtio_complete(&s->vdev, q, head, written);
        return;
    }
    if (hgr_virtq_push(&s->vdev.queues[q], s->vdev.mem, head, written))
        s->notify_pending[q] = true;
    else if (s->vdev.queues[q].broken)
        hgr_virtio_set_broken(&s->vdev, "used ring is not writable");
}

static void complete_sync(VirtioBlk *s, unsigned q, HgrVirtqElem *e, uint8_t *status,
                          uint8_t code, uint32_t data_in)
{
    *status = code;
    push_locked(s, q, e->head, data_in + 1, false);
}

static void req_put_locked(BlkReq *r, bool notify)
{
    VirtioBlk *s = r->s;

    if (--r->pending > 0)
        return;
    if (!s->resetting) {
        bool ok = r->ret == 0;
        *r->status = ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
        push_locked(s, r->q, r->head, (ok ? r->data_in : 0) + 1, notify);
    }
    s->inflight--;
    g_free(r);
}

static void sub_done(HgrBlockReq *br, int ret)
{
    BlkReq *r = br->opaque;
    VirtioBlk *s = r->s;
    /* Without an I/O thread the block layer completes inside our kick, where
     * vdev.lock is already held. */
    bool lock = s->async;

    if (lock)
        g_mutex_lock(&s->vdev.lock);
    if (ret < 0 && r->ret == 0) {
        r->ret = ret;
        if (ret != -EROFS)
            guest_warn(s, "I/O error at byte %" G_GUINT64_FORMAT ": %s", br->offset,
                       g_strerror(-ret));
    }
    req_put_locked(r, lock);
    if (lock)
        g_mutex_unlock(&s->vdev.lock);
}

/* Requests */

static BlkReq *req_new(VirtioBlk *s, unsigned q, HgrVirtqElem *e, uint8_t *status,
                       unsigned n_sub, unsigned n_iov)
{
    BlkReq *r = g_malloc0(sizeof(BlkReq) + n_sub * sizeof(HgrBlockReq) +
                          n_iov * sizeof(struct iovec));
    r->s = s;
    r->q = q;
    r->head = e->head;
    r->status = status;
    r->n_sub = n_sub;
    r->iov = (struct iovec *)&r->sub[n_sub];
    for (unsigned i = 0; i < n_sub; i++)
        r->sub[i] = (HgrBlockReq){ .done = sub_done, .opaque = r };
    return r;
}

static void req_submit(VirtioBlk *s, BlkReq *r)
{
    s->inflight++;
    r->pending = r->n_sub + 1;
    for (unsigned i = 0; i < r->n_sub; i++)
        hgr_block_submit(s->blk, &r->sub[i]);
    req_put_locked(r, false);
}

static bool range_ok(const VirtioBlk *s, uint64_t sector, uint64_t sectors)
{
    return sector <= s->capacity && sectors <= s->capacity - sector;
}

/* The status byte is the last byte the driver lets us write. */
static uint8_t *find_status(HgrVirtqElem *e)
{
    if (e->n_in == 0)
        return NULL;
    struct iovec *last = &e->iov[e->n_out + e->n_in - 1];
    return (uint8_t *)last->iov_base + last->iov_len - 1;
}

static uint8_t handle_rw(VirtioBlk *s, unsigned q, HgrVirtqElem *e, uint8_t *status,
                         bool write, uint64_t sector)
{
    /* Data: after the header for OUT, before the status byte for IN. */
    uint64_t len = write ? e->out_len - sizeof(BlkHeader) : e->in_len - 1;
    const struct iovec *src = write ? e->iov : e->iov + e->n_out;
    unsigned n_src = write ? e->n_out : e->n_in;
    uint64_t skip = write ? sizeof(BlkHeader) : 0;

    if (write && hgr_block_readonly(s->blk))
        return VIRTIO_BLK_S_IOERR;
    if (len % SECTOR) {
        guest_warn(s, "%s of %" G_GUINT64_FORMAT " bytes, not whole sectors",
                   write ? "write" : "read", len);
        return VIRTIO_BLK_S_IOERR;
    }
    if (!range_ok(s, sector, len / SECTOR)) {
        guest_warn(s, "%s past the end of the disk (sector %" G_GUINT64_FORMAT ")",
                   write ? "write" : "read", sector);
        return VIRTIO_BLK_S_IOERR;
    }
    if (len == 0)
        return VIRTIO_BLK_S_OK;
    BlkReq *r = req_new(s, q, e, status, 1, n_src);
    HgrBlockReq *br = &r->sub[0];
    br->op = write ? HGR_BLOCK_WRITE : HGR_BLOCK_READ;
    br->offset = sector * SECTOR;
    br->iov = r->iov;
    br->iovcnt = hgr_block_iov_slice(src, n_src, skip, len, r->iov);
    r->data_in = write ? 0 : (uint32_t)MIN(len, UINT32_MAX - 1);
    req_submit(s, r);
    return STATUS_PENDING;
}

static uint8_t handle_flush(VirtioBlk *s, unsigned q, HgrVirtqElem *e, uint8_t *status)
{
    BlkReq *r = req_new(s, q, e, status, 1, 0);
    r->sub[0].op = HGR_BLOCK_FLUSH;
    req_submit(s, r);
    return STATUS_PENDING;
}

static uint8_t handle_dwz(VirtioBlk *s, unsigned q, HgrVirtqElem *e, uint8_t *status,
                          bool zeroes)
{
    unsigned feature = zeroes ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD;
    uint32_t max_sectors = zeroes ? MAX_WRITE_ZEROES_SECTORS : MAX_DISCARD_SECTORS;
    uint64_t len = e->out_len - sizeof(BlkHeader);
    BlkSegment seg[MAX_DWZ_SEG];

    if (!hgr_virtio_has_feature(&s->vdev, feature) || hgr_block_readonly(s->blk))
        return VIRTIO_BLK_S_UNSUPP;
    if (len == 0 || len % sizeof(BlkSegment) || len / sizeof(BlkSegment) > MAX_DWZ_SEG) {
        guest_warn(s, "%s with %" G_GUINT64_FORMAT " bytes of segments",
                   zeroes ? "write-zeroes" : "discard", len);
        return VIRTIO_BLK_S_UNSUPP;
    }
    unsigned n = (unsigned)(len / sizeof(BlkSegment));
    hgr_iov_to_buf(e->iov, e->n_out, sizeof(BlkHeader), seg, len);   /* one copy */
    for (unsigned i = 0; i < n; i++) {
        uint64_t sector = GUINT64_FROM_LE(seg[i].sector);
        uint32_t count = GUINT32_FROM_LE(seg[i].num_sectors);
        uint32_t flags = GUINT32_FROM_LE(seg[i].flags);
        if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP || (!zeroes && flags))
            return VIRTIO_BLK_S_UNSUPP;
        if (count > max_sectors || !range_ok(s, sector, count)) {
            guest_warn(s, "%s of %u sectors at %" G_GUINT64_FORMAT " out of range",
                       zeroes ? "write-zeroes" : "discard", count, sector);
            return VIRTIO_BLK_S_IOERR;
        }
    }
    BlkReq *r = req_new(s, q, e, status, n, 0);
    for (unsigned i = 0; i < n; i++) {
        r->sub[i].op = zeroes ? HGR_BLOCK_WRITE_ZEROES : HGR_BLOCK_DISCARD;
        r->sub[i].offset = GUINT64_FROM_LE(seg[i].sector) * SECTOR;
        r->sub[i].len = (uint64_t)GUINT32_FROM_LE(seg[i].num_sectors) * SECTOR;
    }
    req_submit(s, r);
    return STATUS_PENDING;
}

static void handle_elem(VirtioBlk *s, unsigned q, HgrVirtqElem *e)
{
    uint8_t *status = find_status(e);
    BlkHeader hdr;

    if (!status) {
        guest_warn(s, "request without a writable status byte");
        push_locked(s, q, e->head, 0, false);
        return;
    }
    if (e->out_len < sizeof(hdr) ||
        hgr_iov_to_buf(e->iov, e->n_out, 0, &hdr, sizeof(hdr)) != sizeof(hdr)) {
        guest_warn(s, "request header of %" G_GUINT64_FORMAT " bytes", e->out_len);
        complete_sync(s, q, e, status, VIRTIO_BLK_S_IOERR, 0);
        return;
    }
    uint64_t sector = GUINT64_FROM_LE(hdr.sector);
    uint8_t code;
    uint32_t data_in = 0;

    switch (GUINT32_FROM_LE(hdr.type)) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        code = handle_rw(s, q, e, status, GUINT32_FROM_LE(hdr.type) == VIRTIO_BLK_T_OUT,
                         sector);
        break;
    case VIRTIO_BLK_T_FLUSH:
        code = handle_flush(s, q, e, status);
        break;
    case VIRTIO_BLK_T_GET_ID:
        data_in = (uint32_t)hgr_iov_from_buf(e->iov + e->n_out, e->n_in, 0, s->serial,
                                             MIN(sizeof(s->serial), e->in_len - 1));
        code = VIRTIO_BLK_S_OK;
        break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        code = handle_dwz(s, q, e, status,
                          GUINT32_FROM_LE(hdr.type) == VIRTIO_BLK_T_WRITE_ZEROES);
        break;
    default:
        code = VIRTIO_BLK_S_UNSUPP;
    }
    if (code != STATUS_PENDING)
        complete_sync(s, q, e, status, code, data_in);
}

static void blk_queue_notify(HgrVirtioDevice *vdev, unsigned q)
{
    VirtioBlk *s = blk_of(vdev);
    HgrVirtq *vq = &vdev->queues[q];

    if (s->resetting)
        return;
    hgr_block_plug(s->blk);
    /* Bounded even if the driver keeps adding: it kicks again for the rest. */
    for (unsigned n = 0; n < 4u * vq->size; n++) {
        if (hgr_virtq_pop(vq, vdev->mem, &s->elem) != HGR_VIRTQ_GOT)
            break;
        handle_elem(s, q, &s->elem);
    }
    hgr_block_unplug(s->blk);
    if (s->notify_pending[q]) {
        s->notify_pending[q] = false;
        hgr_virtio_notify_if_needed(vdev, q);
    }
}

/* Reset: no request may write guest memory once the driver sees status 0, so
 * wait for those in flight. Their completions need vdev.lock, which the
 * transport holds around us: let go of it while draining. */
static void blk_reset(HgrVirtioDevice *vdev)
{
    VirtioBlk *s = blk_of(vdev);

    s->resetting = true;
    while (s->inflight > 0) {
        g_mutex_unlock(&vdev->lock);
        hgr_block_drain(s->blk);
        g_mutex_lock(&vdev->lock);
    }
    s->resetting = false;
    memset(s->notify_pending, 0, sizeof(s->notify_pending));
}

static void blk_destroy(HgrVirtioDevice *vdev)
{
    VirtioBlk *s = blk_of(vdev);

    g_mutex_lock(&vdev->lock);
    s->resetting = true;
    g_mutex_unlock(&vdev->lock);
    hgr_block_drain(s->blk);
}

/* Features and config space */

static uint64_t blk_get_features(HgrVirtioDevice *vdev)
{
    VirtioBlk *s = blk_of(vdev);
    uint64_t f = (1ULL << VIRTIO_BLK_F_SIZE_MAX) | (1ULL << VIRTIO_BLK_F_SEG_MAX) |
                 (1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_FLUSH);

    if (hgr_block_readonly(s->blk))
        f |= 1ULL << VIRTIO_BLK_F_RO;
    else
        f |= (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
    return f;
}

static void blk_config_read(HgrVirtioDevice *vdev, uint32_t offset, void *data, unsigned len)
{
    VirtioBlk *s = blk_of(vdev);
    BlkConfig c = {
        .capacity = GUINT64_TO_LE(s->capacity),
        .size_max = GUINT32_TO_LE(SIZE_MAX_BYTES),
        .seg_max = GUINT32_TO_LE(SEG_MAX),
        .blk_size = GUINT32_TO_LE(SECTOR),
        .num_queues = GUINT16_TO_LE(1),
        .max_discard_sectors = GUINT32_TO_LE(MAX_DISCARD_SECTORS),
        .max_discard_seg = GUINT32_TO_LE(MAX_DWZ_SEG),
        .discard_sector_alignment = GUINT32_TO_LE(DISCARD_ALIGNMENT),
        .max_write_zeroes_sectors = GUINT32_TO_LE(MAX_WRITE_ZEROES_SECTORS),
        .max_write_zeroes_seg = GUINT32_TO_LE(MAX_DWZ_SEG),
        .write_zeroes_may_unmap = 1,
    };
    memcpy(data, (uint8_t *)&c + offset, len);     /* range checked by virtio.c */
}

/* Saved state: the capacity, so a disk that changed since is refused. */

typedef struct {
    uint64_t capacity;
} BlkState;

static void blk_get_state(HgrVirtioDevice *vdev, void *state)
{
    ((BlkState *)state)->capacity = blk_of(vdev)->capacity;
}

static void blk_visit_state(HgrVisitor *v, void *state)
{
    hgr_visit_u64(v, &((BlkState *)state)->capacity);
}

static bool blk_check_state(HgrVirtioDevice *vdev, const void *state, GError **error)
{
    VirtioBlk *s = blk_of(vdev);
    const BlkState *st = state;

    if (st->capacity != s->capacity) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "%s: the disk changed after saving (%" G_GUINT64_FORMAT
                    " sectors then, %" G_GUINT64_FORMAT " now)",
                    hgr_block_path(s->blk), st->capacity, s->capacity);
        return false;
    }
    return true;
}

static void blk_set_state(HgrVirtioDevice *vdev, const void *state)
{
}

static const HgrVirtioOps virtio_blk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .num_queues = 1,
    .queue_max_size = QUEUE_SIZE,
    .state_version = 1,
    .get_features = blk_get_features,
    .config_size = sizeof(BlkConfig),
    .config_read = blk_config_read,
    .queue_notify = blk_queue_notify,
    .reset = blk_reset,
    .state_size = sizeof(BlkState),
    .get_state = blk_get_state,
    .visit_state = blk_visit_state,
    .check_state = blk_check_state,
    .set_state = blk_set_state,
    .destroy = blk_destroy,
};

void hgr_virtio_blk_set_serial(HgrVirtioDevice *vdev, const char *serial)
{
    VirtioBlk *s = blk_of(vdev);

    memset(s->serial, 0, sizeof(s->serial));
    memcpy(s->serial, serial, MIN(strlen(serial), sizeof(s->serial)));
}

HgrVirtioDevice *hgr_virtio_blk_new(const HgrGuestMem *mem, HgrIoThread *t, HgrBlock *blk)
{
    VirtioBlk *s = g_new0(VirtioBlk, 1);

    /* get_features (called by hgr_virtio_init) looks at blk. */
    s->blk = blk;
    hgr_virtio_init(&s->vdev, &virtio_blk_ops, mem, t);
    s->capacity = hgr_block_size(blk) / SECTOR;
    s->async = t != NULL;
    if (t)
        hgr_block_attach(blk, t);
    g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
                                                         hgr_block_path(blk), -1);
    g_autofree char *serial = g_strdup_printf("HGR%.17s", sum);
    hgr_virtio_blk_set_serial(&s->vdev, serial);
    return &s->vdev;
}
