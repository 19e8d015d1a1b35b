/* vm.c — the VM object: KVM setup, guest RAM, interrupts and the run state.
 *
 * Run-state changes start from pause: every vCPU parks at its checkpoint
 * (out of KVM_RUN), then the change is made, then they run again. Requests
 * a guest makes from a vCPU thread (reset, poweroff) are carried out by the
 * VM's control thread, since a vCPU cannot wait for itself to park.
 */
#include "vm-private.h"
#include "ratelimit.h"

#include "../hw/i8042.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define KVM_API_EXPECTED 12
#define ISA_GSIS 16
#define MAX_GSI_ROUTES 1024

/* Interrupts */

static void kvm_set_line(void *opaque, unsigned gsi, bool level)
{
    HgrVm *vm = opaque;
    struct kvm_irq_level irq = { .irq = gsi, .level = level };

    if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
        g_warning("KVM_IRQ_LINE %u: %s", gsi, g_strerror(errno));
}

static void kvm_signal_msi(void *opaque, uint64_t addr, uint32_t data)
{
    HgrVm *vm = opaque;
    struct kvm_msi msi = {
        .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data };

    if (ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
        g_debug("KVM_SIGNAL_MSI: %s", g_strerror(errno));
}

static void add_route(HgrVm *vm, struct kvm_irq_routing_entry e)
{
    vm->routing->entries[vm->routing->nr++] = e;
}

static bool commit_routes(HgrVm *vm)
{
    return ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, vm->routing) == 0;
}

/* The PC routing QEMU uses: ISA IRQs on both PICs and the IOAPIC, IRQ 0 (the
 * PIT) on IOAPIC pin 2 as the MADT's interrupt source override says. */
static bool setup_default_routes(HgrVm *vm)
{
    vm->routing = g_malloc0(sizeof(struct kvm_irq_routing) +
                            MAX_GSI_ROUTES * sizeof(struct kvm_irq_routing_entry));
    for (unsigned gsi = 0; gsi < ISA_GSIS; gsi++) {
        if (gsi == 2)
            continue;
        add_route(vm, (struct kvm_irq_routing_entry){
            .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
            .u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
                           .pin = gsi % 8 } });
    }
    for (unsigned gsi = 0; gsi < HGR_PC_IOAPIC_PINS; gsi++) {
        if (gsi == 2)
            continue;
        add_route(vm, (struct kvm_irq_routing_entry){
            .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
            .u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi == 0 ? 2 : gsi } });
    }
    vm->next_gsi = HGR_PC_IOAPIC_PINS;
    return commit_routes(vm);
}

static unsigned board_alloc_gsi(void *opaque)
{
    HgrVm *vm = opaque;

    g_mutex_lock(&vm->irq_lock);
    unsigned gsi = vm->next_gsi++;
    g_mutex_unlock(&vm->irq_lock);
    return gsi;
}

static bool board_set_msi_route(void *opaque, unsigned gsi, uint64_t addr, uint32_t data)
{
    HgrVm *vm = opaque;
    struct kvm_irq_routing_entry e = {
        .gsi = gsi, .type = KVM_IRQ_ROUTING_MSI,
        .u.msi = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32),
                   .data = data } };
    bool ok;

    g_mutex_lock(&vm->irq_lock);
    unsigned i;
    for (i = 0; i < vm->routing->nr; i++)
        if (vm->routing->entries[i].gsi == gsi)
            break;
    if (i < vm->routing->nr)
        vm->routing->entries[i] = e;
    else if (vm->routing->nr < MAX_GSI_ROUTES)
        add_route(vm, e);
    ok = commit_routes(vm);
    g_mutex_unlock(&vm->irq_lock);
    if (!ok)
        g_warning("KVM_SET_GSI_ROUTING: %s", g_strerror(errno));
    return ok;
}

static void board_event(void *opaque, HgrBoardEvent event)
{
    hgr_vm_request(opaque, event);
}

/* Creation */

static bool open_kvm(HgrVm *vm, GError **error)
{
    const char *path = vm->config->kvm_path ? vm->config->kvm_path : "/dev/kvm";

    vm->kvm_fd = open(path, O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENXIO || e == ENODEV)
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM_MISSING,
                        "%s does not exist: KVM is not available. Enable virtualization "
                        "(VT-x/AMD-V) in the firmware settings and load the kvm_intel or "
                        "kvm_amd module", path);
        else if (e == EACCES || e == EPERM)
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM_ACCESS,
                        "no permission to open %s. Add yourself to the kvm group: "
                        "sudo usermod -aG kvm $USER (then log out and in again)", path);
        else
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM_MISSING,
                        "cannot open %s: %s", path, g_strerror(e));
        return false;
    }
    int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_EXPECTED) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM_MISSING,
                    "%s is not a KVM device (API version %d)", path, version);
        return false;
    }
    return true;
}

static bool kvm_fail(GError **error, const char *what)
{
    int e = errno;
    g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM, "%s: %s", what, g_strerror(e));
    return false;
}

static bool query_kvm(HgrVm *vm, GError **error)
{
    for (int n = 64;; n *= 2) {
        vm->cpuid = g_malloc0(sizeof(*vm->cpuid) + n * sizeof(struct kvm_cpuid_entry2));
        vm->cpuid->nent = n;
        if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid) == 0)
            break;
        g_clear_pointer(&vm->cpuid, g_free);
        if (errno != E2BIG || n > 4096)
            return kvm_fail(error, "KVM_GET_SUPPORTED_CPUID");
    }
    struct kvm_msr_list probe = { .nmsrs = 0 };
    ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe);   /* E2BIG, sets nmsrs */
    vm->msrs = g_malloc0(sizeof(*vm->msrs) + probe.nmsrs * sizeof(uint32_t));
    vm->msrs->nmsrs = probe.nmsrs;
    if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, vm->msrs) < 0)
        return kvm_fail(error, "KVM_GET_MSR_INDEX_LIST");
    return true;
}

static bool host_has_memory(uint64_t bytes)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages <= 0 || page <= 0 || bytes <= (uint64_t)pages * (uint64_t)page;
}

static bool alloc_ram(HgrVm *vm, GError **error)
{
    uint64_t mib = vm->config->memory_mib;

    if (mib < 16 || mib > (1ULL << 22)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "memory size %" G_GUINT64_FORMAT " MiB is out of range (16 MiB to 4 TiB)",
                    mib);
        return false;
    }
    vm->ram_size = mib << 20;
    if (!host_has_memory(vm->ram_size)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY,
                    "%" G_GUINT64_FORMAT " MiB of guest memory is more than this host has",
                    mib);
        return false;
    }
    vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->ram == MAP_FAILED) {
        vm->ram = NULL;
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY,
                    "cannot reserve %" G_GUINT64_FORMAT " MiB of guest memory: %s",
                    mib, g_strerror(errno));
        return false;
    }
    madvise(vm->ram, vm->ram_size, MADV_MERGEABLE);
    madvise(vm->ram, vm->ram_size, MADV_HUGEPAGE);
    hgr_mem_init_pc(&vm->mem, vm->ram, vm->ram_size);
    for (unsigned i = 0; i < vm->mem.n_regions; i++) {
        const HgrMemRegion *r = &vm->mem.regions[i];
        struct kvm_userspace_memory_region region = {
            .slot = i, .guest_phys_addr = r->gpa, .memory_size = r->size,
            .userspace_addr = (uintptr_t)r->hva };
        if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
            return kvm_fail(error, "KVM_SET_USER_MEMORY_REGION");
    }
    return true;
}

static bool create_irqchip(HgrVm *vm, GError **error)
{
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)HGR_PC_KVM_TSS) < 0)
        return kvm_fail(error, "KVM_SET_TSS_ADDR");
    uint64_t identity = HGR_PC_KVM_IDENTITY_MAP;
    if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
        return kvm_fail(error, "KVM_SET_IDENTITY_MAP_ADDR");
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
        return kvm_fail(error, "KVM_CREATE_IRQCHIP");
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
        return kvm_fail(error, "KVM_CREATE_PIT2");
    if (!setup_default_routes(vm))
        return kvm_fail(error, "KVM_SET_GSI_ROUTING");
    for (unsigned i = 0; i < 3; i++) {
        vm->initial_irqchip[i].chip_id = i;
        if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &vm->initial_irqchip[i]) < 0)
            return kvm_fail(error, "KVM_GET_IRQCHIP");
    }
    if (ioctl(vm->vm_fd, KVM_GET_PIT2, &vm->initial_pit) < 0)
        return kvm_fail(error, "KVM_GET_PIT2");
    return true;
}

static bool set_device_slot(HgrVm *vm, unsigned i, const void *hva, uint64_t gpa,
                            uint64_t size, uint32_t flags)
{
    struct kvm_userspace_memory_region region = {
        .slot = HGR_VM_DEVICE_RAM_SLOT0 + i, .flags = flags, .guest_phys_addr = gpa,
        .memory_size = size, .userspace_addr = (uintptr_t)hva };
    return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) == 0;
}

/* Called from a vCPU thread when the guest moves a BAR. KVM cannot change a
 * slot's address in place for us, so the old slot goes first; while it is
 * gone, accesses exit and the device serves them. */
static bool map_device_mem(HgrVm *vm, const void *hva, uint64_t gpa, uint64_t size,
                           uint32_t flags)
{
    unsigned i, free_slot = HGR_VM_DEVICE_RAM_SLOTS;
    bool ok = true;

    g_mutex_lock(&vm->slot_lock);
    for (i = 0; i < HGR_VM_DEVICE_RAM_SLOTS && vm->device_ram[i] != hva; i++)
        if (!vm->device_ram[i] && free_slot == HGR_VM_DEVICE_RAM_SLOTS)
            free_slot = i;
    if (i < HGR_VM_DEVICE_RAM_SLOTS) {
        set_device_slot(vm, i, hva, 0, 0, 0);
        vm->device_ram[i] = NULL;
        free_slot = MIN(free_slot, i);
    }
    if (gpa != HGR_BOARD_UNMAPPED) {
        ok = free_slot < HGR_VM_DEVICE_RAM_SLOTS &&
             gpa + size > gpa && set_device_slot(vm, free_slot, hva, gpa, size, flags);
        if (ok) {
            vm->device_ram[free_slot] = (void *)hva;
            vm->device_ram_pages[free_slot] = size / 4096;
        }
        else
            hgr_warn_ratelimited(&vm->slot_warn, "vm", "device memory at 0x%" G_GINT64_MODIFIER
                                 "x (%" G_GUINT64_FORMAT " bytes) cannot be mapped as RAM: "
                                 "served by exits", gpa, size);
    }
    g_mutex_unlock(&vm->slot_lock);
    return ok;
}

/* Logged so that a display finds what the guest drew without comparing
 * whole frames. */
static bool board_map_ram(void *opaque, void *hva, uint64_t gpa, uint64_t size)
{
    return map_device_mem(opaque, hva, gpa, size, KVM_MEM_LOG_DIRTY_PAGES);
}

/* KVM_GET_DIRTY_LOG rather than the manual-protect pair (GET, then
 * KVM_CLEAR_DIRTY_LOG): for a 16 MiB slot one ioctl both fetches and
 * re-arms, and manual protect would be a VM-wide capability for no gain
 * here. The VM ioctl may come from any thread while vCPUs run (KVM's own
 * dirty-log selftest reaps the log while the guest writes); slot_lock only
 * keeps the slot from being moved between finding it and asking. */
static bool board_get_dirty_log(void *opaque, const void *hva, uint64_t *bitmap,
                                size_t n_pages)
{
    HgrVm *vm = opaque;
    bool ok = false;

    g_mutex_lock(&vm->slot_lock);
    for (unsigned i = 0; i < HGR_VM_DEVICE_RAM_SLOTS; i++) {
        if (vm->device_ram[i] != hva || n_pages < vm->device_ram_pages[i])
            continue;
        struct kvm_dirty_log log = { .slot = HGR_VM_DEVICE_RAM_SLOT0 + i,
                                     .dirty_bitmap = bitmap };
        memset(bitmap, 0, (n_pages + 63) / 64 * 8);
        ok = ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) == 0;
        break;
    }
    g_mutex_unlock(&vm->slot_lock);
    return ok;
}

static bool board_map_rom(void *opaque, const void *hva, uint64_t gpa, uint64_t size)
{
    return map_device_mem(opaque, hva, gpa, size, KVM_MEM_READONLY);
}

static void init_board(HgrVm *vm)
{
    vm->irqchip = (HgrIrqChip){ .set_line = kvm_set_line, .signal_msi = kvm_signal_msi,
                                .opaque = vm };
    vm->board = (HgrBoard){
        .pio = &vm->pio,
        .mmio = &vm->mmio,
        .mem = &vm->mem,
        .irqchip = &vm->irqchip,
        .iothread = vm->iothread,
        .vm_fd = vm->vm_fd,
        .alloc_gsi = board_alloc_gsi,
        .set_msi_route = board_set_msi_route,
        .event = board_event,
        .map_ram = board_map_ram,
        .map_rom = board_map_rom,
        .get_dirty_log = board_get_dirty_log,
        .opaque = vm,
    };
}

static HgrVmConfig *config_copy(const HgrVmConfig *c)
{
    HgrVmConfig *d = hgr_vm_config_new();

    d->memory_mib = c->memory_mib;
    d->cpus = c->cpus;
    d->firmware = c->firmware;
    d->firmware_path = g_strdup(c->firmware_path);
    d->nvram_path = g_strdup(c->nvram_path);
    d->boot = c->boot;
    d->kernel = g_strdup(c->kernel);
    d->initrd = g_strdup(c->initrd);
    d->cmdline = g_strdup(c->cmdline);
    d->flat_image = g_strdup(c->flat_image);
    d->cdrom = g_strdup(c->cdrom);
    d->cdrom_drive = c->cdrom_drive;
    d->flat_addr = c->flat_addr;
    d->flat_64bit = c->flat_64bit;
    for (guint i = 0; i < c->disks->len; i++) {
        const HgrDiskConfig *disk = c->disks->pdata[i];
        hgr_vm_config_add_disk(d, disk->path, disk->format, disk->readonly)->bus = disk->bus;
    }
    for (guint i = 0; i < c->nets->len; i++) {
        const HgrNetConfig *net = c->nets->pdata[i];
        HgrNetConfig *n = hgr_vm_config_add_net(d);
        for (guint j = 0; j < net->hostfwds->len; j++) {
            const HgrHostFwd *f = &g_array_index(net->hostfwds, HgrHostFwd, j);
            hgr_net_config_add_hostfwd(n, f->udp, f->host_addr, f->host_port, f->guest_port);
        }
    }
    d->serial = c->serial;
    d->serial_path = g_strdup(c->serial_path);
    d->serial_fd = c->serial_fd;
    d->console_path = g_strdup(c->console_path);
    d->kvm_path = g_strdup(c->kvm_path);
    d->uuid = g_strdup(c->uuid);
    return d;
}

HgrVm *hgr_vm_new(const HgrVmConfig *config, GError **error)
{
    g_autoptr(HgrVm) vm = g_new0(HgrVm, 1);

    vm->config = config_copy(config);
    vm->kvm_fd = vm->vm_fd = -1;
    g_mutex_init(&vm->lock);
    g_cond_init(&vm->cond);
    g_mutex_init(&vm->irq_lock);
    g_mutex_init(&vm->join_lock);
    g_mutex_init(&vm->display_lock);
    g_mutex_init(&vm->slot_lock);
    vm->devices = g_ptr_array_new();
    vm->state = HGR_VM_STATE_CREATED;

    if (config->cpus < 1 || config->cpus > 255) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%u vCPUs is out of range (1 to 255)", config->cpus);
        return NULL;
    }
    if (!hgr_vm_config_parse_uuid(config, vm->uuid, error))
        return NULL;
    if (!open_kvm(vm, error))
        return NULL;
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        kvm_fail(error, "cannot create a KVM VM");
        return NULL;
    }
    if (!query_kvm(vm, error) || !alloc_ram(vm, error) || !create_irqchip(vm, error))
        return NULL;

    vm->iothread = hgr_iothread_new("hangar-io");
    init_board(vm);
    hgr_vcpus_init_signals();
    vm->n_vcpus = config->cpus;
    vm->vcpus = g_new0(HgrVcpu, vm->n_vcpus);
    for (unsigned i = 0; i < vm->n_vcpus; i++) {
        vm->vcpus[i].fd = -1;
        if (!hgr_vcpu_create(vm, &vm->vcpus[i], i, error))
            return NULL;
    }
    if (!hgr_machine_create(vm, error))
        return NULL;
    return g_steal_pointer(&vm);
}

void hgr_vm_add_device(HgrVm *vm, HgrDevice *dev)
{
    g_ptr_array_add(vm->devices, dev);
}

/* Run state */

static void set_state_locked(HgrVm *vm, HgrVmState state)
{
    if (vm->state == state)
        return;
    vm->state = state;
    g_cond_broadcast(&vm->cond);
    if (vm->state_fn) {
        /* Called without the lock so the callback may query the VM. */
        g_mutex_unlock(&vm->lock);
        vm->state_fn(vm, state, vm->state_data);
        g_mutex_lock(&vm->lock);
    }
}

static bool is_final(HgrVmState s)
{
    return s == HGR_VM_STATE_POWERED_OFF || s == HGR_VM_STATE_STOPPED ||
           s == HGR_VM_STATE_FAILED;
}

bool hgr_vm_vcpu_checkpoint(HgrVm *vm, HgrVcpu *vcpu)
{
    g_mutex_lock(&vm->lock);
    while ((vm->pause_req || vcpu->reset_pending) && !vm->stop_req) {
        if (vcpu->reset_pending && !vm->pause_req) {
            /* Apply the power-on state outside the lock, from this thread. */
            g_mutex_unlock(&vm->lock);
            g_autoptr(GError) err = NULL;
            bool ok = hgr_x86_reset_vcpu(vm, vcpu, &err);
            g_mutex_lock(&vm->lock);
            vcpu->reset_pending = false;
            if (!ok) {
                g_mutex_unlock(&vm->lock);
                hgr_vm_fail(vm, "vCPU %u reset: %s", vcpu->index, err->message);
                return false;
            }
            continue;
        }
        vcpu->parked = true;
        g_cond_broadcast(&vm->cond);
        g_cond_wait(&vm->cond, &vm->lock);
        vcpu->parked = false;
    }
    bool go = !vm->stop_req;
    g_mutex_unlock(&vm->lock);
    return go;
}

void hgr_vm_vcpu_exited(HgrVm *vm, HgrVcpu *vcpu)
{
    g_mutex_lock(&vm->lock);
    vcpu->parked = true;
    g_cond_broadcast(&vm->cond);
    g_mutex_unlock(&vm->lock);
}

/* With vm->lock held: ask every vCPU to park and wait until they have. */
static void pause_vcpus_locked(HgrVm *vm)
{
    vm->pause_req = true;
    for (unsigned i = 0; i < vm->n_vcpus; i++)
        hgr_vcpu_kick(&vm->vcpus[i]);
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < vm->n_vcpus; i++)
            if (vm->vcpus[i].thread_started && !vm->vcpus[i].parked)
                all = false;
        if (all || vm->stop_req)
            return;
        g_cond_wait(&vm->cond, &vm->lock);
    }
}

static void resume_vcpus_locked(HgrVm *vm)
{
    vm->pause_req = false;
    g_cond_broadcast(&vm->cond);
}

static void stop_threads(HgrVm *vm)
{
    g_mutex_lock(&vm->lock);
    vm->stop_req = true;
    g_cond_broadcast(&vm->cond);
    g_mutex_unlock(&vm->lock);
    g_mutex_lock(&vm->join_lock);
    for (unsigned i = 0; i < vm->n_vcpus; i++) {
        HgrVcpu *v = &vm->vcpus[i];
        if (v->thread_started && !pthread_equal(v->thread, pthread_self())) {
            hgr_vcpu_kick(v);
            pthread_join(v->thread, NULL);
            v->thread_started = false;
        }
    }
    g_mutex_unlock(&vm->join_lock);
}

/* Reset: devices, interrupt controllers and vCPUs to power-on, boot
 * structures rewritten. Called with the vCPUs parked and vm->lock free. */
static bool do_reset(HgrVm *vm, GError **error)
{
    for (guint i = 0; i < vm->devices->len; i++) {
        HgrDevice *dev = vm->devices->pdata[i];
        if (dev->ops->reset)
            dev->ops->reset(dev);
    }
    for (unsigned i = 0; i < 3; i++)
        if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &vm->initial_irqchip[i]) < 0)
            return kvm_fail(error, "KVM_SET_IRQCHIP");
    if (ioctl(vm->vm_fd, KVM_SET_PIT2, &vm->initial_pit) < 0)
        return kvm_fail(error, "KVM_SET_PIT2");
    if (!hgr_machine_load(vm, error))
        return false;
    vm->boot_time_ns = 0;
    for (unsigned i = 0; i < vm->n_vcpus; i++)
        vm->vcpus[i].reset_pending = true;
    return true;
}

static gpointer control_thread(gpointer data)
{
    HgrVm *vm = data;

    g_mutex_lock(&vm->lock);
    for (;;) {
        while (!vm->reset_req && !vm->poweroff_req && !vm->stop_req)
            g_cond_wait(&vm->cond, &vm->lock);
        if (vm->stop_req || is_final(vm->state))
            break;
        if (vm->poweroff_req) {
            vm->poweroff_req = false;
            pause_vcpus_locked(vm);
            set_state_locked(vm, HGR_VM_STATE_POWERED_OFF);
            break;
        }
        vm->reset_req = false;
        pause_vcpus_locked(vm);
        g_mutex_unlock(&vm->lock);
        hgr_machine_board_pause(vm);
        g_autoptr(GError) err = NULL;
        bool ok = do_reset(vm, &err);
        g_mutex_lock(&vm->lock);
        if (!ok) {
            g_free(vm->failure);
            vm->failure = g_strdup_printf("reset failed: %s", err->message);
            set_state_locked(vm, HGR_VM_STATE_FAILED);
            break;
        }
        vm->reboots++;
        if (vm->state == HGR_VM_STATE_RUNNING)
            resume_vcpus_locked(vm);
    }
    g_mutex_unlock(&vm->lock);
    return NULL;
}

void hgr_vm_request(HgrVm *vm, HgrBoardEvent event)
{
    g_mutex_lock(&vm->lock);
    switch (event) {
    case HGR_BOARD_RESET:
    case HGR_BOARD_POWEROFF:
        /* Like the real reset line: no vCPU runs another guest instruction. */
        if (event == HGR_BOARD_RESET)
            vm->reset_req = true;
        else
            vm->poweroff_req = true;
        vm->pause_req = true;
        break;
    case HGR_BOARD_BOOTED:
        if (!vm->boot_time_ns) {
            vm->boot_time_ns = (uint64_t)(g_get_monotonic_time() - vm->start_time) * 1000;
            if (vm->boot_fn) {
                g_mutex_unlock(&vm->lock);
                vm->boot_fn(vm, vm->boot_time_ns, vm->boot_data);
                return;
            }
        }
        break;
    }
    g_cond_broadcast(&vm->cond);
    g_mutex_unlock(&vm->lock);
    /* The requesting vCPU parks at its next checkpoint; make it get there. */
    if (event != HGR_BOARD_BOOTED)
        for (unsigned i = 0; i < vm->n_vcpus; i++)
            hgr_vcpu_kick(&vm->vcpus[i]);
}

void hgr_vm_fail(HgrVm *vm, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_mutex_lock(&vm->lock);
    if (!is_final(vm->state)) {
        g_free(vm->failure);
        vm->failure = g_steal_pointer(&msg);
        vm->pause_req = true;          /* the other vCPUs stop too */
        set_state_locked(vm, HGR_VM_STATE_FAILED);
    }
    g_mutex_unlock(&vm->lock);
    for (unsigned i = 0; i < vm->n_vcpus; i++)
        hgr_vcpu_kick(&vm->vcpus[i]);
}

bool hgr_vm_start(HgrVm *vm, GError **error)
{
    g_mutex_lock(&vm->lock);
    if (vm->state != HGR_VM_STATE_CREATED) {
        g_mutex_unlock(&vm->lock);
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE_INVALID,
                    "the VM has already been started");
        return false;
    }
    g_mutex_unlock(&vm->lock);

    if (!hgr_machine_load(vm, error))
        return false;
    for (unsigned i = 0; i < vm->n_vcpus; i++)
        if (!hgr_x86_reset_vcpu(vm, &vm->vcpus[i], error))
            return false;
    hgr_iothread_start(vm->iothread);
    vm->control = g_thread_new("hangar-vm", control_thread, vm);
    vm->start_time = g_get_monotonic_time();
    g_mutex_lock(&vm->lock);
    set_state_locked(vm, HGR_VM_STATE_RUNNING);
    g_mutex_unlock(&vm->lock);
    for (unsigned i = 0; i < vm->n_vcpus; i++) {
        if (!hgr_vcpu_start(&vm->vcpus[i], error)) {
            hgr_vm_stop(vm);
            return false;
        }
    }
    return true;
}

static bool require_state(HgrVm *vm, HgrVmState want, const char *what, GError **error)
{
    if (vm->state == want)
        return true;
    g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE_INVALID,
                "cannot %s a VM that is %s", what, hgr_vm_state_name(vm->state));
    return false;
}

/* Devices that work off the vCPU threads (timers, queues on the I/O
 * thread) stop with the vCPUs and start again with them: a paused VM's
 * clock does not tick and its disks do not move. */
static void pause_devices(HgrVm *vm)
{
    for (guint i = vm->devices->len; i > 0; i--) {
        HgrDevice *dev = vm->devices->pdata[i - 1];
        if (dev->ops->pause)
            dev->ops->pause(dev);
    }
}

static void resume_devices(HgrVm *vm)
{
    for (guint i = 0; i < vm->devices->len; i++) {
        HgrDevice *dev = vm->devices->pdata[i];
        if (dev->ops->resume)
            dev->ops->resume(dev);
    }
}

bool hgr_vm_pause(HgrVm *vm, GError **error)
{
    g_mutex_lock(&vm->lock);
    if (!require_state(vm, HGR_VM_STATE_RUNNING, "pause", error)) {
        g_mutex_unlock(&vm->lock);
        return false;
    }
    pause_vcpus_locked(vm);
    g_mutex_unlock(&vm->lock);
    pause_devices(vm);
    hgr_machine_board_pause(vm);
    g_mutex_lock(&vm->lock);
    if (vm->state == HGR_VM_STATE_RUNNING)
        set_state_locked(vm, HGR_VM_STATE_PAUSED);
    g_mutex_unlock(&vm->lock);
    return true;
}

bool hgr_vm_resume(HgrVm *vm, GError **error)
{
    g_mutex_lock(&vm->lock);
    bool ok = require_state(vm, HGR_VM_STATE_PAUSED, "resume", error);
    g_mutex_unlock(&vm->lock);
    if (!ok)
        return false;
    resume_devices(vm);
    g_mutex_lock(&vm->lock);
    if (vm->state == HGR_VM_STATE_PAUSED) {
        set_state_locked(vm, HGR_VM_STATE_RUNNING);
        resume_vcpus_locked(vm);
    }
    g_mutex_unlock(&vm->lock);
    return true;
}

bool hgr_vm_reset(HgrVm *vm, GError **error)
{
    g_mutex_lock(&vm->lock);
    if (vm->state != HGR_VM_STATE_RUNNING && vm->state != HGR_VM_STATE_PAUSED) {
        require_state(vm, HGR_VM_STATE_RUNNING, "reset", error);
        g_mutex_unlock(&vm->lock);
        return false;
    }
    bool was_running = vm->state == HGR_VM_STATE_RUNNING;
    pause_vcpus_locked(vm);
    g_mutex_unlock(&vm->lock);
    hgr_machine_board_pause(vm);
    bool ok = do_reset(vm, error);
    g_mutex_lock(&vm->lock);
    if (ok && was_running)
        resume_vcpus_locked(vm);
    g_mutex_unlock(&vm->lock);
    return ok;
}

void hgr_vm_stop(HgrVm *vm)
{
    g_mutex_lock(&vm->lock);
    if (!is_final(vm->state) && vm->state != HGR_VM_STATE_CREATED)
        set_state_locked(vm, HGR_VM_STATE_STOPPED);
    g_mutex_unlock(&vm->lock);
    stop_threads(vm);
}

HgrVmState hgr_vm_wait(HgrVm *vm)
{
    g_mutex_lock(&vm->lock);
    while (!is_final(vm->state))
        g_cond_wait(&vm->cond, &vm->lock);
    HgrVmState s = vm->state;
    g_mutex_unlock(&vm->lock);
    stop_threads(vm);
    return s;
}

HgrVmState hgr_vm_get_state(HgrVm *vm)
{
    g_mutex_lock(&vm->lock);
    HgrVmState s = vm->state;
    g_mutex_unlock(&vm->lock);
    return s;
}

const char *hgr_vm_failure(HgrVm *vm)
{
    return vm->failure;
}

void hgr_vm_set_state_callback(HgrVm *vm, HgrVmStateFn fn, void *user_data)
{
    vm->state_fn = fn;
    vm->state_data = user_data;
}

void hgr_vm_set_boot_callback(HgrVm *vm, HgrVmBootFn fn, void *user_data)
{
    vm->boot_fn = fn;
    vm->boot_data = user_data;
}

unsigned hgr_vm_reboot_count(HgrVm *vm)
{
    return vm->reboots;
}

uint64_t hgr_vm_boot_time_ns(HgrVm *vm)
{
    return vm->boot_time_ns;
}

void hgr_vm_free(HgrVm *vm)
{
    if (!vm)
        return;
    stop_threads(vm);
    if (vm->control) {
        g_thread_join(vm->control);
        vm->control = NULL;
    }
    if (vm->machine)
        hgr_machine_board_pause(vm);      /* no request in flight when the I/O thread stops */
    if (vm->iothread)
        hgr_iothread_stop(vm->iothread);
    /* Devices go before the backends they use (machine), backends before RAM. */
    for (guint i = vm->devices->len; i > 0; i--)
        hgr_device_free(vm->devices->pdata[i - 1]);
    g_ptr_array_unref(vm->devices);
    hgr_machine_free(vm);
    g_clear_pointer(&vm->iothread, hgr_iothread_free);
    for (unsigned i = 0; vm->vcpus && i < vm->n_vcpus; i++)
        hgr_vcpu_destroy(&vm->vcpus[i]);
    g_free(vm->vcpus);
    hgr_io_bus_clear(&vm->pio);
    hgr_io_bus_clear(&vm->mmio);
    if (vm->ram)
        munmap(vm->ram, vm->ram_size);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    g_free(vm->cpuid);
    g_free(vm->msrs);
    g_free(vm->routing);
    g_free(vm->failure);
    hgr_vm_config_free(vm->config);
    g_mutex_clear(&vm->lock);
    g_cond_clear(&vm->cond);
    g_mutex_clear(&vm->irq_lock);
    g_mutex_clear(&vm->join_lock);
    g_mutex_clear(&vm->display_lock);
    g_mutex_clear(&vm->slot_lock);
    g_free(vm);
}
