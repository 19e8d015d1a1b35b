/* qcow2-open.c — opening a qcow2 image (and closing it) and creating one.
 * An image may come from anywhere, so every header field, the L1 and refcount
 * tables and the backing file reference are checked here, before the rest of
 * the driver trusts them; a bad image is refused with an error naming the
 * cause, and a backing file name that would leave the image's directory is
 * never followed.
 */
#include "vmm-config.h"

#include "qcow2-private.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define QCOW2_MAGIC         0x514649fbu        /* "QFI\xfb" */
#define HDR_V2_LEN          72
#define HDR_V3_LEN          104
#define MIN_CLUSTER_BITS    9
#define MAX_CLUSTER_BITS    21
#define MAX_L1_BYTES        (32u << 20)
#define MAX_SNAPSHOTS       65536
#define MAX_BACKING_NAME    1023
#define MAX_BACKING_DEPTH   16

#define EXT_END             0x00000000u
#define EXT_BACKING_FORMAT  0xe2792acau

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
    if (unknown) {
        /* Name what qemu-img made, and how to get an image Hangar reads. */
        const char *what = unknown & INCOMPAT_DATA_FILE ? "an external data file"
                         : unknown & INCOMPAT_COMPRESSION ? "zstd compression"
                         : unknown & INCOMPAT_EXTENDED_L2 ? "extended L2 entries (subclusters)"
                         : "unknown incompatible features";
        g_autofree char *quoted = g_shell_quote(c->path);
        return refuse(c, "it uses %s (incompatible features 0x%" G_GINT64_MODIFIER "x), which "
                      "Hangar does not support; convert it with: qemu-img convert -O qcow2 "
                      "%s NEW.qcow2", what, unknown, quoted);
    }
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
    if (hgr_qcow2_pread(q, q->l1, (size_t)q->l1_size * 8, q->l1_offset) < 0 ||
        hgr_qcow2_pread(q, q->rt, q->rt_entries * 8, q->rt_offset) < 0)
        return refuse(c, "cannot read its tables: %s", g_strerror(errno));
    q->meta = g_hash_table_new(g_direct_hash, g_direct_equal);
    hgr_qcow2_meta_add_range(q, 0, cs);
    hgr_qcow2_meta_add_range(q, q->l1_offset, (uint64_t)q->l1_size * 8);
    hgr_qcow2_meta_add_range(q, q->rt_offset, (uint64_t)q->rt_clusters * cs);
    for (uint32_t i = 0; i < q->l1_size; i++) {
        q->l1[i] = GUINT64_FROM_BE(q->l1[i]);
        uint64_t o = q->l1[i] & OFFSET_MASK;
        if (o && !table_ok(q, c, "an L2 table", o, cs))
            return false;
        if (o && is_meta(q, o))
            return refuse(c, "L2 table at 0x%" G_GINT64_MODIFIER "x overlaps other metadata", o);
        if (o)
            hgr_qcow2_meta_add_range(q, o, cs);
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
            hgr_qcow2_meta_add_range(q, o, cs);
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

void hgr_qcow2_close(HgrBlock *b, void *state)
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

void *hgr_qcow2_open(HgrBlock *b, uint64_t file_size, uint64_t *disk_size, GError **error)
{
    Qcow2 *q = g_new0(Qcow2, 1);
    OpenCtx c = { hgr_block_path(b), file_size, error };
    q->blk = b;
    q->fd = hgr_block_file_fd(b);
    q->readonly = hgr_block_readonly(b);
    const char *fault = g_getenv("HANGAR_QCOW2_FAULT");
    /* Tests: "N" fails the N-th write with ENOSPC, "kill:N" ends the
     * process right before it (a crash with the writes so far on disk). */
    if (fault) {
        q->fault_kills = g_str_has_prefix(fault, "kill:");
        q->writes_until_fault =
            (unsigned)g_ascii_strtoull(fault + (q->fault_kills ? 5 : 0), NULL, 10);
    }

    uint8_t first[HDR_V3_LEN] = { 0 };
    g_autofree uint8_t *h = NULL;
    g_autofree char *backing_fmt = NULL;
    uint64_t incompat;
    if (file_size < HDR_V2_LEN) {
        refuse(&c, "file too small for a qcow2 header");
        goto fail;
    }
    if (hgr_qcow2_pread(q, first, sizeof(first), 0) < 0) {
        refuse(&c, "cannot read the header: %s", g_strerror(errno));
        goto fail;
    }
    if (!parse_fields(q, &c, first, &incompat))
        goto fail;
    h = g_malloc(q->cluster_size);
    if (hgr_qcow2_pread(q, h, q->cluster_size, 0) < 0) {
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
    hgr_qcow2_close(b, q);
    return NULL;
}

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
