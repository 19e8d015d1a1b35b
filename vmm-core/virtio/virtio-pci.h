/* virtio-pci.h — the virtio 1.x PCI transport (modern only, MSI-X).
 *
 * Wraps any virtio device type as a PCI device: one 64-bit memory BAR holds
 * the common, ISR, device and notify structures and the MSI-X table/PBA.
 * Queue kicks arrive as ioeventfds watched on the device's I/O thread;
 * interrupts leave as MSI-X (irqfd with KVM).
 */
#pragma once

#include "../core/device.h"
#include "../pci/msix.h"
#include "../pci/pci.h"
#include "virtio.h"

#define VIRTIO_PCI_VENDOR           0x1af4
#define VIRTIO_PCI_DEVICE_BASE      0x1040
#define VIRTIO_MSI_NO_VECTOR        0xffff

/* Vendor capability types (virtio 1.x, 4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG   1
#define VIRTIO_PCI_CAP_NOTIFY_CFG   2
#define VIRTIO_PCI_CAP_ISR_CFG      3
#define VIRTIO_PCI_CAP_DEVICE_CFG   4
#define VIRTIO_PCI_CAP_PCI_CFG      5

/* Largest device-specific saved state a device type may have. */
#define HGR_VIRTIO_PCI_DEVICE_STATE_MAX 4096

/* Takes ownership of vdev (its HgrVirtioDevice must be the first member of
 * the device type's struct: it is freed with hgr_virtio_destroy + g_free).
 * realize: the next free slot of board->pci. */
HgrDevice *hgr_virtio_pci_new(const char *id, HgrVirtioDevice *vdev);

/* The saved state (HgrDeviceOps.state_size bytes). The device type's own
 * state travels as the bytes its visit_state produces. */
typedef struct {
    HgrPciState pci;
    HgrMsixState msix;
    HgrVirtioState virtio;           /* generic part; device_state is unused (NULL) */
    uint32_t device_state_len;
    uint8_t device_state[HGR_VIRTIO_PCI_DEVICE_STATE_MAX];
    uint32_t device_feature_select;
    uint32_t driver_feature_select;
    uint64_t guest_features;         /* what the driver wrote to driver_feature */
    uint16_t queue_select;
    uint16_t config_msix_vector;
} HgrVirtioPciState;
