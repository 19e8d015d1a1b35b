/* test-i8042.c — the keyboard controller as Linux's i8042, atkbd and
 * psmouse drivers talk to it, and the reset line. */
#include <glib.h>

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
    /* The IntelliMouse knock (200, 100, 80) leaves a plain mouse plain. */
    const uint8_t rates[] = { 200, 100, 80 };
    for (unsigned i = 0; i < 3; i++) {
        aux_write(&f, 0xf3);
        g_assert_cmphex(read_byte(&f, true), ==, 0xfa);
        aux_write(&f, rates[i]);
        g_assert_cmphex(read_byte(&f, true), ==, 0xfa);
    }
    aux_write(&f, 0xf2);
    g_assert_cmphex(read_byte(&f, true), ==, 0xfa);
    g_assert_cmphex(read_byte(&f, true), ==, 0x00);
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

/* Random bytes on both ports: nothing crashes, the queues stay bounded and
 * the two lines always agree with the status register. */
static void test_random_bytes(void)
{
    Fixture f;
    fixture_init(&f);
    g_autoptr(GRand) r = g_rand_new_with_seed(8042);

    for (unsigned i = 0; i < 200000; i++) {
        uint16_t port = g_rand_boolean(r) ? CMD : DATA;
        if (g_rand_int_range(r, 0, 3) == 0)
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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/i8042/linux-probe", test_linux_probe);
    g_test_add_func("/vmm/i8042/keyboard-answers", test_keyboard);
    g_test_add_func("/vmm/i8042/mouse-answers", test_mouse);
    g_test_add_func("/vmm/i8042/reset-line", test_reset_line);
    g_test_add_func("/vmm/i8042/random-bytes", test_random_bytes);
    g_test_add_func("/vmm/i8042/save-load", test_save_load);
    return g_test_run();
}
