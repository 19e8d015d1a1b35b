/* vga-fixture.h — what the VGA unit tests share: a realized VGA on a test
 * PCI board, dispi register access through the Bochs ports, setting a VBE
 * mode, rendering a frame and reading its pixels. The tests are split by
 * what they test (test-vga-registers.c, test-vga-render.c,
 * test-vga-dirty.c); this keeps them on one fixture. */
#pragma once

#include <string.h>

#include "hangar/vm.h"
#include "hw/vga-private.h"
#include "pci-test-board.h"

typedef struct {
    TestBoard *tb;
    HgrDevice *dev;
    uint8_t *vram;
    size_t vram_size;
} Fixture;

static inline void fixture_init(Fixture *f)
{
    g_autoptr(GError) err = NULL;

    f->tb = test_board_new(NULL);
    f->dev = hgr_vga_new("vga");
    g_assert_nonnull(f->dev);
    g_assert_true(f->dev->ops->realize(f->dev, &f->tb->board, &err));
    g_assert_no_error(err);
    f->vram = hgr_vga_vram(f->dev, &f->vram_size);
    g_assert_cmpuint(f->vram_size, ==, 16u << 20);
}

static inline void fixture_fini(Fixture *f)
{
    hgr_device_free(f->dev);
    test_board_free(f->tb, true);
}

static inline void dispi_write(Fixture *f, unsigned index, uint16_t val)
{
    test_io_write(&f->tb->pio, 0x1ce, 2, index);
    test_io_write(&f->tb->pio, 0x1cf, 2, val);
}

static inline uint16_t dispi_read(Fixture *f, unsigned index)
{
    test_io_write(&f->tb->pio, 0x1ce, 2, index);
    return (uint16_t)test_io(&f->tb->pio, 0x1cf, 2);
}

static inline void set_mode(Fixture *f, uint16_t w, uint16_t h, uint16_t bpp)
{
    dispi_write(f, VBE_ENABLE, 0);
    dispi_write(f, VBE_XRES, w);
    dispi_write(f, VBE_YRES, h);
    dispi_write(f, VBE_BPP, bpp);
    dispi_write(f, VBE_ENABLE, VBE_ENABLED | VBE_LFB_ENABLED);
}

static inline const HgrConsoleSurface *update(Fixture *f, HgrConsoleRect *dirty, unsigned *n)
{
    HgrConsoleRect local[16];
    unsigned ln;

    return hgr_vga_update(f->dev, dirty ? dirty : local, 16, n ? n : &ln);
}

static inline uint32_t pixel(const HgrConsoleSurface *s, uint32_t x, uint32_t y)
{
    const uint8_t *p = s->data + (size_t)y * s->stride + x * 4;
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static inline uint32_t pattern(uint32_t x, uint32_t y)
{
    return ((x * 7) & 0xff) << 16 | ((y * 3) & 0xff) << 8 | ((x ^ y) & 0xff);
}
