/* vga.c — standard VGA registers, Bochs VBE dispi, the legacy memory
 * window and VRAM, save and load. Rendering is in vga-render.c. */
#include "vga-private.h"

#include <string.h>
#include <sys/mman.h>

#include "hangar/vm.h"

#define VGA_PORT_BASE    0x3c0
#define VGA_PORT_COUNT   0x20
#define VBE_PORT_BASE    0x1ce
#define VGA_WINDOW_BASE  0xa0000
#define VGA_WINDOW_SIZE  0x20000
#define BAR2_SIZE        0x1000
#define BAR2_VGA_PORTS   0x400
#define BAR2_VBE_REGS    0x500
/* QEMU's extended registers (docs/specs/standard-vga.txt), which Linux's
 * bochs driver looks for on PCI revision 2 and later: the size of the
 * block, then the framebuffer's byte order, which is always little endian
 * here (a guest asking for big endian reads back that it did not get it). */
#define BAR2_QEXT        0x600
#define QEXT_SIZE        8
#define QEXT_LITTLE      0x1e1e1e1eu

/* The registers of BIOS mode 3 (80x25 colour text), so the screen makes
 * sense before any firmware programs it. */
static const uint8_t mode3_sr[VGA_SR_COUNT] = { 0x03, 0x00, 0x03, 0x00, 0x02 };
static const uint8_t mode3_gr[VGA_GR_COUNT] = { 0, 0, 0, 0, 0, 0x10, 0x0e, 0x0f, 0xff };
static const uint8_t mode3_cr[VGA_CR_COUNT] = {
    0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00,
    0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
};
static const uint8_t mode3_ar[VGA_AR_COUNT] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c,
    0x3d, 0x3e, 0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00,
};

static void vga_reset_state(VgaState *s)
{
    HgrPciState pci = s->pci;

    memset(s, 0, sizeof(*s));
    s->pci = pci;
    s->misc = 0x67;
    memcpy(s->sr, mode3_sr, sizeof(s->sr));
    memcpy(s->gr, mode3_gr, sizeof(s->gr));
    memcpy(s->cr, mode3_cr, sizeof(s->cr));
    memcpy(s->ar, mode3_ar, sizeof(s->ar));
    s->ar_index = 0x20;              /* palette address source: display on */
    s->dac_mask = 0xff;
    /* The EGA palette in the first 64 DAC entries: rgbRGB, 2/3 + 1/3. */
    for (unsigned i = 0; i < 64; i++) {
        s->dac[i * 3 + 0] = ((i >> 2) & 1) * 0x2a + ((i >> 5) & 1) * 0x15;
        s->dac[i * 3 + 1] = ((i >> 1) & 1) * 0x2a + ((i >> 4) & 1) * 0x15;
        s->dac[i * 3 + 2] = ((i >> 0) & 1) * 0x2a + ((i >> 3) & 1) * 0x15;
    }
    s->vbe[VBE_ID] = VBE_ID5;
    s->vbe[VBE_BPP] = 8;
}

bool vga_vbe_mode(const uint16_t *vbe, size_t vram_size, VgaVbeMode *m)
{
    uint32_t bpp = vbe[VBE_BPP] ? vbe[VBE_BPP] : 8;
    uint64_t virt_width, line, end;

    if (!(vbe[VBE_ENABLE] & VBE_ENABLED))
        return false;
    if (bpp != 8 && bpp != 15 && bpp != 16 && bpp != 24 && bpp != 32)
        return false;
    if (vbe[VBE_XRES] == 0 || vbe[VBE_YRES] == 0 || vbe[VBE_XRES] > HGR_VGA_MAX_XRES ||
        vbe[VBE_YRES] > HGR_VGA_MAX_YRES)
        return false;
    m->width = vbe[VBE_XRES];
    m->height = vbe[VBE_YRES];
    m->bpp = bpp;
    m->bytes = (bpp + 7) / 8;
    virt_width = MAX(vbe[VBE_VIRT_WIDTH], m->width);
    line = virt_width * m->bytes;
    if (line * m->height > vram_size) {
        virt_width = m->width;                 /* the virtual screen does not fit */
        line = virt_width * m->bytes;
        if (line * m->height > vram_size)
            return false;                      /* neither does the visible one */
    }
    m->line = (uint32_t)line;
    m->start = (uint64_t)vbe[VBE_Y_OFFSET] * line + (uint64_t)vbe[VBE_X_OFFSET] * m->bytes;
    end = m->start + (uint64_t)(m->height - 1) * line + (uint64_t)m->width * m->bytes;
    if (vbe[VBE_X_OFFSET] + (uint64_t)m->width > virt_width || end > vram_size)
        m->start = 0;                          /* panned off the end: show the top */
    return true;
}

/* Notes VRAM bytes [offset, offset + len) as written by Hangar; v->lock
 * held. */
static void mark_written(Vga *v, size_t offset, size_t len)
{
    if (!len || offset >= v->vram_size)
        return;
    size_t last = MIN(offset + len, v->vram_size) - 1;
    for (size_t p = offset / VGA_PAGE_SIZE; p <= last / VGA_PAGE_SIZE; p++)
        v->written[p / 64] |= 1ull << (p % 64);
}

/* --- VBE dispi registers --------------------------------------------- */

static uint16_t vbe_read(Vga *v)
{
    VgaState *s = &v->s;
    unsigned i = s->vbe_index;
    VgaVbeMode m;

    if (i >= VBE_NUM_REGS)
        return 0;
    if (s->vbe[VBE_ENABLE] & VBE_GETCAPS) {
        if (i == VBE_XRES)
            return HGR_VGA_MAX_XRES;
        if (i == VBE_YRES)
            return HGR_VGA_MAX_YRES;
        if (i == VBE_BPP)
            return 32;
    }
    if (i == VBE_VIDEO_MEMORY_64K)
        return (uint16_t)(v->vram_size >> 16);
    if (i == VBE_VIRT_HEIGHT) {
        if (!vga_vbe_mode(s->vbe, v->vram_size, &m))
            return 0;
        return (uint16_t)MIN(v->vram_size / m.line, 0xffff);
    }
    if (i == VBE_VIRT_WIDTH && vga_vbe_mode(s->vbe, v->vram_size, &m))
        return (uint16_t)(m.line / m.bytes);
    return s->vbe[i];
}

static void vbe_write(Vga *v, uint16_t val)
{
    VgaState *s = &v->s;
    unsigned i = s->vbe_index;
    VgaVbeMode m;

    switch (i) {
    case VBE_ID:
        if (val >= 0xb0c0 && val <= VBE_ID5)
            s->vbe[i] = val;
        break;
    case VBE_ENABLE:
        if ((val & VBE_ENABLED) && !(s->vbe[VBE_ENABLE] & VBE_ENABLED)) {
            s->vbe[VBE_VIRT_WIDTH] = 0;
            s->vbe[VBE_X_OFFSET] = s->vbe[VBE_Y_OFFSET] = 0;
            s->vbe[VBE_BANK] = 0;
            s->vbe[VBE_ENABLE] = val;
            if (!(val & VBE_NOCLEARMEM) && vga_vbe_mode(s->vbe, v->vram_size, &m)) {
                memset(v->vram, 0, (size_t)m.line * m.height);
                mark_written(v, 0, (size_t)m.line * m.height);
            }
        }
        s->vbe[VBE_ENABLE] = val;
        break;
    case VBE_VIRT_HEIGHT:
    case VBE_VIDEO_MEMORY_64K:
        break;                                 /* read-only */
    default:
        if (i < VBE_NUM_REGS)
            s->vbe[i] = val;
        break;
    }
}

/* --- VGA ports ------------------------------------------------------- */

static uint8_t vga_port_read(Vga *v, unsigned port)
{
    VgaState *s = &v->s;
    uint8_t val = 0xff;

    switch (port) {
    case 0x3c0:
        return s->ar_index;
    case 0x3c1:
        return (s->ar_index & 0x1f) < VGA_AR_COUNT ? s->ar[s->ar_index & 0x1f] : 0;
    case 0x3c2:
        return 0;
    case 0x3c4:
        return s->sr_index;
    case 0x3c5:
        return s->sr_index < VGA_SR_COUNT ? s->sr[s->sr_index] : 0;
    case 0x3c6:
        return s->dac_mask;
    case 0x3c7:
        return s->dac_state;
    case 0x3c8:
        return s->dac_write_index;
    case 0x3c9:
        val = s->dac[s->dac_read_index * 3 + s->dac_sub];
        if (++s->dac_sub == 3) {
            s->dac_sub = 0;
            s->dac_read_index++;
        }
        return val;
    case 0x3ca:
        return s->feature;
    case 0x3cc:
        return s->misc;
    case 0x3ce:
        return s->gr_index;
    case 0x3cf:
        return s->gr_index < VGA_GR_COUNT ? s->gr[s->gr_index] : 0;
    case 0x3d4:
        return s->cr_index;
    case 0x3d5:
        return s->cr_index < VGA_CR_COUNT ? s->cr[s->cr_index] : 0;
    case 0x3da:
        /* Reading status 1 resets the attribute flip-flop; toggling the
         * retrace bits lets polling loops finish. */
        s->ar_flip = false;
        s->st01 ^= 0x09;
        return s->st01;
    }
    return val;
}

static void vga_port_write(Vga *v, unsigned port, uint8_t val)
{
    VgaState *s = &v->s;
    unsigned i;

    switch (port) {
    case 0x3c0:
        if (!s->ar_flip) {
            s->ar_index = val & 0x3f;
        } else {
            i = s->ar_index & 0x1f;
            if (i < VGA_AR_COUNT)
                s->ar[i] = val;
        }
        s->ar_flip = !s->ar_flip;
        break;
    case 0x3c2:
        s->misc = val;
        break;
    case 0x3c4:
        s->sr_index = val & 0x7;
        break;
    case 0x3c5:
        s->sr[s->sr_index & 0x7] = val;
        break;
    case 0x3c6:
        s->dac_mask = val;
        break;
    case 0x3c7:
        s->dac_read_index = val;
        s->dac_sub = 0;
        s->dac_state = 3;
        break;
    case 0x3c8:
        s->dac_write_index = val;
        s->dac_sub = 0;
        s->dac_state = 0;
        break;
    case 0x3c9:
        s->dac_latch[s->dac_sub] = val;
        if (++s->dac_sub == 3) {
            memcpy(&s->dac[s->dac_write_index * 3], s->dac_latch, 3);
            s->dac_sub = 0;
            s->dac_write_index++;
        }
        break;
    case 0x3ce:
        s->gr_index = val & 0xf;
        break;
    case 0x3cf:
        if (s->gr_index < VGA_GR_COUNT)
            s->gr[s->gr_index] = val;
        break;
    case 0x3d4:
        s->cr_index = val;
        break;
    case 0x3d5:
        i = s->cr_index;
        if (i >= VGA_CR_COUNT)
            break;
        if ((s->cr[0x11] & 0x80) && i <= 7) {   /* CR0-7 write-protected */
            if (i == 7)
                s->cr[7] = (s->cr[7] & ~0x10) | (val & 0x10);
            break;
        }
        s->cr[i] = val;
        break;
    case 0x3da:
        s->feature = val;
        break;
    }
}

static void vga_ports_io(Vga *v, unsigned port, uint8_t *data, unsigned len, bool is_write)
{
    /* A 16-bit write is index then data (out dx, ax). */
    g_mutex_lock(&v->lock);
    for (unsigned k = 0; k < len && port + k < VGA_PORT_BASE + VGA_PORT_COUNT; k++) {
        if (is_write)
            vga_port_write(v, port + k, data[k]);
        else
            data[k] = vga_port_read(v, port + k);
    }
    g_mutex_unlock(&v->lock);
}

static void vga_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
    if (!is_write)
        memset(data, 0xff, len);
    vga_ports_io(opaque, VGA_PORT_BASE + (unsigned)offset, data, len, is_write);
}

static void vbe_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
    Vga *v = opaque;
    uint16_t val = (uint16_t)hgr_io_get(data, MIN(len, 2u));

    g_mutex_lock(&v->lock);
    if (offset == 0 && is_write)
        v->s.vbe_index = val;
    else if (offset == 0)
        val = v->s.vbe_index;
    else if (is_write)
        vbe_write(v, val);
    else
        val = vbe_read(v);
    g_mutex_unlock(&v->lock);
    if (!is_write)
        hgr_io_put(data, len, val);
}

/* --- memory: the legacy window and BARs ------------------------------ */

/* Where a window byte lands in VRAM, or false if nowhere; planar
 * accesses come back with *all_planes set (offset of plane 0). */
static bool window_offset(Vga *v, uint64_t off, bool is_write, size_t *out, bool *all_planes)
{
    const VgaState *s = &v->s;
    static const uint32_t base[4] = { 0, 0, 0x10000, 0x18000 };
    static const uint32_t size[4] = { 0x20000, 0x10000, 0x8000, 0x8000 };
    unsigned map = (s->gr[6] >> 2) & 3, plane;
    uint64_t addr;

    *all_planes = false;
    if (s->vbe[VBE_ENABLE] & VBE_ENABLED) {
        if (off >= 0x10000)
            return false;
        addr = (uint64_t)s->vbe[VBE_BANK] * 0x10000 + off;
        *out = addr;
        return addr < v->vram_size;
    }
    if (off < base[map] || off - base[map] >= size[map])
        return false;
    addr = off - base[map];
    if (s->sr[4] & 0x08) {                       /* chain 4 */
        *out = addr;
        return !is_write || (s->sr[2] & (1u << (addr & 3)));
    }
    if (!(s->sr[4] & 0x04)) {                    /* odd/even */
        plane = is_write ? (addr & 1) : ((s->gr[4] & 2) | (addr & 1));
        *out = ((addr & ~1ull) << 1) | plane;
        return !is_write || (s->sr[2] & (1u << plane));
    }
    *out = addr << 2;
    if (is_write)
        *all_planes = true;
    else
        *out |= s->gr[4] & 3;
    return true;
}

static void vga_window(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
                       bool is_write)
{
    Vga *v = opaque;
    size_t at;
    bool planar;

    g_mutex_lock(&v->lock);
    for (unsigned k = 0; k < len; k++) {
        if (!window_offset(v, offset + k, is_write, &at, &planar)) {
            if (!is_write)
                data[k] = 0xff;
            continue;
        }
        if (!is_write) {
            data[k] = v->vram[at];
            continue;
        }
        if (!planar)
            v->vram[at] = data[k];
        else
            for (unsigned p = 0; p < 4; p++)
                if (v->s.sr[2] & (1u << p))
                    v->vram[at + p] = data[k];
        mark_written(v, at, planar ? 4 : 1);
    }
    g_mutex_unlock(&v->lock);
}

/* BAR0 accesses exit to here only while VRAM is not mapped as RAM (no
 * KVM, or the slot was refused). */
static void vga_bar0(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
                     bool is_write)
{
    Vga *v = opaque;

    if (offset >= v->vram_size || len > v->vram_size - offset) {
        if (!is_write)
            memset(data, 0xff, len);
        return;
    }
    if (!is_write) {
        memcpy(data, v->vram + offset, len);
        return;
    }
    memcpy(v->vram + offset, data, len);
    g_mutex_lock(&v->lock);
    mark_written(v, offset, len);
    g_mutex_unlock(&v->lock);
}

static void vga_bar2(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
                     bool is_write)
{
    Vga *v = opaque;
    uint16_t val;

    if (offset >= BAR2_VGA_PORTS && offset < BAR2_VGA_PORTS + VGA_PORT_COUNT) {
        if (!is_write)
            memset(data, 0xff, len);
        vga_ports_io(v, VGA_PORT_BASE + (unsigned)(offset - BAR2_VGA_PORTS), data, len,
                     is_write);
        return;
    }
    if (offset >= BAR2_VBE_REGS && offset < BAR2_VBE_REGS + 2 * VBE_NUM_REGS &&
        !(offset & 1) && len == 2) {
        g_mutex_lock(&v->lock);
        v->s.vbe_index = (uint16_t)((offset - BAR2_VBE_REGS) / 2);
        if (is_write)
            vbe_write(v, (uint16_t)hgr_io_get(data, 2));
        val = vbe_read(v);
        g_mutex_unlock(&v->lock);
        if (!is_write)
            hgr_io_put(data, 2, val);
        return;
    }
    if (offset >= BAR2_QEXT && offset < BAR2_QEXT + QEXT_SIZE &&
        len <= BAR2_QEXT + QEXT_SIZE - offset) {
        const uint8_t qext[QEXT_SIZE] = {
            QEXT_SIZE, 0, 0, 0,
            QEXT_LITTLE & 0xff, QEXT_LITTLE >> 8 & 0xff, QEXT_LITTLE >> 16 & 0xff,
            QEXT_LITTLE >> 24,
        };

        if (!is_write)
            memcpy(data, qext + (offset - BAR2_QEXT), len);
        return;
    }
    if (!is_write)
        memset(data, 0xff, len);
}

/* --- device ops ------------------------------------------------------ */

/* The linear framebuffer is written pixel by pixel: as a RAM slot it costs
 * no exits, and the renderer finds the changes in KVM's dirty log. A new
 * slot's log starts empty and may have missed writes served by exits while
 * the BAR moved: the next frame is drawn whole. */
static void vga_bar_moved(HgrPciDevice *pdev, unsigned bar)
{
    Vga *v = (Vga *)pdev;

    if (bar == 0 && v->board && v->board->map_ram) {
        v->board->map_ram(v->board->opaque, v->vram, hgr_pci_bar_address(pdev, 0),
                          v->vram_size);
        hgr_vga_mark_dirty(&pdev->dev);
    }
}

G_STATIC_ASSERT(HGR_PCI_BAR_UNMAPPED == HGR_BOARD_UNMAPPED);

static const HgrPciHooks vga_hooks = {
    .bar_moved = vga_bar_moved,
};

static bool vga_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    Vga *v = (Vga *)dev;

    if (!board->pci) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG, "%s: needs a PCI bus", dev->id);
        return false;
    }
    if (!hgr_io_bus_register(board->pio, VGA_PORT_BASE, VGA_PORT_COUNT, vga_pio, v,
                             dev->id) ||
        !hgr_io_bus_register(board->pio, VBE_PORT_BASE, 2, vbe_pio, v, dev->id) ||
        !hgr_io_bus_register(board->mmio, VGA_WINDOW_BASE, VGA_WINDOW_SIZE, vga_window, v,
                             dev->id)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: the legacy VGA ports or memory window are already taken", dev->id);
        return false;
    }
    v->board = board;
    if (!hgr_pci_bus_add_device(board->pci, &v->pci, -1, error))
        return false;
    vga_bar_moved(&v->pci, 0);
    return true;
}

static void vga_reset(HgrDevice *dev)
{
    Vga *v = (Vga *)dev;

    hgr_pci_device_reset(&v->pci);
    g_mutex_lock(&v->lock);
    vga_reset_state(&v->s);
    g_mutex_unlock(&v->lock);
    hgr_vga_mark_dirty(dev);
}

static void vga_get_state(HgrDevice *dev, void *state)
{
    Vga *v = (Vga *)dev;
    VgaState *st = state;

    g_mutex_lock(&v->lock);
    *st = v->s;
    g_mutex_unlock(&v->lock);
    hgr_pci_get_state(&v->pci, &st->pci);
}

static void vga_visit_state(HgrVisitor *vis, void *state)
{
    VgaState *s = state;

    hgr_pci_visit_state(vis, &s->pci);
    hgr_visit_u8(vis, &s->misc);
    hgr_visit_u8(vis, &s->feature);
    hgr_visit_u8(vis, &s->st01);
    hgr_visit_u8(vis, &s->sr_index);
    hgr_visit_bytes(vis, s->sr, sizeof(s->sr));
    hgr_visit_u8(vis, &s->gr_index);
    hgr_visit_bytes(vis, s->gr, sizeof(s->gr));
    hgr_visit_u8(vis, &s->cr_index);
    hgr_visit_bytes(vis, s->cr, sizeof(s->cr));
    hgr_visit_u8(vis, &s->ar_index);
    hgr_visit_bytes(vis, s->ar, sizeof(s->ar));
    hgr_visit_bool(vis, &s->ar_flip);
    hgr_visit_u8(vis, &s->dac_mask);
    hgr_visit_u8(vis, &s->dac_state);
    hgr_visit_u8(vis, &s->dac_read_index);
    hgr_visit_u8(vis, &s->dac_write_index);
    hgr_visit_u8(vis, &s->dac_sub);
    hgr_visit_bytes(vis, s->dac_latch, sizeof(s->dac_latch));
    hgr_visit_bytes(vis, s->dac, sizeof(s->dac));
    hgr_visit_u16(vis, &s->vbe_index);
    for (unsigned i = 0; i < VBE_NUM_REGS; i++)
        hgr_visit_u16(vis, &s->vbe[i]);
}

static bool vga_check_state(HgrDevice *dev, const void *state, GError **error)
{
    Vga *v = (Vga *)dev;
    const VgaState *s = state;

    if (!hgr_pci_check_state(&v->pci, &s->pci, error))
        return false;
    /* Every index is masked or range-checked where it is used; these are
     * the ones used as array indexes without a check. */
    if (s->sr_index >= VGA_SR_COUNT || s->gr_index > 0xf || s->dac_sub > 2 ||
        s->ar_index > 0x3f) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "saved state of %s: register index out of range", dev->id);
        return false;
    }
    return true;
}

static void vga_set_state(HgrDevice *dev, const void *state)
{
    Vga *v = (Vga *)dev;
    const VgaState *s = state;

    hgr_pci_set_state(&v->pci, &s->pci);
    g_mutex_lock(&v->lock);
    v->s = *s;
    g_mutex_unlock(&v->lock);
    hgr_vga_mark_dirty(dev);
}

static void vga_destroy(HgrDevice *dev)
{
    Vga *v = (Vga *)dev;

    hgr_pci_device_finalize(&v->pci);
    if (v->board && v->board->map_ram)
        v->board->map_ram(v->board->opaque, v->vram, HGR_BOARD_UNMAPPED, v->vram_size);
    munmap(v->vram, v->vram_size);
    g_free(v->frame);
    g_free(v->prev);
    g_mutex_clear(&v->lock);
    g_mutex_clear(&v->render_lock);
    g_free(v);
}

static const HgrDeviceOps vga_ops = {
    .name = "vga",
    .state_version = 1,
    .state_size = sizeof(VgaState),
    .realize = vga_realize,
    .reset = vga_reset,
    .get_state = vga_get_state,
    .visit_state = vga_visit_state,
    .check_state = vga_check_state,
    .set_state = vga_set_state,
    .destroy = vga_destroy,
};

HgrDevice *hgr_vga_new(const char *id)
{
    Vga *v = g_new0(Vga, 1);
    void *vram = mmap(NULL, HGR_VGA_VRAM_SIZE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (vram == MAP_FAILED) {
        g_free(v);
        return NULL;
    }
    hgr_pci_device_init(&v->pci, &vga_ops, id, 0x1234, 0x1111, 0x030000, 0x02);
    hgr_pci_set_subsystem(&v->pci, 0x1af4, 0x1100);
    v->pci.hooks = &vga_hooks;
    g_mutex_init(&v->lock);
    g_mutex_init(&v->render_lock);
    v->vram = vram;
    v->vram_size = HGR_VGA_VRAM_SIZE;
    /* Prefetchable: the PCI layer has no flag for it, so set the bit here. */
    hgr_pci_init_bar(&v->pci, 0, HGR_PCI_BAR_MEM32, HGR_VGA_VRAM_SIZE, vga_bar0, v);
    hgr_pci_config_set(&v->pci, PCI_BASE_ADDRESS_0, 4,
                       hgr_pci_config_get(&v->pci, PCI_BASE_ADDRESS_0, 4) | 0x8);
    hgr_pci_init_bar(&v->pci, 2, HGR_PCI_BAR_MEM32, BAR2_SIZE, vga_bar2, v);
    vga_reset_state(&v->s);
    v->full_refresh = true;
    return &v->pci.dev;
}

uint8_t *hgr_vga_vram(HgrDevice *dev, size_t *size)
{
    Vga *v = (Vga *)dev;

    *size = v->vram_size;
    return v->vram;
}
