/* io-bus.c — a sorted range table; binary search on every exit. */
#include "io-bus.h"

#include <glib.h>
#include <string.h>

bool hgr_io_bus_register(HgrIoBus *bus, uint64_t base, uint64_t size, HgrIoFn fn,
                         void *opaque, const char *name)
{
    unsigned pos = 0;

    if (size == 0 || base + size < base)
        return false;
    while (pos < bus->n && bus->ranges[pos].base < base)
        pos++;
    if (pos > 0) {
        const HgrIoRange *prev = &bus->ranges[pos - 1];
        if (prev->base + prev->size > base)
            return false;
    }
    if (pos < bus->n && base + size > bus->ranges[pos].base)
        return false;
    if (bus->n == bus->cap) {
        bus->cap = bus->cap ? bus->cap * 2 : 16;
        bus->ranges = g_renew(HgrIoRange, bus->ranges, bus->cap);
    }
    memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->n - pos) * sizeof(HgrIoRange));
    bus->ranges[pos] = (HgrIoRange){ base, size, fn, opaque, name };
    bus->n++;
    return true;
}

bool hgr_io_bus_dispatch(const HgrIoBus *bus, uint64_t addr, uint8_t *data, unsigned len,
                         bool is_write)
{
    unsigned lo = 0, hi = bus->n;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        const HgrIoRange *r = &bus->ranges[mid];
        if (addr < r->base) {
            hi = mid;
        } else if (addr - r->base >= r->size) {
            lo = mid + 1;
        } else {
            r->fn(r->opaque, addr - r->base, data, len, is_write);
            return true;
        }
    }
    if (!is_write)
        memset(data, 0xff, len);
    return false;
}

void hgr_io_bus_clear(HgrIoBus *bus)
{
    g_clear_pointer(&bus->ranges, g_free);
    bus->n = bus->cap = 0;
}
