/* test-boot-timer.c — the guest's "I am up" port. */
#include <glib.h>

#include "hw/boot-timer.h"
#include "legacy-board.h"

static void test_first_write_only(void)
{
    LegacyFixture f;
    legacy_fixture_init(&f, hgr_boot_timer_new(), NULL);
    LegacyBoard *tb = &f.tb;

    g_assert_cmphex(legacy_inb(tb, HGR_BOOT_TIMER_PORT), ==, 0xff);
    g_assert_cmpuint(tb->events[HGR_BOARD_BOOTED], ==, 0);
    legacy_outb(tb, HGR_BOOT_TIMER_PORT, 0);
    g_assert_cmpuint(tb->events[HGR_BOARD_BOOTED], ==, 1);
    legacy_out(tb, HGR_BOOT_TIMER_PORT, 0x12345678, 4);
    g_assert_cmpuint(tb->events[HGR_BOARD_BOOTED], ==, 1);
    g_assert_cmphex(legacy_in(tb, HGR_BOOT_TIMER_PORT, 2), ==, 0xffff);
    f.dev->ops->reset(f.dev);                             /* a reboot boots again */
    legacy_outb(tb, HGR_BOOT_TIMER_PORT, 1);
    g_assert_cmpuint(tb->events[HGR_BOARD_BOOTED], ==, 2);
    g_assert_cmpuint(tb->events[HGR_BOARD_RESET] + tb->events[HGR_BOARD_POWEROFF], ==, 0);
    legacy_fixture_clear(&f);
}

static void test_save_load(void)
{
    LegacyFixture a, b;
    legacy_fixture_init(&a, hgr_boot_timer_new(), NULL);
    legacy_fixture_init(&b, hgr_boot_timer_new(), NULL);

    legacy_outb(&a.tb, HGR_BOOT_TIMER_PORT, 0);
    legacy_roundtrip(a.dev, b.dev);
    /* A snapshot taken after boot does not report a second boot on restore. */
    legacy_outb(&b.tb, HGR_BOOT_TIMER_PORT, 0);
    g_assert_cmpuint(b.tb.events[HGR_BOARD_BOOTED], ==, 0);
    legacy_truncated_load_fails(a.dev, b.dev, true);
    legacy_fixture_clear(&a);
    legacy_fixture_clear(&b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/boot-timer/first-write-only", test_first_write_only);
    g_test_add_func("/vmm/boot-timer/save-load", test_save_load);
    return g_test_run();
}
