/* nvme-private.h — what nvme.c, nvme-admin.c and nvme-io.c share. */
#pragma once

#include "../core/ratelimit.h"

#include <stdbool.h>
#include <stdint.h>

#include "nvme.h"

#define NVME_PAGE            4096u       /* CC.MPS 0 is the only page size */
#define NVME_MDTS            8           /* largest transfer: 2^8 pages, 1 MiB */
#define NVME_MAX_XFER        (NVME_PAGE << NVME_MDTS)
#define NVME_MAX_ENTRIES     1024        /* CAP.MQES + 1, admin queues too */
#define NVME_SQE_SIZE        64
#define NVME_CQE_SIZE        16
#define NVME_SECTOR          512

/* Status field of a completion (bits 31:17 of DW3, shifted down by 17). */
#define NVME_SC(sct, sc)     ((uint16_t)((sct) << 8 | (sc)))
#define NVME_DNR             0x4000
enum {
    NVME_SUCCESS             = 0x0000,
    NVME_INVALID_OPCODE      = NVME_SC(0, 0x01) | NVME_DNR,
    NVME_INVALID_FIELD       = NVME_SC(0, 0x02) | NVME_DNR,
    NVME_DATA_TRANSFER_ERROR = NVME_SC(0, 0x04),
    NVME_INTERNAL_ERROR      = NVME_SC(0, 0x06),
    NVME_ABORT_SQ_DELETION   = NVME_SC(0, 0x08),
    NVME_INVALID_NAMESPACE   = NVME_SC(0, 0x0b) | NVME_DNR,
    NVME_INVALID_PRP_OFFSET  = NVME_SC(0, 0x13) | NVME_DNR,
    NVME_WRITE_PROTECTED     = NVME_SC(0, 0x20) | NVME_DNR,
    NVME_LBA_RANGE           = NVME_SC(0, 0x80) | NVME_DNR,
    NVME_CQ_INVALID          = NVME_SC(1, 0x00) | NVME_DNR,
    NVME_INVALID_QID         = NVME_SC(1, 0x01) | NVME_DNR,
    NVME_INVALID_QSIZE       = NVME_SC(1, 0x02) | NVME_DNR,
    NVME_AER_LIMIT           = NVME_SC(1, 0x05) | NVME_DNR,
    NVME_INVALID_VECTOR      = NVME_SC(1, 0x08) | NVME_DNR,
    NVME_INVALID_LOG_PAGE    = NVME_SC(1, 0x09) | NVME_DNR,
    NVME_INVALID_QDELETION   = NVME_SC(1, 0x0c) | NVME_DNR,
    NVME_WRITE_FAULT         = NVME_SC(2, 0x80),
    NVME_UNRECOVERED_READ    = NVME_SC(2, 0x81),
    NVME_PENDING             = 0xffff,   /* ours: completes later */
};

/* Asynchronous events (type 0, error; log page 1). */
#define NVME_AEN_INVALID_DB       (0x00u << 8 | 0x01u << 16)
#define NVME_AEN_INVALID_DB_VALUE (0x01u << 8 | 0x01u << 16)

typedef struct {
    uint8_t opcode;
    uint8_t flags;
    uint16_t cid;
    uint32_t nsid;
    uint64_t rsvd;
    uint64_t mptr;
    uint64_t prp1, prp2;
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
} NvmeCmd;
G_STATIC_ASSERT(sizeof(NvmeCmd) == NVME_SQE_SIZE);

typedef struct {
    uint64_t base;
    uint16_t size, head, tail;
    uint16_t cqid;
    uint16_t vector;
    bool valid, ien, phase;
    uint16_t reserved;               /* CQ: slots promised to fetched commands */
    uint16_t inflight;               /* SQ: fetched commands not completed */
} NvmeQueue;

typedef struct NvmeCtrl {
    HgrPciDevice pdev;               /* first */
    HgrMsix msix;
    HgrBlock *blk;
    const HgrGuestMem *mem;
    HgrIoThread *iothread;
    bool async;                      /* block completions come on the I/O thread */
    int kick_fd;
    guint kick_source;
    uint64_t sectors;
    char serial[21];
    uint8_t uuid[16];

    GMutex lock;                     /* everything below */
    uint32_t cc, csts, aqa, intms;
    uint64_t asq, acq;
    NvmeQueue sq[HGR_NVME_MAX_QUEUES], cq[HGR_NVME_MAX_QUEUES];
    uint32_t features[HGR_NVME_NUM_FEATURES];
    uint16_t aer_cid[HGR_NVME_AER_MAX];
    unsigned n_aer;
    uint32_t aen_pending;
    uint64_t units_read, units_written, host_reads, host_writes;
    uint64_t bytes_read, bytes_written;     /* below a SMART data unit */
    unsigned inflight;               /* I/O commands at the block layer */
    bool paused;
    bool reset_pending;              /* CC.EN went 0 while I/O was in flight */
    bool shutdown_pending;           /* CC.SHN set; flush once I/O is done */
    bool flushing;
    HgrRateLimit warn_limit;
} NvmeCtrl;

void hgr_nvme_warn(NvmeCtrl *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* nvme.c: queues and completions (lock held). */
bool hgr_nvme_ring_is_ram(NvmeCtrl *c, uint64_t base, uint64_t len);
void hgr_nvme_complete(NvmeCtrl *c, uint16_t sqid, uint16_t cid, uint16_t status,
                       uint32_t dw0);
void hgr_nvme_post_event(NvmeCtrl *c, uint32_t event);
void hgr_nvme_io_done(NvmeCtrl *c);

/* nvme-admin.c */
uint16_t hgr_nvme_admin(NvmeCtrl *c, const NvmeCmd *cmd, uint32_t *dw0);
void hgr_nvme_features_default(NvmeCtrl *c);

/* nvme-io.c */
/* Maps a PRP1/PRP2 transfer of len bytes (at most NVME_MAX_XFER) to iov
 * (room for max entries). Returns NVME_SUCCESS or an error status. */
uint16_t hgr_nvme_map_prp(NvmeCtrl *c, uint64_t prp1, uint64_t prp2, uint64_t len,
                          struct iovec *iov, unsigned *n, unsigned max);
/* Copies buf to (or from) the guest buffer the command's PRPs describe. */
uint16_t hgr_nvme_copy_prp(NvmeCtrl *c, const NvmeCmd *cmd, void *buf, size_t len,
                           bool to_guest);
uint16_t hgr_nvme_io(NvmeCtrl *c, uint16_t sqid, const NvmeCmd *cmd);
