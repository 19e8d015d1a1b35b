/* ahci.c — the AHCI 1.3 HBA: registers, ports, command lists, PRDTs and
 * received FISes. What a command means is the drive's business
 * (ata-disk.c, atapi-cd.c).
 *
 * Each port runs one command at a time, lowest slot first (no NCQ). The
 * command header, FIS, packet and each PRD entry are read once into local
 * copies; anything unreadable or outside RAM ends the command with a task
 * file error. One recursive lock guards the HBA: MMIO comes from vCPU
 * threads, completions from the I/O thread, or from inside
 * hgr_block_submit() when there is none.
 */
#include "ahci.h"

#include <hangar/vm.h>
#include <string.h>

#include "../pci/pci.h"
#include "../virtio/virtqueue.h"
#include "ahci-drive.h"

#define ABAR            5
#define ABAR_SIZE       0x1000
#define PORT_BASE       0x100
#define PORT_SIZE       0x80
#define N_SLOTS         32
#define MAX_PRDT        65535
#define PCI_CAP_ID_MSI  0x05
#define MSI_CAP_LEN     14

/* HBA registers. */
enum { HBA_CAP = 0x00, HBA_GHC = 0x04, HBA_IS = 0x08, HBA_PI = 0x0c, HBA_VS = 0x10,
       HBA_CAP2 = 0x24, HBA_BOHC = 0x28 };
#define CAP_S64A        (1u << 31)
#define CAP_SNCQ        (1u << 30)
#define CAP_SCLO        (1u << 24)
#define CAP_ISS_GEN1    (1u << 20)
#define CAP_SAM         (1u << 18)
#define CAP_VALUE       (CAP_S64A | CAP_SNCQ | CAP_SCLO | CAP_ISS_GEN1 | CAP_SAM | \
                         (N_SLOTS - 1) << 8 | (HGR_AHCI_PORTS - 1))
#define GHC_HR          (1u << 0)
#define GHC_IE          (1u << 1)
#define GHC_AE          (1u << 31)

/* Port registers, as indices of 32-bit words. */
enum { P_CLB, P_CLBU, P_FB, P_FBU, P_IS, P_IE, P_CMD, P_RSV, P_TFD, P_SIG, P_SSTS,
       P_SCTL, P_SERR, P_SACT, P_CI, P_SNTF, P_FBS, N_PREGS };
#define PIS_DHRS        (1u << 0)
#define PIS_PSS         (1u << 1)
#define PIS_SDBS        (1u << 3)
#define PIS_HBFS        (1u << 29)
#define PIS_TFES        (1u << 30)
#define PIS_MASK        0xfdc000ffu
#define PCMD_ST         (1u << 0)
#define PCMD_CLO        (1u << 3)
#define PCMD_FRE        (1u << 4)
#define PCMD_FR         (1u << 14)
#define PCMD_CR         (1u << 15)
#define PCMD_ATAPI      (1u << 24)
#define PCMD_WMASK      (0x0f000000u | PCMD_ST | 0x6u | PCMD_FRE | (1u << 26) | (1u << 25))
#define SSTS_UP         0x113u          /* device present, Gen1, active */
#define SCTL_DET(v)     ((v) & 0xf)

/* Received-FIS area offsets. */
#define RFIS_PIO        0x20
#define RFIS_D2H        0x40
#define RFIS_SDB        0x58

typedef struct Ahci Ahci;

typedef struct {
    Ahci *s;
    unsigned index;
    uint32_t reg[N_PREGS];
    AhciDrive drive;
    AhciCmd cmds[N_SLOTS];
    uint32_t busy;              /* slots whose command is being executed */
    uint32_t ncq_busy;          /* of those, the queued ones (CI already clear) */
    unsigned inflight;          /* block requests out */
    bool cancelled;             /* drop completions: the port was reset */
    bool running;               /* inside port_run: no recursion */
    bool sig_pending;           /* link came up while FIS receive was off */
} AhciPort;

struct Ahci {
    HgrPciDevice pdev;          /* first */
    const HgrGuestMem *mem;
    HgrIoThread *iothread;
    const HgrBoard *board;
    unsigned msi_cap;
    GRecMutex lock;
    uint32_t ghc;
    bool irq_level;
    gint64 last_warn;
    AhciPort ports[HGR_AHCI_PORTS];
};

G_GNUC_PRINTF(2, 3)
static void guest_warn(Ahci *s, const char *fmt, ...)
{
    gint64 now = g_get_monotonic_time();

    /* A guest can send bad commands in a loop: at most one line a second. */
    if (s->last_warn && now - s->last_warn < G_USEC_PER_SEC)
        return;
    s->last_warn = now;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_warning("%s: %s", s->pdev.dev.id, msg);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t addr64(uint32_t lo, uint32_t hi)
{
    return (uint64_t)hi << 32 | lo;
}

/* Interrupts: one MSI vector, sent on every port event and whenever the
 * summary rises after a register write. No INTx: the board has no PCI
 * interrupt routing. */

static uint32_t hba_is(const Ahci *s)
{
    uint32_t is = 0;

    for (unsigned i = 0; i < HGR_AHCI_PORTS; i++)
        if (s->ports[i].reg[P_IS] & s->ports[i].reg[P_IE])
            is |= 1u << i;
    return is;
}

static void send_msi(Ahci *s)
{
    HgrPciDevice *pdev = &s->pdev;
    unsigned cap = s->msi_cap;

    if (!s->board || !(hgr_pci_config_get(pdev, cap + 2, 2) & 1))
        return;
    uint64_t addr = addr64(hgr_pci_config_get(pdev, cap + 4, 4),
                           hgr_pci_config_get(pdev, cap + 8, 4));
    hgr_irq_msi(s->board->irqchip, addr, hgr_pci_config_get(pdev, cap + 12, 2));
}

static void update_irq(Ahci *s, bool event)
{
    bool level = (s->ghc & GHC_IE) && hba_is(s);

    if (level && (event || !s->irq_level))
        send_msi(s);
    s->irq_level = level;
}

static void port_event(AhciPort *p, uint32_t bits)
{
    p->reg[P_IS] |= bits;
    update_irq(p->s, true);
}

/* Received FISes */

static bool fis_receive_on(const AhciPort *p)
{
    return p->reg[P_CMD] & PCMD_FRE;
}

static void write_fis(AhciPort *p, unsigned off, const uint8_t *fis, size_t len)
{
    uint64_t fb = addr64(p->reg[P_FB], p->reg[P_FBU]);

    if (fis_receive_on(p) && !hgr_mem_write(p->s->mem, fb + off, fis, len))
        guest_warn(p->s, "port %u: FIS area 0x%" G_GINT64_MODIFIER "x is not RAM", p->index, fb);
}

static void put_sig(uint8_t *fis, uint32_t sig)
{
    fis[FIS_COUNT] = (uint8_t)sig;
    fis[FIS_LBA0] = (uint8_t)(sig >> 8);
    fis[FIS_LBA1] = (uint8_t)(sig >> 16);
    fis[FIS_LBA2] = (uint8_t)(sig >> 24);
}

static void post_d2h(AhciPort *p, uint8_t status, uint8_t error, uint32_t sig, bool irq)
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

/* The link */

static uint32_t drive_sig(const AhciPort *p)
{
    return p->drive.kind == AHCI_DRIVE_CD ? SIG_ATAPI : SIG_ATA;
}

static void link_up(AhciPort *p)
{
    if (p->drive.kind == AHCI_DRIVE_NONE)
        return;
    p->reg[P_SSTS] = SSTS_UP;
    p->reg[P_SIG] = drive_sig(p);
    p->reg[P_TFD] = ATA_ST_OK;
    p->sig_pending = !fis_receive_on(p);
    if (!p->sig_pending)
        post_d2h(p, ATA_ST_OK, 0, drive_sig(p), false);
}

/* Waits for the block requests of p's commands and forgets the commands.
 * The lock is held once on entry, by this thread. */
static void port_quiesce(AhciPort *p)
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

static void drive_reset(AhciDrive *d)
{
    if (d->kind == AHCI_DRIVE_DISK)
        hgr_ata_disk_reset(d);
    else if (d->kind == AHCI_DRIVE_CD)
        hgr_atapi_cd_reset(d);
}

/* COMRESET and HBA reset: registers to power-on values, link down. */
static void port_reset(AhciPort *p, bool hba_reset)
{
    port_quiesce(p);
    uint32_t keep[N_PREGS];
    memcpy(keep, p->reg, sizeof(keep));
    memset(p->reg, 0, sizeof(p->reg));
    if (!hba_reset) {
        /* COMRESET leaves the memory pointers and the command register alone. */
        p->reg[P_CLB] = keep[P_CLB];
        p->reg[P_CLBU] = keep[P_CLBU];
        p->reg[P_FB] = keep[P_FB];
        p->reg[P_FBU] = keep[P_FBU];
        p->reg[P_CMD] = keep[P_CMD];
        p->reg[P_IE] = keep[P_IE];
        p->reg[P_SCTL] = keep[P_SCTL];
    }
    p->reg[P_SIG] = 0xffffffffu;
    p->reg[P_TFD] = 0x7f;
    if (p->drive.kind == AHCI_DRIVE_CD)
        p->reg[P_CMD] |= PCMD_ATAPI;
    drive_reset(&p->drive);
    p->sig_pending = false;
}

/* Commands */

static AhciPort *port_of(AhciCmd *c)
{
    return c->port;
}

bool hgr_ahci_cmd_map(AhciCmd *c, uint64_t len)
{
    unsigned need = (unsigned)c->prdtl + HGR_MEM_MAX_REGIONS;

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

void hgr_ahci_cmd_io(AhciCmd *c, HgrBlockOp op, uint64_t offset, AhciIoDone done)
{
    AhciPort *p = port_of(c);
    bool data = op == HGR_BLOCK_READ || op == HGR_BLOCK_WRITE;

    c->io_done = done;
    c->breq = (HgrBlockReq){ .op = op, .offset = offset, .iov = data ? c->iov : NULL,
                             .iovcnt = data ? c->iovcnt : 0, .done = block_done,
                             .opaque = c };
    p->inflight++;
    hgr_block_submit(c->drive->blk, &c->breq);
}

static void port_run(AhciPort *p);

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
    post_d2h(p, ATA_ST_DRDY, 0, 0, false);
    p->reg[P_CI] &= ~bit;
    return true;
}

void hgr_ahci_cmd_done(AhciCmd *c, uint8_t status, uint8_t error)
{
    AhciPort *p = port_of(c);
    uint64_t hdr = addr64(p->reg[P_CLB], p->reg[P_CLBU]) + 32ull * c->slot;
    uint32_t bit = 1u << c->slot, events;

    hgr_mem_write_u32(p->s->mem, hdr + 4, c->transferred);     /* PRDBC; unwritable: the guest's loss */
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
        post_d2h(p, status, error, c->sig, true);
        p->reg[P_CI] &= ~bit;
    }
    if (status & ATA_ST_ERR)
        events |= PIS_TFES;
    p->reg[P_SACT] &= ~bit;
    p->busy &= ~bit;
    port_event(p, events);
    port_run(p);
}

/* A command the HBA itself refuses: the drive never sees it. */
static void cmd_fail(AhciCmd *c, const char *why)
{
    guest_warn(port_of(c)->s, "port %u slot %u: %s", port_of(c)->index, c->slot, why);
    hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
}

/* A FIS without the C bit: device control. SRST set then cleared is a
 * software reset, answered by the signature. */
static void device_control(AhciCmd *c)
{
    AhciPort *p = port_of(c);

    if (c->fis[FIS_CONTROL] & 0x04) {
        drive_reset(&p->drive);
        p->reg[P_CI] &= ~(1u << c->slot);
        p->busy &= ~(1u << c->slot);
        update_irq(p->s, false);
        return;
    }
    c->sig = drive_sig(p);
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
        guest_warn(p->s, "port %u: command list at 0x%" G_GINT64_MODIFIER "x is not RAM",
                   p->index, hdr_gpa);
        post_d2h(p, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT, 0, true);
        p->reg[P_CI] &= ~(1u << slot);
        p->busy &= ~(1u << slot);
        port_event(p, PIS_HBFS | PIS_TFES);
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
    guest_warn(p->s, "port %u: queued tags 0x%x issued again while in flight", p->index, slots);
    p->reg[P_CI] &= ~slots;
    post_d2h(p, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT, 0, true);
    port_event(p, PIS_TFES);
}

/* Issues the commands in CI, lowest slot first: bounded because each pass
 * clears a CI bit or marks a slot busy. */
static void port_run(AhciPort *p)
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

/* Port registers */

static void write_cmd(AhciPort *p, uint32_t val)
{
    uint32_t old = p->reg[P_CMD];
    uint32_t cmd = (old & ~PCMD_WMASK) | (val & PCMD_WMASK);

    cmd &= ~0xf0000000u;                    /* ICC: accepted at once */
    if (val & PCMD_CLO)
        p->reg[P_TFD] &= ~(uint32_t)(ATA_ST_BSY | ATA_ST_DRQ);
    if ((old & PCMD_ST) && !(cmd & PCMD_ST)) {
        port_quiesce(p);
        p->reg[P_CI] = 0;
        p->reg[P_SACT] = 0;
    }
    cmd = (cmd & ~(PCMD_CR | PCMD_FR | 0x1f00u)) | (cmd & PCMD_ST ? PCMD_CR : 0) |
          (cmd & PCMD_FRE ? PCMD_FR : 0);
    if (p->drive.kind == AHCI_DRIVE_CD)
        cmd |= PCMD_ATAPI;
    p->reg[P_CMD] = cmd;
    if ((cmd & PCMD_FRE) && p->sig_pending) {
        p->sig_pending = false;
        post_d2h(p, ATA_ST_OK, 0, drive_sig(p), false);
    }
    port_run(p);
}

static void write_sctl(AhciPort *p, uint32_t val)
{
    uint32_t old = SCTL_DET(p->reg[P_SCTL]);

    p->reg[P_SCTL] = val & 0xfff;
    if (SCTL_DET(val) == 1 && old != 1) {
        port_reset(p, false);
        p->reg[P_SCTL] = val & 0xfff;
    } else if (SCTL_DET(val) == 0 && (old == 1 || old == 4)) {
        link_up(p);
    } else if (SCTL_DET(val) == 4) {
        p->reg[P_SSTS] = 0x4;               /* offline */
    }
}

static void port_write(AhciPort *p, unsigned r, uint32_t val)
{
    switch (r) {
    case P_CLB:  p->reg[r] = val & ~0x3ffu; break;
    case P_FB:   p->reg[r] = val & ~0xffu; break;
    case P_CLBU:
    case P_FBU:  p->reg[r] = val; break;
    case P_IS:   p->reg[r] &= ~val; break;
    case P_IE:   p->reg[r] = val & PIS_MASK; break;
    case P_CMD:  write_cmd(p, val); break;
    case P_SCTL: write_sctl(p, val); break;
    case P_SERR: p->reg[r] &= ~val; break;
    case P_SACT:
        if (p->reg[P_CMD] & PCMD_ST)
            p->reg[P_SACT] |= val;
        break;
    case P_CI:
        /* Before the port starts (or with no drive) a command goes nowhere. */
        if ((p->reg[P_CMD] & PCMD_ST) && p->drive.kind != AHCI_DRIVE_NONE) {
            p->reg[P_CI] |= val;
            port_run(p);
        }
        break;
    default:     break;                     /* read-only */
    }
}

static uint32_t port_read(AhciPort *p, unsigned r)
{
    if (r == P_CMD && p->busy)
        return p->reg[P_CMD] | (uint32_t)__builtin_ctz(p->busy) << 8;
    return r < N_PREGS ? p->reg[r] : 0;
}

/* HBA registers */

static void hba_reset(Ahci *s)
{
    for (unsigned i = 0; i < HGR_AHCI_PORTS; i++) {
        port_reset(&s->ports[i], true);
        link_up(&s->ports[i]);
    }
    s->ghc = GHC_AE;
    s->irq_level = false;
}

static uint32_t hba_read(Ahci *s, unsigned off)
{
    switch (off) {
    case HBA_CAP:  return CAP_VALUE;
    case HBA_GHC:  return s->ghc;
    case HBA_IS:   return hba_is(s);
    case HBA_PI:   return (1u << HGR_AHCI_PORTS) - 1;
    case HBA_VS:   return 0x00010300;
    default:       return 0;
    }
}

static void hba_write(Ahci *s, unsigned off, uint32_t val)
{
    if (off != HBA_GHC)
        return;                 /* IS follows the ports: clearing PxIS clears it */
    if (val & GHC_HR) {
        hba_reset(s);
        return;
    }
    s->ghc = GHC_AE | (val & GHC_IE);
}

/* Registers whose unwritten bytes must not be written back (write 1 to clear
 * or to set): a narrow write merges into zero, not into the current value. */
static bool write_one_register(unsigned off)
{
    if (off < PORT_BASE)
        return off == HBA_IS;
    unsigned r = (off - PORT_BASE) % PORT_SIZE / 4;
    return r == P_IS || r == P_SERR || r == P_CI || r == P_SACT;
}

static uint32_t reg_read(Ahci *s, unsigned off)
{
    if (off < PORT_BASE)
        return hba_read(s, off);
    unsigned port = (off - PORT_BASE) / PORT_SIZE;
    if (port >= HGR_AHCI_PORTS)
        return 0;
    return port_read(&s->ports[port], (off - PORT_BASE) % PORT_SIZE / 4);
}

static void reg_write(Ahci *s, unsigned off, uint32_t val)
{
    if (off < PORT_BASE) {
        hba_write(s, off, val);
    } else {
        unsigned port = (off - PORT_BASE) / PORT_SIZE;
        if (port < HGR_AHCI_PORTS)
            port_write(&s->ports[port], (off - PORT_BASE) % PORT_SIZE / 4, val);
    }
    update_irq(s, false);
}

static void abar_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
    Ahci *s = opaque;

    if (!is_write)
        memset(data, 0, len);
    if (off >= ABAR_SIZE || off + len > ABAR_SIZE)
        return;
    g_rec_mutex_lock(&s->lock);
    /* Dword registers; an 8-byte access is two of them, a narrow one a part. */
    for (unsigned done = 0; done < len;) {
        unsigned reg = (unsigned)(off + done) & ~3u, shift = (unsigned)(off + done) & 3;
        unsigned n = MIN(4 - shift, len - done);
        uint8_t b[4];
        if (is_write) {
            hgr_io_put(b, 4, write_one_register(reg) ? 0 : reg_read(s, reg));
            memcpy(b + shift, data + done, n);
            reg_write(s, reg, (uint32_t)hgr_io_get(b, 4));
        } else {
            hgr_io_put(b, 4, reg_read(s, reg));
            memcpy(data + done, b + shift, n);
        }
        done += n;
    }
    g_rec_mutex_unlock(&s->lock);
}

/* Device ops */

static Ahci *ahci_of(HgrDevice *dev)
{
    return (Ahci *)dev;
}

static bool ahci_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    Ahci *s = ahci_of(dev);

    s->board = board;
    return hgr_pci_bus_add_device(board->pci, &s->pdev, -1, error);
}

static void ahci_reset(HgrDevice *dev)
{
    Ahci *s = ahci_of(dev);

    g_rec_mutex_lock(&s->lock);
    hba_reset(s);
    g_rec_mutex_unlock(&s->lock);
    hgr_pci_device_reset(&s->pdev);
}

/* After a load (or a pause), commands left in CI are issued again. */
static void ahci_resume(HgrDevice *dev)
{
    Ahci *s = ahci_of(dev);

    g_rec_mutex_lock(&s->lock);
    for (unsigned i = 0; i < HGR_AHCI_PORTS; i++)
        port_run(&s->ports[i]);
    g_rec_mutex_unlock(&s->lock);
}

static void ahci_destroy(HgrDevice *dev)
{
    Ahci *s = ahci_of(dev);

    g_rec_mutex_lock(&s->lock);
    for (unsigned i = 0; i < HGR_AHCI_PORTS; i++) {
        port_quiesce(&s->ports[i]);
        for (unsigned j = 0; j < N_SLOTS; j++)
            g_free(s->ports[i].cmds[j].iov);
    }
    g_rec_mutex_unlock(&s->lock);
    hgr_pci_device_finalize(&s->pdev);
    g_rec_mutex_clear(&s->lock);
    g_free(s);
}

/* Saved state: PCI config, GHC, and per port its registers and its drive's
 * state. A command in flight is not saved: its CI bit is, and resume
 * issues it again. */

typedef struct {
    uint32_t reg[N_PREGS];
    uint8_t kind;
    uint64_t sectors;
    bool sig_pending;
    AhciDriveState drive;
} AhciPortState;

typedef struct {
    HgrPciState pci;
    uint32_t ghc;
    AhciPortState ports[HGR_AHCI_PORTS];
} AhciState;

static void ahci_get_state(HgrDevice *dev, void *state)
{
    Ahci *s = ahci_of(dev);
    AhciState *st = state;

    hgr_pci_get_state(&s->pdev, &st->pci);
    g_rec_mutex_lock(&s->lock);
    st->ghc = s->ghc;
    for (unsigned i = 0; i < HGR_AHCI_PORTS; i++) {
        const AhciPort *p = &s->ports[i];
        AhciPortState *ps = &st->ports[i];
        memcpy(ps->reg, p->reg, sizeof(ps->reg));
        ps->kind = (uint8_t)p->drive.kind;
        ps->sectors = p->drive.sectors;
        ps->sig_pending = p->sig_pending;
        ps->drive = p->drive.st;
    }
    g_rec_mutex_unlock(&s->lock);
}

static void visit_drive(HgrVisitor *v, AhciDriveState *d)
{
    hgr_visit_u8(v, &d->xfer_mode);
    hgr_visit_bool(v, &d->write_cache);
    hgr_visit_u8(v, &d->sense_key);
    hgr_visit_u8(v, &d->asc);
    hgr_visit_u8(v, &d->ascq);
    hgr_visit_bool(v, &d->unit_attention);
    hgr_visit_bool(v, &d->locked);
    hgr_visit_bool(v, &d->tray_open);
    hgr_visit_u8(v, &d->media_event);
    hgr_visit_bool(v, &d->ncq_err);
    hgr_visit_u8(v, &d->ncq_err_tag);
    hgr_visit_u8(v, &d->ncq_err_status);
    hgr_visit_u8(v, &d->ncq_err_error);
}

static void ahci_visit_state(HgrVisitor *v, void *state)
{
    AhciState *st = state;

    hgr_pci_visit_state(v, &st->pci);
    hgr_visit_u32(v, &st->ghc);
    for (unsigned i = 0; i < HGR_AHCI_PORTS; i++) {
        AhciPortState *ps = &st->ports[i];
        for (unsigned r = 0; r < N_PREGS; r++)
            hgr_visit_u32(v, &ps->reg[r]);
        hgr_visit_u8(v, &ps->kind);
        hgr_visit_u64(v, &ps->sectors);
        hgr_visit_bool(v, &ps->sig_pending);
        visit_drive(v, &ps->drive);
    }
}

static bool port_state_ok(const AhciPort *p, const AhciPortState *ps, const char **why)
{
    const uint32_t *r = ps->reg;

    if (ps->kind != p->drive.kind)
        *why = "a different drive";
    else if (p->drive.kind == AHCI_DRIVE_DISK && ps->sectors != p->drive.sectors)
        *why = "a disk of another size (it changed after saving)";
    else if (p->drive.kind == AHCI_DRIVE_CD && ps->sectors != p->drive.sectors)
        *why = "another CD medium";
    else if (r[P_CLB] & 0x3ff || r[P_FB] & 0xff || r[P_IE] & ~PIS_MASK || r[P_IS] & ~PIS_MASK)
        *why = "registers with reserved bits set";
    else if ((r[P_CMD] & PCMD_ST) != ((r[P_CMD] & PCMD_CR) ? PCMD_ST : 0) ||
             ((!(r[P_CMD] & PCMD_ST) || p->drive.kind == AHCI_DRIVE_NONE) &&
              (r[P_CI] | r[P_SACT])))
        *why = "commands issued to a stopped port";
    else if (ps->drive.sense_key > 0xf || ps->drive.media_event > 4 ||
             ps->drive.ncq_err_tag >= N_SLOTS)
        *why = "drive state out of range";
    else
        return true;
    return false;
}

static bool ahci_check_state(HgrDevice *dev, const void *state, GError **error)
{
    Ahci *s = ahci_of(dev);
    const AhciState *st = state;
    const char *why = NULL;
    unsigned bad = 0;

    if (!hgr_pci_check_state(&s->pdev, &st->pci, error))
        return false;
    if (st->ghc & ~(GHC_AE | GHC_IE) || !(st->ghc & GHC_AE))
        why = "GHC has bits this HBA does not have";
    g_rec_mutex_lock(&s->lock);
    for (unsigned i = 0; i < HGR_AHCI_PORTS && !why; i++)
        if (!port_state_ok(&s->ports[i], &st->ports[i], &why))
            bad = i;
    g_rec_mutex_unlock(&s->lock);
    if (why) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE, "%s: saved port %u: %s",
                    dev->id, bad, why);
        return false;
    }
    return true;
}

static void ahci_set_state(HgrDevice *dev, const void *state)
{
    Ahci *s = ahci_of(dev);
    const AhciState *st = state;

    hgr_pci_set_state(&s->pdev, &st->pci);
    g_rec_mutex_lock(&s->lock);
    s->ghc = st->ghc;
    for (unsigned i = 0; i < HGR_AHCI_PORTS; i++) {
        AhciPort *p = &s->ports[i];
        port_quiesce(p);
        memcpy(p->reg, st->ports[i].reg, sizeof(p->reg));
        p->sig_pending = st->ports[i].sig_pending;
        p->drive.st = st->ports[i].drive;
    }
    s->irq_level = (s->ghc & GHC_IE) && hba_is(s);
    g_rec_mutex_unlock(&s->lock);
}

static const HgrDeviceOps ahci_ops = {
    .name = "ahci",
    .state_version = 1,
    .state_size = sizeof(AhciState),
    .realize = ahci_realize,
    .reset = ahci_reset,
    .resume = ahci_resume,
    .get_state = ahci_get_state,
    .visit_state = ahci_visit_state,
    .check_state = ahci_check_state,
    .set_state = ahci_set_state,
    .destroy = ahci_destroy,
};

static void add_msi_capability(Ahci *s)
{
    HgrPciDevice *pdev = &s->pdev;
    unsigned cap = hgr_pci_add_capability(pdev, PCI_CAP_ID_MSI, MSI_CAP_LEN);

    g_return_if_fail(cap != 0);
    s->msi_cap = cap;
    hgr_pci_config_set(pdev, cap + 2, 2, 0x0080);         /* 64-bit, one vector */
    hgr_pci_set_wmask(pdev, cap + 2, 2, 0x0001);
    hgr_pci_set_wmask(pdev, cap + 4, 4, 0xfffffffc);
    hgr_pci_set_wmask(pdev, cap + 8, 4, 0xffffffff);
    hgr_pci_set_wmask(pdev, cap + 12, 2, 0xffff);
}

HgrDevice *hgr_ahci_new(const char *id, const HgrGuestMem *mem, HgrIoThread *t)
{
    Ahci *s = g_new0(Ahci, 1);

    hgr_pci_device_init(&s->pdev, &ahci_ops, id, 0x8086, 0x2922, 0x010601, 0x02);
    hgr_pci_set_subsystem(&s->pdev, 0x8086, 0x2922);
    hgr_pci_init_bar(&s->pdev, ABAR, HGR_PCI_BAR_MEM32, ABAR_SIZE, abar_io, s);
    add_msi_capability(s);
    g_rec_mutex_init(&s->lock);
    s->mem = mem;
    s->iothread = t;
    for (unsigned i = 0; i < HGR_AHCI_PORTS; i++) {
        AhciPort *p = &s->ports[i];
        p->s = s;
        p->index = i;
        for (unsigned j = 0; j < N_SLOTS; j++)
            p->cmds[j] = (AhciCmd){ .port = p, .drive = &p->drive, .mem = mem };
    }
    hba_reset(s);
    return &s->pdev.dev;
}

/* Attaching drives */

static AhciPort *free_port(Ahci *s, unsigned port, GError **error)
{
    if (port >= HGR_AHCI_PORTS || s->ports[port].drive.kind != AHCI_DRIVE_NONE) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: port %u is %s", s->pdev.dev.id, port,
                    port >= HGR_AHCI_PORTS ? "not there" : "taken");
        return NULL;
    }
    return &s->ports[port];
}

static void serial_for(AhciDrive *d, const char *what)
{
    g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, what, -1);
    g_snprintf(d->serial, sizeof(d->serial), "HGR%.17s", sum);
}

bool hgr_ahci_attach_disk(HgrDevice *dev, unsigned port, HgrBlock *blk, GError **error)
{
    Ahci *s = ahci_of(dev);
    AhciPort *p = free_port(s, port, error);

    if (!p)
        return false;
    if (s->iothread)
        hgr_block_attach(blk, s->iothread);
    p->drive.kind = AHCI_DRIVE_DISK;
    p->drive.blk = blk;
    p->drive.sectors = hgr_block_size(blk) / ATA_SECTOR;
    serial_for(&p->drive, hgr_block_path(blk));
    port_reset(p, true);
    link_up(p);
    return true;
}

bool hgr_ahci_attach_cdrom(HgrDevice *dev, unsigned port, HgrBlock *blk, GError **error)
{
    Ahci *s = ahci_of(dev);
    AhciPort *p = free_port(s, port, error);

    if (!p)
        return false;
    p->drive.kind = AHCI_DRIVE_CD;
    g_autofree char *name = g_strdup_printf("%s.%u", dev->id, port);
    serial_for(&p->drive, name);
    if (blk && s->iothread)
        hgr_block_attach(blk, s->iothread);
    hgr_atapi_cd_media_changed(&p->drive, blk);
    port_reset(p, true);
    link_up(p);
    return true;
}

bool hgr_ahci_change_media(HgrDevice *dev, unsigned port, HgrBlock *blk, bool force,
                           GError **error)
{
    Ahci *s = ahci_of(dev);
    bool ok = false;

    g_rec_mutex_lock(&s->lock);
    AhciPort *p = port < HGR_AHCI_PORTS ? &s->ports[port] : NULL;
    if (!p || p->drive.kind != AHCI_DRIVE_CD) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG, "%s: port %u has no CD drive",
                    dev->id, port);
    } else if (p->drive.st.locked && !force) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE_INVALID,
                    "%s: the guest has locked the CD tray of port %u", dev->id, port);
    } else {
        /* A read of the old medium finishes first (its result is dropped
         * with the command, which the guest retries after the attention). */
        uint32_t had_cmd = p->busy;      /* a CD has no queued commands: one at most */
        port_quiesce(p);
        if (blk && s->iothread)
            hgr_block_attach(blk, s->iothread);
        hgr_atapi_cd_media_changed(&p->drive, blk);
        if (had_cmd)
            hgr_ahci_cmd_done(&p->cmds[__builtin_ctz(had_cmd)], ATA_ST_DRDY | ATA_ST_ERR,
                              0x6 << 4);
        ok = true;
    }
    g_rec_mutex_unlock(&s->lock);
    return ok;
}
