/* display-keymap.h — host keyboard events to the guest's evdev key codes,
 * and the set of keys the guest believes are held.
 *
 * On Linux both GDK backends (X11 with the evdev rules, Wayland) number
 * physical keys as evdev code + 8, so the layout on the host never
 * matters: the guest gets the key's position and applies its own layout.
 * The held set lets the display release every key the guest saw pressed
 * when the keyboard is released or the window loses focus (otherwise a
 * guest would auto-repeat a key forever), and drops releases of keys the
 * guest never saw pressed (the host key, a key held before the grab).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Right Ctrl (evdev KEY_RIGHTCTRL) releases the keyboard, as in VirtualBox. */
#define HGR_KEYMAP_HOST_KEY 97u
/* Highest evdev key code (KEY_MAX). */
#define HGR_KEYMAP_EVDEV_MAX 0x2ffu

/* The evdev code of a GDK hardware keycode, 0 when it has none. */
unsigned hgr_keymap_evdev_from_hardware(unsigned hardware_keycode);

typedef struct {
    uint64_t held[(HGR_KEYMAP_EVDEV_MAX + 1 + 63) / 64];
} HgrKeyState;

typedef void (*HgrKeySendFn)(unsigned evdev_code, bool down, void *user_data);

/* A key event for the guest: true when it should be sent. Presses always
 * are (held keys repeat); releases only of keys the guest holds. */
bool hgr_key_state_event(HgrKeyState *ks, unsigned evdev_code, bool down);
bool hgr_key_state_is_held(const HgrKeyState *ks, unsigned evdev_code);
/* Sends a release for every held key, in ascending code order, and
 * forgets them. Returns how many were released. */
unsigned hgr_key_state_release_all(HgrKeyState *ks, HgrKeySendFn send, void *user_data);

G_END_DECLS
