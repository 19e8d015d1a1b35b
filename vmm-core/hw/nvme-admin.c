/* nvme-admin.c — the admin command set: identify, queues, features, logs. */
#include "nvme-private.h"

#include <string.h>

enum { ADM_DELETE_SQ = 0x00, ADM_CREATE_SQ = 0x01, ADM_GET_LOG = 0x02, ADM_DELETE_CQ = 0x04,
       ADM_CREATE_CQ = 0x05, ADM_IDENTIFY = 0x06, ADM_ABORT = 0x08, ADM_SET_FEATURES = 0x09,
       ADM_GET_FEATURES = 0x0a, ADM_AER = 0x0c };

enum { FEAT_POWER = 0x02, FEAT_TEMP = 0x04, FEAT_VWC = 0x06, FEAT_QUEUES = 0x07,
       FEAT_IV_CONFIG = 0x09 };

#define NVME_NOT_SAVEABLE (NVME_SC(1, 0x0d) | NVME_DNR)
#define IO_QUEUES (HGR_NVME_MAX_QUEUES - 1)
#define NSID_BROADCAST 0xffffffffu
#define FIRMWARE "1.0"

static void put16(uint8_t *p, uint16_t v) { v = GUINT16_TO_LE(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = GUINT32_TO_LE(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = GUINT64_TO_LE(v); memcpy(p, &v, 8); }

/* Space-padded ASCII, as the identify strings are. */
static void put_str(uint8_t *p, size_t size, const char *s)
{
    memset(p, ' ', size);
    memcpy(p, s, MIN(strlen(s), size));
}

static void identify_ctrl(NvmeCtrl *c, uint8_t *id)
{
    put16(id + 0, HGR_NVME_VENDOR);
    put16(id + 2, 0x1af4);
    put_str(id + 4, 20, c->serial);
    put_str(id + 24, 40, "Hangar NVMe Ctrl");
    put_str(id + 64, 8, FIRMWARE);
    id[72] = 6;                              /* recommended arbitration burst */
    id[73] = 0x00; id[74] = 0x54; id[75] = 0x52;   /* IEEE OUI, QEMU's */
    id[77] = NVME_MDTS;
    put16(id + 78, 0);                       /* controller id */
    put32(id + 80, 0x00010400);
    id[111] = 1;                             /* I/O controller */
    id[258] = 3;                             /* abort limit, 0's based */
    id[259] = HGR_NVME_AER_MAX - 1;
    id[260] = 0x03;                          /* one read-only firmware slot */
    id[262] = 0;                             /* one error log entry */
    put16(id + 266, 0x0157);                 /* warning temperature 343 K */
    put16(id + 268, 0x0175);                 /* critical 373 K */
    id[512] = 0x66;                          /* SQ entries 64 bytes */
    id[513] = 0x44;                          /* CQ entries 16 bytes */
    put32(id + 516, 1);                      /* one namespace */
    put16(id + 520, (1 << 2) | (1 << 3));    /* dataset management, write zeroes */
    id[525] = 1;                             /* volatile write cache */
    g_autofree char *nqn = g_strdup_printf("nqn.2024-01.org.hangar:nvme:%s", c->serial);
    memcpy(id + 768, nqn, MIN(strlen(nqn), 255));
    put16(id + 2048, 2500);                  /* power state 0: 25 W */
}

static void identify_ns(NvmeCtrl *c, uint8_t *id)
{
    put64(id + 0, c->sectors);
    put64(id + 8, c->sectors);
    put64(id + 16, c->sectors);
    memcpy(id + 104, c->uuid, 16);           /* NGUID */
    put32(id + 128, 9 << 16);                /* LBA format 0: 512-byte blocks */
}

static uint16_t do_identify(NvmeCtrl *c, const NvmeCmd *cmd)
{
    g_autofree uint8_t *buf = g_malloc0(NVME_PAGE);

    switch (cmd->cdw10 & 0xff) {
    case 0x00:
        if (cmd->nsid != 1)
            return NVME_INVALID_NAMESPACE;
        identify_ns(c, buf);
        break;
    case 0x01:
        identify_ctrl(c, buf);
        break;
    case 0x02:                               /* active namespaces above nsid */
        if (cmd->nsid >= NSID_BROADCAST - 1)
            return NVME_INVALID_NAMESPACE;
        if (cmd->nsid < 1)
            put32(buf, 1);
        break;
    case 0x03:                               /* namespace id descriptors: a UUID */
        if (cmd->nsid != 1)
            return NVME_INVALID_NAMESPACE;
        buf[0] = 3;
        buf[1] = 16;
        memcpy(buf + 4, c->uuid, 16);
        break;
    default:
        return NVME_INVALID_FIELD;
    }
    return hgr_nvme_copy_prp(c, cmd, buf, NVME_PAGE, true);
}

/* Log pages */

static void put128(uint8_t *p, uint64_t v)
{
    put64(p, v);
    put64(p + 8, 0);
}

static size_t build_log(NvmeCtrl *c, uint8_t lid, uint8_t *log)
{
    switch (lid) {
    case 0x01:                               /* error information: none kept */
        return 64;
    case 0x02:                               /* SMART / health */
        put16(log + 1, 313);
        log[3] = 100;
        log[4] = 10;
        put128(log + 32, c->units_read);
        put128(log + 48, c->units_written);
        put128(log + 64, c->host_reads);
        put128(log + 80, c->host_writes);
        return 512;
    case 0x03:                               /* firmware slots */
        log[0] = 1;
        put_str(log + 8, 8, FIRMWARE);
        return 512;
    default:
        return 0;
    }
}

static uint16_t do_get_log(NvmeCtrl *c, const NvmeCmd *cmd)
{
    uint8_t log[512] = { 0 };
    uint64_t numd = ((uint64_t)(cmd->cdw11 & 0xffff) << 16 | cmd->cdw10 >> 16) + 1;
    uint64_t off = (uint64_t)cmd->cdw13 << 32 | cmd->cdw12;
    size_t size = build_log(c, cmd->cdw10 & 0xff, log);

    if (size == 0)
        return NVME_INVALID_LOG_PAGE;
    if (off % 4 || off >= size)
        return NVME_INVALID_FIELD;
    return hgr_nvme_copy_prp(c, cmd, log + off, MIN(numd * 4, size - off), true);
}

/* Features */

void hgr_nvme_features_default(NvmeCtrl *c)
{
    memset(c->features, 0, sizeof(c->features));
    c->features[FEAT_TEMP] = 0x0157;
    c->features[FEAT_VWC] = 1;
    c->features[FEAT_QUEUES] = (IO_QUEUES - 1) << 16 | (IO_QUEUES - 1);
}

static bool feature_known(unsigned fid)
{
    return fid >= 1 && fid < HGR_NVME_NUM_FEATURES && fid != 0x03;
}

static uint16_t do_set_features(NvmeCtrl *c, const NvmeCmd *cmd, uint32_t *dw0)
{
    unsigned fid = cmd->cdw10 & 0xff;
    uint32_t v = cmd->cdw11;

    if (!feature_known(fid))
        return NVME_INVALID_FIELD;
    if (cmd->cdw10 & (1u << 31))
        return NVME_NOT_SAVEABLE;
    switch (fid) {
    case FEAT_POWER:
        if (v & 0x1f)
            return NVME_INVALID_FIELD;       /* power state 0 is the only one */
        break;
    case FEAT_QUEUES:
        if ((v & 0xffff) == 0xffff || v >> 16 == 0xffff)
            return NVME_INVALID_FIELD;
        /* We always grant all of them; the driver uses what it asked for. */
        v = c->features[FEAT_QUEUES];
        *dw0 = v;
        break;
    case FEAT_IV_CONFIG:
        if ((v & 0xffff) >= HGR_NVME_MSIX_VECTORS)
            return NVME_INVALID_FIELD;
        break;
    case FEAT_VWC:
        v &= 1;
        break;
    }
    c->features[fid] = v;
    return NVME_SUCCESS;
}

static uint16_t do_get_features(NvmeCtrl *c, const NvmeCmd *cmd, uint32_t *dw0)
{
    unsigned fid = cmd->cdw10 & 0xff, sel = (cmd->cdw10 >> 8) & 7;

    if (!feature_known(fid) || sel > 3)
        return NVME_INVALID_FIELD;
    if (sel == 3)
        *dw0 = fid == FEAT_QUEUES ? 0 : 1u << 2;      /* changeable */
    else if (fid == FEAT_IV_CONFIG)
        *dw0 = cmd->cdw11 & 0xffff;
    else
        *dw0 = c->features[fid];
    return NVME_SUCCESS;
}

/* Queues */

static uint16_t check_new_queue(NvmeCtrl *c, const NvmeCmd *cmd, NvmeQueue *q,
                                unsigned entry_size)
{
    unsigned qid = cmd->cdw10 & 0xffff, size = (cmd->cdw10 >> 16) + 1;

    if (qid == 0 || qid >= HGR_NVME_MAX_QUEUES || q[qid].valid)
        return NVME_INVALID_QID;
    if (size < 2 || size > NVME_MAX_ENTRIES)
        return NVME_INVALID_QSIZE;
    if (!(cmd->cdw11 & 1))
        return NVME_INVALID_FIELD;           /* CAP.CQR: contiguous only */
    if (cmd->prp1 & (NVME_PAGE - 1))
        return NVME_INVALID_PRP_OFFSET;
    if (!hgr_nvme_ring_is_ram(c, cmd->prp1, (uint64_t)size * entry_size))
        return NVME_INVALID_FIELD;
    return NVME_SUCCESS;
}

static uint16_t do_create_cq(NvmeCtrl *c, const NvmeCmd *cmd)
{
    uint16_t st = check_new_queue(c, cmd, c->cq, NVME_CQE_SIZE);
    unsigned vector = cmd->cdw11 >> 16;
    bool ien = cmd->cdw11 & 2;

    if (st)
        return st;
    if (ien && vector >= HGR_NVME_MSIX_VECTORS)
        return NVME_INVALID_VECTOR;
    c->cq[cmd->cdw10 & 0xffff] = (NvmeQueue){
        .base = cmd->prp1, .size = (uint16_t)((cmd->cdw10 >> 16) + 1),
        .vector = (uint16_t)vector, .valid = true, .ien = ien, .phase = true };
    return NVME_SUCCESS;
}

static uint16_t do_create_sq(NvmeCtrl *c, const NvmeCmd *cmd)
{
    uint16_t st = check_new_queue(c, cmd, c->sq, NVME_SQE_SIZE);
    unsigned cqid = cmd->cdw11 >> 16;

    if (st)
        return st;
    if (cqid == 0 || cqid >= HGR_NVME_MAX_QUEUES || !c->cq[cqid].valid)
        return NVME_CQ_INVALID;
    c->sq[cmd->cdw10 & 0xffff] = (NvmeQueue){
        .base = cmd->prp1, .size = (uint16_t)((cmd->cdw10 >> 16) + 1),
        .cqid = (uint16_t)cqid, .valid = true };
    return NVME_SUCCESS;
}

static uint16_t do_delete_sq(NvmeCtrl *c, const NvmeCmd *cmd)
{
    unsigned qid = cmd->cdw10 & 0xffff;

    if (qid == 0 || qid >= HGR_NVME_MAX_QUEUES || !c->sq[qid].valid)
        return NVME_INVALID_QID;
    /* Its commands complete before the deletion does. Their completions
     * take the lock: let go of it while they drain. */
    while (c->sq[qid].inflight > 0) {
        g_mutex_unlock(&c->lock);
        hgr_block_drain(c->blk);
        g_mutex_lock(&c->lock);
    }
    c->sq[qid] = (NvmeQueue){ 0 };
    return NVME_SUCCESS;
}

static uint16_t do_delete_cq(NvmeCtrl *c, const NvmeCmd *cmd)
{
    unsigned qid = cmd->cdw10 & 0xffff;

    if (qid == 0 || qid >= HGR_NVME_MAX_QUEUES || !c->cq[qid].valid)
        return NVME_INVALID_QID;
    for (unsigned i = 1; i < HGR_NVME_MAX_QUEUES; i++)
        if (c->sq[i].valid && c->sq[i].cqid == qid)
            return NVME_INVALID_QDELETION;
    c->cq[qid] = (NvmeQueue){ 0 };
    return NVME_SUCCESS;
}

/* Asynchronous events: the request is held until something happens. */
static uint16_t do_aer(NvmeCtrl *c, const NvmeCmd *cmd, uint32_t *dw0)
{
    if (c->aen_pending) {
        *dw0 = c->aen_pending;
        c->aen_pending = 0;
        return NVME_SUCCESS;
    }
    if (c->n_aer >= HGR_NVME_AER_MAX)
        return NVME_AER_LIMIT;
    c->aer_cid[c->n_aer++] = cmd->cid;
    c->cq[0].reserved--;                     /* a held request holds no slot */
    return NVME_PENDING;
}

uint16_t hgr_nvme_admin(NvmeCtrl *c, const NvmeCmd *cmd, uint32_t *dw0)
{
    switch (cmd->opcode) {
    case ADM_DELETE_SQ:    return do_delete_sq(c, cmd);
    case ADM_CREATE_SQ:    return do_create_sq(c, cmd);
    case ADM_GET_LOG:      return do_get_log(c, cmd);
    case ADM_DELETE_CQ:    return do_delete_cq(c, cmd);
    case ADM_CREATE_CQ:    return do_create_cq(c, cmd);
    case ADM_IDENTIFY:     return do_identify(c, cmd);
    case ADM_ABORT:
        *dw0 = 1;                            /* not aborted: it will complete anyway */
        return NVME_SUCCESS;
    case ADM_SET_FEATURES: return do_set_features(c, cmd, dw0);
    case ADM_GET_FEATURES: return do_get_features(c, cmd, dw0);
    case ADM_AER:          return do_aer(c, cmd, dw0);
    default:               return NVME_INVALID_OPCODE;
    }
}
