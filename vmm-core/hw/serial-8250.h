/* serial-8250.h — a 16550A UART on eight I/O ports. */
#pragma once

#include <stdint.h>

#include "../chardev/chardev.h"
#include "../core/device.h"

/* Does not own chr (which may be NULL: output dropped, no input). realize
 * registers 8 ports at base on board->pio and drives GSI irq on
 * board->irqchip. */
HgrDevice *hgr_serial_8250_new(const char *id, uint16_t base, unsigned irq, HgrChardev *chr);
