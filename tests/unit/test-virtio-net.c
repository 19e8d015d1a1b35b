/* test-virtio-net.c — virtio-net driven through the virtio core with queues
 * in a fake RAM, over the real slirp backend on a real I/O thread. */
#include <glib.h>
#include <string.h>

#include "fake-virtq.h"
#include "net-frames.h"
#include "virtio/virtio-net.h"

#define F(bit) (1ULL << (bit))
#define NET_F_MAC 5
#define NET_F_MRG_RXBUF 15
#define NET_F_STATUS 16
#define FEATURES_BASE (F(VIRTIO_F_VERSION_1) | F(NET_F_MAC) | F(NET_F_STATUS))
#define FEATURES_MRG (FEATURES_BASE | F(NET_F_MRG_RXBUF) | F(VIRTIO_RING_F_EVENT_IDX))
#define RXQ 0
#define TXQ 1
#define HDR 12

typedef struct {
    FakeRam ram;
    HgrIoThread *t;
    HgrNetBackend *be;
    HgrVirtioDevice *vdev;
    FakeVq rx, tx;
    gint queue_irqs[2];
    gint config_irqs;
} Rig;

static void on_queue_irq(void *opaque, unsigned q)
{
    Rig *r = opaque;
    g_atomic_int_inc(&r->queue_irqs[q]);
}

static void on_config_irq(void *opaque)
{
    Rig *r = opaque;
    g_atomic_int_inc(&r->config_irqs);
}

static void rig_init(Rig *r, uint64_t features)
{
    memset(r, 0, sizeof(*r));
    fake_ram_init(&r->ram);
    r->t = hgr_iothread_new("test-virtio-net");
    r->be = hgr_net_slirp_new(NULL, NULL);
    g_assert_nonnull(r->be);
    hgr_net_attach(r->be, r->t);
    r->vdev = hgr_virtio_net_new(&r->ram.mem, r->t, r->be, guest_mac);
    r->vdev->transport = (HgrVirtioTransport){ on_queue_irq, on_config_irq, r };
    hgr_iothread_start(r->t);
    fake_driver_negotiate(r->vdev, features);
    fake_vq_setup(&r->rx, r->vdev, RXQ, &r->ram, 64);
    fake_vq_setup(&r->tx, r->vdev, TXQ, &r->ram, 64);
    fake_driver_ok(r->vdev);
}

static void rig_clear(Rig *r)
{
    hgr_virtio_destroy(r->vdev);
    g_free(r->vdev);
    hgr_net_free(r->be);
    hgr_iothread_free(r->t);
    fake_ram_clear(&r->ram);
}

/* Header and frame in separate descriptors, as Linux sends them. */
static void rig_tx(Rig *r, const void *frame, size_t len)
{
    uint8_t hdr[HDR] = { 0 };
    FakeBuf b[2] = { fake_ram_out(&r->ram, hdr, HDR), fake_ram_out(&r->ram, frame, len) };

    fake_vq_add(&r->tx, b, 2);
    fake_vq_kick_on(r->t, r->vdev, TXQ);
}

static void rig_tx_arp(Rig *r)
{
    uint8_t f[64];
    rig_tx(r, f, build_arp_request(f, IP_GUEST, IP_HOST));
}

static FakeBuf rig_rx_buffer(Rig *r, uint32_t len)
{
    FakeBuf b = fake_ram_in(&r->ram, len);
    fake_vq_add(&r->rx, &b, 1);
    return b;
}

static HgrVirtioNetStats rig_stats(Rig *r)
{
    HgrVirtioNetStats st;
    hgr_virtio_net_get_stats(r->vdev, &st);
    return st;
}

static uint16_t hdr_num_buffers(const uint8_t *hdr)
{
    return (uint16_t)(hdr[10] | hdr[11] << 8);
}

static void test_arp_roundtrip(void)
{
    Rig r;
    uint8_t cfg[8];

    rig_init(&r, FEATURES_BASE);
    hgr_virtio_config_read(r.vdev, 0, cfg, 8);
    g_assert_cmpmem(cfg, 6, guest_mac, 6);
    g_assert_cmpuint(cfg[6], ==, 1);                     /* link up */

    FakeBuf rx = rig_rx_buffer(&r, 1526);
    fake_vq_kick_on(r.t, r.vdev, RXQ);
    rig_tx_arp(&r);
    g_assert_true(fake_vq_wait_used(&r.tx, 1));
    uint32_t id, len;
    fake_vq_used_elem(&r.tx, 0, &id, &len);
    g_assert_cmpuint(len, ==, 0);

    g_assert_true(fake_vq_wait_used(&r.rx, 1));
    fake_vq_used_elem(&r.rx, 0, &id, &len);
    g_assert_cmpuint(id, ==, 0);
    const uint8_t *p = fake_ram_ptr(&r.ram, rx.gpa);
    g_assert_cmpuint(len, >=, HDR + 42);
    g_assert_cmpuint(p[0], ==, 0);                       /* no checksum offload */
    g_assert_cmpuint(p[1], ==, 0);                       /* no GSO */
    g_assert_cmpuint(hdr_num_buffers(p), ==, 1);
    g_assert_true(frame_is_arp_reply(p + HDR, len - HDR, IP_HOST));
    g_assert_cmpint(g_atomic_int_get(&r.queue_irqs[RXQ]), >=, 1);
    g_assert_cmpuint(rig_stats(&r).tx_frames, ==, 1);
    g_assert_cmpuint(rig_stats(&r).rx_frames, ==, 1);
    rig_clear(&r);
}

/* With MRG_RXBUF a reply larger than one buffer spans several, and the
 * header says how many. */
static void test_rx_mergeable(void)
{
    Rig r;
    FakeBuf rx[4];
    uint8_t got[4 * 32];
    size_t got_len = 0;

    rig_init(&r, FEATURES_MRG);
    for (int i = 0; i < 4; i++)
        rx[i] = rig_rx_buffer(&r, 32);
    rig_tx_arp(&r);
    g_assert_true(fake_vq_wait_used(&r.rx, 1));
    uint16_t nbuf = hdr_num_buffers(fake_ram_ptr(&r.ram, rx[0].gpa));
    g_assert_cmpuint(nbuf, >=, 2);                       /* 12 + 42 bytes at least */
    g_assert_cmpuint(nbuf, <=, 4);
    g_assert_true(fake_vq_wait_used(&r.rx, nbuf));
    for (uint16_t i = 0; i < nbuf; i++) {
        uint32_t id, len;
        fake_vq_used_elem(&r.rx, i, &id, &len);
        g_assert_cmpuint(id, ==, i);
        g_assert_cmpuint(len, <=, 32);
        if (i + 1 < nbuf)
            g_assert_cmpuint(len, ==, 32);               /* filled before the next */
        memcpy(got + got_len, fake_ram_ptr(&r.ram, rx[i].gpa), len);
        got_len += len;
    }
    g_assert_true(frame_is_arp_reply(got + HDR, got_len - HDR, IP_HOST));
    rig_clear(&r);
}

/* Without MRG_RXBUF a buffer too small for the frame is left alone and the
 * frame dropped; the next frame with a big enough buffer still arrives. */
static void test_rx_too_small_without_mergeable(void)
{
    Rig r;

    rig_init(&r, FEATURES_BASE);
    rig_rx_buffer(&r, 32);
    rig_tx_arp(&r);
    g_assert_true(fake_vq_wait_used(&r.tx, 1));
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (rig_stats(&r).rx_dropped == 0 && g_get_monotonic_time() < end)
        g_usleep(1000);
    g_assert_cmpuint(rig_stats(&r).rx_dropped, ==, 1);
    g_assert_cmpuint(fake_vq_used_idx(&r.rx), ==, 0);
    g_assert_true(hgr_virtio_is_running(r.vdev));
    rig_clear(&r);
}

/* No RX buffers: the backend holds the reply until the driver adds one and
 * kicks the receive queue. */
static void test_rx_waits_for_buffers(void)
{
    Rig r;

    rig_init(&r, FEATURES_MRG);
    rig_tx_arp(&r);
    g_assert_true(fake_vq_wait_used(&r.tx, 1));
    g_usleep(50000);
    g_assert_cmpuint(rig_stats(&r).rx_frames, ==, 0);
    g_assert_cmpuint(rig_stats(&r).rx_dropped, ==, 0);

    FakeBuf rx = rig_rx_buffer(&r, 2048);
    fake_vq_kick_on(r.t, r.vdev, RXQ);
    g_assert_true(fake_vq_wait_used(&r.rx, 1));
    uint32_t id, len;
    fake_vq_used_elem(&r.rx, 0, &id, &len);
    g_assert_true(frame_is_arp_reply(fake_ram_ptr(&r.ram, rx.gpa) + HDR, len - HDR, IP_HOST));
    rig_clear(&r);
}

static void test_tx_hostile(void)
{
    Rig r;
    uint8_t junk[16] = { 0 };

    rig_init(&r, FEATURES_MRG);
    /* Shorter than the header. */
    FakeBuf shortb = fake_ram_out(&r.ram, junk, 5);
    fake_vq_add(&r.tx, &shortb, 1);
    /* Only device-writable buffers. */
    FakeBuf wr = fake_ram_in(&r.ram, 64);
    fake_vq_add(&r.tx, &wr, 1);
    /* A frame larger than any Ethernet frame may be. */
    FakeBuf big[2] = { fake_ram_out(&r.ram, junk, HDR), fake_ram_in(&r.ram, 70000) };
    big[1].write = false;
    fake_vq_add(&r.tx, big, 2);
    fake_vq_kick_on(r.t, r.vdev, TXQ);
    g_assert_cmpuint(fake_vq_used_idx(&r.tx), ==, 3);
    g_assert_cmpuint(rig_stats(&r).tx_dropped, ==, 3);
    g_assert_cmpuint(rig_stats(&r).tx_frames, ==, 0);
    g_assert_true(hgr_virtio_is_running(r.vdev));

    /* An RX buffer smaller than the header comes back empty; the frame is
     * dropped and the device goes on with the next buffer. */
    rig_rx_buffer(&r, 4);
    rig_tx_arp(&r);
    g_assert_true(fake_vq_wait_used(&r.rx, 1));
    uint32_t id, len;
    fake_vq_used_elem(&r.rx, 0, &id, &len);
    g_assert_cmpuint(len, ==, 0);
    g_assert_cmpuint(rig_stats(&r).rx_errors, ==, 1);
    FakeBuf rx = rig_rx_buffer(&r, 2048);
    rig_tx_arp(&r);
    g_assert_true(fake_vq_wait_used(&r.rx, 2));
    fake_vq_used_elem(&r.rx, 1, &id, &len);
    g_assert_true(frame_is_arp_reply(fake_ram_ptr(&r.ram, rx.gpa) + HDR, len - HDR, IP_HOST));

    /* A chain pointing past the descriptor table breaks the device, not us. */
    uint16_t head = fake_vq_add(&r.tx, &shortb, 1);
    uint8_t *d = fake_ram_ptr(&r.ram, r.tx.desc + 16u * head);
    uint16_t flags = VRING_DESC_F_NEXT, next = 200;
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
    g_test_expect_message("hangar-vmm", G_LOG_LEVEL_WARNING, "virtio-net: transmit queue*");
    fake_vq_kick_on(r.t, r.vdev, TXQ);
    g_test_assert_expected_messages();
    g_assert_false(hgr_virtio_is_running(r.vdev));
    g_assert_true(r.vdev->status & VIRTIO_STATUS_NEEDS_RESET);
    rig_clear(&r);
}

static void test_link_and_save_load(void)
{
    Rig r;
    uint8_t cfg[8];
    static const uint8_t other_mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
    g_autoptr(GError) err = NULL;

    rig_init(&r, FEATURES_MRG);
    rig_rx_buffer(&r, 2048);
    rig_tx_arp(&r);
    g_assert_true(fake_vq_wait_used(&r.rx, 1));
    hgr_virtio_net_set_link(r.vdev, false);
    g_assert_cmpint(g_atomic_int_get(&r.config_irqs), ==, 1);
    hgr_virtio_config_read(r.vdev, 6, cfg, 2);
    g_assert_cmpuint(cfg[0], ==, 0);
    /* With the cable out nothing leaves. */
    rig_tx_arp(&r);
    g_assert_cmpuint(rig_stats(&r).tx_dropped, ==, 1);
    g_assert_cmpuint(fake_vq_used_idx(&r.tx), ==, 2);

    g_autoptr(GByteArray) saved = fake_virtio_save(r.vdev);
    HgrVirtioDevice *copy = hgr_virtio_net_new(&r.ram.mem, NULL, NULL, other_mac);
    g_assert_true(fake_virtio_load(copy, saved, &err));
    g_assert_no_error(err);
    hgr_virtio_config_read(copy, 0, cfg, 8);
    g_assert_cmpmem(cfg, 6, guest_mac, 6);
    g_assert_cmpuint(cfg[6], ==, 0);
    g_assert_true(hgr_virtio_is_running(copy));
    g_assert_cmpuint(copy->queues[RXQ].used_idx, ==, 1);
    g_autoptr(GByteArray) again = fake_virtio_save(copy);
    g_assert_cmpmem(again->data, again->len, saved->data, saved->len);

    /* Tampered device part: unknown status bits, multicast MAC, truncated. */
    HgrVirtioDevice *fresh = hgr_virtio_net_new(&r.ram.mem, NULL, NULL, other_mac);
    g_autoptr(GByteArray) bad = g_byte_array_new();
    g_byte_array_append(bad, saved->data, saved->len);
    bad->data[bad->len - 2] = 0x80;
    g_assert_false(fake_virtio_load(fresh, bad, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
    g_clear_error(&err);
    memcpy(bad->data, saved->data, saved->len);
    bad->data[bad->len - 8] |= 1;
    g_assert_false(fake_virtio_load(fresh, bad, &err));
    g_clear_error(&err);
    g_byte_array_set_size(bad, saved->len - 1);
    memcpy(bad->data, saved->data, bad->len);
    g_assert_false(fake_virtio_load(fresh, bad, &err));
    g_clear_error(&err);
    hgr_virtio_config_read(fresh, 0, cfg, 8);
    g_assert_cmpmem(cfg, 6, other_mac, 6);               /* untouched */
    g_assert_cmpuint(fresh->status, ==, 0);

    hgr_virtio_destroy(copy);
    g_free(copy);
    hgr_virtio_destroy(fresh);
    g_free(fresh);
    rig_clear(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/virtio-net/arp-roundtrip", test_arp_roundtrip);
    g_test_add_func("/vmm/virtio-net/rx-mergeable", test_rx_mergeable);
    g_test_add_func("/vmm/virtio-net/rx-too-small-without-mergeable",
                    test_rx_too_small_without_mergeable);
    g_test_add_func("/vmm/virtio-net/rx-waits-for-buffers", test_rx_waits_for_buffers);
    g_test_add_func("/vmm/virtio-net/tx-hostile", test_tx_hostile);
    g_test_add_func("/vmm/virtio-net/link-and-save-load", test_link_and_save_load);
    return g_test_run();
}
