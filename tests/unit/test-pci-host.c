/* test-pci-host.c — the q35 host bridge registers SeaBIOS programs: PAM
 * (BIOS shadowing) and PCIEXBAR (where ECAM is). */
#include <glib.h>

#include "pci-test-board.h"

#define PAM0      0x90
#define PCIEXBAR  0x60
#define ECAM      HGR_PCI_ECAM_BASE

static uint32_t ecam_read(TestBoard *tb, unsigned devfn, uint32_t off, unsigned len)
{
    return (uint32_t)test_io(&tb->mmio, ECAM + ((uint64_t)devfn << 12) + off, len);
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

/* PCIEXBAR reads back where ECAM is: where SeaBIOS's mch_mmconfig_setup()
 * puts it on a q35, so the firmware's ECAM and the ACPI MCFG's agree. */
static void test_pciexbar(void)
{
    TestBoard *tb = test_board_new(NULL);

    g_assert_cmphex(test_cf8_read(tb, 0, 0, PCIEXBAR, 4), ==, (uint32_t)ECAM | 1);
    g_assert_cmphex(test_cf8_read(tb, 0, 0, PCIEXBAR + 4, 4), ==, 0);
    /* mch_mmconfig_setup(): low 0, high 0, then base | enable. */
    test_cf8_write(tb, 0, PCIEXBAR, 4, 0);
    test_cf8_write(tb, 0, PCIEXBAR + 4, 4, 0);
    test_cf8_write(tb, 0, PCIEXBAR, 4, (uint32_t)ECAM | 1);
    g_assert_cmphex(ecam_read(tb, 0, 0, 4), ==, 0x29c08086);
    g_assert_cmphex(ecam_read(tb, 0, PCIEXBAR, 4), ==, (uint32_t)ECAM | 1);
    /* Writes through ECAM land in the same config space as 0xcf8's. */
    test_io_write(&tb->mmio, ECAM + PAM0 + 1, 1, 0x33);
    g_assert_cmphex(test_cfg_read(tb, 0, PAM0 + 1, 1), ==, 0x33);
    /* Empty slots: all ones. */
    g_assert_cmphex(ecam_read(tb, 31 << 3, 0, 4), ==, 0xffffffff);
    /* Reset puts the register back where ECAM is. */
    test_cf8_write(tb, 0, PCIEXBAR, 4, 0x80000001);
    tb->host_bridge->ops->reset(tb->host_bridge);
    g_assert_cmphex(test_cf8_read(tb, 0, 0, PCIEXBAR, 4), ==, (uint32_t)ECAM | 1);
    test_board_free(tb, true);
}

static void test_save_load(void)
{
    TestBoard *a = test_board_new(NULL), *b = test_board_new(NULL);

    test_cf8_write(a, 0, PAM0, 4, 0x33333330);
    test_cf8_write(a, 0, PCIEXBAR, 4, (uint32_t)ECAM | 1);
    g_autoptr(GByteArray) s = test_save(a->host_bridge);
    g_assert_true(test_load(b->host_bridge, s, NULL));
    g_assert_cmphex(test_cf8_read(b, 0, 0, PAM0, 4), ==, 0x33333330);
    g_assert_cmphex(ecam_read(b, 0, 0, 2), ==, 0x8086);
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
