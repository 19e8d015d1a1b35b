/* io-bus.h — port I/O and MMIO dispatch.
 *
 * A range is registered once while the machine is built, before any vCPU
 * runs, so lookups need no lock. (PCI BARs move at run time; the PCI layer
 * registers its whole window here and dispatches to BARs itself.)
 * Handlers get the offset inside their range, never the absolute address.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* data holds len (1, 2, 4 or 8) little-endian bytes: filled by the handler on
 * a read, supplied to it on a write. A read nobody answers returns all ones. */
typedef void (*HgrIoFn)(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
                        bool is_write);

typedef struct {
    uint64_t base;
    uint64_t size;
    HgrIoFn fn;
    void *opaque;
    const char *name;
} HgrIoRange;

typedef struct {
    HgrIoRange *ranges;   /* sorted by base, never overlapping */
    unsigned n;
    unsigned cap;
} HgrIoBus;

/* false if the range overlaps one already registered. */
bool hgr_io_bus_register(HgrIoBus *bus, uint64_t base, uint64_t size, HgrIoFn fn,
                         void *opaque, const char *name);
/* true if a handler took the access. */
bool hgr_io_bus_dispatch(const HgrIoBus *bus, uint64_t addr, uint8_t *data, unsigned len,
                         bool is_write);
void hgr_io_bus_clear(HgrIoBus *bus);

/* Helpers for handlers: little-endian value <-> data. */
static inline uint64_t hgr_io_get(const uint8_t *data, unsigned len)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < len && i < 8; i++)
        v |= (uint64_t)data[i] << (8 * i);
    return v;
}

static inline void hgr_io_put(uint8_t *data, unsigned len, uint64_t v)
{
    for (unsigned i = 0; i < len && i < 8; i++)
        data[i] = (uint8_t)(v >> (8 * i));
}
