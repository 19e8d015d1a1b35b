/* test-pci.c — config space masks, BAR sizing and moving, capabilities,
 * CF8/CFC vs ECAM, the host bridge, and PCI state save/load. */
#include <glib.h>
#include <string.h>

#include <hangar/vm.h>

#include "pci-test-board.h"

/* A device with one BAR of each kind and three capabilities. */
typedef struct {
    HgrPciDevice pdev;
    unsigned moved[HGR_PCI_NUM_BARS];
    uint64_t last_off;
    unsigned last_bar;
} TestDev;

#define DEVFN     (1 << 3)        /* slot 1: after the host bridge */
#define BAR0_SIZE 0x1000
#define BAR2_SIZE 0x4000
#define BAR4_SIZE 0x20

static void bar_fn(TestDev *t, unsigned bar, uint64_t off, uint8_t *data, unsigned len,
                   bool w)
{
    t->last_off = off;
    t->last_bar = bar;
    if (!w)
        hgr_io_put(data, len, 0xba000000 | bar << 16 | off);
}

static void bar0_io(void *o, uint64_t off, uint8_t *d, unsigned len, bool w) { bar_fn(o, 0, off, d, len, w); }
static void bar2_io(void *o, uint64_t off, uint8_t *d, unsigned len, bool w) { bar_fn(o, 2, off, d, len, w); }
static void bar4_io(void *o, uint64_t off, uint8_t *d, unsigned len, bool w) { bar_fn(o, 4, off, d, len, w); }

static void test_dev_moved(HgrPciDevice *pdev, unsigned bar)
{
    ((TestDev *)pdev)->moved[bar]++;
}

static const HgrPciHooks test_dev_hooks = { .bar_moved = test_dev_moved };

static bool test_dev_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    return hgr_pci_bus_add_device(board->pci, (HgrPciDevice *)dev, -1, error);
}

static void test_dev_destroy(HgrDevice *dev)
{
    hgr_pci_device_finalize((HgrPciDevice *)dev);
    g_free(dev);
}

static const HgrDeviceOps test_dev_ops = {
    .name = "test-pci",
    .state_version = 1,
    .state_size = sizeof(HgrPciState),
    .realize = test_dev_realize,
    .get_state = hgr_pci_config_only_get_state,
    .visit_state = hgr_pci_config_only_visit_state,
    .check_state = hgr_pci_config_only_check_state,
    .set_state = hgr_pci_config_only_set_state,
    .destroy = test_dev_destroy,
};

static TestDev *test_dev_new(TestBoard *tb)
{
    TestDev *t = g_new0(TestDev, 1);
    HgrPciDevice *p = &t->pdev;

    hgr_pci_device_init(p, &test_dev_ops, "test-pci", 0x1234, 0x5678, 0xff0000, 7);
    p->hooks = &test_dev_hooks;
    hgr_pci_init_bar(p, 0, HGR_PCI_BAR_MEM32, BAR0_SIZE, bar0_io, t);
    hgr_pci_init_bar(p, 2, HGR_PCI_BAR_MEM64, BAR2_SIZE, bar2_io, t);
    hgr_pci_init_bar(p, 4, HGR_PCI_BAR_IO, BAR4_SIZE, bar4_io, t);
    g_assert_cmpuint(hgr_pci_add_capability(p, PCI_CAP_ID_VNDR, 5), ==, 0x40);
    g_assert_cmpuint(hgr_pci_add_capability(p, 0x05, 10), ==, 0x48);
    g_assert_cmpuint(hgr_pci_add_capability(p, PCI_CAP_ID_MSIX, 12), ==, 0x54);
    g_assert_true(test_dev_ops.realize(&t->pdev.dev, &tb->board, NULL));
    return t;
}

typedef struct {
    TestBoard *tb;
    TestDev *dev;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    f->tb = test_board_new(NULL);
    f->dev = test_dev_new(f->tb);
}

static void teardown(Fixture *f, gconstpointer data)
{
    hgr_device_free(&f->dev->pdev.dev);
    test_board_free(f->tb, true);
}

static void enable_decode(Fixture *f)
{
    test_cfg_write(f->tb, DEVFN, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
}

static void test_host_bridge_ids(Fixture *f, gconstpointer data)
{
    g_assert_cmphex(test_cf8_read(f->tb, 0, 0, 0, 4), ==, 0x29c08086);
    g_assert_cmphex(test_cf8_read(f->tb, 0, 0, 0x0a, 2), ==, 0x0600);
    g_assert_cmphex(test_cf8_read(f->tb, 0, 0, PCI_HEADER_TYPE, 1), ==, 0);
}

static void test_config_masks(Fixture *f, gconstpointer data)
{
    TestBoard *tb = f->tb;

    /* IDs, class, revision, header type, capability pointer: read-only. */
    test_cfg_write(tb, DEVFN, 0, 4, 0xffffffff);
    test_cfg_write(tb, DEVFN, 0x08, 4, 0);
    test_cfg_write(tb, DEVFN, PCI_CAPABILITY_LIST, 1, 0x80);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, 0, 4), ==, 0x56781234);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, 0x08, 4), ==, 0xff000007);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, PCI_CAPABILITY_LIST, 1), ==, 0x40);

    /* Command: only the bits a device implements. */
    test_cfg_write(tb, DEVFN, PCI_COMMAND, 2, 0xffff);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, PCI_COMMAND, 2), ==, 0x0547);
    test_cfg_write(tb, DEVFN, PCI_COMMAND, 2, 0);

    /* Status: error bits clear when written with 1, the capability bit stays. */
    hgr_pci_config_set(&f->dev->pdev, PCI_STATUS, 2, 0x8000 | 0x2000 | PCI_STATUS_CAP_LIST);
    test_cfg_write(tb, DEVFN, PCI_STATUS, 2, 0x2000 | PCI_STATUS_CAP_LIST);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, PCI_STATUS, 2), ==, 0x8000 | PCI_STATUS_CAP_LIST);
    test_cfg_write(tb, DEVFN, PCI_STATUS, 2, 0xffff);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, PCI_STATUS, 2), ==, PCI_STATUS_CAP_LIST);

    /* Interrupt line is scratch for the OS; the pin is not. */
    test_cfg_write(tb, DEVFN, PCI_INTERRUPT_LINE, 2, 0x0b0b);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, PCI_INTERRUPT_LINE, 2), ==, 0x000b);

    /* Writes past the end of config space or spanning it do nothing. */
    test_cfg_write(tb, DEVFN, 0xffe, 4, 0xffffffff);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, 0xffc, 4), ==, 0);
}

/* The sizing protocol: write all ones, read back the size mask and the
 * type bits, restore. */
static void test_bar_sizing(Fixture *f, gconstpointer data)
{
    TestBoard *tb = f->tb;
    uint32_t saved[6];

    for (unsigned i = 0; i < 6; i++) {
        saved[i] = test_cfg_read(tb, DEVFN, PCI_BASE_ADDRESS_0 + 4 * i, 4);
        test_cfg_write(tb, DEVFN, PCI_BASE_ADDRESS_0 + 4 * i, 4, 0xffffffff);
    }
    g_assert_cmphex(test_cfg_read(tb, DEVFN, 0x10, 4), ==, (uint32_t)~(BAR0_SIZE - 1));
    g_assert_cmphex(test_cfg_read(tb, DEVFN, 0x14, 4), ==, 0);              /* unused */
    g_assert_cmphex(test_cfg_read(tb, DEVFN, 0x18, 4), ==, (uint32_t)~(BAR2_SIZE - 1) | 0x4);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, 0x1c, 4), ==, 0xffffffff);     /* 64-bit upper */
    g_assert_cmphex(test_cfg_read(tb, DEVFN, 0x20, 4), ==, (uint32_t)~(BAR4_SIZE - 1) | 0x1);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, 0x24, 4), ==, 0);
    for (unsigned i = 0; i < 6; i++)
        test_cfg_write(tb, DEVFN, PCI_BASE_ADDRESS_0 + 4 * i, 4, saved[i]);

    /* Pre-assigned: inside the windows, naturally aligned. */
    uint64_t b0 = saved[0] & ~0xfu, b2 = (saved[2] & ~0xfu) | (uint64_t)saved[3] << 32;
    g_assert_cmphex(b0, >=, HGR_PCI_MMIO_BASE);
    g_assert_cmphex(b0 % BAR0_SIZE, ==, 0);
    g_assert_cmphex(b2, >=, hgr_mem_top(&tb->mem));
    g_assert_cmphex(b2 % BAR2_SIZE, ==, 0);
    g_assert_cmphex(saved[4] & ~3u, >=, HGR_PCI_IO_BASE);
}

static void test_bar_64bit_dispatch(Fixture *f, gconstpointer data)
{
    TestBoard *tb = f->tb;
    uint64_t addr = hgr_mem_top(&tb->mem) + 0x12340000;

    test_cfg_write(tb, DEVFN, 0x18, 4, (uint32_t)addr);
    test_cfg_write(tb, DEVFN, 0x1c, 4, (uint32_t)(addr >> 32));
    g_assert_cmphex(test_io(&tb->mmio, addr + 8, 4), ==, 0xffffffff);    /* decode off */
    enable_decode(f);
    g_assert_cmphex(hgr_pci_bar_address(&f->dev->pdev, 2), ==, addr);
    g_assert_cmphex(test_io(&tb->mmio, addr + 0x3ffc, 4), ==, 0xba023ffc);
    g_assert_cmphex(test_io(&tb->mmio, addr + BAR2_SIZE, 4), ==, 0xffffffff);
    /* The I/O BAR answers on ports. */
    uint32_t io = test_cfg_read(tb, DEVFN, 0x20, 4) & ~3u;
    g_assert_cmphex(test_io(&tb->pio, io + 4, 2), ==, 0x0004);
}

static void test_capability_walk(Fixture *f, gconstpointer data)
{
    const uint8_t want[] = { PCI_CAP_ID_VNDR, 0x05, PCI_CAP_ID_MSIX };
    unsigned n = 0;

    g_assert_true(test_cfg_read(f->tb, DEVFN, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    for (uint32_t p = test_cfg_read(f->tb, DEVFN, PCI_CAPABILITY_LIST, 1); p && n < 48;
         p = test_cfg_read(f->tb, DEVFN, p + 1, 1)) {
        g_assert_cmpuint(p % 4, ==, 0);
        g_assert_cmpuint(p, >=, 0x40);
        g_assert_cmpuint(n, <, G_N_ELEMENTS(want));
        g_assert_cmphex(test_cfg_read(f->tb, DEVFN, p, 1), ==, want[n]);
        n++;
    }
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(want));
    /* The host bridge has none. */
    g_assert_false(test_cfg_read(f->tb, 0, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
}

static void test_cf8_ecam_same_view(Fixture *f, gconstpointer data)
{
    TestBoard *tb = f->tb;

    enable_decode(f);
    for (unsigned devfn = 0; devfn < 256; devfn += 1)
        for (uint32_t off = 0; off < 256; off += 4)
            g_assert_cmphex(test_cf8_read(tb, 0, devfn, off, 4), ==,
                            test_cfg_read(tb, devfn, off, 4));
    /* Byte and word reads inside the dword. */
    g_assert_cmphex(test_cf8_read(tb, 0, DEVFN, 2, 2), ==, 0x5678);
    g_assert_cmphex(test_cf8_read(tb, 0, DEVFN, 3, 1), ==, 0x56);
    /* A write one way is seen the other. */
    test_cf8_write(tb, DEVFN, PCI_INTERRUPT_LINE, 1, 0x0a);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, PCI_INTERRUPT_LINE, 1), ==, 0x0a);
    test_cfg_write(tb, DEVFN, PCI_INTERRUPT_LINE, 1, 0x05);
    g_assert_cmphex(test_cf8_read(tb, 0, DEVFN, PCI_INTERRUPT_LINE, 1), ==, 0x05);
    /* CONFIG_ADDRESS reads back; a byte write to it (the type-2 probe) does not latch. */
    test_io_write(&tb->pio, 0xcf8, 4, 0x80000800);
    test_io_write(&tb->pio, 0xcf8, 1, 0);
    g_assert_cmphex(test_io(&tb->pio, 0xcf8, 4), ==, 0x80000800);
}

static void test_unmapped_all_ones(Fixture *f, gconstpointer data)
{
    TestBoard *tb = f->tb;

    g_assert_cmphex(test_cfg_read(tb, 5 << 3, 0, 4), ==, 0xffffffff);          /* empty slot */
    g_assert_cmphex(test_cfg_read(tb, 1, 0, 4), ==, 0xffffffff);               /* function 1 */
    g_assert_cmphex(test_io(&tb->mmio, HGR_PCI_ECAM_BASE + (1 << 20), 4), ==, 0xffffffff);
    g_assert_cmphex(test_cf8_read(tb, 1, 0, 0, 4), ==, 0xffffffff);            /* bus 1 */
    test_io_write(&tb->pio, 0xcf8, 4, 0);                                      /* disabled */
    g_assert_cmphex(test_io(&tb->pio, 0xcfc, 4), ==, 0xffffffff);
    test_cfg_write(tb, 7 << 3, PCI_COMMAND, 2, 0xffff);                        /* no crash */
    g_assert_cmphex(test_io(&tb->mmio, HGR_PCI_MMIO_BASE + 0x1000000, 4), ==, 0xffffffff);
}

static void test_bar_move(Fixture *f, gconstpointer data)
{
    TestBoard *tb = f->tb;
    uint64_t a = HGR_PCI_MMIO_BASE + 0x100000, b = HGR_PCI_MMIO_BASE + 0x200000;

    test_cfg_write(tb, DEVFN, 0x10, 4, (uint32_t)a);
    enable_decode(f);
    unsigned moves = f->dev->moved[0];
    g_assert_cmphex(test_io(&tb->mmio, a + 8, 4), ==, 0xba000008);
    test_cfg_write(tb, DEVFN, 0x10, 4, (uint32_t)b);
    g_assert_cmpuint(f->dev->moved[0], ==, moves + 1);
    g_assert_cmphex(test_io(&tb->mmio, a + 8, 4), ==, 0xffffffff);
    g_assert_cmphex(test_io(&tb->mmio, b + 8, 4), ==, 0xba000008);
    test_io_write(&tb->mmio, b + 0x20, 4, 1);
    g_assert_cmpuint(f->dev->last_off, ==, 0x20);
    /* Decode off: gone, and the device hears of it. */
    test_cfg_write(tb, DEVFN, PCI_COMMAND, 2, 0);
    g_assert_cmpuint(f->dev->moved[0], ==, moves + 2);
    g_assert_cmphex(hgr_pci_bar_address(&f->dev->pdev, 0), ==, HGR_PCI_BAR_UNMAPPED);
    g_assert_cmphex(test_io(&tb->mmio, b + 8, 4), ==, 0xffffffff);
    /* Outside the window: not decoded even with decode on. */
    test_cfg_write(tb, DEVFN, 0x10, 4, 0xff000000);       /* above the IOAPIC */
    enable_decode(f);
    g_assert_cmphex(hgr_pci_bar_address(&f->dev->pdev, 0), ==, HGR_PCI_BAR_UNMAPPED);
}

/* A vCPU reading the BAR while another moves it sees the device at the
 * right offset or nothing, never another offset. */
typedef struct {
    Fixture *f;
    gint stop;
    gint moves;
} Race;

static gpointer mover(gpointer data)
{
    Race *r = data;
    for (unsigned i = 0; !g_atomic_int_get(&r->stop); i++) {
        test_cfg_write(r->f->tb, DEVFN, 0x10, 4, HGR_PCI_MMIO_BASE + 0x100000 * (1 + i % 2));
        test_cfg_write(r->f->tb, DEVFN, PCI_COMMAND, 2, i % 3 ? PCI_COMMAND_MEMORY : 0);
        g_atomic_int_inc(&r->moves);
    }
    return NULL;
}

static void test_bar_move_race(Fixture *f, gconstpointer data)
{
    Race r = { .f = f };
    GThread *t = g_thread_new("mover", mover, &r);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    unsigned hits = 0, misses = 0;

    for (unsigned i = 0; (hits < 1000 || misses < 1000 || g_atomic_int_get(&r.moves) < 10000) &&
                         g_get_monotonic_time() < deadline; i++) {
        uint64_t base = HGR_PCI_MMIO_BASE + 0x100000 * (1 + i % 2);
        uint32_t v = (uint32_t)test_io(&f->tb->mmio, base + 0x40, 4);
        g_assert_true(v == 0xffffffff || v == 0xba000040);
        hits += v != 0xffffffff;
        misses += v == 0xffffffff;
    }
    g_atomic_int_set(&r.stop, 1);
    g_thread_join(t);
    g_assert_cmpuint(hits, >=, 1000);                /* the race really happened */
    g_assert_cmpuint(misses, >=, 1000);
}

static void test_reset(Fixture *f, gconstpointer data)
{
    TestBoard *tb = f->tb;
    uint32_t bar0 = test_cfg_read(tb, DEVFN, 0x10, 4);

    test_cfg_write(tb, DEVFN, 0x10, 4, HGR_PCI_MMIO_BASE + 0x800000);
    enable_decode(f);
    test_cfg_write(tb, DEVFN, PCI_INTERRUPT_LINE, 1, 9);
    hgr_pci_device_reset(&f->dev->pdev);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, 0x10, 4), ==, bar0);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, PCI_COMMAND, 2), ==, 0);
    g_assert_cmphex(test_cfg_read(tb, DEVFN, PCI_INTERRUPT_LINE, 1), ==, 0);
    g_assert_cmphex(hgr_pci_bar_address(&f->dev->pdev, 0), ==, HGR_PCI_BAR_UNMAPPED);
}

static void test_save_load(Fixture *f, gconstpointer data)
{
    TestBoard *tb = f->tb;
    uint64_t a = HGR_PCI_MMIO_BASE + 0x300000;

    test_cfg_write(tb, DEVFN, 0x10, 4, (uint32_t)a);
    enable_decode(f);
    test_cfg_write(tb, DEVFN, PCI_INTERRUPT_LINE, 1, 11);
    g_autoptr(GByteArray) s = test_save(&f->dev->pdev.dev);

    TestBoard *tb2 = test_board_new(NULL);
    TestDev *d2 = test_dev_new(tb2);
    g_autoptr(GError) err = NULL;
    g_assert_true(test_load(&d2->pdev.dev, s, &err));
    g_assert_no_error(err);
    g_autoptr(GByteArray) s2 = test_save(&d2->pdev.dev);
    g_assert_cmpmem(s->data, s->len, s2->data, s2->len);
    /* The loaded BAR decodes where the saved one did. */
    g_assert_cmphex(test_io(&tb2->mmio, a + 4, 4), ==, 0xba000004);
    g_assert_cmpuint(d2->moved[0], >=, 1);

    /* A saved state of another device (a read-only ID differs) is refused
     * and the live device keeps its config. */
    g_autoptr(GByteArray) bad = g_byte_array_new();
    HgrPciState st;
    hgr_pci_get_state(&f->dev->pdev, &st);
    st.config[PCI_DEVICE_ID] ^= 1;
    g_autoptr(GByteArray) data_bytes = g_byte_array_new();
    g_autoptr(HgrVisitor) v = hgr_visitor_new_save(data_bytes);
    hgr_pci_visit_state(v, &st);
    hgr_state_write_section(bad, "test-pci", 1, data_bytes->data, data_bytes->len);
    g_clear_error(&err);
    g_assert_false(test_load(&d2->pdev.dev, bad, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
    g_autoptr(GByteArray) s3 = test_save(&d2->pdev.dev);
    g_assert_cmpmem(s->data, s->len, s3->data, s3->len);

    /* Truncated: refused. */
    g_autoptr(GByteArray) cut = g_byte_array_new();
    hgr_state_write_section(cut, "test-pci", 1, data_bytes->data, data_bytes->len - 1);
    g_clear_error(&err);
    g_assert_false(test_load(&d2->pdev.dev, cut, &err));

    hgr_device_free(&d2->pdev.dev);
    test_board_free(tb2, true);
}

static void test_host_bridge_roundtrip(Fixture *f, gconstpointer data)
{
    test_cf8_write(f->tb, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    g_autoptr(GByteArray) s = test_save(f->tb->host_bridge);
    TestBoard *tb2 = test_board_new(NULL);
    g_assert_true(test_load(tb2->host_bridge, s, NULL));
    g_autoptr(GByteArray) s2 = test_save(tb2->host_bridge);
    g_assert_cmpmem(s->data, s->len, s2->data, s2->len);
    test_board_free(tb2, true);
}

static void test_no_bus(void)
{
    HgrBoard board = { .vm_fd = -1 };
    HgrDevice *hb = hgr_pci_host_bridge_new();
    g_autoptr(GError) err = NULL;

    g_assert_false(hb->ops->realize(hb, &board, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG);
    hgr_device_free(hb);
}

#define ADD(path, fn) g_test_add("/vmm/pci/" path, Fixture, NULL, setup, fn, teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("host-bridge-ids", test_host_bridge_ids);
    ADD("config-masks", test_config_masks);
    ADD("bar-sizing", test_bar_sizing);
    ADD("bar-64bit-dispatch", test_bar_64bit_dispatch);
    ADD("capability-walk", test_capability_walk);
    ADD("cf8-ecam-same-view", test_cf8_ecam_same_view);
    ADD("unmapped-all-ones", test_unmapped_all_ones);
    ADD("bar-move", test_bar_move);
    ADD("bar-move-race", test_bar_move_race);
    ADD("reset", test_reset);
    ADD("save-load", test_save_load);
    ADD("host-bridge-roundtrip", test_host_bridge_roundtrip);
    g_test_add_func("/vmm/pci/no-bus", test_no_bus);
    return g_test_run();
}
