/* rtc-cmos.h — the MC146818 real-time clock and its 128 bytes of CMOS. */
#pragma once

#include <stdint.h>

#include "../core/device.h"

/* Ports 0x70/0x71 (index with the NMI mask in bit 7, data), IRQ
 * HGR_PC_RTC_IRQ. The clock starts at the host's UTC time. CMOS holds the
 * memory sizes SeaBIOS reads, computed from ram_size: 0x30/0x31 (KiB from
 * 1 to 16 MiB), 0x34/0x35 (64 KiB units from 16 MiB to the 3 GiB hole),
 * 0x5b-0x5d (64 KiB units above 4 GiB). Periodic, alarm and update
 * interrupts use board->iothread timers when there is one; without it they
 * are noticed when the guest next touches the clock. */
HgrDevice *hgr_rtc_cmos_new(uint64_t ram_size);
