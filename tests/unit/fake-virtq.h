/* fake-virtq.h — the driver side of a split virtqueue over a fake guest RAM,
 * for unit tests of virtio device types (no transport: the virtio core's
 * transport-side calls, under vdev->lock as the transport makes them). */
#pragma once

#include <glib.h>
#include <hangar/vm.h>
#include <string.h>

#include "virtio/virtio.h"

#define FAKE_RAM_SIZE (4u << 20)
#define VRING_DESC_F_NEXT  1
#define VRING_DESC_F_WRITE 2

typedef struct {
    HgrGuestMem mem;
    uint8_t *ram;
    uint64_t next_free;          /* bump allocator */
} FakeRam;

typedef struct {
    uint64_t gpa;
    uint32_t len;
    bool write;
} FakeBuf;

typedef struct {
    FakeRam *ram;
    uint16_t size;
    uint64_t desc, avail, used;
    uint16_t avail_idx;
    uint16_t next_desc;
} FakeVq;

static inline void fake_ram_init(FakeRam *r)
{
    r->ram = g_malloc0(FAKE_RAM_SIZE);
    hgr_mem_init_pc(&r->mem, r->ram, FAKE_RAM_SIZE);
    r->next_free = 0x1000;
}

static inline void fake_ram_clear(FakeRam *r)
{
    g_clear_pointer(&r->ram, g_free);
}

static inline uint64_t fake_ram_alloc(FakeRam *r, uint64_t len)
{
    uint64_t gpa = r->next_free;

    r->next_free = (gpa + len + 15) & ~15ULL;
    g_assert_cmpuint(r->next_free, <=, FAKE_RAM_SIZE);
    return gpa;
}

static inline void *fake_ram_ptr(FakeRam *r, uint64_t gpa)
{
    return r->ram + gpa;
}

/* Puts bytes into fresh RAM and returns a readable buffer of them. */
static inline FakeBuf fake_ram_out(FakeRam *r, const void *data, uint32_t len)
{
    FakeBuf b = { fake_ram_alloc(r, len), len, false };
    memcpy(fake_ram_ptr(r, b.gpa), data, len);
    return b;
}

static inline FakeBuf fake_ram_in(FakeRam *r, uint32_t len)
{
    FakeBuf b = { fake_ram_alloc(r, len), len, true };
    memset(fake_ram_ptr(r, b.gpa), 0xee, len);
    return b;
}

/* Feature negotiation up to FEATURES_OK; queues are set up next. */
static inline void fake_driver_negotiate(HgrVirtioDevice *vdev, uint64_t features)
{
    g_mutex_lock(&vdev->lock);
    hgr_virtio_set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    g_assert_true(hgr_virtio_set_driver_features(vdev, features));
    hgr_virtio_set_status(vdev, vdev->status | VIRTIO_STATUS_FEATURES_OK);
    g_assert_true(vdev->status & VIRTIO_STATUS_FEATURES_OK);
    g_mutex_unlock(&vdev->lock);
}

static inline void fake_vq_setup(FakeVq *vq, HgrVirtioDevice *vdev, unsigned q, FakeRam *r,
                                 uint16_t size)
{
    memset(vq, 0, sizeof(*vq));
    vq->ram = r;
    vq->size = size;
    vq->desc = fake_ram_alloc(r, 16u * size);
    vq->avail = fake_ram_alloc(r, 6u + 2u * size);
    vq->used = fake_ram_alloc(r, 6u + 8u * size);
    memset(fake_ram_ptr(r, vq->desc), 0, 16u * size);
    memset(fake_ram_ptr(r, vq->avail), 0, 6u + 2u * size);
    memset(fake_ram_ptr(r, vq->used), 0, 6u + 8u * size);
    g_mutex_lock(&vdev->lock);
    HgrVirtq *hq = &vdev->queues[q];
    hq->size = size;
    hq->desc_gpa = vq->desc;
    hq->avail_gpa = vq->avail;
    hq->used_gpa = vq->used;
    hgr_virtio_queue_enable(vdev, q);
    g_assert_true(hq->ready);
    g_mutex_unlock(&vdev->lock);
}

static inline void fake_driver_ok(HgrVirtioDevice *vdev)
{
    g_mutex_lock(&vdev->lock);
    hgr_virtio_set_status(vdev, vdev->status | VIRTIO_STATUS_DRIVER_OK);
    g_mutex_unlock(&vdev->lock);
    g_assert_true(hgr_virtio_is_running(vdev));
}

/* Writes a chain of n buffers and makes it available; returns its head. */
static inline uint16_t fake_vq_add(FakeVq *vq, const FakeBuf *bufs, unsigned n)
{
    uint16_t head = vq->next_desc;

    for (unsigned i = 0; i < n; i++) {
        uint16_t d = (uint16_t)((head + i) % vq->size);
        uint8_t *p = fake_ram_ptr(vq->ram, vq->desc + 16u * d);
        uint16_t flags = (bufs[i].write ? VRING_DESC_F_WRITE : 0) |
                         (i + 1 < n ? VRING_DESC_F_NEXT : 0);
        uint16_t next = (uint16_t)((d + 1) % vq->size);
        memcpy(p, &bufs[i].gpa, 8);
        memcpy(p + 8, &bufs[i].len, 4);
        memcpy(p + 12, &flags, 2);
        memcpy(p + 14, &next, 2);
    }
    vq->next_desc = (uint16_t)((head + n) % vq->size);
    uint8_t *avail = fake_ram_ptr(vq->ram, vq->avail);
    memcpy(avail + 4 + 2u * (vq->avail_idx % vq->size), &head, 2);
    vq->avail_idx++;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(avail + 2, &vq->avail_idx, 2);
    return head;
}

static inline uint16_t fake_vq_used_idx(FakeVq *vq)
{
    uint16_t idx;

    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    memcpy(&idx, fake_ram_ptr(vq->ram, vq->used + 2), 2);
    return idx;
}

static inline void fake_vq_used_elem(FakeVq *vq, uint16_t i, uint32_t *id, uint32_t *len)
{
    uint8_t *e = fake_ram_ptr(vq->ram, vq->used + 4 + 8u * (i % vq->size));
    memcpy(id, e, 4);
    memcpy(len, e + 4, 4);
}

/* Waits (up to 5 s) until the device has used `count` chains. */
static inline bool fake_vq_wait_used(FakeVq *vq, uint16_t count)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while ((uint16_t)(fake_vq_used_idx(vq)) < count) {
        if (g_get_monotonic_time() > end)
            return false;
        g_usleep(1000);
    }
    return true;
}

static inline void fake_vq_kick(HgrVirtioDevice *vdev, unsigned q)
{
    g_mutex_lock(&vdev->lock);
    hgr_virtio_queue_notify(vdev, q);
    g_mutex_unlock(&vdev->lock);
}

typedef struct {
    GSourceFunc fn;
    gpointer data;
    GAsyncQueue *done;
} FakeRun;

static inline gboolean fake_run_cb(gpointer p)
{
    FakeRun *r = p;

    r->fn(r->data);
    g_async_queue_push(r->done, r);
    return G_SOURCE_REMOVE;
}

/* Runs fn on the I/O thread at default priority, as an ioeventfd or a
 * socket would, and waits for it. (hgr_iothread_call runs at high priority,
 * so a stream of them would starve the sources a test wants to watch.) */
static inline void fake_iothread_run(HgrIoThread *t, GSourceFunc fn, gpointer data)
{
    FakeRun r = { fn, data, g_async_queue_new() };

    g_main_context_invoke_full(hgr_iothread_context(t), G_PRIORITY_DEFAULT, fake_run_cb, &r,
                               NULL);
    g_async_queue_pop(r.done);
    g_async_queue_unref(r.done);
}

typedef struct {
    HgrVirtioDevice *vdev;
    unsigned q;
} FakeKick;

static inline gboolean fake_kick_cb(gpointer data)
{
    FakeKick *k = data;
    fake_vq_kick(k->vdev, k->q);
    return G_SOURCE_REMOVE;
}

/* A kick the way the transport delivers it: from the I/O thread. */
static inline void fake_vq_kick_on(HgrIoThread *t, HgrVirtioDevice *vdev, unsigned q)
{
    FakeKick k = { vdev, q };
    fake_iothread_run(t, fake_kick_cb, &k);
}

/* A device's generic + specific state through the stream and back into
 * another device of the same type: the returned bytes are what was saved. */
static inline GByteArray *fake_virtio_save(HgrVirtioDevice *vdev)
{
    HgrVirtioState st = { 0 };
    GByteArray *out = g_byte_array_new();

    g_mutex_lock(&vdev->lock);
    hgr_virtio_get_state(vdev, &st);
    g_mutex_unlock(&vdev->lock);
    HgrVisitor *v = hgr_visitor_new_save(out);
    hgr_virtio_visit_state(v, vdev->ops, &st);
    hgr_visitor_free(v);
    hgr_virtio_state_clear(&st);
    return out;
}

static inline bool fake_virtio_load(HgrVirtioDevice *vdev, const GByteArray *data,
                                    GError **error)
{
    HgrVirtioState st = { 0 };

    hgr_virtio_state_prepare(vdev->ops, &st);
    HgrVisitor *v = hgr_visitor_new_load(data->data, data->len);
    hgr_virtio_visit_state(v, vdev->ops, &st);
    bool ok = !hgr_visitor_overrun(v) && hgr_visitor_remaining(v) == 0;
    hgr_visitor_free(v);
    if (!ok) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE, "state length mismatch");
    } else {
        g_mutex_lock(&vdev->lock);
        ok = hgr_virtio_check_state(vdev, &st, error);
        if (ok)
            hgr_virtio_set_state(vdev, &st);
        g_mutex_unlock(&vdev->lock);
    }
    hgr_virtio_state_clear(&st);
    return ok;
}
