/* i8042.c — the PC keyboard controller, with a minimal keyboard and mouse.
 *
 * The controller has one output buffer at port 0x60, filled from three
 * sources in order: its own replies, the keyboard, the mouse (AUX). Each
 * device has its own small queue, and a disabled port keeps its bytes until
 * it is enabled again, as a device whose clock is held does.
 *
 * Keystrokes and mouse motion come from a frontend thread through
 * hgr_i8042_key()/hgr_i8042_pointer() under the device lock. The keyboard
 * speaks scan code set 2; with translation on (CTR bit 6, what Linux and
 * Windows use) the controller turns it into set 1, which for every key is
 * exactly the set 1 sequence, so keys are encoded in set 1 directly then.
 * Command replies are not translated (atkbd accepts either form of the ID).
 * The mouse sends stream packets only once the guest enabled reporting,
 * 4 bytes with a wheel after the IntelliMouse knock (rates 200, 100, 80).
 *
 * The output buffer drives IRQ 1 or 12 as a level; reading it drops the
 * line before the next byte raises it, so an edge-triggered PIC sees one
 * edge per byte, which is how Linux takes one byte per interrupt.
 */
#include "i8042.h"

#include <hangar/input.h>

#include <hangar/vm.h>
#include <string.h>

#include "../core/board.h"
#include "../core/irq.h"
#include "../core/pc.h"
#include "ps2-keymap.h"

#define STAT_OBF      0x01
#define STAT_SYS      0x04
#define STAT_CMD      0x08      /* last write went to the command port */
#define STAT_UNLOCKED 0x10
#define STAT_AUX_OBF  0x20

#define CTR_KBDINT    0x01
#define CTR_AUXINT    0x02
#define CTR_SYS       0x04
#define CTR_KBDDIS    0x10
#define CTR_AUXDIS    0x20
#define CTR_XLATE     0x40

#define OUT_RESET     0x01      /* low holds the CPU in reset */
#define OUT_A20       0x02
#define OUT_KBD_OBF   0x10
#define OUT_AUX_OBF   0x20

#define ACK           0xfa
#define RESEND        0xfe
#define BAT_OK        0xaa
#define QUEUE_SIZE    16
#define AUX_ID_WHEEL  3
#define AUX_ACC_MAX   4096      /* motion kept while the queue is full */

typedef struct {
    uint8_t n;
    uint8_t b[QUEUE_SIZE];      /* oldest first */
} ByteQueue;

typedef struct {
    uint8_t status, outport, obuf;
    uint8_t ram[32];            /* ram[0] is the command byte (CTR) */
    uint8_t pending;            /* controller command waiting for its data byte, or 0 */
    uint8_t reply;              /* the controller's own reply, when has_reply */
    bool has_reply, reply_aux;
    ByteQueue kbd, aux;
    uint8_t kbd_arg;            /* keyboard command waiting for its argument, or 0 */
    uint8_t kbd_scanset;
    bool kbd_enabled;
    uint8_t aux_arg;
    uint8_t aux_rate, aux_resolution;
    bool aux_enabled, aux_scale21;
    uint8_t aux_id;             /* 0 plain, 3 IntelliMouse */
    uint8_t aux_knock[2];       /* the last two sample rates set */
    uint8_t aux_buttons;
    bool aux_pending;           /* a packet is owed */
    int32_t aux_dx, aux_dy, aux_dz; /* PS/2 directions: up and toward the user positive */
} I8042State;

typedef struct {
    HgrDevice dev;
    const HgrBoard *board;
    HgrIrqLine kbd_irq, aux_irq;
    GMutex lock;
    I8042State s;
    bool kbd_level, aux_level;
} I8042;

static void queue_push(ByteQueue *q, uint8_t b)
{
    if (q->n < QUEUE_SIZE)
        q->b[q->n++] = b;       /* a full device buffer drops, as hardware does */
}

static uint8_t queue_pop(ByteQueue *q)
{
    uint8_t b = q->b[0];
    q->n--;
    memmove(q->b, q->b + 1, q->n);
    return b;
}

static void update_irqs(I8042 *k)
{
    const I8042State *s = &k->s;
    bool full = s->status & STAT_OBF, aux = s->status & STAT_AUX_OBF;
    bool kbd_level = full && !aux && (s->ram[0] & CTR_KBDINT);
    bool aux_level = full && aux && (s->ram[0] & CTR_AUXINT);

    if (kbd_level != k->kbd_level) {
        k->kbd_level = kbd_level;
        hgr_irq_set(&k->kbd_irq, kbd_level);
    }
    if (aux_level != k->aux_level) {
        k->aux_level = aux_level;
        hgr_irq_set(&k->aux_irq, aux_level);
    }
}

static void load_obuf(I8042State *s, uint8_t b, bool aux)
{
    s->obuf = b;
    s->status = (uint8_t)((s->status & ~STAT_AUX_OBF) | STAT_OBF | (aux ? STAT_AUX_OBF : 0));
}

static void refill(I8042State *s)
{
    if (s->status & STAT_OBF)
        return;
    if (s->has_reply) {
        s->has_reply = false;
        load_obuf(s, s->reply, s->reply_aux);
    } else if (s->kbd.n && !(s->ram[0] & CTR_KBDDIS)) {
        load_obuf(s, queue_pop(&s->kbd), false);
    } else if (s->aux.n && !(s->ram[0] & CTR_AUXDIS)) {
        load_obuf(s, queue_pop(&s->aux), true);
    }
}

static void reply(I8042State *s, uint8_t b, bool aux)
{
    s->reply = b;
    s->reply_aux = aux;
    s->has_reply = true;
}

static void kbd_defaults(I8042State *s)
{
    s->kbd_scanset = 2;
    s->kbd_arg = 0;
}

static void kbd_command(I8042State *s, uint8_t b)
{
    ByteQueue *q = &s->kbd;
    uint8_t arg_of = s->kbd_arg;

    s->kbd_arg = 0;
    if (arg_of == 0xf0 && b == 0) {            /* which scancode set? */
        queue_push(q, ACK);
        queue_push(q, s->kbd_scanset);
        return;
    }
    if (arg_of) {
        if (arg_of == 0xf0 && b <= 3)
            s->kbd_scanset = b;
        queue_push(q, ACK);
        return;
    }
    switch (b) {
    case 0xed:                                 /* LEDs */
    case 0xf0:                                 /* scancode set */
    case 0xf3:                                 /* typematic rate */
        s->kbd_arg = b;
        queue_push(q, ACK);
        break;
    case 0xee:                                 /* echo */
        queue_push(q, 0xee);
        break;
    case 0xf2:                                 /* identify: MF2 keyboard */
        queue_push(q, ACK);
        queue_push(q, 0xab);
        queue_push(q, 0x83);
        break;
    case 0xf4:
    case 0xf5:
        s->kbd_enabled = b == 0xf4;
        if (!s->kbd_enabled)
            kbd_defaults(s);
        queue_push(q, ACK);
        break;
    case 0xff:                                 /* reset: self-test passed */
        q->n = 0;
        kbd_defaults(s);
        s->kbd_enabled = true;
        queue_push(q, ACK);
        queue_push(q, BAT_OK);
        break;
    default:
        queue_push(q, ACK);
        break;
    }
}

static void aux_defaults(I8042State *s)
{
    s->aux_rate = 100;
    s->aux_resolution = 2;
    s->aux_scale21 = false;
    s->aux_enabled = false;
    s->aux_arg = 0;
    s->aux_pending = false;
    s->aux_dx = s->aux_dy = s->aux_dz = 0;
}

static void aux_command(I8042State *s, uint8_t b)
{
    ByteQueue *q = &s->aux;

    if (s->aux_arg) {
        if (s->aux_arg == 0xf3) {
            s->aux_rate = b;
            if (s->aux_knock[0] == 200 && s->aux_knock[1] == 100 && b == 80)
                s->aux_id = AUX_ID_WHEEL;
            s->aux_knock[0] = s->aux_knock[1];
            s->aux_knock[1] = b;
        } else
            s->aux_resolution = b & 3;
        s->aux_arg = 0;
        queue_push(q, ACK);
        return;
    }
    switch (b) {
    case 0xe6:
    case 0xe7:
        s->aux_scale21 = b == 0xe7;
        queue_push(q, ACK);
        break;
    case 0xe8:                                 /* resolution */
    case 0xf3:                                 /* sample rate */
        s->aux_arg = b;
        queue_push(q, ACK);
        break;
    case 0xe9:                                 /* status request */
        queue_push(q, ACK);
        queue_push(q, (uint8_t)((s->aux_enabled ? 0x20 : 0) | (s->aux_scale21 ? 0x10 : 0)));
        queue_push(q, s->aux_resolution);
        queue_push(q, s->aux_rate);
        break;
    case 0xeb:                                 /* read data: no movement */
        queue_push(q, ACK);
        queue_push(q, 0x08);
        queue_push(q, 0);
        queue_push(q, 0);
        break;
    case 0xf2:                                 /* identify */
        queue_push(q, ACK);
        queue_push(q, s->aux_id);
        break;
    case 0xf4:
        s->aux_enabled = true;
        queue_push(q, ACK);
        break;
    case 0xf5:
    case 0xf6:
        aux_defaults(s);
        queue_push(q, ACK);
        break;
    case 0xff:
        q->n = 0;
        aux_defaults(s);
        s->aux_id = 0;
        memset(s->aux_knock, 0, sizeof(s->aux_knock));
        queue_push(q, ACK);
        queue_push(q, BAT_OK);
        queue_push(q, 0x00);
        break;
    case 0xea: case 0xec: case 0xee: case 0xf0:   /* modes we need not model */
        queue_push(q, ACK);
        break;
    default:
        queue_push(q, RESEND);
        break;
    }
}

/* A key's whole sequence or nothing; the last free byte is kept for the
 * overflow code, which a keyboard sends in place of what it had to drop. */
static void kbd_key(I8042State *s, unsigned code, bool down)
{
    uint8_t seq[HGR_PS2_SEQ_MAX];
    ByteQueue *q = &s->kbd;
    unsigned set = (s->ram[0] & CTR_XLATE) ? 1 : s->kbd_scanset;
    unsigned n;

    if (!s->kbd_enabled || s->kbd_arg)
        return;
    n = hgr_ps2_keymap_encode(code, down, set, seq);
    if (!n)
        return;
    if (q->n + n < QUEUE_SIZE) {
        for (unsigned i = 0; i < n; i++)
            queue_push(q, seq[i]);
    } else if (q->n < QUEUE_SIZE) {
        queue_push(q, set == 1 ? 0xff : 0x00);
    }
}

static int32_t clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Both sides bounded first: a frontend may pass any int. */
static int32_t acc_add(int32_t acc, int v)
{
    return clamp(acc + clamp(v, -AUX_ACC_MAX, AUX_ACC_MAX), -AUX_ACC_MAX, AUX_ACC_MAX);
}

/* Stream packets for what the mouse owes, while they fit in its queue. A
 * move too big for 9 bits is sent clamped with its overflow bit, as a
 * mouse does; wheel notches beyond one packet's -8..7 carry over. */
static void aux_flush(I8042State *s)
{
    unsigned size = s->aux_id == AUX_ID_WHEEL ? 4 : 3;

    for (unsigned i = 0; i < QUEUE_SIZE / 3 && s->aux_pending; i++) {
        if (!s->aux_enabled || s->aux_arg || s->aux.n + size > QUEUE_SIZE)
            return;
        int32_t dx = clamp(s->aux_dx, -256, 255), dy = clamp(s->aux_dy, -256, 255);
        int32_t dz = clamp(s->aux_dz, -8, 7);
        uint8_t b0 = (uint8_t)(0x08 | (s->aux_buttons & 7));

        b0 |= (dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0);
        b0 |= (dx != s->aux_dx ? 0x40 : 0) | (dy != s->aux_dy ? 0x80 : 0);
        queue_push(&s->aux, b0);
        queue_push(&s->aux, (uint8_t)dx);
        queue_push(&s->aux, (uint8_t)dy);
        if (size == 4)
            queue_push(&s->aux, (uint8_t)dz);
        s->aux_dx = s->aux_dy = 0;
        s->aux_dz = size == 4 ? s->aux_dz - dz : 0;
        s->aux_pending = s->aux_dz != 0;
    }
}

static void aux_motion(I8042State *s, int dx, int dy, int wheel, unsigned buttons)
{
    uint8_t b = (uint8_t)(buttons & 7);

    if (!s->aux_enabled) {
        s->aux_buttons = b;
        return;
    }
    if (s->aux_id != AUX_ID_WHEEL)
        wheel = 0;
    /* Frontend: right/down/away positive. PS/2: right/up/toward positive. */
    s->aux_dx = acc_add(s->aux_dx, dx);
    s->aux_dy = acc_add(s->aux_dy, -clamp(dy, -AUX_ACC_MAX, AUX_ACC_MAX));
    s->aux_dz = acc_add(s->aux_dz, -clamp(wheel, -AUX_ACC_MAX, AUX_ACC_MAX));
    if (dx || dy || wheel || b != s->aux_buttons)
        s->aux_pending = true;
    s->aux_buttons = b;
    aux_flush(s);
}

static void set_ctr(I8042State *s, uint8_t v)
{
    s->ram[0] = v;
    s->status = (uint8_t)((s->status & ~STAT_SYS) | (v & CTR_SYS));
}

/* Returns true when the CPU reset line was pulled. */
static bool controller_command(I8042State *s, uint8_t cmd)
{
    if (cmd >= 0x20 && cmd <= 0x3f) {
        reply(s, s->ram[cmd & 0x1f], false);
        return false;
    }
    if ((cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4)) {
        s->pending = cmd;
        return false;
    }
    if (cmd >= 0xf0)
        return !(cmd & OUT_RESET);             /* pulse the low output lines */

    switch (cmd) {
    case 0xa7: s->ram[0] |= CTR_AUXDIS; break;
    case 0xa8: s->ram[0] &= ~CTR_AUXDIS; break;
    case 0xa9: reply(s, 0x00, false); break;   /* AUX interface test: no fault */
    case 0xaa:                                 /* controller self-test */
        s->status |= STAT_SYS;
        reply(s, 0x55, false);
        break;
    case 0xab: reply(s, 0x00, false); break;   /* keyboard interface test */
    case 0xad: s->ram[0] |= CTR_KBDDIS; break;
    case 0xae: s->ram[0] &= ~CTR_KBDDIS; break;
    case 0xc0: reply(s, 0x80, false); break;   /* input port: keyboard not locked */
    case 0xd0: {
        uint8_t out = s->outport & ~(OUT_KBD_OBF | OUT_AUX_OBF);
        if (s->status & STAT_OBF)
            out |= (s->status & STAT_AUX_OBF) ? OUT_AUX_OBF : OUT_KBD_OBF;
        reply(s, out, false);
        break;
    }
    default:
        break;
    }
    return false;
}

/* A data byte: the argument of a pending command, or a byte for the keyboard. */
static bool data_write(I8042State *s, uint8_t v)
{
    uint8_t cmd = s->pending;

    s->pending = 0;
    if (cmd >= 0x60 && cmd <= 0x7f) {
        if (cmd == 0x60)
            set_ctr(s, v);
        else
            s->ram[cmd & 0x1f] = v;
        return false;
    }
    switch (cmd) {
    case 0xd1:
        s->outport = v;
        return !(v & OUT_RESET);
    case 0xd2:
    case 0xd3:
        reply(s, v, cmd == 0xd3);
        return false;
    case 0xd4:
        aux_command(s, v);
        return false;
    default:
        kbd_command(s, v);
        return false;
    }
}

static void i8042_io(I8042 *k, bool cmd_port, uint8_t *data, unsigned len, bool is_write)
{
    I8042State *s = &k->s;
    bool reset = false;

    g_mutex_lock(&k->lock);
    if (is_write) {
        s->status = (uint8_t)((s->status & ~STAT_CMD) | (cmd_port ? STAT_CMD : 0));
        reset = cmd_port ? controller_command(s, data[0]) : data_write(s, data[0]);
    } else if (cmd_port) {
        data[0] = s->status;
    } else {
        data[0] = s->obuf;
        s->status &= ~(STAT_OBF | STAT_AUX_OBF);
        update_irqs(k);
        aux_flush(s);
    }
    refill(s);
    update_irqs(k);
    g_mutex_unlock(&k->lock);
    for (unsigned i = 1; i < len && !is_write; i++)
        data[i] = 0xff;
    if (reset)
        hgr_board_event(k->board, HGR_BOARD_RESET);
}

static void data_port_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
                         bool is_write)
{
    i8042_io(opaque, false, data, len, is_write);
}

static void cmd_port_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
                        bool is_write)
{
    i8042_io(opaque, true, data, len, is_write);
}

void hgr_i8042_key(HgrDevice *dev, unsigned evdev_code, bool down)
{
    I8042 *k = (I8042 *)dev;

    g_mutex_lock(&k->lock);
    kbd_key(&k->s, evdev_code, down);
    refill(&k->s);
    update_irqs(k);
    g_mutex_unlock(&k->lock);
}

void hgr_i8042_pointer(HgrDevice *dev, int dx, int dy, int wheel, unsigned buttons)
{
    I8042 *k = (I8042 *)dev;

    g_mutex_lock(&k->lock);
    aux_motion(&k->s, dx, dy, wheel, buttons);
    refill(&k->s);
    update_irqs(k);
    g_mutex_unlock(&k->lock);
}

static void input_key(void *opaque, unsigned evdev_code, bool down)
{
    hgr_i8042_key(opaque, evdev_code, down);
}

static void input_rel(void *opaque, int dx, int dy, int wheel, unsigned buttons)
{
    hgr_i8042_pointer(opaque, dx, dy, wheel, buttons);
}

static const HgrInputOps i8042_input_ops = {
    .key = input_key,
    .rel = input_rel,
};

HgrInputSink hgr_i8042_input_sink(HgrDevice *dev)
{
    return (HgrInputSink){ &i8042_input_ops, dev };
}

static void i8042_reset_state(I8042State *s)
{
    memset(s, 0, sizeof(*s));
    s->status = STAT_UNLOCKED;
    s->outport = OUT_RESET | OUT_A20;
    /* What a BIOS leaves: keyboard interrupt on, translation on, AUX off. */
    set_ctr(s, CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE);
    kbd_defaults(s);
    s->kbd_enabled = true;
    aux_defaults(s);
}

static void i8042_reset(HgrDevice *dev)
{
    I8042 *k = (I8042 *)dev;

    g_mutex_lock(&k->lock);
    i8042_reset_state(&k->s);
    update_irqs(k);
    g_mutex_unlock(&k->lock);
}

static bool i8042_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    I8042 *k = (I8042 *)dev;

    if (!hgr_io_bus_register(board->pio, HGR_PC_I8042_DATA, 1, data_port_io, k, "i8042-data") ||
        !hgr_io_bus_register(board->pio, HGR_PC_I8042_CMD, 1, cmd_port_io, k, "i8042-cmd")) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: ports 0x%x/0x%x are already taken", dev->id, HGR_PC_I8042_DATA,
                    HGR_PC_I8042_CMD);
        return false;
    }
    k->board = board;
    k->kbd_irq = (HgrIrqLine){ board->irqchip, HGR_PC_I8042_KBD_IRQ };
    k->aux_irq = (HgrIrqLine){ board->irqchip, HGR_PC_I8042_AUX_IRQ };
    return true;
}

static void i8042_get_state(HgrDevice *dev, void *state)
{
    I8042 *k = (I8042 *)dev;

    g_mutex_lock(&k->lock);
    memcpy(state, &k->s, sizeof(k->s));
    g_mutex_unlock(&k->lock);
}

static void visit_queue(HgrVisitor *v, ByteQueue *q)
{
    hgr_visit_u8(v, &q->n);
    hgr_visit_bytes(v, q->b, sizeof(q->b));
}

static void i8042_visit_state(HgrVisitor *v, void *state)
{
    I8042State *s = state;

    hgr_visit_u8(v, &s->status);
    hgr_visit_u8(v, &s->outport);
    hgr_visit_u8(v, &s->obuf);
    hgr_visit_bytes(v, s->ram, sizeof(s->ram));
    hgr_visit_u8(v, &s->pending);
    hgr_visit_u8(v, &s->reply);
    hgr_visit_bool(v, &s->has_reply);
    hgr_visit_bool(v, &s->reply_aux);
    visit_queue(v, &s->kbd);
    visit_queue(v, &s->aux);
    hgr_visit_u8(v, &s->kbd_arg);
    hgr_visit_u8(v, &s->kbd_scanset);
    hgr_visit_bool(v, &s->kbd_enabled);
    hgr_visit_u8(v, &s->aux_arg);
    hgr_visit_u8(v, &s->aux_rate);
    hgr_visit_u8(v, &s->aux_resolution);
    hgr_visit_bool(v, &s->aux_enabled);
    hgr_visit_bool(v, &s->aux_scale21);
    hgr_visit_u8(v, &s->aux_id);
    hgr_visit_bytes(v, s->aux_knock, sizeof(s->aux_knock));
    hgr_visit_u8(v, &s->aux_buttons);
    hgr_visit_bool(v, &s->aux_pending);
    hgr_visit_u32(v, (uint32_t *)&s->aux_dx);
    hgr_visit_u32(v, (uint32_t *)&s->aux_dy);
    hgr_visit_u32(v, (uint32_t *)&s->aux_dz);
}

static bool valid_pending(uint8_t p)
{
    return p == 0 || (p >= 0x60 && p <= 0x7f) || (p >= 0xd1 && p <= 0xd4);
}

static bool i8042_check_state(HgrDevice *dev, const void *state, GError **error)
{
    const I8042State *s = state;
    const char *why = NULL;

    if (s->kbd.n > QUEUE_SIZE || s->aux.n > QUEUE_SIZE)
        why = "a device queue longer than it can be";
    else if (!valid_pending(s->pending) ||
             (s->kbd_arg && s->kbd_arg != 0xed && s->kbd_arg != 0xf0 && s->kbd_arg != 0xf3) ||
             (s->aux_arg && s->aux_arg != 0xe8 && s->aux_arg != 0xf3))
        why = "a pending command that does not take an argument";
    else if (s->kbd_scanset > 3 || s->aux_resolution > 3)
        why = "an impossible keyboard or mouse setting";
    else if ((s->aux_id != 0 && s->aux_id != AUX_ID_WHEEL) || s->aux_buttons > 7 ||
             s->aux_dx < -AUX_ACC_MAX || s->aux_dx > AUX_ACC_MAX ||
             s->aux_dy < -AUX_ACC_MAX || s->aux_dy > AUX_ACC_MAX ||
             s->aux_dz < -AUX_ACC_MAX || s->aux_dz > AUX_ACC_MAX)
        why = "an impossible mouse state";
    if (why) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE, "saved state of %s: %s",
                    dev->id, why);
        return false;
    }
    return true;
}

static void i8042_set_state(HgrDevice *dev, const void *state)
{
    I8042 *k = (I8042 *)dev;

    g_mutex_lock(&k->lock);
    memcpy(&k->s, state, sizeof(k->s));
    update_irqs(k);
    g_mutex_unlock(&k->lock);
}

static void i8042_destroy(HgrDevice *dev)
{
    I8042 *k = (I8042 *)dev;

    g_mutex_clear(&k->lock);
    g_free(k);
}

static const HgrDeviceOps i8042_ops = {
    .name = "i8042",
    .state_version = 2,
    .state_size = sizeof(I8042State),
    .realize = i8042_realize,
    .reset = i8042_reset,
    .get_state = i8042_get_state,
    .visit_state = i8042_visit_state,
    .check_state = i8042_check_state,
    .set_state = i8042_set_state,
    .destroy = i8042_destroy,
};

HgrDevice *hgr_i8042_new(void)
{
    I8042 *k = g_new0(I8042, 1);

    hgr_device_init(&k->dev, &i8042_ops, NULL);
    g_mutex_init(&k->lock);
    i8042_reset_state(&k->s);
    return &k->dev;
}
