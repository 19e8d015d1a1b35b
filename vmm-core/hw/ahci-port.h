/* ahci-port.h — the HBA's own structures, shared by ahci.c (registers,
 * interrupts, link, state) and ahci-cmd.c (command lists, PRDTs, FISes).
 * Not public. Everything here runs with Ahci.lock held. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../pci/pci.h"
#include "ahci-drive.h"
#include "ahci.h"

#define N_SLOTS         32

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
    bool running;               /* inside hgr_ahci_port_run: no recursion */
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

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t addr64(uint32_t lo, uint32_t hi)
{
    return (uint64_t)hi << 32 | lo;
}

static inline bool fis_receive_on(const AhciPort *p)
{
    return p->reg[P_CMD] & PCMD_FRE;
}

/* ahci.c */
G_GNUC_PRINTF(2, 3)
void hgr_ahci_warn(Ahci *s, const char *fmt, ...);
void hgr_ahci_update_irq(Ahci *s, bool event);
void hgr_ahci_port_event(AhciPort *p, uint32_t bits);
uint32_t hgr_ahci_drive_sig(const AhciPort *p);
void hgr_ahci_drive_reset(AhciDrive *d);

/* ahci-cmd.c */
void hgr_ahci_post_d2h(AhciPort *p, uint8_t status, uint8_t error, uint32_t sig, bool irq);
/* Issues what CI holds, as far as the port allows. */
void hgr_ahci_port_run(AhciPort *p);
/* Waits for the port's block requests (dropping their results) and
 * forgets its commands; the lock is held once, by this thread. */
void hgr_ahci_port_quiesce(AhciPort *p);
