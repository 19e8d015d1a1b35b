/* vcpu.c — one thread per vCPU looping on KVM_RUN, and the exit dispatch.
 *
 * An exit is handled right here and must be short. A vCPU is kicked out of
 * KVM_RUN by a signal whose handler sets kvm_run->immediate_exit: set before
 * the ioctl it makes KVM_RUN return at once, so a kick can never be lost
 * between checking for a pause and entering the guest.
 */
#include "vm-private.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define KICK_SIGNAL (SIGRTMIN + 1)

static __thread struct kvm_run *current_run;

static void on_kick(int sig)
{
    if (current_run)
        current_run->immediate_exit = 1;
}

void hgr_vcpus_init_signals(void)
{
    static gsize once;

    if (g_once_init_enter(&once)) {
        struct sigaction sa = { .sa_handler = on_kick };
        sigemptyset(&sa.sa_mask);
        sigaction(KICK_SIGNAL, &sa, NULL);
        g_once_init_leave(&once, 1);
    }
}

bool hgr_vcpu_create(HgrVm *vm, HgrVcpu *vcpu, unsigned index, GError **error)
{
    memset(vcpu, 0, sizeof(*vcpu));
    vcpu->vm = vm;
    vcpu->index = index;
    vcpu->apic_id = index;
    vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, index);
    if (vcpu->fd < 0) {
        int e = errno;
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM,
                    "cannot create vCPU %u: %s", index, g_strerror(e));
        return false;
    }
    int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size <= 0)
        goto fail;
    vcpu->run_size = (size_t)size;
    vcpu->run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
    if (vcpu->run == MAP_FAILED) {
        vcpu->run = NULL;
        goto fail;
    }
    if (!hgr_x86_setup_cpuid(vm, vcpu, error))
        return false;
    if (ioctl(vcpu->fd, KVM_GET_LAPIC, &vcpu->initial_lapic) < 0)
        goto fail;
    return true;
fail:
    g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM,
                "cannot set up vCPU %u: %s", index, g_strerror(errno));
    return false;
}

void hgr_vcpu_destroy(HgrVcpu *vcpu)
{
    if (vcpu->run)
        munmap(vcpu->run, vcpu->run_size);
    if (vcpu->fd > 0)
        close(vcpu->fd);
    vcpu->run = NULL;
    vcpu->fd = -1;
}

void hgr_vcpu_kick(HgrVcpu *vcpu)
{
    if (vcpu->thread_started)
        pthread_kill(vcpu->thread, KICK_SIGNAL);
}

static void handle_io(HgrVcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

    /* String I/O (rep outsb) arrives as count items back to back. */
    for (uint32_t i = 0; i < run->io.count; i++) {
        hgr_io_bus_dispatch(&vcpu->vm->pio, run->io.port, data, run->io.size, is_write);
        data += run->io.size;
    }
}

static void handle_mmio(HgrVcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;

    if (run->mmio.len > sizeof(run->mmio.data))
        return;
    hgr_io_bus_dispatch(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
                        run->mmio.is_write);
}

/* Returns false when the VM cannot go on. */
/* ", instruction bytes 9b db e3 ..." when KVM says which instruction it
 * could not emulate (on hosts where KVM emulates guest code). */
static char *describe_failed_insn(const struct kvm_run *run)
{
    g_autoptr(GString) s = g_string_new(NULL);

    if (run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION ||
        run->emulation_failure.ndata < 3 ||
        !(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
        return g_strdup("");
    g_string_append(s, ", instruction bytes");
    for (unsigned i = 0; i < MIN(run->emulation_failure.insn_size,
                                 sizeof(run->emulation_failure.insn_bytes)); i++)
        g_string_append_printf(s, " %02x", run->emulation_failure.insn_bytes[i]);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static bool handle_exit(HgrVcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    HgrVm *vm = vcpu->vm;

    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        handle_io(vcpu);
        return true;
    case KVM_EXIT_MMIO:
        handle_mmio(vcpu);
        return true;
    case KVM_EXIT_INTR:
        return true;
    case KVM_EXIT_HLT:
        /* Only without an in-kernel LAPIC (the speed probe). */
        hgr_vm_request(vm, HGR_BOARD_POWEROFF);
        return true;
    case KVM_EXIT_SHUTDOWN:
        /* Triple fault: a PC resets. */
        g_debug("vCPU %u: triple fault, resetting", vcpu->index);
        hgr_vm_request(vm, HGR_BOARD_RESET);
        return true;
    case KVM_EXIT_SYSTEM_EVENT:
        hgr_vm_request(vm, run->system_event.type == KVM_SYSTEM_EVENT_RESET
                               ? HGR_BOARD_RESET : HGR_BOARD_POWEROFF);
        return true;
    case KVM_EXIT_FAIL_ENTRY: {
        g_autofree char *regs = hgr_x86_describe_vcpu(vcpu);
        hgr_vm_fail(vm, "vCPU %u: KVM could not enter the guest (hardware reason 0x%llx)\n%s",
                    vcpu->index,
                    (unsigned long long)run->fail_entry.hardware_entry_failure_reason, regs);
        return false;
    }
    case KVM_EXIT_INTERNAL_ERROR: {
        if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
            run->emulation_failure.ndata >= 3 &&
            (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
            hgr_x86_assist(vcpu, run->emulation_failure.insn_bytes,
                           MIN(run->emulation_failure.insn_size,
                               sizeof(run->emulation_failure.insn_bytes))))
            return true;
        g_autofree char *regs = hgr_x86_describe_vcpu(vcpu);
        g_autofree char *insn = describe_failed_insn(run);
        /* Where KVM emulates all guest code (no VT-x/AMD-V), firmware and
         * OS code soon reach an instruction its emulator lacks: say so. */
        hgr_vm_fail(vm, "vCPU %u: KVM internal error %u (the guest ran something KVM "
                    "cannot emulate%s); if 'hangarctl host-check' says KVM is emulated "
                    "here, this guest needs a host with hardware virtualization\n%s",
                    vcpu->index, run->internal.suberror, insn, regs);
        return false;
    }
    default: {
        g_autofree char *regs = hgr_x86_describe_vcpu(vcpu);
        hgr_vm_fail(vm, "vCPU %u: unexpected KVM exit %u\n%s", vcpu->index,
                    run->exit_reason, regs);
        return false;
    }
    }
}

/* Exits whose instruction KVM completes at the next KVM_RUN. */
static bool finished_by_next_run(uint32_t exit_reason)
{
    switch (exit_reason) {
    case KVM_EXIT_IO:
    case KVM_EXIT_MMIO:
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR:
        return true;
    default:
        return false;
    }
}

static void *vcpu_thread(void *data)
{
    HgrVcpu *vcpu = data;
    HgrVm *vm = vcpu->vm;
    sigset_t set;

    g_autofree char *name = g_strdup_printf("vcpu%u", vcpu->index);
    pthread_setname_np(pthread_self(), name);
    current_run = vcpu->run;
    sigemptyset(&set);
    sigaddset(&set, KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    /* An exit for I/O or an MSR is finished by KVM at the next KVM_RUN
     * (the data of an IN lands in the register, RIP moves on). A vCPU must
     * not park with one unfinished: a reset or a saved state in between
     * would be undone by it, the old instruction's end written over the new
     * registers. So after such an exit the loop enters KVM_RUN again before
     * the checkpoint; when a kick is pending (immediate_exit), KVM finishes
     * the instruction and returns at once without running the guest. */
    bool unfinished = false;
    while (unfinished || hgr_vm_vcpu_checkpoint(vm, vcpu)) {
        int r = ioctl(vcpu->fd, KVM_RUN, 0);
        unfinished = false;
        if (r < 0) {
            int e = errno;
            vcpu->run->immediate_exit = 0;
            if (e == EINTR || e == EAGAIN)
                continue;
            hgr_vm_fail(vm, "vCPU %u: KVM_RUN failed: %s", vcpu->index, g_strerror(e));
            break;
        }
        if (!handle_exit(vcpu))
            break;
        unfinished = finished_by_next_run(vcpu->run->exit_reason);
    }
    current_run = NULL;
    hgr_vm_vcpu_exited(vm, vcpu);
    return NULL;
}

bool hgr_vcpu_start(HgrVcpu *vcpu, GError **error)
{
    sigset_t set, old;

    /* Threads start with the kick signal blocked, so no kick lands before
     * current_run is set; the thread unblocks it itself. */
    sigemptyset(&set);
    sigaddset(&set, KICK_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int r = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM,
                    "cannot start vCPU thread %u: %s", vcpu->index, g_strerror(r));
        return false;
    }
    vcpu->thread_started = true;
    return true;
}
