/* virtio-console.h — virtio console (virtio 1.x, 5.3): one port, hvc0 in a
 * Linux guest, over a chardev. */
#pragma once

#include "../chardev/chardev.h"
#include "virtio.h"

/* Does not own chr. Free with hgr_virtio_destroy() + g_free() before chr. */
HgrVirtioDevice *hgr_virtio_console_new(const HgrGuestMem *mem, HgrIoThread *t,
                                        HgrChardev *chr);
