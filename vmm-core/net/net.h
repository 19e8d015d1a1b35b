/* net.h — a net backend: Ethernet frames in, Ethernet frames out.
 *
 * The device model (virtio-net) and the host side (libslirp user networking
 * now, tap later) are separate: the device hands frames to hgr_net_send and
 * takes frames through the receiver it registers.
 *
 * Threads: the backend's work runs on the I/O thread it is attached to.
 * Frames reach the receiver only from that thread, never from inside
 * hgr_net_send or hgr_net_flush_queue, so a device may call both while
 * holding its own lock and take that lock again in its receive callback.
 */
#pragma once

#include <glib.h>
#include <hangar/vm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../core/iothread.h"

/* Largest frame either way (a 64 KiB IP packet plus Ethernet header). */
#define HGR_NET_MAX_FRAME 65550
#define HGR_NET_MIN_FRAME 14

typedef struct HgrNetBackend HgrNetBackend;

typedef struct {
    uint64_t tx_frames;      /* device -> network, accepted */
    uint64_t tx_dropped;     /* too small, too large, or the queue to the I/O thread full */
    uint64_t rx_frames;      /* network -> device, delivered */
    uint64_t rx_dropped;     /* the device had no room and the hold queue was full */
    uint64_t tx_bytes, rx_bytes;   /* of the frames counted above */
} HgrNetStats;

/* libslirp user networking: 10.0.2.0/24, host 10.0.2.2, DNS 10.0.2.3, DHCP
 * from 10.0.2.15, IPv6 fd00::/64 (host fd00::2, DNS fd00::3); the unsafe
 * protocol emulation stays off. Host forwards from cfg->hostfwds (host_addr
 * NULL = 127.0.0.1) are bound now: a port that cannot be bound gives
 * HGR_VM_ERROR_NET naming it. cfg may be NULL (no forwards). */
HgrNetBackend *hgr_net_slirp_new(const HgrNetConfig *cfg, GError **error);
/* Runs the backend (sockets, timers) on t from now on. Once only. */
void hgr_net_attach(HgrNetBackend *n, HgrIoThread *t);
/* Stops the backend on its I/O thread and frees it. Free the device first,
 * the I/O thread after (it may be stopped or running). */
void hgr_net_free(HgrNetBackend *n);

/* Frames from the backend to the device, called on the I/O thread with no
 * lock held. While can_receive says no, the backend holds a few frames and
 * drops the rest (TCP retransmits); the device calls hgr_net_flush_queue
 * once it has room again. receive(NULL...) detaches the device. */
void hgr_net_set_receiver(HgrNetBackend *n, bool (*can_receive)(void *opaque),
                          void (*receive)(void *opaque, const void *frame, size_t len),
                          void *opaque);
/* A frame from the device to the network. The frame is copied before this
 * returns. Meant for the I/O thread; from another thread the copy is queued
 * for it. */
void hgr_net_send(HgrNetBackend *n, const struct iovec *iov, unsigned iovcnt);
/* The device has room again: held frames are offered on the I/O thread
 * soon after. Any thread, never calls the receiver itself. */
void hgr_net_flush_queue(HgrNetBackend *n);
/* Counters, for tests and the UI. Any thread (values may be a moment old). */
void hgr_net_get_stats(HgrNetBackend *n, HgrNetStats *stats);
