/* qcow2-refcount.c — qcow2 cluster bookkeeping: the refcount table and its
 * blocks, allocating and releasing clusters, and the set of clusters that
 * hold metadata (which a guest write must never reach).
 *
 * Clusters are only ever allocated at the end of the file, and every change
 * in the driver is ordered so that a crash or a failed write leaves at worst
 * leaked clusters: refcount first, then the data or table, then the entry
 * that points at it; a cluster is released only after nothing points at it
 * any more. Every caller of this file relies on that rule.
 */
#include "vmm-config.h"

#include "qcow2-private.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* Metadata clusters: never handed to the guest for writing. */

void hgr_qcow2_meta_add_range(Qcow2 *q, uint64_t off, uint64_t len)
{
    for (uint64_t o = off & ~(q->cluster_size - 1); o < off + len; o += q->cluster_size)
        g_hash_table_add(q->meta, meta_key(q, o));
}

static void meta_remove_range(Qcow2 *q, uint64_t off, uint64_t len)
{
    for (uint64_t o = off & ~(q->cluster_size - 1); o < off + len; o += q->cluster_size)
        g_hash_table_remove(q->meta, meta_key(q, o));
}

/* Refcounts */

static void rc_position(Qcow2 *q, uint64_t idx, uint64_t *byte, unsigned *shift)
{
    uint64_t i = idx & ((1ull << q->rb_bits) - 1);
    if (q->refcount_order >= 3) {
        *byte = i << (q->refcount_order - 3);
        *shift = 0;
    } else {
        *byte = i >> (3 - q->refcount_order);
        *shift = (unsigned)(i & ((8u >> q->refcount_order) - 1)) << q->refcount_order;
    }
}

static uint64_t rc_get_buf(Qcow2 *q, const uint8_t *p, unsigned shift)
{
    unsigned bits = 1u << q->refcount_order;
    if (bits < 8)
        return (p[0] >> shift) & ((1u << bits) - 1);
    uint64_t v = 0;
    for (unsigned i = 0; i < bits / 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void rc_put_buf(Qcow2 *q, uint8_t *p, unsigned shift, uint64_t v)
{
    unsigned bits = 1u << q->refcount_order;
    if (bits < 8) {
        uint8_t mask = (uint8_t)(((1u << bits) - 1) << shift);
        p[0] = (uint8_t)((p[0] & ~mask) | ((v << shift) & mask));
        return;
    }
    for (unsigned i = bits / 8; i-- > 0; v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t rc_max(Qcow2 *q)
{
    return q->refcount_order == 6 ? UINT64_MAX : (1ull << (1u << q->refcount_order)) - 1;
}

static int rt_grow(Qcow2 *q, uint64_t need_index);
static int rc_update(Qcow2 *q, uint64_t off, int delta);

/* Installs a new, zeroed refcount block for table index ri at the end of
 * the file; it counts itself when it lies in the range it covers. */
static int refblock_new(Qcow2 *q, uint64_t ri)
{
    uint64_t off = q->file_end;
    uint64_t idx = off >> q->cluster_bits;
    bool self = (idx >> q->rb_bits) == ri;
    g_autofree uint8_t *blk = g_malloc0(q->cluster_size);

    q->file_end += q->cluster_size;
    if (self) {
        uint64_t byte;
        unsigned shift;
        rc_position(q, idx, &byte, &shift);
        rc_put_buf(q, blk + byte, shift, 1);
    }
    int r = hgr_qcow2_pwrite(q, blk, q->cluster_size, off);
    if (r < 0)
        return r;
    uint8_t e[8];
    put_be64(e, off);
    if ((r = hgr_qcow2_pwrite(q, e, 8, q->rt_offset + ri * 8)) < 0)
        return r;
    q->rt[ri] = off;
    hgr_qcow2_meta_add_range(q, off, q->cluster_size);
    return self ? 0 : rc_update(q, off, 1);
}

static int rc_update(Qcow2 *q, uint64_t off, int delta)
{
    uint64_t idx = off >> q->cluster_bits;
    uint64_t ri = idx >> q->rb_bits;
    int r;

    if (ri >= q->rt_entries && (r = rt_grow(q, ri)) < 0)
        return r;
    if (!q->rt[ri]) {
        if (delta < 0)
            return hgr_qcow2_corrupt(q, "freeing a cluster without a refcount block", off);
        if ((r = refblock_new(q, ri)) < 0)
            return r;
    }
    uint64_t byte;
    unsigned shift;
    rc_position(q, idx, &byte, &shift);
    uint8_t buf[8] = { 0 };
    size_t len = MAX(1u, (1u << q->refcount_order) / 8);
    uint64_t at = q->rt[ri] + byte;
    if ((r = hgr_qcow2_pread(q, buf, len, at)) < 0)
        return r;
    uint64_t v = rc_get_buf(q, buf, shift);
    if ((delta < 0 && v == 0) || (delta > 0 && v == rc_max(q)))
        return hgr_qcow2_corrupt(q, "refcount out of range", off);
    rc_put_buf(q, buf, shift, delta < 0 ? v - 1 : v + 1);
    return hgr_qcow2_pwrite(q, buf, len, at);
}

static int rc_update_range(Qcow2 *q, uint64_t off, uint64_t len, int delta)
{
    for (uint64_t o = off & ~(q->cluster_size - 1); o < off + len; o += q->cluster_size) {
        int r = rc_update(q, o, delta);
        if (r < 0)
            return r;
    }
    return 0;
}

/* A bigger refcount table at the end of the file, with the new refcount
 * blocks it needs to count itself; the header switches to it in one write. */
static int rt_grow(Qcow2 *q, uint64_t need_index)
{
    uint64_t cs = q->cluster_size;
    uint64_t entries = MAX(need_index + 1, q->rt_entries * 2);
    /* Room for the table and its own refcount blocks, whatever they cover. */
    entries = MAX(entries, ((q->file_end >> q->cluster_bits) >> q->rb_bits) + 8);
    uint64_t clusters = (entries * 8 + cs - 1) / cs;
    if (clusters * cs > MAX_RT_BYTES)
        return -EFBIG;
    entries = clusters * cs / 8;

    g_autofree uint64_t *rt = g_new0(uint64_t, entries);
    memcpy(rt, q->rt, q->rt_entries * 8);
    uint64_t table = q->file_end;
    uint64_t end = table + clusters * cs;
    uint64_t first_new_block = end;
    for (uint64_t o = table; o < end; o += cs) {        /* end grows with new blocks */
        uint64_t ri = (o >> q->cluster_bits) >> q->rb_bits;
        if (ri >= entries)
            return -EFBIG;
        if (!rt[ri]) {
            rt[ri] = end;
            end += cs;
        }
    }
    uint64_t nblocks = (end - first_new_block) / cs;
    g_autofree uint8_t *blocks = g_malloc0(MAX(nblocks, 1) * cs);
    q->file_end = end;
    int r;
    for (uint64_t o = table; o < end; o += cs) {
        uint64_t idx = o >> q->cluster_bits;
        uint64_t block = rt[idx >> q->rb_bits];
        if (block < first_new_block) {
            /* Counted in a block that already exists: the table is not live yet. */
            if ((r = rc_update(q, o, 1)) < 0)
                return r;
            continue;
        }
        uint64_t byte;
        unsigned shift;
        rc_position(q, idx, &byte, &shift);
        rc_put_buf(q, blocks + (block - first_new_block) + byte, shift, 1);
    }
    if (nblocks && (r = hgr_qcow2_pwrite(q, blocks, nblocks * cs, first_new_block)) < 0)
        return r;
    g_autofree uint8_t *raw = g_malloc0(clusters * cs);
    for (uint64_t i = 0; i < entries; i++)
        put_be64(raw + i * 8, rt[i]);
    if ((r = hgr_qcow2_pwrite(q, raw, clusters * cs, table)) < 0)
        return r;
    if (fdatasync(q->fd) < 0)
        return -errno;
    uint8_t h[12];
    put_be64(h, table);
    put_be32(h + 8, (uint32_t)clusters);
    if ((r = hgr_qcow2_pwrite(q, h, sizeof(h), H_RT_OFF)) < 0)
        return r;

    uint64_t old = q->rt_offset, old_len = (uint64_t)q->rt_clusters * cs;
    g_free(q->rt);
    q->rt = g_steal_pointer(&rt);
    q->rt_entries = entries;
    q->rt_offset = table;
    q->rt_clusters = (uint32_t)clusters;
    meta_remove_range(q, old, old_len);
    hgr_qcow2_meta_add_range(q, table, clusters * cs);
    hgr_qcow2_meta_add_range(q, first_new_block, nblocks * cs);
    g_debug("%s: refcount table moved to 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT
            " clusters)", hgr_block_path(q->blk), table, clusters);
    return rc_update_range(q, old, old_len, -1);
}

/* A fresh cluster at the end of the file, counted before anything uses it. */
int hgr_qcow2_cluster_alloc(Qcow2 *q, uint64_t *off)
{
    uint64_t o = q->file_end;
    if (o + q->cluster_size > (OFFSET_MASK & ~(q->cluster_size - 1)))
        return -EFBIG;
    q->file_end += q->cluster_size;
    int r = rc_update(q, o, 1);
    if (r < 0)
        return r;
    *off = o;
    return 0;
}

/* Releases whatever host clusters an L2 entry held. */
int hgr_qcow2_entry_release(Qcow2 *q, uint64_t e)
{
    if (e & OFLAG_COMPRESSED) {
        uint64_t coff = e & q->coffset_mask;
        uint64_t nsec = ((e >> q->csize_shift) & q->csize_mask) + 1;
        return rc_update_range(q, coff & ~511ull, nsec * 512, -1);
    }
    uint64_t host = e & OFFSET_MASK;
    if (!host)
        return 0;
    if (is_meta(q, host))
        return hgr_qcow2_corrupt(q, "L2 entry points at metadata", host);
    int r = rc_update(q, host, -1);
    if (r == 0 && fallocate(q->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                            (off_t)host, (off_t)q->cluster_size) < 0)
        g_debug("cannot punch a hole: %s", g_strerror(errno));
    return r;
}
