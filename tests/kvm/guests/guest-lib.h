/* guest-lib.h — the little a freestanding 64-bit test guest needs: port
 * I/O, MMIO, COM1 output, PCI config space, power off. */
#pragma once

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

#define MMIO(type, addr) (*(volatile type *)(uintptr_t)(addr))

static inline void putc(char c)
{
    while (!(inb(0x3fd) & 0x20))
        ;
    outb(0x3f8, (uint8_t)c);
}

static inline void puts(const char *s)
{
    while (*s)
        putc(*s++);
}

static inline void puthex(uint64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        putc("0123456789abcdef"[(v >> (4 * i)) & 15]);
}

static inline uint32_t pci_read(unsigned dev, unsigned off)
{
    outl(0xcf8, 0x80000000u | (dev << 11) | (off & 0xfc));
    return inl(0xcfc);
}

static inline void pci_write(unsigned dev, unsigned off, uint32_t v)
{
    outl(0xcf8, 0x80000000u | (dev << 11) | (off & 0xfc));
    outl(0xcfc, v);
}

static inline __attribute__((noreturn)) void poweroff(void)
{
    outw(0x604, 0x2000 | (5 << 10));
    for (;;)
        __asm__ volatile("hlt");
}
