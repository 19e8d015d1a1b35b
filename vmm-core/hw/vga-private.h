/* vga-private.h — the VGA device shared by vga.c (registers, guest access,
 * state) and vga-render.c (frames, dirty areas). */
#pragma once

#include <glib.h>

#include "../pci/pci.h"
#include "vga.h"

enum {
    VBE_ID, VBE_XRES, VBE_YRES, VBE_BPP, VBE_ENABLE, VBE_BANK, VBE_VIRT_WIDTH,
    VBE_VIRT_HEIGHT, VBE_X_OFFSET, VBE_Y_OFFSET, VBE_VIDEO_MEMORY_64K, VBE_NUM_REGS,
};

#define VBE_ENABLED      0x01
#define VBE_GETCAPS      0x02
#define VBE_8BIT_DAC     0x20
#define VBE_LFB_ENABLED  0x40
#define VBE_NOCLEARMEM   0x80
#define VBE_ID5          0xb0c5

#define VGA_SR_COUNT 8
#define VGA_GR_COUNT 9
#define VGA_CR_COUNT 0x19
#define VGA_AR_COUNT 0x15

/* Saved state: plain data. VRAM is not in it (see hgr_vga_vram). */
typedef struct {
    HgrPciState pci;
    uint8_t misc, feature, st01;
    uint8_t sr_index, sr[VGA_SR_COUNT];
    uint8_t gr_index, gr[VGA_GR_COUNT];
    uint8_t cr_index, cr[VGA_CR_COUNT];
    uint8_t ar_index, ar[VGA_AR_COUNT];
    bool ar_flip;
    uint8_t dac_mask, dac_state, dac_read_index, dac_write_index, dac_sub;
    uint8_t dac_latch[3];
    uint8_t dac[256 * 3];
    uint16_t vbe_index;
    uint16_t vbe[VBE_NUM_REGS];
} VgaState;

/* A VBE mode after every check against VRAM: what scanout reads is
 * [start, start + (height - 1) * line + width * bytes) inside VRAM. */
typedef struct {
    uint32_t width, height, bpp, bytes, line;
    uint64_t start;
} VgaVbeMode;

/* Dirty tracking is per 4 KiB page of VRAM, one bit each. */
#define VGA_PAGE_SIZE   4096u
#define VGA_VRAM_PAGES  (HGR_VGA_VRAM_SIZE / VGA_PAGE_SIZE)
#define VGA_PAGE_WORDS  (VGA_VRAM_PAGES / 64)

typedef struct {
    HgrPciDevice pci;
    GMutex lock;                 /* guards s and written */
    VgaState s;
    /* Pages Hangar itself wrote (the 0xa0000 window, BAR0 exits, clearing
     * at a mode set): KVM's dirty log sees only the guest's direct writes. */
    uint64_t written[VGA_PAGE_WORDS];
    uint8_t *vram;
    size_t vram_size;
    HgrBoard *board;             /* for mapping VRAM as a RAM slot */

    GMutex render_lock;          /* guards what follows */
    bool full_refresh;
    uint32_t *frame, *prev;
    uint32_t fb_width, fb_height;
    size_t fb_cap;               /* pixels allocated in frame and prev */
    HgrConsoleSurface surface;
    /* What frame holds when it is a VBE picture, so that the next update
     * may redo only the rows on dirty pages. */
    bool shown_vbe;
    VgaVbeMode shown_mode;
    bool shown_dac8;
    uint8_t shown_dac[256 * 3];
    uint64_t dirty_pages[VGA_PAGE_WORDS];
    uint32_t row[HGR_VGA_MAX_XRES];
} Vga;

bool vga_vbe_mode(const uint16_t *vbe, size_t vram_size, VgaVbeMode *mode);

/* The areas of a VBE frame in mode m whose pixels lie on the pages set in
 * bitmap (bit i: VRAM bytes [i * VGA_PAGE_SIZE, (i + 1) * VGA_PAGE_SIZE),
 * n_pages bits): at most max rectangles, in row order, no two sharing a
 * row (the last absorbs the rest). Pages outside the frame, and whatever
 * the mode says, never give an area outside width x height. */
unsigned vga_dirty_pages_to_rects(const uint64_t *bitmap, size_t n_pages, const VgaVbeMode *m,
                                  HgrConsoleRect *out, unsigned max);
