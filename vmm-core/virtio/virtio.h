/* virtio.h — a virtio device, independent of its transport.
 *
 * A device type (blk, net, console, rng) fills an HgrVirtioOps and embeds an
 * HgrVirtioDevice. The transport (virtio-pci.c) owns registers, MSI-X and
 * ioeventfds, and calls hgr_virtio_* below; device types never see PCI.
 *
 * Locking: vdev->lock is held around every call into the ops (register
 * access from a vCPU thread, queue notifications and completions on the I/O
 * thread). Ops must not block.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/iothread.h"
#include "../core/memory.h"
#include "../core/ratelimit.h"
#include "../core/state.h"
#include "virtqueue.h"

#define HGR_VIRTIO_MAX_QUEUES 8

/* Device status bits (virtio 1.x, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE   1
#define VIRTIO_STATUS_DRIVER        2
#define VIRTIO_STATUS_DRIVER_OK     4
#define VIRTIO_STATUS_FEATURES_OK   8
#define VIRTIO_STATUS_NEEDS_RESET   64
#define VIRTIO_STATUS_FAILED        128

/* Transport feature bits offered by the generic code. */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

/* Device IDs. */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4

typedef struct HgrVirtioDevice HgrVirtioDevice;

typedef struct {
    const char *name;                /* "virtio-blk" */
    uint16_t device_id;
    unsigned num_queues;
    uint16_t queue_max_size;
    uint32_t state_version;          /* of the device-specific part */

    /* Device-specific feature bits offered (the generic code adds VERSION_1,
     * INDIRECT_DESC and EVENT_IDX). */
    uint64_t (*get_features)(HgrVirtioDevice *vdev);
    /* Device config space; reads past config_size return 0, writes are
     * ignored unless config_write is set. */
    size_t config_size;
    void (*config_read)(HgrVirtioDevice *vdev, uint32_t offset, void *data, unsigned len);
    void (*config_write)(HgrVirtioDevice *vdev, uint32_t offset, const void *data,
                         unsigned len);

    /* The driver kicked queue q (I/O thread). */
    void (*queue_notify)(HgrVirtioDevice *vdev, unsigned q);
    /* DRIVER_OK was set: start working. */
    void (*activate)(HgrVirtioDevice *vdev);
    /* Device reset (queues are reset by the generic code). */
    void (*reset)(HgrVirtioDevice *vdev);
    /* Device-specific saved state, same contract as HgrDeviceOps: a plain
     * struct of state_size bytes (0: none). */
    size_t state_size;
    void (*get_state)(HgrVirtioDevice *vdev, void *state);
    void (*visit_state)(HgrVisitor *v, void *state);
    bool (*check_state)(HgrVirtioDevice *vdev, const void *state, GError **error);
    void (*set_state)(HgrVirtioDevice *vdev, const void *state);
    void (*destroy)(HgrVirtioDevice *vdev);
} HgrVirtioOps;

/* How a device reaches its transport: raise the interrupt of a queue or of
 * the config space. Set by the transport. */
typedef struct {
    void (*notify_queue)(void *opaque, unsigned q);
    void (*notify_config)(void *opaque);
    void *opaque;
} HgrVirtioTransport;

struct HgrVirtioDevice {
    const HgrVirtioOps *ops;
    GMutex lock;
    const HgrGuestMem *mem;
    HgrIoThread *iothread;           /* where device work runs; may be NULL in tests */
    HgrVirtioTransport transport;

    uint64_t device_features;        /* offered: ops->get_features() | generic */
    uint64_t driver_features;        /* acked */
    uint8_t status;
    uint8_t isr;                     /* bit 0 queue, bit 1 config */
    uint8_t config_generation;
    HgrVirtq queues[HGR_VIRTIO_MAX_QUEUES];
    HgrRateLimit broken_warnings;    /* a guest may break a device in a loop */
};

void hgr_virtio_init(HgrVirtioDevice *vdev, const HgrVirtioOps *ops, const HgrGuestMem *mem,
                     HgrIoThread *iothread);
void hgr_virtio_destroy(HgrVirtioDevice *vdev);

bool hgr_virtio_has_feature(const HgrVirtioDevice *vdev, unsigned bit);

/* Transport side (called with vdev->lock held). */
void hgr_virtio_set_status(HgrVirtioDevice *vdev, uint8_t status);
/* Driver acked features; false if it acked something not offered. */
bool hgr_virtio_set_driver_features(HgrVirtioDevice *vdev, uint64_t features);
void hgr_virtio_reset(HgrVirtioDevice *vdev);
/* A queue_enable write: validates the rings; a bad queue marks the device
 * NEEDS_RESET instead of running. */
void hgr_virtio_queue_enable(HgrVirtioDevice *vdev, unsigned q);
void hgr_virtio_queue_notify(HgrVirtioDevice *vdev, unsigned q);
void hgr_virtio_config_read(HgrVirtioDevice *vdev, uint32_t offset, void *data, unsigned len);
void hgr_virtio_config_write(HgrVirtioDevice *vdev, uint32_t offset, const void *data,
                             unsigned len);

/* Device side (called with vdev->lock held). */
/* Pushes a used element and raises the queue interrupt if the driver wants one. */
void hgr_virtio_complete(HgrVirtioDevice *vdev, unsigned q, uint16_t head, uint32_t written);
/* Raises the queue interrupt if the driver wants one (after several pushes). */
void hgr_virtio_notify_if_needed(HgrVirtioDevice *vdev, unsigned q);
void hgr_virtio_notify_config(HgrVirtioDevice *vdev);
/* The device hit guest nonsense: set NEEDS_RESET, tell the driver, stop. */
void hgr_virtio_set_broken(HgrVirtioDevice *vdev, const char *why);
bool hgr_virtio_is_running(const HgrVirtioDevice *vdev);

/* The generic state every virtio device saves; the transport embeds it in
 * its own state and calls these from its HgrDeviceOps. */
typedef struct {
    uint64_t driver_features;
    uint8_t status;
    uint8_t isr;
    uint8_t config_generation;
    uint8_t num_queues;
    HgrVirtq queues[HGR_VIRTIO_MAX_QUEUES];
    void *device_state;              /* ops->state_size bytes, owned */
} HgrVirtioState;

void hgr_virtio_get_state(HgrVirtioDevice *vdev, HgrVirtioState *st);
/* Loading needs st->device_state allocated: call hgr_virtio_state_prepare(). */
void hgr_virtio_visit_state(HgrVisitor *v, const HgrVirtioOps *ops, HgrVirtioState *st);
void hgr_virtio_state_prepare(const HgrVirtioOps *ops, HgrVirtioState *st);
void hgr_virtio_state_clear(HgrVirtioState *st);
/* Rejects acked features not offered, a wrong queue count, queue sizes out
 * of range, rings outside RAM, then asks the device type. */
bool hgr_virtio_check_state(HgrVirtioDevice *vdev, const HgrVirtioState *st, GError **error);
void hgr_virtio_set_state(HgrVirtioDevice *vdev, const HgrVirtioState *st);
