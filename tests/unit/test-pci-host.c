/* test-pci-host.c — the q35 host bridge registers SeaBIOS programs: PAM
 * (BIOS shadowing) and PCIEXBAR (the ECAM window it moves and then uses). */
#include <glib.h>

#include "pci-test-board.h"

#define PAM0      0x90
#define PCIEXBAR  0x60
#define ALIAS     HGR_PCI_ECAM_ALIAS_BASE

static uint32_t alias_read(TestBoard *tb, unsigned devfn, uint32_t off, unsigned len)
{
    return (uint32_t)test_io(&tb->mmio, ALIAS + ((uint64_t)devfn << 12) + off, len);
}

/* What SeaBIOS's make_bios_writable_intel() does, then reads back. */
static void test_pam(void)
{
    TestBoard *tb = test_board_new(NULL);

    g_assert_cmphex(test_cf8_read(tb, 0, 0, PAM0, 1), ==, 0);   /* "no RAM": copy BIOS */
    test_cf8_write(tb, 0, PAM0, 4, 0x33333330 | 0xff);
    test_cf8_write(tb, 0, PAM0 + 4, 4, 0xff333333);
    g_assert_cmphex(test_cf8_read(tb, 0, 0, PAM0, 4), ==, 0x33333330);
    /* Only the seven PAM bytes; 0x97 stays read-only. */
    g_assert_cmphex(test_cf8_read(tb, 0, 0, PAM0 + 4, 4), ==, 0x00333333);
    /* make_bios_readonly: read-only RAM (0x11) everywhere. */
    test_cf8_write(tb, 0, PAM0, 4, 0x11111110);
    g_assert_cmphex(test_cf8_read(tb, 0, 0, PAM0, 4), ==, 0x11111110);
    tb->host_bridge->ops->reset(tb->host_bridge);
    g_assert_cmphex(test_cf8_read(tb, 0, 0, PAM0, 4), ==, 0);
    test_board_free(tb, true);
}

static void test_pciexbar(void)
{
    TestBoard *tb = test_board_new(NULL);

    /* Off at power-on: the window reads all ones, writes go nowhere. */
    g_assert_cmphex(alias_read(tb, 0, 0, 4), ==, 0xffffffff);
    test_io_write(&tb->mmio, ALIAS + PCIEXBAR, 4, ALIAS | 1);
    g_assert_cmphex(test_cf8_read(tb, 0, 0, PCIEXBAR, 4), ==, 0);
    /* mch_mmconfig_setup(): low 0, high 0, then base | enable. */
    test_cf8_write(tb, 0, PCIEXBAR, 4, 0);
    test_cf8_write(tb, 0, PCIEXBAR + 4, 4, 0);
    test_cf8_write(tb, 0, PCIEXBAR, 4, (uint32_t)ALIAS | 1);
    g_assert_cmphex(alias_read(tb, 0, 0, 4), ==, 0x29c08086);
    g_assert_cmphex(alias_read(tb, 0, PCIEXBAR, 4), ==, (uint32_t)ALIAS | 1);
    /* Writes through the window land in the same config space. */
    test_io_write(&tb->mmio, ALIAS + PAM0 + 1, 1, 0x33);
    g_assert_cmphex(test_cfg_read(tb, 0, PAM0 + 1, 1), ==, 0x33);
    /* Empty slots and other buses: all ones. */
    g_assert_cmphex(alias_read(tb, 31 << 3, 0, 4), ==, 0xffffffff);
    g_assert_cmphex(test_io(&tb->mmio, ALIAS + (1u << 20), 4), ==, 0xffffffff);
    /* Elsewhere or with a smaller size, the window is not there. */
    test_cf8_write(tb, 0, PCIEXBAR, 4, 0x80000001);
    g_assert_cmphex(alias_read(tb, 0, 0, 4), ==, 0xffffffff);
    test_cf8_write(tb, 0, PCIEXBAR, 4, (uint32_t)ALIAS | 3);
    g_assert_cmphex(alias_read(tb, 0, 0, 4), ==, 0xffffffff);
    test_board_free(tb, true);
}

static void test_save_load(void)
{
    TestBoard *a = test_board_new(NULL), *b = test_board_new(NULL);

    test_cf8_write(a, 0, PAM0, 4, 0x33333330);
    test_cf8_write(a, 0, PCIEXBAR, 4, (uint32_t)ALIAS | 1);
    g_autoptr(GByteArray) s = test_save(a->host_bridge);
    g_assert_true(test_load(b->host_bridge, s, NULL));
    g_assert_cmphex(test_cf8_read(b, 0, 0, PAM0, 4), ==, 0x33333330);
    g_assert_cmphex(alias_read(b, 0, 0, 2), ==, 0x8086);
    g_autoptr(GByteArray) s2 = test_save(b->host_bridge);
    g_assert_cmpmem(s->data, s->len, s2->data, s2->len);
    test_board_free(a, true);
    test_board_free(b, true);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/pci-host/pam", test_pam);
    g_test_add_func("/vmm/pci-host/pciexbar", test_pciexbar);
    g_test_add_func("/vmm/pci-host/save-load", test_save_load);
    return g_test_run();
}
