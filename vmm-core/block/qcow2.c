/* qcow2.c — the qcow2 format (v2 and v3): header checks, L1/L2 mapping,
 * refcounts, cluster allocation, zero and compressed clusters, backing files.
 *
 * Metadata I/O is synchronous pread/pwrite on the I/O thread. A read or write
 * whose every cluster is already allocated in place (the common case once a
 * disk is in use) only needs the cached L2 entries: its data goes to the AIO
 * engine at the host offsets, so many are in flight at once. Anything else
 * (allocation, copy-on-write, compressed, zero or backing clusters) runs
 * synchronously and completes through hgr_block_complete().
 * Clusters are only ever allocated at the end of the file, and every change is
 * ordered so that a crash or a failed write leaves at worst leaked clusters:
 * refcount first, then the data or table, then the entry that points at it;
 * a cluster is released only after nothing points at it any more.
 */
#include "vmm-config.h"

#include "qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define QCOW2_MAGIC         0x514649fbu        /* "QFI\xfb" */
#define HDR_V2_LEN          72
#define HDR_V3_LEN          104
#define MIN_CLUSTER_BITS    9
#define MAX_CLUSTER_BITS    21
#define MAX_L1_BYTES        (32u << 20)
#define MAX_RT_BYTES        (8u << 20)
#define MAX_SNAPSHOTS       65536
#define MAX_BACKING_NAME    1023
#define MAX_BACKING_DEPTH   16
#define L2_CACHE_SLOTS      16
#define MAX_DIRECT_RUNS     256         /* clusters of one request on the fast path */

#define INCOMPAT_DIRTY      (1ull << 0)
#define INCOMPAT_CORRUPT    (1ull << 1)
#define OFFSET_MASK         0x00fffffffffffe00ull
#define OFLAG_COPIED        (1ull << 63)
#define OFLAG_COMPRESSED    (1ull << 62)
#define OFLAG_ZERO          (1ull << 0)

#define EXT_END             0x00000000u
#define EXT_BACKING_FORMAT  0xe2792acau

/* Header field offsets (all big-endian). */
enum {
    H_MAGIC = 0, H_VERSION = 4, H_BACKING_OFF = 8, H_BACKING_LEN = 16, H_CLUSTER_BITS = 20,
    H_SIZE = 24, H_CRYPT = 32, H_L1_SIZE = 36, H_L1_OFF = 40, H_RT_OFF = 48,
    H_RT_CLUSTERS = 56, H_NB_SNAP = 60, H_SNAP_OFF = 64, H_INCOMPAT = 72, H_COMPAT = 80,
    H_AUTOCLEAR = 88, H_REFCOUNT_ORDER = 96, H_HEADER_LEN = 100,
};

typedef struct {
    uint64_t offset;                 /* of the table in the file; 0: free slot */
    uint64_t *table;                 /* entries in host byte order */
    uint64_t used;
} L2Slot;

typedef struct {
    HgrBlock *blk;
    int fd;
    bool readonly;
    unsigned version;
    unsigned cluster_bits, l2_bits, rb_bits;   /* rb_bits: log2 refcounts per block */
    uint64_t cluster_size;
    uint64_t disk_size;
    uint64_t file_end;               /* next cluster to allocate */
    uint32_t l1_size;
    uint64_t l1_offset;
    uint64_t *l1;
    uint64_t rt_offset;
    uint32_t rt_clusters;
    uint64_t rt_entries;
    uint64_t *rt;
    unsigned refcount_order;
    uint64_t autoclear;
    unsigned csize_shift;
    uint64_t csize_mask, coffset_mask;
    GHashTable *meta;                /* cluster index + 1 of every metadata cluster */
    HgrBlock *backing;
    uint64_t backing_size;
    L2Slot l2[L2_CACHE_SLOTS];
    uint64_t tick;
    uint8_t *cbuf;                   /* last decompressed cluster */
    uint64_t cbuf_entry;
    bool prepared;                   /* autoclear bits dropped before the first change */
    unsigned writes_until_fault;     /* HANGAR_QCOW2_FAULT: 0 = none */
    gint64 last_warning;
} Qcow2;

G_GNUC_PRINTF(2, 3)
static void warn_limited(Qcow2 *q, const char *fmt, ...)
{
    gint64 now = g_get_monotonic_time();
    if (q->last_warning && now - q->last_warning < 5 * G_TIME_SPAN_SECOND)
        return;
    q->last_warning = now;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_warning("%s: %s", hgr_block_path(q->blk), msg);
}

static uint32_t be32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return GUINT32_FROM_BE(v);
}

static uint64_t be64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return GUINT64_FROM_BE(v);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, 4);
}

static void put_be64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_BE(v);
    memcpy(p, &v, 8);
}

/* File I/O: every byte the driver moves goes through these two. */

static int file_read(Qcow2 *q, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(q->fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0) {                      /* past the end of the file reads as zeros */
            memset((uint8_t *)buf + done, 0, len - done);
            break;
        }
        done += (size_t)r;
    }
    return 0;
}

static int file_write(Qcow2 *q, const void *buf, size_t len, uint64_t off)
{
    if (q->writes_until_fault && --q->writes_until_fault == 0)
        return -ENOSPC;
    size_t done = 0;
    while (done < len) {
        ssize_t r = pwrite(q->fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        done += (size_t)r;
    }
    return 0;
}

static int file_readv(Qcow2 *q, struct iovec *iov, unsigned n, uint64_t off)
{
    for (unsigned i = 0; i < n; i++) {
        int r = file_read(q, iov[i].iov_base, iov[i].iov_len, off);
        if (r < 0)
            return r;
        off += iov[i].iov_len;
    }
    return 0;
}

static int file_writev(Qcow2 *q, const struct iovec *iov, unsigned n, uint64_t off)
{
    for (unsigned i = 0; i < n; i++) {
        int r = file_write(q, iov[i].iov_base, iov[i].iov_len, off);
        if (r < 0)
            return r;
        off += iov[i].iov_len;
    }
    return 0;
}

/* Metadata clusters: never handed to the guest for writing. */

static gpointer meta_key(Qcow2 *q, uint64_t off)
{
    return GSIZE_TO_POINTER((off >> q->cluster_bits) + 1);
}

static void meta_add_range(Qcow2 *q, uint64_t off, uint64_t len)
{
    for (uint64_t o = off & ~(q->cluster_size - 1); o < off + len; o += q->cluster_size)
        g_hash_table_add(q->meta, meta_key(q, o));
}

static void meta_remove_range(Qcow2 *q, uint64_t off, uint64_t len)
{
    for (uint64_t o = off & ~(q->cluster_size - 1); o < off + len; o += q->cluster_size)
        g_hash_table_remove(q->meta, meta_key(q, o));
}

static bool is_meta(Qcow2 *q, uint64_t off)
{
    return g_hash_table_contains(q->meta, meta_key(q, off));
}

/* Marks the image corrupt (v3 header bit) so nobody writes to it again
 * before a repair, and fails the request. */
static int corrupt(Qcow2 *q, const char *what, uint64_t off)
{
    warn_limited(q, "image is corrupt (%s at 0x%" G_GINT64_MODIFIER "x); "
                 "further writes refused, run qemu-img check", what, off);
    if (!q->readonly && q->version >= 3) {
        uint8_t b[8];
        if (file_read(q, b, 8, H_INCOMPAT) == 0) {
            put_be64(b, be64_at(b) | INCOMPAT_CORRUPT);
            if (pwrite(q->fd, b, 8, H_INCOMPAT) != 8)
                g_debug("cannot set the corrupt bit");
        }
    }
    q->readonly = true;
    return -EIO;
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
    int r = file_write(q, blk, q->cluster_size, off);
    if (r < 0)
        return r;
    uint8_t e[8];
    put_be64(e, off);
    if ((r = file_write(q, e, 8, q->rt_offset + ri * 8)) < 0)
        return r;
    q->rt[ri] = off;
    meta_add_range(q, off, q->cluster_size);
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
            return corrupt(q, "freeing a cluster without a refcount block", off);
        if ((r = refblock_new(q, ri)) < 0)
            return r;
    }
    uint64_t byte;
    unsigned shift;
    rc_position(q, idx, &byte, &shift);
    uint8_t buf[8] = { 0 };
    size_t len = MAX(1u, (1u << q->refcount_order) / 8);
    uint64_t at = q->rt[ri] + byte;
    if ((r = file_read(q, buf, len, at)) < 0)
        return r;
    uint64_t v = rc_get_buf(q, buf, shift);
    if ((delta < 0 && v == 0) || (delta > 0 && v == rc_max(q)))
        return corrupt(q, "refcount out of range", off);
    rc_put_buf(q, buf, shift, delta < 0 ? v - 1 : v + 1);
    return file_write(q, buf, len, at);
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
    if (nblocks && (r = file_write(q, blocks, nblocks * cs, first_new_block)) < 0)
        return r;
    g_autofree uint8_t *raw = g_malloc0(clusters * cs);
    for (uint64_t i = 0; i < entries; i++)
        put_be64(raw + i * 8, rt[i]);
    if ((r = file_write(q, raw, clusters * cs, table)) < 0)
        return r;
    if (fdatasync(q->fd) < 0)
        return -errno;
    uint8_t h[12];
    put_be64(h, table);
    put_be32(h + 8, (uint32_t)clusters);
    if ((r = file_write(q, h, sizeof(h), H_RT_OFF)) < 0)
        return r;

    uint64_t old = q->rt_offset, old_len = (uint64_t)q->rt_clusters * cs;
    g_free(q->rt);
    q->rt = g_steal_pointer(&rt);
    q->rt_entries = entries;
    q->rt_offset = table;
    q->rt_clusters = (uint32_t)clusters;
    meta_remove_range(q, old, old_len);
    meta_add_range(q, table, clusters * cs);
    meta_add_range(q, first_new_block, nblocks * cs);
    g_debug("%s: refcount table moved to 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT
            " clusters)", hgr_block_path(q->blk), table, clusters);
    return rc_update_range(q, old, old_len, -1);
}

/* A fresh cluster at the end of the file, counted before anything uses it. */
static int cluster_alloc(Qcow2 *q, uint64_t *off)
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
static int entry_release(Qcow2 *q, uint64_t e)
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
        return corrupt(q, "L2 entry points at metadata", host);
    int r = rc_update(q, host, -1);
    if (r == 0 && fallocate(q->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                            (off_t)host, (off_t)q->cluster_size) < 0)
        g_debug("cannot punch a hole: %s", g_strerror(errno));
    return r;
}

/* L2 tables */

static L2Slot *l2_slot_for(Qcow2 *q, uint64_t l2_off)
{
    L2Slot *victim = &q->l2[0];
    for (unsigned i = 0; i < L2_CACHE_SLOTS; i++) {
        if (q->l2[i].offset == l2_off) {
            q->l2[i].used = ++q->tick;
            return &q->l2[i];
        }
        if (q->l2[i].used < victim->used)
            victim = &q->l2[i];
    }
    return victim;
}

static int l2_load(Qcow2 *q, uint64_t l2_off, L2Slot **out)
{
    L2Slot *s = l2_slot_for(q, l2_off);
    if (s->offset == l2_off && s->table) {
        *out = s;
        return 0;
    }
    if (!s->table)
        s->table = g_malloc(q->cluster_size);
    s->offset = 0;
    int r = file_read(q, s->table, q->cluster_size, l2_off);
    if (r < 0)
        return r;
    for (uint64_t i = 0; i < q->cluster_size / 8; i++)
        s->table[i] = GUINT64_FROM_BE(s->table[i]);
    s->offset = l2_off;
    s->used = ++q->tick;
    *out = s;
    return 0;
}

/* Finds the L2 table for guest offset off; with alloc, makes one. *s NULL:
 * no table (reads as unallocated). */
static int l2_find(Qcow2 *q, uint64_t off, bool alloc, L2Slot **s, unsigned *index)
{
    uint64_t l1i = off >> (q->cluster_bits + q->l2_bits);
    *index = (unsigned)((off >> q->cluster_bits) & ((1u << q->l2_bits) - 1));
    *s = NULL;
    if (l1i >= q->l1_size)
        return corrupt(q, "guest offset beyond the L1 table", off);
    uint64_t e = q->l1[l1i];
    uint64_t l2_off = e & OFFSET_MASK;
    if (l2_off) {
        if (alloc && !(e & OFLAG_COPIED))
            return corrupt(q, "shared L2 table (internal snapshots are read-only here)", l2_off);
        return l2_load(q, l2_off, s);
    }
    if (!alloc)
        return 0;
    int r = cluster_alloc(q, &l2_off);
    if (r < 0)
        return r;
    L2Slot *slot = l2_slot_for(q, l2_off);
    if (!slot->table)
        slot->table = g_malloc(q->cluster_size);
    slot->offset = 0;
    memset(slot->table, 0, q->cluster_size);
    if ((r = file_write(q, slot->table, q->cluster_size, l2_off)) < 0)
        return r;
    uint8_t be[8];
    put_be64(be, l2_off | OFLAG_COPIED);
    if ((r = file_write(q, be, 8, q->l1_offset + l1i * 8)) < 0)
        return r;
    q->l1[l1i] = l2_off | OFLAG_COPIED;
    meta_add_range(q, l2_off, q->cluster_size);
    slot->offset = l2_off;
    slot->used = ++q->tick;
    *s = slot;
    return 0;
}

static int l2_set(Qcow2 *q, L2Slot *s, unsigned index, uint64_t e)
{
    uint8_t be[8];
    put_be64(be, e);
    int r = file_write(q, be, 8, s->offset + (uint64_t)index * 8);
    if (r == 0)
        s->table[index] = e;
    return r;
}

/* Reading one cluster's worth */

static int read_compressed(Qcow2 *q, uint64_t e)
{
    if (q->cbuf && q->cbuf_entry == e)
        return 0;
    uint64_t coff = e & q->coffset_mask;
    uint64_t nsec = ((e >> q->csize_shift) & q->csize_mask) + 1;
    uint64_t clen = nsec * 512 - (coff & 511);
    g_autofree uint8_t *in = g_malloc(clen);
    int r = file_read(q, in, clen, coff);
    if (r < 0)
        return r;
    if (!q->cbuf)
        q->cbuf = g_malloc(q->cluster_size);
    q->cbuf_entry = 0;
    z_stream z = { 0 };
    if (inflateInit2(&z, -15) != Z_OK)
        return -ENOMEM;
    z.next_in = in;
    z.avail_in = (uInt)clen;
    z.next_out = q->cbuf;
    z.avail_out = (uInt)q->cluster_size;
    int zr = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    /* qemu pads the last sector: a complete cluster with input left over is fine. */
    if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR) || z.avail_out != 0) {
        warn_limited(q, "compressed cluster at 0x%" G_GINT64_MODIFIER "x does not inflate",
                     coff);
        return -EIO;
    }
    q->cbuf_entry = e;
    return 0;
}

static void zero_iov(struct iovec *iov, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        memset(iov[i].iov_base, 0, iov[i].iov_len);
}

static void copy_to_iov(struct iovec *iov, unsigned n, const uint8_t *src)
{
    for (unsigned i = 0; i < n; i++) {
        memcpy(iov[i].iov_base, src, iov[i].iov_len);
        src += iov[i].iov_len;
    }
}

static void sync_done(HgrBlockReq *req, int ret)
{
    *(int *)req->opaque = ret;
}

static int backing_read(Qcow2 *q, struct iovec *iov, unsigned n, uint64_t off, uint64_t len)
{
    if (!q->backing || off >= q->backing_size) {
        zero_iov(iov, n);
        return 0;
    }
    uint64_t have = MIN(len, q->backing_size - off);
    g_autofree struct iovec *part = g_new(struct iovec, MAX(n, 1));
    unsigned pn = hgr_block_iov_slice(iov, n, 0, have, part);
    int ret = -EIO;
    /* The backing image has no I/O thread: the request completes inline. */
    HgrBlockReq req = { .op = HGR_BLOCK_READ, .offset = off, .iov = part, .iovcnt = pn,
                        .done = sync_done, .opaque = &ret };
    hgr_block_submit(q->backing, &req);
    if (ret == 0 && have < len) {
        unsigned tn = hgr_block_iov_slice(iov, n, have, len - have, part);
        zero_iov(part, tn);
    }
    return ret;
}

/* Reads guest bytes [off, off + len) which lie inside one cluster mapped by e. */
static int read_entry(Qcow2 *q, uint64_t e, struct iovec *iov, unsigned n, uint64_t off,
                      uint64_t len)
{
    uint64_t in = off & (q->cluster_size - 1);
    if (e & OFLAG_COMPRESSED) {
        int r = read_compressed(q, e);
        if (r == 0)
            copy_to_iov(iov, n, q->cbuf + in);
        return r;
    }
    if (q->version >= 3 && (e & OFLAG_ZERO)) {
        zero_iov(iov, n);
        return 0;
    }
    uint64_t host = e & OFFSET_MASK;
    if (!host)
        return backing_read(q, iov, n, off, len);
    if (host & (q->cluster_size - 1))
        return corrupt(q, "unaligned data cluster", host);
    return file_readv(q, iov, n, host + in);
}

/* Requests, cluster by cluster */

typedef int (*ChunkFn)(Qcow2 *q, HgrBlockReq *req, struct iovec *iov, unsigned n,
                       uint64_t off, uint64_t len);

static int for_each_chunk(Qcow2 *q, HgrBlockReq *req, ChunkFn fn)
{
    g_autofree struct iovec *part = g_new(struct iovec, MAX(req->iovcnt, 1));
    uint64_t done = 0;
    while (done < req->len) {
        uint64_t off = req->offset + done;
        uint64_t len = MIN(req->len - done, q->cluster_size - (off & (q->cluster_size - 1)));
        unsigned n = req->iov ? hgr_block_iov_slice(req->iov, req->iovcnt, done, len, part) : 0;
        int r = fn(q, req, part, n, off, len);
        if (r < 0)
            return r;
        done += len;
    }
    return 0;
}

static int read_chunk(Qcow2 *q, HgrBlockReq *req, struct iovec *iov, unsigned n,
                      uint64_t off, uint64_t len)
{
    L2Slot *s;
    unsigned i;
    int r = l2_find(q, off, false, &s, &i);
    if (r < 0)
        return r;
    return read_entry(q, s ? s->table[i] : 0, iov, n, off, len);
}

/* Drops the autoclear bits (bitmaps we would not keep up to date) before the
 * first change, as the specification asks of a writer that does not know them. */
static int prepare_write(Qcow2 *q)
{
    if (q->readonly)
        return -EIO;
    if (q->prepared)
        return 0;
    if (q->version >= 3 && q->autoclear) {
        uint8_t z[8] = { 0 };
        int r = file_write(q, z, 8, H_AUTOCLEAR);
        if (r < 0)
            return r;
        q->autoclear = 0;
    }
    q->prepared = true;
    return 0;
}

/* Writes guest bytes inside one cluster: in place when the cluster is ours
 * alone, else into a new cluster filled with the old contents around them. */
static int write_bytes(Qcow2 *q, struct iovec *iov, unsigned n, uint64_t off, uint64_t len,
                       bool zero)
{
    L2Slot *s;
    unsigned i;
    int r = l2_find(q, off, true, &s, &i);
    if (r < 0)
        return r;
    uint64_t e = s->table[i];
    uint64_t host = e & OFFSET_MASK;
    uint64_t in = off & (q->cluster_size - 1);
    bool plain = !(e & OFLAG_COMPRESSED) && !(q->version >= 3 && (e & OFLAG_ZERO));

    if (plain && host && (e & OFLAG_COPIED)) {
        if ((host & (q->cluster_size - 1)) || is_meta(q, host))
            return corrupt(q, "L2 entry points at metadata", host);
        if (host >= q->file_end)        /* would collide with the next allocation */
            return corrupt(q, "L2 entry points past the end of the file", host);
        if (!zero)
            return file_writev(q, iov, n, host + in);
        g_autofree uint8_t *z = g_malloc0(len);
        return file_write(q, z, len, host + in);
    }

    g_autofree uint8_t *buf = g_malloc(q->cluster_size);
    if (len < q->cluster_size) {
        struct iovec whole = { buf, q->cluster_size };
        if ((r = read_entry(q, e, &whole, 1, off - in, q->cluster_size)) < 0)
            return r;
    }
    if (zero) {
        memset(buf + in, 0, len);
    } else {
        uint8_t *p = buf + in;
        for (unsigned k = 0; k < n; p += iov[k].iov_len, k++)
            memcpy(p, iov[k].iov_base, iov[k].iov_len);
    }
    uint64_t fresh;
    if ((r = cluster_alloc(q, &fresh)) < 0 ||
        (r = file_write(q, buf, q->cluster_size, fresh)) < 0 ||
        (r = l2_set(q, s, i, fresh | OFLAG_COPIED)) < 0)
        return r;
    if (e == q->cbuf_entry)
        q->cbuf_entry = 0;
    return entry_release(q, e);
}

static int write_chunk(Qcow2 *q, HgrBlockReq *req, struct iovec *iov, unsigned n,
                       uint64_t off, uint64_t len)
{
    return write_bytes(q, iov, n, off, len, false);
}

/* Whole clusters become unallocated (or zero, when a backing file would show
 * through); partial ones are zeroed for write-zeroes and left for discard. */
static int unmap_chunk(Qcow2 *q, HgrBlockReq *req, struct iovec *iov, unsigned n,
                       uint64_t off, uint64_t len)
{
    bool zeroes = req->op == HGR_BLOCK_WRITE_ZEROES;
    if (len < q->cluster_size || (zeroes && q->version < 3))
        return zeroes ? write_bytes(q, NULL, 0, off, len, true) : 0;
    L2Slot *s;
    unsigned i;
    int r = l2_find(q, off, false, &s, &i);
    if (r < 0)
        return r;
    uint64_t old = s ? s->table[i] : 0;
    uint64_t want = (zeroes || q->backing) && q->version >= 3 ? OFLAG_ZERO : 0;
    if (old == want)
        return 0;
    if (!s && !want)
        return 0;
    if (!s && (r = l2_find(q, off, true, &s, &i)) < 0)
        return r;
    if ((r = l2_set(q, s, i, want)) < 0)
        return r;
    if (old == q->cbuf_entry)
        q->cbuf_entry = 0;
    return entry_release(q, old);
}

static int do_request(Qcow2 *q, HgrBlockReq *req)
{
    int r;
    switch (req->op) {
    case HGR_BLOCK_READ:
        return for_each_chunk(q, req, read_chunk);
    case HGR_BLOCK_WRITE:
        if ((r = prepare_write(q)) < 0)
            return r;
        return for_each_chunk(q, req, write_chunk);
    case HGR_BLOCK_DISCARD:
    case HGR_BLOCK_WRITE_ZEROES:
        if ((r = prepare_write(q)) < 0)
            return r;
        return for_each_chunk(q, req, unmap_chunk);
    case HGR_BLOCK_FLUSH:
        return fdatasync(q->fd) < 0 ? -errno : 0;
    }
    return -EINVAL;
}

/* The fast path: data straight to the AIO engine */

typedef struct {
    HgrBlockReq *parent;
    gint pending;                    /* children not yet done */
    int ret;                         /* first error */
    HgrBlockReq *child;              /* one per run of contiguous host clusters */
    struct iovec *iov;               /* the children's slices of the parent's iov */
} Fanout;

/* The host offset of guest byte off when its cluster can be read (or, with
 * write, written in place) without touching metadata; 0 otherwise. */
static uint64_t direct_host(Qcow2 *q, uint64_t off, bool write)
{
    L2Slot *s;
    unsigned i;
    if (l2_find(q, off, false, &s, &i) < 0 || !s)
        return 0;
    uint64_t e = s->table[i];
    uint64_t host = e & OFFSET_MASK;
    if ((e & OFLAG_COMPRESSED) || (q->version >= 3 && (e & OFLAG_ZERO)) || !host ||
        (host & (q->cluster_size - 1)))
        return 0;
    /* The same checks as write_bytes(): a bad entry takes the slow path,
     * which reports it. Freed clusters are never reused (allocation is at
     * the end of the file), so a request in flight cannot land in a cluster
     * that meanwhile became someone else's. */
    if (write && (!(e & OFLAG_COPIED) || is_meta(q, host) || host >= q->file_end))
        return 0;
    return host + (off & (q->cluster_size - 1));
}

static void fanout_child_done(HgrBlockReq *child, int ret)
{
    Fanout *f = child->opaque;
    if (ret < 0 && !f->ret)
        f->ret = ret;
    if (!g_atomic_int_dec_and_test(&f->pending))
        return;
    HgrBlockReq *parent = f->parent;
    int r = f->ret;
    g_free(f);
    parent->done(parent, r);
}

/* Submits req as file requests when every cluster it touches is mapped for
 * direct I/O; false (nothing submitted) when it needs the slow path. */
static bool submit_direct(Qcow2 *q, HgrBlockReq *req)
{
    bool write = req->op == HGR_BLOCK_WRITE;
    if (req->op != HGR_BLOCK_READ && !write)
        return false;
    if (write && (q->readonly || !q->prepared || q->writes_until_fault))
        return false;
    uint64_t cs = q->cluster_size;
    if (req->len / cs > MAX_DIRECT_RUNS - 2)
        return false;                 /* huge, in small clusters: rare, the slow path */
    uint64_t host[MAX_DIRECT_RUNS], glen[MAX_DIRECT_RUNS];
    unsigned runs = 0;
    for (uint64_t done = 0; done < req->len;) {
        uint64_t off = req->offset + done;
        uint64_t len = MIN(req->len - done, cs - (off & (cs - 1)));
        uint64_t h = direct_host(q, off, write);
        if (!h)
            return false;
        if (runs && host[runs - 1] + glen[runs - 1] == h) {
            glen[runs - 1] += len;
        } else {
            host[runs] = h;
            glen[runs++] = len;
        }
        done += len;
    }
    if (!runs)
        return false;

    /* One block for the state, the children and their iovecs. */
    size_t niov = req->iovcnt + runs;
    Fanout *f = g_malloc(sizeof(Fanout) + runs * sizeof(HgrBlockReq) + niov * sizeof(struct iovec));
    f->parent = req;
    f->ret = 0;
    f->pending = (gint)runs;
    f->child = (HgrBlockReq *)(f + 1);
    f->iov = (struct iovec *)(f->child + runs);
    uint64_t skip = 0;
    struct iovec *iov = f->iov;
    for (unsigned k = 0; k < runs; k++) {
        unsigned n = hgr_block_iov_slice(req->iov, req->iovcnt, skip, glen[k], iov);
        f->child[k] = (HgrBlockReq){ .op = req->op, .offset = host[k], .len = glen[k],
                                     .iov = iov, .iovcnt = n, .done = fanout_child_done,
                                     .opaque = f };
        iov += n;
        skip += glen[k];
    }
    /* The last child to finish frees f: take nothing from it after the
     * last submission. */
    HgrBlockReq *child = f->child;
    for (unsigned k = 0; k < runs; k++)
        hgr_block_file_submit(q->blk, &child[k]);
    return true;
}

static void qcow2_submit(HgrBlock *b, void *state, HgrBlockReq *req)
{
    Qcow2 *q = state;
    if (submit_direct(q, req))
        return;
    hgr_block_complete(b, req, do_request(q, req));
}

/* Opening: the header and its tables, checked before anything uses them. */

typedef struct {
    const char *path;
    uint64_t file_size;
    GError **error;
} OpenCtx;

G_GNUC_PRINTF(2, 3)
static bool refuse(OpenCtx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(c->error, HGR_VM_ERROR, HGR_VM_ERROR_DISK, "%s: not a usable qcow2 image: %s",
                c->path, why);
    return false;
}

/* [off, off + len) is cluster aligned, past the header cluster and inside the file. */
static bool table_ok(Qcow2 *q, OpenCtx *c, const char *what, uint64_t off, uint64_t len)
{
    if (off & (q->cluster_size - 1))
        return refuse(c, "%s offset 0x%" G_GINT64_MODIFIER "x is not cluster aligned", what, off);
    if (off < q->cluster_size)
        return refuse(c, "%s overlaps the header", what);
    if (off > c->file_size || len > c->file_size - off)
        return refuse(c, "%s lies past the end of the file", what);
    return true;
}

static bool parse_fields(Qcow2 *q, OpenCtx *c, const uint8_t *h, uint64_t *incompat)
{
    if (be32_at(h + H_MAGIC) != QCOW2_MAGIC)
        return refuse(c, "no qcow2 magic");
    q->version = be32_at(h + H_VERSION);
    if (q->version != 2 && q->version != 3)
        return refuse(c, "version %u (only 2 and 3 are known)", q->version);
    q->cluster_bits = be32_at(h + H_CLUSTER_BITS);
    if (q->cluster_bits < MIN_CLUSTER_BITS || q->cluster_bits > MAX_CLUSTER_BITS)
        return refuse(c, "cluster bits %u (must be 9 to 21)", q->cluster_bits);
    q->cluster_size = 1ull << q->cluster_bits;
    q->l2_bits = q->cluster_bits - 3;
    if (be32_at(h + H_CRYPT))
        return refuse(c, "encrypted images are not supported");
    uint32_t hlen = HDR_V2_LEN;
    *incompat = 0;
    q->refcount_order = 4;
    if (q->version >= 3) {
        hlen = be32_at(h + H_HEADER_LEN);
        if (hlen < HDR_V3_LEN || hlen % 8 || hlen > q->cluster_size)
            return refuse(c, "header length %u", hlen);
        *incompat = be64_at(h + H_INCOMPAT);
        q->autoclear = be64_at(h + H_AUTOCLEAR);
        q->refcount_order = be32_at(h + H_REFCOUNT_ORDER);
        if (q->refcount_order > 6)
            return refuse(c, "refcount order %u (at most 6)", q->refcount_order);
    }
    uint64_t unknown = *incompat & ~(INCOMPAT_DIRTY | INCOMPAT_CORRUPT);
    if (unknown)
        return refuse(c, "incompatible features 0x%" G_GINT64_MODIFIER "x are not supported "
                      "(external data file, compression type, extended L2 or unknown)", unknown);
    q->rb_bits = q->cluster_bits + 3 - q->refcount_order;
    q->csize_shift = 62 - (q->cluster_bits - 8);
    q->csize_mask = (1ull << (q->cluster_bits - 8)) - 1;
    q->coffset_mask = (1ull << q->csize_shift) - 1;

    q->disk_size = be64_at(h + H_SIZE);
    q->l1_size = be32_at(h + H_L1_SIZE);
    q->l1_offset = be64_at(h + H_L1_OFF);
    q->rt_offset = be64_at(h + H_RT_OFF);
    q->rt_clusters = be32_at(h + H_RT_CLUSTERS);
    if (q->disk_size > (uint64_t)INT64_MAX / 2 || q->disk_size % 512)
        return refuse(c, "disk size %" G_GUINT64_FORMAT, q->disk_size);
    uint64_t per_l2 = q->cluster_size << q->l2_bits;
    uint64_t need = (q->disk_size + per_l2 - 1) / per_l2;
    if ((uint64_t)q->l1_size * 8 > MAX_L1_BYTES)
        return refuse(c, "L1 table of %u entries is too large", q->l1_size);
    if (q->l1_size < need)
        return refuse(c, "L1 table of %u entries cannot map the disk size", q->l1_size);
    if (!table_ok(q, c, "L1 table", q->l1_offset, (uint64_t)q->l1_size * 8))
        return false;
    if (q->rt_clusters == 0 || (uint64_t)q->rt_clusters * q->cluster_size > MAX_RT_BYTES)
        return refuse(c, "refcount table of %u clusters", q->rt_clusters);
    if (!table_ok(q, c, "refcount table", q->rt_offset,
                  (uint64_t)q->rt_clusters * q->cluster_size))
        return false;
    uint64_t l1_end = q->l1_offset + (uint64_t)q->l1_size * 8;
    uint64_t rt_end = q->rt_offset + (uint64_t)q->rt_clusters * q->cluster_size;
    if (q->l1_size && q->l1_offset < rt_end && q->rt_offset < l1_end)
        return refuse(c, "the L1 and refcount tables overlap");
    uint32_t nsnap = be32_at(h + H_NB_SNAP);
    if (nsnap > MAX_SNAPSHOTS)
        return refuse(c, "%u snapshots", nsnap);
    if (nsnap && !table_ok(q, c, "snapshot table", be64_at(h + H_SNAP_OFF), 0))
        return false;
    if (nsnap && !q->readonly)
        return refuse(c, "it has internal snapshots, which can only be opened read-only here");
    if (*incompat & INCOMPAT_CORRUPT && !q->readonly)
        return refuse(c, "it is marked corrupt; repair it with qemu-img check -r all "
                      "or open it read-only");
    if (*incompat & INCOMPAT_DIRTY && !q->readonly)
        return refuse(c, "it is marked dirty (refcounts not up to date); repair it with "
                      "qemu-img check -r all or open it read-only");
    return true;
}

static bool load_tables(Qcow2 *q, OpenCtx *c)
{
    uint64_t cs = q->cluster_size;
    q->l1 = g_new0(uint64_t, MAX(q->l1_size, 1));
    q->rt_entries = (uint64_t)q->rt_clusters * cs / 8;
    q->rt = g_new0(uint64_t, q->rt_entries);
    if (file_read(q, q->l1, (size_t)q->l1_size * 8, q->l1_offset) < 0 ||
        file_read(q, q->rt, q->rt_entries * 8, q->rt_offset) < 0)
        return refuse(c, "cannot read its tables: %s", g_strerror(errno));
    q->meta = g_hash_table_new(g_direct_hash, g_direct_equal);
    meta_add_range(q, 0, cs);
    meta_add_range(q, q->l1_offset, (uint64_t)q->l1_size * 8);
    meta_add_range(q, q->rt_offset, (uint64_t)q->rt_clusters * cs);
    for (uint32_t i = 0; i < q->l1_size; i++) {
        q->l1[i] = GUINT64_FROM_BE(q->l1[i]);
        uint64_t o = q->l1[i] & OFFSET_MASK;
        if (o && !table_ok(q, c, "an L2 table", o, cs))
            return false;
        if (o && is_meta(q, o))
            return refuse(c, "L2 table at 0x%" G_GINT64_MODIFIER "x overlaps other metadata", o);
        if (o)
            meta_add_range(q, o, cs);
    }
    for (uint64_t i = 0; i < q->rt_entries; i++) {
        q->rt[i] = GUINT64_FROM_BE(q->rt[i]);
        uint64_t o = q->rt[i];
        if (o && (o & ~OFFSET_MASK))
            return refuse(c, "refcount table entry %" G_GUINT64_FORMAT " is malformed", i);
        if (o && !table_ok(q, c, "a refcount block", o, cs))
            return false;
        if (o && is_meta(q, o))
            return refuse(c, "refcount block at 0x%" G_GINT64_MODIFIER "x overlaps other "
                          "metadata", o);
        if (o)
            meta_add_range(q, o, cs);
    }
    q->file_end = (c->file_size + cs - 1) & ~(cs - 1);
    return true;
}

/* Header extensions: only the backing format matters here. */
static bool read_extensions(Qcow2 *q, OpenCtx *c, const uint8_t *h, uint32_t hlen,
                            uint64_t backing_off, char **backing_fmt)
{
    uint64_t end = q->cluster_size;
    if (backing_off && backing_off < end)
        end = backing_off;
    uint64_t pos = hlen;
    for (unsigned n = 0; pos + 8 <= end && n < 1024; n++) {
        uint32_t type = be32_at(h + pos), len = be32_at(h + pos + 4);
        pos += 8;
        if (type == EXT_END)
            break;
        if (len > end - pos)
            return refuse(c, "header extension 0x%x runs past the header", type);
        if (type == EXT_BACKING_FORMAT) {
            g_free(*backing_fmt);
            *backing_fmt = g_strndup((const char *)h + pos, len);
        }
        pos += ((uint64_t)len + 7) & ~7ull;
    }
    return true;
}

static bool backing_name_ok(OpenCtx *c, const char *name)
{
    if (!*name)
        return refuse(c, "empty backing file name");
    if (g_str_has_prefix(name, "json:"))
        return refuse(c, "backing file '%s' is a json: description, which is never followed",
                      name);
    /* An image from elsewhere must not read host files outside its directory. */
    if (g_path_is_absolute(name))
        return refuse(c, "backing file '%s' is an absolute path; only names relative to "
                      "the image's directory are followed", name);
    g_auto(GStrv) parts = g_strsplit(name, "/", -1);
    for (unsigned i = 0; parts[i]; i++)
        if (!strcmp(parts[i], ".."))
            return refuse(c, "backing file '%s' leaves the image's directory", name);
    return true;
}

static bool open_backing(Qcow2 *q, OpenCtx *c, const uint8_t *h, const char *fmt)
{
    /* Recursion depth of the chain being opened on this thread: the only way
     * to see a loop (a -> b -> a) through hgr_block_open(). */
    static _Thread_local unsigned depth;
    uint64_t off = be64_at(h + H_BACKING_OFF);
    uint32_t len = be32_at(h + H_BACKING_LEN);
    if (len > MAX_BACKING_NAME || off > q->cluster_size || len > q->cluster_size - off)
        return refuse(c, "backing file name at 0x%" G_GINT64_MODIFIER "x (%u bytes) is not "
                      "inside the header cluster", off, len);
    g_autofree char *name = g_strndup((const char *)h + off, len);
    if (strlen(name) != len)
        return refuse(c, "backing file name contains a NUL byte");
    if (!backing_name_ok(c, name))
        return false;
    HgrDiskFormat format;
    if (!fmt)
        return refuse(c, "backing file '%s' has no recorded format (formats are never "
                      "guessed; qemu-img rebase -F raw|qcow2 records one)", name);
    if (!strcmp(fmt, "raw"))
        format = HGR_DISK_FORMAT_RAW;
    else if (!strcmp(fmt, "qcow2"))
        format = HGR_DISK_FORMAT_QCOW2;
    else
        return refuse(c, "backing format '%s' is not supported", fmt);
    if (depth >= MAX_BACKING_DEPTH)
        return refuse(c, "backing chain deeper than %d images, or a loop", MAX_BACKING_DEPTH);
    g_autofree char *dir = g_path_get_dirname(c->path);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    struct stat self, other;
    if (fstat(q->fd, &self) == 0 && stat(path, &other) == 0 &&
        self.st_dev == other.st_dev && self.st_ino == other.st_ino)
        return refuse(c, "backing file '%s' is the image itself", name);
    depth++;
    q->backing = hgr_block_open(path, format, true, c->error);
    depth--;
    if (!q->backing) {
        g_prefix_error(c->error, "%s: backing file: ", c->path);
        return false;
    }
    q->backing_size = hgr_block_size(q->backing);
    return true;
}

static void qcow2_close(HgrBlock *b, void *state)
{
    Qcow2 *q = state;
    if (!q)
        return;
    g_clear_pointer(&q->backing, hgr_block_free);
    for (unsigned i = 0; i < L2_CACHE_SLOTS; i++)
        g_free(q->l2[i].table);
    g_clear_pointer(&q->meta, g_hash_table_unref);
    g_free(q->l1);
    g_free(q->rt);
    g_free(q->cbuf);
    g_free(q);
}

static void *qcow2_open(HgrBlock *b, uint64_t file_size, uint64_t *disk_size, GError **error)
{
    Qcow2 *q = g_new0(Qcow2, 1);
    OpenCtx c = { hgr_block_path(b), file_size, error };
    q->blk = b;
    q->fd = hgr_block_file_fd(b);
    q->readonly = hgr_block_readonly(b);
    const char *fault = g_getenv("HANGAR_QCOW2_FAULT");
    if (fault)
        q->writes_until_fault = (unsigned)g_ascii_strtoull(fault, NULL, 10);

    uint8_t first[HDR_V3_LEN] = { 0 };
    g_autofree uint8_t *h = NULL;
    g_autofree char *backing_fmt = NULL;
    uint64_t incompat;
    if (file_size < HDR_V2_LEN) {
        refuse(&c, "file too small for a qcow2 header");
        goto fail;
    }
    if (file_read(q, first, sizeof(first), 0) < 0) {
        refuse(&c, "cannot read the header: %s", g_strerror(errno));
        goto fail;
    }
    if (!parse_fields(q, &c, first, &incompat))
        goto fail;
    h = g_malloc(q->cluster_size);
    if (file_read(q, h, q->cluster_size, 0) < 0) {
        refuse(&c, "cannot read the header: %s", g_strerror(errno));
        goto fail;
    }
    uint32_t hlen = q->version >= 3 ? be32_at(h + H_HEADER_LEN) : HDR_V2_LEN;
    uint64_t backing_off = be64_at(h + H_BACKING_OFF);
    if (!load_tables(q, &c) ||
        !read_extensions(q, &c, h, hlen, backing_off, &backing_fmt) ||
        (backing_off && !open_backing(q, &c, h, backing_fmt)))
        goto fail;
    *disk_size = q->disk_size;
    return q;

fail:
    qcow2_close(b, q);
    return NULL;
}

const HgrBlockDriver hgr_qcow2_driver = {
    .name = "qcow2",
    .format = HGR_DISK_FORMAT_QCOW2,
    .open = qcow2_open,
    .submit = qcow2_submit,
    .close = qcow2_close,
};

/* Creating: header, refcount table, one refcount block, L1 table. */

bool hgr_qcow2_create(const char *path, uint64_t size, GError **error)
{
    const unsigned bits = 16;
    const uint64_t cs = 1ull << bits;
    uint64_t per_l2 = cs << (bits - 3);
    if (size % 512 || size > (1ull << 50)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_DISK,
                    "%s: size must be a multiple of 512 bytes and at most 1 PiB", path);
        return false;
    }
    uint64_t l1_size = (size + per_l2 - 1) / per_l2;
    uint64_t l1_clusters = MAX((l1_size * 8 + cs - 1) / cs, 1);
    uint64_t total = 3 + l1_clusters;
    g_autofree uint8_t *img = g_malloc0(total * cs);

    uint8_t *h = img;
    put_be32(h + H_MAGIC, QCOW2_MAGIC);
    put_be32(h + H_VERSION, 3);
    put_be32(h + H_CLUSTER_BITS, bits);
    put_be64(h + H_SIZE, size);
    put_be32(h + H_L1_SIZE, (uint32_t)l1_size);
    put_be64(h + H_L1_OFF, 3 * cs);
    put_be64(h + H_RT_OFF, cs);
    put_be32(h + H_RT_CLUSTERS, 1);
    put_be32(h + H_REFCOUNT_ORDER, 4);
    put_be32(h + H_HEADER_LEN, HDR_V3_LEN);
    put_be64(img + cs, 2 * cs);                        /* refcount table -> block */
    for (uint64_t i = 0; i < total; i++)
        img[2 * cs + i * 2 + 1] = 1;                   /* 16-bit refcounts of 1 */

    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_DISK, "%s: cannot create: %s", path,
                    g_strerror(errno));
        return false;
    }
    ssize_t w = pwrite(fd, img, total * cs, 0);
    int err = w < 0 ? errno : EIO;
    bool ok = w == (ssize_t)(total * cs) && fsync(fd) == 0;
    if (!ok && w == (ssize_t)(total * cs))
        err = errno;
    close(fd);
    if (!ok) {
        unlink(path);
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_DISK, "%s: cannot write: %s", path,
                    g_strerror(err));
    }
    return ok;
}
