/* virtio-net.h — virtio network device (virtio 1.x, 5.1) over a net backend. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../net/net.h"
#include "virtio.h"

typedef struct {
    uint64_t tx_frames;      /* handed to the backend */
    uint64_t tx_dropped;     /* chain shorter than the header, frame too large, link down */
    uint64_t rx_frames;      /* placed in RX buffers */
    uint64_t rx_dropped;     /* no (or too few) RX buffers, link down, frame too large */
    uint64_t rx_errors;      /* RX buffer smaller than the header: returned empty */
} HgrVirtioNetStats;

/* Does not own be (which may be NULL: a cable not plugged in). Free with
 * hgr_virtio_destroy() + g_free() before the backend. */
HgrVirtioDevice *hgr_virtio_net_new(const HgrGuestMem *mem, HgrIoThread *t,
                                    HgrNetBackend *be, const uint8_t mac[6]);
/* Link status as the guest sees it (config change interrupt). Any thread. */
void hgr_virtio_net_set_link(HgrVirtioDevice *vdev, bool up);
void hgr_virtio_net_get_stats(HgrVirtioDevice *vdev, HgrVirtioNetStats *stats);
