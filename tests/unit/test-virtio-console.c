/* test-virtio-console.c — virtio-console driven through the virtio core with
 * queues in a fake RAM, over an fd chardev on one end of a socketpair. */
#include <glib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake-virtq.h"
#include "virtio/virtio-console.h"

#define RXQ 0
#define TXQ 1

typedef struct {
    FakeRam ram;
    HgrIoThread *t;
    HgrChardev *chr;
    int peer;                    /* the host side of the socketpair */
    HgrVirtioDevice *vdev;
    FakeVq rx, tx;
} Rig;

static void rig_init(Rig *r)
{
    int sv[2];

    memset(r, 0, sizeof(*r));
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    r->peer = sv[1];
    fake_ram_init(&r->ram);
    r->t = hgr_iothread_new("test-virtio-console");
    r->chr = hgr_chardev_new_fd(sv[0]);
    hgr_chardev_attach(r->chr, r->t);
    r->vdev = hgr_virtio_console_new(&r->ram.mem, r->t, r->chr);
    hgr_iothread_start(r->t);
    fake_driver_negotiate(r->vdev, 1ULL << VIRTIO_F_VERSION_1);
    fake_vq_setup(&r->rx, r->vdev, RXQ, &r->ram, 16);
    fake_vq_setup(&r->tx, r->vdev, TXQ, &r->ram, 16);
    fake_driver_ok(r->vdev);
}

static void rig_clear(Rig *r)
{
    hgr_virtio_destroy(r->vdev);
    g_free(r->vdev);
    hgr_iothread_stop(r->t);
    hgr_chardev_free(r->chr);
    hgr_iothread_free(r->t);
    close(r->peer);
    fake_ram_clear(&r->ram);
}

/* Reads exactly len bytes from the host side within 5 s. */
static bool peer_read(Rig *r, void *buf, size_t len)
{
    size_t got = 0;
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (got < len && g_get_monotonic_time() < end) {
        struct pollfd p = { r->peer, POLLIN, 0 };
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(r->peer, (uint8_t *)buf + got, len - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return got == len;
}

static void peer_write(Rig *r, const char *s)
{
    g_assert_cmpint(write(r->peer, s, strlen(s)), ==, (ssize_t)strlen(s));
}

static FakeBuf rig_rx_buffer(Rig *r, uint32_t len)
{
    FakeBuf b = fake_ram_in(&r->ram, len);
    fake_vq_add(&r->rx, &b, 1);
    return b;
}

static void test_tx_to_chardev(void)
{
    Rig r;
    char got[12] = { 0 };
    uint8_t cfg[8];

    rig_init(&r);
    hgr_virtio_config_read(r.vdev, 0, cfg, 8);
    g_assert_cmpuint(cfg[4], ==, 1);                     /* max_nr_ports */
    FakeBuf b[2] = { fake_ram_out(&r.ram, "hello ", 6), fake_ram_out(&r.ram, "world", 5) };
    fake_vq_add(&r.tx, b, 2);
    fake_vq_kick_on(r.t, r.vdev, TXQ);
    g_assert_true(peer_read(&r, got, 11));
    g_assert_cmpstr(got, ==, "hello world");
    g_assert_cmpuint(fake_vq_used_idx(&r.tx), ==, 1);
    uint32_t id, len;
    fake_vq_used_elem(&r.tx, 0, &id, &len);
    g_assert_cmpuint(len, ==, 0);
    rig_clear(&r);
}

static void test_rx_from_chardev(void)
{
    Rig r;

    rig_init(&r);
    FakeBuf b = rig_rx_buffer(&r, 64);
    fake_vq_kick_on(r.t, r.vdev, RXQ);
    peer_write(&r, "abc");
    g_assert_true(fake_vq_wait_used(&r.rx, 1));
    uint32_t id, len;
    fake_vq_used_elem(&r.rx, 0, &id, &len);
    g_assert_cmpuint(len, ==, 3);
    g_assert_cmpmem(fake_ram_ptr(&r.ram, b.gpa), 3, "abc", 3);
    rig_clear(&r);
}

/* Input waits while the guest has no buffers, then arrives whole and in
 * order across buffers smaller than it. */
static void test_rx_waits_for_buffers(void)
{
    Rig r;
    GString *sent = g_string_new(NULL);
    FakeBuf b[4];
    uint8_t got[400];
    size_t got_len = 0;

    rig_init(&r);
    for (int i = 0; i < 30; i++)
        g_string_append_printf(sent, "line %04d\n", i);     /* 300 bytes */
    peer_write(&r, sent->str);
    g_usleep(50000);
    g_assert_cmpuint(fake_vq_used_idx(&r.rx), ==, 0);

    for (int i = 0; i < 4; i++)
        b[i] = rig_rx_buffer(&r, 100);
    fake_vq_kick_on(r.t, r.vdev, RXQ);
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    uint16_t used = 0;
    while (got_len < sent->len && g_get_monotonic_time() < end) {
        if (fake_vq_used_idx(&r.rx) == used) {
            g_usleep(1000);
            continue;
        }
        uint32_t id, len;
        fake_vq_used_elem(&r.rx, used++, &id, &len);
        g_assert_cmpuint(id, <, 4);
        g_assert_cmpuint(len, <=, 100);
        g_assert_cmpuint(got_len + len, <=, sizeof(got));
        memcpy(got + got_len, fake_ram_ptr(&r.ram, b[id].gpa), len);
        got_len += len;
    }
    g_assert_cmpmem(got, got_len, sent->str, sent->len);
    g_string_free(sent, TRUE);
    rig_clear(&r);
}

/* A receive chain with nothing writable comes back empty; input goes to
 * the next one. */
static void test_rx_unwritable_chain(void)
{
    Rig r;

    rig_init(&r);
    FakeBuf ro = fake_ram_out(&r.ram, "xx", 2);
    fake_vq_add(&r.rx, &ro, 1);
    FakeBuf b = rig_rx_buffer(&r, 16);
    fake_vq_kick_on(r.t, r.vdev, RXQ);
    peer_write(&r, "ok");
    g_assert_true(fake_vq_wait_used(&r.rx, 2));
    uint32_t id, len;
    fake_vq_used_elem(&r.rx, 0, &id, &len);
    g_assert_cmpuint(len, ==, 0);
    fake_vq_used_elem(&r.rx, 1, &id, &len);
    g_assert_cmpuint(len, ==, 2);
    g_assert_cmpmem(fake_ram_ptr(&r.ram, b.gpa), 2, "ok", 2);
    g_assert_true(hgr_virtio_is_running(r.vdev));
    rig_clear(&r);
}

static void test_save_load(void)
{
    Rig r;
    char got[3];
    g_autoptr(GError) err = NULL;

    rig_init(&r);
    FakeBuf b = fake_ram_out(&r.ram, "hi\n", 3);
    fake_vq_add(&r.tx, &b, 1);
    fake_vq_kick_on(r.t, r.vdev, TXQ);
    g_assert_true(peer_read(&r, got, 3));
    rig_rx_buffer(&r, 16);

    g_autoptr(GByteArray) saved = fake_virtio_save(r.vdev);
    HgrChardev *null_chr = hgr_chardev_new_null();
    HgrVirtioDevice *copy = hgr_virtio_console_new(&r.ram.mem, NULL, null_chr);
    g_assert_true(fake_virtio_load(copy, saved, &err));
    g_assert_no_error(err);
    g_assert_true(hgr_virtio_is_running(copy));
    g_assert_cmpuint(copy->queues[TXQ].last_avail, ==, 1);
    g_autoptr(GByteArray) again = fake_virtio_save(copy);
    g_assert_cmpmem(again->data, again->len, saved->data, saved->len);

    /* A truncated state and one whose queue is larger than the device's are
     * refused, leaving the device as it was. */
    HgrVirtioDevice *fresh = hgr_virtio_console_new(&r.ram.mem, NULL, null_chr);
    g_autoptr(GByteArray) bad = g_byte_array_new();
    g_byte_array_append(bad, saved->data, saved->len - 1);
    g_assert_false(fake_virtio_load(fresh, bad, &err));
    g_clear_error(&err);
    g_byte_array_set_size(bad, 0);
    g_byte_array_append(bad, saved->data, saved->len);
    bad->data[12] = 0x00;                                /* queue 0 size: 0x1000 */
    bad->data[13] = 0x10;
    g_assert_false(fake_virtio_load(fresh, bad, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
    g_assert_cmpuint(fresh->status, ==, 0);

    hgr_virtio_destroy(copy);
    g_free(copy);
    hgr_virtio_destroy(fresh);
    g_free(fresh);
    hgr_chardev_free(null_chr);
    rig_clear(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/virtio-console/tx-to-chardev", test_tx_to_chardev);
    g_test_add_func("/vmm/virtio-console/rx-from-chardev", test_rx_from_chardev);
    g_test_add_func("/vmm/virtio-console/rx-waits-for-buffers", test_rx_waits_for_buffers);
    g_test_add_func("/vmm/virtio-console/rx-unwritable-chain", test_rx_unwritable_chain);
    g_test_add_func("/vmm/virtio-console/save-load", test_save_load);
    return g_test_run();
}
