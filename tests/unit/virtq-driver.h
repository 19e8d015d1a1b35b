/* virtq-driver.h — a driver's side of a split virtqueue in fake guest RAM,
 * for unit tests (test-virtqueue, test-virtio-rng, test-virtio-pci). */
#pragma once

#include <glib.h>
#include <string.h>

#include "core/memory.h"
#include "virtio/virtqueue.h"

#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1

typedef struct {
    const HgrGuestMem *mem;
    uint64_t desc, avail, used;
    uint16_t size;
    uint16_t avail_idx;
} TestRing;

/* Lays the rings out from `base`: descriptors, avail, then used (4-aligned). */
static inline void test_ring_init(TestRing *r, const HgrGuestMem *mem, uint64_t base,
                                  uint16_t size)
{
    *r = (TestRing){ .mem = mem, .size = size, .desc = base };
    r->avail = base + 16ULL * size;
    r->used = (r->avail + 6 + 2ULL * size + 3) & ~3ULL;
    uint64_t end = r->used + 6 + 8ULL * size;
    g_autofree uint8_t *zero = g_malloc0(end - base);
    g_assert_true(hgr_mem_write(mem, base, zero, end - base));
}

static inline void test_ring_attach(const TestRing *r, HgrVirtq *vq)
{
    vq->size = r->size;
    vq->desc_gpa = r->desc;
    vq->avail_gpa = r->avail;
    vq->used_gpa = r->used;
}

/* A descriptor in any table (the ring's, or an indirect one at `table`). */
static inline void test_desc_at(const HgrGuestMem *mem, uint64_t table, uint32_t i,
                                uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = { addr, len, flags, next };
    g_assert_true(hgr_mem_write(mem, table + 16ULL * i, &d, sizeof(d)));
}

static inline void test_ring_desc(TestRing *r, uint16_t i, uint64_t addr, uint32_t len,
                                  uint16_t flags, uint16_t next)
{
    test_desc_at(r->mem, r->desc, i, addr, len, flags, next);
}

static inline void test_ring_set_avail_idx(TestRing *r, uint16_t idx)
{
    r->avail_idx = idx;
    g_assert_true(hgr_mem_write_u16(r->mem, r->avail + 2, idx));
}

/* Offers the chain starting at `head`. */
static inline void test_ring_publish(TestRing *r, uint16_t head)
{
    g_assert_true(hgr_mem_write_u16(r->mem, r->avail + 4 + 2ULL * (r->avail_idx % r->size),
                                    head));
    test_ring_set_avail_idx(r, r->avail_idx + 1);
}

static inline uint16_t test_ring_used_idx(const TestRing *r)
{
    uint16_t idx = 0;
    g_assert_true(hgr_mem_read(r->mem, r->used + 2, &idx, 2));
    return idx;
}

static inline void test_ring_used_elem(const TestRing *r, uint16_t n, uint32_t *id,
                                       uint32_t *len)
{
    uint32_t e[2];
    g_assert_true(hgr_mem_read(r->mem, r->used + 4 + 8ULL * (n % r->size), e, sizeof(e)));
    *id = e[0];
    *len = e[1];
}

/* used_event: the driver's "interrupt me when used passes this" (event idx). */
static inline void test_ring_set_used_event(TestRing *r, uint16_t v)
{
    g_assert_true(hgr_mem_write_u16(r->mem, r->avail + 4 + 2ULL * r->size, v));
}

static inline uint16_t test_ring_avail_event(const TestRing *r)
{
    uint16_t v = 0;
    g_assert_true(hgr_mem_read(r->mem, r->used + 4 + 8ULL * r->size, &v, 2));
    return v;
}
