/* test-display-keymap.c — host keys reach the guest by position, the host
 * key and stray releases never do, and releasing the keyboard lets go of
 * every key the guest holds. */
#include <linux/input-event-codes.h>

#include "display-keymap.h"

static void test_hardware_to_evdev(void)
{
    /* X11 (evdev rules) and Wayland keycodes of keys a user presses. */
    g_assert_cmpuint(hgr_keymap_evdev_from_hardware(9), ==, KEY_ESC);
    g_assert_cmpuint(hgr_keymap_evdev_from_hardware(38), ==, KEY_A);
    g_assert_cmpuint(hgr_keymap_evdev_from_hardware(36), ==, KEY_ENTER);
    g_assert_cmpuint(hgr_keymap_evdev_from_hardware(37), ==, KEY_LEFTCTRL);
    g_assert_cmpuint(hgr_keymap_evdev_from_hardware(64), ==, KEY_LEFTALT);
    g_assert_cmpuint(hgr_keymap_evdev_from_hardware(119), ==, KEY_DELETE);
    g_assert_cmpuint(hgr_keymap_evdev_from_hardware(105), ==, KEY_RIGHTCTRL);
    g_assert_cmpuint(hgr_keymap_evdev_from_hardware(133), ==, KEY_LEFTMETA);
    g_assert_cmpuint(HGR_KEYMAP_HOST_KEY, ==, KEY_RIGHTCTRL);
    /* No key: synthetic events, keycodes below the evdev range or past it. */
    for (unsigned k = 0; k <= 8; k++)
        g_assert_cmpuint(hgr_keymap_evdev_from_hardware(k), ==, 0);
    g_assert_cmpuint(hgr_keymap_evdev_from_hardware(KEY_MAX + 8), ==, KEY_MAX);
    g_assert_cmpuint(hgr_keymap_evdev_from_hardware(KEY_MAX + 9), ==, 0);
    g_assert_cmpuint(hgr_keymap_evdev_from_hardware(0xffffffffu), ==, 0);
}

typedef struct {
    unsigned codes[8];
    unsigned n;
} Sent;

static void record(unsigned code, bool down, void *user_data)
{
    Sent *s = user_data;
    g_assert_false(down);
    g_assert_cmpuint(s->n, <, G_N_ELEMENTS(s->codes));
    s->codes[s->n++] = code;
}

static void test_held_keys(void)
{
    HgrKeyState ks = { 0 };
    Sent sent = { 0 };

    /* Ctrl+Alt held, Delete tapped, A repeating. */
    g_assert_true(hgr_key_state_event(&ks, KEY_LEFTCTRL, true));
    g_assert_true(hgr_key_state_event(&ks, KEY_LEFTALT, true));
    g_assert_true(hgr_key_state_event(&ks, KEY_DELETE, true));
    g_assert_true(hgr_key_state_event(&ks, KEY_DELETE, false));
    g_assert_true(hgr_key_state_event(&ks, KEY_A, true));
    g_assert_true(hgr_key_state_event(&ks, KEY_A, true));
    g_assert_true(hgr_key_state_is_held(&ks, KEY_A));
    g_assert_false(hgr_key_state_is_held(&ks, KEY_DELETE));

    /* A release the guest never saw pressed (a key held before the grab)
     * is dropped, as is anything outside the evdev range. */
    g_assert_false(hgr_key_state_event(&ks, KEY_B, false));
    g_assert_false(hgr_key_state_event(&ks, 0, true));
    g_assert_false(hgr_key_state_event(&ks, KEY_MAX + 1, true));
    g_assert_false(hgr_key_state_event(&ks, 0xffffffffu, false));

    /* Letting the keyboard go releases exactly the three held keys. */
    g_assert_cmpuint(hgr_key_state_release_all(&ks, record, &sent), ==, 3);
    g_assert_cmpuint(sent.n, ==, 3);
    g_assert_cmpuint(sent.codes[0], ==, KEY_LEFTCTRL);
    g_assert_cmpuint(sent.codes[1], ==, KEY_A);
    g_assert_cmpuint(sent.codes[2], ==, KEY_LEFTALT);
    g_assert_false(hgr_key_state_is_held(&ks, KEY_A));
    g_assert_false(hgr_key_state_event(&ks, KEY_A, false));
    g_assert_cmpuint(hgr_key_state_release_all(&ks, record, &sent), ==, 0);

    /* The highest code is tracked too. */
    g_assert_true(hgr_key_state_event(&ks, KEY_MAX, true));
    g_assert_true(hgr_key_state_event(&ks, KEY_MAX, false));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/display/keymap/hardware-to-evdev", test_hardware_to_evdev);
    g_test_add_func("/display/keymap/held-keys", test_held_keys);
    return g_test_run();
}
