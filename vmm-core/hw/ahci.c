/* ahci.c — the AHCI 1.3 HBA as the guest sees it: PCI identity and MSI,
 * HBA and port registers, the link (COMRESET, signature), interrupts,
 * save/load, and drives attached to ports. Commands are ahci-cmd.c's.
 *
 * One recursive lock guards the HBA: MMIO comes from vCPU threads,
 * completions from the I/O thread, or from inside hgr_block_submit() when
 * there is none (then a completion re-enters with the lock held).
 */
#include "ahci.h"

#include <hangar/vm.h>
#include <string.h>

#include "ahci-port.h"

#define ABAR            5
#define ABAR_SIZE       0x1000
#define PORT_BASE       0x100
#define PORT_SIZE       0x80
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

void hgr_ahci_warn(Ahci *s, const char *fmt, ...)
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

void hgr_ahci_update_irq(Ahci *s, bool event)
{
    bool level = (s->ghc & GHC_IE) && hba_is(s);

    if (level && (event || !s->irq_level))
        send_msi(s);
    s->irq_level = level;
}

void hgr_ahci_port_event(AhciPort *p, uint32_t bits)
{
    p->reg[P_IS] |= bits;
    hgr_ahci_update_irq(p->s, true);
}

/* The link */

uint32_t hgr_ahci_drive_sig(const AhciPort *p)
{
    return p->drive.kind == AHCI_DRIVE_CD ? SIG_ATAPI : SIG_ATA;
}

static void link_up(AhciPort *p)
{
    if (p->drive.kind == AHCI_DRIVE_NONE)
        return;
    p->reg[P_SSTS] = SSTS_UP;
    p->reg[P_SIG] = hgr_ahci_drive_sig(p);
    p->reg[P_TFD] = ATA_ST_OK;
    p->sig_pending = !fis_receive_on(p);
    if (!p->sig_pending)
        hgr_ahci_post_d2h(p, ATA_ST_OK, 0, hgr_ahci_drive_sig(p), false);
}

void hgr_ahci_drive_reset(AhciDrive *d)
{
    if (d->kind == AHCI_DRIVE_DISK)
        hgr_ata_disk_reset(d);
    else if (d->kind == AHCI_DRIVE_CD)
        hgr_atapi_cd_reset(d);
}

/* COMRESET and HBA reset: registers to power-on values, link down. */
static void port_reset(AhciPort *p, bool hba_reset)
{
    hgr_ahci_port_quiesce(p);
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
    hgr_ahci_drive_reset(&p->drive);
    p->sig_pending = false;
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
        hgr_ahci_port_quiesce(p);
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
        hgr_ahci_post_d2h(p, ATA_ST_OK, 0, hgr_ahci_drive_sig(p), false);
    }
    hgr_ahci_port_run(p);
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
            hgr_ahci_port_run(p);
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
    hgr_ahci_update_irq(s, false);
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
        hgr_ahci_port_run(&s->ports[i]);
    g_rec_mutex_unlock(&s->lock);
}

static void ahci_destroy(HgrDevice *dev)
{
    Ahci *s = ahci_of(dev);

    g_rec_mutex_lock(&s->lock);
    for (unsigned i = 0; i < HGR_AHCI_PORTS; i++) {
        hgr_ahci_port_quiesce(&s->ports[i]);
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
        hgr_ahci_port_quiesce(p);
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
        hgr_ahci_port_quiesce(p);
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
