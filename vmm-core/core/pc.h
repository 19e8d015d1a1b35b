/* pc.h — the fixed addresses, ports and interrupt lines of Hangar's PC.
 * One place, so the devices and the ACPI tables describing them agree. */
#pragma once

/* Legacy ports and their ISA IRQs (= GSIs). */
#define HGR_PC_COM1_PORT       0x3f8
#define HGR_PC_COM1_IRQ        4
#define HGR_PC_I8042_DATA      0x60
#define HGR_PC_I8042_CMD       0x64
#define HGR_PC_I8042_KBD_IRQ   1
#define HGR_PC_I8042_AUX_IRQ   12
#define HGR_PC_RTC_PORT        0x70
#define HGR_PC_RTC_IRQ         8
#define HGR_PC_RESET_PORT      0xcf9     /* reset control register, value 0x06 */
#define HGR_PC_PCI_CONFIG_PORT 0xcf8     /* CONFIG_ADDRESS; data at 0xcfc */

/* ACPI fixed hardware (PM1a event 4 bytes, PM1a control 2, PM timer 4). */
#define HGR_PC_PM_BASE         0x600
#define HGR_PC_PM1A_EVT        (HGR_PC_PM_BASE + 0x0)
#define HGR_PC_PM1A_CNT        (HGR_PC_PM_BASE + 0x4)
#define HGR_PC_PM_TMR          (HGR_PC_PM_BASE + 0x8)
#define HGR_PC_PM_SIZE         0x10
#define HGR_PC_SCI_IRQ         9
#define HGR_PC_SLP_TYP_S5      5         /* \_S5 package value, SLP_TYP field */

/* Where ACPI tables and the RSDP live (BIOS area, reserved in e820). */
#define HGR_PC_ACPI_BASE       0xE0000
#define HGR_PC_ACPI_SIZE       0x20000

#define HGR_PC_IOAPIC_PINS     24

/* KVM's identity map page and its 3-page TSS, which it needs for real mode
 * on some hosts: where QEMU puts them, between the LAPIC and OVMF's 4 MiB
 * of flash below 4 GiB, reserved in the e820 map. */
#define HGR_PC_KVM_PRIVATE_BASE 0xFEFFC000ULL
#define HGR_PC_KVM_PRIVATE_SIZE 0x4000ULL
#define HGR_PC_KVM_IDENTITY_MAP HGR_PC_KVM_PRIVATE_BASE
#define HGR_PC_KVM_TSS          (HGR_PC_KVM_PRIVATE_BASE + 0x1000)
