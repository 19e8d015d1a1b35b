/* test-ich9-lpc.c — the LPC bridge as OVMF's ACPI timer library and
 * SeaBIOS read it: at 00:1f.0, PMBASE where Hangar's PM block is and ACPI
 * already enabled, so they use the PM timer the ACPI tables describe. */
#include <glib.h>

#include "core/pc.h"
#include "pci-test-board.h"

#define LPC_DEVFN (0x1f << 3)

static HgrDevice *add_lpc(TestBoard *tb)
{
    HgrDevice *lpc = hgr_pci_lpc_new();
    g_assert_true(lpc->ops->realize(lpc, &tb->board, NULL));
    return lpc;
}

static void test_pm_registers(void)
{
    TestBoard *tb = test_board_new(NULL);
    HgrDevice *lpc = add_lpc(tb);

    g_assert_cmphex(test_cf8_read(tb, 0, LPC_DEVFN, 0, 4), ==, 0x29188086);
    g_assert_cmphex(test_cf8_read(tb, 0, LPC_DEVFN, 0x08, 4) >> 8, ==, 0x060100);
    /* What OVMF computes its timer port from: (PMBASE & ~1) + 8. */
    uint32_t pmba = test_cf8_read(tb, 0, LPC_DEVFN, 0x40, 4);
    g_assert_cmphex((pmba & ~1u) + 8, ==, HGR_PC_PM_TMR);
    g_assert_cmphex(test_cf8_read(tb, 0, LPC_DEVFN, 0x44, 1) & 0x80, ==, 0x80);
    /* A firmware relocating the block is not followed: it stays where the
     * FADT says. */
    test_cf8_write(tb, LPC_DEVFN, 0x40, 4, 0xb001);
    test_cf8_write(tb, LPC_DEVFN, 0x44, 4, 0);
    g_assert_cmphex(test_cf8_read(tb, 0, LPC_DEVFN, 0x40, 4), ==, pmba);
    g_assert_cmphex(test_cf8_read(tb, 0, LPC_DEVFN, 0x44, 1), ==, 0x80);
    hgr_device_free(lpc);
    test_board_free(tb, true);
}

/* PIRQ routing and RCBA read back what firmware wrote, until reset. */
static void test_routing_registers(void)
{
    TestBoard *tb = test_board_new(NULL);
    HgrDevice *lpc = add_lpc(tb);

    g_assert_cmphex(test_cf8_read(tb, 0, LPC_DEVFN, 0x60, 4), ==, 0x80808080);
    test_cf8_write(tb, LPC_DEVFN, 0x60, 4, 0x0b0b0a0a);
    test_cf8_write(tb, LPC_DEVFN, 0x68, 4, 0x0b0b0a0a);
    test_cf8_write(tb, LPC_DEVFN, 0xf0, 4, 0xfed1c001);
    g_assert_cmphex(test_cf8_read(tb, 0, LPC_DEVFN, 0x60, 4), ==, 0x0b0b0a0a);
    g_assert_cmphex(test_cf8_read(tb, 0, LPC_DEVFN, 0x68, 4), ==, 0x0b0b0a0a);
    g_assert_cmphex(test_cf8_read(tb, 0, LPC_DEVFN, 0xf0, 4), ==, 0xfed1c001);
    lpc->ops->reset(lpc);
    g_assert_cmphex(test_cf8_read(tb, 0, LPC_DEVFN, 0x60, 4), ==, 0x80808080);
    g_assert_cmphex(test_cf8_read(tb, 0, LPC_DEVFN, 0xf0, 4), ==, 0);
    hgr_device_free(lpc);
    test_board_free(tb, true);
}

static void test_save_load(void)
{
    TestBoard *a = test_board_new(NULL), *b = test_board_new(NULL);
    HgrDevice *la = add_lpc(a), *lb = add_lpc(b);

    test_cf8_write(a, LPC_DEVFN, 0x60, 4, 0x0a0b0a0b);
    g_autoptr(GByteArray) s = test_save(la);
    g_assert_true(test_load(lb, s, NULL));
    g_assert_cmphex(test_cf8_read(b, 0, LPC_DEVFN, 0x60, 4), ==, 0x0a0b0a0b);
    g_autoptr(GByteArray) s2 = test_save(lb);
    g_assert_cmpmem(s->data, s->len, s2->data, s2->len);
    hgr_device_free(la);
    hgr_device_free(lb);
    test_board_free(a, true);
    test_board_free(b, true);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/ich9-lpc/pm-registers", test_pm_registers);
    g_test_add_func("/vmm/ich9-lpc/routing-registers", test_routing_registers);
    g_test_add_func("/vmm/ich9-lpc/save-load", test_save_load);
    return g_test_run();
}
