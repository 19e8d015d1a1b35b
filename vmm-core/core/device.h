/* device.h — what every device is: a common header and a const ops table.
 *
 * Lifecycle: a device is created by its own constructor (no VM side
 * effects, so unit tests can build one alone), wired to the board by realize()
 * (bus ranges, KVM resources), and reset/paused/resumed/saved/loaded by the
 * generic code below. The VM lists its devices in one explicit table
 * (machine-pc.c).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

typedef struct HgrBoard HgrBoard;
typedef struct HgrDevice HgrDevice;

typedef struct {
    const char *name;            /* type name, e.g. "serial-8250" */
    uint32_t state_version;
    size_t state_size;           /* size of the device's plain-data state struct */

    bool (*realize)(HgrDevice *dev, HgrBoard *board, GError **error);
    void (*reset)(HgrDevice *dev);
    /* Optional: stop and restart work the device does off the vCPU threads. */
    void (*pause)(HgrDevice *dev);
    void (*resume)(HgrDevice *dev);

    /* Save and load: get_state copies the live device into a state struct,
     * visit_state (one function for both directions) moves it to or from the
     * stream, check_state rejects what the live device cannot take, and
     * set_state applies a checked struct to the live device. */
    void (*get_state)(HgrDevice *dev, void *state);
    void (*visit_state)(HgrVisitor *v, void *state);
    bool (*check_state)(HgrDevice *dev, const void *state, GError **error);
    void (*set_state)(HgrDevice *dev, const void *state);

    void (*destroy)(HgrDevice *dev);
} HgrDeviceOps;

struct HgrDevice {
    const HgrDeviceOps *ops;
    char *id;                    /* instance name, unique per VM: "virtio-blk.0" */
};

void hgr_device_init(HgrDevice *dev, const HgrDeviceOps *ops, const char *id);
void hgr_device_free(HgrDevice *dev);

/* Appends the device's section to stream. */
void hgr_device_save(HgrDevice *dev, GByteArray *stream);
/* Loads a section (already framed and checksummed) into the device: the
 * live device is untouched unless every check passes. */
bool hgr_device_load(HgrDevice *dev, const HgrStateSection *section, GError **error);
