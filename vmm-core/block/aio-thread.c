/* aio-thread.c — the fallback AIO engine: a small thread pool doing plain
 * preadv/pwritev/fdatasync/fallocate, completing on the I/O thread. */
#include "aio.h"

typedef struct {
    HgrAio base;
    int fd;
    GThreadPool *pool;
} ThreadAio;

#define POOL_THREADS 4

static void worker(gpointer data, gpointer user)
{
    ThreadAio *t = user;
    HgrAioJob *j = data;

    hgr_aio_job_run_sync(j, t->fd);
    hgr_block_complete_later(t->base.blk, j);
}

static HgrAio *thread_create(HgrBlock *b, int fd, int *err)
{
    ThreadAio *t = g_new0(ThreadAio, 1);

    t->base.ops = &hgr_aio_thread_ops;
    t->base.blk = b;
    t->base.event_fd = -1;
    t->fd = fd;
    return &t->base;
}

static void thread_attach(HgrAio *a, HgrIoThread *io)
{
    ThreadAio *t = (ThreadAio *)a;

    /* Non-exclusive: idle threads are shared by every image in the process. */
    t->pool = g_thread_pool_new(worker, t, POOL_THREADS, FALSE, NULL);
}

static void thread_submit(HgrAio *a, HgrBlockReq *req)
{
    ThreadAio *t = (ThreadAio *)a;

    if (!t->pool) {
        HgrAioJob j;
        hgr_aio_job_init(&j, req);
        hgr_aio_job_run_sync(&j, t->fd);
        hgr_aio_job_clear(&j);
        hgr_block_finish(a->blk, req, j.ret);
        return;
    }
    HgrAioJob *j = g_new(HgrAioJob, 1);
    hgr_aio_job_init(j, req);
    j->link.data = j;
    g_thread_pool_push(t->pool, j, NULL);
}

static void thread_destroy(HgrAio *a)
{
    ThreadAio *t = (ThreadAio *)a;

    if (t->pool)
        g_thread_pool_free(t->pool, FALSE, TRUE);
    g_free(t);
}

const HgrAioOps hgr_aio_thread_ops = {
    .name = "thread",
    .create = thread_create,
    .attach = thread_attach,
    .submit = thread_submit,
    .destroy = thread_destroy,
};
