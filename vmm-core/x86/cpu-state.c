/* cpu-state.c — a vCPU's power-on state: registers, segments, control
 * registers, MSRs, FPU, LAPIC. Only MSRs that KVM lists are written: KVM on
 * some hosts refuses others (QEMU 7.2 aborts on MSR 0x10a here). */
#include "../core/vm-private.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#define MSR_IA32_APICBASE        0x1b
#define MSR_IA32_MISC_ENABLE     0x1a0
#define MSR_MTRR_DEF_TYPE        0x2ff
#define MSR_IA32_SYSENTER_CS     0x174
#define MSR_IA32_SYSENTER_ESP    0x175
#define MSR_IA32_SYSENTER_EIP    0x176
#define MSR_STAR                 0xc0000081
#define MSR_LSTAR                0xc0000082
#define MSR_CSTAR                0xc0000083
#define MSR_SYSCALL_MASK         0xc0000084
#define MSR_KERNEL_GS_BASE       0xc0000102

#define CR0_PE 0x1u
#define CR0_ET 0x10u
#define CR0_PG 0x80000000u
#define CR4_PAE 0x20u
#define EFER_LME 0x100u
#define EFER_LMA 0x400u

static bool msr_supported(const HgrVm *vm, uint32_t index)
{
    for (uint32_t i = 0; i < vm->msrs->nmsrs; i++)
        if (vm->msrs->indices[i] == index)
            return true;
    return false;
}

static bool set_msrs(HgrVm *vm, HgrVcpu *vcpu)
{
    const struct { uint32_t index; uint64_t value; } want[] = {
        { MSR_IA32_APICBASE, HGR_LAPIC_BASE | (1u << 11) | (vcpu->index == 0 ? 1u << 8 : 0) },
        { MSR_IA32_MISC_ENABLE, 1 },             /* fast strings */
        { MSR_MTRR_DEF_TYPE, (1u << 11) | 6 },   /* MTRRs on, default write-back */
        { MSR_IA32_SYSENTER_CS, 0 },
        { MSR_IA32_SYSENTER_ESP, 0 },
        { MSR_IA32_SYSENTER_EIP, 0 },
        { MSR_STAR, 0 },
        { MSR_LSTAR, 0 },
        { MSR_CSTAR, 0 },
        { MSR_SYSCALL_MASK, 0 },
        { MSR_KERNEL_GS_BASE, 0 },
    };
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[G_N_ELEMENTS(want)];
    } m = {0};

    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        if (!msr_supported(vm, want[i].index))
            continue;
        m.e[m.hdr.nmsrs].index = want[i].index;
        m.e[m.hdr.nmsrs].data = want[i].value;
        m.hdr.nmsrs++;
    }
    /* KVM_SET_MSRS returns how many it set; fewer means one was refused. */
    return ioctl(vcpu->fd, KVM_SET_MSRS, &m) == (int)m.hdr.nmsrs;
}

static struct kvm_segment flat(uint16_t selector, uint8_t type, bool code64)
{
    return (struct kvm_segment){
        .base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
        .present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1, .l = code64 ? 1 : 0, .g = 1,
    };
}

static void long_mode_sregs(struct kvm_sregs *s, const HgrCpuEntry *e)
{
    s->cs = flat(0x10, 0xb, true);
    s->ds = s->es = s->fs = s->gs = s->ss = flat(0x18, 0x3, false);
    s->gdt.base = e->gdt_base;
    s->gdt.limit = e->gdt_limit;
    s->idt.base = 0;
    s->idt.limit = 0;
    s->cr0 = CR0_PE | CR0_ET | CR0_PG;
    s->cr3 = e->cr3;
    s->cr4 = CR4_PAE;
    s->efer = EFER_LME | EFER_LMA;
}

static void real_mode_sregs(struct kvm_sregs *s, const HgrCpuEntry *e)
{
    struct kvm_segment seg = {
        .base = (uint64_t)e->cs << 4, .limit = 0xffff, .selector = e->cs, .type = 0x3,
        .present = 1, .s = 1 };
    s->ds = s->es = s->fs = s->gs = s->ss = seg;
    seg.type = 0xb;
    s->cs = seg;
    if (e->reset_vector) {
        /* The power-on state: CS base at the top of the 4 GiB space, so the
         * first fetch comes from the ROM's last 16 bytes. */
        s->ds.base = s->es.base = s->fs.base = s->gs.base = s->ss.base = 0;
        s->ds.selector = s->es.selector = s->fs.selector = 0;
        s->gs.selector = s->ss.selector = 0;
        s->cs.selector = 0xf000;
        s->cs.base = 0xffff0000;
        s->gdt.base = s->idt.base = 0;
        s->gdt.limit = s->idt.limit = 0xffff;
    }
    s->cr0 = CR0_ET;
    s->cr3 = s->cr4 = s->efer = 0;
}

static bool fail(GError **error, HgrVcpu *vcpu, const char *what)
{
    int e = errno;
    g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM, "vCPU %u: %s: %s", vcpu->index, what,
                g_strerror(e));
    return false;
}

bool hgr_x86_reset_vcpu(HgrVm *vm, HgrVcpu *vcpu, GError **error)
{
    const HgrCpuEntry *e = &vm->entry;
    bool bsp = vcpu->index == 0;
    struct kvm_sregs sregs;
    struct kvm_regs regs = { .rflags = 2 };
    struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
    struct kvm_vcpu_events events = {0};
    struct kvm_mp_state mp = {
        .mp_state = bsp ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED };

    /* APIC base (xAPIC mode) before the LAPIC registers, which it governs. */
    if (!set_msrs(vm, vcpu))
        return fail(error, vcpu, "KVM_SET_MSRS");
    if (ioctl(vcpu->fd, KVM_SET_LAPIC, &vcpu->initial_lapic) < 0)
        return fail(error, vcpu, "KVM_SET_LAPIC");
    if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
        return fail(error, vcpu, "KVM_SET_FPU");
    ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &events);   /* drop pending exceptions/NMIs */
    if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
        return fail(error, vcpu, "KVM_GET_SREGS");
    sregs.tr = (struct kvm_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
    sregs.ldt = (struct kvm_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
    sregs.cr2 = sregs.cr8 = 0;
    sregs.apic_base = HGR_LAPIC_BASE | (1u << 11) | (bsp ? 1u << 8 : 0);
    memset(sregs.interrupt_bitmap, 0, sizeof(sregs.interrupt_bitmap));
    /* APs wait for INIT/SIPI from the BSP; KVM gives them their reset state. */
    if (bsp) {
        if (e->long_mode) {
            long_mode_sregs(&sregs, e);
            regs.rip = e->rip;
            regs.rsi = e->rsi;
            regs.rsp = regs.rbp = e->rsp;
        } else {
            real_mode_sregs(&sregs, e);
            regs.rip = e->ip;
            regs.rsp = e->rsp;
        }
        if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
            return fail(error, vcpu, "KVM_SET_SREGS");
        if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
            return fail(error, vcpu, "KVM_SET_REGS");
    }
    if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0)
        return fail(error, vcpu, "KVM_SET_MP_STATE");
    return true;
}

char *hgr_x86_describe_vcpu(HgrVcpu *vcpu)
{
    struct kvm_regs r;
    struct kvm_sregs s;

    if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
        return g_strdup("(registers unavailable)");
    return g_strdup_printf(
        "  rip=%016llx rsp=%016llx rflags=%08llx\n"
        "  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
        "  cs=%04x(base %llx) cr0=%llx cr3=%llx cr4=%llx efer=%llx",
        r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx,
        s.cs.selector, s.cs.base, s.cr0, s.cr3, s.cr4, s.efer);
}
