/* test-virtqueue.c — the split virtqueue against every hostile-input case
 * of HOSTILE-INPUTS.md, and normal chains. The outcome checked is what a
 * user cares about: the data is right, or the device is marked NEEDS_RESET
 * and stops, and the host process goes on. */
#include <glib.h>
#include <string.h>

#include "virtio/virtio.h"
#include "virtq-driver.h"

/* Guest RAM built by hand: the top 64 KiB of low RAM and 64 KiB above
 * 4 GiB, with the PCI hole between them. */
#define LOW_BASE  (HGR_LOWMEM_LIMIT - 0x10000)
#define HIGH_BASE HGR_HIGHMEM_BASE
#define RING_BASE LOW_BASE
#define BUF       (LOW_BASE + 0x8000)    /* data buffers */
#define QSIZE     16

typedef struct {
    HgrVirtioDevice vdev;                /* first */
    unsigned got;                        /* chains the device took */
    HgrVirtqElem elem;
} Sink;

typedef struct {
    uint8_t low[0x10000];
    uint8_t high[0x10000];
    HgrGuestMem mem;
    TestRing ring;
    Sink sink;
} Fixture;

static void sink_notify(HgrVirtioDevice *vdev, unsigned q)
{
    Sink *s = (Sink *)vdev;

    for (unsigned n = 0; n < HGR_VIRTQ_MAX_SIZE; n++) {
        if (hgr_virtq_pop(&vdev->queues[q], vdev->mem, &s->elem) != HGR_VIRTQ_GOT)
            return;
        s->got++;
        hgr_virtio_complete(vdev, q, s->elem.head, (uint32_t)s->elem.in_len);
    }
}

static const HgrVirtioOps sink_ops = {
    .name = "test-sink",
    .device_id = 0x3f,
    .num_queues = 1,
    .queue_max_size = 256,
    .queue_notify = sink_notify,
};

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->mem = (HgrGuestMem){
        .regions = { { LOW_BASE, sizeof(f->low), f->low },
                     { HIGH_BASE, sizeof(f->high), f->high } },
        .n_regions = 2, .ram_size = sizeof(f->low) + sizeof(f->high) };
    test_ring_init(&f->ring, &f->mem, RING_BASE, QSIZE);

    HgrVirtioDevice *vdev = &f->sink.vdev;
    hgr_virtio_init(vdev, &sink_ops, &f->mem, NULL);
    g_assert_true(hgr_virtio_set_driver_features(vdev, 1ULL << VIRTIO_F_VERSION_1 |
                                                       1ULL << VIRTIO_RING_F_INDIRECT_DESC));
    hgr_virtio_set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                VIRTIO_STATUS_FEATURES_OK);
    test_ring_attach(&f->ring, &vdev->queues[0]);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    hgr_virtio_destroy(&f->sink.vdev);
}

/* Enables queue 0 and sets DRIVER_OK; true if the device accepted it. */
static bool start(Fixture *f)
{
    HgrVirtioDevice *vdev = &f->sink.vdev;

    hgr_virtio_queue_enable(vdev, 0);
    hgr_virtio_set_status(vdev, vdev->status | VIRTIO_STATUS_DRIVER_OK);
    return hgr_virtio_is_running(vdev) && vdev->queues[0].ready;
}

static void kick(Fixture *f)
{
    g_mutex_lock(&f->sink.vdev.lock);
    hgr_virtio_queue_notify(&f->sink.vdev, 0);
    g_mutex_unlock(&f->sink.vdev.lock);
}

static bool needs_reset(Fixture *f)
{
    return f->sink.vdev.status & VIRTIO_STATUS_NEEDS_RESET;
}

/* The device refused the chain: broken, nothing consumed, nothing used. */
static void assert_refused(Fixture *f)
{
    g_assert_true(needs_reset(f));
    g_assert_cmpuint(f->sink.got, ==, 0);
    g_assert_cmpuint(test_ring_used_idx(&f->ring), ==, 0);
    /* And it stays stopped: a later kick does nothing. */
    kick(f);
    g_assert_cmpuint(f->sink.got, ==, 0);
}

/* Offers the chain at `head`, kicks, and expects it refused. */
static void assert_offer_refused(Fixture *f, uint16_t head)
{
    test_ring_publish(&f->ring, head);
    kick(f);
    assert_refused(f);
}

static void test_size_invalid(Fixture *f, gconstpointer data)
{
    const uint16_t sizes[] = { 0, 12, 512, 0xffff };

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        Fixture *g = g_new0(Fixture, 1);
        fixture_setup(g, NULL);
        g->sink.vdev.queues[0].size = sizes[i];
        g_assert_false(start(g));
        g_assert_true(needs_reset(g));
        g_assert_false(g->sink.vdev.queues[0].ready);
        fixture_teardown(g, NULL);
        g_free(g);
    }
}

static void test_rings_unaligned(Fixture *f, gconstpointer data)
{
    HgrVirtq vq;
    hgr_virtq_init(&vq, 256);
    test_ring_attach(&f->ring, &vq);
    g_assert_true(hgr_virtq_valid(&vq, &f->mem));
    vq.desc_gpa += 8;
    g_assert_false(hgr_virtq_valid(&vq, &f->mem));
    test_ring_attach(&f->ring, &vq);
    vq.avail_gpa += 1;
    g_assert_false(hgr_virtq_valid(&vq, &f->mem));
    test_ring_attach(&f->ring, &vq);
    vq.used_gpa += 2;
    g_assert_false(hgr_virtq_valid(&vq, &f->mem));

    f->sink.vdev.queues[0].used_gpa += 2;
    g_assert_false(start(f));
    g_assert_true(needs_reset(f));
}

static void test_rings_outside_ram(Fixture *f, gconstpointer data)
{
    HgrVirtq vq;
    hgr_virtq_init(&vq, 256);
    test_ring_attach(&f->ring, &vq);
    vq.desc_gpa = LOW_BASE + sizeof(f->low) - 16 * 8;      /* runs into the PCI hole */
    g_assert_false(hgr_virtq_valid(&vq, &f->mem));
    test_ring_attach(&f->ring, &vq);
    vq.used_gpa = HGR_PCI_MMIO_BASE;                       /* a device BAR, not RAM */
    g_assert_false(hgr_virtq_valid(&vq, &f->mem));
    test_ring_attach(&f->ring, &vq);
    vq.avail_gpa = HIGH_BASE + sizeof(f->high) - 8;        /* past the end of RAM */
    g_assert_false(hgr_virtq_valid(&vq, &f->mem));
    test_ring_attach(&f->ring, &vq);
    vq.desc_gpa = UINT64_MAX & ~15ULL;                     /* wraps */
    g_assert_false(hgr_virtq_valid(&vq, &f->mem));

    f->sink.vdev.queues[0].desc_gpa = HGR_PCI_MMIO_BASE;
    g_assert_false(start(f));
    g_assert_true(needs_reset(f));
}

static void test_next_out_of_range(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    test_ring_desc(&f->ring, 0, BUF, 16, VRING_DESC_F_NEXT, QSIZE);
    assert_offer_refused(f, 0);
}

static void test_head_out_of_range(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    assert_offer_refused(f, QSIZE + 3);
}

static void test_chain_cycle(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    test_ring_desc(&f->ring, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
    test_ring_desc(&f->ring, 1, BUF, 16, VRING_DESC_F_NEXT, 2);
    test_ring_desc(&f->ring, 2, BUF, 16, VRING_DESC_F_NEXT, 0);
    assert_offer_refused(f, 0);
}

/* Zero-length descriptors in a loop (CVE-2016-7422's shape) end too. */
static void test_zero_length_cycle(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    test_ring_desc(&f->ring, 0, BUF, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0);
    assert_offer_refused(f, 0);
}

/* A chain using every descriptor is legal; one more is not possible
 * without a cycle in the ring, and an indirect table may not be longer
 * than the largest queue. */
static void test_chain_length_limits(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    for (uint16_t i = 0; i < QSIZE; i++)
        test_ring_desc(&f->ring, i, BUF + 16 * i, 16, VRING_DESC_F_WRITE |
                       (i + 1 < QSIZE ? VRING_DESC_F_NEXT : 0), i + 1);
    test_ring_publish(&f->ring, 0);
    kick(f);
    g_assert_false(needs_reset(f));
    g_assert_cmpuint(f->sink.got, ==, 1);
    g_assert_cmpuint(f->sink.elem.n_in, ==, QSIZE);
    g_assert_cmpuint(f->sink.elem.in_len, ==, 16 * QSIZE);

    /* An indirect table of 1025 entries (it need not all be in RAM: the
     * length alone is refused). */
    test_ring_desc(&f->ring, 0, BUF, 16 * (HGR_VIRTQ_MAX_SIZE + 1), VRING_DESC_F_INDIRECT, 0);
    test_ring_publish(&f->ring, 0);
    kick(f);
    g_assert_true(needs_reset(f));
    g_assert_cmpuint(f->sink.got, ==, 1);
}

static void test_indirect_cycle(Fixture *f, gconstpointer data)
{
    uint64_t table = BUF;

    g_assert_true(start(f));
    test_desc_at(&f->mem, table, 0, BUF + 0x1000, 8, VRING_DESC_F_NEXT, 1);
    test_desc_at(&f->mem, table, 1, BUF + 0x1000, 8, VRING_DESC_F_NEXT, 0);
    test_ring_desc(&f->ring, 0, table, 32, VRING_DESC_F_INDIRECT, 0);
    assert_offer_refused(f, 0);
}

static void test_indirect_with_next(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    test_desc_at(&f->mem, BUF, 0, BUF + 0x1000, 8, 0, 0);
    test_ring_desc(&f->ring, 0, BUF, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
    test_ring_desc(&f->ring, 1, BUF + 0x1000, 8, VRING_DESC_F_WRITE, 0);
    assert_offer_refused(f, 0);
}

static void test_indirect_nested(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    test_desc_at(&f->mem, BUF + 0x100, 0, BUF + 0x1000, 8, VRING_DESC_F_WRITE, 0);
    test_desc_at(&f->mem, BUF, 0, BUF + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
    test_ring_desc(&f->ring, 0, BUF, 16, VRING_DESC_F_INDIRECT, 0);
    assert_offer_refused(f, 0);
}

static void test_indirect_bad_length(Fixture *f, gconstpointer data)
{
    const uint32_t lens[] = { 0, 8, 24, 17 };

    for (size_t i = 0; i < G_N_ELEMENTS(lens); i++) {
        Fixture *g = g_new0(Fixture, 1);
        fixture_setup(g, NULL);
        g_assert_true(start(g));
        test_desc_at(&g->mem, BUF, 0, BUF + 0x1000, 8, VRING_DESC_F_WRITE, 0);
        test_desc_at(&g->mem, BUF, 1, BUF + 0x1000, 8, VRING_DESC_F_WRITE, 0);
        test_ring_desc(&g->ring, 0, BUF, lens[i], VRING_DESC_F_INDIRECT, 0);
        assert_offer_refused(g, 0);
        fixture_teardown(g, NULL);
        g_free(g);
    }
}

/* A well-formed indirect table works (the refusals above are not blanket). */
static void test_indirect_ok(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    memcpy(f->low + 0x9000, "request", 7);
    test_desc_at(&f->mem, BUF, 0, LOW_BASE + 0x9000, 7, VRING_DESC_F_NEXT, 1);
    test_desc_at(&f->mem, BUF, 1, BUF + 0x1000, 32, VRING_DESC_F_WRITE, 0);
    test_ring_desc(&f->ring, 0, BUF, 32, VRING_DESC_F_INDIRECT, 0);
    test_ring_publish(&f->ring, 0);
    kick(f);
    g_assert_false(needs_reset(f));
    g_assert_cmpuint(f->sink.elem.out_len, ==, 7);
    g_assert_cmpuint(f->sink.elem.in_len, ==, 32);
    uint32_t id, len;
    test_ring_used_elem(&f->ring, 0, &id, &len);
    g_assert_cmpuint(id, ==, 0);
    g_assert_cmpuint(len, ==, 32);
}

static void test_desc_length_zero(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    test_ring_desc(&f->ring, 0, BUF, 0, VRING_DESC_F_WRITE, 0);
    test_ring_publish(&f->ring, 0);
    kick(f);
    g_assert_false(needs_reset(f));
    g_assert_cmpuint(f->sink.got, ==, 1);
    g_assert_cmpuint(f->sink.elem.in_len, ==, 0);
    g_assert_cmpuint(test_ring_used_idx(&f->ring), ==, 1);
}

/* One writable descriptor [addr, addr+len) that is not all RAM. */
static void assert_buffer_refused(Fixture *f, uint64_t addr, uint32_t len)
{
    g_assert_true(start(f));
    test_ring_desc(&f->ring, 0, addr, len, VRING_DESC_F_WRITE, 0);
    assert_offer_refused(f, 0);
}

static void test_desc_length_max(Fixture *f, gconstpointer data)
{
    assert_buffer_refused(f, BUF, 0xffffffff);
}

static void test_desc_wrapping(Fixture *f, gconstpointer data)
{
    assert_buffer_refused(f, UINT64_MAX - 0xfff, 0x2000);
}

static void test_buffer_into_hole(Fixture *f, gconstpointer data)
{
    assert_buffer_refused(f, HGR_LOWMEM_LIMIT - 0x100, 0x200);
}

/* RAM contiguous for the guest but two host mappings: the buffer becomes
 * two iovecs and the bytes land on both sides. */
static void test_buffer_straddles_regions(void)
{
    static uint8_t a[0x8000], b[0x8000];
    HgrGuestMem mem = {
        .regions = { { 0, sizeof(a), a }, { sizeof(a), sizeof(b), b } },
        .n_regions = 2, .ram_size = sizeof(a) + sizeof(b) };
    TestRing ring;
    HgrVirtq vq;
    HgrVirtqElem e;

    test_ring_init(&ring, &mem, 0x1000, 8);
    hgr_virtq_init(&vq, 8);
    test_ring_attach(&ring, &vq);
    g_assert_true(hgr_virtq_valid(&vq, &mem));
    vq.ready = true;
    test_ring_desc(&ring, 0, sizeof(a) - 4, 8, VRING_DESC_F_WRITE, 0);
    test_ring_publish(&ring, 0);
    g_assert_cmpint(hgr_virtq_pop(&vq, &mem, &e), ==, HGR_VIRTQ_GOT);
    g_assert_cmpuint(e.n_in, ==, 2);
    g_assert_cmpuint(hgr_iov_from_buf(e.iov, e.n_in, 0, "ABCDEFGH", 8), ==, 8);
    g_assert_cmpmem(a + sizeof(a) - 4, 4, "ABCD", 4);
    g_assert_cmpmem(b, 4, "EFGH", 4);
}

/* A buffer above 4 GiB is as good as one below. */
static void test_buffer_high(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    memcpy(f->high + 0x100, "from above 4G", 13);
    test_ring_desc(&f->ring, 0, HIGH_BASE + 0x100, 13, 0, 0);
    test_ring_publish(&f->ring, 0);
    kick(f);
    g_assert_false(needs_reset(f));
    char buf[13];
    g_assert_cmpuint(hgr_iov_to_buf(f->sink.elem.iov, f->sink.elem.n_out, 0, buf, 13), ==, 13);
    g_assert_cmpmem(buf, 13, "from above 4G", 13);
}

static void test_avail_jump(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    test_ring_desc(&f->ring, 0, BUF, 16, VRING_DESC_F_WRITE, 0);
    test_ring_set_avail_idx(&f->ring, QSIZE + 1);
    g_assert_cmpuint(hgr_virtq_pending(&f->sink.vdev.queues[0], &f->mem), ==, 0);
    kick(f);
    assert_refused(f);
}

/* The same head offered twice is served twice: deterministic, host alive. */
static void test_same_head_twice(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    test_ring_desc(&f->ring, 0, BUF, 16, VRING_DESC_F_WRITE, 0);
    test_ring_publish(&f->ring, 0);
    test_ring_publish(&f->ring, 0);
    kick(f);
    g_assert_false(needs_reset(f));
    g_assert_cmpuint(f->sink.got, ==, 2);
    g_assert_cmpuint(test_ring_used_idx(&f->ring), ==, 2);
}

static void test_readable_after_writable(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    test_ring_desc(&f->ring, 0, BUF, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
    test_ring_desc(&f->ring, 1, BUF + 16, 16, 0, 0);
    assert_offer_refused(f, 0);
}

/* Out buffers then in buffers: order, lengths, data, used element. */
static void test_normal_chain(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    memcpy(f->low + 0x8000, "head", 4);
    memcpy(f->low + 0x8100, "payload!", 8);
    test_ring_desc(&f->ring, 3, BUF, 4, VRING_DESC_F_NEXT, 7);
    test_ring_desc(&f->ring, 7, BUF + 0x100, 8, VRING_DESC_F_NEXT, 1);
    test_ring_desc(&f->ring, 1, BUF + 0x200, 100, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
    test_ring_desc(&f->ring, 2, BUF + 0x300, 1, VRING_DESC_F_WRITE, 0);
    test_ring_publish(&f->ring, 3);
    kick(f);

    HgrVirtqElem *e = &f->sink.elem;
    g_assert_false(needs_reset(f));
    g_assert_cmpuint(e->head, ==, 3);
    g_assert_cmpuint(e->n_out, ==, 2);
    g_assert_cmpuint(e->n_in, ==, 2);
    g_assert_cmpuint(e->out_len, ==, 12);
    g_assert_cmpuint(e->in_len, ==, 101);
    char out[12];
    g_assert_cmpuint(hgr_iov_to_buf(e->iov, e->n_out, 0, out, sizeof(out)), ==, 12);
    g_assert_cmpmem(out, 12, "headpayload!", 12);
    g_assert_true(e->iov[e->n_out].iov_base == f->low + 0x8200);

    uint32_t id, len;
    g_assert_cmpuint(test_ring_used_idx(&f->ring), ==, 1);
    test_ring_used_elem(&f->ring, 0, &id, &len);
    g_assert_cmpuint(id, ==, 3);
    g_assert_cmpuint(len, ==, 101);
}

/* Without event idx the avail flag decides; with it, used_event does, and
 * the device publishes avail_event as it consumes. */
static void test_notification_suppression(Fixture *f, gconstpointer data)
{
    HgrVirtq vq;
    HgrVirtqElem e;

    hgr_virtq_init(&vq, 256);
    test_ring_attach(&f->ring, &vq);
    vq.ready = true;
    test_ring_desc(&f->ring, 0, BUF, 16, VRING_DESC_F_WRITE, 0);

    g_assert_true(hgr_virtq_push(&vq, &f->mem, 0, 0));
    g_assert_true(hgr_virtq_should_notify(&vq, &f->mem));
    g_assert_true(hgr_mem_write_u16(&f->mem, f->ring.avail, VRING_AVAIL_F_NO_INTERRUPT));
    g_assert_true(hgr_virtq_push(&vq, &f->mem, 0, 0));
    g_assert_false(hgr_virtq_should_notify(&vq, &f->mem));

    vq.event_idx = true;
    g_assert_true(hgr_virtq_should_notify(&vq, &f->mem));   /* first one always */
    test_ring_set_used_event(&f->ring, 4);                   /* "after the 5th" */
    for (uint16_t used = 3; used <= 4; used++) {
        g_assert_true(hgr_virtq_push(&vq, &f->mem, 0, 0));
        g_assert_false(hgr_virtq_should_notify(&vq, &f->mem));
    }
    g_assert_true(hgr_virtq_push(&vq, &f->mem, 0, 0));       /* used idx 5 passes 4 */
    g_assert_true(hgr_virtq_should_notify(&vq, &f->mem));
    g_assert_true(hgr_virtq_push(&vq, &f->mem, 0, 0));
    g_assert_false(hgr_virtq_should_notify(&vq, &f->mem));   /* 4 already passed */

    test_ring_publish(&f->ring, 0);
    test_ring_publish(&f->ring, 0);
    g_assert_cmpint(hgr_virtq_pop(&vq, &f->mem, &e), ==, HGR_VIRTQ_GOT);
    g_assert_cmpuint(test_ring_avail_event(&f->ring), ==, 1);
    g_assert_cmpint(hgr_virtq_pop(&vq, &f->mem, &e), ==, HGR_VIRTQ_GOT);
    g_assert_cmpuint(test_ring_avail_event(&f->ring), ==, 2);
    g_assert_cmpint(hgr_virtq_pop(&vq, &f->mem, &e), ==, HGR_VIRTQ_EMPTY);
}

/* A used ring that turns out unwritable (RAM shrank under a loaded state)
 * breaks the device instead of writing elsewhere. */
static void test_used_ring_unwritable(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    test_ring_desc(&f->ring, 0, BUF, 16, VRING_DESC_F_WRITE, 0);
    test_ring_publish(&f->ring, 0);
    f->sink.vdev.queues[0].used_gpa = HGR_PCI_MMIO_BASE;
    kick(f);
    g_assert_true(needs_reset(f));
}

static void test_notify_missing_queue(Fixture *f, gconstpointer data)
{
    g_assert_true(start(f));
    g_mutex_lock(&f->sink.vdev.lock);
    hgr_virtio_queue_notify(&f->sink.vdev, 1);
    hgr_virtio_queue_notify(&f->sink.vdev, UINT_MAX);
    g_mutex_unlock(&f->sink.vdev.lock);
    g_assert_false(needs_reset(f));
    g_assert_cmpuint(f->sink.got, ==, 0);
}

/* Acking a feature that was not offered refuses FEATURES_OK and leaves
 * nothing acked behind. */
static void test_features_not_offered(void)
{
    static uint8_t ram[0x1000];
    HgrGuestMem mem;
    Sink s;

    hgr_mem_init_pc(&mem, ram, sizeof(ram));
    hgr_virtio_init(&s.vdev, &sink_ops, &mem, NULL);
    g_assert_false(hgr_virtio_set_driver_features(&s.vdev, 1ULL << VIRTIO_F_VERSION_1 |
                                                           1ULL << 50));
    hgr_virtio_set_status(&s.vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                   VIRTIO_STATUS_FEATURES_OK);
    g_assert_false(s.vdev.status & VIRTIO_STATUS_FEATURES_OK);
    g_assert_cmphex(s.vdev.driver_features & ~s.vdev.device_features, ==, 0);
    hgr_virtio_destroy(&s.vdev);
}

#define ADD(path, fn) g_test_add("/vmm/virtqueue/" path, Fixture, NULL, fixture_setup, fn, \
                                 fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
    ADD("size-invalid", test_size_invalid);
    ADD("rings-unaligned", test_rings_unaligned);
    ADD("rings-outside-ram", test_rings_outside_ram);
    ADD("next-out-of-range", test_next_out_of_range);
    ADD("head-out-of-range", test_head_out_of_range);
    ADD("chain-cycle", test_chain_cycle);
    ADD("zero-length-cycle", test_zero_length_cycle);
    ADD("chain-length-limits", test_chain_length_limits);
    ADD("indirect-cycle", test_indirect_cycle);
    ADD("indirect-with-next", test_indirect_with_next);
    ADD("indirect-nested", test_indirect_nested);
    ADD("indirect-bad-length", test_indirect_bad_length);
    ADD("indirect-ok", test_indirect_ok);
    ADD("desc-length-zero", test_desc_length_zero);
    ADD("desc-length-max", test_desc_length_max);
    ADD("desc-addr-wrapping", test_desc_wrapping);
    ADD("buffer-into-hole", test_buffer_into_hole);
    g_test_add_func("/vmm/virtqueue/buffer-straddles-regions", test_buffer_straddles_regions);
    ADD("buffer-above-4g", test_buffer_high);
    ADD("avail-idx-jump", test_avail_jump);
    ADD("same-head-twice", test_same_head_twice);
    ADD("readable-after-writable", test_readable_after_writable);
    ADD("normal-chain", test_normal_chain);
    ADD("notification-suppression", test_notification_suppression);
    ADD("used-ring-unwritable", test_used_ring_unwritable);
    ADD("notify-missing-queue", test_notify_missing_queue);
    g_test_add_func("/vmm/virtqueue/features-not-offered", test_features_not_offered);
    return g_test_run();
}
