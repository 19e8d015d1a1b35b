/* irq.h — how a device raises an interrupt.
 *
 * Devices never call KVM directly: they hold an HgrIrqChip (the VM's, or a
 * recording one in unit tests) and a line number.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    /* Level of a GSI line (ISA IRQs 0-15 are GSIs 0-15; IOAPIC pins 0-23). */
    void (*set_line)(void *opaque, unsigned gsi, bool level);
    /* Deliver one MSI message. */
    void (*signal_msi)(void *opaque, uint64_t addr, uint32_t data);
    void *opaque;
} HgrIrqChip;

typedef struct {
    const HgrIrqChip *chip;
    unsigned gsi;
} HgrIrqLine;

static inline void hgr_irq_set(const HgrIrqLine *line, bool level)
{
    if (line->chip)
        line->chip->set_line(line->chip->opaque, line->gsi, level);
}

static inline void hgr_irq_msi(const HgrIrqChip *chip, uint64_t addr, uint32_t data)
{
    if (chip)
        chip->signal_msi(chip->opaque, addr, data);
}
