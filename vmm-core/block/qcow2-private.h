/* qcow2-private.h — what the files of the qcow2 driver share: the state of an
 * open image (Qcow2), the on-disk constants more than one of them needs and
 * the small helpers they call across files.
 *
 * The driver is split by concern: qcow2.c maps guest offsets and moves the
 * data (L2 cache, reads, writes, discards, the direct AIO path, the driver
 * table); qcow2-refcount.c counts, allocates and releases clusters;
 * qcow2-open.c checks an image on the way in and creates new ones. Only those
 * three include this header; the rest of vmm-core sees qcow2.h.
 */
#pragma once

#include "qcow2.h"

#include <string.h>

#define MAX_RT_BYTES        (8u << 20)
#define L2_CACHE_SLOTS      16

#define INCOMPAT_DIRTY      (1ull << 0)
#define INCOMPAT_CORRUPT    (1ull << 1)
#define INCOMPAT_DATA_FILE    (1ull << 2)
#define INCOMPAT_COMPRESSION  (1ull << 3)
#define INCOMPAT_EXTENDED_L2  (1ull << 4)
#define OFFSET_MASK         0x00fffffffffffe00ull
#define OFLAG_COPIED        (1ull << 63)
#define OFLAG_COMPRESSED    (1ull << 62)
#define OFLAG_ZERO          (1ull << 0)

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
    bool fault_kills;                /* "kill:N": the process exits there instead */
    gint64 last_warning;
} Qcow2;

/* Big-endian fields of the header and the tables. */

static inline uint32_t be32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return GUINT32_FROM_BE(v);
}

static inline uint64_t be64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return GUINT64_FROM_BE(v);
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, 4);
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_BE(v);
    memcpy(p, &v, 8);
}

/* Metadata clusters: never handed to the guest for writing. */

static inline gpointer meta_key(Qcow2 *q, uint64_t off)
{
    return GSIZE_TO_POINTER((off >> q->cluster_bits) + 1);
}

static inline bool is_meta(Qcow2 *q, uint64_t off)
{
    return g_hash_table_contains(q->meta, meta_key(q, off));
}

/* qcow2.c */

/* File I/O: every byte the driver moves goes through these two. Reads past
 * the end of the file give zeros; HANGAR_QCOW2_FAULT makes a write fail. */
int hgr_qcow2_pread(Qcow2 *q, void *buf, size_t len, uint64_t off);
int hgr_qcow2_pwrite(Qcow2 *q, const void *buf, size_t len, uint64_t off);
/* g_warning naming the image, at most one every 5 s (a guest can trigger it). */
void hgr_qcow2_warn_limited(Qcow2 *q, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Marks the image corrupt (v3 header bit) so nobody writes to it again
 * before a repair, and fails the request: always -EIO. */
int hgr_qcow2_corrupt(Qcow2 *q, const char *what, uint64_t off);

/* qcow2-refcount.c */

/* Records the clusters of [off, off + len) as metadata. */
void hgr_qcow2_meta_add_range(Qcow2 *q, uint64_t off, uint64_t len);
/* A fresh cluster at the end of the file, counted before anything uses it. */
int hgr_qcow2_cluster_alloc(Qcow2 *q, uint64_t *off);
/* Releases whatever host clusters an L2 entry held. Call it only once
 * nothing points at them any more. */
int hgr_qcow2_entry_release(Qcow2 *q, uint64_t e);

/* qcow2-open.c: the driver's open and close operations. */

void *hgr_qcow2_open(HgrBlock *b, uint64_t file_size, uint64_t *disk_size, GError **error);
void hgr_qcow2_close(HgrBlock *b, void *state);
