/* test-virtio-rng.c — entropy lands only in writable buffers, requests are
 * capped, a flood is served in slices without blocking the I/O thread, and
 * the state round-trips. */
#include <glib.h>
#include <string.h>

#include "virtio/virtio-rng.h"
#include "virtq-driver.h"

#define RAM_SIZE (1u << 20)
#define RING_GPA 0x1000
#define BUF_GPA  0x10000
#define QSIZE    16

typedef struct {
    uint8_t *ram;
    HgrGuestMem mem;
    HgrIoThread *iothread;
    HgrVirtioDevice *vdev;
    TestRing ring;
} Fixture;

static void start_rng(Fixture *f, HgrIoThread *t)
{
    f->vdev = hgr_virtio_rng_new(&f->mem, t);
    HgrVirtioDevice *vdev = f->vdev;
    g_assert_true(hgr_virtio_set_driver_features(vdev, 1ULL << VIRTIO_F_VERSION_1));
    hgr_virtio_set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                VIRTIO_STATUS_FEATURES_OK);
    test_ring_attach(&f->ring, &vdev->queues[0]);
    hgr_virtio_queue_enable(vdev, 0);
    hgr_virtio_set_status(vdev, vdev->status | VIRTIO_STATUS_DRIVER_OK);
    g_assert_true(hgr_virtio_is_running(vdev));
}

static void setup(Fixture *f, gconstpointer data)
{
    f->ram = g_malloc0(RAM_SIZE);
    hgr_mem_init_pc(&f->mem, f->ram, RAM_SIZE);
    test_ring_init(&f->ring, &f->mem, RING_GPA, QSIZE);
    start_rng(f, NULL);
}

static void teardown(Fixture *f, gconstpointer data)
{
    hgr_virtio_destroy(f->vdev);
    g_free(f->vdev);
    g_clear_pointer(&f->iothread, hgr_iothread_free);
    g_free(f->ram);
}

static void kick(Fixture *f)
{
    g_mutex_lock(&f->vdev->lock);
    hgr_virtio_queue_notify(f->vdev, 0);
    g_mutex_unlock(&f->vdev->lock);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void test_fills_writable_only(Fixture *f, gconstpointer data)
{
    memset(f->ram + BUF_GPA, 0xa5, 16);
    test_ring_desc(&f->ring, 0, BUF_GPA, 16, VRING_DESC_F_NEXT, 1);
    test_ring_desc(&f->ring, 1, BUF_GPA + 0x100, 32, VRING_DESC_F_WRITE, 0);
    test_ring_publish(&f->ring, 0);
    kick(f);

    uint32_t id, len;
    g_assert_cmpuint(test_ring_used_idx(&f->ring), ==, 1);
    test_ring_used_elem(&f->ring, 0, &id, &len);
    g_assert_cmpuint(id, ==, 0);
    g_assert_cmpuint(len, ==, 32);
    for (int i = 0; i < 16; i++)
        g_assert_cmpuint(f->ram[BUF_GPA + i], ==, 0xa5);
    g_assert_false(all_zero(f->ram + BUF_GPA + 0x100, 32));
    g_assert_true(all_zero(f->ram + BUF_GPA + 0x120, 32));     /* not past the buffer */
}

static void test_two_requests_differ(Fixture *f, gconstpointer data)
{
    for (uint16_t i = 0; i < 2; i++) {
        test_ring_desc(&f->ring, i, BUF_GPA + 0x40 * i, 32, VRING_DESC_F_WRITE, 0);
        test_ring_publish(&f->ring, i);
    }
    kick(f);
    g_assert_cmpuint(test_ring_used_idx(&f->ring), ==, 2);
    g_assert_true(memcmp(f->ram + BUF_GPA, f->ram + BUF_GPA + 0x40, 32) != 0);
}

static void test_large_request_capped(Fixture *f, gconstpointer data)
{
    test_ring_desc(&f->ring, 0, BUF_GPA, 0x20000, VRING_DESC_F_WRITE, 0);
    test_ring_publish(&f->ring, 0);
    kick(f);

    uint32_t id, len;
    test_ring_used_elem(&f->ring, 0, &id, &len);
    g_assert_cmpuint(len, ==, 0x10000);
    g_assert_false(all_zero(f->ram + BUF_GPA + 0xff00, 0x100));
    g_assert_true(all_zero(f->ram + BUF_GPA + 0x10000, 0x10000));
}

static void offer_flood(Fixture *f)
{
    for (uint16_t i = 0; i < 8; i++) {
        test_ring_desc(&f->ring, i, BUF_GPA + 0x10000ULL * i, 0x10000, VRING_DESC_F_WRITE, 0);
        test_ring_publish(&f->ring, i);
    }
}

/* 512 KiB asked at once: one kick serves a slice and leaves the rest. */
static void test_flood_sliced(Fixture *f, gconstpointer data)
{
    offer_flood(f);
    kick(f);
    uint16_t first = test_ring_used_idx(&f->ring);
    g_assert_cmpuint(first, >, 0);
    g_assert_cmpuint(first, <, 8);
    kick(f);
    g_assert_cmpuint(test_ring_used_idx(&f->ring), ==, 8);
}

static uint16_t used_idx_locked(Fixture *f)
{
    g_mutex_lock(&f->vdev->lock);
    uint16_t idx = test_ring_used_idx(&f->ring);
    g_mutex_unlock(&f->vdev->lock);
    return idx;
}

/* With an I/O thread, the rest follows without another kick. */
static void test_flood_follow_up(Fixture *f, gconstpointer data)
{
    hgr_virtio_destroy(f->vdev);
    g_free(f->vdev);
    f->iothread = hgr_iothread_new("test-io");
    hgr_iothread_start(f->iothread);
    start_rng(f, f->iothread);

    offer_flood(f);
    kick(f);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (used_idx_locked(f) < 8 && g_get_monotonic_time() < deadline)
        g_usleep(1000);
    g_assert_cmpuint(used_idx_locked(f), ==, 8);
}

static void test_state_roundtrip(Fixture *f, gconstpointer data)
{
    test_ring_desc(&f->ring, 0, BUF_GPA, 16, VRING_DESC_F_WRITE, 0);
    test_ring_publish(&f->ring, 0);
    kick(f);

    HgrVirtioState st = { 0 }, st2 = { 0 };
    g_autoptr(GByteArray) a = g_byte_array_new(), b = g_byte_array_new();
    hgr_virtio_get_state(f->vdev, &st);
    g_autoptr(HgrVisitor) sv = hgr_visitor_new_save(a);
    hgr_virtio_visit_state(sv, f->vdev->ops, &st);

    HgrVirtioDevice *fresh = hgr_virtio_rng_new(&f->mem, NULL);
    HgrVirtioState loaded = { 0 };
    hgr_virtio_state_prepare(fresh->ops, &loaded);
    g_autoptr(HgrVisitor) lv = hgr_visitor_new_load(a->data, a->len);
    hgr_virtio_visit_state(lv, fresh->ops, &loaded);
    g_assert_false(hgr_visitor_overrun(lv));
    g_assert_cmpuint(hgr_visitor_remaining(lv), ==, 0);
    g_assert_true(hgr_virtio_check_state(fresh, &loaded, NULL));
    hgr_virtio_set_state(fresh, &loaded);

    hgr_virtio_get_state(fresh, &st2);
    g_autoptr(HgrVisitor) sv2 = hgr_visitor_new_save(b);
    hgr_virtio_visit_state(sv2, fresh->ops, &st2);
    g_assert_cmpmem(a->data, a->len, b->data, b->len);

    /* The fresh device carries on where the first stopped. */
    test_ring_desc(&f->ring, 1, BUF_GPA + 0x100, 16, VRING_DESC_F_WRITE, 0);
    test_ring_publish(&f->ring, 1);
    g_mutex_lock(&fresh->lock);
    hgr_virtio_queue_notify(fresh, 0);
    g_mutex_unlock(&fresh->lock);
    g_assert_cmpuint(test_ring_used_idx(&f->ring), ==, 2);

    hgr_virtio_state_clear(&st);
    hgr_virtio_state_clear(&st2);
    hgr_virtio_state_clear(&loaded);
    hgr_virtio_destroy(fresh);
    g_free(fresh);
}

#define ADD(path, fn) g_test_add("/vmm/virtio-rng/" path, Fixture, NULL, setup, fn, teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("fills-writable-only", test_fills_writable_only);
    ADD("two-requests-differ", test_two_requests_differ);
    ADD("large-request-capped", test_large_request_capped);
    ADD("flood-sliced", test_flood_sliced);
    ADD("flood-follow-up", test_flood_follow_up);
    ADD("state-roundtrip", test_state_roundtrip);
    return g_test_run();
}
