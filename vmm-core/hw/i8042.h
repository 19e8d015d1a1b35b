/* i8042.h — the PC keyboard controller with a PS/2 keyboard (MF2, scan code
 * sets 1/2 with translation) and mouse (3-byte, IntelliMouse wheel), and the
 * CPU reset line. */
#pragma once

#include <hangar/input.h>

#include "../core/device.h"

/* Ports HGR_PC_I8042_DATA/CMD, IRQs HGR_PC_I8042_KBD_IRQ/AUX_IRQ. Command
 * 0xFE (any pulse of output bit 0) or an output-port write (0xD1) with bit 0
 * clear -> hgr_board_event(board, HGR_BOARD_RESET). */
HgrDevice *hgr_i8042_new(void);

/* Input, from any thread; never blocks on the guest. A key is a Linux evdev
 * KEY_* code; pointer motion follows HgrInputOps.rel. Dropped while the
 * guest has the keyboard or mouse reporting disabled. */
void hgr_i8042_key(HgrDevice *dev, unsigned evdev_code, bool down);
void hgr_i8042_pointer(HgrDevice *dev, int dx, int dy, int wheel, unsigned buttons);
/* The same, as an input sink (no absolute pointer). */
HgrInputSink hgr_i8042_input_sink(HgrDevice *dev);
