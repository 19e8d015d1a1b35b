/* test-i8042.c — the keyboard controller as Linux's i8042, atkbd and
 * psmouse drivers talk to it, and the reset line. */
#include <glib.h>
#include <linux/input-event-codes.h>

#include "hw/i8042.h"
#include "legacy-board.h"

#define DATA HGR_PC_I8042_DATA
#define CMD  HGR_PC_I8042_CMD
#define KBD_IRQ HGR_PC_I8042_KBD_IRQ
#define AUX_IRQ HGR_PC_I8042_AUX_IRQ
#define OBF 0x01
#define AUXOBF 0x20

typedef LegacyFixture Fixture;

static void fixture_init(Fixture *f)
{
    legacy_fixture_init(f, hgr_i8042_new(), NULL);
}


static uint8_t status(Fixture *f)
{
    return legacy_inb(&f->tb, CMD);
}

/* One byte that must be waiting, from the keyboard side or the AUX side. */
static uint8_t read_byte(Fixture *f, bool aux)
{
    uint8_t st = status(f);
    g_assert_cmphex(st & (OBF | AUXOBF), ==, OBF | (aux ? AUXOBF : 0));
    return legacy_inb(&f->tb, DATA);
}

static void expect_empty(Fixture *f)
{
    g_assert_cmphex(status(f) & OBF, ==, 0);
}

/* i8042_command(): command byte, its arguments, then maybe one reply. */
static int command(Fixture *f, uint8_t cmd, int arg)
{
    legacy_outb(&f->tb, CMD, cmd);
    if (arg >= 0)
        legacy_outb(&f->tb, DATA, (uint8_t)arg);
    if (!(status(f) & OBF))
        return -1;
    return legacy_inb(&f->tb, DATA);
}

static void test_linux_probe(void)
{
    Fixture f;
    fixture_init(&f);

    /* i8042_flush: nothing stale, and status is not 0xff (no controller). */
    g_assert_cmphex(status(&f), !=, 0xff);
    expect_empty(&f);
    g_assert_cmpint(command(&f, 0xaa, -1), ==, 0x55);       /* self-test */
    g_assert_true(status(&f) & 0x04);                       /* SYS flag after it */

    int ctr = command(&f, 0x20, -1);
    g_assert_cmpint(ctr, >=, 0);
    g_assert_true(ctr & 0x40);                              /* translation, as BIOS leaves it */
    g_assert_cmpint(command(&f, 0x60, 0x30), ==, -1);       /* interrupts off, ports off */
    g_assert_cmpint(command(&f, 0x20, -1), ==, 0x30);
    g_assert_cmpint(command(&f, 0xab, -1), ==, 0x00);       /* keyboard interface test */
    g_assert_cmpint(command(&f, 0xa9, -1), ==, 0x00);       /* AUX interface test */

    /* i8042_check_aux: loopback, bit assignment, then IRQ 12 delivery. */
    g_assert_cmpint(command(&f, 0xd3, 0x5a), ==, 0x5a);
    command(&f, 0xa7, -1);
    g_assert_true(command(&f, 0x20, -1) & 0x20);
    command(&f, 0xa8, -1);
    g_assert_false(command(&f, 0x20, -1) & 0x20);
    command(&f, 0x60, 0x02);                                /* AUX interrupt on */
    legacy_outb(&f.tb, CMD, 0xd3);
    legacy_outb(&f.tb, DATA, 0xa5);
    g_assert_true(legacy_board_line(&f.tb, AUX_IRQ));
    g_assert_false(legacy_board_line(&f.tb, KBD_IRQ));
    g_assert_cmphex(read_byte(&f, true), ==, 0xa5);
    g_assert_false(legacy_board_line(&f.tb, AUX_IRQ));

    /* RAM beyond the command byte keeps what is written. */
    command(&f, 0x65, 0x42);
    g_assert_cmpint(command(&f, 0x25, -1), ==, 0x42);
    /* The A2 bit says which port was written last. */
    legacy_outb(&f.tb, CMD, 0xa8);
    g_assert_true(status(&f) & 0x08);
    legacy_outb(&f.tb, DATA, 0xf4);
    g_assert_false(status(&f) & 0x08);
    legacy_fixture_clear(&f);
}

static void test_keyboard(void)
{
    Fixture f;
    fixture_init(&f);

    command(&f, 0x60, 0x45);                                /* KBD int, XLATE, ports on */
    unsigned raises = f.tb.raises[KBD_IRQ];
    legacy_outb(&f.tb, DATA, 0xf2);                         /* atkbd_probe: GETID */
    g_assert_cmphex(read_byte(&f, false), ==, 0xfa);
    g_assert_cmphex(read_byte(&f, false), ==, 0xab);
    g_assert_cmphex(read_byte(&f, false), ==, 0x83);
    expect_empty(&f);
    g_assert_false(legacy_board_line(&f.tb, KBD_IRQ));
    /* One interrupt edge per byte: Linux takes one byte per interrupt. */
    g_assert_cmpuint(f.tb.raises[KBD_IRQ], ==, raises + 3);

    legacy_outb(&f.tb, DATA, 0xed);                         /* LEDs + argument */
    g_assert_cmphex(read_byte(&f, false), ==, 0xfa);
    legacy_outb(&f.tb, DATA, 0x07);
    g_assert_cmphex(read_byte(&f, false), ==, 0xfa);
    legacy_outb(&f.tb, DATA, 0xf0);                         /* which scancode set? */
    g_assert_cmphex(read_byte(&f, false), ==, 0xfa);
    legacy_outb(&f.tb, DATA, 0x00);
    g_assert_cmphex(read_byte(&f, false), ==, 0xfa);
    g_assert_cmphex(read_byte(&f, false), ==, 0x02);
    legacy_outb(&f.tb, DATA, 0xee);                         /* echo */
    g_assert_cmphex(read_byte(&f, false), ==, 0xee);

    /* With the keyboard port disabled its answer waits. */
    command(&f, 0xad, -1);
    legacy_outb(&f.tb, DATA, 0xff);                         /* reset */
    expect_empty(&f);
    legacy_outb(&f.tb, CMD, 0xae);
    g_assert_cmphex(read_byte(&f, false), ==, 0xfa);
    g_assert_cmphex(read_byte(&f, false), ==, 0xaa);
    expect_empty(&f);

    /* Interrupts off: data still arrives, the line stays low. */
    command(&f, 0x60, 0x44);
    legacy_outb(&f.tb, DATA, 0xf4);
    g_assert_false(legacy_board_line(&f.tb, KBD_IRQ));
    g_assert_cmphex(read_byte(&f, false), ==, 0xfa);
    legacy_fixture_clear(&f);
}

static void aux_write(Fixture *f, uint8_t b)
{
    legacy_outb(&f->tb, CMD, 0xd4);
    legacy_outb(&f->tb, DATA, b);
}

static void test_mouse(void)
{
    Fixture f;
    fixture_init(&f);

    command(&f, 0x60, 0x47);                                /* both ints, both ports */
    aux_write(&f, 0xff);                                    /* psmouse_reset */
    g_assert_true(legacy_board_line(&f.tb, AUX_IRQ));
    g_assert_cmphex(read_byte(&f, true), ==, 0xfa);
    g_assert_cmphex(read_byte(&f, true), ==, 0xaa);
    g_assert_cmphex(read_byte(&f, true), ==, 0x00);
    expect_empty(&f);
    aux_write(&f, 0xf2);
    g_assert_cmphex(read_byte(&f, true), ==, 0xfa);
    g_assert_cmphex(read_byte(&f, true), ==, 0x00);
    /* The IntelliMouse knock (200, 100, 80) turns on the wheel. */
    const uint8_t rates[] = { 200, 100, 80 };
    for (unsigned i = 0; i < 3; i++) {
        aux_write(&f, 0xf3);
        g_assert_cmphex(read_byte(&f, true), ==, 0xfa);
        aux_write(&f, rates[i]);
        g_assert_cmphex(read_byte(&f, true), ==, 0xfa);
    }
    aux_write(&f, 0xf2);
    g_assert_cmphex(read_byte(&f, true), ==, 0xfa);
    g_assert_cmphex(read_byte(&f, true), ==, 0x03);
    aux_write(&f, 0xf4);
    g_assert_cmphex(read_byte(&f, true), ==, 0xfa);
    aux_write(&f, 0xe9);                                    /* status: enabled, rate 80 */
    g_assert_cmphex(read_byte(&f, true), ==, 0xfa);
    g_assert_cmphex(read_byte(&f, true), ==, 0x20);
    g_assert_cmphex(read_byte(&f, true), ==, 0x02);
    g_assert_cmphex(read_byte(&f, true), ==, 80);
    aux_write(&f, 0x12);                                    /* not a mouse command */
    g_assert_cmphex(read_byte(&f, true), ==, 0xfe);
    g_assert_false(legacy_board_line(&f.tb, KBD_IRQ));
    legacy_fixture_clear(&f);
}

/* All bytes waiting on one side, as hex, checking one IRQ edge per byte. */
static char *drain(Fixture *f, bool aux)
{
    unsigned irq = aux ? AUX_IRQ : KBD_IRQ;
    GString *got = g_string_new(NULL);

    for (unsigned i = 0; i < 64 && (status(f) & OBF); i++) {
        unsigned raises = f->tb.raises[irq];
        g_assert_true(legacy_board_line(&f->tb, irq));
        g_string_append_printf(got, "%s%02x", got->len ? " " : "", read_byte(f, aux));
        if (status(f) & OBF)
            g_assert_cmpuint(f->tb.raises[irq], ==, raises + 1);
    }
    g_assert_false(legacy_board_line(&f->tb, irq));
    return g_string_free(got, false);
}

static void key(Fixture *f, unsigned code, bool down)
{
    hgr_i8042_key(f->dev, code, down);
}

static void expect_keys(Fixture *f, const char *hex)
{
    g_autofree char *got = drain(f, false);
    g_assert_cmpstr(got, ==, hex);
}

static void test_keystrokes(void)
{
    Fixture f;
    fixture_init(&f);

    command(&f, 0x60, 0x45);                                /* translation on: set 1 */
    key(&f, KEY_A, true);
    g_assert_true(legacy_board_line(&f.tb, KBD_IRQ));
    key(&f, KEY_A, false);
    expect_keys(&f, "1e 9e");
    key(&f, KEY_ENTER, true);
    key(&f, KEY_ENTER, false);
    key(&f, KEY_RIGHTCTRL, true);
    key(&f, KEY_RIGHTCTRL, false);
    expect_keys(&f, "1c 9c e0 1d e0 9d");
    key(&f, KEY_PAUSE, true);
    key(&f, KEY_PAUSE, false);
    expect_keys(&f, "e1 1d 45 e1 9d c5");

    command(&f, 0x60, 0x05);                                /* translation off: set 2 */
    key(&f, KEY_A, true);
    key(&f, KEY_A, false);
    key(&f, KEY_RIGHTCTRL, false);
    expect_keys(&f, "1c f0 1c e0 f0 14");
    key(&f, KEY_PAUSE, true);
    expect_keys(&f, "e1 14 77 e1 f0 14 f0 77");
    legacy_outb(&f.tb, DATA, 0xf0);                         /* the guest picks set 1 */
    legacy_outb(&f.tb, DATA, 0x01);
    expect_keys(&f, "fa fa");
    key(&f, KEY_ENTER, false);
    expect_keys(&f, "9c");
    legacy_outb(&f.tb, DATA, 0xf0);
    legacy_outb(&f.tb, DATA, 0x02);
    expect_keys(&f, "fa fa");

    legacy_outb(&f.tb, DATA, 0xf5);                         /* scanning off: keys dropped */
    expect_keys(&f, "fa");
    key(&f, KEY_A, true);
    expect_empty(&f);
    legacy_outb(&f.tb, DATA, 0xf4);
    expect_keys(&f, "fa");
    command(&f, 0xad, -1);                                  /* port off: keys wait */
    key(&f, KEY_B, true);
    expect_empty(&f);
    legacy_outb(&f.tb, CMD, 0xae);
    expect_keys(&f, "32");
    key(&f, KEY_F13, true);                                 /* no PS/2 code: nothing */
    expect_empty(&f);
    legacy_fixture_clear(&f);
}

static void test_key_overflow(void)
{
    Fixture f;
    fixture_init(&f);

    command(&f, 0x60, 0x45);
    for (int i = 0; i < 40; i++)
        key(&f, KEY_A, i % 2 == 0);
    g_autofree char *set1 = drain(&f, false);
    /* The buffer byte, 15 queued, then the overflow code in the last slot. */
    g_assert_cmpstr(set1, ==, "1e 9e 1e 9e 1e 9e 1e 9e 1e 9e 1e 9e 1e 9e 1e 9e ff");
    key(&f, KEY_A, false);                                  /* room again */
    expect_keys(&f, "9e");

    command(&f, 0x60, 0x05);
    for (int i = 0; i < 20; i++)
        key(&f, KEY_RIGHTCTRL, true);                       /* two bytes each */
    expect_keys(&f, "e0 14 e0 14 e0 14 e0 14 e0 14 e0 14 e0 14 e0 14 00");
    legacy_fixture_clear(&f);
}

static void expect_packets(Fixture *f, const char *hex)
{
    g_autofree char *got = drain(f, true);
    g_assert_cmpstr(got, ==, hex);
}

static void mouse_on(Fixture *f, bool wheel)
{
    command(f, 0x60, 0x47);
    aux_write(f, 0xff);
    expect_packets(f, "fa aa 00");
    for (unsigned i = 0; wheel && i < 3; i++) {
        aux_write(f, 0xf3);
        aux_write(f, (const uint8_t[]){ 200, 100, 80 }[i]);
        expect_packets(f, "fa fa");
    }
}

static void test_mouse_packets(void)
{
    Fixture f;
    fixture_init(&f);

    mouse_on(&f, false);
    hgr_i8042_pointer(f.dev, 5, 3, 0, HGR_INPUT_BUTTON_LEFT);
    expect_empty(&f);                                       /* reporting not enabled yet */
    aux_write(&f, 0xf4);
    expect_packets(&f, "fa");
    hgr_i8042_pointer(f.dev, 5, 3, 0, HGR_INPUT_BUTTON_LEFT);
    expect_packets(&f, "29 05 fd");                         /* down on screen is -y */
    hgr_i8042_pointer(f.dev, 0, 0, 0, HGR_INPUT_BUTTON_RIGHT | HGR_INPUT_BUTTON_MIDDLE);
    expect_packets(&f, "0e 00 00");
    hgr_i8042_pointer(f.dev, 0, 0, 0, HGR_INPUT_BUTTON_RIGHT | HGR_INPUT_BUTTON_MIDDLE);
    expect_empty(&f);                                       /* nothing changed */
    hgr_i8042_pointer(f.dev, 300, -400, 0, 0);
    expect_packets(&f, "c8 ff ff");                         /* clamped, overflow bits */
    hgr_i8042_pointer(f.dev, -300, 257, 3, 0);
    expect_packets(&f, "f8 00 00");                         /* -256 both, no wheel byte */
    hgr_i8042_pointer(f.dev, -1, -1, 0, 0);
    expect_packets(&f, "18 ff 01");

    /* Motion while the queue is full is summed, not lost. */
    for (int i = 0; i < 10; i++)
        hgr_i8042_pointer(f.dev, 10, 0, 0, 0);
    expect_packets(&f, "08 0a 00 08 0a 00 08 0a 00 08 0a 00 08 0a 00 08 32 00");
    aux_write(&f, 0xf5);                                    /* reporting off */
    expect_packets(&f, "fa");
    hgr_i8042_pointer(f.dev, 1, 1, 0, 0);
    expect_empty(&f);
    legacy_fixture_clear(&f);
}

static void test_mouse_wheel(void)
{
    Fixture f;
    fixture_init(&f);

    mouse_on(&f, true);
    aux_write(&f, 0xf4);
    expect_packets(&f, "fa");
    hgr_i8042_pointer(f.dev, 1, 0, 1, 0);                   /* one notch away: z = -1 */
    expect_packets(&f, "08 01 00 ff");
    hgr_i8042_pointer(f.dev, 0, 0, -10, 0);                 /* more than a packet holds */
    expect_packets(&f, "08 00 00 07 08 00 00 03");
    aux_write(&f, 0xff);                                    /* reset: a plain mouse again */
    expect_packets(&f, "fa aa 00");
    aux_write(&f, 0xf4);
    hgr_i8042_pointer(f.dev, 0, 0, 1, 0);
    expect_packets(&f, "fa");                               /* a wheel alone is no packet */
    legacy_fixture_clear(&f);
}

static void test_input_sink(void)
{
    Fixture f;
    fixture_init(&f);

    HgrInputSink sink = hgr_i8042_input_sink(f.dev);
    g_assert_null(sink.ops->abs);                           /* PS/2 is relative only */
    sink.ops->key(sink.opaque, KEY_ESC, true);
    expect_keys(&f, "01");
    mouse_on(&f, false);
    aux_write(&f, 0xf4);
    expect_packets(&f, "fa");
    sink.ops->rel(sink.opaque, 2, 0, 0, 0);
    expect_packets(&f, "08 02 00");
    legacy_fixture_clear(&f);
}

static void test_reset_line(void)
{
    Fixture f;
    fixture_init(&f);

    legacy_outb(&f.tb, CMD, 0xff);                          /* pulses nothing that matters */
    g_assert_cmpuint(f.tb.events[HGR_BOARD_RESET], ==, 0);
    legacy_outb(&f.tb, CMD, 0xfe);
    g_assert_cmpuint(f.tb.events[HGR_BOARD_RESET], ==, 1);

    g_assert_cmpint(command(&f, 0xd0, -1) & 0x03, ==, 0x03);
    command(&f, 0xd1, 0x03);                                /* A20 on, reset high */
    g_assert_cmpuint(f.tb.events[HGR_BOARD_RESET], ==, 1);
    command(&f, 0xd1, 0x02);                                /* reset low */
    g_assert_cmpuint(f.tb.events[HGR_BOARD_RESET], ==, 2);
    g_assert_cmpuint(f.tb.events[HGR_BOARD_POWEROFF], ==, 0);
    legacy_fixture_clear(&f);
}

/* Random bytes on both ports mixed with keystrokes and wild mouse motion:
 * nothing crashes, the queues stay bounded and the two lines always agree
 * with the status register. */
static void test_random_bytes(void)
{
    Fixture f;
    fixture_init(&f);
    g_autoptr(GRand) r = g_rand_new_with_seed(8042);

    for (unsigned i = 0; i < 200000; i++) {
        uint16_t port = g_rand_boolean(r) ? CMD : DATA;
        int what = g_rand_int_range(r, 0, 8);
        if (what == 0)
            hgr_i8042_key(f.dev, (unsigned)g_rand_int_range(r, 0, 256), g_rand_boolean(r));
        else if (what == 1)
            hgr_i8042_pointer(f.dev, g_rand_int(r), g_rand_int(r), g_rand_int_range(r, -20, 20),
                              g_rand_int(r));
        else if (what < 4)
            legacy_inb(&f.tb, port);
        else
            legacy_outb(&f.tb, port, (uint8_t)g_rand_int(r));
        uint8_t st = status(&f);
        bool aux_data = (st & OBF) && (st & AUXOBF);
        bool kbd_data = (st & OBF) && !(st & AUXOBF);
        if (legacy_board_line(&f.tb, KBD_IRQ))
            g_assert_true(kbd_data);
        if (legacy_board_line(&f.tb, AUX_IRQ))
            g_assert_true(aux_data);
    }
    legacy_fixture_clear(&f);
}

static void test_save_load(void)
{
    Fixture f, g;
    fixture_init(&f);
    fixture_init(&g);

    command(&f, 0x60, 0x47);
    aux_write(&f, 0xff);                                    /* three AUX bytes queued */
    legacy_outb(&f.tb, DATA, 0xf2);                         /* three keyboard bytes */
    legacy_outb(&f.tb, CMD, 0x66);
    legacy_outb(&f.tb, DATA, 0x99);
    legacy_outb(&f.tb, CMD, 0xd1);                          /* a command mid-way */
    legacy_roundtrip(f.dev, g.dev);

    g_assert_true(legacy_board_line(&g.tb, AUX_IRQ));       /* the mouse's ACK is up */
    for (int i = 0; i < 6; i++)
        g_assert_cmphex(legacy_inb(&g.tb, DATA), ==, legacy_inb(&f.tb, DATA));
    expect_empty(&g);
    legacy_outb(&g.tb, DATA, 0x00);                         /* finishes the 0xd1 */
    g_assert_cmpuint(g.tb.events[HGR_BOARD_RESET], ==, 1);
    g_assert_cmpint(command(&g, 0x26, -1), ==, 0x99);

    legacy_truncated_load_fails(f.dev, g.dev, true);
    g_assert_false(legacy_load_forged(f.dev, g.dev, 35, 0x50));   /* pending: no such command */
    g_assert_false(legacy_load_forged(f.dev, g.dev, 39, 17));     /* keyboard queue length */
    g_assert_false(legacy_load_forged(f.dev, g.dev, 56, 200));    /* AUX queue length */
    legacy_fixture_clear(&f);
    legacy_fixture_clear(&g);
}

/* Keystrokes and mouse motion still waiting move with the saved state. */
static void test_save_load_input(void)
{
    Fixture f, g;
    fixture_init(&f);
    fixture_init(&g);

    mouse_on(&f, true);
    aux_write(&f, 0xf4);
    expect_packets(&f, "fa");
    for (unsigned i = 0; i < 6; i++)
        key(&f, KEY_A + i, i % 2);
    for (int i = 0; i < 8; i++)
        hgr_i8042_pointer(f.dev, 7, -2, 1, HGR_INPUT_BUTTON_LEFT);
    legacy_roundtrip(f.dev, g.dev);

    unsigned n = 0;
    for (; n < 100 && (status(&f) & OBF); n++) {
        g_assert_cmphex(status(&g), ==, status(&f));
        g_assert_cmpint(legacy_board_line(&g.tb, AUX_IRQ), ==, legacy_board_line(&f.tb, AUX_IRQ));
        g_assert_cmphex(legacy_inb(&g.tb, DATA), ==, legacy_inb(&f.tb, DATA));
    }
    expect_empty(&g);
    g_assert_cmpuint(n, ==, 6 + 5 * 4);     /* 4 packets queued, the other 4 moves summed in one */

    legacy_truncated_load_fails(f.dev, g.dev, true);
    g_assert_false(legacy_load_forged(f.dev, g.dev, 81, 5));      /* no such mouse type */
    g_assert_false(legacy_load_forged(f.dev, g.dev, 84, 0x80));   /* buttons */
    g_assert_false(legacy_load_forged(f.dev, g.dev, 89, 0x40));   /* motion beyond the bound */
    g_assert_true(legacy_load_forged(f.dev, g.dev, 81, 0));       /* a plain mouse is fine */
    legacy_fixture_clear(&f);
    legacy_fixture_clear(&g);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/i8042/linux-probe", test_linux_probe);
    g_test_add_func("/vmm/i8042/keyboard-answers", test_keyboard);
    g_test_add_func("/vmm/i8042/mouse-answers", test_mouse);
    g_test_add_func("/vmm/i8042/keystrokes", test_keystrokes);
    g_test_add_func("/vmm/i8042/key-overflow", test_key_overflow);
    g_test_add_func("/vmm/i8042/mouse-packets", test_mouse_packets);
    g_test_add_func("/vmm/i8042/mouse-wheel", test_mouse_wheel);
    g_test_add_func("/vmm/i8042/input-sink", test_input_sink);
    g_test_add_func("/vmm/i8042/reset-line", test_reset_line);
    g_test_add_func("/vmm/i8042/random-bytes", test_random_bytes);
    g_test_add_func("/vmm/i8042/save-load", test_save_load);
    g_test_add_func("/vmm/i8042/save-load-input", test_save_load_input);
    return g_test_run();
}
