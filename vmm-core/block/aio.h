/* aio.h — the AIO engines under an HgrBlock, and the request steps they share.
 *
 * An engine only executes steps (preadv, pwritev, fdatasync, fallocate); what
 * a request needs next after a short read, an unsupported fallocate mode or
 * EINTR is decided once, by hgr_aio_job_step(), for both engines.
 */
#pragma once

#include "vmm-config.h"

#include "block.h"

typedef enum {
    HGR_AIO_PREADV,
    HGR_AIO_PWRITEV,
    HGR_AIO_FDATASYNC,
    HGR_AIO_FALLOCATE,
} HgrAioAction;

typedef struct {
    HgrBlockReq *req;
    GList link;                  /* completion queue entry (thread engine) */
    int ret;                     /* final result once hgr_aio_job_step() says done */

    /* The step to execute next. */
    HgrAioAction action;
    uint64_t offset;
    struct iovec *iov;
    unsigned iovcnt;
    int falloc_mode;
    uint64_t falloc_len;

    /* Progress. */
    uint64_t done_bytes;
    unsigned stage;              /* write-zeroes fallbacks */
    unsigned retries;
    struct iovec *tail;          /* remainder after a short transfer */
    struct iovec zero_iov;
} HgrAioJob;

void hgr_aio_job_init(HgrAioJob *j, HgrBlockReq *req);
/* Feeds the result of the step just executed (bytes or -errno). Returns true
 * when the request is finished (result in j->ret), else the next step is set. */
bool hgr_aio_job_step(HgrAioJob *j, int res);
void hgr_aio_job_clear(HgrAioJob *j);
/* Executes every step with plain syscalls on the calling thread. */
void hgr_aio_job_run_sync(HgrAioJob *j, int fd);

typedef struct HgrAio HgrAio;

typedef struct {
    const char *name;
    /* NULL with *err set when the engine cannot run here. */
    HgrAio *(*create)(HgrBlock *b, int fd, int *err);
    void (*attach)(HgrAio *a, HgrIoThread *t);
    /* Starts req; with no I/O thread attached, finishes it before returning. */
    void (*submit)(HgrAio *a, HgrBlockReq *req);
    /* Hands queued requests to the kernel (end of a plugged batch). */
    void (*kick)(HgrAio *a);
    /* Dispatches finished requests on the calling thread without waiting
     * (drain, when nobody runs the I/O thread's loop). */
    void (*poll)(HgrAio *a);
    void (*destroy)(HgrAio *a);
} HgrAioOps;

struct HgrAio {
    const HgrAioOps *ops;
    HgrBlock *blk;
    HgrIoThread *iothread;
    bool plugged;
    int event_fd;                /* readable when poll() has work; -1: none */
};

extern const HgrAioOps hgr_aio_thread_ops;
#if HAVE_LIBURING
extern const HgrAioOps hgr_aio_uring_ops;
#endif

/* Removes an fd watch so that its callback is surely not running afterwards. */
void hgr_block_unwatch(HgrIoThread *t, guint *id);

/* hgr_block_open() with the engine named ("thread" forces the thread pool;
 * anything else tries io_uring first). hgr_block_open() takes the name from
 * the environment variable HANGAR_AIO. */
HgrBlock *hgr_block_open_engine(const char *path, HgrDiskFormat format, bool readonly,
                                const char *engine, GError **error);

/* An engine reports a finished request here (on the thread that dispatches
 * completions): runs req->done, then counts the request out for drain. */
void hgr_block_finish(HgrBlock *b, HgrBlockReq *req, int ret);
/* From any thread: queues a finished job (g_new'd, link.data set, result in
 * ret) for dispatch on the I/O thread, which frees it. */
void hgr_block_complete_later(HgrBlock *b, HgrAioJob *j);
