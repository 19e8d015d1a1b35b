/* memory.c — bounds-checked access to guest RAM. */
#include "memory.h"

#include <string.h>

#define MIN_U64(a, b) ((uint64_t)(a) < (uint64_t)(b) ? (uint64_t)(a) : (uint64_t)(b))

void hgr_mem_init_pc(HgrGuestMem *mem, uint8_t *hva, uint64_t ram_size)
{
    uint64_t low = ram_size < HGR_LOWMEM_LIMIT ? ram_size : HGR_LOWMEM_LIMIT;

    memset(mem, 0, sizeof(*mem));
    /* The legacy VGA window [0xa0000, 0xc0000) is never RAM: the display
     * decodes it. Its 128 KiB of backing memory just go unused. */
    mem->regions[mem->n_regions++] = (HgrMemRegion){
        .gpa = 0, .size = MIN_U64(low, HGR_VGA_WINDOW_BASE), .hva = hva };
    if (low > HGR_VGA_WINDOW_END)
        mem->regions[mem->n_regions++] = (HgrMemRegion){
            .gpa = HGR_VGA_WINDOW_END, .size = low - HGR_VGA_WINDOW_END,
            .hva = hva + HGR_VGA_WINDOW_END };
    if (ram_size > low)
        mem->regions[mem->n_regions++] = (HgrMemRegion){
            .gpa = HGR_HIGHMEM_BASE, .size = ram_size - low, .hva = hva + low };
    for (unsigned i = 0; i < mem->n_regions; i++)
        mem->ram_size += mem->regions[i].size;
}

uint64_t hgr_mem_top(const HgrGuestMem *mem)
{
    const HgrMemRegion *last = &mem->regions[mem->n_regions - 1];
    uint64_t top = last->gpa + last->size;

    return top > HGR_HIGHMEM_BASE ? top : HGR_HIGHMEM_BASE;
}

static const HgrMemRegion *find_region(const HgrGuestMem *mem, uint64_t gpa)
{
    for (unsigned i = 0; i < mem->n_regions; i++) {
        const HgrMemRegion *r = &mem->regions[i];
        if (gpa >= r->gpa && gpa - r->gpa < r->size)
            return r;
    }
    return NULL;
}

void *hgr_mem_ptr(const HgrGuestMem *mem, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < mem->n_regions; i++) {
        const HgrMemRegion *r = &mem->regions[i];
        if (gpa < r->gpa)
            continue;
        uint64_t off = gpa - r->gpa;
        /* off <= size and len <= size - off: no overflow possible. */
        if (off <= r->size && len <= r->size - off)
            return r->hva + off;
    }
    return NULL;
}

static bool copy(const HgrGuestMem *mem, uint64_t gpa, void *buf, size_t len, bool to_guest)
{
    uint8_t *p = buf;

    if (gpa + len < gpa)
        return false;
    while (len > 0) {
        const HgrMemRegion *r = find_region(mem, gpa);
        if (!r)
            return false;
        uint64_t off = gpa - r->gpa;
        size_t chunk = MIN_U64(len, r->size - off);
        if (to_guest)
            memcpy(r->hva + off, p, chunk);
        else
            memcpy(p, r->hva + off, chunk);
        p += chunk;
        gpa += chunk;
        len -= chunk;
    }
    return true;
}

bool hgr_mem_read(const HgrGuestMem *mem, uint64_t gpa, void *buf, size_t len)
{
    return copy(mem, gpa, buf, len, false);
}

bool hgr_mem_write(const HgrGuestMem *mem, uint64_t gpa, const void *buf, size_t len)
{
    return copy(mem, gpa, (void *)buf, len, true);
}

bool hgr_mem_iov(const HgrGuestMem *mem, uint64_t gpa, uint64_t len,
                 struct iovec *iov, unsigned *n, unsigned max)
{
    if (gpa + len < gpa)
        return false;
    while (len > 0) {
        const HgrMemRegion *r = find_region(mem, gpa);
        if (!r || *n >= max)
            return false;
        uint64_t off = gpa - r->gpa;
        uint64_t chunk = MIN_U64(len, r->size - off);
        iov[*n].iov_base = r->hva + off;
        iov[*n].iov_len = chunk;
        (*n)++;
        gpa += chunk;
        len -= chunk;
    }
    return true;
}
