/* rtc-cmos.c — the MC146818 real-time clock and CMOS RAM.
 *
 * The guest's clock is the host's CLOCK_REALTIME plus an offset that
 * changes only when the guest sets the time (Windows keeps local time in
 * the RTC, so the offset is saved with the device). Time registers are
 * computed when read; while SET is on they are plain bytes the guest edits,
 * and clearing SET turns them back into an offset.
 *
 * Interrupt flags are evaluated lazily: every access, and the I/O thread
 * timer when there is one, catches up on the periodic ticks, second updates
 * and alarm matches since the last evaluation. The line is IRQF, which only
 * a read of register C clears, so one timer per pending interrupt is enough.
 */
#include "rtc-cmos.h"

#include <hangar/vm.h>
#include <string.h>
#include <time.h>

#include "../core/board.h"
#include "../core/irq.h"
#include "../core/memory.h"
#include "../core/pc.h"

enum {
    REG_SEC = 0x00, REG_SEC_ALARM = 0x01, REG_MIN = 0x02, REG_MIN_ALARM = 0x03,
    REG_HOUR = 0x04, REG_HOUR_ALARM = 0x05, REG_WDAY = 0x06, REG_MDAY = 0x07,
    REG_MONTH = 0x08, REG_YEAR = 0x09, REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c,
    REG_D = 0x0d, REG_CENTURY = 0x32, CMOS_SIZE = 128,
};

#define A_UIP        0x80
#define A_DV_32K     0x20
#define A_RS         0x0f

#define B_SET        0x80
#define B_PIE        0x40
#define B_AIE        0x20
#define B_UIE        0x10
#define B_DM_BINARY  0x04
#define B_24H        0x02

#define C_IRQF       0x80
#define C_PF         0x40      /* the C flags sit on the same bits as their B enables */
#define C_AF         0x20
#define C_UF         0x10

#define D_VRT        0x80
#define ALARM_ANY    0xc0

#define NS           1000000000LL
#define DAY          86400LL
#define UIP_NS       244000LL  /* UIP rises this long before each update */
#define MAX_OFFSET_NS (150LL * 366 * DAY * NS)

typedef struct {
    uint8_t cmos[CMOS_SIZE];
    uint8_t index;             /* bit 7: NMI masked */
    int64_t offset_ns;         /* guest clock minus host CLOCK_REALTIME */
    int64_t checked_ns;        /* guest time up to which the flags are evaluated */
} RtcState;

typedef struct {
    HgrDevice dev;
    HgrIoThread *iothread;
    HgrIrqLine irq;
    GMutex lock;
    RtcState s;
    bool irq_level;
    bool paused;
    guint timer_id;
    int64_t timer_due;         /* guest time the timer is set for */
} Rtc;

typedef struct {
    int year, month, mday, wday, hour, min, sec;
} CivilTime;

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static CivilTime civil_from_ns(int64_t ns)
{
    int64_t secs = floor_div(ns, NS), days = floor_div(secs, DAY), tod = secs - days * DAY;
    int64_t z = days + 719468, era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    CivilTime t;

    t.mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    t.month = (int)(mp < 10 ? mp + 3 : mp - 9);
    t.year = (int)(yoe + era * 400 + (t.month <= 2));
    t.wday = (int)((days % 7 + 11) % 7);       /* 1970-01-01 was a Thursday; 0 = Sunday */
    t.hour = (int)(tod / 3600);
    t.min = (int)(tod / 60 % 60);
    t.sec = (int)(tod % 60);
    return t;
}

static int64_t host_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static int64_t guest_ns(const Rtc *r)
{
    return host_ns() + r->s.offset_ns;
}

static uint8_t to_reg(const RtcState *s, int v)
{
    if (s->cmos[REG_B] & B_DM_BINARY)
        return (uint8_t)v;
    return (uint8_t)((v / 10) << 4 | v % 10);
}

static int from_reg(const RtcState *s, uint8_t v)
{
    if (s->cmos[REG_B] & B_DM_BINARY)
        return v;
    return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t hour_to_reg(const RtcState *s, int hour)
{
    if (s->cmos[REG_B] & B_24H)
        return to_reg(s, hour);
    int h12 = hour % 12 ? hour % 12 : 12;
    return (uint8_t)(to_reg(s, h12) | (hour >= 12 ? 0x80 : 0));
}

static int hour_from_reg(const RtcState *s, uint8_t v)
{
    if (s->cmos[REG_B] & B_24H)
        return from_reg(s, v);
    return from_reg(s, v & 0x7f) % 12 + (v & 0x80 ? 12 : 0);
}

static void latch_time(RtcState *s, int64_t now)
{
    CivilTime t = civil_from_ns(now);

    s->cmos[REG_SEC] = to_reg(s, t.sec);
    s->cmos[REG_MIN] = to_reg(s, t.min);
    s->cmos[REG_HOUR] = hour_to_reg(s, t.hour);
    s->cmos[REG_WDAY] = to_reg(s, t.wday + 1);
    s->cmos[REG_MDAY] = to_reg(s, t.mday);
    s->cmos[REG_MONTH] = to_reg(s, t.month);
    s->cmos[REG_YEAR] = to_reg(s, t.year % 100);
    s->cmos[REG_CENTURY] = to_reg(s, t.year / 100);
}

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The time the guest wrote, as a new offset. Nonsense fields are clamped:
 * a guest cannot push the clock out of range. */
static void take_time(Rtc *r, int64_t now)
{
    RtcState *s = &r->s;
    const uint8_t *c = s->cmos;
    int year = clamp(from_reg(s, c[REG_YEAR]), 0, 99);
    int century = from_reg(s, c[REG_CENTURY]);

    if (century < 19 || century > 29)
        century = year < 70 ? 20 : 19;
    int64_t days = days_from_civil(century * 100 + year, (unsigned)clamp(from_reg(s, c[REG_MONTH]), 1, 12),
                                   (unsigned)clamp(from_reg(s, c[REG_MDAY]), 1, 31));
    int64_t secs = days * DAY + clamp(hour_from_reg(s, c[REG_HOUR]), 0, 23) * 3600 +
                   clamp(from_reg(s, c[REG_MIN]), 0, 59) * 60 + clamp(from_reg(s, c[REG_SEC]), 0, 59);
    int64_t set = secs * NS + (now - floor_div(now, NS) * NS);   /* keep the sub-second phase */
    int64_t offset = set - host_ns();

    s->offset_ns = offset > MAX_OFFSET_NS ? MAX_OFFSET_NS
                 : offset < -MAX_OFFSET_NS ? -MAX_OFFSET_NS : offset;
    s->checked_ns = guest_ns(r);
}

static int64_t period_ns(unsigned rs)
{
    unsigned shift = rs <= 2 ? rs + 6 : rs - 1;    /* rates 1 and 2 alias 8 and 9 */
    return (int64_t)((NS << shift) / 32768);
}

static bool alarm_field(uint8_t alarm, uint8_t now)
{
    return (alarm & ALARM_ANY) == ALARM_ANY || alarm == now;
}

/* Did an update in (from_sec, to_sec] match the alarm? Bounded: a day of
 * seconds covers every alarm there is. */
static bool alarm_hit(const RtcState *s, int64_t from_sec, int64_t to_sec)
{
    const uint8_t *c = s->cmos;

    if (to_sec - from_sec > DAY)
        from_sec = to_sec - DAY;
    for (int64_t sec = from_sec + 1; sec <= to_sec; sec++) {
        int64_t tod = sec - floor_div(sec, DAY) * DAY;
        if (alarm_field(c[REG_SEC_ALARM], to_reg(s, (int)(tod % 60))) &&
            alarm_field(c[REG_MIN_ALARM], to_reg(s, (int)(tod / 60 % 60))) &&
            alarm_field(c[REG_HOUR_ALARM], hour_to_reg(s, (int)(tod / 3600))))
            return true;
    }
    return false;
}

static void catch_up(RtcState *s, int64_t now)
{
    uint8_t *c = s->cmos;
    int64_t from = s->checked_ns;

    if (now <= from)
        return;
    s->checked_ns = now;
    if (!(c[REG_B] & B_SET)) {
        int64_t s0 = floor_div(from, NS), s1 = floor_div(now, NS);
        if (s1 > s0) {
            c[REG_C] |= C_UF;
            if (alarm_hit(s, s0, s1))
                c[REG_C] |= C_AF;
        }
    }
    unsigned rs = c[REG_A] & A_RS;
    if (rs && floor_div(now, period_ns(rs)) > floor_div(from, period_ns(rs)))
        c[REG_C] |= C_PF;
    if (c[REG_C] & c[REG_B] & (C_PF | C_AF | C_UF))
        c[REG_C] |= C_IRQF;
}

static void update_irq(Rtc *r)
{
    bool level = r->s.cmos[REG_C] & C_IRQF;

    if (level != r->irq_level) {
        r->irq_level = level;
        hgr_irq_set(&r->irq, level);
    }
}

/* When the next enabled interrupt is due, or -1: once IRQF is up nothing new
 * can be signalled until register C is read. */
static int64_t next_event(const RtcState *s, int64_t now)
{
    const uint8_t *c = s->cmos;
    int64_t next = -1;

    if (c[REG_C] & C_IRQF)
        return -1;
    if ((c[REG_B] & B_PIE) && (c[REG_A] & A_RS)) {
        int64_t p = period_ns(c[REG_A] & A_RS);
        next = (floor_div(now, p) + 1) * p;
    }
    if ((c[REG_B] & (B_AIE | B_UIE)) && !(c[REG_B] & B_SET)) {
        int64_t sec = (floor_div(now, NS) + 1) * NS;
        if (next < 0 || sec < next)
            next = sec;
    }
    return next;
}

static gboolean rtc_timer(gpointer data);

static void cancel_timer(Rtc *r)
{
    if (r->timer_id) {
        hgr_iothread_remove(r->iothread, r->timer_id);
        r->timer_id = 0;
    }
}

static void reschedule(Rtc *r)
{
    if (!r->iothread || r->paused)
        return;
    int64_t now = guest_ns(r), next = next_event(&r->s, now);
    if (r->timer_id && next == r->timer_due)
        return;                            /* a clock read every few µs must stay cheap */
    cancel_timer(r);
    if (next < 0)
        return;
    r->timer_due = next;
    int64_t ms = (next - now + 999999) / 1000000;
    r->timer_id = hgr_iothread_add_timeout(r->iothread, (guint)CLAMP(ms, 1, 1000), rtc_timer, r);
}

static gboolean rtc_timer(gpointer data)
{
    Rtc *r = data;
    guint me = g_source_get_id(g_main_current_source());

    g_mutex_lock(&r->lock);
    if (me == r->timer_id) {               /* else a vCPU replaced this timer meanwhile */
        r->timer_id = 0;
        catch_up(&r->s, guest_ns(r));
        update_irq(r);
        reschedule(r);
    }
    g_mutex_unlock(&r->lock);
    return G_SOURCE_REMOVE;
}

/* The registers that show the running clock (not the alarm ones). */
static bool is_clock_reg(unsigned idx)
{
    return idx == REG_SEC || idx == REG_MIN || idx == REG_HOUR ||
           (idx >= REG_WDAY && idx <= REG_YEAR) || idx == REG_CENTURY;
}

static uint8_t rtc_read(Rtc *r, unsigned idx, int64_t now)
{
    RtcState *s = &r->s;
    uint8_t v;

    if (is_clock_reg(idx) && !(s->cmos[REG_B] & B_SET))
        latch_time(s, now);
    switch (idx) {
    case REG_A:
        v = s->cmos[REG_A] & ~A_UIP;
        if (!(s->cmos[REG_B] & B_SET) && now - floor_div(now, NS) * NS >= NS - UIP_NS)
            v |= A_UIP;
        return v;
    case REG_C:
        v = s->cmos[REG_C];
        s->cmos[REG_C] = 0;
        return v;
    case REG_D:
        return D_VRT;
    default:
        return s->cmos[idx];
    }
}

static void rtc_write(Rtc *r, unsigned idx, uint8_t v, int64_t now)
{
    RtcState *s = &r->s;
    uint8_t *c = s->cmos;

    switch (idx) {
    case REG_A:
        c[REG_A] = v & ~A_UIP;
        break;
    case REG_B: {
        uint8_t old = c[REG_B];
        /* Both directions use the format of this write: it is the one the
         * guest goes on to read or write the time in. */
        c[REG_B] = v;
        if ((v & B_SET) && !(old & B_SET)) {
            latch_time(s, now);
            c[REG_B] &= ~B_UIE;            /* setting SET clears UIE */
        }
        if (!(v & B_SET) && (old & B_SET))
            take_time(r, now);
        if (c[REG_C] & c[REG_B] & (C_PF | C_AF | C_UF))
            c[REG_C] |= C_IRQF;
        break;
    }
    case REG_C:
    case REG_D:
        break;                             /* read-only */
    default:
        if (is_clock_reg(idx) && !(c[REG_B] & B_SET)) {
            /* Setting one field without SET: it sticks from now on. */
            latch_time(s, now);
            c[idx] = v;
            take_time(r, now);
        } else {
            c[idx] = v;
        }
        break;
    }
}

static void rtc_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
    Rtc *r = opaque;

    g_mutex_lock(&r->lock);
    if (offset == 0) {
        if (is_write)
            r->s.index = data[0];
        else
            data[0] = 0xff;                /* the index port is write-only */
    } else {
        unsigned idx = r->s.index & 0x7f;
        int64_t now = guest_ns(r);
        catch_up(&r->s, now);
        if (is_write)
            rtc_write(r, idx, data[0], now);
        else
            data[0] = rtc_read(r, idx, now);
        update_irq(r);
        reschedule(r);
    }
    g_mutex_unlock(&r->lock);
    for (unsigned i = 1; i < len && !is_write; i++)
        data[i] = 0xff;
}

static void store_memory_size(RtcState *s, uint64_t ram_size)
{
    const uint64_t mib = 1 << 20;
    uint64_t low = MIN(ram_size, HGR_LOWMEM_LIMIT), high = ram_size - low;
    uint64_t ext_kib = low > mib ? (MIN(low, 16 * mib) - mib) >> 10 : 0;
    uint64_t ext2 = low > 16 * mib ? MIN((low - 16 * mib) >> 16, 0xffff) : 0;
    uint64_t over4g = MIN(high >> 16, 0xffffff);
    uint8_t *c = s->cmos;

    c[0x15] = 0x80;                        /* 640 KiB of base memory */
    c[0x16] = 0x02;
    c[0x17] = c[0x30] = (uint8_t)ext_kib;
    c[0x18] = c[0x31] = (uint8_t)(ext_kib >> 8);
    c[0x34] = (uint8_t)ext2;
    c[0x35] = (uint8_t)(ext2 >> 8);
    c[0x5b] = (uint8_t)over4g;
    c[0x5c] = (uint8_t)(over4g >> 8);
    c[0x5d] = (uint8_t)(over4g >> 16);
}

static bool rtc_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    Rtc *r = (Rtc *)dev;

    if (!hgr_io_bus_register(board->pio, HGR_PC_RTC_PORT, 2, rtc_io, r, dev->id)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: ports 0x%x-0x%x are already taken", dev->id, HGR_PC_RTC_PORT,
                    HGR_PC_RTC_PORT + 1);
        return false;
    }
    r->irq = (HgrIrqLine){ board->irqchip, HGR_PC_RTC_IRQ };
    r->iothread = board->iothread;
    return true;
}

/* The RESET pin clears the interrupt enables and flags; CMOS RAM and the
 * clock are battery-backed and stay. */
static void rtc_reset(HgrDevice *dev)
{
    Rtc *r = (Rtc *)dev;

    g_mutex_lock(&r->lock);
    r->s.cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | 0x08);
    r->s.cmos[REG_C] = 0;
    r->s.checked_ns = guest_ns(r);
    update_irq(r);
    reschedule(r);
    g_mutex_unlock(&r->lock);
}

static gboolean stop_timer(gpointer data)
{
    Rtc *r = data;

    g_mutex_lock(&r->lock);
    r->paused = true;
    cancel_timer(r);
    g_mutex_unlock(&r->lock);
    return G_SOURCE_REMOVE;
}

/* On the I/O thread itself, so no timer callback is half-way through after. */
static void rtc_pause(HgrDevice *dev)
{
    Rtc *r = (Rtc *)dev;

    if (r->iothread)
        hgr_iothread_call(r->iothread, stop_timer, r);
}

static void rtc_resume(HgrDevice *dev)
{
    Rtc *r = (Rtc *)dev;

    g_mutex_lock(&r->lock);
    r->paused = false;
    reschedule(r);
    g_mutex_unlock(&r->lock);
}

static void rtc_get_state(HgrDevice *dev, void *state)
{
    Rtc *r = (Rtc *)dev;

    g_mutex_lock(&r->lock);
    memcpy(state, &r->s, sizeof(r->s));
    g_mutex_unlock(&r->lock);
}

static void rtc_visit_state(HgrVisitor *v, void *state)
{
    RtcState *s = state;
    uint64_t offset = (uint64_t)s->offset_ns, checked = (uint64_t)s->checked_ns;

    hgr_visit_bytes(v, s->cmos, sizeof(s->cmos));
    hgr_visit_u8(v, &s->index);
    hgr_visit_u64(v, &offset);
    hgr_visit_u64(v, &checked);
    s->offset_ns = (int64_t)offset;
    s->checked_ns = (int64_t)checked;
}

static bool rtc_check_state(HgrDevice *dev, const void *state, GError **error)
{
    const RtcState *s = state;

    if (s->offset_ns > MAX_OFFSET_NS || s->offset_ns < -MAX_OFFSET_NS) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "saved state of %s: clock offset out of range", dev->id);
        return false;
    }
    return true;
}

static void rtc_set_state(HgrDevice *dev, const void *state)
{
    Rtc *r = (Rtc *)dev;

    g_mutex_lock(&r->lock);
    memcpy(&r->s, state, sizeof(r->s));
    update_irq(r);
    reschedule(r);
    g_mutex_unlock(&r->lock);
}

static void rtc_destroy(HgrDevice *dev)
{
    Rtc *r = (Rtc *)dev;

    rtc_pause(dev);
    g_mutex_clear(&r->lock);
    g_free(r);
}

static const HgrDeviceOps rtc_cmos_ops = {
    .name = "rtc-cmos",
    .state_version = 1,
    .state_size = sizeof(RtcState),
    .realize = rtc_realize,
    .reset = rtc_reset,
    .pause = rtc_pause,
    .resume = rtc_resume,
    .get_state = rtc_get_state,
    .visit_state = rtc_visit_state,
    .check_state = rtc_check_state,
    .set_state = rtc_set_state,
    .destroy = rtc_destroy,
};

HgrDevice *hgr_rtc_cmos_new(uint64_t ram_size)
{
    Rtc *r = g_new0(Rtc, 1);
    RtcState *s = &r->s;

    hgr_device_init(&r->dev, &rtc_cmos_ops, NULL);
    g_mutex_init(&r->lock);
    s->cmos[REG_A] = A_DV_32K | 0x06;      /* 32.768 kHz, 1024 Hz periodic rate */
    s->cmos[REG_B] = B_24H;
    s->cmos[REG_D] = D_VRT;
    store_memory_size(s, ram_size);
    s->checked_ns = guest_ns(r);
    latch_time(s, s->checked_ns);
    return &r->dev;
}
