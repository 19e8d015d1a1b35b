/* aio-uring.c — the io_uring AIO engine: one ring per image, its eventfd
 * watched on the I/O thread, submissions batched between plug and unplug. */
#include "aio.h"

#if HAVE_LIBURING

#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct {
    HgrAio base;
    int fd;
    struct io_uring ring;
    /* Submitters (vCPU or I/O thread) and the reaper (resubmitting the next
     * step of a request) share the submission queue. */
    GMutex sq_lock;
    unsigned queued;                 /* SQEs prepared, not yet submitted */
    gint active;                     /* jobs started, not finished */
    guint watch;
} UringAio;

#define RING_ENTRIES 256

static void flush_locked(UringAio *u)
{
    while (u->queued) {
        int r = io_uring_submit(&u->ring);
        if (r >= 0) {
            u->queued -= MIN((unsigned)r, u->queued);
            if (r == 0)
                break;
        } else if (r != -EINTR) {
            g_warning("io_uring_submit: %s", g_strerror(-r));
            break;
        }
    }
}

/* Queues the job's next step; false when the ring has no room for it. */
static bool prep_locked(UringAio *u, HgrAioJob *j)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        flush_locked(u);
        sqe = io_uring_get_sqe(&u->ring);
    }
    if (!sqe)
        return false;
    switch (j->action) {
    case HGR_AIO_PREADV:
        io_uring_prep_readv(sqe, u->fd, j->iov, MIN(j->iovcnt, IOV_MAX), j->offset);
        break;
    case HGR_AIO_PWRITEV:
        io_uring_prep_writev(sqe, u->fd, j->iov, MIN(j->iovcnt, IOV_MAX), j->offset);
        break;
    case HGR_AIO_FDATASYNC:
        io_uring_prep_fsync(sqe, u->fd, IORING_FSYNC_DATASYNC);
        break;
    case HGR_AIO_FALLOCATE:
        io_uring_prep_fallocate(sqe, u->fd, j->falloc_mode, j->offset, j->falloc_len);
        break;
    }
    io_uring_sqe_set_data(sqe, j);
    u->queued++;
    return true;
}

static void finish(UringAio *u, HgrAioJob *j)
{
    HgrBlockReq *req = j->req;
    int ret = j->ret;

    hgr_aio_job_clear(j);
    g_free(j);
    g_atomic_int_dec_and_test(&u->active);
    hgr_block_finish(u->base.blk, req, ret);
}

/* Starts (or continues) a job. A full ring after submitting is rare (the
 * kernel refused entries): the step then runs synchronously here. */
static void start(UringAio *u, HgrAioJob *j, bool flush)
{
    g_mutex_lock(&u->sq_lock);
    bool queued = prep_locked(u, j);
    if (queued && flush)
        flush_locked(u);
    g_mutex_unlock(&u->sq_lock);
    if (queued)
        return;
    hgr_aio_job_run_sync(j, u->fd);
    if (u->base.iothread) {
        g_atomic_int_dec_and_test(&u->active);
        hgr_block_complete_later(u->base.blk, j);
    } else {
        finish(u, j);
    }
}

static void reap(UringAio *u)
{
    struct io_uring_cqe *cqe;

    while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
        HgrAioJob *j = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&u->ring, cqe);
        if (hgr_aio_job_step(j, res))
            finish(u, j);
        else
            start(u, j, true);
    }
}

static void clear_eventfd(UringAio *u)
{
    uint64_t cnt;

    if (read(u->base.event_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
        g_warning("io_uring eventfd: %s", g_strerror(errno));
}

static gboolean on_event(gint fd, GIOCondition cond, gpointer data)
{
    UringAio *u = data;

    clear_eventfd(u);
    reap(u);
    return G_SOURCE_CONTINUE;
}

static void uring_poll(HgrAio *a)
{
    UringAio *u = (UringAio *)a;

    clear_eventfd(u);
    reap(u);
}

/* Without an I/O thread a request finishes before submit returns. */
static void wait_inline(UringAio *u)
{
    while (g_atomic_int_get(&u->active) > 0) {
        struct io_uring_cqe *cqe;
        int r = io_uring_wait_cqe(&u->ring, &cqe);
        if (r < 0 && r != -EINTR) {
            g_warning("io_uring_wait_cqe: %s", g_strerror(-r));
            return;
        }
        reap(u);
    }
}

static void uring_submit(HgrAio *a, HgrBlockReq *req)
{
    UringAio *u = (UringAio *)a;
    HgrAioJob *j = g_new(HgrAioJob, 1);

    hgr_aio_job_init(j, req);
    j->link.data = j;
    g_atomic_int_inc(&u->active);
    start(u, j, !a->plugged);
    if (!a->iothread)
        wait_inline(u);
}

static void uring_kick(HgrAio *a)
{
    UringAio *u = (UringAio *)a;

    g_mutex_lock(&u->sq_lock);
    flush_locked(u);
    g_mutex_unlock(&u->sq_lock);
}

static void uring_attach(HgrAio *a, HgrIoThread *t)
{
    UringAio *u = (UringAio *)a;

    u->watch = hgr_iothread_add_fd(t, a->event_fd, G_IO_IN, on_event, u);
}

static void uring_destroy(HgrAio *a)
{
    UringAio *u = (UringAio *)a;

    hgr_block_unwatch(a->iothread, &u->watch);
    io_uring_queue_exit(&u->ring);
    close(a->event_fd);
    g_mutex_clear(&u->sq_lock);
    g_free(u);
}

static HgrAio *uring_create(HgrBlock *b, int fd, int *err)
{
    UringAio *u = g_new0(UringAio, 1);

    u->base.ops = &hgr_aio_uring_ops;
    u->base.blk = b;
    u->fd = fd;
    u->base.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (u->base.event_fd < 0) {
        *err = errno;
        g_free(u);
        return NULL;
    }
    int r = io_uring_queue_init(RING_ENTRIES, &u->ring, 0);
    if (r == 0 && (r = io_uring_register_eventfd(&u->ring, u->base.event_fd)) < 0)
        io_uring_queue_exit(&u->ring);
    if (r < 0) {
        *err = -r;
        close(u->base.event_fd);
        g_free(u);
        return NULL;
    }
    g_mutex_init(&u->sq_lock);
    return &u->base;
}

const HgrAioOps hgr_aio_uring_ops = {
    .name = "io_uring",
    .create = uring_create,
    .attach = uring_attach,
    .submit = uring_submit,
    .kick = uring_kick,
    .poll = uring_poll,
    .destroy = uring_destroy,
};

#endif /* HAVE_LIBURING */
