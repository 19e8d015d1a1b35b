/* slirp.c — user-mode networking through libslirp, driven by the I/O thread.
 *
 * One custom GSource on the I/O thread's context carries slirp's sockets
 * (asked for in prepare, handled in dispatch), the frames other threads queued
 * for it, and the delivery of held frames to the device. Slirp's timers are
 * timeout GSources on the same context. After hgr_net_attach every slirp_*
 * call happens on that thread; before it, only the constructor touches slirp.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libslirp.h>
#include <string.h>

#define RX_HOLD_MAX 64          /* frames held while the device has no buffers */
#define TX_QUEUE_MAX 256        /* frames queued from other threads */
#define GUEST_ERRORS_LOGGED 10
/* Host sockets slirp may hold for one guest before new flows are refused:
 * every guest connection, UDP flow and ping costs the process an fd, and a
 * guest must not be able to run the whole process (other VMs, disks,
 * snapshots) out of them. */
#define MAX_GUEST_SOCKETS 2048

typedef struct {
    GSource base;
    HgrNetBackend *n;
} NetSource;

/* One of slirp's sockets as GLib polls it. It stays registered while slirp
 * keeps asking for it, so a round with thousands of sockets costs GLib no
 * list surgery (adding a poll walks a list sorted by fd). */
typedef struct {
    GPollFD pfd;
    guint gen;                  /* the round that last asked for it */
} Watch;

typedef struct {
    HgrNetBackend *n;
    SlirpTimerId id;
    void *cb_opaque;
    int64_t expire_ms;          /* -1: not armed */
    GSource *src;
} NetTimer;

struct HgrNetBackend {
    Slirp *slirp;
    HgrIoThread *thread;
    GMainContext *ctx;
    GSource *source;
    GHashTable *watches;        /* fd -> Watch *, each registered with source */
    GPtrArray *round;           /* of Watch *, in slirp's index order this round */
    guint round_gen;
    gint64 deadline_us;         /* slirp's own timeout, for check() */
    GPtrArray *timers;          /* of NetTimer * */

    bool (*can_receive)(void *opaque);
    void (*receive)(void *opaque, const void *frame, size_t len);
    void *opaque;

    GQueue rx_hold;             /* of GBytes, I/O thread only */
    bool in_input;              /* inside slirp_input: hold, deliver from dispatch */
    gint flush_requested;       /* atomic */

    GMutex tx_lock;
    GQueue tx_queue;            /* of GBytes, from other threads */

    HgrNetStats stats;          /* updated with atomics */
    unsigned guest_errors;
    bool refusing_flows;        /* at MAX_GUEST_SOCKETS */
    unsigned refusals;          /* times it got there: warned on the first only */
};

static void count(uint64_t *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static void count_frame(uint64_t *frames, uint64_t *bytes, size_t len)
{
    count(frames);
    __atomic_fetch_add(bytes, len, __ATOMIC_RELAXED);
}

/* Delivery to the device */

static bool device_ready(HgrNetBackend *n)
{
    return n->receive && (!n->can_receive || n->can_receive(n->opaque));
}

static void deliver_held(HgrNetBackend *n)
{
    while (!g_queue_is_empty(&n->rx_hold) && device_ready(n)) {
        g_autoptr(GBytes) f = g_queue_pop_head(&n->rx_hold);
        gsize len;
        const void *data = g_bytes_get_data(f, &len);
        count_frame(&n->stats.rx_frames, &n->stats.rx_bytes, len);
        n->receive(n->opaque, data, len);
    }
}

/* Tail drop: what is already held (an ARP reply, a SYN-ACK) is older and
 * no less useful than what comes after it. */
static void hold_frame(HgrNetBackend *n, const void *buf, size_t len)
{
    if (g_queue_get_length(&n->rx_hold) >= RX_HOLD_MAX) {
        count(&n->stats.rx_dropped);
        return;
    }
    g_queue_push_tail(&n->rx_hold, g_bytes_new(buf, len));
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    HgrNetBackend *n = opaque;

    /* Inside slirp_input the device may hold its lock (it is sending): hold
     * the frame and deliver it from dispatch. */
    if (!n->in_input) {
        deliver_held(n);
        if (g_queue_is_empty(&n->rx_hold) && device_ready(n)) {
            count_frame(&n->stats.rx_frames, &n->stats.rx_bytes, len);
            n->receive(n->opaque, buf, len);
            return (ssize_t)len;
        }
    }
    hold_frame(n, buf, len);
    if (n->in_input)
        g_atomic_int_set(&n->flush_requested, 1);
    return (ssize_t)len;
}

/* Slirp callbacks */

static void cb_guest_error(const char *msg, void *opaque)
{
    HgrNetBackend *n = opaque;

    if (n->guest_errors++ < GUEST_ERRORS_LOGGED)
        g_warning("slirp: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
    return g_get_monotonic_time() * 1000;
}

static gboolean timer_fire(gpointer data)
{
    NetTimer *t = data;
    GSource *src = t->src;

    t->src = NULL;
    t->expire_ms = -1;
    slirp_handle_timer(t->n->slirp, t->id, t->cb_opaque);   /* may re-arm t */
    g_source_unref(src);
    return G_SOURCE_REMOVE;
}

static void timer_disarm(NetTimer *t)
{
    if (t->src) {
        g_source_destroy(t->src);
        g_clear_pointer(&t->src, g_source_unref);
    }
}

static void timer_arm(NetTimer *t)
{
    timer_disarm(t);
    if (!t->n->ctx || t->expire_ms < 0)
        return;
    int64_t delay = t->expire_ms - g_get_monotonic_time() / 1000;
    t->src = g_timeout_source_new((guint)CLAMP(delay, 0, G_MAXUINT));
    g_source_set_callback(t->src, timer_fire, t, NULL);
    g_source_attach(t->src, t->n->ctx);
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    HgrNetBackend *n = opaque;
    NetTimer *t = g_new0(NetTimer, 1);

    t->n = n;
    t->id = id;
    t->cb_opaque = cb_opaque;
    t->expire_ms = -1;
    g_ptr_array_add(n->timers, t);
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    HgrNetBackend *n = opaque;

    timer_disarm(timer);
    g_ptr_array_remove_fast(n->timers, timer);
    g_free(timer);
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    NetTimer *t = timer;

    t->expire_ms = expire_ms;
    timer_arm(t);
}

static void cb_register_poll_fd(int fd, void *opaque) { }
static void cb_unregister_poll_fd(int fd, void *opaque) { }

static void cb_notify(void *opaque)
{
    HgrNetBackend *n = opaque;

    if (n->ctx)
        g_main_context_wakeup(n->ctx);
}

static const SlirpCb slirp_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

/* The GSource: slirp's sockets, queued TX frames, held RX frames */

static int add_poll(int fd, int events, void *opaque)
{
    HgrNetBackend *n = opaque;
    Watch *w = g_hash_table_lookup(n->watches, GINT_TO_POINTER(fd));

    if (!w) {
        w = g_new0(Watch, 1);
        w->pfd.fd = fd;
        g_hash_table_insert(n->watches, GINT_TO_POINTER(fd), w);
        g_source_add_poll(n->source, &w->pfd);
    }
    w->pfd.events = 0;
    if (events & SLIRP_POLL_IN)
        w->pfd.events |= G_IO_IN;
    if (events & SLIRP_POLL_OUT)
        w->pfd.events |= G_IO_OUT;
    if (events & SLIRP_POLL_PRI)
        w->pfd.events |= G_IO_PRI;
    if (events & SLIRP_POLL_ERR)
        w->pfd.events |= G_IO_ERR;
    if (events & SLIRP_POLL_HUP)
        w->pfd.events |= G_IO_HUP;
    w->pfd.revents = 0;
    w->gen = n->round_gen;
    g_ptr_array_add(n->round, w);
    return (int)n->round->len - 1;
}

static int get_revents(int idx, void *opaque)
{
    HgrNetBackend *n = opaque;
    int ev = 0;

    if (idx < 0 || (guint)idx >= n->round->len)
        return 0;
    gushort r = ((Watch *)g_ptr_array_index(n->round, idx))->pfd.revents;
    if (r & G_IO_IN)
        ev |= SLIRP_POLL_IN;
    if (r & G_IO_OUT)
        ev |= SLIRP_POLL_OUT;
    if (r & G_IO_PRI)
        ev |= SLIRP_POLL_PRI;
    if (r & G_IO_ERR)
        ev |= SLIRP_POLL_ERR;
    if (r & G_IO_HUP)
        ev |= SLIRP_POLL_HUP;
    return ev;
}

/* Unregisters the sockets slirp did not ask for this round (all of them
 * when all is set). */
static void drop_watches(HgrNetBackend *n, bool all)
{
    GHashTableIter it;
    gpointer key, value;

    g_hash_table_iter_init(&it, n->watches);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        Watch *w = value;
        if (all || w->gen != n->round_gen) {
            g_source_remove_poll(n->source, &w->pfd);
            g_hash_table_iter_remove(&it);
            g_free(w);
        }
    }
}

static bool has_work(HgrNetBackend *n)
{
    if (g_atomic_int_get(&n->flush_requested))
        return true;
    g_mutex_lock(&n->tx_lock);
    bool tx = !g_queue_is_empty(&n->tx_queue);
    g_mutex_unlock(&n->tx_lock);
    return tx;
}

static gboolean source_prepare(GSource *src, gint *timeout)
{
    HgrNetBackend *n = ((NetSource *)src)->n;
    uint32_t tmo = UINT32_MAX;

    n->round_gen++;
    g_ptr_array_set_size(n->round, 0);
    slirp_pollfds_fill(n->slirp, &tmo, add_poll, n);
    drop_watches(n, false);
    if (tmo == UINT32_MAX) {
        *timeout = -1;
        n->deadline_us = G_MAXINT64;
    } else {
        *timeout = (gint)MIN(tmo, (uint32_t)G_MAXINT);
        n->deadline_us = g_source_get_time(src) + (gint64)tmo * 1000;
    }
    return has_work(n);
}

static gboolean source_check(GSource *src)
{
    HgrNetBackend *n = ((NetSource *)src)->n;

    for (guint i = 0; i < n->round->len; i++) {
        if (((Watch *)g_ptr_array_index(n->round, i))->pfd.revents)
            return TRUE;
    }
    return g_source_get_time(src) >= n->deadline_us || has_work(n);
}

/* Whether slirp could open a host socket for this frame: a new TCP
 * connection, a UDP datagram or a ping (and any fragment, which may carry
 * one). Segments of existing connections, ARP, DHCP and neighbour
 * discovery are answered without one. Truncated frames say no: slirp
 * drops them itself. */
static bool may_open_socket(const uint8_t *f, size_t len)
{
    uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
    size_t l4;
    uint8_t proto;

    if (type == 0x0800) {
        if (len < 14 + 20)
            return false;
        if (((f[20] << 8 | f[21]) & 0x3fff) != 0)
            return true;
        proto = f[23];
        l4 = 14 + (f[14] & 15) * 4u;
    } else if (type == 0x86dd) {
        if (len < 14 + 40)
            return false;
        proto = f[20];
        l4 = 14 + 40;
    } else {
        return false;
    }
    size_t avail = len > l4 ? len - l4 : 0;
    const uint8_t *h = f + (len > l4 ? l4 : len);
    switch (proto) {
    case 6:             /* TCP: a SYN without ACK opens a connection */
        return avail >= 14 && (h[13] & 0x12) == 0x02;
    case 17:            /* UDP: all but DHCP go out through a socket */
        return avail < 4 || (h[2] << 8 | h[3]) != 67;
    case 1:             /* ICMP echo request */
        return avail >= 1 && h[0] == 8;
    case 58:            /* ICMPv6 echo request */
        return avail >= 1 && h[0] == 128;
    default:
        return true;
    }
}

/* An ICMPv6 echo request to anyone but slirp itself (fd00::2, fe80::2):
 * libslirp cannot forward those and logs a critical for each, which a
 * guest could use to flood the log. */
static bool is_external_ping6(const uint8_t *f, size_t len)
{
    static const uint8_t host6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
    static const uint8_t ll6[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

    if (len < 14 + 40 + 1 || f[12] != 0x86 || f[13] != 0xdd || f[14 + 6] != 58 ||
        f[14 + 40] != 128)
        return false;
    return memcmp(f + 14 + 24, host6, 16) != 0 && memcmp(f + 14 + 24, ll6, 16) != 0;
}

static void input_frame(HgrNetBackend *n, const uint8_t *buf, size_t len)
{
    if (is_external_ping6(buf, len)) {
        count(&n->stats.tx_dropped);
        return;
    }
    if (g_hash_table_size(n->watches) < MAX_GUEST_SOCKETS) {
        n->refusing_flows = false;
    } else if (may_open_socket(buf, len)) {
        if (!n->refusing_flows && n->refusals++ == 0)
            g_warning("slirp: the guest holds %u host sockets; refusing new connections",
                      g_hash_table_size(n->watches));
        n->refusing_flows = true;
        count(&n->stats.tx_dropped);
        return;
    }
    n->in_input = true;
    slirp_input(n->slirp, buf, (int)len);
    n->in_input = false;
    count_frame(&n->stats.tx_frames, &n->stats.tx_bytes, len);
}

static gboolean source_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    HgrNetBackend *n = ((NetSource *)src)->n;

    g_atomic_int_set(&n->flush_requested, 0);
    deliver_held(n);
    slirp_pollfds_poll(n->slirp, 0, get_revents, n);
    /* Bounded: what other threads queued before we looked. */
    g_mutex_lock(&n->tx_lock);
    GQueue batch = n->tx_queue;
    g_queue_init(&n->tx_queue);
    g_mutex_unlock(&n->tx_lock);
    GBytes *f;
    while ((f = g_queue_pop_head(&batch))) {
        gsize len;
        const uint8_t *p = g_bytes_get_data(f, &len);
        input_frame(n, p, len);
        g_bytes_unref(f);
    }
    deliver_held(n);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs source_funcs = {
    .prepare = source_prepare,
    .check = source_check,
    .dispatch = source_dispatch,
};

/* Construction */

static bool parse_ipv4(const char *s, struct in_addr *a)
{
    return inet_pton(AF_INET, s, a) == 1;
}

static bool add_hostfwds(HgrNetBackend *n, const HgrNetConfig *cfg, GError **error)
{
    struct in_addr guest;

    if (!cfg || !cfg->hostfwds)
        return true;
    parse_ipv4("10.0.2.15", &guest);
    for (guint i = 0; i < cfg->hostfwds->len; i++) {
        const HgrHostFwd *f = &g_array_index(cfg->hostfwds, HgrHostFwd, i);
        const char *proto = f->udp ? "UDP" : "TCP";
        const char *host = f->host_addr ? f->host_addr : "127.0.0.1";
        struct in_addr addr;

        if (!parse_ipv4(host, &addr)) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                        "host forward %s %s:%u: \"%s\" is not an IPv4 address",
                        proto, host, f->host_port, host);
            return false;
        }
        if (f->host_port == 0 || f->guest_port == 0) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                        "host forward %s %s:%u to guest port %u: port 0 is not allowed",
                        proto, host, f->host_port, f->guest_port);
            return false;
        }
        errno = 0;
        if (slirp_add_hostfwd(n->slirp, f->udp, addr, f->host_port, guest,
                              f->guest_port) < 0) {
            int e = errno ? errno : EADDRINUSE;
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_NET,
                        "cannot forward host %s port %s:%u to the guest: %s",
                        proto, host, f->host_port, g_strerror(e));
            return false;
        }
    }
    return true;
}

static void backend_destroy(HgrNetBackend *n);

HgrNetBackend *hgr_net_slirp_new(const HgrNetConfig *cfg, GError **error)
{
    HgrNetBackend *n = g_new0(HgrNetBackend, 1);
    SlirpConfig sc = {
        .version = 4,
        .restricted = 0,
        .in_enabled = true,
        .in6_enabled = true,
        .vprefix_len = 64,
        .enable_emu = false,
    };

    g_mutex_init(&n->tx_lock);
    g_queue_init(&n->tx_queue);
    g_queue_init(&n->rx_hold);
    n->watches = g_hash_table_new(NULL, NULL);
    n->round = g_ptr_array_new();
    n->timers = g_ptr_array_new();
    parse_ipv4("10.0.2.0", &sc.vnetwork);
    parse_ipv4("255.255.255.0", &sc.vnetmask);
    parse_ipv4("10.0.2.2", &sc.vhost);
    parse_ipv4("10.0.2.15", &sc.vdhcp_start);
    parse_ipv4("10.0.2.3", &sc.vnameserver);
    inet_pton(AF_INET6, "fd00::", &sc.vprefix_addr6);
    inet_pton(AF_INET6, "fd00::2", &sc.vhost6);
    inet_pton(AF_INET6, "fd00::3", &sc.vnameserver6);

    n->slirp = slirp_new(&sc, &slirp_callbacks, n);
    if (!n->slirp) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_NET, "libslirp refused its configuration");
        goto fail;
    }
    if (!add_hostfwds(n, cfg, error))
        goto fail;
    return n;

fail:
    backend_destroy(n);
    return NULL;
}

static gboolean do_attach(gpointer data)
{
    HgrNetBackend *n = data;

    n->ctx = hgr_iothread_context(n->thread);
    n->source = g_source_new(&source_funcs, sizeof(NetSource));
    ((NetSource *)n->source)->n = n;
    g_source_set_name(n->source, "hangar-slirp");
    g_source_attach(n->source, n->ctx);
    for (guint i = 0; i < n->timers->len; i++)
        timer_arm(g_ptr_array_index(n->timers, i));
    return G_SOURCE_REMOVE;
}

void hgr_net_attach(HgrNetBackend *n, HgrIoThread *t)
{
    g_return_if_fail(!n->thread);
    n->thread = t;
    hgr_iothread_call(t, do_attach, n);
}

typedef struct {
    HgrNetBackend *n;
    bool (*can_receive)(void *opaque);
    void (*receive)(void *opaque, const void *frame, size_t len);
    void *opaque;
} SetReceiver;

static gboolean do_set_receiver(gpointer data)
{
    SetReceiver *r = data;

    r->n->can_receive = r->can_receive;
    r->n->receive = r->receive;
    r->n->opaque = r->opaque;
    return G_SOURCE_REMOVE;
}

void hgr_net_set_receiver(HgrNetBackend *n, bool (*can_receive)(void *opaque),
                          void (*receive)(void *opaque, const void *frame, size_t len),
                          void *opaque)
{
    SetReceiver r = { n, can_receive, receive, opaque };

    /* On the I/O thread, so a frame is never handed to a device going away. */
    if (n->thread)
        hgr_iothread_call(n->thread, do_set_receiver, &r);
    else
        do_set_receiver(&r);
    hgr_net_flush_queue(n);
}

void hgr_net_send(HgrNetBackend *n, const struct iovec *iov, unsigned iovcnt)
{
    size_t len = 0;

    for (unsigned i = 0; i < iovcnt; i++) {
        len += iov[i].iov_len;
        if (len > HGR_NET_MAX_FRAME)
            break;
    }
    if (len < HGR_NET_MIN_FRAME || len > HGR_NET_MAX_FRAME) {
        count(&n->stats.tx_dropped);
        return;
    }
    g_autofree uint8_t *buf = g_malloc(len);
    size_t off = 0;
    for (unsigned i = 0; off < len; i++) {
        memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }

    if (!n->thread || hgr_iothread_is_current(n->thread)) {
        input_frame(n, buf, len);
        return;
    }
    g_mutex_lock(&n->tx_lock);
    bool full = g_queue_get_length(&n->tx_queue) >= TX_QUEUE_MAX;
    if (!full)
        g_queue_push_tail(&n->tx_queue, g_bytes_new_take(g_steal_pointer(&buf), len));
    g_mutex_unlock(&n->tx_lock);
    if (full)
        count(&n->stats.tx_dropped);
    else
        g_main_context_wakeup(n->ctx);
}

void hgr_net_flush_queue(HgrNetBackend *n)
{
    g_atomic_int_set(&n->flush_requested, 1);
    if (n->ctx)
        g_main_context_wakeup(n->ctx);
}

void hgr_net_get_stats(HgrNetBackend *n, HgrNetStats *stats)
{
    stats->tx_frames = __atomic_load_n(&n->stats.tx_frames, __ATOMIC_RELAXED);
    stats->tx_dropped = __atomic_load_n(&n->stats.tx_dropped, __ATOMIC_RELAXED);
    stats->rx_frames = __atomic_load_n(&n->stats.rx_frames, __ATOMIC_RELAXED);
    stats->rx_dropped = __atomic_load_n(&n->stats.rx_dropped, __ATOMIC_RELAXED);
    stats->tx_bytes = __atomic_load_n(&n->stats.tx_bytes, __ATOMIC_RELAXED);
    stats->rx_bytes = __atomic_load_n(&n->stats.rx_bytes, __ATOMIC_RELAXED);
}

/* Teardown, on the I/O thread once attached */

static void backend_destroy(HgrNetBackend *n)
{
    if (n->source) {
        drop_watches(n, true);
        g_source_destroy(n->source);
        g_clear_pointer(&n->source, g_source_unref);
    }
    if (n->slirp)
        slirp_cleanup(n->slirp);            /* frees its timers through cb_timer_free */
    while (n->timers->len)
        cb_timer_free(g_ptr_array_index(n->timers, 0), n);
    g_ptr_array_unref(n->timers);
    g_hash_table_unref(n->watches);
    g_ptr_array_unref(n->round);
    g_queue_clear_full(&n->rx_hold, (GDestroyNotify)g_bytes_unref);
    g_queue_clear_full(&n->tx_queue, (GDestroyNotify)g_bytes_unref);
    g_mutex_clear(&n->tx_lock);
    if (n->guest_errors > GUEST_ERRORS_LOGGED)
        g_message("slirp: %u guest errors in all", n->guest_errors);
    g_free(n);
}

static gboolean do_destroy(gpointer data)
{
    backend_destroy(data);
    return G_SOURCE_REMOVE;
}

void hgr_net_free(HgrNetBackend *n)
{
    if (!n)
        return;
    if (n->thread)
        hgr_iothread_call(n->thread, do_destroy, n);
    else
        backend_destroy(n);
}
