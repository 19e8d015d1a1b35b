/* virtio-blk.h — a virtio block device (virtio 1.x, 5.2) on an HgrBlock. */
#pragma once

#include "../block/block.h"
#include "virtio.h"

/* Does not own blk (attaches it to t when t is given). Destroy with
 * hgr_virtio_destroy(), then g_free() the returned pointer. */
HgrVirtioDevice *hgr_virtio_blk_new(const HgrGuestMem *mem, HgrIoThread *t, HgrBlock *blk);
/* The 20-byte serial number GET_ID answers (default: derived from the image
 * path, so it is stable across runs). Longer strings are cut. */
void hgr_virtio_blk_set_serial(HgrVirtioDevice *vdev, const char *serial);
