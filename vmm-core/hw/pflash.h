/* pflash.h — an Intel-style CFI parallel flash (QEMU's pflash_cfi01 as OVMF
 * drives it), one byte wide, 4 KiB sectors, backed by a file. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/device.h"

#define HGR_PFLASH_SECTOR   4096u
#define HGR_PFLASH_MAX_SIZE (8u << 20)

/* Opens and checks path (a multiple of 4 KiB, at most 8 MiB). readonly is
 * the code flash: the guest's programs and erases fail with status error
 * bits. A writable flash is a UEFI variable store: it must hold a firmware
 * volume header, it is locked against a second user, and what the guest
 * programs goes to the file. realize registers an MMIO range of the file's
 * size at gpa on board->mmio. HGR_VM_ERROR_FIRMWARE on failure. */
HgrDevice *hgr_pflash_new(const char *id, const char *path, uint64_t gpa, bool readonly,
                          GError **error);

/* The flash contents in page-aligned host memory, for a read-only KVM
 * memory slot over the code flash (the guest executes from it; its writes
 * still exit to the MMIO handler). Valid until the device is freed. */
const uint8_t *hgr_pflash_host_mem(HgrDevice *dev, uint64_t *size);

/* Makes dest a copy of the variable store template, atomically (temporary
 * file, fsync, rename): dest is either the old file or the whole copy. */
bool hgr_pflash_copy_vars(const char *template_path, const char *dest, GError **error);
