/* acpi-pm.h — ACPI fixed hardware (PM1a event/control, PM timer) and the
 * 0xCF9 reset control register. */
#pragma once

#include "../core/device.h"

/* PM1a_EVT, PM1a_CNT and PM_TMR at HGR_PC_PM_BASE, SCI on HGR_PC_SCI_IRQ,
 * reset register at HGR_PC_RESET_PORT. Sleeping with SLP_TYP S5 ->
 * HGR_BOARD_POWEROFF; a reset register write with bit 2 -> HGR_BOARD_RESET. */
HgrDevice *hgr_acpi_pm_new(void);
/* Presses the power button: PWRBTN_STS and, when enabled, an SCI. Any thread. */
void hgr_acpi_pm_power_button(HgrDevice *dev);
