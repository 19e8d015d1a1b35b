/* acpi-pm.c — ACPI fixed hardware: PM1a event and control blocks, the PM
 * timer, and the reset control register at 0xCF9.
 *
 * ACPI is always on (SCI_EN reads set; there is no SMM to hand over from).
 * Of the sleep states only S5 exists; asking for another one wakes the
 * guest at once (WAK_STS) instead of leaving it waiting forever.
 */
#include "acpi-pm.h"

#include <hangar/vm.h>
#include <string.h>
#include <time.h>

#include "../core/board.h"
#include "../core/irq.h"
#include "../core/pc.h"

#define STS_TMR      0x0001
#define STS_BM       0x0010
#define STS_GBL      0x0020
#define STS_PWRBTN   0x0100
#define STS_SLPBTN   0x0200
#define STS_RTC      0x0400
#define STS_WAK      0x8000
#define STS_MASK     (STS_TMR | STS_BM | STS_GBL | STS_PWRBTN | STS_SLPBTN | STS_RTC | STS_WAK)
#define EN_MASK      (STS_TMR | STS_GBL | STS_PWRBTN | STS_SLPBTN | STS_RTC)

#define CNT_SCI_EN   0x0001
#define CNT_BM_RLD   0x0002
#define CNT_SLP_TYP  0x1c00
#define CNT_SLP_EN   0x2000
#define CNT_STORED   (CNT_BM_RLD | CNT_SLP_TYP)

#define RESET_CPU    0x04      /* the bit that pulls the reset line */
#define RESET_STORED 0x0a      /* SYS_RST and FULL_RST: remembered, read back */

#define PM_TMR_HZ    3579545u
#define PM_TMR_MASK  0xffffffu

typedef struct {
    uint16_t sts, en, cnt;
    uint32_t tmr;               /* the timer's value when saved */
    uint8_t reset_ctl;
} AcpiPmState;

typedef struct {
    HgrDevice dev;
    const HgrBoard *board;
    HgrIrqLine sci;
    GMutex lock;
    AcpiPmState s;              /* s.tmr is only filled when saving */
    int64_t tmr_offset;         /* timer = monotonic ticks + offset */
    bool sci_level;
} AcpiPm;

static int64_t monotonic_ticks(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned __int128 ns = (unsigned __int128)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return (int64_t)(ns * PM_TMR_HZ / 1000000000u);
}

static uint32_t timer_now(const AcpiPm *pm)
{
    return (uint32_t)((uint64_t)(monotonic_ticks() + pm->tmr_offset) & PM_TMR_MASK);
}

static void update_sci(AcpiPm *pm)
{
    bool level = (pm->s.sts & pm->s.en) != 0;

    if (level != pm->sci_level) {
        pm->sci_level = level;
        hgr_irq_set(&pm->sci, level);
    }
}

/* Returns the board event the write asks for, or -1. */
static int pm_write_byte(AcpiPm *pm, uint64_t off, uint8_t b)
{
    AcpiPmState *s = &pm->s;
    unsigned shift = (off & 1) * 8;

    switch (off) {
    case 0: case 1:
        s->sts &= (uint16_t)~(b << shift);
        break;
    case 2: case 3:
        s->en = (uint16_t)(((s->en & ~(0xff << shift)) | b << shift) & EN_MASK);
        break;
    case 4: case 5: {
        uint16_t cnt = (uint16_t)((s->cnt & ~(0xff << shift)) | b << shift);
        s->cnt = cnt & CNT_STORED;
        if (!(cnt & CNT_SLP_EN))
            break;
        /* Our \_S5 value, or 0: QEMU's, which OVMF's ResetShutdown()
         * writes without asking the DSDT (entering "S0" means nothing). */
        if (((cnt & CNT_SLP_TYP) >> 10) == HGR_PC_SLP_TYP_S5 || !(cnt & CNT_SLP_TYP))
            return HGR_BOARD_POWEROFF;
        s->sts |= STS_WAK;
        break;
    }
    default:                    /* the timer and the gaps are read-only */
        break;
    }
    return -1;
}

static uint8_t pm_read_byte(AcpiPm *pm, uint64_t off, uint32_t tmr)
{
    const AcpiPmState *s = &pm->s;
    unsigned shift = (off & 1) * 8;

    switch (off) {
    case 0: case 1:
        return (uint8_t)(s->sts >> shift);
    case 2: case 3:
        return (uint8_t)(s->en >> shift);
    case 4: case 5:
        return (uint8_t)((s->cnt | CNT_SCI_EN) >> shift);
    case 8: case 9: case 10: case 11:
        return (uint8_t)(tmr >> (8 * (off - 8)));
    default:
        return 0xff;
    }
}

static void pm_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
    AcpiPm *pm = opaque;
    int event = -1;

    g_mutex_lock(&pm->lock);
    /* One timer sample per access, so a dword read is one consistent value. */
    uint32_t tmr = is_write ? 0 : timer_now(pm);
    for (unsigned i = 0; i < len; i++) {
        uint64_t off = offset + i;
        if (is_write) {
            int e = pm_write_byte(pm, off, data[i]);
            if (e >= 0)
                event = e;
        } else {
            data[i] = pm_read_byte(pm, off, tmr);
        }
    }
    update_sci(pm);
    g_mutex_unlock(&pm->lock);
    /* Outside the lock: the board may reset this very device in response. */
    if (event >= 0)
        hgr_board_event(pm->board, (HgrBoardEvent)event);
}

static void reset_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
    AcpiPm *pm = opaque;
    bool reset = false;

    g_mutex_lock(&pm->lock);
    if (is_write) {
        pm->s.reset_ctl = data[0] & RESET_STORED;
        reset = data[0] & RESET_CPU;
    } else {
        memset(data, 0xff, len);
        data[0] = pm->s.reset_ctl;
    }
    g_mutex_unlock(&pm->lock);
    if (reset)
        hgr_board_event(pm->board, HGR_BOARD_RESET);
}

void hgr_acpi_pm_power_button(HgrDevice *dev)
{
    AcpiPm *pm = (AcpiPm *)dev;

    g_mutex_lock(&pm->lock);
    pm->s.sts |= STS_PWRBTN;
    update_sci(pm);
    g_mutex_unlock(&pm->lock);
}

static bool pm_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    AcpiPm *pm = (AcpiPm *)dev;

    if (!hgr_io_bus_register(board->pio, HGR_PC_PM_BASE, HGR_PC_PM_SIZE, pm_io, pm, dev->id) ||
        !hgr_io_bus_register(board->pio, HGR_PC_RESET_PORT, 1, reset_io, pm, "reset-control")) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: ports 0x%x or 0x%x are already taken", dev->id, HGR_PC_PM_BASE,
                    HGR_PC_RESET_PORT);
        return false;
    }
    pm->board = board;
    pm->sci.chip = board->irqchip;
    pm->sci.gsi = HGR_PC_SCI_IRQ;
    return true;
}

/* The PM timer is a free-running clock: a reset does not restart it. */
static void pm_reset(HgrDevice *dev)
{
    AcpiPm *pm = (AcpiPm *)dev;

    g_mutex_lock(&pm->lock);
    memset(&pm->s, 0, sizeof(pm->s));
    update_sci(pm);
    g_mutex_unlock(&pm->lock);
}

static void pm_get_state(HgrDevice *dev, void *state)
{
    AcpiPm *pm = (AcpiPm *)dev;
    AcpiPmState *s = state;

    g_mutex_lock(&pm->lock);
    *s = pm->s;
    s->tmr = timer_now(pm);
    g_mutex_unlock(&pm->lock);
}

static void pm_visit_state(HgrVisitor *v, void *state)
{
    AcpiPmState *s = state;

    hgr_visit_u16(v, &s->sts);
    hgr_visit_u16(v, &s->en);
    hgr_visit_u16(v, &s->cnt);
    hgr_visit_u32(v, &s->tmr);
    hgr_visit_u8(v, &s->reset_ctl);
}

static bool pm_check_state(HgrDevice *dev, const void *state, GError **error)
{
    const AcpiPmState *s = state;

    if ((s->sts & ~STS_MASK) || (s->en & ~EN_MASK) || (s->cnt & ~CNT_STORED) ||
        s->tmr > PM_TMR_MASK || (s->reset_ctl & ~RESET_STORED)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "saved state of %s: reserved register bits set", dev->id);
        return false;
    }
    return true;
}

static void pm_set_state(HgrDevice *dev, const void *state)
{
    AcpiPm *pm = (AcpiPm *)dev;
    const AcpiPmState *s = state;

    g_mutex_lock(&pm->lock);
    pm->s = *s;
    pm->s.tmr = 0;
    pm->tmr_offset = (int64_t)s->tmr - monotonic_ticks();
    update_sci(pm);
    g_mutex_unlock(&pm->lock);
}

static void pm_destroy(HgrDevice *dev)
{
    AcpiPm *pm = (AcpiPm *)dev;

    g_mutex_clear(&pm->lock);
    g_free(pm);
}

static const HgrDeviceOps acpi_pm_ops = {
    .name = "acpi-pm",
    .state_version = 1,
    .state_size = sizeof(AcpiPmState),
    .realize = pm_realize,
    .reset = pm_reset,
    .get_state = pm_get_state,
    .visit_state = pm_visit_state,
    .check_state = pm_check_state,
    .set_state = pm_set_state,
    .destroy = pm_destroy,
};

HgrDevice *hgr_acpi_pm_new(void)
{
    AcpiPm *pm = g_new0(AcpiPm, 1);

    hgr_device_init(&pm->dev, &acpi_pm_ops, NULL);
    g_mutex_init(&pm->lock);
    return &pm->dev;
}
