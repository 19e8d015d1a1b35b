/* qcow2.c — the qcow2 format (v2 and v3) driver: L1/L2 mapping, zero and
 * compressed clusters, backing files, the read, write and discard paths, and
 * the driver table.
 *
 * Metadata I/O is synchronous pread/pwrite on the I/O thread. A read or write
 * whose every cluster is already allocated in place (the common case once a
 * disk is in use) only needs the cached L2 entries: its data goes to the AIO
 * engine at the host offsets, so many are in flight at once. Anything else
 * (allocation, copy-on-write, compressed, zero or backing clusters) runs
 * synchronously and completes through hgr_block_complete().
 * Refcounts and cluster allocation, with the ordering rule every change here
 * follows (refcount first, then the data or table, then the entry that points
 * at it), are in qcow2-refcount.c; opening, header checks and creating an
 * image are in qcow2-open.c; what the three share is in qcow2-private.h.
 */
#include "vmm-config.h"

#include "qcow2-private.h"

#include <errno.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_DIRECT_RUNS     256         /* clusters of one request on the fast path */

G_GNUC_PRINTF(2, 3)
void hgr_qcow2_warn_limited(Qcow2 *q, const char *fmt, ...)
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

/* File I/O: every byte the driver moves goes through these two. */

int hgr_qcow2_pread(Qcow2 *q, void *buf, size_t len, uint64_t off)
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

int hgr_qcow2_pwrite(Qcow2 *q, const void *buf, size_t len, uint64_t off)
{
    if (q->writes_until_fault && --q->writes_until_fault == 0) {
        if (q->fault_kills)
            _exit(0);                   /* the process dies before this write */
        return -ENOSPC;
    }
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
        int r = hgr_qcow2_pread(q, iov[i].iov_base, iov[i].iov_len, off);
        if (r < 0)
            return r;
        off += iov[i].iov_len;
    }
    return 0;
}

static int file_writev(Qcow2 *q, const struct iovec *iov, unsigned n, uint64_t off)
{
    for (unsigned i = 0; i < n; i++) {
        int r = hgr_qcow2_pwrite(q, iov[i].iov_base, iov[i].iov_len, off);
        if (r < 0)
            return r;
        off += iov[i].iov_len;
    }
    return 0;
}

/* Marks the image corrupt (v3 header bit) so nobody writes to it again
 * before a repair, and fails the request. */
int hgr_qcow2_corrupt(Qcow2 *q, const char *what, uint64_t off)
{
    hgr_qcow2_warn_limited(q, "image is corrupt (%s at 0x%" G_GINT64_MODIFIER "x); "
                           "further writes refused, run qemu-img check", what, off);
    if (!q->readonly && q->version >= 3) {
        uint8_t b[8];
        if (hgr_qcow2_pread(q, b, 8, H_INCOMPAT) == 0) {
            put_be64(b, be64_at(b) | INCOMPAT_CORRUPT);
            if (pwrite(q->fd, b, 8, H_INCOMPAT) != 8)
                g_debug("cannot set the corrupt bit");
        }
    }
    q->readonly = true;
    return -EIO;
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
    int r = hgr_qcow2_pread(q, s->table, q->cluster_size, l2_off);
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
        return hgr_qcow2_corrupt(q, "guest offset beyond the L1 table", off);
    uint64_t e = q->l1[l1i];
    uint64_t l2_off = e & OFFSET_MASK;
    if (l2_off) {
        if (alloc && !(e & OFLAG_COPIED))
            return hgr_qcow2_corrupt(q, "shared L2 table (internal snapshots are read-only "
                                     "here)", l2_off);
        return l2_load(q, l2_off, s);
    }
    if (!alloc)
        return 0;
    int r = hgr_qcow2_cluster_alloc(q, &l2_off);
    if (r < 0)
        return r;
    L2Slot *slot = l2_slot_for(q, l2_off);
    if (!slot->table)
        slot->table = g_malloc(q->cluster_size);
    slot->offset = 0;
    memset(slot->table, 0, q->cluster_size);
    if ((r = hgr_qcow2_pwrite(q, slot->table, q->cluster_size, l2_off)) < 0)
        return r;
    uint8_t be[8];
    put_be64(be, l2_off | OFLAG_COPIED);
    if ((r = hgr_qcow2_pwrite(q, be, 8, q->l1_offset + l1i * 8)) < 0)
        return r;
    q->l1[l1i] = l2_off | OFLAG_COPIED;
    hgr_qcow2_meta_add_range(q, l2_off, q->cluster_size);
    slot->offset = l2_off;
    slot->used = ++q->tick;
    *s = slot;
    return 0;
}

static int l2_set(Qcow2 *q, L2Slot *s, unsigned index, uint64_t e)
{
    uint8_t be[8];
    put_be64(be, e);
    int r = hgr_qcow2_pwrite(q, be, 8, s->offset + (uint64_t)index * 8);
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
    int r = hgr_qcow2_pread(q, in, clen, coff);
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
        hgr_qcow2_warn_limited(q, "compressed cluster at 0x%" G_GINT64_MODIFIER
                               "x does not inflate", coff);
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
        return hgr_qcow2_corrupt(q, "unaligned data cluster", host);
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
        int r = hgr_qcow2_pwrite(q, z, 8, H_AUTOCLEAR);
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
            return hgr_qcow2_corrupt(q, "L2 entry points at metadata", host);
        if (host >= q->file_end)        /* would collide with the next allocation */
            return hgr_qcow2_corrupt(q, "L2 entry points past the end of the file", host);
        if (!zero)
            return file_writev(q, iov, n, host + in);
        g_autofree uint8_t *z = g_malloc0(len);
        return hgr_qcow2_pwrite(q, z, len, host + in);
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
    if ((r = hgr_qcow2_cluster_alloc(q, &fresh)) < 0 ||
        (r = hgr_qcow2_pwrite(q, buf, q->cluster_size, fresh)) < 0 ||
        (r = l2_set(q, s, i, fresh | OFLAG_COPIED)) < 0)
        return r;
    if (e == q->cbuf_entry)
        q->cbuf_entry = 0;
    return hgr_qcow2_entry_release(q, e);
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
    return hgr_qcow2_entry_release(q, old);
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

const HgrBlockDriver hgr_qcow2_driver = {
    .name = "qcow2",
    .format = HGR_DISK_FORMAT_QCOW2,
    .open = hgr_qcow2_open,
    .submit = qcow2_submit,
    .close = hgr_qcow2_close,
};
