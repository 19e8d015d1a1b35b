/* qcow2-bench — vmm-core's disk engine (qcow2 driver, io_uring) on the host,
 * driven the way `qemu-img bench` drives QEMU's: COUNT requests of SIZE
 * bytes, DEPTH in flight, the first at OFFSET and each next one STEP bytes
 * further, wrapping modulo the image size (QEMU 7.2's rule). So the same
 * arguments visit the same offsets in the same order under both.
 *
 * usage: qcow2-bench [-w] [-c COUNT] [-d DEPTH] [-s SIZE] [-S STEP] [-o OFFSET]
 *                    [-f raw|qcow2] IMAGE
 * Prints: `hangar: N requests of S bytes in T s: X MB/s, Y IOPS`.
 * All requests are submitted and completed on the I/O thread, as a guest's
 * are; the time runs from the first submission to the last completion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "core/iothread.h"

typedef struct Bench Bench;

typedef struct {
    HgrBlockReq req;
    struct iovec iov;
    Bench *bench;
} Slot;

struct Bench {
    HgrBlock *block;
    bool write;
    uint64_t size, step, offset, image_size;
    uint64_t to_submit, in_flight;
    int error;
    GMutex lock;
    GCond cond;
    bool finished;
};

static void submit_next(Bench *b, Slot *s);

static void on_done(HgrBlockReq *req, int ret)
{
    Slot *s = req->opaque;
    Bench *b = s->bench;

    b->in_flight--;
    if (ret < 0 && !b->error)
        b->error = ret;
    if (b->to_submit && !b->error) {
        submit_next(b, s);
    } else if (!b->in_flight) {
        g_mutex_lock(&b->lock);
        b->finished = true;
        g_cond_signal(&b->cond);
        g_mutex_unlock(&b->lock);
    }
}

static void submit_next(Bench *b, Slot *s)
{
    uint64_t offset = b->offset;

    b->offset = (b->offset + b->step) % b->image_size;
    b->to_submit--;
    b->in_flight++;
    s->iov.iov_len = b->size;
    s->req = (HgrBlockReq){
        .op = b->write ? HGR_BLOCK_WRITE : HGR_BLOCK_READ,
        .offset = offset, .len = b->size, .iov = &s->iov, .iovcnt = 1,
        .done = on_done, .opaque = s,
    };
    hgr_block_submit(b->block, &s->req);
}

typedef struct {
    Bench *bench;
    Slot *slots;
    unsigned depth;
} Kickoff;

static gboolean kickoff(gpointer data)
{
    Kickoff *k = data;

    hgr_block_plug(k->bench->block);
    for (unsigned i = 0; i < k->depth && k->bench->to_submit; i++)
        submit_next(k->bench, &k->slots[i]);
    hgr_block_unplug(k->bench->block);
    return G_SOURCE_REMOVE;
}

static uint64_t parse_size(const char *s)
{
    char *end;
    uint64_t v = g_ascii_strtoull(s, &end, 0);
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'M': v <<= 20; end++; break;
    case 'G': v <<= 30; end++; break;
    }
    if (*end || end == s) {
        fprintf(stderr, "qcow2-bench: '%s' is not a size\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    uint64_t count = 75000, size = 4096, step = 0, offset = 0;
    unsigned depth = 64;
    bool write = false;
    HgrDiskFormat format = HGR_DISK_FORMAT_QCOW2;
    int opt;

    while ((opt = getopt(argc, argv, "wc:d:s:S:o:f:")) != -1) {
        switch (opt) {
        case 'w': write = true; break;
        case 'c': count = parse_size(optarg); break;
        case 'd': depth = (unsigned)parse_size(optarg); break;
        case 's': size = parse_size(optarg); break;
        case 'S': step = parse_size(optarg); break;
        case 'o': offset = parse_size(optarg); break;
        case 'f': format = !strcmp(optarg, "raw") ? HGR_DISK_FORMAT_RAW : HGR_DISK_FORMAT_QCOW2; break;
        default:
            fprintf(stderr, "usage: qcow2-bench [-w] [-c COUNT] [-d DEPTH] [-s SIZE] [-S STEP] "
                            "[-o OFFSET] [-f raw|qcow2] IMAGE\n");
            return 2;
        }
    }
    if (optind != argc - 1 || !depth || !size || !count) {
        fprintf(stderr, "qcow2-bench: need one IMAGE, and non-zero depth, size and count\n");
        return 2;
    }

    g_autoptr(GError) error = NULL;
    HgrBlock *block = hgr_block_open(argv[optind], format, !write, &error);
    if (!block) {
        fprintf(stderr, "qcow2-bench: %s\n", error->message);
        return 1;
    }
    HgrIoThread *t = hgr_iothread_new("bench-io");
    hgr_block_attach(block, t);
    hgr_iothread_start(t);

    Bench b = {
        .block = block, .write = write, .size = size, .step = step ? step : size,
        .offset = offset, .image_size = hgr_block_size(block), .to_submit = count,
    };
    g_mutex_init(&b.lock);
    g_cond_init(&b.cond);
    if (b.image_size < size) {
        fprintf(stderr, "qcow2-bench: image smaller than one request\n");
        return 1;
    }
    Slot *slots = g_new0(Slot, depth);
    for (unsigned i = 0; i < depth; i++) {
        slots[i].bench = &b;
        slots[i].iov.iov_base = g_aligned_alloc(1, size, 4096);
        memset(slots[i].iov.iov_base, 0xa5 ^ i, size);
    }

    Kickoff k = { &b, slots, depth };
    gint64 t0 = g_get_monotonic_time();
    hgr_iothread_call(t, kickoff, &k);
    g_mutex_lock(&b.lock);
    while (!b.finished)
        g_cond_wait(&b.cond, &b.lock);
    g_mutex_unlock(&b.lock);
    double secs = (g_get_monotonic_time() - t0) / 1e6;

    hgr_block_free(block);          /* drains, writes back qcow2 metadata */
    hgr_iothread_free(t);
    for (unsigned i = 0; i < depth; i++)
        g_aligned_free(slots[i].iov.iov_base);
    g_free(slots);
    if (b.error) {
        fprintf(stderr, "qcow2-bench: a request failed: %s\n", g_strerror(-b.error));
        return 1;
    }
    printf("hangar: %" G_GUINT64_FORMAT " requests of %" G_GUINT64_FORMAT
           " bytes in %.3f s: %.1f MB/s, %.0f IOPS\n",
           count, size, secs, count * size / secs / 1e6, count / secs);
    return 0;
}
