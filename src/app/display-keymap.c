/* display-keymap.c — host key events to evdev codes, and held keys (see
 * display-keymap.h). */
#include <string.h>

#include "display-keymap.h"

/* X11's evdev rules and Wayland both put evdev code N at keycode N + 8. */
#define XKB_EVDEV_OFFSET 8u

unsigned hgr_keymap_evdev_from_hardware(unsigned hardware_keycode)
{
    if (hardware_keycode <= XKB_EVDEV_OFFSET)
        return 0;                               /* KEY_RESERVED and below */
    unsigned code = hardware_keycode - XKB_EVDEV_OFFSET;
    return code <= HGR_KEYMAP_EVDEV_MAX ? code : 0;
}

bool hgr_key_state_is_held(const HgrKeyState *ks, unsigned code)
{
    return code && code <= HGR_KEYMAP_EVDEV_MAX &&
           (ks->held[code / 64] >> (code % 64)) & 1;
}

bool hgr_key_state_event(HgrKeyState *ks, unsigned code, bool down)
{
    if (!code || code > HGR_KEYMAP_EVDEV_MAX)
        return false;
    uint64_t bit = UINT64_C(1) << (code % 64);
    if (down) {
        ks->held[code / 64] |= bit;
        return true;
    }
    if (!(ks->held[code / 64] & bit))
        return false;
    ks->held[code / 64] &= ~bit;
    return true;
}

unsigned hgr_key_state_release_all(HgrKeyState *ks, HgrKeySendFn send, void *user_data)
{
    unsigned n = 0;

    for (unsigned code = 1; code <= HGR_KEYMAP_EVDEV_MAX; code++) {
        if (!hgr_key_state_is_held(ks, code))
            continue;
        send(code, false, user_data);
        n++;
    }
    memset(ks->held, 0, sizeof(ks->held));
    return n;
}
