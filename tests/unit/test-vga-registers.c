/* test-vga-registers.c — the VGA as the guest and the board see it: PCI
 * identity and what Linux's bochs DRM driver probes, the legacy VGA ports,
 * hostile dispi programming (surface size and VRAM bounds hold whatever the
 * guest writes), save/load of the registers, and where VRAM is mapped. */
#include <sys/mman.h>

#include "vga-fixture.h"

static void test_pci_identity(void)
{
    Fixture f;
    fixture_init(&f);
    unsigned devfn = ((HgrPciDevice *)f.dev)->slot << 3;

    g_assert_cmphex(test_cfg_read(f.tb, devfn, PCI_VENDOR_ID, 4), ==, 0x11111234);
    g_assert_cmphex(test_cfg_read(f.tb, devfn, 0x08, 4) >> 8, ==, 0x030000);
    /* BAR0: 16 MiB prefetchable memory; BAR2: 4 KiB memory. */
    test_cfg_write(f.tb, devfn, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    g_assert_cmphex(test_cfg_read(f.tb, devfn, PCI_BASE_ADDRESS_0, 4), ==, 0xff000008);
    test_cfg_write(f.tb, devfn, PCI_BASE_ADDRESS_0 + 8, 4, 0xffffffff);
    g_assert_cmphex(test_cfg_read(f.tb, devfn, PCI_BASE_ADDRESS_0 + 8, 4), ==, 0xfffff000);
    fixture_fini(&f);
}

/* What Linux's bochs DRM driver checks before it takes the device
 * (bochs_hw_init): the dispi ID through BAR2 at 0x500, the VRAM size it
 * reports against BAR0's, and on PCI revision 2 QEMU's extended registers
 * at 0x600 (block size, framebuffer byte order). */
static void test_bochs_drm_probe(void)
{
    Fixture f;
    fixture_init(&f);
    HgrPciDevice *pdev = (HgrPciDevice *)f.dev;
    unsigned devfn = pdev->slot << 3;

    g_assert_cmphex(test_cfg_read(f.tb, devfn, 0x08, 1), >=, 2);        /* revision */
    g_assert_cmphex(test_cfg_read(f.tb, devfn, 0x2c, 4), ==, 0x11001af4); /* subsystem */
    test_cfg_write(f.tb, devfn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    uint64_t bar2 = hgr_pci_bar_address(pdev, 2);
    g_assert_cmpuint(bar2, !=, HGR_PCI_BAR_UNMAPPED);

    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x500 + 2 * VBE_ID, 2) & 0xfff0, ==, 0xb0c0);
    g_assert_cmpuint(test_io(&f.tb->mmio, bar2 + 0x500 + 2 * VBE_VIDEO_MEMORY_64K, 2) << 16,
                     ==, f.vram_size);
    test_cfg_write(f.tb, devfn, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    g_assert_cmpuint(~(test_cfg_read(f.tb, devfn, PCI_BASE_ADDRESS_0, 4) & ~0xfu) + 1, ==,
                     f.vram_size);

    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x600, 4), ==, 8);
    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x604, 4), ==, 0x1e1e1e1e);
    /* Little endian is all there is: asking for big endian changes nothing
     * and says so; byte reads and reads past the block are harmless. */
    test_io_write(&f.tb->mmio, bar2 + 0x604, 4, 0xbebebebe);
    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x604, 4), ==, 0x1e1e1e1e);
    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x607, 1), ==, 0x1e);
    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x606, 4), ==, 0xffffffff);
    g_assert_cmphex(test_io(&f.tb->mmio, bar2 + 0x608, 4), ==, 0xffffffff);
    /* No EDID blob at 0: its header does not parse, so the driver falls
     * back to its built-in modes. */
    g_assert_cmphex(test_io(&f.tb->mmio, bar2, 4), ==, 0xffffffff);
    fixture_fini(&f);
}

/* Whatever the registers say, the surface is a sane size and rendering
 * stays inside VRAM (the mapping is followed by a guard page). */
static void check_surface(Fixture *f)
{
    const HgrConsoleSurface *s = update(f, NULL, NULL);
    g_assert_cmpuint((uint64_t)s->width * s->height * 4, <=, 16u << 20);
    g_assert_cmpuint(s->width, <=, HGR_VGA_MAX_XRES);
    g_assert_cmpuint(s->height, <=, HGR_VGA_MAX_YRES);
}

static void test_hostile_dispi(void)
{
    static const uint16_t values[] = { 0, 1, 7, 8, 15, 24, 32, 33, 640, 1920, 2560, 4096,
                                       0x7fff, 0x8000, 0xfffe, 0xffff };
    Fixture f;
    fixture_init(&f);
    HgrPciDevice *pdev = (HgrPciDevice *)f.dev;
    Vga *v = (Vga *)f.dev;
    void *guard = mmap((uint8_t *)f.vram + f.vram_size, 4096, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

    /* Every register alone with every value, in an enabled mode. */
    for (unsigned reg = 0; reg < VBE_NUM_REGS + 2; reg++) {
        for (unsigned k = 0; k < G_N_ELEMENTS(values); k++) {
            set_mode(&f, 1920, 1080, 32);
            dispi_write(&f, reg, values[k]);
            check_surface(&f);
        }
    }
    /* Larger than VRAM: disabled; virtual width and offsets past VRAM: the
     * visible mode at the top of VRAM. */
    set_mode(&f, 2560, 1600, 32);
    g_assert_cmpuint(update(&f, NULL, NULL)->width, ==, 2560);
    dispi_write(&f, VBE_VIRT_WIDTH, 0xffff);
    dispi_write(&f, VBE_Y_OFFSET, 0xffff);
    dispi_write(&f, VBE_X_OFFSET, 0xffff);
    const HgrConsoleSurface *s = update(&f, NULL, NULL);
    g_assert_cmpuint(s->width, ==, 2560);
    g_assert_cmpuint(v->surface.height, ==, 1600);
    dispi_write(&f, VBE_ENABLE, 0);
    dispi_write(&f, VBE_XRES, 2560);
    dispi_write(&f, VBE_YRES, 1600);
    dispi_write(&f, VBE_BPP, 32);
    dispi_write(&f, VBE_VIRT_WIDTH, 4000);
    dispi_write(&f, VBE_ENABLE, VBE_ENABLED | VBE_NOCLEARMEM);
    g_assert_cmpuint(dispi_read(&f, VBE_VIRT_HEIGHT), ==, (16u << 20) / (2560 * 4));
    /* A bank past VRAM: writes dropped, reads all ones. */
    dispi_write(&f, VBE_BANK, 0xffff);
    test_io_write(&f.tb->mmio, 0xa0000, 4, 0x12345678);
    g_assert_cmphex(test_io(&f.tb->mmio, 0xa0000, 4), ==, 0xffffffff);
    dispi_write(&f, VBE_BANK, 255);
    test_io_write(&f.tb->mmio, 0xafffe, 2, 0xbeef);
    g_assert_cmphex(f.vram[f.vram_size - 1], ==, 0xbe);
    /* BAR0 access straddling the end of VRAM. */
    test_cfg_write(f.tb, pdev->slot << 3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    uint64_t bar0 = hgr_pci_bar_address(pdev, 0);
    test_io_write(&f.tb->mmio, bar0 + f.vram_size - 2, 4, 0);
    g_assert_cmphex(f.vram[f.vram_size - 1], ==, 0xbe);

    /* Random dispi programming, with frames in between (mode changes in
     * the middle of scanout are covered by the snapshot of registers). */
    GRand *rand = g_rand_new_with_seed(3);
    for (unsigned i = 0; i < 3000; i++) {
        unsigned reg = g_rand_int_range(rand, 0, VBE_NUM_REGS + 1);
        uint16_t val = g_rand_boolean(rand) ? values[g_rand_int_range(rand, 0, 16)]
                                            : (uint16_t)g_rand_int(rand);
        if (reg == VBE_ENABLE)
            val |= VBE_NOCLEARMEM;
        dispi_write(&f, reg, val);
        if (i % 37 == 0)
            check_surface(&f);
    }
    g_rand_free(rand);
    if (guard != MAP_FAILED)
        munmap(guard, 4096);
    fixture_fini(&f);
}

static void test_vga_ports(void)
{
    Fixture f;
    fixture_init(&f);

    /* Attribute flip-flop: index, data; reading 0x3da resets it. */
    test_io(&f.tb->pio, 0x3da, 1);
    test_io_write(&f.tb->pio, 0x3c0, 1, 0x01);
    test_io_write(&f.tb->pio, 0x3c0, 1, 0x3c);
    g_assert_cmphex(test_io(&f.tb->pio, 0x3c1, 1), ==, 0x3c);
    /* DAC read back, wrapping at 256 entries. */
    test_io_write(&f.tb->pio, 0x3c8, 1, 255);
    for (unsigned i = 0; i < 6; i++)
        test_io_write(&f.tb->pio, 0x3c9, 1, 10 + i);
    test_io_write(&f.tb->pio, 0x3c7, 1, 0);
    g_assert_cmphex(test_io(&f.tb->pio, 0x3c9, 1), ==, 13);
    /* CRTC 0-7 are write-protected by CR11 bit 7. */
    test_io_write(&f.tb->pio, 0x3d4, 2, 0x8011);
    test_io_write(&f.tb->pio, 0x3d4, 2, 0x1201);
    test_io_write(&f.tb->pio, 0x3d4, 1, 0x01);
    g_assert_cmphex(test_io(&f.tb->pio, 0x3d5, 1), ==, 0x4f);
    /* Out-of-range indexes read 0 and writes go nowhere. */
    test_io_write(&f.tb->pio, 0x3d4, 2, 0x55ff);
    g_assert_cmphex(test_io(&f.tb->pio, 0x3d5, 1), ==, 0);
    test_io_write(&f.tb->pio, 0x3ce, 2, 0x550e);
    g_assert_cmphex(test_io(&f.tb->pio, 0x3cf, 1), ==, 0);
    /* Planar writes reach every plane the map mask enables. */
    test_io_write(&f.tb->pio, 0x3c4, 2, 0x0604);      /* sequential, not chain 4 */
    test_io_write(&f.tb->pio, 0x3c4, 2, 0x0502);      /* planes 0 and 2 */
    test_io_write(&f.tb->pio, 0x3ce, 2, 0x0506);      /* graphics, 0xa0000 64K */
    test_io_write(&f.tb->mmio, 0xa0010, 1, 0x77);
    g_assert_cmphex(f.vram[0x40], ==, 0x77);
    g_assert_cmphex(f.vram[0x41], ==, 0);
    g_assert_cmphex(f.vram[0x42], ==, 0x77);
    test_io_write(&f.tb->pio, 0x3ce, 2, 0x0204);      /* read plane 2 */
    g_assert_cmphex(test_io(&f.tb->mmio, 0xa0010, 1), ==, 0x77);
    fixture_fini(&f);
}

static void test_save_load(void)
{
    Fixture a, b;
    g_autoptr(GError) err = NULL;
    fixture_init(&a);
    fixture_init(&b);

    set_mode(&a, 800, 600, 8);
    dispi_write(&a, VBE_Y_OFFSET, 3);
    test_io_write(&a.tb->pio, 0x3c8, 1, 9);
    test_io_write(&a.tb->pio, 0x3c9, 1, 0x11);
    test_io_write(&a.tb->pio, 0x3d4, 2, 0x330c);
    test_io_write(&a.tb->pio, 0x3c0, 1, 0x05);        /* flip-flop left at data */
    g_autoptr(GByteArray) saved = test_save(a.dev);
    g_assert_true(test_load(b.dev, saved, &err));
    g_assert_no_error(err);

    VgaState sa, sb;
    a.dev->ops->get_state(a.dev, &sa);
    b.dev->ops->get_state(b.dev, &sb);
    g_assert_cmpmem(&sa, sizeof(sa), &sb, sizeof(sb));
    g_assert_cmpuint(dispi_read(&b, VBE_XRES), ==, 800);
    g_assert_cmpuint(update(&b, NULL, NULL)->width, ==, 800);

    /* A state with an index out of range is rejected. */
    sb.dac_sub = 7;
    g_assert_false(b.dev->ops->check_state(b.dev, &sb, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
    fixture_fini(&a);
    fixture_fini(&b);
}

/* What the board was asked to map as RAM, last call first. */
typedef struct {
    unsigned calls;
    void *hva;
    uint64_t gpa, size;
} MapLog;

static bool record_map_ram(void *opaque, void *hva, uint64_t gpa, uint64_t size)
{
    MapLog *log = opaque;
    log->calls++;
    log->hva = hva;
    log->gpa = gpa;
    log->size = size;
    return true;
}

/* VRAM is guest RAM wherever BAR0 decodes (no exit per pixel), follows the
 * BAR when the guest moves it, and goes away when decode is switched off. */
static void test_vram_slot(void)
{
    g_autoptr(GError) err = NULL;
    MapLog log = { 0 };
    TestBoard *tb = test_board_new(NULL);
    tb->board.map_ram = record_map_ram;
    tb->board.opaque = &log;
    HgrDevice *dev = hgr_vga_new("vga");
    g_assert_true(dev->ops->realize(dev, &tb->board, &err));
    g_assert_no_error(err);
    HgrPciDevice *pdev = (HgrPciDevice *)dev;
    size_t vram_size;
    uint8_t *vram = hgr_vga_vram(dev, &vram_size);

    unsigned devfn = pdev->slot << 3;
    uint16_t cmd = (uint16_t)test_cfg_read(tb, devfn, 0x04, 2);
    g_assert_false(cmd & 0x2);                 /* no decode until the firmware says so */
    g_assert_cmpuint(log.gpa, ==, HGR_BOARD_UNMAPPED);

    cmd |= 0x2;
    test_cfg_write(tb, devfn, 0x04, 2, cmd);
    uint64_t bar0 = hgr_pci_bar_address(pdev, 0);
    g_assert_cmpuint(bar0, !=, HGR_PCI_BAR_UNMAPPED);
    g_assert_true(log.hva == vram);
    g_assert_cmpuint(log.size, ==, vram_size);
    g_assert_cmpuint(log.gpa, ==, bar0);

    uint32_t moved = bar0 == 0xd0000000u ? 0xd1000000u : 0xd0000000u;   /* clear of BAR2 */
    test_cfg_write(tb, devfn, 0x10, 4, moved);
    g_assert_cmpuint(hgr_pci_bar_address(pdev, 0), ==, moved);
    g_assert_cmpuint(log.gpa, ==, moved);

    unsigned before = log.calls;
    test_cfg_write(tb, devfn, 0x04, 2, cmd & ~0x2u);     /* memory decode off */
    g_assert_cmpuint(log.calls, ==, before + 1);
    g_assert_cmpuint(log.gpa, ==, HGR_BOARD_UNMAPPED);

    test_cfg_write(tb, devfn, 0x04, 2, cmd);
    g_assert_cmpuint(log.gpa, ==, moved);

    hgr_device_free(dev);
    g_assert_cmpuint(log.gpa, ==, HGR_BOARD_UNMAPPED);    /* gone before its memory */
    test_board_free(tb, true);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/vga/pci-identity", test_pci_identity);
    g_test_add_func("/vmm/vga/bochs-drm-probe", test_bochs_drm_probe);
    g_test_add_func("/vmm/vga/vga-ports", test_vga_ports);
    g_test_add_func("/vmm/vga/hostile-dispi", test_hostile_dispi);
    g_test_add_func("/vmm/vga/save-load", test_save_load);
    g_test_add_func("/vmm/vga/vram-slot", test_vram_slot);
    return g_test_run();
}
