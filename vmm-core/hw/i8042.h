/* i8042.h — the PC keyboard controller: enough for Linux's i8042 driver to
 * probe it, a minimal keyboard and mouse that answer their commands, and the
 * CPU reset line. */
#pragma once

#include "../core/device.h"

/* Ports HGR_PC_I8042_DATA/CMD, IRQs HGR_PC_I8042_KBD_IRQ/AUX_IRQ. Command
 * 0xFE (any pulse of output bit 0) or an output-port write (0xD1) with bit 0
 * clear -> hgr_board_event(board, HGR_BOARD_RESET). */
HgrDevice *hgr_i8042_new(void);
