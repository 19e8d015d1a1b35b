/* block.h — disk images as a byte-addressed backend with asynchronous requests.
 *
 * An HgrBlock is one open image: a format driver (raw now, qcow2 next) on top
 * of a file whose I/O goes through an AIO engine (io_uring, or a thread pool
 * when io_uring is unavailable or HANGAR_AIO=thread). The image is locked
 * (OFD lock) while open so a second VM cannot open it for writing.
 *
 * Completions run on the attached I/O thread, never inside hgr_block_submit();
 * with no I/O thread attached (unit tests, opening metadata) every request
 * completes synchronously inside hgr_block_submit().
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <hangar/vm.h>

#include "../core/iothread.h"

typedef struct HgrBlock HgrBlock;

/* Opens the image with the stated format (never probed from content) and
 * locks it. Errors (HGR_VM_ERROR_DISK) name the file and the cause. Opening
 * writes nothing. */
HgrBlock *hgr_block_open(const char *path, HgrDiskFormat format, bool readonly, GError **error);
/* Completions run on t from now on. Attaching again to the same t is a no-op. */
void hgr_block_attach(HgrBlock *b, HgrIoThread *t);
void hgr_block_free(HgrBlock *b);                      /* drains first */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HgrBlock, hgr_block_free)

uint64_t hgr_block_size(const HgrBlock *b);            /* bytes */
bool hgr_block_readonly(const HgrBlock *b);
const char *hgr_block_path(const HgrBlock *b);
/* Bytes the guest read and wrote through this backend. Any thread. */
void hgr_block_get_traffic(const HgrBlock *b, uint64_t *read_bytes, uint64_t *written_bytes);
/* "io_uring" or "thread": which engine serves this image. */
const char *hgr_block_aio_name(const HgrBlock *b);

/* Waits until every submitted request has completed (pause/snapshot, reset).
 * When the I/O thread is not running, or this is the I/O thread, the
 * completions are dispatched on the calling thread. */
void hgr_block_drain(HgrBlock *b);

typedef enum {
    HGR_BLOCK_READ,
    HGR_BLOCK_WRITE,
    HGR_BLOCK_FLUSH,
    HGR_BLOCK_DISCARD,
    HGR_BLOCK_WRITE_ZEROES,
} HgrBlockOp;

typedef struct HgrBlockReq HgrBlockReq;
struct HgrBlockReq {
    HgrBlockOp op;
    uint64_t offset, len;            /* bytes; len from iov for READ/WRITE */
    struct iovec *iov;
    unsigned iovcnt;
    void (*done)(HgrBlockReq *req, int ret);   /* on the I/O thread; ret 0 or -errno */
    void *opaque;
};

/* Reads past the end of the image fail with -EINVAL, writes, discards and
 * write-zeroes on a read-only image with -EROFS. */
void hgr_block_submit(HgrBlock *b, HgrBlockReq *req);

/* Batching: between plug and unplug, requests are queued and handed to the
 * kernel together at unplug (one io_uring_submit per virtqueue kick). */
void hgr_block_plug(HgrBlock *b);
void hgr_block_unplug(HgrBlock *b);

/* Describes bytes [skip, skip + len) of src in dst (which has room for n
 * entries); returns the number of entries used. */
unsigned hgr_block_iov_slice(const struct iovec *src, unsigned n, uint64_t skip, uint64_t len,
                             struct iovec *dst);
uint64_t hgr_block_iov_size(const struct iovec *iov, unsigned n);

/* Format drivers. A driver maps guest requests onto the image file with
 * hgr_block_file_submit(), which behaves like hgr_block_submit() without the
 * size and read-only checks (a driver may grow its file). */
typedef struct {
    const char *name;
    HgrDiskFormat format;
    /* Reads the image's metadata (file requests complete inline here) and
     * returns the driver's state; *disk_size is what the guest sees. */
    void *(*open)(HgrBlock *b, uint64_t file_size, uint64_t *disk_size, GError **error);
    void (*submit)(HgrBlock *b, void *state, HgrBlockReq *req);
    void (*close)(HgrBlock *b, void *state);
} HgrBlockDriver;

void hgr_block_file_submit(HgrBlock *b, HgrBlockReq *req);
/* The image file, for a driver that does synchronous metadata I/O on the I/O thread. */
int hgr_block_file_fd(const HgrBlock *b);
/* Completes req with ret the way the engines do (on the I/O thread when one is
 * attached, never inside the driver's submit then), for drivers that did the
 * work themselves. */
void hgr_block_complete(HgrBlock *b, HgrBlockReq *req, int ret);
