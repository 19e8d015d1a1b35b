/* serial-8250.c — a 16550A UART, the user's serial console.
 *
 * Transmission is instant: a byte written to THR goes to the chardev and THR
 * is empty again at once, so the TX FIFO never holds anything. The RX FIFO
 * holds what the chardev delivered until the guest reads it; the chardev is
 * only offered as many bytes as there is room for, so typed or pasted input
 * is never lost. Overrun therefore only happens in loopback, as on hardware.
 *
 * The vCPU thread (port access) and the I/O thread (input) both touch the
 * registers: one mutex. The chardev is told about new room only after the
 * mutex is dropped, since it may call straight back into can_receive.
 */
#include "serial-8250.h"

#include <hangar/vm.h>
#include <string.h>

#include "../core/board.h"
#include "../core/irq.h"

enum { REG_RBR_THR, REG_IER, REG_IIR_FCR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR, N_REGS };

#define IER_RDI    0x01
#define IER_THRI   0x02
#define IER_RLSI   0x04
#define IER_MSI    0x08

#define IIR_MSI    0x00
#define IIR_NONE   0x01
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_RLSI   0x06
#define IIR_RX_TIMEOUT 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_DMA      0x08
#define FCR_TRIGGER  0xc0
#define FCR_STORED   (FCR_ENABLE | FCR_DMA | FCR_TRIGGER)

#define LCR_DLAB   0x80

#define MCR_DTR    0x01
#define MCR_RTS    0x02
#define MCR_OUT1   0x04
#define MCR_OUT2   0x08
#define MCR_LOOP   0x10
#define MCR_MASK   0x1f

#define LSR_DR     0x01
#define LSR_OE     0x02
#define LSR_PE     0x04
#define LSR_FE     0x08
#define LSR_BI     0x10
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS   0x01
#define MSR_DDSR   0x02
#define MSR_TERI   0x04
#define MSR_DDCD   0x08
#define MSR_CTS    0x10
#define MSR_DSR    0x20
#define MSR_RI     0x40
#define MSR_DCD    0x80
#define MSR_DELTAS 0x0f

#define FIFO_SIZE  16

/* The live registers are this plain struct, so saving is a copy. */
typedef struct {
    uint16_t divisor;
    uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
    bool thr_ipending;          /* THRE interrupt armed, not yet taken by an IIR read */
    uint8_t rx_count;
    uint8_t rx[FIFO_SIZE];      /* oldest first */
} Serial8250State;

typedef struct {
    HgrDevice dev;
    uint16_t base;
    HgrIrqLine irq;
    HgrChardev *chr;
    GMutex lock;
    Serial8250State s;
    bool irq_level;             /* what the line was last set to */
    bool rx_starved;            /* can_receive said 0: tell the chardev about room */
} Serial8250;

static const uint8_t trigger_levels[4] = { 1, 4, 8, 14 };

static bool fifo_on(const Serial8250State *s)
{
    return s->fcr & FCR_ENABLE;
}

static unsigned rx_capacity(const Serial8250State *s)
{
    return fifo_on(s) ? FIFO_SIZE : 1;
}

/* The modem lines as the guest sees them: its own outputs in loopback, and
 * otherwise a peer that is always there and ready. */
static uint8_t modem_inputs(uint8_t mcr)
{
    if (!(mcr & MCR_LOOP))
        return MSR_CTS | MSR_DSR | MSR_DCD;
    return (mcr & MCR_RTS ? MSR_CTS : 0) | (mcr & MCR_DTR ? MSR_DSR : 0) |
           (mcr & MCR_OUT1 ? MSR_RI : 0) | (mcr & MCR_OUT2 ? MSR_DCD : 0);
}

static uint8_t pending_iir(const Serial8250State *s)
{
    if ((s->ier & IER_RLSI) && (s->lsr & LSR_ERRORS))
        return IIR_RLSI;
    if ((s->ier & IER_RDI) && s->rx_count > 0) {
        /* No character timer: data below the trigger level reports the
         * timeout at once, which is what the timer would do a few
         * character times later. */
        if (fifo_on(s) && s->rx_count < trigger_levels[s->fcr >> 6])
            return IIR_RX_TIMEOUT;
        return IIR_RDI;
    }
    if ((s->ier & IER_THRI) && s->thr_ipending)
        return IIR_THRI;
    if ((s->ier & IER_MSI) && (s->msr & MSR_DELTAS))
        return IIR_MSI;
    return IIR_NONE;
}

static void update_irq(Serial8250 *u)
{
    bool level = pending_iir(&u->s) != IIR_NONE && (u->s.mcr & MCR_OUT2);

    if (level != u->irq_level) {
        u->irq_level = level;
        hgr_irq_set(&u->irq, level);
    }
}

static void rx_push(Serial8250State *s, uint8_t b)
{
    if (s->rx_count >= rx_capacity(s)) {
        s->lsr |= LSR_OE;
        if (!fifo_on(s))
            s->rx[0] = b;      /* the holding register is overwritten */
        return;
    }
    s->rx[s->rx_count++] = b;
    s->lsr |= LSR_DR;
}

static uint8_t rx_pop(Serial8250State *s)
{
    if (s->rx_count == 0)
        return 0;
    uint8_t b = s->rx[0];
    s->rx_count--;
    memmove(s->rx, s->rx + 1, s->rx_count);
    if (s->rx_count == 0)
        s->lsr &= ~LSR_DR;
    return b;
}

static size_t rx_room(const Serial8250State *s)
{
    if (s->mcr & MCR_LOOP)
        return 0;              /* the receiver listens to the transmitter */
    return rx_capacity(s) - MIN(s->rx_count, rx_capacity(s));
}

/* True when the chardev was turned away and may deliver again. */
static bool take_room(Serial8250 *u)
{
    if (!u->rx_starved || rx_room(&u->s) == 0)
        return false;
    u->rx_starved = false;
    return true;
}

/* Ends every change: the line follows the registers, then the lock is
 * dropped before the chardev hears about new room (it may call back). */
static void finish_and_unlock(Serial8250 *u)
{
    update_irq(u);
    bool kick = take_room(u);
    g_mutex_unlock(&u->lock);
    if (kick && u->chr)
        hgr_chardev_accept_input(u->chr);
}

static void set_mcr(Serial8250State *s, uint8_t v)
{
    uint8_t old = modem_inputs(s->mcr), now = modem_inputs(v & MCR_MASK);
    uint8_t delta = 0, changed = old ^ now;

    if (changed & MSR_CTS)
        delta |= MSR_DCTS;
    if (changed & MSR_DSR)
        delta |= MSR_DDSR;
    if (changed & MSR_DCD)
        delta |= MSR_DDCD;
    if ((old & MSR_RI) && !(now & MSR_RI))
        delta |= MSR_TERI;
    s->mcr = v & MCR_MASK;
    s->msr = now | (s->msr & MSR_DELTAS) | delta;
}

static void set_ier(Serial8250State *s, uint8_t v)
{
    uint8_t changed = s->ier ^ v;

    s->ier = v & 0x0f;
    /* Enabling THRI while THR is empty raises THRE again even after an IIR
     * read took it: Linux's THRE test and Windows' serial driver count on it. */
    if (changed & IER_THRI)
        s->thr_ipending = (s->ier & IER_THRI) && (s->lsr & LSR_THRE);
}

static void set_fcr(Serial8250State *s, uint8_t v)
{
    if ((v ^ s->fcr) & FCR_ENABLE)
        v |= FCR_CLEAR_RX | FCR_CLEAR_TX;
    if (v & FCR_CLEAR_RX) {
        s->rx_count = 0;
        s->lsr &= ~(LSR_DR | LSR_BI);
    }
    if (v & FCR_CLEAR_TX)
        s->lsr |= LSR_THRE | LSR_TEMT;
    /* The other bits are only programmed together with the enable bit. */
    s->fcr = (v & FCR_ENABLE) ? (v & FCR_STORED) : 0;
}

static void transmit(Serial8250 *u, uint8_t b)
{
    Serial8250State *s = &u->s;

    s->thr_ipending = false;
    s->lsr &= ~(LSR_THRE | LSR_TEMT);
    update_irq(u);             /* each byte re-arms THRE: give the PIC an edge */
    if (s->mcr & MCR_LOOP)
        rx_push(s, b);
    else if (u->chr)
        hgr_chardev_write(u->chr, &b, 1);
    s->lsr |= LSR_THRE | LSR_TEMT;
    s->thr_ipending = true;
}

static void reg_write(Serial8250 *u, unsigned reg, uint8_t v)
{
    Serial8250State *s = &u->s;
    bool dlab = s->lcr & LCR_DLAB;

    switch (reg) {
    case REG_RBR_THR:
        if (dlab)
            s->divisor = (s->divisor & 0xff00) | v;
        else
            transmit(u, v);
        break;
    case REG_IER:
        if (dlab)
            s->divisor = (uint16_t)((s->divisor & 0x00ff) | v << 8);
        else
            set_ier(s, v);
        break;
    case REG_IIR_FCR:
        set_fcr(s, v);
        break;
    case REG_LCR:
        s->lcr = v;
        break;
    case REG_MCR:
        set_mcr(s, v);
        break;
    case REG_SCR:
        s->scr = v;
        break;
    default:                   /* LSR and MSR writes are factory tests */
        break;
    }
}

static uint8_t reg_read(Serial8250 *u, unsigned reg)
{
    Serial8250State *s = &u->s;
    bool dlab = s->lcr & LCR_DLAB;
    uint8_t v;

    switch (reg) {
    case REG_RBR_THR:
        return dlab ? (uint8_t)s->divisor : rx_pop(s);
    case REG_IER:
        return dlab ? (uint8_t)(s->divisor >> 8) : s->ier;
    case REG_IIR_FCR:
        v = pending_iir(s);
        if (v == IIR_THRI)
            s->thr_ipending = false;
        return v | (fifo_on(s) ? IIR_FIFO_ON : 0);
    case REG_LCR:
        return s->lcr;
    case REG_MCR:
        return s->mcr;
    case REG_LSR:
        v = s->lsr;
        s->lsr &= ~LSR_ERRORS;
        return v;
    case REG_MSR:
        v = s->msr;
        s->msr &= ~MSR_DELTAS;
        return v;
    default:
        return s->scr;
    }
}

static void serial_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
    Serial8250 *u = opaque;

    g_mutex_lock(&u->lock);
    /* A wider access reaches consecutive byte registers, as on the ISA bus. */
    for (unsigned i = 0; i < len; i++) {
        uint64_t reg = offset + i;
        if (reg >= N_REGS) {
            if (!is_write)
                data[i] = 0xff;
        } else if (is_write) {
            reg_write(u, (unsigned)reg, data[i]);
        } else {
            data[i] = reg_read(u, (unsigned)reg);
        }
    }
    finish_and_unlock(u);
}

static size_t serial_can_receive(void *opaque)
{
    Serial8250 *u = opaque;

    g_mutex_lock(&u->lock);
    size_t room = rx_room(&u->s);
    if (room == 0)
        u->rx_starved = true;
    g_mutex_unlock(&u->lock);
    return room;
}

static void serial_receive(void *opaque, const uint8_t *buf, size_t len)
{
    Serial8250 *u = opaque;

    g_mutex_lock(&u->lock);
    for (size_t i = 0; i < len; i++)
        rx_push(&u->s, buf[i]);
    update_irq(u);
    g_mutex_unlock(&u->lock);
}

static void serial_reset_state(Serial8250State *s)
{
    memset(s, 0, sizeof(*s));
    s->divisor = 12;           /* 9600 baud, what firmware usually leaves */
    s->lsr = LSR_THRE | LSR_TEMT;
    s->msr = modem_inputs(0);
}

static void serial_reset(HgrDevice *dev)
{
    Serial8250 *u = (Serial8250 *)dev;

    g_mutex_lock(&u->lock);
    serial_reset_state(&u->s);
    finish_and_unlock(u);
}

static bool serial_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    Serial8250 *u = (Serial8250 *)dev;

    if (u->irq.gsi >= 24) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: IRQ %u does not exist", dev->id, u->irq.gsi);
        return false;
    }
    if (!hgr_io_bus_register(board->pio, u->base, N_REGS, serial_io, u, dev->id)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: ports 0x%x-0x%x are already taken", dev->id, u->base,
                    u->base + N_REGS - 1);
        return false;
    }
    u->irq.chip = board->irqchip;
    if (u->chr)
        hgr_chardev_set_receiver(u->chr, serial_can_receive, serial_receive, u);
    return true;
}

static void serial_get_state(HgrDevice *dev, void *state)
{
    Serial8250 *u = (Serial8250 *)dev;

    g_mutex_lock(&u->lock);
    memcpy(state, &u->s, sizeof(u->s));
    g_mutex_unlock(&u->lock);
}

static void serial_visit_state(HgrVisitor *v, void *state)
{
    Serial8250State *s = state;

    hgr_visit_u16(v, &s->divisor);
    hgr_visit_u8(v, &s->ier);
    hgr_visit_u8(v, &s->lcr);
    hgr_visit_u8(v, &s->mcr);
    hgr_visit_u8(v, &s->lsr);
    hgr_visit_u8(v, &s->msr);
    hgr_visit_u8(v, &s->scr);
    hgr_visit_u8(v, &s->fcr);
    hgr_visit_bool(v, &s->thr_ipending);
    hgr_visit_u8(v, &s->rx_count);
    hgr_visit_bytes(v, s->rx, sizeof(s->rx));
}

static bool serial_check_state(HgrDevice *dev, const void *state, GError **error)
{
    const Serial8250State *s = state;
    const char *why = NULL;

    if (s->rx_count > rx_capacity(s))
        why = "more received bytes than the FIFO holds";
    else if ((s->ier & 0xf0) || (s->mcr & ~MCR_MASK) || (s->fcr & ~FCR_STORED) ||
             (s->fcr && !(s->fcr & FCR_ENABLE)))
        why = "reserved register bits set";
    else if (!(s->lsr & LSR_DR) != (s->rx_count == 0) ||
             (s->lsr & (LSR_THRE | LSR_TEMT)) != (LSR_THRE | LSR_TEMT))
        why = "line status does not match the FIFOs";
    else if ((s->msr & ~MSR_DELTAS) != modem_inputs(s->mcr))
        why = "modem status does not match the modem control";
    if (why) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE, "saved state of %s: %s",
                    dev->id, why);
        return false;
    }
    return true;
}

static void serial_set_state(HgrDevice *dev, const void *state)
{
    Serial8250 *u = (Serial8250 *)dev;

    g_mutex_lock(&u->lock);
    memcpy(&u->s, state, sizeof(u->s));
    finish_and_unlock(u);
}

static void serial_destroy(HgrDevice *dev)
{
    Serial8250 *u = (Serial8250 *)dev;

    if (u->chr)
        hgr_chardev_set_receiver(u->chr, NULL, NULL, NULL);
    g_mutex_clear(&u->lock);
    g_free(u);
}

static const HgrDeviceOps serial_8250_ops = {
    .name = "serial-8250",
    .state_version = 1,
    .state_size = sizeof(Serial8250State),
    .realize = serial_realize,
    .reset = serial_reset,
    .get_state = serial_get_state,
    .visit_state = serial_visit_state,
    .check_state = serial_check_state,
    .set_state = serial_set_state,
    .destroy = serial_destroy,
};

HgrDevice *hgr_serial_8250_new(const char *id, uint16_t base, unsigned irq, HgrChardev *chr)
{
    Serial8250 *u = g_new0(Serial8250, 1);

    hgr_device_init(&u->dev, &serial_8250_ops, id);
    g_mutex_init(&u->lock);
    u->base = base;
    u->irq.gsi = irq;
    u->chr = chr;
    serial_reset_state(&u->s);
    return &u->dev;
}
