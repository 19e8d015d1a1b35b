/* virtio-pci.c — virtio over PCI, modern interface (virtio 1.x, 4.1). */
#include "virtio-pci.h"

#include <errno.h>
#include <hangar/vm.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* BAR 0 (64-bit, so BARs 0 and 1): one page per structure. */
#define VP_BAR              0
#define VP_BAR_SIZE         0x8000
#define COMMON_OFF          0x0000
#define COMMON_LEN          0x38
#define ISR_OFF             0x1000
#define DEVICE_OFF          0x2000
#define DEVICE_LEN          0x1000
#define NOTIFY_OFF          0x3000
#define NOTIFY_MULTIPLIER   4
#define MSIX_TABLE_OFF      0x4000
#define MSIX_PBA_OFF        0x5000
#define REGION_LEN          0x1000

#define VIRTIO_CAP_LEN      16
#define VIRTIO_NOTIFY_CAP_LEN 20
#define VIRTIO_PCI_CFG_CAP_LEN 20
#define PCI_CFG_BAR         4
#define PCI_CFG_OFFSET      8
#define PCI_CFG_LENGTH      12
#define PCI_CFG_DATA        16

/* Common configuration layout (4.1.4.3). */
enum {
    CC_DFSELECT = 0x00, CC_DF = 0x04, CC_GFSELECT = 0x08, CC_GF = 0x0c,
    CC_MSIX = 0x10, CC_NUMQ = 0x12, CC_STATUS = 0x14, CC_CFGGEN = 0x15,
    CC_Q_SELECT = 0x16, CC_Q_SIZE = 0x18, CC_Q_MSIX = 0x1a, CC_Q_ENABLE = 0x1c,
    CC_Q_NOFF = 0x1e, CC_Q_DESCLO = 0x20, CC_Q_AVAILLO = 0x28, CC_Q_USEDLO = 0x30,
};

static const struct { uint8_t off, size; } common_fields[] = {
    { CC_DFSELECT, 4 }, { CC_DF, 4 }, { CC_GFSELECT, 4 }, { CC_GF, 4 },
    { CC_MSIX, 2 }, { CC_NUMQ, 2 }, { CC_STATUS, 1 }, { CC_CFGGEN, 1 },
    { CC_Q_SELECT, 2 }, { CC_Q_SIZE, 2 }, { CC_Q_MSIX, 2 }, { CC_Q_ENABLE, 2 },
    { CC_Q_NOFF, 2 }, { CC_Q_DESCLO, 8 }, { CC_Q_AVAILLO, 8 }, { CC_Q_USEDLO, 8 },
};

typedef struct HgrVirtioPci HgrVirtioPci;

typedef struct {
    HgrVirtioPci *vp;
    unsigned q;
    int fd;                          /* kick eventfd, -1 without an I/O thread */
    guint source;
    uint64_t ioeventfd_addr;         /* where KVM watches for it; 0: nowhere */
} NotifyQueue;

struct HgrVirtioPci {
    HgrPciDevice pdev;               /* first */
    HgrVirtioDevice *vdev;
    HgrMsix msix;
    const HgrBoard *board;
    unsigned pci_cfg_cap;
    /* Transport registers, under vdev->lock. */
    uint32_t device_feature_select;
    uint32_t driver_feature_select;
    uint64_t guest_features;
    uint16_t queue_select;
    uint16_t config_msix_vector;
    /* Kicks. */
    GMutex ioeventfd_lock;
    NotifyQueue notify[HGR_VIRTIO_MAX_QUEUES];
};

static HgrVirtioPci *from_pdev(HgrPciDevice *pdev)
{
    return (HgrVirtioPci *)pdev;
}

static unsigned num_queues(const HgrVirtioPci *vp)
{
    return vp->vdev->ops->num_queues;
}

static uint16_t vector_or_none(const HgrVirtioPci *vp, uint64_t v)
{
    return hgr_msix_vector_valid(&vp->msix, (uint16_t)v) ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

/* Interrupts (called by the virtio core with vdev->lock held) */

static void vp_notify_queue(void *opaque, unsigned q)
{
    HgrVirtioPci *vp = opaque;
    uint16_t vector = vp->vdev->queues[q].msix_vector;

    if (hgr_msix_vector_valid(&vp->msix, vector))
        hgr_msix_notify(&vp->msix, vector);
}

static void vp_notify_config(void *opaque)
{
    HgrVirtioPci *vp = opaque;

    if (hgr_msix_vector_valid(&vp->msix, vp->config_msix_vector))
        hgr_msix_notify(&vp->msix, vp->config_msix_vector);
}

/* Common configuration. Reads come from an image of every register; a
 * write must stay inside one register and is merged into its value, so
 * 32-bit halves of the 64-bit ring addresses work. vdev->lock held. */

static HgrVirtq *selected_queue(HgrVirtioPci *vp)
{
    return vp->queue_select < num_queues(vp) ? &vp->vdev->queues[vp->queue_select] : NULL;
}

static void common_image(HgrVirtioPci *vp, uint8_t img[COMMON_LEN])
{
    HgrVirtioDevice *vdev = vp->vdev;
    HgrVirtq *vq = selected_queue(vp);
    uint32_t dfs = vp->device_feature_select, gfs = vp->driver_feature_select;

    memset(img, 0, COMMON_LEN);
    hgr_io_put(img + CC_DFSELECT, 4, dfs);
    hgr_io_put(img + CC_DF, 4, dfs < 2 ? vdev->device_features >> (32 * dfs) : 0);
    hgr_io_put(img + CC_GFSELECT, 4, gfs);
    hgr_io_put(img + CC_GF, 4, gfs < 2 ? vp->guest_features >> (32 * gfs) : 0);
    hgr_io_put(img + CC_MSIX, 2, vp->config_msix_vector);
    hgr_io_put(img + CC_NUMQ, 2, num_queues(vp));
    img[CC_STATUS] = vdev->status;
    img[CC_CFGGEN] = vdev->config_generation;
    hgr_io_put(img + CC_Q_SELECT, 2, vp->queue_select);
    if (!vq) {
        hgr_io_put(img + CC_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
        return;                      /* queue_size 0: no such queue */
    }
    hgr_io_put(img + CC_Q_SIZE, 2, vq->size);
    hgr_io_put(img + CC_Q_MSIX, 2, vq->msix_vector);
    hgr_io_put(img + CC_Q_ENABLE, 2, vq->ready);
    hgr_io_put(img + CC_Q_NOFF, 2, vp->queue_select);
    hgr_io_put(img + CC_Q_DESCLO, 8, vq->desc_gpa);
    hgr_io_put(img + CC_Q_AVAILLO, 8, vq->avail_gpa);
    hgr_io_put(img + CC_Q_USEDLO, 8, vq->used_gpa);
}

static void write_status(HgrVirtioPci *vp, uint8_t status)
{
    HgrVirtioDevice *vdev = vp->vdev;

    if (status == 0) {
        hgr_virtio_reset(vdev);
        vp->device_feature_select = 0;
        vp->driver_feature_select = 0;
        vp->guest_features = 0;
        vp->queue_select = 0;
        vp->config_msix_vector = VIRTIO_MSI_NO_VECTOR;
        return;
    }
    /* The acked set reaches the core only at FEATURES_OK, where it is judged. */
    if ((status & VIRTIO_STATUS_FEATURES_OK) && !(vdev->status & VIRTIO_STATUS_FEATURES_OK))
        hgr_virtio_set_driver_features(vdev, vp->guest_features);
    hgr_virtio_set_status(vdev, status);
}

static void write_queue_reg(HgrVirtioPci *vp, unsigned reg, uint64_t val)
{
    HgrVirtq *vq = selected_queue(vp);

    /* Queue registers are frozen once the queue is enabled or the device runs. */
    if (!vq || vq->ready || (vp->vdev->status & VIRTIO_STATUS_DRIVER_OK))
        return;
    switch (reg) {
    case CC_Q_SIZE:    vq->size = (uint16_t)val; break;   /* judged at enable */
    case CC_Q_MSIX:    vq->msix_vector = vector_or_none(vp, val); break;
    case CC_Q_DESCLO:  vq->desc_gpa = val; break;
    case CC_Q_AVAILLO: vq->avail_gpa = val; break;
    case CC_Q_USEDLO:  vq->used_gpa = val; break;
    case CC_Q_ENABLE:
        if (val == 1)
            hgr_virtio_queue_enable(vp->vdev, vp->queue_select);
        break;
    }
}

static void common_write(HgrVirtioPci *vp, uint32_t off, const uint8_t *data, unsigned len)
{
    uint8_t img[COMMON_LEN];
    unsigned f;

    for (f = 0; f < G_N_ELEMENTS(common_fields); f++)
        if (off >= common_fields[f].off && off < common_fields[f].off + common_fields[f].size)
            break;
    if (f == G_N_ELEMENTS(common_fields) ||
        off + len > (unsigned)common_fields[f].off + common_fields[f].size)
        return;
    unsigned reg = common_fields[f].off;
    common_image(vp, img);
    memcpy(img + off, data, len);
    uint64_t val = hgr_io_get(img + reg, common_fields[f].size);

    switch (reg) {
    case CC_DFSELECT: vp->device_feature_select = (uint32_t)val; break;
    case CC_GFSELECT: vp->driver_feature_select = (uint32_t)val; break;
    case CC_GF:
        if (vp->driver_feature_select < 2 &&
            !(vp->vdev->status & VIRTIO_STATUS_FEATURES_OK)) {
            unsigned shift = 32 * vp->driver_feature_select;
            vp->guest_features = (vp->guest_features & ~(0xffffffffULL << shift)) |
                                 (val << shift);
        }
        break;
    case CC_MSIX:     vp->config_msix_vector = vector_or_none(vp, val); break;
    case CC_STATUS:   write_status(vp, (uint8_t)val); break;
    case CC_Q_SELECT: vp->queue_select = (uint16_t)val; break;
    default:          write_queue_reg(vp, reg, val); break;
    }
}

/* The BAR */

static void notify_write(HgrVirtioPci *vp, uint64_t off)
{
    unsigned q = (unsigned)(off / NOTIFY_MULTIPLIER);

    if (off % NOTIFY_MULTIPLIER || q >= num_queues(vp))
        return;
    if (vp->notify[q].fd >= 0) {
        uint64_t one = 1;
        if (write(vp->notify[q].fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            g_warning_once("%s: kick eventfd: %s", vp->pdev.dev.id, g_strerror(errno));
        return;
    }
    g_mutex_lock(&vp->vdev->lock);
    hgr_virtio_queue_notify(vp->vdev, q);
    g_mutex_unlock(&vp->vdev->lock);
}

static void bar_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
    HgrVirtioPci *vp = opaque;
    HgrVirtioDevice *vdev = vp->vdev;
    uint64_t region = off & ~(uint64_t)(REGION_LEN - 1), roff = off - region;

    if (!is_write)
        memset(data, 0, len);
    if (roff + len > REGION_LEN)
        return;
    switch (region) {
    case COMMON_OFF:
        if (roff + len > COMMON_LEN)
            return;
        g_mutex_lock(&vdev->lock);
        if (is_write) {
            common_write(vp, (uint32_t)roff, data, len);
        } else {
            uint8_t img[COMMON_LEN];
            common_image(vp, img);
            memcpy(data, img + roff, len);
        }
        g_mutex_unlock(&vdev->lock);
        break;
    case ISR_OFF:
        if (is_write || roff != 0)
            return;
        g_mutex_lock(&vdev->lock);
        data[0] = vdev->isr;         /* reading clears it */
        vdev->isr = 0;
        g_mutex_unlock(&vdev->lock);
        break;
    case DEVICE_OFF:
        g_mutex_lock(&vdev->lock);
        if (is_write)
            hgr_virtio_config_write(vdev, (uint32_t)roff, data, len);
        else
            hgr_virtio_config_read(vdev, (uint32_t)roff, data, len);
        g_mutex_unlock(&vdev->lock);
        break;
    case NOTIFY_OFF:
        if (is_write)
            notify_write(vp, roff);
        break;
    case MSIX_TABLE_OFF:
        hgr_msix_table_io(&vp->msix, roff, data, len, is_write);
        break;
    case MSIX_PBA_OFF:
        hgr_msix_pba_io(&vp->msix, roff, data, len, is_write);
        break;
    }
}

/* Kicks: KVM ioeventfds follow the BAR; the I/O thread watches the eventfds. */

static int ioeventfd_ioctl(int vm_fd, int fd, uint64_t addr, bool assign)
{
    struct kvm_ioeventfd ev = { .addr = addr, .len = 2, .fd = fd,
                                .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN };
    return ioctl(vm_fd, KVM_IOEVENTFD, &ev) < 0 ? -errno : 0;
}

static void update_ioeventfds(HgrVirtioPci *vp)
{
    if (!vp->board || vp->board->vm_fd < 0)
        return;
    g_mutex_lock(&vp->ioeventfd_lock);
    uint64_t base = hgr_pci_bar_address(&vp->pdev, VP_BAR);
    for (unsigned q = 0; q < num_queues(vp); q++) {
        NotifyQueue *n = &vp->notify[q];
        uint64_t want = base == HGR_PCI_BAR_UNMAPPED ? 0 : base + NOTIFY_OFF + q * NOTIFY_MULTIPLIER;
        if (n->fd < 0 || n->ioeventfd_addr == want)
            continue;
        if (n->ioeventfd_addr)
            ioeventfd_ioctl(vp->board->vm_fd, n->fd, n->ioeventfd_addr, false);
        n->ioeventfd_addr = 0;
        if (!want)
            continue;
        int r = ioeventfd_ioctl(vp->board->vm_fd, n->fd, want, true);
        if (r == 0)
            n->ioeventfd_addr = want;
        else    /* kicks still arrive through the MMIO exit; the guest can repeat this */
            g_warning_once("%s: KVM_IOEVENTFD at 0x%" G_GINT64_MODIFIER "x: %s",
                      vp->pdev.dev.id, want, g_strerror(-r));
    }
    g_mutex_unlock(&vp->ioeventfd_lock);
}

static gboolean kick_ready(gint fd, GIOCondition cond, gpointer data)
{
    NotifyQueue *n = data;
    HgrVirtioDevice *vdev = n->vp->vdev;
    uint64_t count;

    if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        return G_SOURCE_CONTINUE;
    g_mutex_lock(&vdev->lock);
    hgr_virtio_queue_notify(vdev, n->q);
    g_mutex_unlock(&vdev->lock);
    return G_SOURCE_CONTINUE;
}

static gboolean remove_watches(gpointer data)
{
    HgrVirtioPci *vp = data;

    for (unsigned q = 0; q < HGR_VIRTIO_MAX_QUEUES; q++)
        if (vp->notify[q].source) {
            hgr_iothread_remove(vp->vdev->iothread, vp->notify[q].source);
            vp->notify[q].source = 0;
        }
    return G_SOURCE_REMOVE;
}

/* PCI hooks */

/* The VIRTIO_PCI_CAP_PCI_CFG window: BAR access through config space. */
static bool pci_cfg_window(HgrVirtioPci *vp, uint64_t *off, unsigned *len)
{
    unsigned cap = vp->pci_cfg_cap;
    uint32_t bar = hgr_pci_config_get(&vp->pdev, cap + PCI_CFG_BAR, 1);
    uint32_t o = hgr_pci_config_get(&vp->pdev, cap + PCI_CFG_OFFSET, 4);
    uint32_t l = hgr_pci_config_get(&vp->pdev, cap + PCI_CFG_LENGTH, 4);

    if (bar != VP_BAR || (l != 1 && l != 2 && l != 4) || o % l || o > VP_BAR_SIZE - l)
        return false;
    *off = o;
    *len = l;
    return true;
}

static bool overlaps(uint32_t off, unsigned len, uint32_t start, unsigned size)
{
    return off < start + size && start < off + len;
}

static void vp_config_read(HgrPciDevice *pdev, uint32_t off, uint8_t *data, unsigned len)
{
    HgrVirtioPci *vp = from_pdev(pdev);
    uint32_t win = vp->pci_cfg_cap + PCI_CFG_DATA;
    uint8_t buf[4] = { 0 };
    uint64_t bar_off;
    unsigned bar_len;

    if (!overlaps(off, len, win, 4) || !pci_cfg_window(vp, &bar_off, &bar_len))
        return;
    bar_io(vp, bar_off, buf, bar_len, false);
    for (unsigned i = 0; i < len; i++)
        if (off + i >= win && off + i < win + 4)
            data[i] = buf[off + i - win];
}

static void vp_config_write(HgrPciDevice *pdev, uint32_t off, const uint8_t *data,
                            unsigned len)
{
    HgrVirtioPci *vp = from_pdev(pdev);
    uint32_t win = vp->pci_cfg_cap + PCI_CFG_DATA;
    uint64_t bar_off;
    unsigned bar_len;

    hgr_msix_config_write(&vp->msix, off, len);
    if (!overlaps(off, len, win, 4) || !pci_cfg_window(vp, &bar_off, &bar_len))
        return;
    uint8_t buf[4];
    hgr_io_put(buf, 4, hgr_pci_config_get(pdev, win, 4));
    bar_io(vp, bar_off, buf, bar_len, true);
}

static void vp_bar_moved(HgrPciDevice *pdev, unsigned bar)
{
    if (bar == VP_BAR)
        update_ioeventfds(from_pdev(pdev));
}

static const HgrPciHooks vp_hooks = {
    .config_read = vp_config_read,
    .config_write = vp_config_write,
    .bar_moved = vp_bar_moved,
};

/* Device ops */

static bool vp_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    HgrVirtioPci *vp = (HgrVirtioPci *)dev;
    HgrIoThread *t = vp->vdev->iothread;

    vp->board = board;
    if (!hgr_pci_bus_add_device(board->pci, &vp->pdev, -1, error) ||
        !hgr_msix_realize(&vp->msix, board, error))
        return false;
    for (unsigned q = 0; q < num_queues(vp) && t; q++) {
        NotifyQueue *n = &vp->notify[q];
        n->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (n->fd < 0) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG, "%s: eventfd: %s",
                        dev->id, g_strerror(errno));
            return false;
        }
        n->source = hgr_iothread_add_fd(t, n->fd, G_IO_IN, kick_ready, n);
    }
    update_ioeventfds(vp);
    return true;
}

static void vp_reset(HgrDevice *dev)
{
    HgrVirtioPci *vp = (HgrVirtioPci *)dev;

    g_mutex_lock(&vp->vdev->lock);
    write_status(vp, 0);
    g_mutex_unlock(&vp->vdev->lock);
    hgr_msix_reset(&vp->msix);
    hgr_pci_device_reset(&vp->pdev);
}

static void vp_destroy(HgrDevice *dev)
{
    HgrVirtioPci *vp = (HgrVirtioPci *)dev;

    if (vp->vdev->iothread)
        hgr_iothread_call(vp->vdev->iothread, remove_watches, vp);
    for (unsigned q = 0; q < HGR_VIRTIO_MAX_QUEUES; q++) {
        NotifyQueue *n = &vp->notify[q];
        if (n->ioeventfd_addr)
            ioeventfd_ioctl(vp->board->vm_fd, n->fd, n->ioeventfd_addr, false);
        if (n->fd >= 0)
            close(n->fd);
    }
    hgr_msix_destroy(&vp->msix);
    hgr_pci_device_finalize(&vp->pdev);
    hgr_virtio_destroy(vp->vdev);
    g_free(vp->vdev);
    g_mutex_clear(&vp->ioeventfd_lock);
    g_free(vp);
}

/* Saved state */

/* The generic virtio fields are visited through an ops table without a
 * device part: that part travels as bytes in HgrVirtioPciState. */
static const HgrVirtioOps generic_only = { .name = "virtio" };

static void vp_get_state(HgrDevice *dev, void *state)
{
    HgrVirtioPci *vp = (HgrVirtioPci *)dev;
    HgrVirtioDevice *vdev = vp->vdev;
    HgrVirtioPciState *st = state;
    HgrVirtioState vs = { 0 };

    hgr_pci_get_state(&vp->pdev, &st->pci);
    hgr_msix_get_state(&vp->msix, &st->msix);
    g_mutex_lock(&vdev->lock);
    hgr_virtio_get_state(vdev, &vs);
    st->device_feature_select = vp->device_feature_select;
    st->driver_feature_select = vp->driver_feature_select;
    st->guest_features = vp->guest_features;
    st->queue_select = vp->queue_select;
    st->config_msix_vector = vp->config_msix_vector;
    g_mutex_unlock(&vdev->lock);

    st->device_state_len = 0;
    if (vs.device_state && vdev->ops->visit_state) {
        g_autoptr(GByteArray) bytes = g_byte_array_new();
        g_autoptr(HgrVisitor) v = hgr_visitor_new_save(bytes);
        vdev->ops->visit_state(v, vs.device_state);
        if (bytes->len <= sizeof(st->device_state)) {
            memcpy(st->device_state, bytes->data, bytes->len);
            st->device_state_len = bytes->len;
        } else {
            g_critical("%s: device state of %u bytes is over the limit", dev->id, bytes->len);
        }
    }
    hgr_virtio_state_clear(&vs);
    st->virtio = vs;
}

static void vp_visit_state(HgrVisitor *v, void *state)
{
    HgrVirtioPciState *st = state;

    hgr_pci_visit_state(v, &st->pci);
    hgr_msix_visit_state(v, &st->msix);
    hgr_virtio_visit_state(v, &generic_only, &st->virtio);
    hgr_visit_u32(v, &st->device_state_len);
    hgr_visit_bytes(v, st->device_state, MIN(st->device_state_len, sizeof(st->device_state)));
    hgr_visit_u32(v, &st->device_feature_select);
    hgr_visit_u32(v, &st->driver_feature_select);
    hgr_visit_u64(v, &st->guest_features);
    hgr_visit_u16(v, &st->queue_select);
    hgr_visit_u16(v, &st->config_msix_vector);
}

/* The full HgrVirtioState of a saved state, its device part decoded. */
static bool decode_virtio_state(const HgrVirtioOps *ops, const HgrVirtioPciState *st,
                                HgrVirtioState *vs, GError **error)
{
    *vs = st->virtio;
    vs->device_state = NULL;
    hgr_virtio_state_prepare(ops, vs);
    bool ok = st->device_state_len <= sizeof(st->device_state);
    if (ok && vs->device_state && ops->visit_state) {
        g_autoptr(HgrVisitor) v = hgr_visitor_new_load(st->device_state, st->device_state_len);
        ops->visit_state(v, vs->device_state);
        ok = !hgr_visitor_overrun(v) && hgr_visitor_remaining(v) == 0;
    } else if (ok) {
        ok = st->device_state_len == 0;
    }
    if (!ok) {
        hgr_virtio_state_clear(vs);
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "%s: saved device state of %u bytes is not its layout", ops->name,
                    st->device_state_len);
    }
    return ok;
}

static bool vp_check_state(HgrDevice *dev, const void *state, GError **error)
{
    HgrVirtioPci *vp = (HgrVirtioPci *)dev;
    const HgrVirtioPciState *st = state;
    HgrVirtioState vs;

    if (!hgr_pci_check_state(&vp->pdev, &st->pci, error) ||
        !hgr_msix_check_state(&vp->msix, &st->msix, error))
        return false;
    bool vectors_ok = vector_or_none(vp, st->config_msix_vector) == st->config_msix_vector;
    for (unsigned q = 0; q < MIN(st->virtio.num_queues, HGR_VIRTIO_MAX_QUEUES); q++) {
        uint16_t v = st->virtio.queues[q].msix_vector;
        vectors_ok = vectors_ok && vector_or_none(vp, v) == v;
    }
    if (!vectors_ok) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "%s: saved state uses MSI-X vectors the device does not have", dev->id);
        return false;
    }
    if (!decode_virtio_state(vp->vdev->ops, st, &vs, error))
        return false;
    g_mutex_lock(&vp->vdev->lock);
    bool ok = hgr_virtio_check_state(vp->vdev, &vs, error);
    g_mutex_unlock(&vp->vdev->lock);
    hgr_virtio_state_clear(&vs);
    return ok;
}

static void vp_set_state(HgrDevice *dev, const void *state)
{
    HgrVirtioPci *vp = (HgrVirtioPci *)dev;
    HgrVirtioDevice *vdev = vp->vdev;
    const HgrVirtioPciState *st = state;
    g_autoptr(GError) err = NULL;
    HgrVirtioState vs;

    if (!decode_virtio_state(vdev->ops, st, &vs, &err)) {
        g_critical("%s: set_state without check_state: %s", dev->id, err->message);
        return;
    }
    hgr_pci_set_state(&vp->pdev, &st->pci);         /* moves the ioeventfds */
    hgr_msix_set_state(&vp->msix, &st->msix);       /* routes follow the table */
    g_mutex_lock(&vdev->lock);
    hgr_virtio_set_state(vdev, &vs);
    vp->device_feature_select = st->device_feature_select;
    vp->driver_feature_select = st->driver_feature_select;
    vp->guest_features = st->guest_features;
    vp->queue_select = st->queue_select;
    vp->config_msix_vector = st->config_msix_vector;
    g_mutex_unlock(&vdev->lock);
    hgr_virtio_state_clear(&vs);
}

static const HgrDeviceOps virtio_pci_ops = {
    .name = "virtio-pci",
    .state_version = 1,
    .state_size = sizeof(HgrVirtioPciState),
    .realize = vp_realize,
    .reset = vp_reset,
    .get_state = vp_get_state,
    .visit_state = vp_visit_state,
    .check_state = vp_check_state,
    .set_state = vp_set_state,
    .destroy = vp_destroy,
};

static uint32_t class_of(uint16_t device_id)
{
    switch (device_id) {
    case VIRTIO_ID_NET:     return 0x020000;
    case VIRTIO_ID_BLOCK:   return 0x018000;
    case VIRTIO_ID_CONSOLE: return 0x078000;
    default:                return 0x00ff00;
    }
}

static unsigned add_virtio_cap(HgrPciDevice *pdev, uint8_t type, uint32_t offset,
                               uint32_t length, unsigned cap_len)
{
    unsigned cap = hgr_pci_add_capability(pdev, PCI_CAP_ID_VNDR, cap_len);

    g_return_val_if_fail(cap != 0, 0);
    hgr_pci_config_set(pdev, cap + 2, 1, cap_len);
    hgr_pci_config_set(pdev, cap + 3, 1, type);
    hgr_pci_config_set(pdev, cap + 4, 1, VP_BAR);
    hgr_pci_config_set(pdev, cap + 8, 4, offset);
    hgr_pci_config_set(pdev, cap + 12, 4, length);
    return cap;
}

HgrDevice *hgr_virtio_pci_new(const char *id, HgrVirtioDevice *vdev)
{
    HgrVirtioPci *vp = g_new0(HgrVirtioPci, 1);
    HgrPciDevice *pdev = &vp->pdev;
    const HgrVirtioOps *ops = vdev->ops;

    hgr_pci_device_init(pdev, &virtio_pci_ops, id, VIRTIO_PCI_VENDOR,
                        VIRTIO_PCI_DEVICE_BASE + ops->device_id, class_of(ops->device_id), 1);
    hgr_pci_set_subsystem(pdev, VIRTIO_PCI_VENDOR, 0x1100);
    pdev->hooks = &vp_hooks;
    vp->vdev = vdev;
    vp->config_msix_vector = VIRTIO_MSI_NO_VECTOR;
    g_mutex_init(&vp->ioeventfd_lock);
    for (unsigned q = 0; q < HGR_VIRTIO_MAX_QUEUES; q++)
        vp->notify[q] = (NotifyQueue){ .vp = vp, .q = q, .fd = -1 };
    vdev->transport = (HgrVirtioTransport){
        .notify_queue = vp_notify_queue, .notify_config = vp_notify_config, .opaque = vp };

    hgr_pci_init_bar(pdev, VP_BAR, HGR_PCI_BAR_MEM64, VP_BAR_SIZE, bar_io, vp);
    add_virtio_cap(pdev, VIRTIO_PCI_CAP_COMMON_CFG, COMMON_OFF, COMMON_LEN, VIRTIO_CAP_LEN);
    unsigned notify = add_virtio_cap(pdev, VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_OFF,
                                     ops->num_queues * NOTIFY_MULTIPLIER,
                                     VIRTIO_NOTIFY_CAP_LEN);
    hgr_pci_config_set(pdev, notify + VIRTIO_CAP_LEN, 4, NOTIFY_MULTIPLIER);
    add_virtio_cap(pdev, VIRTIO_PCI_CAP_ISR_CFG, ISR_OFF, 1, VIRTIO_CAP_LEN);
    add_virtio_cap(pdev, VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_OFF, DEVICE_LEN, VIRTIO_CAP_LEN);
    vp->pci_cfg_cap = add_virtio_cap(pdev, VIRTIO_PCI_CAP_PCI_CFG, 0, 0,
                                     VIRTIO_PCI_CFG_CAP_LEN);
    hgr_pci_set_wmask(pdev, vp->pci_cfg_cap + PCI_CFG_BAR, 1, 0xff);
    hgr_pci_set_wmask(pdev, vp->pci_cfg_cap + PCI_CFG_OFFSET, 4, 0xffffffff);
    hgr_pci_set_wmask(pdev, vp->pci_cfg_cap + PCI_CFG_LENGTH, 4, 0xffffffff);
    hgr_pci_set_wmask(pdev, vp->pci_cfg_cap + PCI_CFG_DATA, 4, 0xffffffff);
    hgr_msix_init(&vp->msix, pdev, ops->num_queues + 1, VP_BAR, MSIX_TABLE_OFF, MSIX_PBA_OFF);
    return &pdev->dev;
}
