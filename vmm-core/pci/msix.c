/* msix.c — MSI-X table, pending bits, masking and delivery (PCI 3.0, 6.8.2). */
#include "msix.h"

#include <errno.h>
#include <hangar/vm.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MSIX_CONTROL          2
#define MSIX_TABLE            4
#define MSIX_PBA              8
#define MSIX_CAP_SIZE         12
#define MSIX_CONTROL_ENABLE   0x8000
#define MSIX_CONTROL_FMASK    0x4000
#define ENTRY_ADDR            0
#define ENTRY_DATA            8
#define ENTRY_CTRL            12
#define ENTRY_CTRL_MASKED     1u

bool hgr_msix_init(HgrMsix *msix, HgrPciDevice *pdev, unsigned nvec, unsigned bar,
                   uint32_t table_offset, uint32_t pba_offset)
{
    memset(msix, 0, sizeof(*msix));
    g_return_val_if_fail(nvec >= 1 && nvec <= HGR_MSIX_MAX_VECTORS, false);
    unsigned cap = hgr_pci_add_capability(pdev, PCI_CAP_ID_MSIX, MSIX_CAP_SIZE);
    if (!cap)
        return false;
    msix->pdev = pdev;
    msix->nvec = nvec;
    msix->cap = cap;
    g_mutex_init(&msix->lock);
    for (unsigned v = 0; v < HGR_MSIX_MAX_VECTORS; v++)
        msix->irqfd[v] = -1;
    hgr_pci_config_set(pdev, cap + MSIX_CONTROL, 2, nvec - 1);
    hgr_pci_config_set(pdev, cap + MSIX_TABLE, 4, table_offset | bar);
    hgr_pci_config_set(pdev, cap + MSIX_PBA, 4, pba_offset | bar);
    hgr_pci_set_wmask(pdev, cap + MSIX_CONTROL, 2, MSIX_CONTROL_ENABLE | MSIX_CONTROL_FMASK);
    hgr_msix_reset(msix);
    return true;
}

static int irqfd_ioctl(int vm_fd, int fd, unsigned gsi, bool assign)
{
    struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi,
                               .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };
    return ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

bool hgr_msix_realize(HgrMsix *msix, const HgrBoard *board, GError **error)
{
    msix->board = board;
    if (board->vm_fd < 0 || !board->alloc_gsi || !board->set_msi_route)
        return true;
    for (unsigned v = 0; v < msix->nvec; v++) {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM,
                        "%s: MSI-X eventfd: %s", msix->pdev->dev.id, g_strerror(errno));
            return false;
        }
        unsigned gsi = board->alloc_gsi(board->opaque);
        int r = irqfd_ioctl(board->vm_fd, fd, gsi, true);
        if (r < 0) {
            close(fd);
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM,
                        "%s: KVM_IRQFD for GSI %u: %s", msix->pdev->dev.id, gsi,
                        g_strerror(-r));
            return false;
        }
        msix->irqfd[v] = fd;
        msix->gsi[v] = gsi;
    }
    return true;
}

void hgr_msix_destroy(HgrMsix *msix)
{
    if (!msix->pdev)
        return;
    for (unsigned v = 0; v < msix->nvec; v++) {
        if (msix->irqfd[v] < 0)
            continue;
        irqfd_ioctl(msix->board->vm_fd, msix->irqfd[v], msix->gsi[v], false);
        close(msix->irqfd[v]);
        msix->irqfd[v] = -1;
    }
    g_mutex_clear(&msix->lock);
    msix->pdev = NULL;
}

static uint8_t *entry(HgrMsix *msix, unsigned v)
{
    return msix->table + v * HGR_MSIX_ENTRY_SIZE;
}

static bool entry_masked(HgrMsix *msix, unsigned v)
{
    return msix->fmask || (hgr_io_get(entry(msix, v) + ENTRY_CTRL, 4) & ENTRY_CTRL_MASKED);
}

/* With KVM, brings the vector's GSI route in line with its table entry,
 * only when the entry changed (each update rewrites KVM's whole routing
 * table). False when the irqfd cannot deliver it. */
static bool sync_route(HgrMsix *msix, unsigned v)
{
    if (msix->irqfd[v] < 0)
        return false;
    uint64_t addr = hgr_io_get(entry(msix, v) + ENTRY_ADDR, 8);
    uint32_t data = (uint32_t)hgr_io_get(entry(msix, v) + ENTRY_DATA, 4);
    if (msix->route_known[v] && msix->route_addr[v] == addr && msix->route_data[v] == data)
        return msix->route_ok[v];
    const HgrBoard *b = msix->board;
    msix->route_ok[v] = b->set_msi_route(b->opaque, msix->gsi[v], addr, data);
    msix->route_known[v] = true;
    msix->route_addr[v] = addr;
    msix->route_data[v] = data;
    return msix->route_ok[v];
}

static void deliver(HgrMsix *msix, unsigned v)
{
    msix->pba &= ~(1ULL << v);
    if (sync_route(msix, v)) {
        uint64_t one = 1;
        if (write(msix->irqfd[v], &one, sizeof(one)) < 0 && errno != EAGAIN)
            g_warning_once("%s: MSI-X irqfd write: %s", msix->pdev->dev.id,
                           g_strerror(errno));
        return;
    }
    /* No irqfd (unit tests), or KVM refused the route (table full). */
    if (msix->board)
        hgr_irq_msi(msix->board->irqchip, hgr_io_get(entry(msix, v) + ENTRY_ADDR, 8),
                    (uint32_t)hgr_io_get(entry(msix, v) + ENTRY_DATA, 4));
}

/* Vectors that just became live (enable on, function mask off): routes
 * ready before the first interrupt, and what was pending goes out. */
static void vectors_unmasked(HgrMsix *msix)
{
    if (!msix->enabled)
        return;
    for (unsigned v = 0; v < msix->nvec; v++) {
        if (entry_masked(msix, v))
            continue;
        if (msix->pba >> v & 1)
            deliver(msix, v);
        else
            sync_route(msix, v);
    }
}

bool hgr_msix_vector_valid(const HgrMsix *msix, uint16_t vector)
{
    return vector < msix->nvec;
}

void hgr_msix_notify(HgrMsix *msix, unsigned vector)
{
    if (vector >= msix->nvec)
        return;
    g_mutex_lock(&msix->lock);
    if (msix->enabled) {
        if (entry_masked(msix, vector))
            msix->pba |= 1ULL << vector;
        else
            deliver(msix, vector);
    }
    g_mutex_unlock(&msix->lock);
}

void hgr_msix_table_io(HgrMsix *msix, uint64_t offset, uint8_t *data, unsigned len,
                       bool is_write)
{
    uint64_t size = (uint64_t)msix->nvec * HGR_MSIX_ENTRY_SIZE;

    /* Accesses inside one entry only (the spec allows DWORD and QWORD). */
    if (offset >= size || len > size - offset ||
        offset / HGR_MSIX_ENTRY_SIZE != (offset + len - 1) / HGR_MSIX_ENTRY_SIZE) {
        if (!is_write)
            memset(data, 0, len);
        return;
    }
    unsigned v = (unsigned)(offset / HGR_MSIX_ENTRY_SIZE);
    g_mutex_lock(&msix->lock);
    if (!is_write) {
        memcpy(data, msix->table + offset, len);
        g_mutex_unlock(&msix->lock);
        return;
    }
    bool was_masked = entry_masked(msix, v);
    memcpy(msix->table + offset, data, len);
    uint8_t *ctrl = entry(msix, v) + ENTRY_CTRL;
    hgr_io_put(ctrl, 4, hgr_io_get(ctrl, 4) & ENTRY_CTRL_MASKED);   /* reserved bits read 0 */
    if (!entry_masked(msix, v)) {
        sync_route(msix, v);
        if (was_masked && msix->enabled && (msix->pba >> v & 1))
            deliver(msix, v);
    }
    g_mutex_unlock(&msix->lock);
}

void hgr_msix_pba_io(HgrMsix *msix, uint64_t offset, uint8_t *data, unsigned len,
                     bool is_write)
{
    if (is_write)
        return;                       /* read-only */
    memset(data, 0, len);
    if (offset >= sizeof(msix->pba))
        return;
    g_mutex_lock(&msix->lock);
    uint64_t pba = msix->pba;
    g_mutex_unlock(&msix->lock);
    for (unsigned i = 0; i < len && offset + i < sizeof(pba); i++)
        data[i] = (uint8_t)(pba >> (8 * (offset + i)));
}

/* msix->lock held. */
static void refresh_control(HgrMsix *msix)
{
    uint16_t ctl = (uint16_t)hgr_pci_config_get(msix->pdev, msix->cap + MSIX_CONTROL, 2);
    msix->enabled = ctl & MSIX_CONTROL_ENABLE;
    msix->fmask = ctl & MSIX_CONTROL_FMASK;
}

void hgr_msix_config_write(HgrMsix *msix, uint32_t offset, unsigned len)
{
    uint32_t ctl = msix->cap + MSIX_CONTROL;

    if (offset + len <= ctl || offset >= ctl + 2)
        return;
    g_mutex_lock(&msix->lock);
    refresh_control(msix);
    vectors_unmasked(msix);
    g_mutex_unlock(&msix->lock);
}

void hgr_msix_reset(HgrMsix *msix)
{
    g_mutex_lock(&msix->lock);
    memset(msix->table, 0, sizeof(msix->table));
    for (unsigned v = 0; v < msix->nvec; v++)
        hgr_io_put(entry(msix, v) + ENTRY_CTRL, 4, ENTRY_CTRL_MASKED);
    msix->pba = 0;
    msix->enabled = false;
    msix->fmask = false;
    g_mutex_unlock(&msix->lock);
}

/* Saved state */

void hgr_msix_get_state(HgrMsix *msix, HgrMsixState *st)
{
    g_mutex_lock(&msix->lock);
    st->nvec = msix->nvec;
    memcpy(st->table, msix->table, sizeof(st->table));
    st->pba = msix->pba;
    g_mutex_unlock(&msix->lock);
}

void hgr_msix_visit_state(HgrVisitor *v, HgrMsixState *st)
{
    hgr_visit_u32(v, &st->nvec);
    hgr_visit_bytes(v, st->table, MIN(st->nvec, HGR_MSIX_MAX_VECTORS) * HGR_MSIX_ENTRY_SIZE);
    hgr_visit_u64(v, &st->pba);
}

bool hgr_msix_check_state(HgrMsix *msix, const HgrMsixState *st, GError **error)
{
    const char *why = NULL;

    if (st->nvec != msix->nvec)
        why = "a different number of MSI-X vectors";
    else if (msix->nvec < 64 && (st->pba >> msix->nvec))
        why = "pending bits for vectors that do not exist";
    for (unsigned v = 0; v < msix->nvec && !why; v++)
        if (hgr_io_get(st->table + v * HGR_MSIX_ENTRY_SIZE + ENTRY_CTRL, 4) &
            ~ENTRY_CTRL_MASKED)
            why = "reserved MSI-X vector control bits set";
    if (why)
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE, "%s: saved state has %s",
                    msix->pdev->dev.id, why);
    return !why;
}

void hgr_msix_set_state(HgrMsix *msix, const HgrMsixState *st)
{
    g_mutex_lock(&msix->lock);
    memset(msix->table, 0, sizeof(msix->table));
    memcpy(msix->table, st->table, (size_t)msix->nvec * HGR_MSIX_ENTRY_SIZE);
    msix->pba = st->pba;
    refresh_control(msix);
    for (unsigned v = 0; v < msix->nvec; v++)
        if (!entry_masked(msix, v))
            sync_route(msix, v);
    g_mutex_unlock(&msix->lock);
}
