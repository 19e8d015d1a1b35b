/* boot-timer.c — tells the board when the guest's init has run.
 *
 * The guest writes any byte to HGR_BOOT_TIMER_PORT; only the first write
 * since reset counts, so a chatty guest cannot flood the board with events.
 */
#include "boot-timer.h"

#include <hangar/vm.h>
#include <string.h>

#include "../core/board.h"

typedef struct {
    bool fired;
} BootTimerState;

typedef struct {
    HgrDevice dev;
    const HgrBoard *board;
    BootTimerState s;
} BootTimer;

static void boot_timer_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
                          bool is_write)
{
    BootTimer *t = opaque;

    if (!is_write) {
        memset(data, 0xff, len);
        return;
    }
    /* Several vCPUs may race here: the exchange lets exactly one report. */
    if (!__atomic_exchange_n(&t->s.fired, true, __ATOMIC_SEQ_CST))
        hgr_board_event(t->board, HGR_BOARD_BOOTED);
}

static bool boot_timer_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    BootTimer *t = (BootTimer *)dev;

    if (!hgr_io_bus_register(board->pio, HGR_BOOT_TIMER_PORT, 1, boot_timer_io, t, dev->id)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: port 0x%x is already taken", dev->id, HGR_BOOT_TIMER_PORT);
        return false;
    }
    t->board = board;
    return true;
}

static void boot_timer_reset(HgrDevice *dev)
{
    ((BootTimer *)dev)->s.fired = false;
}

static void boot_timer_get_state(HgrDevice *dev, void *state)
{
    memcpy(state, &((BootTimer *)dev)->s, sizeof(BootTimerState));
}

static void boot_timer_visit_state(HgrVisitor *v, void *state)
{
    hgr_visit_bool(v, &((BootTimerState *)state)->fired);
}

static void boot_timer_set_state(HgrDevice *dev, const void *state)
{
    memcpy(&((BootTimer *)dev)->s, state, sizeof(BootTimerState));
}

static void boot_timer_destroy(HgrDevice *dev)
{
    g_free(dev);
}

static const HgrDeviceOps boot_timer_ops = {
    .name = "boot-timer",
    .state_version = 1,
    .state_size = sizeof(BootTimerState),
    .realize = boot_timer_realize,
    .reset = boot_timer_reset,
    .get_state = boot_timer_get_state,
    .visit_state = boot_timer_visit_state,
    .set_state = boot_timer_set_state,
    .destroy = boot_timer_destroy,
};

HgrDevice *hgr_boot_timer_new(void)
{
    BootTimer *t = g_new0(BootTimer, 1);

    hgr_device_init(&t->dev, &boot_timer_ops, NULL);
    return &t->dev;
}
