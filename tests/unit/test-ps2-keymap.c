/* test-ps2-keymap.c — evdev keys to PS/2 scan codes, checked against the
 * public set 1 / set 2 tables and against the 8042's own translation. */
#include <glib.h>
#include <linux/input-event-codes.h>
#include <string.h>

#include "hw/ps2-keymap.h"

static void expect(unsigned code, bool down, unsigned set, const char *hex)
{
    uint8_t out[HGR_PS2_SEQ_MAX];
    unsigned n = hgr_ps2_keymap_encode(code, down, set, out);
    g_autoptr(GString) got = g_string_new(NULL);

    for (unsigned i = 0; i < n; i++)
        g_string_append_printf(got, "%s%02x", i ? " " : "", out[i]);
    g_assert_cmpstr(got->str, ==, hex);
}

static void test_plain_keys(void)
{
    expect(KEY_A, true, 1, "1e");
    expect(KEY_A, false, 1, "9e");
    expect(KEY_A, true, 2, "1c");
    expect(KEY_A, false, 2, "f0 1c");
    expect(KEY_ENTER, true, 1, "1c");
    expect(KEY_ENTER, false, 2, "f0 5a");
    expect(KEY_F7, true, 2, "83");               /* the one set 2 code above 0x7f */
    expect(KEY_F7, false, 1, "c1");
    expect(KEY_ESC, true, 2, "76");
    expect(KEY_SPACE, false, 1, "b9");
}

static void test_extended_keys(void)
{
    expect(KEY_RIGHTCTRL, true, 1, "e0 1d");
    expect(KEY_RIGHTCTRL, false, 1, "e0 9d");
    expect(KEY_RIGHTCTRL, true, 2, "e0 14");
    expect(KEY_RIGHTCTRL, false, 2, "e0 f0 14");
    expect(KEY_KPENTER, false, 2, "e0 f0 5a");
    expect(KEY_LEFTMETA, true, 1, "e0 5b");
    expect(KEY_UP, false, 1, "e0 c8");
}

static void test_special_sequences(void)
{
    expect(KEY_PAUSE, true, 1, "e1 1d 45 e1 9d c5");
    expect(KEY_PAUSE, true, 2, "e1 14 77 e1 f0 14 f0 77");
    expect(KEY_PAUSE, false, 1, "");
    expect(KEY_PAUSE, false, 2, "");
    expect(KEY_SYSRQ, true, 1, "e0 2a e0 37");
    expect(KEY_SYSRQ, false, 1, "e0 b7 e0 aa");
    expect(KEY_SYSRQ, true, 2, "e0 12 e0 7c");
    expect(KEY_SYSRQ, false, 2, "e0 f0 7c e0 f0 12");
    expect(KEY_RESERVED, true, 2, "");
    expect(KEY_F13, true, 1, "");                /* no code on an MF2 keyboard */
    expect(100000, true, 2, "");
}

/* The 8042 translates set 2 to set 1 byte by byte: F0 marks the next byte
 * a release (| 0x80), and E0/E1 pass through. If the two tables are
 * consistent, one set 2 code always translates to the same set 1 code. */
static void test_sets_agree(void)
{
    int xlate[256];
    unsigned keys = 0;

    memset(xlate, -1, sizeof(xlate));
    for (unsigned code = 0; code < KEY_MAX; code++) {
        for (int down = 0; down < 2; down++) {
            uint8_t s1[HGR_PS2_SEQ_MAX], s2[HGR_PS2_SEQ_MAX];
            unsigned n1 = hgr_ps2_keymap_encode(code, down, 1, s1);
            unsigned n2 = hgr_ps2_keymap_encode(code, down, 2, s2);
            unsigned m = 0;
            bool brk = false;

            g_assert_cmpuint(n1 == 0, ==, n2 == 0);
            keys += n1 && down;
            for (unsigned i = 0; i < n2; i++) {
                uint8_t b = s2[i];
                if (b == 0xf0) {
                    brk = true;
                    continue;
                }
                if (b != 0xe0 && b != 0xe1) {
                    if (xlate[b] < 0)
                        xlate[b] = s1[m] & 0x7f;     /* learn from the first use */
                    g_assert_cmphex(xlate[b], ==, s1[m] & 0x7f);
                    g_assert_cmphex(s1[m] & 0x80, ==, brk ? 0x80 : 0);
                } else {
                    g_assert_cmphex(s1[m], ==, b);
                }
                brk = false;
                m++;
            }
            g_assert_cmpuint(m, ==, n1);
        }
    }
    g_assert_cmpuint(keys, >=, 100);                 /* a full 102-key layout and more */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/ps2-keymap/plain-keys", test_plain_keys);
    g_test_add_func("/vmm/ps2-keymap/extended-keys", test_extended_keys);
    g_test_add_func("/vmm/ps2-keymap/pause-printscreen", test_special_sequences);
    g_test_add_func("/vmm/ps2-keymap/sets-agree-under-translation", test_sets_agree);
    return g_test_run();
}
