/* input.h — keyboard and pointer input, from a frontend to the guest.
 *
 * One API whatever device the guest uses (PS/2 today; USB HID or
 * virtio-input later). Keys are Linux evdev KEY_* numbers, so a GTK
 * hardware keycode minus 8 is one directly. Calls may come from any
 * thread (the GTK main loop) and never block on the guest.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Pointer buttons, a bit each. */
#define HGR_INPUT_BUTTON_LEFT   0x01u
#define HGR_INPUT_BUTTON_RIGHT  0x02u
#define HGR_INPUT_BUTTON_MIDDLE 0x04u
#define HGR_INPUT_BUTTON_SIDE   0x08u
#define HGR_INPUT_BUTTON_EXTRA  0x10u

/* Absolute coordinates run from 0 to HGR_INPUT_ABS_MAX across the display,
 * whatever its size in pixels. */
#define HGR_INPUT_ABS_MAX 0x7fff

typedef struct {
    /* evdev_code: KEY_*; down: pressed (true) or released. */
    void (*key)(void *opaque, unsigned evdev_code, bool down);
    /* Motion in pixels, right and down positive (as evdev REL_X/REL_Y);
     * wheel: notches, away from the user positive (as REL_WHEEL);
     * buttons: HGR_INPUT_BUTTON_* held after this event. */
    void (*rel)(void *opaque, int dx, int dy, int wheel, unsigned buttons);
    /* Position 0..HGR_INPUT_ABS_MAX; NULL when the device has no absolute
     * pointer (PS/2), and the frontend then sends relative motion. */
    void (*abs)(void *opaque, unsigned x, unsigned y, int wheel, unsigned buttons);
} HgrInputOps;

/* Where input for one VM goes: a device's ops and its opaque pointer. */
typedef struct {
    const HgrInputOps *ops;
    void *opaque;
} HgrInputSink;
