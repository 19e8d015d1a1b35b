/* fw-cfg.c — QEMU's fw_cfg: a table of items the firmware reads by key,
 * byte by byte through a port or in bulk through DMA.
 *
 * Everything the guest sends is checked here: a selector that names no item
 * reads as zeros, reads past an item's end read zeros and do not move the
 * offset, a DMA descriptor or buffer that is not wholly RAM (MMIO, past the
 * end, wrapping) fails with the ERROR bit, and only items added as writable
 * take writes, and only inside their length.
 */
#include "fw-cfg.h"

#include <hangar/vm.h>
#include <string.h>

#include "../core/board.h"

#define KEY_MASK        0x3fff
#define KEY_WRITE       0x4000      /* legacy write channel flag: ignored on select */
#define DIR_ENTRY_SIZE  64

static const char signature[4] = { 'Q', 'E', 'M', 'U' };
static const char dma_signature[8] = { 'Q', 'E', 'M', 'U', ' ', 'C', 'F', 'G' };

typedef struct {
    uint16_t key;
    char name[HGR_FW_CFG_NAME_MAX];   /* "" for a numbered item */
    uint8_t *data;
    uint32_t len;
    bool writable;
} Entry;

typedef struct {
    uint16_t selector;      /* as the guest wrote it */
    uint32_t offset;        /* into the selected item */
    uint64_t dma_addr;      /* high half latched by a write to 0x514 */
} FwCfgState;

typedef struct {
    HgrDevice dev;
    const HgrGuestMem *mem;
    GMutex lock;
    GPtrArray *entries;     /* of Entry *, owned */
    Entry *cur;             /* what selector names, or NULL */
    unsigned n_files;
    FwCfgState s;
} FwCfg;

typedef struct __attribute__((packed)) {
    uint32_t control;
    uint32_t length;
    uint64_t address;
} DmaAccess;                /* all fields big-endian in guest memory */

static void entry_free(gpointer p)
{
    Entry *e = p;
    g_free(e->data);
    g_free(e);
}

static Entry *find_key(FwCfg *f, uint16_t key)
{
    for (guint i = 0; i < f->entries->len; i++) {
        Entry *e = f->entries->pdata[i];
        if (e->key == key)
            return e;
    }
    return NULL;
}

static Entry *find_name(FwCfg *f, const char *name)
{
    for (guint i = 0; i < f->entries->len; i++) {
        Entry *e = f->entries->pdata[i];
        if (e->name[0] && strcmp(e->name, name) == 0)
            return e;
    }
    return NULL;
}

static Entry *set_entry(FwCfg *f, uint16_t key, const void *data, size_t len)
{
    Entry *e = find_key(f, key);

    if (!e) {
        e = g_new0(Entry, 1);
        e->key = key;
        g_ptr_array_add(f->entries, e);
    }
    g_free(e->data);
    e->data = g_memdup2(data, len);
    e->len = (uint32_t)len;
    return e;
}

static void select_key(FwCfg *f, uint16_t selector)
{
    f->s.selector = selector;
    f->s.offset = 0;
    f->cur = find_key(f, selector & ~KEY_WRITE);
}

static int by_name(gconstpointer a, gconstpointer b)
{
    return strcmp((*(Entry *const *)a)->name, (*(Entry *const *)b)->name);
}

/* FW_CFG_FILE_DIR: be32 count, then per file be32 size, be16 key, be16
 * reserved, name[56]; sorted by name as QEMU does. */
static void rebuild_dir(FwCfg *f)
{
    g_autoptr(GPtrArray) files = g_ptr_array_new();
    g_autofree uint8_t *dir = g_malloc0(4 + (size_t)f->n_files * DIR_ENTRY_SIZE);

    for (guint i = 0; i < f->entries->len; i++) {
        Entry *e = f->entries->pdata[i];
        if (e->name[0])
            g_ptr_array_add(files, e);
    }
    g_ptr_array_sort(files, by_name);
    uint32_t count = GUINT32_TO_BE(files->len);
    memcpy(dir, &count, 4);
    for (guint i = 0; i < files->len; i++) {
        const Entry *e = files->pdata[i];
        uint8_t *d = dir + 4 + i * DIR_ENTRY_SIZE;
        uint32_t size = GUINT32_TO_BE(e->len);
        uint16_t key = GUINT16_TO_BE(e->key);
        memcpy(d, &size, 4);
        memcpy(d + 4, &key, 2);
        memcpy(d + 8, e->name, strlen(e->name));
    }
    set_entry(f, HGR_FW_CFG_FILE_DIR, dir, 4 + (size_t)files->len * DIR_ENTRY_SIZE);
}

/* Port access */

static uint8_t read_data_byte(FwCfg *f)
{
    const Entry *e = f->cur;

    if (!e || f->s.offset >= e->len)
        return 0;
    return e->data[f->s.offset++];
}

/* DMA */

/* Host pointer for a guest buffer that must be RAM in full. */
static uint8_t *dma_buffer(FwCfg *f, uint64_t addr, uint32_t len)
{
    if (addr + len < addr)
        return NULL;
    /* RAM regions are never adjacent on the PC map, so a valid buffer lies
     * inside one region and one pointer describes it. */
    return hgr_mem_ptr(f->mem, addr, len);
}

static bool dma_read(FwCfg *f, uint64_t addr, uint32_t len, bool copy)
{
    Entry *e = f->cur;
    uint32_t avail = e && f->s.offset < e->len ? e->len - f->s.offset : 0;
    uint32_t n = MIN(avail, len);

    if (!copy) {
        f->s.offset += n;
        return true;
    }
    uint8_t *p = dma_buffer(f, addr, len);
    if (!p)
        return false;
    if (n)
        memcpy(p, e->data + f->s.offset, n);
    memset(p + n, 0, len - n);
    f->s.offset += n;
    return true;
}

static bool dma_write(FwCfg *f, uint64_t addr, uint32_t len)
{
    Entry *e = f->cur;

    if (!e || !e->writable || f->s.offset > e->len || len > e->len - f->s.offset)
        return false;
    const uint8_t *p = dma_buffer(f, addr, len);
    if (!p)
        return false;
    memcpy(e->data + f->s.offset, p, len);
    f->s.offset += len;
    return true;
}

static void dma_transfer(FwCfg *f, uint64_t desc)
{
    DmaAccess d;

    /* One read into a local copy: the guest may change it meanwhile. */
    if (!hgr_mem_read(f->mem, desc, &d, sizeof(d))) {
        g_debug("fw-cfg: DMA descriptor at 0x%" G_GINT64_MODIFIER "x is not in RAM", desc);
        return;
    }
    uint32_t control = GUINT32_FROM_BE(d.control);
    uint32_t len = GUINT32_FROM_BE(d.length);
    uint64_t addr = GUINT64_FROM_BE(d.address);
    bool ok = true;

    if (control & HGR_FW_CFG_DMA_SELECT)
        select_key(f, (uint16_t)(control >> 16));
    if (control & HGR_FW_CFG_DMA_READ)
        ok = dma_read(f, addr, len, true);
    else if (control & HGR_FW_CFG_DMA_WRITE)
        ok = dma_write(f, addr, len);
    else if (control & HGR_FW_CFG_DMA_SKIP)
        ok = dma_read(f, addr, len, false);
    if (!ok)
        g_debug("fw-cfg: DMA 0x%x of %u bytes at 0x%" G_GINT64_MODIFIER "x refused",
                control, len, addr);
    /* Completion: the control word is cleared, or left with just ERROR. */
    uint32_t status = GUINT32_TO_BE(ok ? 0 : HGR_FW_CFG_DMA_ERROR);
    hgr_mem_write(f->mem, desc, &status, sizeof(status));
}

static void dma_port(FwCfg *f, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
    if (!is_write) {
        for (unsigned i = 0; i < len; i++)
            data[i] = off + i < sizeof(dma_signature) ? dma_signature[off + i] : 0;
        return;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < len; i++)
        v = v << 8 | data[i];              /* the register is big-endian */
    if (len == 4 && off == 0) {
        f->s.dma_addr = v << 32;
    } else if ((len == 4 && off == 4) || (len == 8 && off == 0)) {
        uint64_t desc = len == 8 ? v : f->s.dma_addr | v;
        f->s.dma_addr = 0;
        dma_transfer(f, desc);
    }
}

static void fw_cfg_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
                      bool is_write)
{
    FwCfg *f = opaque;

    g_mutex_lock(&f->lock);
    if (offset >= 4) {
        dma_port(f, offset - 4, data, len, is_write);
    } else if (offset < 2 && !is_write) {
        /* The data register is one byte wide; wider reads see it zero-extended. */
        memset(data, 0, len);
        data[0] = read_data_byte(f);
    } else if (offset == 0 && is_write && len == 2) {
        select_key(f, (uint16_t)hgr_io_get(data, 2));
    } else if (!is_write) {
        memset(data, 0xff, len);
    }
    /* Data-port writes went away in QEMU 2.4: ignored, as there. */
    g_mutex_unlock(&f->lock);
}

/* Building */

void hgr_fw_cfg_add_bytes(HgrDevice *dev, uint16_t key, const void *data, size_t len)
{
    FwCfg *f = (FwCfg *)dev;

    g_return_if_fail(key != HGR_FW_CFG_SIGNATURE && key != HGR_FW_CFG_ID &&
                     key != HGR_FW_CFG_FILE_DIR);
    g_return_if_fail((key & KEY_MASK) < HGR_FW_CFG_FILE_FIRST ||
                     (key & HGR_FW_CFG_ARCH_LOCAL));
    g_return_if_fail(len <= UINT32_MAX);
    g_mutex_lock(&f->lock);
    set_entry(f, key, data, len);
    g_mutex_unlock(&f->lock);
}

void hgr_fw_cfg_add_u16(HgrDevice *dev, uint16_t key, uint16_t value)
{
    uint16_t le = GUINT16_TO_LE(value);
    hgr_fw_cfg_add_bytes(dev, key, &le, sizeof(le));
}

void hgr_fw_cfg_add_u32(HgrDevice *dev, uint16_t key, uint32_t value)
{
    uint32_t le = GUINT32_TO_LE(value);
    hgr_fw_cfg_add_bytes(dev, key, &le, sizeof(le));
}

void hgr_fw_cfg_add_u64(HgrDevice *dev, uint16_t key, uint64_t value)
{
    uint64_t le = GUINT64_TO_LE(value);
    hgr_fw_cfg_add_bytes(dev, key, &le, sizeof(le));
}

bool hgr_fw_cfg_add_file(HgrDevice *dev, const char *name, const void *data, size_t len,
                         bool writable)
{
    FwCfg *f = (FwCfg *)dev;
    size_t name_len = strlen(name);

    if (name_len == 0 || name_len >= HGR_FW_CFG_NAME_MAX || len > UINT32_MAX)
        return false;
    g_mutex_lock(&f->lock);
    Entry *e = find_name(f, name);
    bool ok = e || f->n_files < HGR_FW_CFG_MAX_FILES;
    if (ok) {
        uint16_t key = e ? e->key : (uint16_t)(HGR_FW_CFG_FILE_FIRST + f->n_files++);
        e = set_entry(f, key, data, len);
        memcpy(e->name, name, name_len + 1);
        e->writable = writable;
        rebuild_dir(f);
        if (f->cur && f->cur->key == key)
            f->s.offset = MIN(f->s.offset, e->len);
    }
    g_mutex_unlock(&f->lock);
    return ok;
}

const uint8_t *hgr_fw_cfg_file(HgrDevice *dev, const char *name, size_t *len)
{
    FwCfg *f = (FwCfg *)dev;

    g_mutex_lock(&f->lock);
    const Entry *e = find_name(f, name);
    g_mutex_unlock(&f->lock);
    if (!e)
        return NULL;
    *len = e->len;
    return e->data;
}

/* Device ops */

static bool fw_cfg_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    if (!hgr_io_bus_register(board->pio, HGR_FW_CFG_PORT, HGR_FW_CFG_PORT_SIZE, fw_cfg_io,
                             dev, dev->id)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: ports 0x%x-0x%x are already taken", dev->id, HGR_FW_CFG_PORT,
                    HGR_FW_CFG_PORT + HGR_FW_CFG_PORT_SIZE - 1);
        return false;
    }
    return true;
}

static void fw_cfg_reset(HgrDevice *dev)
{
    FwCfg *f = (FwCfg *)dev;

    g_mutex_lock(&f->lock);
    select_key(f, HGR_FW_CFG_SIGNATURE);
    f->s.dma_addr = 0;
    g_mutex_unlock(&f->lock);
}

static void fw_cfg_get_state(HgrDevice *dev, void *state)
{
    FwCfg *f = (FwCfg *)dev;

    g_mutex_lock(&f->lock);
    memcpy(state, &f->s, sizeof(f->s));
    g_mutex_unlock(&f->lock);
}

static void fw_cfg_visit_state(HgrVisitor *v, void *state)
{
    FwCfgState *s = state;

    hgr_visit_u16(v, &s->selector);
    hgr_visit_u32(v, &s->offset);
    hgr_visit_u64(v, &s->dma_addr);
}

static bool fw_cfg_check_state(HgrDevice *dev, const void *state, GError **error)
{
    FwCfg *f = (FwCfg *)dev;
    const FwCfgState *s = state;

    g_mutex_lock(&f->lock);
    const Entry *e = find_key(f, s->selector & ~KEY_WRITE);
    bool ok = !e || s->offset <= e->len;
    g_mutex_unlock(&f->lock);
    if (!ok)
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "%s: offset %u is past the end of item 0x%x", dev->id, s->offset,
                    s->selector);
    return ok;
}

static void fw_cfg_set_state(HgrDevice *dev, const void *state)
{
    FwCfg *f = (FwCfg *)dev;
    const FwCfgState *s = state;

    g_mutex_lock(&f->lock);
    select_key(f, s->selector);
    f->s = *s;
    g_mutex_unlock(&f->lock);
}

static void fw_cfg_destroy(HgrDevice *dev)
{
    FwCfg *f = (FwCfg *)dev;

    g_ptr_array_unref(f->entries);
    g_mutex_clear(&f->lock);
    g_free(f);
}

static const HgrDeviceOps fw_cfg_ops = {
    .name = "fw-cfg",
    .state_version = 1,
    .state_size = sizeof(FwCfgState),
    .realize = fw_cfg_realize,
    .reset = fw_cfg_reset,
    .get_state = fw_cfg_get_state,
    .visit_state = fw_cfg_visit_state,
    .check_state = fw_cfg_check_state,
    .set_state = fw_cfg_set_state,
    .destroy = fw_cfg_destroy,
};

HgrDevice *hgr_fw_cfg_new(const HgrGuestMem *mem)
{
    FwCfg *f = g_new0(FwCfg, 1);
    uint32_t id = GUINT32_TO_LE(HGR_FW_CFG_F_TRADITIONAL | HGR_FW_CFG_F_DMA);

    hgr_device_init(&f->dev, &fw_cfg_ops, NULL);
    f->mem = mem;
    g_mutex_init(&f->lock);
    f->entries = g_ptr_array_new_with_free_func(entry_free);
    set_entry(f, HGR_FW_CFG_SIGNATURE, signature, sizeof(signature));
    set_entry(f, HGR_FW_CFG_ID, &id, sizeof(id));
    rebuild_dir(f);
    select_key(f, HGR_FW_CFG_SIGNATURE);
    return &f->dev;
}
