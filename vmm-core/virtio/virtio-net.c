/* virtio-net.c — virtio 1.x network device (5.1): one receive/transmit queue
 * pair, MAC, link status and mergeable RX buffers; no offloads, so every
 * frame is complete and checksummed in both directions.
 *
 * TX runs when the driver kicks (I/O thread, vdev->lock held): each chain is
 * header + frame, the frame goes to the backend, the chain comes back with
 * nothing written. RX runs when the backend has a frame (I/O thread, no lock
 * held): the frame is written behind a 12-byte header into one chain, or with
 * MRG_RXBUF spread over as many chains as it needs.
 */
#include "virtio-net.h"

#include <hangar/vm.h>
#include <string.h>

#define VIRTIO_NET_F_MAC       5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS    16
#define VIRTIO_NET_S_LINK_UP   1

#define RXQ 0
#define TXQ 1
#define QUEUE_SIZE 256
#define TX_BUDGET 256            /* chains per run before yielding the I/O thread */
#define STATE_VERSION 1

/* struct virtio_net_hdr_v1: with VERSION_1 it is always 12 bytes. */
typedef struct {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
} NetHdr;
G_STATIC_ASSERT(sizeof(NetHdr) == 12);
#define HDR_LEN sizeof(NetHdr)

typedef struct {
    uint8_t mac[6];
    uint16_t status;
} NetState;

typedef struct {
    HgrVirtioDevice vdev;        /* first: the transport frees us with g_free */
    HgrNetBackend *be;
    NetState st;
    HgrVirtioNetStats stats;
    guint tx_resume_id;
    /* Scratch for RX: the chain holding the header, and the chain being filled. */
    HgrVirtqElem *first;
    HgrVirtqElem *cur;
    uint16_t rx_heads[QUEUE_SIZE];
    uint32_t rx_lens[QUEUE_SIZE];
} VirtioNet;

static VirtioNet *to_net(HgrVirtioDevice *vdev)
{
    return (VirtioNet *)vdev;
}

static uint64_t net_get_features(HgrVirtioDevice *vdev)
{
    return (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) |
           (1ULL << VIRTIO_NET_F_MRG_RXBUF);
}

/* Config: mac[6], le16 status, le16 max_virtqueue_pairs. */
#define CONFIG_SIZE 10

static void net_config_read(HgrVirtioDevice *vdev, uint32_t offset, void *data, unsigned len)
{
    VirtioNet *n = to_net(vdev);
    uint8_t cfg[CONFIG_SIZE];
    uint16_t status = GUINT16_TO_LE(n->st.status), pairs = GUINT16_TO_LE(1);

    memcpy(cfg, n->st.mac, 6);
    memcpy(cfg + 6, &status, 2);
    memcpy(cfg + 8, &pairs, 2);
    memcpy(data, cfg + offset, len);     /* bounds checked by the virtio core */
}

/* TX */

static void tx_one(VirtioNet *n, HgrVirtqElem *e)
{
    if (e->out_len < HDR_LEN || e->out_len - HDR_LEN > HGR_NET_MAX_FRAME || !n->be ||
        !(n->st.status & VIRTIO_NET_S_LINK_UP)) {
        n->stats.tx_dropped++;
        return;
    }
    /* Skip the header in place: the iovecs are our own copy. */
    struct iovec *iov = e->iov;
    unsigned cnt = e->n_out;
    size_t skip = HDR_LEN;
    while (cnt && skip >= iov->iov_len) {
        skip -= iov->iov_len;
        iov++;
        cnt--;
    }
    if (cnt) {
        iov->iov_base = (uint8_t *)iov->iov_base + skip;
        iov->iov_len -= skip;
    }
    hgr_net_send(n->be, iov, cnt);
    n->stats.tx_frames++;
}

static gboolean tx_resume(gpointer data);

static void tx_run(VirtioNet *n)
{
    HgrVirtioDevice *vdev = &n->vdev;
    HgrVirtq *vq = &vdev->queues[TXQ];

    for (unsigned budget = TX_BUDGET;; budget--) {
        if (budget == 0) {
            /* A guest refilling as fast as we drain must not own the thread. */
            if (vdev->iothread && !n->tx_resume_id)
                n->tx_resume_id = hgr_iothread_add_timeout(vdev->iothread, 0, tx_resume, n);
            break;
        }
        HgrVirtqPop r = hgr_virtq_pop(vq, vdev->mem, n->cur);
        if (r == HGR_VIRTQ_BROKEN)
            break;
        if (r == HGR_VIRTQ_EMPTY) {
            if (hgr_virtq_enable_notify(vq, vdev->mem))
                continue;
            break;
        }
        tx_one(n, n->cur);
        if (!hgr_virtq_push(vq, vdev->mem, n->cur->head, 0))
            break;
    }
    if (vq->broken)
        hgr_virtio_set_broken(vdev, "transmit queue broke the virtqueue rules");
    else
        hgr_virtio_notify_if_needed(vdev, TXQ);
}

static gboolean tx_resume(gpointer data)
{
    VirtioNet *n = data;

    g_mutex_lock(&n->vdev.lock);
    n->tx_resume_id = 0;
    if (hgr_virtio_is_running(&n->vdev) && n->vdev.queues[TXQ].ready)
        tx_run(n);
    g_mutex_unlock(&n->vdev.lock);
    return G_SOURCE_REMOVE;
}

/* RX */

static bool rx_ready(VirtioNet *n)
{
    return hgr_virtio_is_running(&n->vdev) && n->vdev.queues[RXQ].ready &&
           (n->st.status & VIRTIO_NET_S_LINK_UP);
}

static bool net_can_receive(void *opaque)
{
    VirtioNet *n = opaque;

    g_mutex_lock(&n->vdev.lock);
    bool ok = rx_ready(n) && hgr_virtq_pending(&n->vdev.queues[RXQ], n->vdev.mem) > 0;
    g_mutex_unlock(&n->vdev.lock);
    return ok;
}

typedef enum { RX_DONE, RX_NO_ROOM, RX_BAD_BUFFER, RX_BROKEN } RxResult;

/* Pops chains and copies header + frame in; on success the chains are in
 * rx_heads/rx_lens, not yet pushed. */
static RxResult rx_fill(VirtioNet *n, const uint8_t *frame, size_t len, unsigned *used)
{
    HgrVirtioDevice *vdev = &n->vdev;
    HgrVirtq *vq = &vdev->queues[RXQ];
    bool mrg = hgr_virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF);
    size_t done = 0;         /* bytes of the frame placed */

    *used = 0;
    while (*used == 0 || done < len) {
        if (*used == vq->size || (*used == 1 && !mrg))
            return RX_NO_ROOM;
        HgrVirtqElem *e = *used == 0 ? n->first : n->cur;
        HgrVirtqPop r = hgr_virtq_pop(vq, vdev->mem, e);
        if (r == HGR_VIRTQ_BROKEN)
            return RX_BROKEN;
        if (r == HGR_VIRTQ_EMPTY)
            return RX_NO_ROOM;
        const struct iovec *in = e->iov + e->n_out;
        size_t skip = 0;
        if (*used == 0) {
            if (e->in_len < HDR_LEN) {
                n->rx_heads[0] = e->head;
                n->rx_lens[0] = 0;
                *used = 1;
                return RX_BAD_BUFFER;
            }
            skip = HDR_LEN;
        }
        size_t chunk = hgr_iov_from_buf(in, e->n_in, skip, frame + done, len - done);
        done += chunk;
        n->rx_heads[*used] = e->head;
        n->rx_lens[*used] = (uint32_t)(skip + chunk);
        (*used)++;
    }
    NetHdr hdr = { .num_buffers = GUINT16_TO_LE((uint16_t)*used) };
    hgr_iov_from_buf(n->first->iov + n->first->n_out, n->first->n_in, 0, &hdr, HDR_LEN);
    return RX_DONE;
}

static void net_receive(void *opaque, const void *frame, size_t len)
{
    VirtioNet *n = opaque;
    HgrVirtioDevice *vdev = &n->vdev;
    HgrVirtq *vq = &vdev->queues[RXQ];
    unsigned used = 0;

    g_mutex_lock(&vdev->lock);
    if (!rx_ready(n) || len > HGR_NET_MAX_FRAME) {
        n->stats.rx_dropped++;
        goto out;
    }
    switch (rx_fill(n, frame, len, &used)) {
    case RX_DONE:
        n->stats.rx_frames++;
        break;
    case RX_NO_ROOM:
        /* Give the chains back untouched (as far as the driver can tell). */
        vq->last_avail -= (uint16_t)used;
        used = 0;
        n->stats.rx_dropped++;
        break;
    case RX_BAD_BUFFER:
        /* Unusable even for the header: return it empty rather than
         * retry it forever. */
        n->stats.rx_errors++;
        n->stats.rx_dropped++;
        break;
    case RX_BROKEN:
        hgr_virtio_set_broken(vdev, "receive queue broke the virtqueue rules");
        goto out;
    }
    for (unsigned i = 0; i < used; i++) {
        if (!hgr_virtq_push(vq, vdev->mem, n->rx_heads[i], n->rx_lens[i])) {
            hgr_virtio_set_broken(vdev, "receive used ring is not writable");
            goto out;
        }
    }
    if (used)
        hgr_virtio_notify_if_needed(vdev, RXQ);
out:
    g_mutex_unlock(&vdev->lock);
}

/* Ops */

static void net_queue_notify(HgrVirtioDevice *vdev, unsigned q)
{
    VirtioNet *n = to_net(vdev);

    if (q == TXQ)
        tx_run(n);
    else if (q == RXQ && n->be)
        hgr_net_flush_queue(n->be);
}

static void net_activate(HgrVirtioDevice *vdev)
{
    VirtioNet *n = to_net(vdev);

    if (n->be)
        hgr_net_flush_queue(n->be);
}

static void net_get_state(HgrVirtioDevice *vdev, void *state)
{
    memcpy(state, &to_net(vdev)->st, sizeof(NetState));
}

static void net_visit_state(HgrVisitor *v, void *state)
{
    NetState *st = state;

    hgr_visit_bytes(v, st->mac, sizeof(st->mac));
    hgr_visit_u16(v, &st->status);
}

static bool net_check_state(HgrVirtioDevice *vdev, const void *state, GError **error)
{
    const NetState *st = state;

    if (st->status & ~VIRTIO_NET_S_LINK_UP) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "virtio-net: saved link status 0x%x has unknown bits", st->status);
        return false;
    }
    if (st->mac[0] & 1) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "virtio-net: saved MAC address is a multicast address");
        return false;
    }
    return true;
}

static void net_set_state(HgrVirtioDevice *vdev, const void *state)
{
    memcpy(&to_net(vdev)->st, state, sizeof(NetState));
}

/* On the I/O thread, so the resume cannot be running while it goes. */
static gboolean net_cancel_tx_resume(gpointer data)
{
    VirtioNet *n = data;

    if (n->tx_resume_id)
        hgr_iothread_remove(n->vdev.iothread, n->tx_resume_id);
    n->tx_resume_id = 0;
    return G_SOURCE_REMOVE;
}

static void net_destroy(HgrVirtioDevice *vdev)
{
    VirtioNet *n = to_net(vdev);

    if (n->be)
        hgr_net_set_receiver(n->be, NULL, NULL, NULL);
    if (vdev->iothread)
        hgr_iothread_call(vdev->iothread, net_cancel_tx_resume, n);
    g_free(n->first);
    g_free(n->cur);
}

static const HgrVirtioOps virtio_net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .num_queues = 2,
    .queue_max_size = QUEUE_SIZE,
    .state_version = STATE_VERSION,
    .get_features = net_get_features,
    .config_size = CONFIG_SIZE,
    .config_read = net_config_read,
    .queue_notify = net_queue_notify,
    .activate = net_activate,
    .state_size = sizeof(NetState),
    .get_state = net_get_state,
    .visit_state = net_visit_state,
    .check_state = net_check_state,
    .set_state = net_set_state,
    .destroy = net_destroy,
};

HgrVirtioDevice *hgr_virtio_net_new(const HgrGuestMem *mem, HgrIoThread *t,
                                    HgrNetBackend *be, const uint8_t mac[6])
{
    VirtioNet *n = g_new0(VirtioNet, 1);

    hgr_virtio_init(&n->vdev, &virtio_net_ops, mem, t);
    n->be = be;
    memcpy(n->st.mac, mac, 6);
    n->st.status = VIRTIO_NET_S_LINK_UP;
    n->first = g_new(HgrVirtqElem, 1);
    n->cur = g_new(HgrVirtqElem, 1);
    if (be)
        hgr_net_set_receiver(be, net_can_receive, net_receive, n);
    return &n->vdev;
}

void hgr_virtio_net_set_link(HgrVirtioDevice *vdev, bool up)
{
    VirtioNet *n = to_net(vdev);

    g_mutex_lock(&vdev->lock);
    uint16_t old = n->st.status;
    n->st.status = up ? VIRTIO_NET_S_LINK_UP : 0;
    if (old != n->st.status && hgr_virtio_is_running(vdev))
        hgr_virtio_notify_config(vdev);
    g_mutex_unlock(&vdev->lock);
    if (up && n->be)
        hgr_net_flush_queue(n->be);
}

void hgr_virtio_net_get_stats(HgrVirtioDevice *vdev, HgrVirtioNetStats *stats)
{
    g_mutex_lock(&vdev->lock);
    *stats = to_net(vdev)->stats;
    g_mutex_unlock(&vdev->lock);
}
