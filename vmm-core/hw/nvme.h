/* nvme.h — an NVMe 1.4 PCI controller with one namespace on a block backend.
 *
 * BAR 0 (64-bit) holds the controller registers, the doorbells (stride 4)
 * and the MSI-X table and PBA. A doorbell write on a vCPU only records the
 * new tail or head and kicks an eventfd; commands are fetched, executed and
 * completed on the I/O thread (inline when there is none, as in unit tests).
 */
#pragma once

#include "../block/block.h"
#include "../core/device.h"
#include "../pci/msix.h"
#include "../pci/pci.h"

#define HGR_NVME_VENDOR       0x1b36     /* Red Hat's QEMU IDs: drivers know them */
#define HGR_NVME_DEVICE       0x0010
#define HGR_NVME_CLASS        0x010802   /* mass storage, NVM, NVMe I/O controller */
#define HGR_NVME_MAX_QUEUES   16         /* queue ids 0 (admin) to 15 */
#define HGR_NVME_MSIX_VECTORS 16
#define HGR_NVME_NUM_FEATURES 12         /* feature ids 0x01-0x0b are kept */
#define HGR_NVME_AER_MAX      4

/* realize: the next free slot of board->pci. blk stays the caller's. */
HgrDevice *hgr_nvme_new(const char *id, HgrBlock *blk, const HgrGuestMem *mem,
                        HgrIoThread *t);

/* Saved state. In-flight I/O is drained before it is taken. */
typedef struct {
    uint64_t base;
    uint16_t size, head, tail;
    uint16_t cqid;                   /* SQ: its completion queue */
    uint16_t vector;                 /* CQ: its MSI-X vector */
    bool valid, ien, phase;
} HgrNvmeQueueState;

typedef struct {
    HgrPciState pci;
    HgrMsixState msix;
    uint64_t sectors;
    uint32_t cc, csts, aqa, intms;
    uint64_t asq, acq;
    HgrNvmeQueueState sq[HGR_NVME_MAX_QUEUES], cq[HGR_NVME_MAX_QUEUES];
    uint32_t features[HGR_NVME_NUM_FEATURES];
    uint16_t aer_cid[HGR_NVME_AER_MAX];
    uint32_t n_aer;
    uint32_t aen_pending;            /* event waiting for an AER, 0: none */
    uint64_t units_read, units_written, host_reads, host_writes;
} HgrNvmeState;
