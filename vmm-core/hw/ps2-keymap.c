/* ps2-keymap.c — evdev key codes to PS/2 scan code sets 1 and 2.
 *
 * Written from the public scan code tables of the AT/MF2 keyboard. Set 1
 * releases a key with its make code | 0x80, set 2 with an F0 prefix; an
 * extended key puts E0 before either. Print Screen and Pause send fake
 * shifts around their codes, and Pause sends nothing on release.
 */
#include "ps2-keymap.h"

#include <glib.h>
#include <linux/input-event-codes.h>
#include <string.h>

typedef struct {
    uint8_t set1, set2;
    bool e0;
} KeyCode;

#define K(s1, s2)  { (s1), (s2), false }
#define X(s1, s2)  { (s1), (s2), true }

static const KeyCode keys[] = {
    [KEY_ESC] = K(0x01, 0x76),
    [KEY_1] = K(0x02, 0x16),          [KEY_2] = K(0x03, 0x1e),
    [KEY_3] = K(0x04, 0x26),          [KEY_4] = K(0x05, 0x25),
    [KEY_5] = K(0x06, 0x2e),          [KEY_6] = K(0x07, 0x36),
    [KEY_7] = K(0x08, 0x3d),          [KEY_8] = K(0x09, 0x3e),
    [KEY_9] = K(0x0a, 0x46),          [KEY_0] = K(0x0b, 0x45),
    [KEY_MINUS] = K(0x0c, 0x4e),      [KEY_EQUAL] = K(0x0d, 0x55),
    [KEY_BACKSPACE] = K(0x0e, 0x66),  [KEY_TAB] = K(0x0f, 0x0d),
    [KEY_Q] = K(0x10, 0x15),          [KEY_W] = K(0x11, 0x1d),
    [KEY_E] = K(0x12, 0x24),          [KEY_R] = K(0x13, 0x2d),
    [KEY_T] = K(0x14, 0x2c),          [KEY_Y] = K(0x15, 0x35),
    [KEY_U] = K(0x16, 0x3c),          [KEY_I] = K(0x17, 0x43),
    [KEY_O] = K(0x18, 0x44),          [KEY_P] = K(0x19, 0x4d),
    [KEY_LEFTBRACE] = K(0x1a, 0x54),  [KEY_RIGHTBRACE] = K(0x1b, 0x5b),
    [KEY_ENTER] = K(0x1c, 0x5a),      [KEY_LEFTCTRL] = K(0x1d, 0x14),
    [KEY_A] = K(0x1e, 0x1c),          [KEY_S] = K(0x1f, 0x1b),
    [KEY_D] = K(0x20, 0x23),          [KEY_F] = K(0x21, 0x2b),
    [KEY_G] = K(0x22, 0x34),          [KEY_H] = K(0x23, 0x33),
    [KEY_J] = K(0x24, 0x3b),          [KEY_K] = K(0x25, 0x42),
    [KEY_L] = K(0x26, 0x4b),          [KEY_SEMICOLON] = K(0x27, 0x4c),
    [KEY_APOSTROPHE] = K(0x28, 0x52), [KEY_GRAVE] = K(0x29, 0x0e),
    [KEY_LEFTSHIFT] = K(0x2a, 0x12),  [KEY_BACKSLASH] = K(0x2b, 0x5d),
    [KEY_Z] = K(0x2c, 0x1a),          [KEY_X] = K(0x2d, 0x22),
    [KEY_C] = K(0x2e, 0x21),          [KEY_V] = K(0x2f, 0x2a),
    [KEY_B] = K(0x30, 0x32),          [KEY_N] = K(0x31, 0x31),
    [KEY_M] = K(0x32, 0x3a),          [KEY_COMMA] = K(0x33, 0x41),
    [KEY_DOT] = K(0x34, 0x49),        [KEY_SLASH] = K(0x35, 0x4a),
    [KEY_RIGHTSHIFT] = K(0x36, 0x59), [KEY_KPASTERISK] = K(0x37, 0x7c),
    [KEY_LEFTALT] = K(0x38, 0x11),    [KEY_SPACE] = K(0x39, 0x29),
    [KEY_CAPSLOCK] = K(0x3a, 0x58),
    [KEY_F1] = K(0x3b, 0x05),         [KEY_F2] = K(0x3c, 0x06),
    [KEY_F3] = K(0x3d, 0x04),         [KEY_F4] = K(0x3e, 0x0c),
    [KEY_F5] = K(0x3f, 0x03),         [KEY_F6] = K(0x40, 0x0b),
    [KEY_F7] = K(0x41, 0x83),         [KEY_F8] = K(0x42, 0x0a),
    [KEY_F9] = K(0x43, 0x01),         [KEY_F10] = K(0x44, 0x09),
    [KEY_NUMLOCK] = K(0x45, 0x77),    [KEY_SCROLLLOCK] = K(0x46, 0x7e),
    [KEY_KP7] = K(0x47, 0x6c),        [KEY_KP8] = K(0x48, 0x75),
    [KEY_KP9] = K(0x49, 0x7d),        [KEY_KPMINUS] = K(0x4a, 0x7b),
    [KEY_KP4] = K(0x4b, 0x6b),        [KEY_KP5] = K(0x4c, 0x73),
    [KEY_KP6] = K(0x4d, 0x74),        [KEY_KPPLUS] = K(0x4e, 0x79),
    [KEY_KP1] = K(0x4f, 0x69),        [KEY_KP2] = K(0x50, 0x72),
    [KEY_KP3] = K(0x51, 0x7a),        [KEY_KP0] = K(0x52, 0x70),
    [KEY_KPDOT] = K(0x53, 0x71),      [KEY_102ND] = K(0x56, 0x61),
    [KEY_F11] = K(0x57, 0x78),        [KEY_F12] = K(0x58, 0x07),
    [KEY_RO] = K(0x73, 0x51),         [KEY_KATAKANAHIRAGANA] = K(0x70, 0x13),
    [KEY_HENKAN] = K(0x79, 0x64),     [KEY_MUHENKAN] = K(0x7b, 0x67),
    [KEY_KPCOMMA] = K(0x7e, 0x6d),    [KEY_YEN] = K(0x7d, 0x6a),

    [KEY_KPENTER] = X(0x1c, 0x5a),    [KEY_RIGHTCTRL] = X(0x1d, 0x14),
    [KEY_KPSLASH] = X(0x35, 0x4a),    [KEY_RIGHTALT] = X(0x38, 0x11),
    [KEY_HOME] = X(0x47, 0x6c),       [KEY_UP] = X(0x48, 0x75),
    [KEY_PAGEUP] = X(0x49, 0x7d),     [KEY_LEFT] = X(0x4b, 0x6b),
    [KEY_RIGHT] = X(0x4d, 0x74),      [KEY_END] = X(0x4f, 0x69),
    [KEY_DOWN] = X(0x50, 0x72),       [KEY_PAGEDOWN] = X(0x51, 0x7a),
    [KEY_INSERT] = X(0x52, 0x70),     [KEY_DELETE] = X(0x53, 0x71),
    [KEY_MUTE] = X(0x20, 0x23),       [KEY_VOLUMEDOWN] = X(0x2e, 0x21),
    [KEY_VOLUMEUP] = X(0x30, 0x32),   [KEY_POWER] = X(0x5e, 0x37),
    [KEY_LEFTMETA] = X(0x5b, 0x1f),   [KEY_RIGHTMETA] = X(0x5c, 0x27),
    [KEY_COMPOSE] = X(0x5d, 0x2f),    [KEY_SLEEP] = X(0x5f, 0x3f),
    [KEY_WAKEUP] = X(0x63, 0x5e),     [KEY_NEXTSONG] = X(0x19, 0x4d),
    [KEY_PLAYPAUSE] = X(0x22, 0x34),  [KEY_PREVIOUSSONG] = X(0x10, 0x15),
    [KEY_STOPCD] = X(0x24, 0x3b),
};

static const uint8_t pause_set1[] = { 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5 };
static const uint8_t pause_set2[] = { 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77 };
static const uint8_t prtsc_set1[2][4] = {
    { 0xe0, 0xb7, 0xe0, 0xaa },       /* release */
    { 0xe0, 0x2a, 0xe0, 0x37 },       /* press */
};
static const uint8_t prtsc_set2[2][6] = {
    { 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12 },
    { 0xe0, 0x12, 0xe0, 0x7c },
};

static unsigned copy_seq(uint8_t *out, const uint8_t *seq, unsigned len)
{
    memcpy(out, seq, len);
    return len;
}

unsigned hgr_ps2_keymap_encode(unsigned code, bool down, unsigned set,
                               uint8_t out[HGR_PS2_SEQ_MAX])
{
    bool set1 = set == 1;
    unsigned n = 0;

    if (code == KEY_PAUSE) {
        if (!down)
            return 0;
        return set1 ? copy_seq(out, pause_set1, sizeof(pause_set1))
                    : copy_seq(out, pause_set2, sizeof(pause_set2));
    }
    if (code == KEY_SYSRQ)
        return set1 ? copy_seq(out, prtsc_set1[down], 4)
                    : copy_seq(out, prtsc_set2[down], down ? 4 : 6);
    if (code >= G_N_ELEMENTS(keys) || !keys[code].set1)
        return 0;

    const KeyCode *k = &keys[code];
    if (k->e0)
        out[n++] = 0xe0;
    if (set1) {
        out[n++] = down ? k->set1 : (uint8_t)(k->set1 | 0x80);
    } else {
        if (!down)
            out[n++] = 0xf0;
        out[n++] = k->set2;
    }
    return n;
}
