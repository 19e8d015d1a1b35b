/* block.c — open, lock and size an image; route requests through its format
 * driver to an AIO engine; count them so drain can wait; the raw driver. */
#include "vmm-config.h"

#include "block.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aio.h"
#include "qcow2.h"

struct HgrBlock {
    char *path;
    int fd;
    bool readonly;
    uint64_t size;                   /* what the guest sees */
    const HgrBlockDriver *drv;
    void *drv_state;
    HgrAio *aio;
    HgrIoThread *iothread;
    unsigned plug_depth;

    /* Requests submitted and not yet finished, for drain. */
    gint in_flight;
    GMutex drain_lock;
    GCond drain_cond;

    /* Completions posted from other threads (thread engine, early errors),
     * dispatched on the I/O thread. */
    GMutex done_lock;
    GQueue done_q;                   /* of HgrAioJob.link */
    int done_fd;                     /* eventfd */
    guint done_watch;
    GThread *dispatch_thread;        /* where drain's last dispatch ran */

    uint64_t read_bytes, written_bytes;   /* completed, for activity lights */
};

/* iovec helpers */

uint64_t hgr_block_iov_size(const struct iovec *iov, unsigned n)
{
    uint64_t len = 0;

    for (unsigned i = 0; i < n; i++)
        len += iov[i].iov_len;
    return len;
}

unsigned hgr_block_iov_slice(const struct iovec *src, unsigned n, uint64_t skip, uint64_t len,
                             struct iovec *dst)
{
    unsigned out = 0;

    for (unsigned i = 0; i < n && len > 0; i++) {
        if (skip >= src[i].iov_len) {
            skip -= src[i].iov_len;
            continue;
        }
        uint64_t chunk = MIN(src[i].iov_len - skip, len);
        dst[out].iov_base = (uint8_t *)src[i].iov_base + skip;
        dst[out].iov_len = chunk;
        out++;
        len -= chunk;
        skip = 0;
    }
    return out;
}

/* Request steps shared by the engines */

static const uint8_t zeros[64 * 1024];

enum { ZERO_RANGE, ZERO_PUNCH, ZERO_WRITE };

#define MAX_RETRIES 16

static void set_falloc(HgrAioJob *j, int mode)
{
    j->action = HGR_AIO_FALLOCATE;
    j->falloc_mode = mode;
    j->offset = j->req->offset;
    j->falloc_len = j->req->len;
}

/* Points the next transfer at what is left of the request after a short one. */
static void set_transfer_tail(HgrAioJob *j)
{
    HgrBlockReq *r = j->req;

    if (!j->tail)
        j->tail = g_new(struct iovec, MAX(r->iovcnt, 1));
    j->iovcnt = hgr_block_iov_slice(r->iov, r->iovcnt, j->done_bytes,
                                    r->len - j->done_bytes, j->tail);
    j->iov = j->tail;
    j->offset = r->offset + j->done_bytes;
}

static void set_zero_write(HgrAioJob *j)
{
    j->action = HGR_AIO_PWRITEV;
    j->zero_iov.iov_base = (void *)zeros;
    j->zero_iov.iov_len = MIN(sizeof(zeros), j->req->len - j->done_bytes);
    j->iov = &j->zero_iov;
    j->iovcnt = 1;
    j->offset = j->req->offset + j->done_bytes;
}

void hgr_aio_job_init(HgrAioJob *j, HgrBlockReq *req)
{
    memset(j, 0, sizeof(*j));
    j->req = req;
    j->offset = req->offset;
    switch (req->op) {
    case HGR_BLOCK_READ:
    case HGR_BLOCK_WRITE:
        j->action = req->op == HGR_BLOCK_READ ? HGR_AIO_PREADV : HGR_AIO_PWRITEV;
        j->iov = req->iov;
        j->iovcnt = req->iovcnt;
        break;
    case HGR_BLOCK_FLUSH:
        j->action = HGR_AIO_FDATASYNC;
        break;
    case HGR_BLOCK_DISCARD:
        set_falloc(j, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
        break;
    case HGR_BLOCK_WRITE_ZEROES:
        j->stage = ZERO_RANGE;
        set_falloc(j, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
        break;
    }
}

void hgr_aio_job_clear(HgrAioJob *j)
{
    g_clear_pointer(&j->tail, g_free);
}

static bool finish_job(HgrAioJob *j, int ret)
{
    j->ret = ret;
    return true;
}

static bool unsupported(int res)
{
    return res == -EOPNOTSUPP || res == -EINVAL || res == -ENOSYS;
}

static bool step_transfer(HgrAioJob *j, int res)
{
    HgrBlockReq *r = j->req;
    bool is_read = j->action == HGR_AIO_PREADV;

    if (res == 0 && j->done_bytes < r->len) {
        if (!is_read)
            return finish_job(j, -EIO);       /* a write that makes no progress */
        /* Past the end of the file: the rest reads as zeros. */
        g_autofree struct iovec *rest = g_new(struct iovec, MAX(r->iovcnt, 1));
        unsigned n = hgr_block_iov_slice(r->iov, r->iovcnt, j->done_bytes,
                                         r->len - j->done_bytes, rest);
        for (unsigned i = 0; i < n; i++)
            memset(rest[i].iov_base, 0, rest[i].iov_len);
        return finish_job(j, 0);
    }
    j->done_bytes += (unsigned)res;
    if (j->done_bytes >= r->len)
        return finish_job(j, 0);
    set_transfer_tail(j);
    return false;
}

static bool step_zeroes(HgrAioJob *j, int res)
{
    switch (j->stage) {
    case ZERO_RANGE:
        if (!unsupported(res))
            return finish_job(j, res < 0 ? res : 0);
        j->stage = ZERO_PUNCH;
        set_falloc(j, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
        return false;
    case ZERO_PUNCH:
        if (!unsupported(res))
            return finish_job(j, res < 0 ? res : 0);
        j->stage = ZERO_WRITE;
        set_zero_write(j);
        return false;
    default:
        if (res < 0)
            return finish_job(j, res);
        if (res == 0)
            return finish_job(j, -EIO);
        j->done_bytes += (unsigned)res;
        if (j->done_bytes >= j->req->len)
            return finish_job(j, 0);
        set_zero_write(j);
        return false;
    }
}

bool hgr_aio_job_step(HgrAioJob *j, int res)
{
    if ((res == -EINTR || res == -EAGAIN) && j->retries++ < MAX_RETRIES)
        return false;                     /* the same step again */
    switch (j->req->op) {
    case HGR_BLOCK_READ:
    case HGR_BLOCK_WRITE:
        if (res < 0)
            return finish_job(j, res);
        return step_transfer(j, res);
    case HGR_BLOCK_FLUSH:
        return finish_job(j, res < 0 ? res : 0);
    case HGR_BLOCK_DISCARD:
        /* Discard is advice: a file system that cannot punch holes is fine. */
        return finish_job(j, res < 0 && !unsupported(res) ? res : 0);
    case HGR_BLOCK_WRITE_ZEROES:
        return step_zeroes(j, res);
    }
    return finish_job(j, -EINVAL);
}

static int exec_sync(HgrAioJob *j, int fd)
{
    ssize_t r = -1;

    switch (j->action) {
    case HGR_AIO_PREADV:
        r = preadv(fd, j->iov, (int)MIN(j->iovcnt, IOV_MAX), (off_t)j->offset);
        break;
    case HGR_AIO_PWRITEV:
        r = pwritev(fd, j->iov, (int)MIN(j->iovcnt, IOV_MAX), (off_t)j->offset);
        break;
    case HGR_AIO_FDATASYNC:
        r = fdatasync(fd);
        break;
    case HGR_AIO_FALLOCATE:
        r = fallocate(fd, j->falloc_mode, (off_t)j->offset, (off_t)j->falloc_len);
        break;
    }
    if (r < 0)
        return -errno;
    return (int)MIN(r, INT_MAX);
}

void hgr_aio_job_run_sync(HgrAioJob *j, int fd)
{
    while (!hgr_aio_job_step(j, exec_sync(j, fd)))
        ;
}

/* Completion dispatch */

void hgr_block_finish(HgrBlock *b, HgrBlockReq *req, int ret)
{
    if (ret == 0 && (req->op == HGR_BLOCK_READ || req->op == HGR_BLOCK_WRITE))
        __atomic_fetch_add(req->op == HGR_BLOCK_READ ? &b->read_bytes : &b->written_bytes,
                           hgr_block_iov_size(req->iov, req->iovcnt), __ATOMIC_RELAXED);
    req->done(req, ret);
    if (g_atomic_int_dec_and_test(&b->in_flight)) {
        g_mutex_lock(&b->drain_lock);
        g_cond_broadcast(&b->drain_cond);
        g_mutex_unlock(&b->drain_lock);
    }
}

void hgr_block_complete_later(HgrBlock *b, HgrAioJob *j)
{
    static const uint64_t one = 1;

    g_mutex_lock(&b->done_lock);
    g_queue_push_tail_link(&b->done_q, &j->link);
    g_mutex_unlock(&b->done_lock);
    if (write(b->done_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        g_warning("%s: cannot signal a completion: %s", b->path, g_strerror(errno));
}

static void dispatch_done(HgrBlock *b)
{
    uint64_t cnt;

    if (read(b->done_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
        g_warning("%s: completion eventfd: %s", b->path, g_strerror(errno));
    /* One at a time: a done callback may drain and come back here. */
    for (;;) {
        g_mutex_lock(&b->done_lock);
        GList *l = g_queue_pop_head_link(&b->done_q);
        g_mutex_unlock(&b->done_lock);
        if (!l)
            break;
        HgrAioJob *j = l->data;
        HgrBlockReq *req = j->req;
        int ret = j->ret;
        hgr_aio_job_clear(j);
        g_free(j);
        hgr_block_finish(b, req, ret);
    }
}

typedef struct {
    HgrIoThread *t;
    guint id;
} Unwatch;

static gboolean unwatch_cb(gpointer data)
{
    Unwatch *u = data;
    hgr_iothread_remove(u->t, u->id);
    return G_SOURCE_REMOVE;
}

void hgr_block_unwatch(HgrIoThread *t, guint *id)
{
    if (!*id)
        return;
    /* On the I/O thread: once this returns, the callback is not running
     * there and never will again. */
    Unwatch u = { t, *id };
    hgr_iothread_call(t, unwatch_cb, &u);
    *id = 0;
}

static gboolean on_done_fd(gint fd, GIOCondition cond, gpointer data)
{
    dispatch_done(data);
    return G_SOURCE_CONTINUE;
}

/* Completes a request without I/O, the way the engines would. */
void hgr_block_complete(HgrBlock *b, HgrBlockReq *req, int err)
{
    g_atomic_int_inc(&b->in_flight);
    if (!b->iothread) {
        hgr_block_finish(b, req, err);
        return;
    }
    HgrAioJob *j = g_new0(HgrAioJob, 1);
    j->req = req;
    j->ret = err;
    j->link.data = j;
    hgr_block_complete_later(b, j);
}

/* Public request API */

void hgr_block_get_traffic(const HgrBlock *b, uint64_t *read_bytes, uint64_t *written_bytes)
{
    *read_bytes = __atomic_load_n(&b->read_bytes, __ATOMIC_RELAXED);
    *written_bytes = __atomic_load_n(&b->written_bytes, __ATOMIC_RELAXED);
}

int hgr_block_file_fd(const HgrBlock *b)
{
    return b->fd;
}

void hgr_block_file_submit(HgrBlock *b, HgrBlockReq *req)
{
    g_atomic_int_inc(&b->in_flight);
    b->aio->ops->submit(b->aio, req);
}

static int check_req(HgrBlock *b, HgrBlockReq *req)
{
    if (req->op == HGR_BLOCK_READ || req->op == HGR_BLOCK_WRITE)
        req->len = hgr_block_iov_size(req->iov, req->iovcnt);
    if (req->op != HGR_BLOCK_READ && req->op != HGR_BLOCK_FLUSH && b->readonly)
        return -EROFS;
    if (req->op != HGR_BLOCK_FLUSH &&
        (req->offset > b->size || req->len > b->size - req->offset))
        return -EINVAL;
    if (req->op > HGR_BLOCK_WRITE_ZEROES)
        return -EINVAL;
    return 0;
}

void hgr_block_submit(HgrBlock *b, HgrBlockReq *req)
{
    int err = check_req(b, req);

    if (err || ((req->op == HGR_BLOCK_DISCARD || req->op == HGR_BLOCK_WRITE_ZEROES) &&
                req->len == 0)) {
        hgr_block_complete(b, req, err);
        return;
    }
    b->drv->submit(b, b->drv_state, req);
}

void hgr_block_plug(HgrBlock *b)
{
    if (b->plug_depth++ == 0)
        b->aio->plugged = b->iothread != NULL;
}

void hgr_block_unplug(HgrBlock *b)
{
    if (b->plug_depth == 0 || --b->plug_depth > 0)
        return;
    b->aio->plugged = false;
    if (b->aio->ops->kick)
        b->aio->ops->kick(b->aio);
}

static gboolean dispatch_cb(gpointer data)
{
    HgrBlock *b = data;

    dispatch_done(b);
    if (b->aio->ops->poll)
        b->aio->ops->poll(b->aio);
    b->dispatch_thread = g_thread_self();
    return G_SOURCE_REMOVE;
}

static void wait_for_completion(HgrBlock *b)
{
    struct pollfd fds[2] = { { .fd = b->done_fd, .events = POLLIN },
                             { .fd = b->aio->event_fd, .events = POLLIN } };
    poll(fds, b->aio->event_fd >= 0 ? 2 : 1, 10);
}

void hgr_block_drain(HgrBlock *b)
{
    while (g_atomic_int_get(&b->in_flight) > 0) {
        if (!b->iothread)
            return;          /* cannot happen: without a thread nothing stays in flight */
        /* On the I/O thread if it runs, else (stopped, or we are it) right here. */
        hgr_iothread_call(b->iothread, dispatch_cb, b);
        if (g_atomic_int_get(&b->in_flight) == 0)
            break;
        if (b->dispatch_thread == g_thread_self()) {
            wait_for_completion(b);       /* nobody else will dispatch */
            continue;
        }
        /* The I/O thread finishes the requests and wakes us; the timeout
         * re-checks whether it stopped meanwhile. */
        g_mutex_lock(&b->drain_lock);
        if (g_atomic_int_get(&b->in_flight) > 0)
            g_cond_wait_until(&b->drain_cond, &b->drain_lock,
                              g_get_monotonic_time() + 10 * G_TIME_SPAN_MILLISECOND);
        g_mutex_unlock(&b->drain_lock);
    }
}

/* The raw driver: guest offsets are file offsets. */

static void *raw_open(HgrBlock *b, uint64_t file_size, uint64_t *disk_size, GError **error)
{
    *disk_size = file_size;
    return b;                /* no state of its own; non-NULL means success */
}

static void raw_submit(HgrBlock *b, void *state, HgrBlockReq *req)
{
    hgr_block_file_submit(b, req);
}

static const HgrBlockDriver raw_driver = {
    .name = "raw",
    .format = HGR_DISK_FORMAT_RAW,
    .open = raw_open,
    .submit = raw_submit,
};

static const HgrBlockDriver *const drivers[] = {
    &raw_driver,
    &hgr_qcow2_driver,
};

static const HgrBlockDriver *find_driver(HgrDiskFormat format)
{
    for (size_t i = 0; i < G_N_ELEMENTS(drivers); i++)
        if (drivers[i]->format == format)
            return drivers[i];
    return NULL;
}

/* Opening */

G_GNUC_PRINTF(3, 4)
static void disk_error(GError **error, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_DISK, "%s: %s", path, why);
}

static void open_error(GError **error, const char *path, int err, bool readonly)
{
    switch (err) {
    case ENOENT:
        disk_error(error, path, "no such file");
        break;
    case EACCES:
    case EPERM:
        disk_error(error, path, "permission denied (%s)",
                   readonly ? "cannot read it" : "cannot read and write it");
        break;
    case EISDIR:
        disk_error(error, path, "is a directory, not a disk image");
        break;
    case EROFS:
        disk_error(error, path, "is on a read-only file system; attach it read-only");
        break;
    default:
        disk_error(error, path, "cannot open: %s", g_strerror(err));
    }
}

/* An OFD lock belongs to the open file description, so two opens in one
 * process (two VMs in one app) conflict just like two processes. */
static bool lock_image(int fd, const char *path, bool readonly, GError **error)
{
    struct flock fl = {
        .l_type = readonly ? F_RDLCK : F_WRLCK,
        .l_whence = SEEK_SET,
    };

    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return true;
    int err = errno;
    if (err == EAGAIN || err == EACCES) {
        disk_error(error, path, "in use by another VM");
        return false;
    }
    /* Some network file systems cannot lock; run unprotected rather than not at all. */
    g_message("%s: cannot lock the image (%s); not protected against a second user",
              path, g_strerror(err));
    return true;
}

static bool image_size(int fd, const struct stat *st, const char *path, uint64_t *size,
                       GError **error)
{
    if (S_ISREG(st->st_mode)) {
        *size = (uint64_t)st->st_size;
        return true;
    }
    if (ioctl(fd, BLKGETSIZE64, size) < 0) {
        disk_error(error, path, "cannot get the size of the block device: %s",
                   g_strerror(errno));
        return false;
    }
    return true;
}

static HgrAio *create_engine(HgrBlock *b, const char *want, GError **error)
{
    int err = 0;
    HgrAio *a = NULL;

#if HAVE_LIBURING
    if (!want || strcmp(want, "thread") != 0) {
        a = hgr_aio_uring_ops.create(b, b->fd, &err);
        if (a)
            return a;
        g_debug("%s: io_uring unavailable (%s), using the thread pool", b->path,
                g_strerror(err));
    }
#endif
    a = hgr_aio_thread_ops.create(b, b->fd, &err);
    if (!a)
        disk_error(error, b->path, "cannot start disk I/O: %s", g_strerror(err));
    return a;
}

static int open_file(const char *path, bool readonly, GError **error)
{
    /* O_NONBLOCK: a FIFO must not hang the open; it is refused below. */
    int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        open_error(error, path, errno, readonly);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        open_error(error, path, errno, readonly);
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        open_error(error, path, EISDIR, readonly);
        goto fail;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        disk_error(error, path, "not a regular file or block device");
        goto fail;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        disk_error(error, path, "cannot open: %s", g_strerror(errno));
        goto fail;
    }
    return fd;

fail:
    close(fd);
    return -1;
}

HgrBlock *hgr_block_open(const char *path, HgrDiskFormat format, bool readonly, GError **error)
{
    return hgr_block_open_engine(path, format, readonly, g_getenv("HANGAR_AIO"), error);
}

HgrBlock *hgr_block_open_engine(const char *path, HgrDiskFormat format, bool readonly,
                                const char *engine, GError **error)
{
    const HgrBlockDriver *drv = find_driver(format);
    if (!drv) {
        disk_error(error, path, "unknown disk format %d", (int)format);
        return NULL;
    }
    int fd = open_file(path, readonly, error);
    if (fd < 0)
        return NULL;

    g_autoptr(HgrBlock) b = g_new0(HgrBlock, 1);
    b->path = g_strdup(path);
    b->fd = fd;
    b->readonly = readonly;
    b->drv = drv;
    g_mutex_init(&b->drain_lock);
    g_cond_init(&b->drain_cond);
    g_mutex_init(&b->done_lock);
    g_queue_init(&b->done_q);
    b->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b->done_fd < 0) {
        disk_error(error, path, "cannot create an eventfd: %s", g_strerror(errno));
        return NULL;
    }

    struct stat st;
    uint64_t file_size;
    if (!lock_image(fd, path, readonly, error) || fstat(fd, &st) < 0 ||
        !image_size(fd, &st, path, &file_size, error))
        return NULL;
    if (!(b->aio = create_engine(b, engine, error)))
        return NULL;
    if (!(b->drv_state = drv->open(b, file_size, &b->size, error)))
        return NULL;
    return g_steal_pointer(&b);
}

void hgr_block_attach(HgrBlock *b, HgrIoThread *t)
{
    if (b->iothread == t)
        return;
    g_return_if_fail(b->iothread == NULL);
    b->iothread = t;
    b->done_watch = hgr_iothread_add_fd(t, b->done_fd, G_IO_IN, on_done_fd, b);
    b->aio->iothread = t;
    if (b->aio->ops->attach)
        b->aio->ops->attach(b->aio, t);
}

void hgr_block_free(HgrBlock *b)
{
    if (!b)
        return;
    if (b->aio)
        hgr_block_drain(b);
    if (b->drv_state && b->drv->close)
        b->drv->close(b, b->drv_state);
    if (b->aio)
        b->aio->ops->destroy(b->aio);
    hgr_block_unwatch(b->iothread, &b->done_watch);
    if (b->done_fd >= 0)
        close(b->done_fd);
    if (b->fd >= 0)
        close(b->fd);              /* drops the OFD lock */
    g_mutex_clear(&b->drain_lock);
    g_cond_clear(&b->drain_cond);
    g_mutex_clear(&b->done_lock);
    g_free(b->path);
    g_free(b);
}

bool hgr_block_create(const char *path, HgrDiskFormat format, uint64_t size, GError **error)
{
    if (format == HGR_DISK_FORMAT_QCOW2)
        return hgr_qcow2_create(path, size, error);
    if (format != HGR_DISK_FORMAT_RAW) {
        disk_error(error, path, "unknown disk format %d", (int)format);
        return false;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        disk_error(error, path, "cannot create: %s", g_strerror(errno));
        return false;
    }
    bool ok = ftruncate(fd, (off_t)size) == 0;
    if (!ok) {
        disk_error(error, path, "cannot set the size: %s", g_strerror(errno));
        unlink(path);
    }
    close(fd);
    return ok;
}

uint64_t hgr_block_size(const HgrBlock *b)
{
    return b->size;
}

bool hgr_block_readonly(const HgrBlock *b)
{
    return b->readonly;
}

const char *hgr_block_path(const HgrBlock *b)
{
    return b->path;
}

const char *hgr_block_aio_name(const HgrBlock *b)
{
    return b->aio->ops->name;
}
