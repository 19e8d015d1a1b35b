/* virtio.c — the transport-independent half of every virtio device:
 * feature negotiation, status, queues, interrupts, saved state. */
#include "virtio.h"

#include <hangar/vm.h>
#include <string.h>

#define GENERIC_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | \
                          (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
                          (1ULL << VIRTIO_RING_F_EVENT_IDX))

void hgr_virtio_init(HgrVirtioDevice *vdev, const HgrVirtioOps *ops, const HgrGuestMem *mem,
                     HgrIoThread *iothread)
{
    g_assert(ops->num_queues <= HGR_VIRTIO_MAX_QUEUES);   /* a programming error */
    memset(vdev, 0, sizeof(*vdev));
    vdev->ops = ops;
    vdev->mem = mem;
    vdev->iothread = iothread;
    g_mutex_init(&vdev->lock);
    vdev->device_features = GENERIC_FEATURES | (ops->get_features ? ops->get_features(vdev) : 0);
    for (unsigned q = 0; q < ops->num_queues; q++)
        hgr_virtq_init(&vdev->queues[q], ops->queue_max_size);
}

void hgr_virtio_destroy(HgrVirtioDevice *vdev)
{
    if (vdev->ops->destroy)
        vdev->ops->destroy(vdev);
    g_mutex_clear(&vdev->lock);
}

bool hgr_virtio_has_feature(const HgrVirtioDevice *vdev, unsigned bit)
{
    return (vdev->driver_features >> bit) & 1;
}

bool hgr_virtio_is_running(const HgrVirtioDevice *vdev)
{
    return (vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
           !(vdev->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

void hgr_virtio_reset(HgrVirtioDevice *vdev)
{
    if (vdev->ops->reset)
        vdev->ops->reset(vdev);
    vdev->driver_features = 0;
    vdev->status = 0;
    vdev->isr = 0;
    for (unsigned q = 0; q < vdev->ops->num_queues; q++)
        hgr_virtq_reset(&vdev->queues[q]);
}

bool hgr_virtio_set_driver_features(HgrVirtioDevice *vdev, uint64_t features)
{
    /* Only before FEATURES_OK; a driver may not ack what was not offered. */
    if (vdev->status & VIRTIO_STATUS_FEATURES_OK)
        return false;
    vdev->driver_features = features;
    return (features & ~vdev->device_features) == 0;
}

void hgr_virtio_set_status(HgrVirtioDevice *vdev, uint8_t status)
{
    if (status == 0) {
        hgr_virtio_reset(vdev);
        return;
    }
    uint8_t old = vdev->status;
    if ((status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
        /* Refuse a feature set we did not offer, or one without VERSION_1
         * (no legacy interface here): the driver sees FEATURES_OK clear. */
        if ((vdev->driver_features & ~vdev->device_features) ||
            !hgr_virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
            status &= ~VIRTIO_STATUS_FEATURES_OK;
            /* Keep acked ⊆ offered, or the saved state would not load. */
            vdev->driver_features = 0;
        }
    }
    /* NEEDS_RESET is the device's to set, not the driver's to clear. */
    vdev->status = status | (old & VIRTIO_STATUS_NEEDS_RESET);
    bool event_idx = hgr_virtio_has_feature(vdev, VIRTIO_RING_F_EVENT_IDX);
    for (unsigned q = 0; q < vdev->ops->num_queues; q++)
        vdev->queues[q].event_idx = event_idx;
    if ((status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
        (status & VIRTIO_STATUS_FEATURES_OK) && vdev->ops->activate)
        vdev->ops->activate(vdev);
}

void hgr_virtio_queue_enable(HgrVirtioDevice *vdev, unsigned q)
{
    if (q >= vdev->ops->num_queues)
        return;
    HgrVirtq *vq = &vdev->queues[q];
    if (!hgr_virtq_valid(vq, vdev->mem)) {
        hgr_virtio_set_broken(vdev, "queue rings are misaligned, oversized or outside RAM");
        return;
    }
    vq->event_idx = hgr_virtio_has_feature(vdev, VIRTIO_RING_F_EVENT_IDX);
    vq->ready = true;
}

void hgr_virtio_queue_notify(HgrVirtioDevice *vdev, unsigned q)
{
    if (q >= vdev->ops->num_queues || !hgr_virtio_is_running(vdev))
        return;
    if (!vdev->queues[q].ready || !vdev->ops->queue_notify)
        return;
    vdev->ops->queue_notify(vdev, q);
    if (vdev->queues[q].broken)
        hgr_virtio_set_broken(vdev, "the driver broke the virtqueue rules");
}

void hgr_virtio_config_read(HgrVirtioDevice *vdev, uint32_t offset, void *data, unsigned len)
{
    memset(data, 0, len);
    if (offset >= vdev->ops->config_size || len > vdev->ops->config_size - offset)
        return;
    if (vdev->ops->config_read)
        vdev->ops->config_read(vdev, offset, data, len);
}

void hgr_virtio_config_write(HgrVirtioDevice *vdev, uint32_t offset, const void *data,
                             unsigned len)
{
    if (offset >= vdev->ops->config_size || len > vdev->ops->config_size - offset)
        return;
    if (vdev->ops->config_write)
        vdev->ops->config_write(vdev, offset, data, len);
}

void hgr_virtio_notify_if_needed(HgrVirtioDevice *vdev, unsigned q)
{
    if (!hgr_virtq_should_notify(&vdev->queues[q], vdev->mem))
        return;
    vdev->isr |= 1;
    if (vdev->transport.notify_queue)
        vdev->transport.notify_queue(vdev->transport.opaque, q);
}

void hgr_virtio_complete(HgrVirtioDevice *vdev, unsigned q, uint16_t head, uint32_t written)
{
    if (!hgr_virtq_push(&vdev->queues[q], vdev->mem, head, written)) {
        if (vdev->queues[q].broken)
            hgr_virtio_set_broken(vdev, "used ring is not writable");
        return;
    }
    hgr_virtio_notify_if_needed(vdev, q);
}

void hgr_virtio_notify_config(HgrVirtioDevice *vdev)
{
    vdev->config_generation++;
    vdev->isr |= 2;
    if (vdev->transport.notify_config)
        vdev->transport.notify_config(vdev->transport.opaque);
}

void hgr_virtio_set_broken(HgrVirtioDevice *vdev, const char *why)
{
    if (vdev->status & VIRTIO_STATUS_NEEDS_RESET)
        return;
    hgr_warn_ratelimited(&vdev->broken_warnings, vdev->ops->name, "%s; device needs reset",
                         why);
    vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
    if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
        hgr_virtio_notify_config(vdev);
}

/* Saved state */

void hgr_virtio_state_prepare(const HgrVirtioOps *ops, HgrVirtioState *st)
{
    if (ops->state_size && !st->device_state)
        st->device_state = g_malloc0(ops->state_size);
}

void hgr_virtio_state_clear(HgrVirtioState *st)
{
    g_clear_pointer(&st->device_state, g_free);
}

void hgr_virtio_get_state(HgrVirtioDevice *vdev, HgrVirtioState *st)
{
    const HgrVirtioOps *ops = vdev->ops;

    hgr_virtio_state_prepare(ops, st);
    st->driver_features = vdev->driver_features;
    st->status = vdev->status;
    st->isr = vdev->isr;
    st->config_generation = vdev->config_generation;
    st->num_queues = (uint8_t)ops->num_queues;
    memcpy(st->queues, vdev->queues, sizeof(st->queues));
    if (ops->state_size && ops->get_state)
        ops->get_state(vdev, st->device_state);
}

void hgr_virtio_visit_state(HgrVisitor *v, const HgrVirtioOps *ops, HgrVirtioState *st)
{
    hgr_visit_u64(v, &st->driver_features);
    hgr_visit_u8(v, &st->status);
    hgr_visit_u8(v, &st->isr);
    hgr_visit_u8(v, &st->config_generation);
    hgr_visit_u8(v, &st->num_queues);
    for (unsigned q = 0; q < MIN(st->num_queues, HGR_VIRTIO_MAX_QUEUES); q++)
        hgr_virtq_visit(v, &st->queues[q]);
    if (ops->state_size && ops->visit_state)
        ops->visit_state(v, st->device_state);
}

bool hgr_virtio_check_state(HgrVirtioDevice *vdev, const HgrVirtioState *st, GError **error)
{
    const HgrVirtioOps *ops = vdev->ops;

    if (st->num_queues != ops->num_queues) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "%s: saved state has %u queues, the device has %u",
                    ops->name, st->num_queues, ops->num_queues);
        return false;
    }
    if (st->driver_features & ~vdev->device_features) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "%s: saved state acked features 0x%" G_GINT64_MODIFIER "x "
                    "that the device does not offer",
                    ops->name, st->driver_features & ~vdev->device_features);
        return false;
    }
    for (unsigned q = 0; q < st->num_queues; q++) {
        HgrVirtq vq = st->queues[q];
        vq.max_size = ops->queue_max_size;
        if (vq.size > vq.max_size || (vq.ready && !hgr_virtq_valid(&vq, vdev->mem))) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                        "%s: saved queue %u does not fit this device or its RAM",
                        ops->name, q);
            return false;
        }
    }
    if (ops->state_size && ops->check_state &&
        !ops->check_state(vdev, st->device_state, error))
        return false;
    return true;
}

void hgr_virtio_set_state(HgrVirtioDevice *vdev, const HgrVirtioState *st)
{
    const HgrVirtioOps *ops = vdev->ops;

    vdev->driver_features = st->driver_features;
    vdev->status = st->status;
    vdev->isr = st->isr;
    vdev->config_generation = st->config_generation;
    memcpy(vdev->queues, st->queues, sizeof(vdev->queues));
    for (unsigned q = 0; q < ops->num_queues; q++)
        vdev->queues[q].max_size = ops->queue_max_size;
    if (ops->state_size && ops->set_state)
        ops->set_state(vdev, st->device_state);
}
