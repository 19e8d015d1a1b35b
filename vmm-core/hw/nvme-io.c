/* nvme-io.c — NVMe data transfers: PRP lists and the NVM command set. */
#include "nvme-private.h"

#include <errno.h>
#include <string.h>

enum { IO_FLUSH = 0x00, IO_WRITE = 0x01, IO_READ = 0x02, IO_WRITE_ZEROES = 0x08,
       IO_DSM = 0x09 };
#define DSM_DEALLOCATE (1u << 2)
#define DSM_MAX_RANGES 256
#define PRP_MAX_IOV    (2 * (NVME_MAX_XFER / NVME_PAGE + 1))
#define PAGE_OFF(a)    ((a) & (NVME_PAGE - 1))

/* PRPs */

static uint16_t map_page(NvmeCtrl *c, uint64_t gpa, uint64_t len, struct iovec *iov,
                         unsigned *n, unsigned max)
{
    return hgr_mem_iov(c->mem, gpa, len, iov, n, max) ? NVME_SUCCESS
                                                        : NVME_DATA_TRANSFER_ERROR;
}

uint16_t hgr_nvme_map_prp(NvmeCtrl *c, uint64_t prp1, uint64_t prp2, uint64_t len,
                          struct iovec *iov, unsigned *n, unsigned max)
{
    *n = 0;
    if (len == 0)
        return NVME_SUCCESS;
    if (len > NVME_MAX_XFER)
        return NVME_INVALID_FIELD;
    if (prp1 & 3)
        return NVME_INVALID_PRP_OFFSET;
    uint64_t first = MIN(len, NVME_PAGE - PAGE_OFF(prp1));
    uint16_t st = map_page(c, prp1, first, iov, n, max);
    len -= first;
    if (st || len == 0)
        return st;
    if (len <= NVME_PAGE)
        return PAGE_OFF(prp2) ? NVME_INVALID_PRP_OFFSET : map_page(c, prp2, len, iov, n, max);

    /* A list: entries to the end of its page; when more are needed the last
     * one points at the next page of the list. Every page after the first
     * gives 511 data pages, so even a list that loops ends with the transfer. */
    uint64_t list = prp2;
    if (list & 7)
        return NVME_INVALID_PRP_OFFSET;
    for (unsigned hops = 0; len > 0; hops++) {
        uint64_t ent[NVME_PAGE / 8];
        unsigned slots = (unsigned)((NVME_PAGE - PAGE_OFF(list)) / 8);
        uint64_t need = (len + NVME_PAGE - 1) / NVME_PAGE;
        bool chain = need > slots;
        unsigned ndata = chain ? slots - 1 : (unsigned)need;

        if (hops > NVME_MAX_XFER / NVME_PAGE)
            return NVME_INVALID_FIELD;
        if (!hgr_mem_read(c->mem, list, ent, (chain ? slots : ndata) * 8u))
            return NVME_DATA_TRANSFER_ERROR;
        for (unsigned i = 0; i < ndata; i++) {
            uint64_t page = GUINT64_FROM_LE(ent[i]), chunk = MIN(len, NVME_PAGE);
            if (PAGE_OFF(page))
                return NVME_INVALID_PRP_OFFSET;
            if ((st = map_page(c, page, chunk, iov, n, max)))
                return st;
            len -= chunk;
        }
        if (chain) {
            list = GUINT64_FROM_LE(ent[slots - 1]);
            if (PAGE_OFF(list))
                return NVME_INVALID_PRP_OFFSET;
        }
    }
    return NVME_SUCCESS;
}

uint16_t hgr_nvme_copy_prp(NvmeCtrl *c, const NvmeCmd *cmd, void *buf, size_t len,
                           bool to_guest)
{
    struct iovec iov[16];
    unsigned n;
    uint16_t st = hgr_nvme_map_prp(c, cmd->prp1, cmd->prp2, len, iov, &n, G_N_ELEMENTS(iov));

    if (st)
        return st;
    uint8_t *p = buf;
    for (unsigned i = 0; i < n; i++) {
        if (to_guest)
            memcpy(iov[i].iov_base, p, iov[i].iov_len);
        else
            memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    return NVME_SUCCESS;
}

/* Requests at the block layer */

typedef struct {
    NvmeCtrl *c;
    uint16_t sqid, cid;
    uint8_t opcode;
    unsigned pending;                /* block requests out, +1 while submitting */
    int ret;
    unsigned n_sub;
    struct iovec *iov;
    HgrBlockReq sub[];
} NvmeReq;

static uint16_t status_of(const NvmeReq *r)
{
    if (r->ret == 0)
        return NVME_SUCCESS;
    if (r->ret == -EROFS)
        return NVME_WRITE_PROTECTED;
    if (r->opcode == IO_READ)
        return NVME_UNRECOVERED_READ;
    return r->opcode == IO_FLUSH ? NVME_INTERNAL_ERROR : NVME_WRITE_FAULT;
}

/* SMART counts data in units of 1000 sectors and commands. */
static void account(NvmeCtrl *c, const NvmeReq *r)
{
    if (r->ret || (r->opcode != IO_READ && r->opcode != IO_WRITE))
        return;
    uint64_t bytes = r->sub[0].iov ? hgr_block_iov_size(r->sub[0].iov, r->sub[0].iovcnt) : 0;
    uint64_t *acc = r->opcode == IO_READ ? &c->bytes_read : &c->bytes_written;
    uint64_t *units = r->opcode == IO_READ ? &c->units_read : &c->units_written;

    *acc += bytes;
    *units += *acc / (1000 * NVME_SECTOR);
    *acc %= 1000 * NVME_SECTOR;
    if (r->opcode == IO_READ)
        c->host_reads++;
    else
        c->host_writes++;
}

static void req_put_locked(NvmeReq *r)
{
    NvmeCtrl *c = r->c;

    if (--r->pending > 0)
        return;
    account(c, r);
    c->sq[r->sqid].inflight--;
    c->inflight--;
    hgr_nvme_complete(c, r->sqid, r->cid, status_of(r), 0);
    g_free(r);
    hgr_nvme_io_done(c);
}

static void sub_done(HgrBlockReq *br, int ret)
{
    NvmeReq *r = br->opaque;
    NvmeCtrl *c = r->c;
    /* Without an I/O thread the block layer completes inside our submit,
     * where the lock is already held. */
    bool lock = c->async;

    if (lock)
        g_mutex_lock(&c->lock);
    if (ret < 0 && r->ret == 0) {
        r->ret = ret;
        if (ret != -EROFS)
            hgr_nvme_warn(c, "I/O error at byte %" G_GUINT64_FORMAT ": %s", br->offset,
                          g_strerror(-ret));
    }
    req_put_locked(r);
    if (lock)
        g_mutex_unlock(&c->lock);
}

static NvmeReq *req_new(NvmeCtrl *c, uint16_t sqid, const NvmeCmd *cmd, unsigned n_sub,
                        unsigned n_iov)
{
    NvmeReq *r = g_malloc0(sizeof(NvmeReq) + n_sub * sizeof(HgrBlockReq) +
                           n_iov * sizeof(struct iovec));
    r->c = c;
    r->sqid = sqid;
    r->cid = cmd->cid;
    r->opcode = cmd->opcode;
    r->n_sub = n_sub;
    r->iov = (struct iovec *)&r->sub[n_sub];
    for (unsigned i = 0; i < n_sub; i++)
        r->sub[i] = (HgrBlockReq){ .done = sub_done, .opaque = r };
    return r;
}

static uint16_t req_submit(NvmeCtrl *c, NvmeReq *r)
{
    c->inflight++;
    c->sq[r->sqid].inflight++;
    r->pending = r->n_sub + 1;
    for (unsigned i = 0; i < r->n_sub; i++)
        hgr_block_submit(c->blk, &r->sub[i]);
    req_put_locked(r);
    return NVME_PENDING;
}

/* Commands */

static bool range_ok(const NvmeCtrl *c, uint64_t lba, uint64_t n)
{
    return lba <= c->sectors && n <= c->sectors - lba;
}

static uint16_t do_rw(NvmeCtrl *c, uint16_t sqid, const NvmeCmd *cmd)
{
    bool write = cmd->opcode == IO_WRITE;
    uint64_t lba = (uint64_t)cmd->cdw11 << 32 | cmd->cdw10;
    uint64_t nlb = (cmd->cdw12 & 0xffff) + 1ull, len = nlb * NVME_SECTOR;

    if (len > NVME_MAX_XFER)
        return NVME_INVALID_FIELD;
    if (!range_ok(c, lba, nlb))
        return NVME_LBA_RANGE;
    if (write && hgr_block_readonly(c->blk))
        return NVME_WRITE_PROTECTED;
    NvmeReq *r = req_new(c, sqid, cmd, 1, PRP_MAX_IOV);
    unsigned n;
    uint16_t st = hgr_nvme_map_prp(c, cmd->prp1, cmd->prp2, len, r->iov, &n, PRP_MAX_IOV);
    if (st) {
        hgr_nvme_warn(c, "%s with bad PRPs (status 0x%x)", write ? "write" : "read", st);
        g_free(r);
        return st;
    }
    r->sub[0].op = write ? HGR_BLOCK_WRITE : HGR_BLOCK_READ;
    r->sub[0].offset = lba * NVME_SECTOR;
    r->sub[0].iov = r->iov;
    r->sub[0].iovcnt = n;
    return req_submit(c, r);
}

static uint16_t do_write_zeroes(NvmeCtrl *c, uint16_t sqid, const NvmeCmd *cmd)
{
    uint64_t lba = (uint64_t)cmd->cdw11 << 32 | cmd->cdw10;
    uint64_t nlb = (cmd->cdw12 & 0xffff) + 1ull;

    if (!range_ok(c, lba, nlb))
        return NVME_LBA_RANGE;
    if (hgr_block_readonly(c->blk))
        return NVME_WRITE_PROTECTED;
    NvmeReq *r = req_new(c, sqid, cmd, 1, 0);
    r->sub[0].op = HGR_BLOCK_WRITE_ZEROES;
    r->sub[0].offset = lba * NVME_SECTOR;
    r->sub[0].len = nlb * NVME_SECTOR;
    return req_submit(c, r);
}

typedef struct {
    uint32_t cattr;
    uint32_t nlb;
    uint64_t slba;
} DsmRange;

static uint16_t do_dsm(NvmeCtrl *c, uint16_t sqid, const NvmeCmd *cmd)
{
    unsigned nr = (cmd->cdw10 & 0xff) + 1, n = 0;
    DsmRange rng[DSM_MAX_RANGES];

    if (!(cmd->cdw11 & DSM_DEALLOCATE))
        return NVME_SUCCESS;         /* attributes only: hints we may ignore */
    if (hgr_block_readonly(c->blk))
        return NVME_WRITE_PROTECTED;
    uint16_t st = hgr_nvme_copy_prp(c, cmd, rng, nr * sizeof(DsmRange), false);
    if (st)
        return st;
    for (unsigned i = 0; i < nr; i++) {
        uint64_t slba = GUINT64_FROM_LE(rng[i].slba), nlb = GUINT32_FROM_LE(rng[i].nlb);
        if (!range_ok(c, slba, nlb))
            return NVME_LBA_RANGE;
        if (nlb)
            rng[n++] = (DsmRange){ .nlb = (uint32_t)nlb, .slba = slba };
    }
    if (n == 0)
        return NVME_SUCCESS;
    NvmeReq *r = req_new(c, sqid, cmd, n, 0);
    for (unsigned i = 0; i < n; i++) {
        r->sub[i].op = HGR_BLOCK_DISCARD;
        r->sub[i].offset = rng[i].slba * NVME_SECTOR;
        r->sub[i].len = (uint64_t)rng[i].nlb * NVME_SECTOR;
    }
    return req_submit(c, r);
}

uint16_t hgr_nvme_io(NvmeCtrl *c, uint16_t sqid, const NvmeCmd *cmd)
{
    if (cmd->nsid != 1 && !(cmd->opcode == IO_FLUSH && cmd->nsid == 0xffffffff))
        return NVME_INVALID_NAMESPACE;
    switch (cmd->opcode) {
    case IO_FLUSH: {
        NvmeReq *r = req_new(c, sqid, cmd, 1, 0);
        r->sub[0].op = HGR_BLOCK_FLUSH;
        return req_submit(c, r);
    }
    case IO_READ:
    case IO_WRITE:
        return do_rw(c, sqid, cmd);
    case IO_WRITE_ZEROES:
        return do_write_zeroes(c, sqid, cmd);
    case IO_DSM:
        return do_dsm(c, sqid, cmd);
    default:
        return NVME_INVALID_OPCODE;
    }
}
