/* ahci.h — Intel ICH9 AHCI controller (8086:2922, class 010601): ABAR at
 * BAR 5, one MSI vector, six SATA ports each holding nothing, a disk or an
 * ATAPI CD-ROM. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "../block/block.h"
#include "../core/device.h"
#include "../core/iothread.h"
#include "../core/memory.h"

#define HGR_AHCI_PORTS 6

/* realize() joins board->pci. Disk I/O completes on t (NULL: inline, for
 * tests). */
HgrDevice *hgr_ahci_new(const char *id, const HgrGuestMem *mem, HgrIoThread *t);

/* Before realize. The device does not own blk (the caller frees it after
 * the device). False when the port is out of range or already has a drive. */
bool hgr_ahci_attach_disk(HgrDevice *dev, unsigned port, HgrBlock *blk, GError **error);
/* blk NULL: a drive with no medium. */
bool hgr_ahci_attach_cdrom(HgrDevice *dev, unsigned port, HgrBlock *blk, GError **error);

/* Swaps the CD's medium (NULL: eject) at run time, from any thread but the
 * I/O thread; I/O on the old medium is finished first, so the caller may
 * free it afterwards. The guest hears of it as UNIT ATTENTION on its next
 * command. Refused while the guest has locked the tray, unless force. */
bool hgr_ahci_change_media(HgrDevice *dev, unsigned port, HgrBlock *blk, bool force,
                           GError **error);
