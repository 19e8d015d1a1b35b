/* virtio-rng.c — virtio entropy device (virtio 1.x, 5.4): one queue whose
 * writable buffers are filled from getrandom(). */
#include "virtio-rng.h"

#include <errno.h>
#include <sys/random.h>

#define RNG_QUEUE_SIZE   64
/* Work done per kick, so a guest cannot hold the I/O thread: the rest is
 * picked up by a follow-up run on the I/O thread. */
#define RNG_RUN_BYTES    (256 * 1024)
#define RNG_CHAIN_BYTES  (64 * 1024)

typedef struct {
    HgrVirtioDevice vdev;            /* first: virtio-pci frees it with g_free */
    guint more;                      /* pending follow-up run, I/O thread source */
    HgrVirtqElem elem;               /* under vdev.lock */
} HgrVirtioRng;

/* Fills up to `max` device-writable bytes; stops early (never blocks) when
 * the host pool is not ready. */
static size_t fill_chain(const HgrVirtqElem *e, size_t max)
{
    size_t done = 0;

    for (unsigned i = e->n_out; i < e->n_out + e->n_in && done < max; i++) {
        uint8_t *p = e->iov[i].iov_base;
        size_t want = MIN(e->iov[i].iov_len, max - done);
        while (want > 0) {
            ssize_t r = getrandom(p, want, GRND_NONBLOCK);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return done;
            p += r;
            want -= (size_t)r;
            done += (size_t)r;
        }
    }
    return done;
}

static gboolean rng_more(gpointer data)
{
    HgrVirtioRng *rng = data;

    g_mutex_lock(&rng->vdev.lock);
    rng->more = 0;
    hgr_virtio_queue_notify(&rng->vdev, 0);
    g_mutex_unlock(&rng->vdev.lock);
    return G_SOURCE_REMOVE;
}

static void rng_queue_notify(HgrVirtioDevice *vdev, unsigned q)
{
    HgrVirtioRng *rng = (HgrVirtioRng *)vdev;
    HgrVirtq *vq = &vdev->queues[q];
    size_t budget = RNG_RUN_BYTES;
    bool pushed = false;

    for (unsigned n = 0; n < vq->size && budget > 0; n++) {
        if (hgr_virtq_pop(vq, vdev->mem, &rng->elem) != HGR_VIRTQ_GOT)
            break;
        size_t written = fill_chain(&rng->elem, MIN(budget, RNG_CHAIN_BYTES));
        budget -= written;
        if (!hgr_virtq_push(vq, vdev->mem, rng->elem.head, (uint32_t)written))
            return;                  /* broken: the core sets NEEDS_RESET */
        pushed = true;
    }
    if (pushed)
        hgr_virtio_notify_if_needed(vdev, q);
    if (hgr_virtq_pending(vq, vdev->mem) && vdev->iothread && !rng->more)
        rng->more = hgr_iothread_add_timeout(vdev->iothread, 0, rng_more, rng);
}

static gboolean rng_remove_more(gpointer data)
{
    HgrVirtioRng *rng = data;

    if (rng->more)
        hgr_iothread_remove(rng->vdev.iothread, rng->more);
    rng->more = 0;
    return G_SOURCE_REMOVE;
}

static void rng_destroy(HgrVirtioDevice *vdev)
{
    if (vdev->iothread)
        hgr_iothread_call(vdev->iothread, rng_remove_more, vdev);
}

static const HgrVirtioOps rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .num_queues = 1,
    .queue_max_size = RNG_QUEUE_SIZE,
    .state_version = 1,
    .queue_notify = rng_queue_notify,
    .destroy = rng_destroy,
};

HgrVirtioDevice *hgr_virtio_rng_new(const HgrGuestMem *mem, HgrIoThread *t)
{
    HgrVirtioRng *rng = g_new0(HgrVirtioRng, 1);

    hgr_virtio_init(&rng->vdev, &rng_ops, mem, t);
    return &rng->vdev;
}
