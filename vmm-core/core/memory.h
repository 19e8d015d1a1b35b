/* memory.h — guest physical memory, and the one checked way to touch it.
 *
 * Every address or length a guest can influence goes through these
 * accessors: they check bounds and overflow and return NULL/false/-1 rather
 * than a wild pointer. Guest memory may change under our feet (another vCPU,
 * a malicious guest): read a structure once into a local copy, then validate.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define HGR_MEM_MAX_REGIONS 4

typedef struct {
    uint64_t gpa;
    uint64_t size;
    uint8_t *hva;
} HgrMemRegion;

typedef struct {
    HgrMemRegion regions[HGR_MEM_MAX_REGIONS];
    unsigned n_regions;
    uint64_t ram_size;       /* bytes of RAM the guest can reach, over all regions */
} HgrGuestMem;

/* The PC memory map, q35's: RAM below 4 GiB stops at HGR_LOWMEM_LIMIT; the
 * rest of it lives above 4 GiB. Firmware hands out 32-bit BARs downward from
 * the IOAPIC, so the BAR window reaches up to it. */
#define HGR_LOWMEM_LIMIT      0xB0000000ULL   /* 2.75 GiB, as on QEMU's q35 */
#define HGR_PCI_ECAM_BASE     0xB0000000ULL   /* PCIe config space, buses 0-255: where */
#define HGR_PCI_ECAM_SIZE     0x10000000ULL   /* SeaBIOS and OVMF put a q35's PCIEXBAR */
#define HGR_PCI_MMIO_BASE     0xC0000000ULL   /* 32-bit PCI BAR window, up to the IOAPIC */
#define HGR_PCI_MMIO_SIZE     0x3EC00000ULL
#define HGR_VGA_WINDOW_BASE   0xA0000ULL      /* legacy VGA memory, decoded by the display */
#define HGR_VGA_WINDOW_END    0xC0000ULL
#define HGR_IOAPIC_BASE       0xFEC00000ULL
#define HGR_LAPIC_BASE        0xFEE00000ULL
#define HGR_HIGHMEM_BASE      0x100000000ULL
/* The 64-bit BAR window starts above RAM and reaches the top of the guest's
 * physical address space (hgr_pc_mmio64_size), at least this far: OVMF puts
 * its 64-bit aperture at the very top (1/8 of the space below 2^phys_bits),
 * SeaBIOS right above RAM. */
#define HGR_PCI_MMIO64_SIZE   0x4000000000ULL /* 256 GiB */

/* Lays out `ram_size` bytes as the PC map above says, backed by `hva`
 * (one contiguous host mapping of ram_size bytes). */
void hgr_mem_init_pc(HgrGuestMem *mem, uint8_t *hva, uint64_t ram_size);

/* First guest address above all RAM (where the 64-bit PCI window starts). */
uint64_t hgr_mem_top(const HgrGuestMem *mem);

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one RAM region,
 * else NULL. len 0 is allowed and needs gpa inside (or at the end of) a region. */
void *hgr_mem_ptr(const HgrGuestMem *mem, uint64_t gpa, uint64_t len);

/* Copies that may cross region boundaries; false when any byte is not RAM. */
bool hgr_mem_read(const HgrGuestMem *mem, uint64_t gpa, void *buf, size_t len);
bool hgr_mem_write(const HgrGuestMem *mem, uint64_t gpa, const void *buf, size_t len);

/* Describes the guest buffer [gpa, gpa+len) as host iovecs (split where it
 * crosses regions), appending to iov[*n] while *n < max.
 * Returns false when any byte is not RAM or iov is full. */
bool hgr_mem_iov(const HgrGuestMem *mem, uint64_t gpa, uint64_t len,
                 struct iovec *iov, unsigned *n, unsigned max);

/* Little-endian typed access for fixed-size guest structures. */
static inline bool hgr_mem_read_u16(const HgrGuestMem *m, uint64_t gpa, uint16_t *v)
{
    return hgr_mem_read(m, gpa, v, sizeof(*v));
}

static inline bool hgr_mem_write_u16(const HgrGuestMem *m, uint64_t gpa, uint16_t v)
{
    return hgr_mem_write(m, gpa, &v, sizeof(v));
}

static inline bool hgr_mem_write_u32(const HgrGuestMem *m, uint64_t gpa, uint32_t v)
{
    return hgr_mem_write(m, gpa, &v, sizeof(v));
}
