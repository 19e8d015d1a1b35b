/* virtqueue.h — the split virtqueue, walked with guest memory as hostile input.
 *
 * A chain is copied descriptor by descriptor into local memory before use,
 * bounded by the queue size (a cycle cannot loop), with indirect tables
 * checked for size and nesting. A queue that breaks the rules is marked
 * broken: it stops being processed and the device sets NEEDS_RESET.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../core/memory.h"
#include "../core/state.h"

#define HGR_VIRTQ_MAX_SIZE 1024
/* Most iovecs one chain may describe (a buffer may split where RAM does). */
#define HGR_VIRTQ_MAX_IOV (HGR_VIRTQ_MAX_SIZE + 16)

typedef struct {
    /* Set by the driver through the transport. */
    uint16_t size;
    bool ready;
    uint16_t msix_vector;
    uint64_t desc_gpa;
    uint64_t avail_gpa;
    uint64_t used_gpa;

    /* The device's side. */
    uint16_t max_size;
    uint16_t last_avail;     /* next avail ring slot to take */
    uint16_t used_idx;       /* our copy of used->idx */
    uint16_t signalled_used; /* used_idx when we last interrupted (event idx) */
    bool signalled_valid;
    bool event_idx;          /* VIRTIO_RING_F_EVENT_IDX negotiated */
    bool broken;
} HgrVirtq;

typedef struct {
    uint16_t head;
    unsigned n_out;              /* device-readable iovecs, first */
    unsigned n_in;               /* device-writable iovecs, after them */
    uint64_t out_len;
    uint64_t in_len;
    struct iovec iov[HGR_VIRTQ_MAX_IOV];
} HgrVirtqElem;

typedef enum {
    HGR_VIRTQ_EMPTY = 0,
    HGR_VIRTQ_GOT = 1,
    HGR_VIRTQ_BROKEN = -1,
} HgrVirtqPop;

void hgr_virtq_init(HgrVirtq *vq, uint16_t max_size);
/* Back to the state after device reset. */
void hgr_virtq_reset(HgrVirtq *vq);
/* Checks what the driver programmed before it enables the queue: size a
 * power of two within max, rings aligned and inside RAM. */
bool hgr_virtq_valid(const HgrVirtq *vq, const HgrGuestMem *mem);

/* Takes the next available chain. */
HgrVirtqPop hgr_virtq_pop(HgrVirtq *vq, const HgrGuestMem *mem, HgrVirtqElem *elem);
/* Returns a chain to the driver with `written` bytes written into it. */
bool hgr_virtq_push(HgrVirtq *vq, const HgrGuestMem *mem, uint16_t head, uint32_t written);
/* Whether the driver wants an interrupt for what was pushed since the last one. */
bool hgr_virtq_should_notify(HgrVirtq *vq, const HgrGuestMem *mem);
/* Chains waiting in the avail ring (0 when broken or not ready). */
unsigned hgr_virtq_pending(HgrVirtq *vq, const HgrGuestMem *mem);
/* With event idx: ask the driver to kick when more arrives. Returns true if
 * more arrived meanwhile (caller should pop again). */
bool hgr_virtq_enable_notify(HgrVirtq *vq, const HgrGuestMem *mem);

/* Copies between an element's iovecs and a flat buffer. */
size_t hgr_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t hgr_iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *buf,
                        size_t len);

void hgr_virtq_visit(HgrVisitor *v, HgrVirtq *vq);
