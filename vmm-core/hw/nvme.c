/* nvme.c — NVMe controller: registers, doorbells, queues, completions,
 * reset and shutdown, save and load. Commands live in nvme-admin.c and
 * nvme-io.c.
 *
 * Every fetched command reserves a slot in its completion queue, so a
 * completion always has room; a queue whose CQ is full waits for the host
 * to move the CQ head. Anything the guest puts in a queue or a register is
 * checked before use: the worst it gets is an error status, an
 * asynchronous event or CSTS.CFS.
 */
#include "nvme-private.h"

#include <errno.h>
#include <hangar/vm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define NVME_BAR          0
#define NVME_BAR_SIZE     0x4000
#define DOORBELL_OFF      0x1000
#define MSIX_TABLE_OFF    0x2000
#define MSIX_PBA_OFF      0x3000
#define REGS_LEN          0x40

enum { REG_CAP = 0x00, REG_VS = 0x08, REG_INTMS = 0x0c, REG_INTMC = 0x10, REG_CC = 0x14,
       REG_CSTS = 0x1c, REG_AQA = 0x24, REG_ASQ = 0x28, REG_ACQ = 0x30 };

#define CC_EN             1u
#define CC_SHN(cc)        (((cc) >> 14) & 3)
#define CC_MPS(cc)        (((cc) >> 7) & 0xf)
#define CC_CSS_AMS(cc)    (((cc) >> 4) & 0x3f)
#define CSTS_RDY          1u
#define CSTS_CFS          2u
#define CSTS_SHST_MASK    (3u << 2)
#define CSTS_SHST_BUSY    (1u << 2)
#define CSTS_SHST_DONE    (2u << 2)

/* MQES, contiguous queues, 10 s ready timeout, stride 4, NVM command set,
 * 4 KiB pages only. */
#define NVME_CAP ((uint64_t)(NVME_MAX_ENTRIES - 1) | 1ull << 16 | 20ull << 24 | 1ull << 37)

static NvmeCtrl *ctrl_of(HgrDevice *dev)
{
    return (NvmeCtrl *)dev;
}

void hgr_nvme_warn(NvmeCtrl *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    hgr_warn_ratelimited(&c->warn_limit, c->pdev.dev.id, "%s", msg);
}

static void fatal(NvmeCtrl *c, const char *why)
{
    hgr_nvme_warn(c, "controller fatal status: %s", why);
    c->csts |= CSTS_CFS;
}

bool hgr_nvme_ring_is_ram(NvmeCtrl *c, uint64_t base, uint64_t len)
{
    struct iovec iov[HGR_MEM_MAX_REGIONS];
    unsigned n = 0;

    return hgr_mem_iov(c->mem, base, len, iov, &n, G_N_ELEMENTS(iov));
}

static bool running(const NvmeCtrl *c)
{
    return (c->csts & (CSTS_RDY | CSTS_CFS | CSTS_SHST_MASK)) == CSTS_RDY &&
           !c->reset_pending && !c->shutdown_pending;
}

static bool can_run(const NvmeCtrl *c)
{
    return running(c) && !c->paused;
}

/* Completions */

static unsigned cq_used(const NvmeQueue *cq)
{
    return (cq->tail + cq->size - cq->head) % cq->size;
}

static bool cq_has_room(const NvmeQueue *cq)
{
    return cq_used(cq) + cq->reserved + 1u < cq->size;
}

static bool post(NvmeCtrl *c, uint16_t sqid, uint16_t cid, uint16_t status, uint32_t dw0)
{
    NvmeQueue *sq = &c->sq[sqid], *cq = &c->cq[sq->cqid];

    if (!(c->csts & CSTS_RDY) || (c->csts & CSTS_CFS) || c->reset_pending || !sq->valid ||
        !cq->valid)
        return true;                 /* nobody is listening any more */
    if (cq_used(cq) + 1u >= cq->size)
        return false;
    uint32_t e[4] = {
        GUINT32_TO_LE(dw0), 0, GUINT32_TO_LE(sq->head | (uint32_t)sqid << 16),
        GUINT32_TO_LE(cid | (uint32_t)(status << 1 | cq->phase) << 16),
    };
    uint64_t gpa = cq->base + (uint64_t)cq->tail * NVME_CQE_SIZE;
    /* The phase bit goes last: the driver takes the entry once it flips. */
    bool ok = hgr_mem_write(c->mem, gpa, e, 12);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (!ok || !hgr_mem_write(c->mem, gpa + 12, &e[3], 4)) {
        fatal(c, "completion queue is not RAM");
        return true;
    }
    if (++cq->tail == cq->size) {
        cq->tail = 0;
        cq->phase = !cq->phase;
    }
    if (cq->ien)
        hgr_msix_notify(&c->msix, cq->vector);
    return true;
}

void hgr_nvme_complete(NvmeCtrl *c, uint16_t sqid, uint16_t cid, uint16_t status,
                       uint32_t dw0)
{
    NvmeQueue *cq = &c->cq[c->sq[sqid].cqid];

    if (cq->reserved)
        cq->reserved--;
    if (!post(c, sqid, cid, status, dw0))
        hgr_nvme_warn(c, "completion queue %u full: the driver broke its contract",
                      c->sq[sqid].cqid);
}

void hgr_nvme_post_event(NvmeCtrl *c, uint32_t event)
{
    if (c->n_aer == 0 || !post(c, 0, c->aer_cid[c->n_aer - 1], NVME_SUCCESS, event)) {
        if (!c->aen_pending)
            c->aen_pending = event;  /* the next AER gets the first one */
        return;
    }
    c->n_aer--;
}

/* Fetching */

static void cmd_from_le(NvmeCmd *cmd)
{
    cmd->cid = GUINT16_FROM_LE(cmd->cid);
    cmd->nsid = GUINT32_FROM_LE(cmd->nsid);
    cmd->prp1 = GUINT64_FROM_LE(cmd->prp1);
    cmd->prp2 = GUINT64_FROM_LE(cmd->prp2);
    uint32_t *dw = &cmd->cdw10;
    for (unsigned i = 0; i < 6; i++)
        dw[i] = GUINT32_FROM_LE(dw[i]);
}

static void process_sq(NvmeCtrl *c, uint16_t qid)
{
    NvmeQueue *sq = &c->sq[qid];

    /* At most one lap: the tail cannot move while we hold the lock. */
    for (unsigned n = 0; n < sq->size && sq->valid && sq->head != sq->tail; n++) {
        NvmeQueue *cq = &c->cq[sq->cqid];
        NvmeCmd cmd;

        if (!can_run(c) || !cq_has_room(cq))
            return;                  /* a CQ head doorbell brings us back */
        if (!hgr_mem_read(c->mem, sq->base + (uint64_t)sq->head * NVME_SQE_SIZE, &cmd,
                          sizeof(cmd))) {
            fatal(c, "submission queue is not RAM");
            return;
        }
        cmd_from_le(&cmd);
        sq->head = (uint16_t)((sq->head + 1) % sq->size);
        cq->reserved++;
        uint32_t dw0 = 0;
        uint16_t status = qid == 0 ? hgr_nvme_admin(c, &cmd, &dw0) : hgr_nvme_io(c, qid, &cmd);
        if (status != NVME_PENDING)
            hgr_nvme_complete(c, qid, cmd.cid, status, dw0);
    }
}

static void process(NvmeCtrl *c)
{
    hgr_block_plug(c->blk);
    for (uint16_t q = 0; q < HGR_NVME_MAX_QUEUES; q++)
        process_sq(c, q);
    hgr_block_unplug(c->blk);
}

static gboolean kick_ready(gint fd, GIOCondition cond, gpointer data)
{
    NvmeCtrl *c = data;
    uint64_t count;

    if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        return G_SOURCE_CONTINUE;
    g_mutex_lock(&c->lock);
    process(c);
    g_mutex_unlock(&c->lock);
    return G_SOURCE_CONTINUE;
}

/* Work happens on the I/O thread; without one (unit tests), right here. */
static void kick(NvmeCtrl *c)
{
    if (c->kick_fd < 0) {
        process(c);
        return;
    }
    uint64_t one = 1;
    if (write(c->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        hgr_nvme_warn(c, "kick eventfd: %s", g_strerror(errno));
}

/* Reset and shutdown */

static void finish_reset(NvmeCtrl *c)
{
    memset(c->sq, 0, sizeof(c->sq));
    memset(c->cq, 0, sizeof(c->cq));
    c->n_aer = 0;
    c->aen_pending = 0;
    c->csts = 0;
    c->intms = 0;
    c->reset_pending = false;
    c->shutdown_pending = false;
    hgr_nvme_features_default(c);
}

static void shutdown_flushed(HgrBlockReq *req, int ret)
{
    NvmeCtrl *c = req->opaque;

    if (c->async)
        g_mutex_lock(&c->lock);
    c->flushing = false;
    if (c->shutdown_pending) {
        c->shutdown_pending = false;
        c->csts = (c->csts & ~CSTS_SHST_MASK) | CSTS_SHST_DONE;
    }
    if (c->async)
        g_mutex_unlock(&c->lock);
    g_free(req);
}

void hgr_nvme_io_done(NvmeCtrl *c)
{
    if (c->inflight > 0)
        return;
    if (c->reset_pending) {
        finish_reset(c);
        if (c->cc & CC_EN)
            c->cc &= ~CC_EN;         /* enabled too early: the driver must write it again */
    } else if (c->shutdown_pending && !c->flushing) {
        HgrBlockReq *req = g_new0(HgrBlockReq, 1);
        *req = (HgrBlockReq){ .op = HGR_BLOCK_FLUSH, .done = shutdown_flushed, .opaque = c };
        c->flushing = true;
        hgr_block_submit(c->blk, req);
    }
}

static void enable(NvmeCtrl *c)
{
    unsigned sqs = (c->aqa & 0xfff) + 1, cqs = ((c->aqa >> 16) & 0xfff) + 1;

    if (sqs < 2 || cqs < 2 || sqs > NVME_MAX_ENTRIES || cqs > NVME_MAX_ENTRIES ||
        (c->asq | c->acq) & (NVME_PAGE - 1) || CC_MPS(c->cc) || CC_CSS_AMS(c->cc) ||
        !hgr_nvme_ring_is_ram(c, c->asq, (uint64_t)sqs * NVME_SQE_SIZE) ||
        !hgr_nvme_ring_is_ram(c, c->acq, (uint64_t)cqs * NVME_CQE_SIZE)) {
        fatal(c, "enabled with a bad admin queue or CC");
        return;
    }
    c->sq[0] = (NvmeQueue){ .base = c->asq, .size = (uint16_t)sqs, .valid = true };
    c->cq[0] = (NvmeQueue){ .base = c->acq, .size = (uint16_t)cqs, .valid = true,
                            .ien = true, .phase = true };
    c->csts = CSTS_RDY;
}

static void cc_write(NvmeCtrl *c, uint32_t val)
{
    uint32_t old = c->cc;

    c->cc = val;
    if ((old & CC_EN) && !(val & CC_EN)) {
        /* RDY drops once the commands in flight have finished. */
        c->reset_pending = true;
        hgr_nvme_io_done(c);
        return;
    }
    if (!(old & CC_EN) && (val & CC_EN) && !c->reset_pending)
        enable(c);
    if (CC_SHN(val) && !CC_SHN(old) && !(c->csts & CSTS_SHST_MASK)) {
        if (!(c->csts & CSTS_RDY)) {
            c->csts |= CSTS_SHST_DONE;
            return;
        }
        c->shutdown_pending = true;
        c->csts |= CSTS_SHST_BUSY;
        hgr_nvme_io_done(c);
    }
}

/* The BAR */

static void regs_image(NvmeCtrl *c, uint8_t img[REGS_LEN])
{
    memset(img, 0, REGS_LEN);
    hgr_io_put(img + REG_CAP, 8, NVME_CAP);
    hgr_io_put(img + REG_VS, 4, 0x00010400);
    hgr_io_put(img + REG_INTMS, 4, c->intms);
    hgr_io_put(img + REG_INTMC, 4, c->intms);
    hgr_io_put(img + REG_CC, 4, c->cc);
    hgr_io_put(img + REG_CSTS, 4, c->csts);
    hgr_io_put(img + REG_AQA, 4, c->aqa);
    hgr_io_put(img + REG_ASQ, 8, c->asq);
    hgr_io_put(img + REG_ACQ, 8, c->acq);
}

static void regs_write(NvmeCtrl *c, uint32_t off, const uint8_t *data, unsigned len)
{
    uint8_t img[REGS_LEN];

    /* 32-bit halves of the 64-bit registers are merged into them. */
    regs_image(c, img);
    memcpy(img + off, data, len);
    uint64_t v32 = hgr_io_get(img + (off & ~3u), 4);
    switch (off & ~3u) {
    case REG_INTMS: c->intms |= (uint32_t)hgr_io_get(data, MIN(len, 4)); break;
    case REG_INTMC: c->intms &= ~(uint32_t)hgr_io_get(data, MIN(len, 4)); break;
    case REG_CC:    cc_write(c, (uint32_t)v32); break;
    case REG_AQA:   c->aqa = (uint32_t)v32 & 0x0fff0fff; break;
    case REG_ASQ: case REG_ASQ + 4: c->asq = hgr_io_get(img + REG_ASQ, 8); break;
    case REG_ACQ: case REG_ACQ + 4: c->acq = hgr_io_get(img + REG_ACQ, 8); break;
    }
}

static void doorbell_write(NvmeCtrl *c, uint64_t off, unsigned len, uint32_t val)
{
    unsigned idx = (unsigned)(off / 4), qid = idx / 2;
    bool is_cq = idx & 1;

    if (off % 4 || len != 4)
        return;
    if (!running(c)) {
        hgr_nvme_warn(c, "doorbell %u written while the controller is not running", idx);
        return;
    }
    NvmeQueue *q = qid < HGR_NVME_MAX_QUEUES ? (is_cq ? &c->cq[qid] : &c->sq[qid]) : NULL;
    if (!q || !q->valid) {
        hgr_nvme_warn(c, "doorbell of %s queue %u, which does not exist", is_cq ? "CQ" : "SQ",
                      qid);
        hgr_nvme_post_event(c, NVME_AEN_INVALID_DB);
        return;
    }
    if (val >= q->size) {
        hgr_nvme_warn(c, "doorbell value %u for a queue of %u", val, q->size);
        hgr_nvme_post_event(c, NVME_AEN_INVALID_DB_VALUE);
        return;
    }
    if (is_cq)
        q->head = (uint16_t)val;     /* frees slots: queues waiting on it go on */
    else
        q->tail = (uint16_t)val;
    if (!c->paused)
        kick(c);
}

static void bar_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
    NvmeCtrl *c = opaque;

    if (!is_write)
        memset(data, 0, len);
    if (off >= MSIX_PBA_OFF) {
        hgr_msix_pba_io(&c->msix, off - MSIX_PBA_OFF, data, len, is_write);
        return;
    }
    if (off >= MSIX_TABLE_OFF) {
        hgr_msix_table_io(&c->msix, off - MSIX_TABLE_OFF, data, len, is_write);
        return;
    }
    g_mutex_lock(&c->lock);
    if (off >= DOORBELL_OFF) {
        if (is_write)
            doorbell_write(c, off - DOORBELL_OFF, len, (uint32_t)hgr_io_get(data, len));
    } else if (off + len <= REGS_LEN) {
        if (is_write) {
            regs_write(c, (uint32_t)off, data, len);
        } else {
            uint8_t img[REGS_LEN];
            regs_image(c, img);
            memcpy(data, img + off, len);
        }
    }
    g_mutex_unlock(&c->lock);
}

/* Device ops */

static void config_write(HgrPciDevice *pdev, uint32_t off, const uint8_t *data, unsigned len)
{
    hgr_msix_config_write(&((NvmeCtrl *)pdev)->msix, off, len);
}

static const HgrPciHooks nvme_hooks = {
    .config_write = config_write,
};

/* Waits for every command at the block layer; their completions take the
 * lock, so it is let go meanwhile. Lock held. */
static void drain_locked(NvmeCtrl *c)
{
    while (c->inflight > 0 || c->flushing) {
        g_mutex_unlock(&c->lock);
        hgr_block_drain(c->blk);
        g_mutex_lock(&c->lock);
    }
}

static bool nvme_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    NvmeCtrl *c = ctrl_of(dev);

    if (!hgr_pci_bus_add_device(board->pci, &c->pdev, -1, error) ||
        !hgr_msix_realize(&c->msix, board, error))
        return false;
    if (!c->iothread)
        return true;
    c->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->kick_fd < 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG, "%s: eventfd: %s", dev->id,
                    g_strerror(errno));
        return false;
    }
    c->kick_source = hgr_iothread_add_fd(c->iothread, c->kick_fd, G_IO_IN, kick_ready, c);
    return true;
}

static void nvme_reset(HgrDevice *dev)
{
    NvmeCtrl *c = ctrl_of(dev);

    g_mutex_lock(&c->lock);
    c->reset_pending = true;
    drain_locked(c);
    finish_reset(c);
    c->cc = c->aqa = 0;
    c->asq = c->acq = 0;
    g_mutex_unlock(&c->lock);
    hgr_msix_reset(&c->msix);
    hgr_pci_device_reset(&c->pdev);
}

static void nvme_pause(HgrDevice *dev)
{
    NvmeCtrl *c = ctrl_of(dev);

    g_mutex_lock(&c->lock);
    c->paused = true;
    drain_locked(c);
    g_mutex_unlock(&c->lock);
}

static void nvme_resume(HgrDevice *dev)
{
    NvmeCtrl *c = ctrl_of(dev);

    g_mutex_lock(&c->lock);
    c->paused = false;
    kick(c);
    g_mutex_unlock(&c->lock);
}

static gboolean remove_watch(gpointer data)
{
    NvmeCtrl *c = data;

    hgr_iothread_remove(c->iothread, c->kick_source);
    c->kick_source = 0;
    return G_SOURCE_REMOVE;
}

static void nvme_destroy(HgrDevice *dev)
{
    NvmeCtrl *c = ctrl_of(dev);

    g_mutex_lock(&c->lock);
    c->paused = true;
    drain_locked(c);
    g_mutex_unlock(&c->lock);
    if (c->kick_source)
        hgr_iothread_call(c->iothread, remove_watch, c);
    if (c->kick_fd >= 0)
        close(c->kick_fd);
    hgr_msix_destroy(&c->msix);
    hgr_pci_device_finalize(&c->pdev);
    g_mutex_clear(&c->lock);
    g_free(c);
}

/* Saved state */

static void queue_get(const NvmeQueue *q, HgrNvmeQueueState *s)
{
    *s = (HgrNvmeQueueState){ .base = q->base, .size = q->size, .head = q->head,
                              .tail = q->tail, .cqid = q->cqid, .vector = q->vector,
                              .valid = q->valid, .ien = q->ien, .phase = q->phase };
}

static void queue_set(NvmeQueue *q, const HgrNvmeQueueState *s)
{
    *q = (NvmeQueue){ .base = s->base, .size = s->size, .head = s->head, .tail = s->tail,
                      .cqid = s->cqid, .vector = s->vector, .valid = s->valid,
                      .ien = s->ien, .phase = s->phase };
}

static void nvme_get_state(HgrDevice *dev, void *state)
{
    NvmeCtrl *c = ctrl_of(dev);
    HgrNvmeState *st = state;

    hgr_pci_get_state(&c->pdev, &st->pci);
    hgr_msix_get_state(&c->msix, &st->msix);
    g_mutex_lock(&c->lock);
    drain_locked(c);
    st->sectors = c->sectors;
    st->cc = c->cc;
    st->csts = c->csts;
    st->aqa = c->aqa;
    st->intms = c->intms;
    st->asq = c->asq;
    st->acq = c->acq;
    for (unsigned i = 0; i < HGR_NVME_MAX_QUEUES; i++) {
        queue_get(&c->sq[i], &st->sq[i]);
        queue_get(&c->cq[i], &st->cq[i]);
    }
    memcpy(st->features, c->features, sizeof(st->features));
    memcpy(st->aer_cid, c->aer_cid, sizeof(st->aer_cid));
    st->n_aer = c->n_aer;
    st->aen_pending = c->aen_pending;
    st->units_read = c->units_read;
    st->units_written = c->units_written;
    st->host_reads = c->host_reads;
    st->host_writes = c->host_writes;
    g_mutex_unlock(&c->lock);
}

static void visit_queue(HgrVisitor *v, HgrNvmeQueueState *q)
{
    hgr_visit_u64(v, &q->base);
    hgr_visit_u16(v, &q->size);
    hgr_visit_u16(v, &q->head);
    hgr_visit_u16(v, &q->tail);
    hgr_visit_u16(v, &q->cqid);
    hgr_visit_u16(v, &q->vector);
    hgr_visit_bool(v, &q->valid);
    hgr_visit_bool(v, &q->ien);
    hgr_visit_bool(v, &q->phase);
}

static void nvme_visit_state(HgrVisitor *v, void *state)
{
    HgrNvmeState *st = state;

    hgr_pci_visit_state(v, &st->pci);
    hgr_msix_visit_state(v, &st->msix);
    hgr_visit_u64(v, &st->sectors);
    hgr_visit_u32(v, &st->cc);
    hgr_visit_u32(v, &st->csts);
    hgr_visit_u32(v, &st->aqa);
    hgr_visit_u32(v, &st->intms);
    hgr_visit_u64(v, &st->asq);
    hgr_visit_u64(v, &st->acq);
    for (unsigned i = 0; i < HGR_NVME_MAX_QUEUES; i++) {
        visit_queue(v, &st->sq[i]);
        visit_queue(v, &st->cq[i]);
    }
    for (unsigned i = 0; i < HGR_NVME_NUM_FEATURES; i++)
        hgr_visit_u32(v, &st->features[i]);
    for (unsigned i = 0; i < HGR_NVME_AER_MAX; i++)
        hgr_visit_u16(v, &st->aer_cid[i]);
    hgr_visit_u32(v, &st->n_aer);
    hgr_visit_u32(v, &st->aen_pending);
    hgr_visit_u64(v, &st->units_read);
    hgr_visit_u64(v, &st->units_written);
    hgr_visit_u64(v, &st->host_reads);
    hgr_visit_u64(v, &st->host_writes);
}

static bool queue_ok(NvmeCtrl *c, const HgrNvmeState *st, unsigned i, bool is_cq)
{
    const HgrNvmeQueueState *q = is_cq ? &st->cq[i] : &st->sq[i];

    if (!q->valid)
        return true;
    if (q->size < 2 || q->size > NVME_MAX_ENTRIES || q->head >= q->size ||
        q->tail >= q->size ||
        !hgr_nvme_ring_is_ram(c, q->base,
                              (uint64_t)q->size * (is_cq ? NVME_CQE_SIZE : NVME_SQE_SIZE)))
        return false;
    if (is_cq)
        return q->vector < HGR_NVME_MSIX_VECTORS;
    return q->cqid < HGR_NVME_MAX_QUEUES && st->cq[q->cqid].valid && (i == 0) == (q->cqid == 0);
}

static bool nvme_check_state(HgrDevice *dev, const void *state, GError **error)
{
    NvmeCtrl *c = ctrl_of(dev);
    const HgrNvmeState *st = state;
    const char *why = NULL;

    if (!hgr_pci_check_state(&c->pdev, &st->pci, error) ||
        !hgr_msix_check_state(&c->msix, &st->msix, error))
        return false;
    if (st->sectors != c->sectors)
        why = "the disk changed size after saving";
    else if (st->n_aer > HGR_NVME_AER_MAX)
        why = "too many held asynchronous event requests";
    else if ((st->csts & CSTS_SHST_MASK) == CSTS_SHST_MASK || st->csts & ~0xfu)
        why = "bad CSTS";
    else if ((st->csts & CSTS_RDY) && !(st->sq[0].valid && st->cq[0].valid))
        why = "ready without admin queues";
    for (unsigned i = 0; i < HGR_NVME_MAX_QUEUES && !why; i++)
        if (!queue_ok(c, st, i, false) || !queue_ok(c, st, i, true))
            why = "a queue out of range";
    if (why) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE, "%s: saved state: %s", dev->id,
                    why);
        return false;
    }
    return true;
}

static void nvme_set_state(HgrDevice *dev, const void *state)
{
    NvmeCtrl *c = ctrl_of(dev);
    const HgrNvmeState *st = state;

    hgr_pci_set_state(&c->pdev, &st->pci);
    hgr_msix_set_state(&c->msix, &st->msix);
    g_mutex_lock(&c->lock);
    drain_locked(c);
    c->cc = st->cc;
    c->csts = st->csts;
    c->aqa = st->aqa;
    c->intms = st->intms;
    c->asq = st->asq;
    c->acq = st->acq;
    for (unsigned i = 0; i < HGR_NVME_MAX_QUEUES; i++) {
        queue_set(&c->sq[i], &st->sq[i]);
        queue_set(&c->cq[i], &st->cq[i]);
    }
    memcpy(c->features, st->features, sizeof(c->features));
    memcpy(c->aer_cid, st->aer_cid, sizeof(c->aer_cid));
    c->n_aer = st->n_aer;
    c->aen_pending = st->aen_pending;
    c->units_read = st->units_read;
    c->units_written = st->units_written;
    c->host_reads = st->host_reads;
    c->host_writes = st->host_writes;
    c->reset_pending = c->shutdown_pending = false;
    /* Commands submitted before the save but not yet fetched run now. */
    kick(c);
    g_mutex_unlock(&c->lock);
}

static const HgrDeviceOps nvme_ops = {
    .name = "nvme",
    .state_version = 1,
    .state_size = sizeof(HgrNvmeState),
    .realize = nvme_realize,
    .reset = nvme_reset,
    .pause = nvme_pause,
    .resume = nvme_resume,
    .get_state = nvme_get_state,
    .visit_state = nvme_visit_state,
    .check_state = nvme_check_state,
    .set_state = nvme_set_state,
    .destroy = nvme_destroy,
};

HgrDevice *hgr_nvme_new(const char *id, HgrBlock *blk, const HgrGuestMem *mem,
                        HgrIoThread *t)
{
    NvmeCtrl *c = g_new0(NvmeCtrl, 1);
    HgrPciDevice *pdev = &c->pdev;

    hgr_pci_device_init(pdev, &nvme_ops, id, HGR_NVME_VENDOR, HGR_NVME_DEVICE,
                        HGR_NVME_CLASS, 2);
    hgr_pci_set_subsystem(pdev, 0x1af4, 0x1100);
    pdev->hooks = &nvme_hooks;
    c->blk = blk;
    c->mem = mem;
    c->iothread = t;
    c->async = t != NULL;
    c->kick_fd = -1;
    c->sectors = hgr_block_size(blk) / NVME_SECTOR;
    g_mutex_init(&c->lock);
    if (t)
        hgr_block_attach(blk, t);
    hgr_nvme_features_default(c);

    /* Stable identity from the image path, like virtio-blk's serial. */
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    uint8_t digest[32];
    gsize dlen = sizeof(digest);
    g_checksum_update(sum, (const guchar *)hgr_block_path(blk), -1);
    g_checksum_get_digest(sum, digest, &dlen);
    g_checksum_free(sum);
    for (unsigned i = 0; i < 10; i++)
        g_snprintf(c->serial + 2 * i, 3, "%02X", digest[i]);
    memcpy(c->uuid, digest + 10, 16);
    c->uuid[6] = (c->uuid[6] & 0x0f) | 0x40;         /* version 4 */
    c->uuid[8] = (c->uuid[8] & 0x3f) | 0x80;         /* RFC 4122 variant */

    hgr_pci_init_bar(pdev, NVME_BAR, HGR_PCI_BAR_MEM64, NVME_BAR_SIZE, bar_io, c);
    hgr_msix_init(&c->msix, pdev, HGR_NVME_MSIX_VECTORS, NVME_BAR, MSIX_TABLE_OFF,
                  MSIX_PBA_OFF);
    return &pdev->dev;
}
