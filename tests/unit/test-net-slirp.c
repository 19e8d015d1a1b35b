/* test-net-slirp.c — the slirp backend with the real libslirp on a real I/O
 * thread: DHCP, ARP, host forwards, holding frames, hostile frames. */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake-virtq.h"
#include "net-frames.h"
#include "net/net.h"

typedef struct {
    HgrIoThread *t;
    HgrNetBackend *n;
    GAsyncQueue *frames;          /* of GBytes, from the I/O thread */
    gint accept;
} Rig;

static bool rig_can_receive(void *opaque)
{
    Rig *r = opaque;
    return g_atomic_int_get(&r->accept);
}

static void rig_receive(void *opaque, const void *frame, size_t len)
{
    Rig *r = opaque;
    g_async_queue_push(r->frames, g_bytes_new(frame, len));
}

static void rig_init(Rig *r, const HgrNetConfig *cfg)
{
    g_autoptr(GError) err = NULL;

    r->n = hgr_net_slirp_new(cfg, &err);
    g_assert_no_error(err);
    r->t = hgr_iothread_new("test-net");
    r->frames = g_async_queue_new_full((GDestroyNotify)g_bytes_unref);
    r->accept = 1;
    hgr_net_set_receiver(r->n, rig_can_receive, rig_receive, r);
    hgr_net_attach(r->n, r->t);
    hgr_iothread_start(r->t);
}

static void rig_clear(Rig *r)
{
    hgr_net_free(r->n);
    hgr_iothread_free(r->t);
    g_async_queue_unref(r->frames);
}

typedef struct {
    Rig *r;
    const void *frame;
    size_t len;
} SendOnThread;

static gboolean send_on_thread(gpointer data)
{
    SendOnThread *s = data;
    struct iovec iov = { (void *)s->frame, s->len };
    hgr_net_send(s->r->n, &iov, 1);
    return G_SOURCE_REMOVE;
}

/* On the I/O thread, as virtio-net sends. */
static void rig_send(Rig *r, const void *frame, size_t len)
{
    SendOnThread s = { r, frame, len };
    fake_iothread_run(r->t, send_on_thread, &s);
}

typedef bool (*FrameMatch)(const uint8_t *f, size_t len, void *data);

/* The first frame within 5 s that matches, skipping others. */
static GBytes *rig_wait(Rig *r, FrameMatch match, void *data)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    for (;;) {
        gint64 left = end - g_get_monotonic_time();
        if (left <= 0)
            return NULL;
        GBytes *f = g_async_queue_timeout_pop(r->frames, (guint64)left);
        if (!f)
            return NULL;
        gsize len;
        const uint8_t *p = g_bytes_get_data(f, &len);
        if (match(p, len, data))
            return f;
        g_bytes_unref(f);
    }
}

static bool match_arp_from_host(const uint8_t *f, size_t len, void *data)
{
    return frame_is_arp_reply(f, len, IP_HOST);
}

static bool rig_arp_host(Rig *r)
{
    uint8_t f[64];
    rig_send(r, f, build_arp_request(f, IP_GUEST, IP_HOST));
    g_autoptr(GBytes) reply = rig_wait(r, match_arp_from_host, NULL);
    return reply != NULL;
}

typedef struct {
    uint32_t xid;
    uint32_t yiaddr;
} DhcpWait;

static bool match_offer(const uint8_t *f, size_t len, void *data)
{
    DhcpWait *w = data;
    return frame_is_dhcp_offer(f, len, w->xid, &w->yiaddr);
}

static bool rig_dhcp_offer(Rig *r, uint32_t xid, uint32_t *yiaddr)
{
    uint8_t f[1024];
    DhcpWait w = { xid, 0 };

    rig_send(r, f, build_dhcp_discover(f, xid));
    g_autoptr(GBytes) offer = rig_wait(r, match_offer, &w);
    *yiaddr = w.yiaddr;
    return offer != NULL;
}

static void test_dhcp_offer(void)
{
    Rig r;
    uint32_t yiaddr = 0;

    rig_init(&r, NULL);
    g_assert_true(rig_dhcp_offer(&r, 0x12345678, &yiaddr));
    g_assert_cmphex(yiaddr, ==, IP_GUEST);
    rig_clear(&r);
}

static void test_arp_host(void)
{
    Rig r;
    uint8_t f[64];

    rig_init(&r, NULL);
    g_assert_true(rig_arp_host(&r));
    /* From another thread the frame is queued for the I/O thread. */
    size_t len = build_arp_request(f, IP_GUEST, IP_DNS);
    struct iovec iov = { f, len };
    hgr_net_send(r.n, &iov, 1);
    g_autoptr(GBytes) reply = NULL;
    for (;;) {
        g_clear_pointer(&reply, g_bytes_unref);
        reply = g_async_queue_timeout_pop(r.frames, 5 * G_USEC_PER_SEC);
        g_assert_nonnull(reply);
        gsize rlen;
        const uint8_t *p = g_bytes_get_data(reply, &rlen);
        if (frame_is_arp_reply(p, rlen, IP_DNS))
            break;
    }
    HgrNetStats st;
    hgr_net_get_stats(r.n, &st);
    g_assert_cmpuint(st.tx_frames, ==, 2);
    g_assert_cmpuint(st.rx_frames, >=, 2);
    /* Both requests are ARP frames of the same size; replies at least as big. */
    g_assert_cmpuint(st.tx_bytes, ==, 2 * len);
    g_assert_cmpuint(st.rx_bytes, >=, 2 * 42);
    rig_clear(&r);
}

static bool match_ra(const uint8_t *f, size_t len, void *data)
{
    return frame_is_ra_with_prefix(f, len, 0xfd00, 64);
}

/* IPv6 is on: a router solicitation brings the fd00::/64 prefix. */
static void test_ipv6_router_advert(void)
{
    Rig r;
    uint8_t f[128], body[4] = { 0 };

    rig_init(&r, NULL);
    rig_send(&r, f, build_icmp6(f, ip6_all_routers, 133, body, sizeof(body)));
    g_autoptr(GBytes) ra = rig_wait(&r, match_ra, NULL);
    g_assert_nonnull(ra);
    rig_clear(&r);
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &alen), ==, 0);
    return ntohs(a.sin_port);
}

/* A TCP socket listening on some free loopback port. */
static int listen_loopback(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    g_assert_cmpint(listen(fd, 4), ==, 0);
    return fd;
}

typedef struct {
    uint16_t port;
} SynWait;

static bool match_syn(const uint8_t *f, size_t len, void *data)
{
    SynWait *w = data;
    return frame_is_tcp_syn_to(f, len, IP_GUEST, w->port);
}

static void test_hostfwd_syn(void)
{
    g_autoptr(HgrVmConfig) cfg = hgr_vm_config_new();
    HgrNetConfig *net = hgr_vm_config_add_net(cfg);
    int probe = listen_loopback();
    uint16_t port = bound_port(probe);
    Rig r;

    close(probe);
    hgr_net_config_add_hostfwd(net, false, NULL, port, 2222);
    rig_init(&r, net);
    g_assert_true(rig_arp_host(&r));       /* slirp learns the guest's MAC */

    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    g_assert_cmpint(connect(c, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    SynWait w = { 2222 };
    g_autoptr(GBytes) syn = rig_wait(&r, match_syn, &w);
    g_assert_nonnull(syn);
    close(c);
    rig_clear(&r);
}

static void test_hostfwd_port_in_use(void)
{
    g_autoptr(HgrVmConfig) cfg = hgr_vm_config_new();
    HgrNetConfig *net = hgr_vm_config_add_net(cfg);
    g_autoptr(GError) err = NULL;
    int busy = listen_loopback();
    uint16_t port = bound_port(busy);
    g_autofree char *port_str = g_strdup_printf(":%u ", port);

    hgr_net_config_add_hostfwd(net, false, "127.0.0.1", port, 22);
    HgrNetBackend *n = hgr_net_slirp_new(net, &err);
    g_assert_null(n);
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_NET);
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, port_str));
    close(busy);
}

static void test_hostfwd_bad_address(void)
{
    g_autoptr(HgrVmConfig) cfg = hgr_vm_config_new();
    HgrNetConfig *net = hgr_vm_config_add_net(cfg);
    g_autoptr(GError) err = NULL;

    hgr_net_config_add_hostfwd(net, false, "localhost.example", 2222, 22);
    g_assert_null(hgr_net_slirp_new(net, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG);
}

static void wait_tx_frames(Rig *r, uint64_t n)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    HgrNetStats st;

    do {
        hgr_net_get_stats(r->n, &st);
        if (st.tx_frames >= n)
            return;
        g_usleep(1000);
    } while (g_get_monotonic_time() < end);
    g_assert_cmpuint(st.tx_frames, >=, n);
}

/* With the device full, replies wait (64 at most) until it flushes. */
static void test_hold_until_flush(void)
{
    Rig r;
    uint8_t f[64];
    HgrNetStats st;

    rig_init(&r, NULL);
    g_atomic_int_set(&r.accept, 0);
    size_t len = build_arp_request(f, IP_GUEST, IP_HOST);
    for (int i = 0; i < 100; i++)
        rig_send(&r, f, len);
    wait_tx_frames(&r, 100);
    hgr_net_get_stats(r.n, &st);
    g_assert_cmpuint(st.rx_frames, ==, 0);
    g_assert_cmpuint(st.rx_dropped, ==, 36);
    g_assert_cmpint(g_async_queue_length(r.frames), ==, 0);

    g_atomic_int_set(&r.accept, 1);
    hgr_net_flush_queue(r.n);
    for (int i = 0; i < 64; i++) {
        g_autoptr(GBytes) reply = rig_wait(&r, match_arp_from_host, NULL);
        g_assert_nonnull(reply);
    }
    hgr_net_get_stats(r.n, &st);
    g_assert_cmpuint(st.rx_frames, ==, 64);
    rig_clear(&r);
}

static void send_udp_fragment(Rig *r, uint16_t id, uint16_t frag, const uint8_t *payload,
                              size_t plen)
{
    uint8_t f[1600];
    size_t n = eth_put(f, bcast_mac, ETH_IP);

    n += ip_put(f + n, IP_GUEST, IP_HOST, 17, plen, id, frag);
    memcpy(f + n, payload, plen);
    rig_send(r, f, n + plen);
}

static void send_hostile_ip(Rig *r)
{
    uint8_t f[128];
    size_t n;

    /* IHL claims 60 bytes of header, the frame has 20. */
    n = eth_put(f, bcast_mac, ETH_IP);
    ip_put(f + n, IP_GUEST, IP_HOST, 17, 0, 2, 0);
    f[n] = 0x4f;
    rig_send(r, f, n + 20);
    /* Total length beyond the frame. */
    ip_put(f + n, IP_GUEST, IP_HOST, 17, 1400, 3, 0);
    rig_send(r, f, n + 28);
    /* Truncated UDP header, valid IP checksum. */
    ip_put(f + n, IP_GUEST, IP_HOST, 17, 4, 4, 0);
    memset(f + n + 20, 0x35, 4);
    rig_send(r, f, n + 24);
    /* UDP length past the datagram (to the DNS port). */
    ip_put(f + n, IP_GUEST, IP_DNS, 17, 12, 5, 0);
    put16(f + n + 20, 5353);
    put16(f + n + 22, 53);
    put16(f + n + 24, 4000);
    put16(f + n + 26, 0);
    rig_send(r, f, n + 32);
    /* Truncated TCP header. */
    ip_put(f + n, IP_GUEST, IP_HOST, 6, 6, 6, 0);
    rig_send(r, f, n + 26);
    /* Only an Ethernet header, and less than one. */
    rig_send(r, f, 14);
    rig_send(r, f, 13);
    rig_send(r, f, 1);
    rig_send(r, f, 0);
    /* A truncated ICMPv6 packet claiming a long payload. */
    n = eth_put(f, bcast_mac, ETH_IP6);
    memset(f + n, 0, 44);
    f[n] = 0x60;
    put16(f + n + 4, 200);
    f[n + 6] = 58;
    f[n + 7] = 255;
    f[n + 8] = 0xfe;
    f[n + 9] = 0x80;
    f[n + 24] = 0xff;
    f[n + 25] = 0x02;
    f[n + 39] = 2;
    f[n + 40] = 133;               /* router solicitation */
    rig_send(r, f, n + 44);
}

static void send_udp_to_host(Rig *r, uint16_t dport, const uint8_t *payload, size_t plen)
{
    uint8_t f[1600];
    size_t n = eth_put(f, bcast_mac, ETH_IP);

    n += ip_put(f + n, IP_GUEST, IP_HOST, 17, 8 + plen, 9, 0);
    put16(f + n, 1069);
    put16(f + n + 2, dport);
    put16(f + n + 4, (uint16_t)(8 + plen));
    put16(f + n + 6, 0);
    memcpy(f + n + 8, payload, plen);
    rig_send(r, f, n + 8 + plen);
}

/* TFTP (answered by slirp itself, with no directory to serve) and
 * neighbour discovery with nonsense inside valid checksums. */
static void send_hostile_tftp_ndp(Rig *r)
{
    uint8_t p[1400], f[1600];

    memset(p, 'A', sizeof(p));
    p[0] = 0;
    p[1] = 1;                                  /* RRQ, name never terminated */
    send_udp_to_host(r, 69, p, sizeof(p));
    send_udp_to_host(r, 69, p, 2);
    memcpy(p + 2, "f\0octet\0blksize\0", 17);  /* option without a value */
    send_udp_to_host(r, 69, p, 19);
    p[1] = 4;                                  /* ACK for a transfer never begun */
    send_udp_to_host(r, 69, p, 4);
    p[1] = 99;
    send_udp_to_host(r, 69, p, 700);

    /* Neighbour solicitation whose option has length 0, a short one, an
     * advertisement with options past its end, a redirect. */
    uint8_t ns[28] = { 0 };
    ns[4] = 0xfd;
    ns[20] = 1;                                /* source link-layer option, len 0 */
    rig_send(r, f, build_icmp6(f, ip6_all_routers, 135, ns, sizeof(ns)));
    rig_send(r, f, build_icmp6(f, ip6_all_routers, 135, ns, 3));
    uint8_t na[28] = { 0 };
    na[20] = 2;
    na[21] = 200;
    rig_send(r, f, build_icmp6(f, ip6_all_routers, 136, na, sizeof(na)));
    g_test_expect_message("hangar-vmm", G_LOG_LEVEL_WARNING, "slirp: guest error: *REDIRECT*");
    rig_send(r, f, build_icmp6(f, ip6_all_routers, 137, na, sizeof(na)));
    g_test_assert_expected_messages();
    rig_send(r, f, build_icmp6(f, ip6_all_routers, 128, na, 0));

    /* Pings: to the host, and to a documentation address outside. */
    static const uint32_t targets[] = { IP_HOST, 0xc0000201u };
    for (unsigned i = 0; i < G_N_ELEMENTS(targets); i++) {
        size_t n = eth_put(f, bcast_mac, ETH_IP);
        n += ip_put(f + n, IP_GUEST, targets[i], 1, 12, 11, 0);
        memset(f + n, 0, 12);
        f[n] = 8;
        put16(f + n + 2, inet_csum(f + n, 12));
        rig_send(r, f, n + 12);
    }
}

static void send_hostile_fragments(Rig *r)
{
    uint8_t payload[1480];

    memset(payload, 0xa5, sizeof(payload));
    /* Overlapping fragments of one datagram. */
    send_udp_fragment(r, 0x100, 0x2000 | 0, payload, 64);
    send_udp_fragment(r, 0x100, 0x2000 | 4, payload, 64);       /* starts at 32 */
    send_udp_fragment(r, 0x100, 0x2000 | 2, payload, 8);
    send_udp_fragment(r, 0x100, 3, payload, 200);
    /* A datagram that would reassemble past 64 KiB. */
    for (uint16_t off = 0; off < 8192; off += 185)
        send_udp_fragment(r, 0x200, 0x2000 | off, payload, 1480);
    send_udp_fragment(r, 0x200, 8190, payload, 1480);
    /* Many datagrams left incomplete. */
    for (uint16_t id = 0; id < 500; id++)
        send_udp_fragment(r, (uint16_t)(0x1000 + id), 0x2000, payload, 16);
}

static void send_mutated_dhcp(Rig *r)
{
    uint8_t good[1024], f[1024];
    size_t len = build_dhcp_discover(good, 42);

    /* Options that run off the end of the packet. */
    memcpy(f, good, len);
    uint8_t *opts = f + 14 + 20 + 8 + 240;
    for (size_t i = 0; i + 1 < BOOTP_LEN - 240; i += 2) {
        opts[i] = 53;
        opts[i + 1] = 255;
    }
    rig_send(r, f, len);
    /* The same short, and then with random bytes flipped past the IP header. */
    rig_send(r, f, 14 + 20 + 8 + 100);
    for (int i = 0; i < 2000; i++) {
        memcpy(f, good, len);
        for (int k = 0; k < 4; k++)
            f[g_test_rand_int_range(14 + 20, (gint32)len)] = (uint8_t)g_test_rand_int();
        rig_send(r, f, len);
    }
}

static void test_hostile_frames(void)
{
    Rig r;
    uint32_t yiaddr = 0;
    HgrNetStats st;

    rig_init(&r, NULL);
    send_hostile_ip(&r);
    send_hostile_tftp_ndp(&r);
    send_hostile_fragments(&r);
    send_mutated_dhcp(&r);
    g_autofree uint8_t *huge = g_malloc0(HGR_NET_MAX_FRAME + 1);
    eth_put(huge, bcast_mac, ETH_IP);
    rig_send(&r, huge, HGR_NET_MAX_FRAME + 1);
    rig_send(&r, huge, HGR_NET_MAX_FRAME);

    /* Still alive and still answering. */
    g_assert_true(rig_arp_host(&r));
    g_assert_true(rig_dhcp_offer(&r, 0xfeedbeef, &yiaddr));
    /* Mutated requests with other client addresses may have leased .15. */
    g_assert_cmphex(yiaddr & 0xffffff00u, ==, IP_GUEST & 0xffffff00u);
    g_assert_cmpuint(yiaddr & 0xff, >=, 15);
    hgr_net_get_stats(r.n, &st);
    /* 13, 1, 0 bytes, the huge one, the ping6 slirp cannot forward */
    g_assert_cmpuint(st.tx_dropped, ==, 5);
    rig_clear(&r);
}

static unsigned open_fds(void)
{
    g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
    unsigned n = 0;

    while (d && g_dir_read_name(d))
        n++;
    return n;
}

typedef struct {
    Rig *r;
    unsigned first;
    uint16_t open_port, closed_port;
} FloodBurst;

static gboolean send_syn_burst(gpointer data)
{
    FloodBurst *b = data;
    uint8_t f[64];

    for (unsigned i = b->first; i < b->first + 100; i++) {
        size_t len = build_tcp_syn(f, IP_HOST, (uint16_t)(10000 + i),
                                   i % 2 ? b->open_port : b->closed_port);
        struct iovec iov = { f, len };
        hgr_net_send(b->r->n, &iov, 1);
    }
    return G_SOURCE_REMOVE;
}

/* Ten thousand guest connections the host never completes or refuses:
 * the backend stops opening host sockets at its limit, stays up, and
 * freeing it gives every socket back. */
static void test_half_open_flood(void)
{
    Rig r;
    int lst = listen_loopback();             /* never accepts: a backlog of 4 */
    uint16_t open_port = bound_port(lst);
    int probe = listen_loopback();
    uint16_t closed_port = bound_port(probe);
    unsigned before;
    HgrNetStats st;

    close(probe);
    rig_init(&r, NULL);                      /* GLib's own fds, made once */
    rig_clear(&r);
    before = open_fds();
    rig_init(&r, NULL);
    g_assert_true(rig_arp_host(&r));
    g_test_expect_message("hangar-vmm", G_LOG_LEVEL_WARNING, "*refusing new connections*");
    /* In bursts, as virtio-net hands them over per kick. */
    for (unsigned i = 0; i < 10000; i += 100) {
        FloodBurst b = { &r, i, open_port, closed_port };
        fake_iothread_run(r.t, send_syn_burst, &b);
    }
    g_test_assert_expected_messages();
    unsigned during = open_fds() - before;
    g_test_message("%u descriptors open during the flood", during);
    /* The count is taken once per main loop iteration: one burst more. */
    g_assert_cmpuint(during, <=, 2048 + 100 + 16);
    hgr_net_get_stats(r.n, &st);
    g_assert_cmpuint(st.tx_dropped, >, 0);
    g_assert_true(rig_arp_host(&r));
    uint32_t yiaddr;
    g_assert_true(rig_dhcp_offer(&r, 7, &yiaddr));
    rig_clear(&r);
    g_assert_cmpuint(open_fds(), ==, before);
    close(lst);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/net/slirp/dhcp-offer", test_dhcp_offer);
    g_test_add_func("/vmm/net/slirp/arp-host", test_arp_host);
    g_test_add_func("/vmm/net/slirp/ipv6-router-advert", test_ipv6_router_advert);
    g_test_add_func("/vmm/net/slirp/hostfwd-syn", test_hostfwd_syn);
    g_test_add_func("/vmm/net/slirp/hostfwd-port-in-use", test_hostfwd_port_in_use);
    g_test_add_func("/vmm/net/slirp/hostfwd-bad-address", test_hostfwd_bad_address);
    g_test_add_func("/vmm/net/slirp/hold-until-flush", test_hold_until_flush);
    g_test_add_func("/vmm/net/slirp/hostile-frames", test_hostile_frames);
    g_test_add_func("/vmm/net/slirp/half-open-flood", test_half_open_flood);
    return g_test_run();
}
