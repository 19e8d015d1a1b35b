/* test-boot-timer.c — the guest's "I am up" port. */
#include <glib.h>

#include "hw/boot-timer.h"
#include "legacy-board.h"

static void test_first_write_only(void)
{
    LegacyBoard tb;
    legacy_board_init(&tb);
    HgrDevice *dev = hgr_boot_timer_new();
    legacy_realize(&tb, dev);

    g_assert_cmphex(legacy_inb(&tb, HGR_BOOT_TIMER_PORT), ==, 0xff);
    g_assert_cmpuint(tb.events[HGR_BOARD_BOOTED], ==, 0);
    legacy_outb(&tb, HGR_BOOT_TIMER_PORT, 0);
    g_assert_cmpuint(tb.events[HGR_BOARD_BOOTED], ==, 1);
    legacy_out(&tb, HGR_BOOT_TIMER_PORT, 0x12345678, 4);
    g_assert_cmpuint(tb.events[HGR_BOARD_BOOTED], ==, 1);
    g_assert_cmphex(legacy_in(&tb, HGR_BOOT_TIMER_PORT, 2), ==, 0xffff);
    dev->ops->reset(dev);                                 /* a reboot boots again */
    legacy_outb(&tb, HGR_BOOT_TIMER_PORT, 1);
    g_assert_cmpuint(tb.events[HGR_BOARD_BOOTED], ==, 2);
    g_assert_cmpuint(tb.events[HGR_BOARD_RESET] + tb.events[HGR_BOARD_POWEROFF], ==, 0);

    hgr_device_free(dev);
    legacy_board_clear(&tb);
}

static void test_save_load(void)
{
    LegacyBoard ta, tb;
    legacy_board_init(&ta);
    legacy_board_init(&tb);
    HgrDevice *a = hgr_boot_timer_new(), *b = hgr_boot_timer_new();
    legacy_realize(&ta, a);
    legacy_realize(&tb, b);

    legacy_outb(&ta, HGR_BOOT_TIMER_PORT, 0);
    legacy_roundtrip(a, b);
    /* A snapshot taken after boot does not report a second boot on restore. */
    legacy_outb(&tb, HGR_BOOT_TIMER_PORT, 0);
    g_assert_cmpuint(tb.events[HGR_BOARD_BOOTED], ==, 0);
    legacy_truncated_load_fails(a, b, true);

    hgr_device_free(a);
    hgr_device_free(b);
    legacy_board_clear(&ta);
    legacy_board_clear(&tb);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/boot-timer/first-write-only", test_first_write_only);
    g_test_add_func("/vmm/boot-timer/save-load", test_save_load);
    return g_test_run();
}
