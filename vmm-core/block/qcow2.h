/* qcow2.h — the qcow2 (v2 and v3) format driver under HgrBlock. */
#pragma once

#include "block.h"

extern const HgrBlockDriver hgr_qcow2_driver;

/* Writes a new empty qcow2 v3 image (64 KiB clusters) of size bytes at path,
 * which must not exist yet. */
bool hgr_qcow2_create(const char *path, uint64_t size, GError **error);
