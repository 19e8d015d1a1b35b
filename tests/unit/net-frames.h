/* net-frames.h — building and recognising the Ethernet frames a guest on
 * slirp's 10.0.2.0/24 exchanges, for network unit tests. Addresses are
 * host-order uint32 (0x0a00020f = 10.0.2.15). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define IP_GUEST 0x0a00020fu
#define IP_HOST  0x0a000202u
#define IP_DNS   0x0a000203u
#define ETH_IP   0x0800
#define ETH_ARP  0x0806
#define ETH_IP6  0x86dd

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static inline void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static inline void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static inline size_t eth_put(uint8_t *f, const uint8_t dst[6], uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, guest_mac, 6);
    put16(f + 12, type);
    return 14;
}

static inline uint16_t inet_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < len; i += 2)
        sum += get16(p + i);
    if (len & 1)
        sum += p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* IPv4 header (20 bytes) for `payload` bytes; frag is the flags+offset field. */
static inline size_t ip_put(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto,
                            size_t payload, uint16_t id, uint16_t frag)
{
    memset(p, 0, 20);
    p[0] = 0x45;
    put16(p + 2, (uint16_t)(20 + payload));
    put16(p + 4, id);
    put16(p + 6, frag);
    p[8] = 64;
    p[9] = proto;
    put32(p + 12, src);
    put32(p + 16, dst);
    put16(p + 10, inet_csum(p, 20));
    return 20;
}

/* "Who has target_ip? Tell sender_ip" from guest_mac: 42 bytes. */
static inline size_t build_arp_request(uint8_t *f, uint32_t sender_ip, uint32_t target_ip)
{
    size_t n = eth_put(f, bcast_mac, ETH_ARP);
    uint8_t *a = f + n;
    put16(a, 1);              /* Ethernet */
    put16(a + 2, ETH_IP);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, 1);          /* request */
    memcpy(a + 8, guest_mac, 6);
    put32(a + 14, sender_ip);
    memset(a + 18, 0, 6);
    put32(a + 24, target_ip);
    return n + 28;
}

static inline bool frame_is_arp_reply(const uint8_t *f, size_t len, uint32_t from_ip)
{
    return len >= 42 && get16(f + 12) == ETH_ARP && get16(f + 20) == 2 &&
           get32(f + 28) == from_ip && memcmp(f, guest_mac, 6) == 0 &&
           memcmp(f + 32, guest_mac, 6) == 0;
}

#define BOOTP_LEN (236 + 312)        /* fixed part + the vendor area slirp expects */

static inline size_t build_dhcp_discover(uint8_t *f, uint32_t xid)
{
    size_t n = eth_put(f, bcast_mac, ETH_IP);
    n += ip_put(f + n, 0, 0xffffffffu, 17, 8 + BOOTP_LEN, 1, 0);
    uint8_t *u = f + n;
    put16(u, 68);
    put16(u + 2, 67);
    put16(u + 4, 8 + BOOTP_LEN);
    put16(u + 6, 0);              /* no UDP checksum */
    uint8_t *b = u + 8;
    memset(b, 0, BOOTP_LEN);
    b[0] = 1;                     /* BOOTREQUEST */
    b[1] = 1;
    b[2] = 6;
    put32(b + 4, xid);
    memcpy(b + 28, guest_mac, 6);
    static const uint8_t opts[] = { 99, 130, 83, 99, 53, 1, 1, 255 };
    memcpy(b + 236, opts, sizeof(opts));
    return n + 8 + BOOTP_LEN;
}

static inline const uint8_t *dhcp_option(const uint8_t *bootp, size_t len, uint8_t code)
{
    for (size_t i = 240; i + 1 < len && bootp[i] != 255;) {
        if (bootp[i] == 0) {
            i++;
            continue;
        }
        if (bootp[i] == code && i + 2 + bootp[i + 1] <= len)
            return bootp + i + 2;
        i += 2u + bootp[i + 1];
    }
    return NULL;
}

/* An OFFER for our xid; *yiaddr gets the offered address. */
static inline bool frame_is_dhcp_offer(const uint8_t *f, size_t len, uint32_t xid,
                                       uint32_t *yiaddr)
{
    if (len < 14 + 20 + 8 + 240 || get16(f + 12) != ETH_IP || f[14 + 9] != 17)
        return false;
    const uint8_t *u = f + 14 + (f[14] & 15) * 4;
    if ((size_t)(u - f) + 8 + 240 > len || get16(u) != 67 || get16(u + 2) != 68)
        return false;
    const uint8_t *b = u + 8;
    size_t blen = len - (size_t)(b - f);
    const uint8_t *type = dhcp_option(b, blen, 53);
    if (b[0] != 2 || get32(b + 4) != xid || !type || type[0] != 2)
        return false;
    *yiaddr = get32(b + 16);
    return true;
}

/* A TCP SYN from the guest, with a valid checksum: 54 bytes. */
static inline size_t build_tcp_syn(uint8_t *f, uint32_t dst_ip, uint16_t sport, uint16_t dport)
{
    size_t n = eth_put(f, bcast_mac, ETH_IP);
    n += ip_put(f + n, IP_GUEST, dst_ip, 6, 20, sport, 0x4000);
    uint8_t *t = f + n, pseudo[32];
    memset(t, 0, 20);
    put16(t, sport);
    put16(t + 2, dport);
    put32(t + 4, 0x1000u * sport);
    t[12] = 5 << 4;
    t[13] = 0x02;
    put16(t + 14, 64240);
    put32(pseudo, IP_GUEST);
    put32(pseudo + 4, dst_ip);
    put16(pseudo + 8, 6);
    put16(pseudo + 10, 20);
    memcpy(pseudo + 12, t, 20);
    put16(t + 16, inet_csum(pseudo, 32));
    return n + 20;
}

static inline bool frame_is_tcp_syn_to(const uint8_t *f, size_t len, uint32_t ip,
                                       uint16_t port)
{
    if (len < 14 + 20 + 20 || get16(f + 12) != ETH_IP || f[14 + 9] != 6)
        return false;
    const uint8_t *t = f + 14 + (f[14] & 15) * 4;
    if ((size_t)(t - f) + 20 > len)
        return false;
    return get32(f + 14 + 16) == ip && get16(t + 2) == port && (t[13] & 0x12) == 0x02;
}

/* IPv6: the guest's link-local address from its MAC, all-routers. */
static const uint8_t ip6_guest_ll[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
                                          0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56 };
static const uint8_t ip6_all_routers[16] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                             0, 0, 0, 0, 0, 0, 0, 2 };

/* An ICMPv6 message (type, code, then body) from the guest's link-local
 * address, checksummed; hop limit 255 as neighbour discovery wants. */
static inline size_t build_icmp6(uint8_t *f, const uint8_t dst[16], uint8_t type,
                                 const uint8_t *body, size_t body_len)
{
    static const uint8_t mcast_mac[6] = { 0x33, 0x33, 0, 0, 0, 2 };
    size_t n = eth_put(f, mcast_mac, ETH_IP6);
    uint8_t *ip = f + n, *m = ip + 40;
    size_t mlen = 4 + body_len;

    memset(ip, 0, 40);
    ip[0] = 0x60;
    put16(ip + 4, (uint16_t)mlen);
    ip[6] = 58;
    ip[7] = 255;
    memcpy(ip + 8, ip6_guest_ll, 16);
    memcpy(ip + 24, dst, 16);
    m[0] = type;
    m[1] = 0;
    put16(m + 2, 0);
    memcpy(m + 4, body, body_len);

    uint8_t pseudo[40 + 1600];
    memcpy(pseudo, ip + 8, 32);
    put32(pseudo + 32, (uint32_t)mlen);
    memset(pseudo + 36, 0, 3);
    pseudo[39] = 58;
    memcpy(pseudo + 40, m, mlen);
    put16(m + 2, inet_csum(pseudo, 40 + mlen));
    return n + 40 + mlen;
}

/* A router advertisement carrying prefix/prefix_len. */
static inline bool frame_is_ra_with_prefix(const uint8_t *f, size_t len, uint16_t prefix,
                                           uint8_t prefix_len)
{
    if (len < 14 + 40 + 16 || get16(f + 12) != ETH_IP6 || f[14 + 6] != 58 ||
        f[14 + 40] != 134)
        return false;
    for (size_t o = 14 + 40 + 16; o + 2 <= len && f[o + 1] != 0; o += 8u * f[o + 1]) {
        if (f[o] == 3 && o + 32 <= len && f[o + 2] == prefix_len && get16(f + o + 16) == prefix)
            return true;
    }
    return false;
}
