/* virtio-rng.h — entropy for the guest from the host's getrandom(). */
#pragma once

#include "virtio.h"

HgrVirtioDevice *hgr_virtio_rng_new(const HgrGuestMem *mem, HgrIoThread *t);
