/* test-acpi-pm.c — ACPI fixed hardware and the reset register as a guest's
 * OSPM drives them. */
#include <glib.h>

#include "hw/acpi-pm.h"
#include "legacy-board.h"

#define EVT HGR_PC_PM1A_EVT
#define EN  (HGR_PC_PM1A_EVT + 2)
#define CNT HGR_PC_PM1A_CNT
#define TMR HGR_PC_PM_TMR
#define SCI HGR_PC_SCI_IRQ
#define TICKS_PER_MS 3579.545

typedef LegacyFixture Fixture;

static void fixture_init(Fixture *f)
{
    legacy_fixture_init(f, hgr_acpi_pm_new(), NULL);
}


static void test_s5_poweroff(void)
{
    Fixture f;
    fixture_init(&f);

    g_assert_cmphex(legacy_in(&f.tb, CNT, 2) & 1, ==, 1);        /* SCI_EN: ACPI is on */
    for (unsigned typ = 1; typ < 8; typ++) {
        if (typ == HGR_PC_SLP_TYP_S5)
            continue;
        legacy_out(&f.tb, CNT, typ << 10 | 1 << 13, 2);
        g_assert_cmpuint(f.tb.events[HGR_BOARD_POWEROFF], ==, 0);
        /* No such sleep state here: the guest is woken at once. */
        g_assert_cmphex(legacy_in(&f.tb, EVT, 2) & 0x8000, ==, 0x8000);
        legacy_out(&f.tb, EVT, 0x8000, 2);
    }
    legacy_out(&f.tb, CNT, HGR_PC_SLP_TYP_S5 << 10, 2);          /* without SLP_EN */
    g_assert_cmpuint(f.tb.events[HGR_BOARD_POWEROFF], ==, 0);
    g_assert_cmphex(legacy_in(&f.tb, CNT, 2), ==, HGR_PC_SLP_TYP_S5 << 10 | 1);
    legacy_out(&f.tb, CNT, HGR_PC_SLP_TYP_S5 << 10 | 1 << 13, 2);
    g_assert_cmpuint(f.tb.events[HGR_BOARD_POWEROFF], ==, 1);
    /* The high byte alone, as a byte-wide AML field write does it. */
    legacy_outb(&f.tb, CNT + 1, (HGR_PC_SLP_TYP_S5 << 2) | 0x20);
    g_assert_cmpuint(f.tb.events[HGR_BOARD_POWEROFF], ==, 2);
    g_assert_cmphex(legacy_in(&f.tb, CNT, 2) & 0x2000, ==, 0);   /* SLP_EN reads 0 */
    /* SLP_TYP 0, as OVMF's ResetShutdown() writes it on a q35. */
    legacy_out(&f.tb, CNT, 0 << 10 | 1 << 13, 2);
    g_assert_cmpuint(f.tb.events[HGR_BOARD_POWEROFF], ==, 3);
    g_assert_cmpuint(f.tb.events[HGR_BOARD_RESET], ==, 0);
    legacy_fixture_clear(&f);
}

static void test_reset_port(void)
{
    Fixture f;
    fixture_init(&f);

    legacy_outb(&f.tb, HGR_PC_RESET_PORT, 0x02);                 /* arm only */
    g_assert_cmpuint(f.tb.events[HGR_BOARD_RESET], ==, 0);
    g_assert_cmphex(legacy_inb(&f.tb, HGR_PC_RESET_PORT), ==, 0x02);
    legacy_outb(&f.tb, HGR_PC_RESET_PORT, 0x06);
    g_assert_cmpuint(f.tb.events[HGR_BOARD_RESET], ==, 1);
    legacy_outb(&f.tb, HGR_PC_RESET_PORT, 0x0e);
    g_assert_cmpuint(f.tb.events[HGR_BOARD_RESET], ==, 2);
    g_assert_cmphex(legacy_inb(&f.tb, HGR_PC_RESET_PORT), ==, 0x0a);
    g_assert_cmpuint(f.tb.events[HGR_BOARD_POWEROFF], ==, 0);
    /* CONFIG_ADDRESS next door (0xcf8, 0xcfa) is not ours. */
    g_assert_false(hgr_io_bus_dispatch(&f.tb.pio, HGR_PC_PCI_CONFIG_PORT, (uint8_t[1]){0}, 1,
                                       false));
    legacy_fixture_clear(&f);
}

static uint32_t ticks_between(uint32_t a, uint32_t b)
{
    return (b - a) & 0xffffff;
}

static void test_timer(void)
{
    Fixture f;
    fixture_init(&f);

    uint32_t t0 = legacy_in(&f.tb, TMR, 4);
    g_usleep(20000);
    uint32_t t1 = legacy_in(&f.tb, TMR, 4);
    g_assert_cmpuint(t0 >> 24, ==, 0);
    g_assert_cmpuint(t1 >> 24, ==, 0);
    /* 20 ms at 3.579545 MHz, allowing for a slow test machine. */
    g_assert_cmpuint(ticks_between(t0, t1), >=, (uint32_t)(20 * TICKS_PER_MS));
    g_assert_cmpuint(ticks_between(t0, t1), <, (uint32_t)(2000 * TICKS_PER_MS));
    legacy_out(&f.tb, TMR, 0, 4);                                /* read-only */
    g_assert_cmpuint(ticks_between(t1, legacy_in(&f.tb, TMR, 4)), <, (uint32_t)(2000 * TICKS_PER_MS));

    /* A timer restored just below 2^24 wraps to small values. */
    const uint8_t near_wrap[11] = { [6] = 0xf0, [7] = 0xff, [8] = 0xff };
    g_assert_true(legacy_load_bytes(f.dev, near_wrap, sizeof(near_wrap)));
    g_usleep(2000);
    uint32_t t2 = legacy_in(&f.tb, TMR, 4);
    g_assert_cmpuint(t2, <, (uint32_t)(2000 * TICKS_PER_MS));
    g_assert_cmpuint(t2, >=, (uint32_t)(2 * TICKS_PER_MS) - 16);
    legacy_fixture_clear(&f);
}

static void test_status_w1c_and_sci(void)
{
    Fixture f;
    fixture_init(&f);

    hgr_acpi_pm_power_button(f.dev);
    g_assert_cmphex(legacy_in(&f.tb, EVT, 2), ==, 0x0100);
    g_assert_false(legacy_board_line(&f.tb, SCI));               /* not enabled */
    legacy_out(&f.tb, EN, 0x0100, 2);
    g_assert_true(legacy_board_line(&f.tb, SCI));
    legacy_out(&f.tb, EVT, 0x0000, 2);                            /* writing 0 clears nothing */
    g_assert_cmphex(legacy_in(&f.tb, EVT, 2), ==, 0x0100);
    legacy_out(&f.tb, EVT, 0xfeff, 2);                            /* nor do other bits */
    g_assert_cmphex(legacy_in(&f.tb, EVT, 2), ==, 0x0100);
    g_assert_true(legacy_board_line(&f.tb, SCI));
    legacy_outb(&f.tb, EVT + 1, 0x01);                            /* byte-wide W1C */
    g_assert_cmphex(legacy_in(&f.tb, EVT, 2), ==, 0);
    g_assert_false(legacy_board_line(&f.tb, SCI));

    hgr_acpi_pm_power_button(f.dev);
    g_assert_true(legacy_board_line(&f.tb, SCI));
    legacy_out(&f.tb, EN, 0, 2);                                  /* disabling lowers it */
    g_assert_false(legacy_board_line(&f.tb, SCI));
    g_assert_cmphex(legacy_in(&f.tb, EN, 2), ==, 0);
    legacy_out(&f.tb, EN, 0xffff, 2);                             /* only real enables stick */
    g_assert_cmphex(legacy_in(&f.tb, EN, 2), ==, 0x0721);
    g_assert_cmpuint(f.tb.calls[SCI], ==, 2 * f.tb.raises[SCI] - 1);
    legacy_fixture_clear(&f);
}

static void test_save_load(void)
{
    Fixture f, g;
    fixture_init(&f);
    fixture_init(&g);

    legacy_out(&f.tb, EN, 0x0100, 2);
    legacy_out(&f.tb, CNT, 3 << 10, 2);
    legacy_outb(&f.tb, HGR_PC_RESET_PORT, 0x02);
    hgr_acpi_pm_power_button(f.dev);
    uint32_t before = legacy_in(&f.tb, TMR, 4);

    g_autoptr(GByteArray) stream = g_byte_array_new();
    HgrStateSection sec;
    legacy_save(f.dev, stream, &sec);
    g_assert_true(hgr_device_load(g.dev, &sec, NULL));

    g_assert_cmphex(legacy_in(&g.tb, EVT, 4), ==, legacy_in(&f.tb, EVT, 4));
    g_assert_cmphex(legacy_in(&g.tb, CNT, 2), ==, legacy_in(&f.tb, CNT, 2));
    g_assert_cmphex(legacy_inb(&g.tb, HGR_PC_RESET_PORT), ==, 0x02);
    g_assert_true(legacy_board_line(&g.tb, SCI));
    /* The timer goes on from where it was, it does not restart. */
    uint32_t after = legacy_in(&g.tb, TMR, 4);
    g_assert_cmpuint(ticks_between(before, after), <, (uint32_t)(2000 * TICKS_PER_MS));

    legacy_truncated_load_fails(f.dev, g.dev, false);
    g_assert_false(legacy_load_forged(f.dev, g.dev, 1, 0x08));    /* reserved status bit */
    g_assert_false(legacy_load_forged(f.dev, g.dev, 9, 0x01));    /* timer past 24 bits */
    g_assert_false(legacy_load_forged(f.dev, g.dev, 10, 0x04));   /* reset bit stuck */

    /* Reset clears the registers (and the line), not the timer. */
    f.dev->ops->reset(f.dev);
    g_assert_cmphex(legacy_in(&f.tb, EVT, 4), ==, 0);
    g_assert_false(legacy_board_line(&f.tb, SCI));
    legacy_fixture_clear(&f);
    legacy_fixture_clear(&g);
}

/* Random accesses of every width: SCI always equals status & enable, and
 * only the sleep and reset writes make board events. */
static void test_random_accesses(void)
{
    Fixture f;
    fixture_init(&f);
    g_autoptr(GRand) r = g_rand_new_with_seed(0x600);
    const unsigned widths[] = { 1, 2, 4 };

    for (unsigned i = 0; i < 100000; i++) {
        uint16_t port = (uint16_t)(HGR_PC_PM_BASE + g_rand_int_range(r, 0, HGR_PC_PM_SIZE));
        unsigned len = widths[g_rand_int_range(r, 0, 3)];
        if (g_rand_boolean(r))
            legacy_out(&f.tb, port, g_rand_int(r), len);
        else
            legacy_in(&f.tb, port, len);
        uint32_t evt = legacy_in(&f.tb, EVT, 4);
        g_assert_cmpuint(legacy_board_line(&f.tb, SCI), ==, ((evt & 0xffff) & (evt >> 16)) != 0);
    }
    g_assert_cmpuint(f.tb.events[HGR_BOARD_RESET], ==, 0);
    legacy_fixture_clear(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/acpi-pm/s5-powers-off", test_s5_poweroff);
    g_test_add_func("/vmm/acpi-pm/reset-port", test_reset_port);
    g_test_add_func("/vmm/acpi-pm/timer-advances-and-wraps", test_timer);
    g_test_add_func("/vmm/acpi-pm/status-w1c-and-sci", test_status_w1c_and_sci);
    g_test_add_func("/vmm/acpi-pm/random-accesses", test_random_accesses);
    g_test_add_func("/vmm/acpi-pm/save-load", test_save_load);
    return g_test_run();
}
