/* virtio-console.c — virtio 1.x console (5.3) with one port over a chardev.
 *
 * Port 0 uses receiveq0/transmitq0. The code keeps ports in a table and maps
 * queues to ports through port_rxq/port_txq, so VIRTIO_CONSOLE_F_MULTIPORT
 * (control queues 2 and 3, port N on queues 2N+2 and 2N+3) can be added for
 * the guest-additions agent channel without reshaping it.
 *
 * Guest to host: each transmit chain's bytes go to the chardev, which queues
 * them without blocking. Host to guest: the chardev offers input as long as
 * the device reports room, which is the size of the next receive chain.
 */
#include "virtio-console.h"

#include <string.h>

#define QUEUE_SIZE 128
#define MAX_PORTS 1
#define NUM_QUEUES 2             /* 2 * MAX_PORTS, plus 2 control queues with MULTIPORT */
#define TX_BUDGET 128            /* chains per run before yielding the I/O thread */

typedef struct VirtioConsole VirtioConsole;

typedef struct {
    VirtioConsole *con;
    unsigned index;
    HgrChardev *chr;
} ConsolePort;

struct VirtioConsole {
    HgrVirtioDevice vdev;        /* first: the transport frees us with g_free */
    ConsolePort ports[MAX_PORTS];
    HgrVirtqElem *elem;
    guint tx_resume_id;
    uint64_t rx_lost;            /* input bytes a shrinking chain could not take */
};

static unsigned port_rxq(unsigned port)
{
    return port == 0 ? 0 : 2 * port + 2;
}

static unsigned port_txq(unsigned port)
{
    return port_rxq(port) + 1;
}

static ConsolePort *port_of_queue(VirtioConsole *c, unsigned q)
{
    for (unsigned p = 0; p < MAX_PORTS; p++) {
        if (q == port_rxq(p) || q == port_txq(p))
            return &c->ports[p];
    }
    return NULL;
}

/* Config: le16 cols, le16 rows, le32 max_nr_ports (valid with MULTIPORT). */
#define CONFIG_SIZE 8

static void console_config_read(HgrVirtioDevice *vdev, uint32_t offset, void *data,
                                unsigned len)
{
    uint8_t cfg[CONFIG_SIZE] = { 0 };
    uint32_t max_ports = GUINT32_TO_LE(MAX_PORTS);

    memcpy(cfg + 4, &max_ports, 4);
    memcpy(data, cfg + offset, len);     /* bounds checked by the virtio core */
}

/* Guest to host */

static gboolean tx_resume(gpointer data);

static void port_tx(ConsolePort *p)
{
    VirtioConsole *c = p->con;
    HgrVirtioDevice *vdev = &c->vdev;
    HgrVirtq *vq = &vdev->queues[port_txq(p->index)];
    HgrVirtqElem *e = c->elem;

    for (unsigned n = 0;; n++) {
        if (n == TX_BUDGET) {
            if (vdev->iothread && !c->tx_resume_id)
                c->tx_resume_id = hgr_iothread_add_timeout(vdev->iothread, 0, tx_resume, p);
            break;
        }
        HgrVirtqPop r = hgr_virtq_pop(vq, vdev->mem, e);
        if (r == HGR_VIRTQ_BROKEN)
            break;
        if (r == HGR_VIRTQ_EMPTY) {
            if (!hgr_virtq_enable_notify(vq, vdev->mem))
                break;
            continue;
        }
        for (unsigned i = 0; i < e->n_out; i++)
            hgr_chardev_write(p->chr, e->iov[i].iov_base, e->iov[i].iov_len);
        if (!hgr_virtq_push(vq, vdev->mem, e->head, 0))
            break;
    }
    if (vq->broken)
        hgr_virtio_set_broken(vdev, "transmit queue broke the virtqueue rules");
    else
        hgr_virtio_notify_if_needed(vdev, port_txq(p->index));
}

static gboolean tx_resume(gpointer data)
{
    ConsolePort *p = data;
    HgrVirtioDevice *vdev = &p->con->vdev;

    g_mutex_lock(&vdev->lock);
    p->con->tx_resume_id = 0;
    if (hgr_virtio_is_running(vdev))
        port_tx(p);
    g_mutex_unlock(&vdev->lock);
    return G_SOURCE_REMOVE;
}

/* Host to guest (chardev callbacks: I/O thread, no lock held) */

/* The next receive chain, or false when there is none (or the queue broke). */
static bool rx_pop(ConsolePort *p, HgrVirtqElem *e)
{
    HgrVirtioDevice *vdev = &p->con->vdev;
    HgrVirtq *vq = &vdev->queues[port_rxq(p->index)];

    if (!hgr_virtio_is_running(vdev) || !vq->ready)
        return false;
    HgrVirtqPop r = hgr_virtq_pop(vq, vdev->mem, e);
    if (r == HGR_VIRTQ_BROKEN)
        hgr_virtio_set_broken(vdev, "receive queue broke the virtqueue rules");
    return r == HGR_VIRTQ_GOT;
}

static bool rx_push(ConsolePort *p, uint16_t head, uint32_t written)
{
    HgrVirtioDevice *vdev = &p->con->vdev;

    if (hgr_virtq_push(&vdev->queues[port_rxq(p->index)], vdev->mem, head, written))
        return true;
    hgr_virtio_set_broken(vdev, "receive used ring is not writable");
    return false;
}

/* Room is the size of the next receive chain: look at it by taking it and
 * putting it back. Chains with nothing writable are returned empty. */
static size_t port_can_receive(void *opaque)
{
    ConsolePort *p = opaque;
    HgrVirtioDevice *vdev = &p->con->vdev;
    HgrVirtq *vq = &vdev->queues[port_rxq(p->index)];
    HgrVirtqElem *e = p->con->elem;
    size_t room = 0;

    g_mutex_lock(&vdev->lock);
    for (unsigned n = 0; n < vq->size && rx_pop(p, e); n++) {
        if (e->in_len > 0) {
            vq->last_avail--;
            room = (size_t)MIN(e->in_len, (uint64_t)G_MAXSIZE);
            break;
        }
        if (!rx_push(p, e->head, 0))
            break;
        hgr_virtio_notify_if_needed(vdev, port_rxq(p->index));
    }
    g_mutex_unlock(&vdev->lock);
    return room;
}

static void port_receive(void *opaque, const uint8_t *buf, size_t len)
{
    ConsolePort *p = opaque;
    HgrVirtioDevice *vdev = &p->con->vdev;
    HgrVirtqElem *e = p->con->elem;
    size_t done = 0;

    g_mutex_lock(&vdev->lock);
    /* Normally one chain (can_receive offered its size); the guest may have
     * rewritten it since, so take as many as the bytes need. */
    for (unsigned n = 0; done < len && n < vdev->queues[port_rxq(p->index)].size; n++) {
        if (!rx_pop(p, e))
            break;
        size_t chunk = hgr_iov_from_buf(e->iov + e->n_out, e->n_in, 0, buf + done, len - done);
        done += chunk;
        if (!rx_push(p, e->head, (uint32_t)chunk))
            break;
    }
    hgr_virtio_notify_if_needed(vdev, port_rxq(p->index));
    p->con->rx_lost += len - done;
    g_mutex_unlock(&vdev->lock);
}

/* Ops */

static void console_queue_notify(HgrVirtioDevice *vdev, unsigned q)
{
    VirtioConsole *c = (VirtioConsole *)vdev;
    ConsolePort *p = port_of_queue(c, q);

    if (!p)
        return;
    if (q == port_txq(p->index))
        port_tx(p);
    else
        hgr_chardev_accept_input(p->chr);
}

static void console_activate(HgrVirtioDevice *vdev)
{
    VirtioConsole *c = (VirtioConsole *)vdev;

    for (unsigned p = 0; p < MAX_PORTS; p++)
        hgr_chardev_accept_input(c->ports[p].chr);
}

/* Receivers change on the I/O thread, where the chardev delivers input, so
 * no input reaches a device being torn down. */
static gboolean console_attach(gpointer data)
{
    VirtioConsole *c = data;

    for (unsigned p = 0; p < MAX_PORTS; p++)
        hgr_chardev_set_receiver(c->ports[p].chr, port_can_receive, port_receive, &c->ports[p]);
    return G_SOURCE_REMOVE;
}

static gboolean console_detach(gpointer data)
{
    VirtioConsole *c = data;

    for (unsigned p = 0; p < MAX_PORTS; p++)
        hgr_chardev_set_receiver(c->ports[p].chr, NULL, NULL, NULL);
    if (c->tx_resume_id)
        hgr_iothread_remove(c->vdev.iothread, c->tx_resume_id);
    c->tx_resume_id = 0;
    return G_SOURCE_REMOVE;
}

static void on_device_thread(VirtioConsole *c, GSourceFunc fn)
{
    if (c->vdev.iothread)
        hgr_iothread_call(c->vdev.iothread, fn, c);
    else
        fn(c);
}

static void console_destroy(HgrVirtioDevice *vdev)
{
    VirtioConsole *c = (VirtioConsole *)vdev;

    on_device_thread(c, console_detach);
    if (c->rx_lost)
        g_debug("virtio-console: %" G_GUINT64_FORMAT " input bytes lost", c->rx_lost);
    g_free(c->elem);
}

static const HgrVirtioOps virtio_console_ops = {
    .name = "virtio-console",
    .device_id = VIRTIO_ID_CONSOLE,
    .num_queues = NUM_QUEUES,
    .queue_max_size = QUEUE_SIZE,
    .config_size = CONFIG_SIZE,
    .config_read = console_config_read,
    .queue_notify = console_queue_notify,
    .activate = console_activate,
    .destroy = console_destroy,
};

HgrVirtioDevice *hgr_virtio_console_new(const HgrGuestMem *mem, HgrIoThread *t,
                                        HgrChardev *chr)
{
    VirtioConsole *c = g_new0(VirtioConsole, 1);

    hgr_virtio_init(&c->vdev, &virtio_console_ops, mem, t);
    c->elem = g_new(HgrVirtqElem, 1);
    c->ports[0] = (ConsolePort){ .con = c, .index = 0, .chr = chr };
    on_device_thread(c, console_attach);
    return &c->vdev;
}
