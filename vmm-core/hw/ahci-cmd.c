/* ahci-cmd.c — an AHCI port's command engine: the command list, the
 * command table and its PRDT, and the FISes posted back into the
 * received-FIS area. What a command means is the drive's business
 * (ata-disk.c, atapi-cd.c).
 *
 * The command header, FIS, packet and each PRD entry are read once into
 * local copies; anything unreadable or outside RAM ends the command with a
 * task file error. Non-queued commands run one at a time; queued (NCQ)
 * ones run together, each in its own slot.
 */
#include <string.h>

#include "../virtio/virtqueue.h"
#include "ahci-port.h"

#define KEEP_IOVECS     256

/* Received FISes */

static void write_fis(AhciPort *p, unsigned off, const uint8_t *fis, size_t len)
{
    uint64_t fb = addr64(p->reg[P_FB], p->reg[P_FBU]);

    if (fis_receive_on(p) && !hgr_mem_write(p->s->mem, fb + off, fis, len))
        hgr_ahci_warn(p->s, "port %u: FIS area 0x%" G_GINT64_MODIFIER "x is not RAM", p->index,
                      fb);
}

static void put_sig(uint8_t *fis, uint32_t sig)
{
    fis[FIS_COUNT] = (uint8_t)sig;
    fis[FIS_LBA0] = (uint8_t)(sig >> 8);
    fis[FIS_LBA1] = (uint8_t)(sig >> 16);
    fis[FIS_LBA2] = (uint8_t)(sig >> 24);
}

void hgr_ahci_post_d2h(AhciPort *p, uint8_t status, uint8_t error, uint32_t sig, bool irq)
{
    uint8_t fis[FIS_H2D_LEN] = { 0x34, irq ? 0x40 : 0, status, error };

    if (sig)
        put_sig(fis, sig);
    write_fis(p, RFIS_D2H, fis, sizeof(fis));
    p->reg[P_TFD] = (uint32_t)error << 8 | status;
}

static void post_pio_setup(AhciPort *p, uint8_t status, uint32_t count)
{
    uint8_t fis[20] = { 0x5f, 0x60, status | ATA_ST_DRQ, 0 };

    fis[15] = status;                       /* E_Status: what Linux takes as the result */
    fis[16] = (uint8_t)count;
    fis[17] = (uint8_t)(count >> 8);
    write_fis(p, RFIS_PIO, fis, sizeof(fis));
}

/* Set Device Bits: queued commands in sactive are done. */
static void post_sdb(AhciPort *p, uint8_t status, uint8_t error, uint32_t sactive)
{
    uint8_t fis[8] = { 0xa1, 0x40, status & 0x77, error };

    hgr_io_put(fis + 4, 4, sactive);
    write_fis(p, RFIS_SDB, fis, sizeof(fis));
    p->reg[P_TFD] = (uint32_t)error << 8 | status;
}

/* Waits for the block requests of p's commands and forgets the commands.
 * The lock is held once on entry, by this thread. */
void hgr_ahci_port_quiesce(AhciPort *p)
{
    Ahci *s = p->s;

    if (p->inflight) {
        HgrBlock *blk = p->drive.blk;
        p->cancelled = true;
        while (p->inflight) {
            g_rec_mutex_unlock(&s->lock);
            hgr_block_drain(blk);
            g_rec_mutex_lock(&s->lock);
        }
        p->cancelled = false;
    }
    p->busy = p->ncq_busy = 0;
}

/* Commands */

static AhciPort *port_of(AhciCmd *c)
{
    return c->port;
}

bool hgr_ahci_cmd_map(AhciCmd *c, uint64_t len)
{
    /* Every entry maps at least one byte. */
    unsigned need = (unsigned)MIN(c->prdtl, len) + HGR_MEM_MAX_REGIONS;

    c->iovcnt = 0;
    c->mapped = 0;
    if (c->iovcap < need) {
        c->iov = g_renew(struct iovec, c->iov, need);
        c->iovcap = need;
    }
    for (unsigned i = 0; i < c->prdtl && c->mapped < len; i++) {
        uint8_t e[16];
        if (!hgr_mem_read(c->mem, c->ctba + 0x80 + 16ull * i, e, sizeof(e)))
            return false;
        uint64_t dba = addr64(le32(e), le32(e + 4));
        uint64_t take = MIN((uint64_t)(le32(e + 12) & 0x3fffff) + 1, len - c->mapped);
        if (!hgr_mem_iov(c->mem, dba, take, c->iov, &c->iovcnt, c->iovcap))
            return false;
        c->mapped += take;
    }
    return true;
}

bool hgr_ahci_cmd_reply(AhciCmd *c, const void *buf, size_t len)
{
    if (!hgr_ahci_cmd_map(c, len))
        return false;
    c->transferred = (uint32_t)hgr_iov_from_buf(c->iov, c->iovcnt, 0, buf, c->mapped);
    return true;
}

static void block_done(HgrBlockReq *r, int ret)
{
    AhciCmd *c = r->opaque;
    AhciPort *p = port_of(c);
    Ahci *s = p->s;

    g_rec_mutex_lock(&s->lock);
    p->inflight--;
    if (p->cancelled)
        p->busy &= ~(1u << c->slot);
    else
        c->io_done(c, ret);
    g_rec_mutex_unlock(&s->lock);
}

void hgr_ahci_cmd_io(AhciCmd *c, HgrBlockOp op, uint64_t offset, uint64_t len,
                     AhciIoDone done)
{
    AhciPort *p = port_of(c);
    bool data = op == HGR_BLOCK_READ || op == HGR_BLOCK_WRITE;

    c->io_done = done;
    c->breq = (HgrBlockReq){ .op = op, .offset = offset, .len = data ? 0 : len,
                             .iov = data ? c->iov : NULL, .iovcnt = data ? c->iovcnt : 0,
                             .done = block_done, .opaque = c };
    p->inflight++;
    hgr_block_submit(c->drive->blk, &c->breq);
}

bool hgr_ahci_cmd_ncq_begin(AhciCmd *c)
{
    AhciPort *p = port_of(c);
    uint32_t bit = 1u << c->slot;

    if (!(p->reg[P_SACT] & bit))
        return false;
    /* Accepted: the D2H FIS (no interrupt) frees the slot in CI; the
     * result comes later in a Set Device Bits FIS. */
    c->ncq = true;
    p->ncq_busy |= bit;
    hgr_ahci_post_d2h(p, ATA_ST_DRDY, 0, 0, false);
    p->reg[P_CI] &= ~bit;
    return true;
}

void hgr_ahci_cmd_done(AhciCmd *c, uint8_t status, uint8_t error)
{
    AhciPort *p = port_of(c);
    uint64_t hdr = addr64(p->reg[P_CLB], p->reg[P_CLBU]) + 32ull * c->slot;
    uint32_t bit = 1u << c->slot, events;

    /* PRDBC; if the header is not writable, that is the guest's loss. */
    hgr_mem_write_u32(p->s->mem, hdr + 4, c->transferred);
    if (c->ncq) {
        post_sdb(p, status, error, bit);
        p->ncq_busy &= ~bit;
        events = PIS_SDBS;
    } else {
        events = PIS_DHRS;
        if (c->pio && !(status & ATA_ST_ERR)) {
            post_pio_setup(p, status, c->transferred);
            events |= PIS_PSS;
        }
        hgr_ahci_post_d2h(p, status, error, c->sig, true);
        p->reg[P_CI] &= ~bit;
    }
    if (status & ATA_ST_ERR)
        events |= PIS_TFES;
    /* A PRDT of thousands of entries is legal but rare: do not keep its
     * iovecs for every slot of every port. */
    if (c->iovcap > KEEP_IOVECS) {
        g_clear_pointer(&c->iov, g_free);
        c->iovcap = 0;
    }
    p->reg[P_SACT] &= ~bit;
    p->busy &= ~bit;
    hgr_ahci_port_event(p, events);
    hgr_ahci_port_run(p);
}

/* A command the HBA itself refuses: the drive never sees it. */
static void cmd_fail(AhciCmd *c, const char *why)
{
    hgr_ahci_warn(port_of(c)->s, "port %u slot %u: %s", port_of(c)->index, c->slot, why);
    hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
}

/* A FIS without the C bit: device control. SRST set then cleared is a
 * software reset, answered by the signature. */
static void device_control(AhciCmd *c)
{
    AhciPort *p = port_of(c);

    if (c->fis[FIS_CONTROL] & 0x04) {
        hgr_ahci_drive_reset(&p->drive);
        p->reg[P_CI] &= ~(1u << c->slot);
        p->busy &= ~(1u << c->slot);
        hgr_ahci_update_irq(p->s, false);
        return;
    }
    c->sig = hgr_ahci_drive_sig(p);
    hgr_ahci_cmd_done(c, ATA_ST_OK, 0);
}

static bool is_queued(const AhciCmd *c)
{
    return c->fis[FIS_TYPE] == 0x27 && (c->fis[FIS_FLAGS] & 0x80) &&
           (c->fis[FIS_COMMAND] == 0x60 || c->fis[FIS_COMMAND] == 0x61);
}

/* Fetches and starts the command in slot; false when it has to wait for
 * the port (a non-queued command runs alone). */
static bool start_command(AhciPort *p, unsigned slot)
{
    AhciCmd *c = &p->cmds[slot];
    uint64_t hdr_gpa = addr64(p->reg[P_CLB], p->reg[P_CLBU]) + 32ull * slot;
    uint8_t hdr[16];

    c->slot = slot;
    c->transferred = 0;
    c->pio = c->ncq = false;
    c->sig = 0;
    c->prdtl = 0;
    c->iovcnt = 0;
    bool hdr_ok = hgr_mem_read(p->s->mem, hdr_gpa, hdr, sizeof(hdr));
    uint32_t dw0 = hdr_ok ? le32(hdr) : 0;
    c->prdtl = (uint16_t)(dw0 >> 16);
    c->ctba = hdr_ok ? addr64(le32(hdr + 8) & ~0x7fu, le32(hdr + 12)) : 0;
    bool table_ok = hdr_ok && hgr_mem_read(p->s->mem, c->ctba, c->fis, sizeof(c->fis)) &&
                    hgr_mem_read(p->s->mem, c->ctba + 0x40, c->acmd, sizeof(c->acmd));
    if (!table_ok)
        memset(c->fis, 0, sizeof(c->fis));
    if (p->busy && (!is_queued(c) || (p->busy & ~p->ncq_busy)))
        return false;
    p->busy |= 1u << slot;

    if (!hdr_ok) {
        /* No header to write PRDBC to either: a host bus error. */
        hgr_ahci_warn(p->s, "port %u: command list at 0x%" G_GINT64_MODIFIER "x is not RAM",
                      p->index, hdr_gpa);
        hgr_ahci_post_d2h(p, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT, 0, true);
        p->reg[P_CI] &= ~(1u << slot);
        p->busy &= ~(1u << slot);
        hgr_ahci_port_event(p, PIS_HBFS | PIS_TFES);
        return true;
    }
    unsigned cfl = dw0 & 0x1f;
    if (cfl < FIS_H2D_LEN / 4 || cfl > 16)
        cmd_fail(c, "command FIS length out of range");
    else if (!table_ok)
        cmd_fail(c, "command table is not RAM");
    else if (c->fis[FIS_TYPE] != 0x27)
        cmd_fail(c, "not a host-to-device register FIS");
    else if (!(c->fis[FIS_FLAGS] & 0x80))
        device_control(c);
    else if (p->drive.kind == AHCI_DRIVE_DISK)
        hgr_ata_disk_exec(&p->drive, c);
    else if (p->drive.kind == AHCI_DRIVE_CD)
        hgr_atapi_cd_exec(&p->drive, c);
    else
        cmd_fail(c, "no drive on this port");
    return true;
}

/* A tag issued again while its queued command runs: refused, and the
 * queued one carries on (its command structure is in use). */
static void reject_reissue(AhciPort *p, uint32_t slots)
{
    hgr_ahci_warn(p->s, "port %u: queued tags 0x%x issued again while in flight", p->index,
                  slots);
    p->reg[P_CI] &= ~slots;
    hgr_ahci_post_d2h(p, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT, 0, true);
    hgr_ahci_port_event(p, PIS_TFES);
}

/* Issues the commands in CI, lowest slot first: bounded because each pass
 * clears a CI bit or marks a slot busy. */
void hgr_ahci_port_run(AhciPort *p)
{
    if (p->running)
        return;
    p->running = true;
    if (p->reg[P_CI] & p->ncq_busy)
        reject_reissue(p, p->reg[P_CI] & p->ncq_busy);
    for (unsigned n = 0; n < 2 * N_SLOTS; n++) {
        uint32_t pending = p->reg[P_CI] & ~p->busy;
        if (!(p->reg[P_CMD] & PCMD_ST) || !pending ||
            !start_command(p, (unsigned)__builtin_ctz(pending)))
            break;
    }
    p->running = false;
}
