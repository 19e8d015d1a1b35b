/* fw-cfg.h — QEMU's firmware configuration interface (docs/specs/fw_cfg.txt
 * in QEMU), the way SeaBIOS and OVMF learn about the machine.
 *
 * Ports: selector 0x510 (16-bit write), data 0x511 (byte reads), DMA address
 * 0x514 (big-endian, high half at 0x514, low half at 0x518; writing the low
 * half starts the transfer). Entries are added while the machine is built,
 * before any vCPU runs; the guest only reads them (and writes the few marked
 * writable, through DMA).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/device.h"
#include "../core/memory.h"

#define HGR_FW_CFG_PORT        0x510
#define HGR_FW_CFG_PORT_SIZE   12

/* Selector keys (fw_cfg.txt). */
#define HGR_FW_CFG_SIGNATURE     0x00
#define HGR_FW_CFG_ID            0x01
#define HGR_FW_CFG_UUID          0x02
#define HGR_FW_CFG_RAM_SIZE      0x03
#define HGR_FW_CFG_NOGRAPHIC     0x04
#define HGR_FW_CFG_NB_CPUS       0x05
#define HGR_FW_CFG_BOOT_MENU     0x0e
#define HGR_FW_CFG_MAX_CPUS      0x0f
#define HGR_FW_CFG_KERNEL_ADDR   0x07
#define HGR_FW_CFG_KERNEL_SIZE   0x08
#define HGR_FW_CFG_KERNEL_CMDLINE 0x09
#define HGR_FW_CFG_INITRD_ADDR   0x0a
#define HGR_FW_CFG_INITRD_SIZE   0x0b
#define HGR_FW_CFG_KERNEL_DATA   0x11
#define HGR_FW_CFG_INITRD_DATA   0x12
#define HGR_FW_CFG_CMDLINE_ADDR  0x13
#define HGR_FW_CFG_CMDLINE_SIZE  0x14
#define HGR_FW_CFG_CMDLINE_DATA  0x15
#define HGR_FW_CFG_SETUP_ADDR    0x16
#define HGR_FW_CFG_SETUP_SIZE    0x17
#define HGR_FW_CFG_SETUP_DATA    0x18
#define HGR_FW_CFG_FILE_DIR      0x19
#define HGR_FW_CFG_FILE_FIRST    0x20
#define HGR_FW_CFG_ARCH_LOCAL    0x8000
#define HGR_FW_CFG_E820_TABLE    0x8003

/* FW_CFG_ID feature bits. */
#define HGR_FW_CFG_F_TRADITIONAL 0x1
#define HGR_FW_CFG_F_DMA         0x2

/* DMA control bits (in the big-endian FWCfgDmaAccess header). */
#define HGR_FW_CFG_DMA_ERROR   0x01
#define HGR_FW_CFG_DMA_READ    0x02
#define HGR_FW_CFG_DMA_SKIP    0x04
#define HGR_FW_CFG_DMA_SELECT  0x08
#define HGR_FW_CFG_DMA_WRITE   0x10

#define HGR_FW_CFG_NAME_MAX    56      /* with the terminating NUL */
#define HGR_FW_CFG_MAX_FILES   128

/* A device with the signature, ID (DMA offered) and an empty file directory.
 * DMA goes to and from `mem`, RAM only: a transfer touching anything else
 * fails with the ERROR bit. */
HgrDevice *hgr_fw_cfg_new(const HgrGuestMem *mem);

/* Adds or replaces the item at `key` (a copy of data). Keys below
 * HGR_FW_CFG_FILE_FIRST or in the arch range; not the signature, ID or file
 * directory. */
void hgr_fw_cfg_add_bytes(HgrDevice *dev, uint16_t key, const void *data, size_t len);
void hgr_fw_cfg_add_u16(HgrDevice *dev, uint16_t key, uint16_t value);
void hgr_fw_cfg_add_u32(HgrDevice *dev, uint16_t key, uint32_t value);
void hgr_fw_cfg_add_u64(HgrDevice *dev, uint16_t key, uint64_t value);

/* Adds or replaces a named file (a copy of data) and lists it in the
 * directory. Only a writable file takes DMA writes, and only inside its
 * length. false (and nothing added) when the name is empty or too long, or
 * the directory is full. */
bool hgr_fw_cfg_add_file(HgrDevice *dev, const char *name, const void *data, size_t len,
                         bool writable);
/* The current contents of a file (a writable one may have been changed by
 * the guest), or NULL. */
const uint8_t *hgr_fw_cfg_file(HgrDevice *dev, const char *name, size_t *len);
