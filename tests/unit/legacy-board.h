/* legacy-board.h — a test HgrBoard for the legacy PC device tests: its own
 * port bus, a recording irqchip and a board-event recorder. Header-only so
 * each test program stays one file. */
#pragma once

#include <glib.h>
#include <hangar/vm.h>
#include <string.h>

#include "core/board.h"
#include "core/device.h"
#include "core/pc.h"

typedef struct {
    HgrIoBus pio, mmio;
    HgrIrqChip chip;
    HgrBoard board;
    GMutex lock;                          /* lines may move on an I/O thread */
    bool level[HGR_PC_IOAPIC_PINS];
    unsigned raises[HGR_PC_IOAPIC_PINS];  /* rising edges seen */
    unsigned calls[HGR_PC_IOAPIC_PINS];   /* set_line calls, to catch redundant ones */
    unsigned events[HGR_BOARD_BOOTED + 1];
} LegacyBoard;

static inline void legacy_board_set_line(void *opaque, unsigned gsi, bool level)
{
    LegacyBoard *tb = opaque;

    g_assert_cmpuint(gsi, <, HGR_PC_IOAPIC_PINS);
    g_mutex_lock(&tb->lock);
    tb->calls[gsi]++;
    if (level && !tb->level[gsi])
        tb->raises[gsi]++;
    tb->level[gsi] = level;
    g_mutex_unlock(&tb->lock);
}

static inline void legacy_board_event(void *opaque, HgrBoardEvent ev)
{
    LegacyBoard *tb = opaque;
    tb->events[ev]++;
}

static inline void legacy_board_init(LegacyBoard *tb)
{
    memset(tb, 0, sizeof(*tb));
    g_mutex_init(&tb->lock);
    tb->chip.set_line = legacy_board_set_line;
    tb->chip.opaque = tb;
    tb->board.pio = &tb->pio;
    tb->board.mmio = &tb->mmio;
    tb->board.irqchip = &tb->chip;
    tb->board.vm_fd = -1;
    tb->board.event = legacy_board_event;
    tb->board.opaque = tb;
}

static inline void legacy_board_clear(LegacyBoard *tb)
{
    hgr_io_bus_clear(&tb->pio);
    hgr_io_bus_clear(&tb->mmio);
    g_mutex_clear(&tb->lock);
}

static inline bool legacy_board_line(LegacyBoard *tb, unsigned gsi)
{
    g_mutex_lock(&tb->lock);
    bool l = tb->level[gsi];
    g_mutex_unlock(&tb->lock);
    return l;
}

static inline void legacy_realize(LegacyBoard *tb, HgrDevice *dev)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(dev->ops->realize(dev, &tb->board, &err));
    g_assert_no_error(err);
}

static inline uint32_t legacy_in(LegacyBoard *tb, uint16_t port, unsigned len)
{
    uint8_t d[4] = { 0 };

    hgr_io_bus_dispatch(&tb->pio, port, d, len, false);
    return (uint32_t)hgr_io_get(d, len);
}

static inline uint8_t legacy_inb(LegacyBoard *tb, uint16_t port)
{
    return (uint8_t)legacy_in(tb, port, 1);
}

static inline void legacy_out(LegacyBoard *tb, uint16_t port, uint32_t v, unsigned len)
{
    uint8_t d[4];

    hgr_io_put(d, len, v);
    hgr_io_bus_dispatch(&tb->pio, port, d, len, true);
}

static inline void legacy_outb(LegacyBoard *tb, uint16_t port, uint8_t v)
{
    legacy_out(tb, port, v, 1);
}

/* A device alone on its own test board. */
typedef struct {
    LegacyBoard tb;
    HgrDevice *dev;
} LegacyFixture;

static inline void legacy_fixture_init(LegacyFixture *f, HgrDevice *dev, HgrIoThread *t)
{
    legacy_board_init(&f->tb);
    f->tb.board.iothread = t;
    f->dev = dev;
    legacy_realize(&f->tb, dev);
}

static inline void legacy_fixture_clear(LegacyFixture *f)
{
    hgr_device_free(f->dev);
    legacy_board_clear(&f->tb);
}

/* Saves dev into stream and parses the section back out. */
static inline void legacy_save(HgrDevice *dev, GByteArray *stream, HgrStateSection *sec)
{
    size_t pos = 0;

    hgr_device_save(dev, stream);
    g_assert_true(hgr_state_read_section(stream->data, stream->len, &pos, sec, NULL));
    g_assert_cmpuint(pos, ==, stream->len);
}

/* Saves src, loads the section into dst and checks that dst saves the
 * very same bytes. */
static inline void legacy_roundtrip(HgrDevice *src, HgrDevice *dst)
{
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autoptr(GByteArray) again = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    HgrStateSection sec;

    legacy_save(src, stream, &sec);
    g_assert_true(hgr_device_load(dst, &sec, &err));
    g_assert_no_error(err);
    hgr_device_save(dst, again);
    g_assert_cmpmem(stream->data, stream->len, again->data, again->len);
}

/* A section cut short anywhere must be refused; when the device holds no
 * clock (stable), dst must also save exactly what it did before. */
static inline void legacy_truncated_load_fails(HgrDevice *src, HgrDevice *dst, bool stable)
{
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autoptr(GByteArray) before = g_byte_array_new();
    g_autoptr(GByteArray) after = g_byte_array_new();
    HgrStateSection sec;

    hgr_device_save(dst, before);
    legacy_save(src, stream, &sec);
    for (size_t len = 0; len < sec.len; len++) {
        g_autoptr(GError) err = NULL;
        HgrStateSection cut = sec;
        cut.len = len;
        g_assert_false(hgr_device_load(dst, &cut, &err));
        g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
    }
    hgr_device_save(dst, after);
    if (stable)
        g_assert_cmpmem(before->data, before->len, after->data, after->len);
}

/* Loads data as dev's section (right name and version): true when taken. */
static inline bool legacy_load_bytes(HgrDevice *dev, const uint8_t *data, size_t len)
{
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    HgrStateSection sec;
    size_t pos = 0;

    hgr_state_write_section(stream, dev->id, dev->ops->state_version, data, len);
    g_assert_true(hgr_state_read_section(stream->data, stream->len, &pos, &sec, NULL));
    if (hgr_device_load(dev, &sec, &err))
        return true;
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
    return false;
}

/* Saves src, changes the byte at off of its data to val, and loads that
 * into dst: true when dst took it. */
static inline bool legacy_load_forged(HgrDevice *src, HgrDevice *dst, size_t off, uint8_t val)
{
    g_autoptr(GByteArray) stream = g_byte_array_new();
    HgrStateSection sec;

    legacy_save(src, stream, &sec);
    g_assert_cmpuint(off, <, sec.len);
    g_autofree uint8_t *data = g_memdup2(sec.data, sec.len);
    data[off] = val;
    return legacy_load_bytes(dst, data, sec.len);
}
