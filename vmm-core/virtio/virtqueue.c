/* virtqueue.c — split virtqueue (virtio 1.x, section 2.7). */
#include "virtqueue.h"

#include <glib.h>
#include <stddef.h>
#include <string.h>

#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

typedef struct {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} Desc;

void hgr_virtq_init(HgrVirtq *vq, uint16_t max_size)
{
    memset(vq, 0, sizeof(*vq));
    vq->max_size = max_size;
    hgr_virtq_reset(vq);
}

void hgr_virtq_reset(HgrVirtq *vq)
{
    uint16_t max = vq->max_size;

    memset(vq, 0, sizeof(*vq));
    vq->max_size = max;
    vq->size = max;
    vq->msix_vector = 0xffff;
}

static uint64_t avail_size(uint16_t n) { return 4 + 2ULL * n + 2; }
static uint64_t used_size(uint16_t n)  { return 4 + 8ULL * n + 2; }

bool hgr_virtq_valid(const HgrVirtq *vq, const HgrGuestMem *mem)
{
    uint16_t n = vq->size;

    if (n == 0 || n > vq->max_size || (n & (n - 1)) != 0)
        return false;
    if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
        return false;
    return hgr_mem_ptr(mem, vq->desc_gpa, 16ULL * n) &&
           hgr_mem_ptr(mem, vq->avail_gpa, avail_size(n)) &&
           hgr_mem_ptr(mem, vq->used_gpa, used_size(n));
}

/* Ring fields are read through volatile pointers into RAM checked by
 * hgr_virtq_valid() when the queue was enabled; each is read once. */
static uint16_t read_avail_idx(const HgrVirtq *vq, const HgrGuestMem *mem)
{
    volatile uint16_t *p = hgr_mem_ptr(mem, vq->avail_gpa + 2, 2);
    uint16_t v = p ? *p : vq->last_avail;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return v;
}

static bool read_desc(const HgrGuestMem *mem, uint64_t table, uint32_t i, Desc *d)
{
    return hgr_mem_read(mem, table + 16ULL * i, d, sizeof(*d));
}

static bool add_buffer(const HgrGuestMem *mem, HgrVirtqElem *e, const Desc *d, bool *seen_in)
{
    unsigned n = e->n_out + e->n_in;

    if (d->flags & VRING_DESC_F_WRITE) {
        *seen_in = true;
        e->in_len += d->len;
        if (!hgr_mem_iov(mem, d->addr, d->len, e->iov, &n, HGR_VIRTQ_MAX_IOV))
            return false;
        e->n_in = n - e->n_out;
    } else {
        if (*seen_in)            /* readable after writable breaks the layout */
            return false;
        e->out_len += d->len;
        if (!hgr_mem_iov(mem, d->addr, d->len, e->iov, &n, HGR_VIRTQ_MAX_IOV))
            return false;
        e->n_out = n;
    }
    return true;
}

/* Walks an indirect table: its own bound is its length, no nesting. */
static bool walk_indirect(const HgrGuestMem *mem, const Desc *ind, HgrVirtqElem *e,
                          bool *seen_in)
{
    if (ind->len == 0 || ind->len % 16 || ind->len / 16 > HGR_VIRTQ_MAX_SIZE)
        return false;
    if (ind->flags & VRING_DESC_F_NEXT)
        return false;
    uint32_t n = ind->len / 16, i = 0;
    for (uint32_t steps = 0;; steps++) {
        Desc d;
        if (steps >= n || !read_desc(mem, ind->addr, i, &d))
            return false;
        if (d.flags & VRING_DESC_F_INDIRECT)
            return false;
        if (!add_buffer(mem, e, &d, seen_in))
            return false;
        if (!(d.flags & VRING_DESC_F_NEXT))
            return true;
        if (d.next >= n)
            return false;
        i = d.next;
    }
}

static HgrVirtqPop broken(HgrVirtq *vq)
{
    vq->broken = true;
    return HGR_VIRTQ_BROKEN;
}

HgrVirtqPop hgr_virtq_pop(HgrVirtq *vq, const HgrGuestMem *mem, HgrVirtqElem *e)
{
    if (vq->broken)
        return HGR_VIRTQ_BROKEN;
    if (!vq->ready)
        return HGR_VIRTQ_EMPTY;

    uint16_t avail_idx = read_avail_idx(vq, mem);
    uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
    if (pending == 0)
        return HGR_VIRTQ_EMPTY;
    if (pending > vq->size)
        return broken(vq);

    uint16_t head;
    uint64_t slot = vq->avail_gpa + 4 + 2ULL * (vq->last_avail % vq->size);
    if (!hgr_mem_read(mem, slot, &head, 2) || head >= vq->size)
        return broken(vq);

    memset(e, 0, offsetof(HgrVirtqElem, iov));
    e->head = head;
    bool seen_in = false;
    uint16_t i = head;
    for (unsigned steps = 0;; steps++) {
        Desc d;
        if (steps >= vq->size || !read_desc(mem, vq->desc_gpa, i, &d))
            return broken(vq);
        if (d.flags & VRING_DESC_F_INDIRECT) {
            if (steps > 0 || !walk_indirect(mem, &d, e, &seen_in))
                return broken(vq);
            break;
        }
        if (!add_buffer(mem, e, &d, &seen_in))
            return broken(vq);
        if (!(d.flags & VRING_DESC_F_NEXT))
            break;
        if (d.next >= vq->size)
            return broken(vq);
        i = d.next;
    }
    vq->last_avail++;
    if (vq->event_idx) {
        /* Publish avail_event: "kick me once you pass this index". */
        uint64_t ev = vq->used_gpa + 4 + 8ULL * vq->size;
        hgr_mem_write_u16(mem, ev, vq->last_avail);
    }
    return HGR_VIRTQ_GOT;
}

bool hgr_virtq_push(HgrVirtq *vq, const HgrGuestMem *mem, uint16_t head, uint32_t written)
{
    if (vq->broken || !vq->ready)
        return false;
    struct { uint32_t id; uint32_t len; } elem = { head, written };
    uint64_t slot = vq->used_gpa + 4 + 8ULL * (vq->used_idx % vq->size);
    if (!hgr_mem_write(mem, slot, &elem, sizeof(elem))) {
        vq->broken = true;
        return false;
    }
    vq->used_idx++;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (!hgr_mem_write_u16(mem, vq->used_gpa + 2, vq->used_idx)) {
        vq->broken = true;
        return false;
    }
    return true;
}

bool hgr_virtq_should_notify(HgrVirtq *vq, const HgrGuestMem *mem)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!vq->event_idx) {
        uint16_t flags = 0;
        hgr_mem_read(mem, vq->avail_gpa, &flags, 2);
        return !(flags & VRING_AVAIL_F_NO_INTERRUPT);
    }
    uint16_t old = vq->signalled_used, now = vq->used_idx, event = 0;
    bool valid = vq->signalled_valid;
    vq->signalled_used = now;
    vq->signalled_valid = true;
    if (!valid)
        return true;
    hgr_mem_read(mem, vq->avail_gpa + 4 + 2ULL * vq->size, &event, 2);
    /* vring_need_event(): did used pass event since the last interrupt? */
    return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

unsigned hgr_virtq_pending(HgrVirtq *vq, const HgrGuestMem *mem)
{
    if (vq->broken || !vq->ready)
        return 0;
    uint16_t n = (uint16_t)(read_avail_idx(vq, mem) - vq->last_avail);
    return n <= vq->size ? n : 0;
}

bool hgr_virtq_enable_notify(HgrVirtq *vq, const HgrGuestMem *mem)
{
    if (vq->broken || !vq->ready)
        return false;
    if (vq->event_idx) {
        hgr_mem_write_u16(mem, vq->used_gpa + 4 + 8ULL * vq->size, vq->last_avail);
    } else {
        uint16_t flags = 0;
        hgr_mem_write_u16(mem, vq->used_gpa, flags);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return hgr_virtq_pending(vq, mem) > 0;
}

/* Copies between iovecs (from byte `skip` on) and a flat buffer. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t skip, uint8_t *buf,
                       size_t len, bool to_iov)
{
    size_t done = 0;

    for (unsigned i = 0; i < n && done < len; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        size_t chunk = MIN(iov[i].iov_len - skip, len - done);
        uint8_t *p = (uint8_t *)iov[i].iov_base + skip;
        if (to_iov)
            memcpy(p, buf + done, chunk);
        else
            memcpy(buf + done, p, chunk);
        done += chunk;
        skip = 0;
    }
    return done;
}

size_t hgr_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len)
{
    return iov_copy(iov, n, skip, buf, len, false);
}

size_t hgr_iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *buf,
                        size_t len)
{
    return iov_copy(iov, n, skip, (uint8_t *)buf, len, true);
}

void hgr_virtq_visit(HgrVisitor *v, HgrVirtq *vq)
{
    hgr_visit_u16(v, &vq->size);
    hgr_visit_bool(v, &vq->ready);
    hgr_visit_u16(v, &vq->msix_vector);
    hgr_visit_u64(v, &vq->desc_gpa);
    hgr_visit_u64(v, &vq->avail_gpa);
    hgr_visit_u64(v, &vq->used_gpa);
    hgr_visit_u16(v, &vq->last_avail);
    hgr_visit_u16(v, &vq->used_idx);
    hgr_visit_u16(v, &vq->signalled_used);
    hgr_visit_bool(v, &vq->signalled_valid);
    hgr_visit_bool(v, &vq->event_idx);
    hgr_visit_bool(v, &vq->broken);
}
