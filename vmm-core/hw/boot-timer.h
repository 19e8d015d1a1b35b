/* boot-timer.h — the port the guest's init writes once it is up. */
#pragma once

#include "../core/device.h"

/* Port HGR_BOOT_TIMER_PORT (hangar/vm.h): the first write since reset ->
 * hgr_board_event(board, HGR_BOARD_BOOTED). Reads return 0xff. */
HgrDevice *hgr_boot_timer_new(void);
