/* insn-assist.c — the few instructions a KVM that emulates guest code
 * cannot emulate, done here instead.
 *
 * On VT-x or AMD-V the guest runs these itself and this code is never
 * reached. Where KVM runs guest code through its own instruction emulator
 * (PVM, and any host without hardware virtualization), that emulator has
 * no x87 or SSE control instructions, and OVMF's SEC phase stops at once
 * on `fwait; fninit`, then `fldcw`, then `ldmxcsr` (InitializeFloatingPoint
 * Units). They only set control state, so they are cheap to do right:
 *   9b          fwait       no x87 exception can be pending: nothing to do
 *   d9 /5       fldcw m16   the FPU control word
 *   0f ae /2    ldmxcsr m32 the SSE control register (reserved bits: #GP,
 *                           which we leave to KVM by declining)
 *   0f ae /3    stmxcsr m32 stores it (BaseLib's SetJump, in DXE)
 * Anything else is declined and the VM fails with the instruction named. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../core/vm-private.h"

typedef struct {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    unsigned addr_bits;            /* 32 or 64 (16-bit code is declined) */
    bool rex_b, rex_x;
} Cpu;

static uint64_t gpr(const Cpu *c, unsigned n)
{
    const uint64_t r[16] = { c->regs.rax, c->regs.rcx, c->regs.rdx, c->regs.rbx,
                             c->regs.rsp, c->regs.rbp, c->regs.rsi, c->regs.rdi,
                             c->regs.r8, c->regs.r9, c->regs.r10, c->regs.r11,
                             c->regs.r12, c->regs.r13, c->regs.r14, c->regs.r15 };
    return r[n & 15];
}

/* The memory operand's linear address from ModRM (and SIB, displacement)
 * at p; *used = the bytes they take. RIP-relative operands come back as
 * the bare displacement: the caller adds the end of the instruction.
 * False for a register operand or a truncated encoding. */
static bool decode_ea(const Cpu *c, const uint8_t *p, unsigned avail, unsigned *used,
                      uint64_t *ea)
{
    unsigned n = 1, mod = p[0] >> 6, rm = p[0] & 7;
    uint64_t addr = 0;
    bool rip_rel = false;

    if (avail < 1 || mod == 3)
        return false;
    if (rm == 4) {                                  /* SIB */
        if (avail < 2)
            return false;
        unsigned sib = p[n++], base = sib & 7, index = ((sib >> 3) & 7) | (c->rex_x ? 8 : 0);
        if (index != 4)
            addr += gpr(c, index) << (sib >> 6);
        if (base == 5 && mod == 0) {
            if (avail < n + 4)
                return false;
            addr += (uint64_t)(int64_t)(int32_t)(p[n] | p[n + 1] << 8 | p[n + 2] << 16 |
                                                 (uint32_t)p[n + 3] << 24);
            n += 4;
        } else {
            addr += gpr(c, base | (c->rex_b ? 8 : 0));
        }
    } else if (rm == 5 && mod == 0) {
        rip_rel = c->addr_bits == 64;
    } else {
        addr += gpr(c, rm | (c->rex_b ? 8 : 0));
    }
    unsigned disp = mod == 1 ? 1 : mod == 2 || (mod == 0 && rm == 5) ? 4 : 0;
    if (avail < n + disp)
        return false;
    if (disp == 1)
        addr += (uint64_t)(int64_t)(int8_t)p[n];
    else if (disp == 4)
        addr += (uint64_t)(int64_t)(int32_t)(p[n] | p[n + 1] << 8 | p[n + 2] << 16 |
                                             (uint32_t)p[n + 3] << 24);
    n += disp;
    *used = n;
    if (c->addr_bits == 32 && !rip_rel)
        addr = (uint32_t)(addr + c->sregs.ds.base);
    *ea = addr;
    return true;
}

/* The guest-physical address of len bytes at a linear address, through
 * the guest's page tables. */
static bool translate(HgrVcpu *vcpu, uint64_t la, unsigned len, bool write, uint64_t *gpa)
{
    struct kvm_translation tr = { .linear_address = la };

    if ((la & 0xfff) + len > 0x1000)
        return false;               /* a page-crossing control operand: not worth it */
    if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid || (write && !tr.writeable))
        return false;
    *gpa = tr.physical_address;
    return true;
}

static bool read_linear(HgrVcpu *vcpu, uint64_t la, void *buf, unsigned len)
{
    uint64_t gpa;
    return translate(vcpu, la, len, false, &gpa) &&
           hgr_machine_read_phys(vcpu->vm, gpa, buf, len);
}

/* Only RAM: a store to ROM or MMIO is declined. */
static bool write_linear(HgrVcpu *vcpu, uint64_t la, const void *buf, unsigned len)
{
    uint64_t gpa;
    return translate(vcpu, la, len, true, &gpa) && hgr_mem_write(&vcpu->vm->mem, gpa, buf, len);
}

static bool set_fcw(HgrVcpu *vcpu, uint16_t fcw)
{
    struct kvm_fpu fpu;

    if (ioctl(vcpu->fd, KVM_GET_FPU, &fpu) < 0)
        return false;
    fpu.fcw = fcw;
    return ioctl(vcpu->fd, KVM_SET_FPU, &fpu) == 0;
}

/* MXCSR lives in the XSAVE image (byte 24 of the legacy area): KVM_SET_FPU
 * ignores its mxcsr field. XRSTOR loads MXCSR only with the SSE (or AVX)
 * bit in XSTATE_BV, so that bit is set when writing it. */
#define XSAVE_MXCSR     (24 / 4)
#define XSAVE_XSTATE_BV (512 / 4)
#define XFEATURE_SSE    0x2u

static bool get_mxcsr(HgrVcpu *vcpu, uint32_t *mxcsr)
{
    g_autofree struct kvm_xsave *xs = g_new0(struct kvm_xsave, 1);

    if (ioctl(vcpu->fd, KVM_GET_XSAVE, xs) < 0)
        return false;
    *mxcsr = xs->region[XSAVE_MXCSR];
    return true;
}

static bool set_mxcsr(HgrVcpu *vcpu, uint32_t mxcsr)
{
    g_autofree struct kvm_xsave *xs = g_new0(struct kvm_xsave, 1);

    if (ioctl(vcpu->fd, KVM_GET_XSAVE, xs) < 0)
        return false;
    xs->region[XSAVE_MXCSR] = mxcsr;
    xs->region[XSAVE_XSTATE_BV] |= XFEATURE_SSE;
    return ioctl(vcpu->fd, KVM_SET_XSAVE, xs) == 0;
}

/* The memory operand of the instruction whose ModRM byte is insn[at]:
 * its linear address, and *end grows past the ModRM, SIB and
 * displacement bytes. */
static bool operand(const Cpu *c, const uint8_t *insn, unsigned len, unsigned at,
                    unsigned *end, uint64_t *ea)
{
    unsigned used;

    if (at >= len || !decode_ea(c, insn + at, len - at, &used, ea))
        return false;
    *end = at + used;
    /* RIP-relative counts from the end of the instruction, known now. */
    if ((insn[at] & 0xc7) == 5 && c->addr_bits == 64)
        *ea += c->regs.rip + *end;
    return true;
}

bool hgr_x86_assist(HgrVcpu *vcpu, const uint8_t *insn, unsigned len)
{
    Cpu c = { 0 };
    unsigned n = 0;
    uint64_t ea;

    if (ioctl(vcpu->fd, KVM_GET_REGS, &c.regs) < 0 ||
        ioctl(vcpu->fd, KVM_GET_SREGS, &c.sregs) < 0)
        return false;
    if (c.sregs.cs.l && (c.sregs.efer & (1u << 10)))
        c.addr_bits = 64;
    else if (c.sregs.cs.db && (c.sregs.cr0 & 1))
        c.addr_bits = 32;
    else
        return false;
    if (c.addr_bits == 64 && n < len && (insn[n] & 0xf0) == 0x40) {
        c.rex_b = insn[n] & 1;
        c.rex_x = insn[n] & 2;
        n++;
    }
    if (n >= len)
        return false;
    unsigned reg = n + 1 < len ? (insn[n + 1] >> 3) & 7 : 8;
    bool is_0fae = n + 2 < len && insn[n] == 0x0f && insn[n + 1] == 0xae;
    unsigned reg_0fae = is_0fae ? (insn[n + 2] >> 3) & 7 : 8;

    if (insn[n] == 0x9b) {                                          /* fwait */
        n++;
    } else if (insn[n] == 0xd9 && reg == 5) {                       /* fldcw */
        uint16_t cw;
        if (!operand(&c, insn, len, n + 1, &n, &ea) || !read_linear(vcpu, ea, &cw, 2) ||
            !set_fcw(vcpu, GUINT16_FROM_LE(cw)))
            return false;
    } else if (reg_0fae == 2) {                                     /* ldmxcsr */
        uint32_t mxcsr;
        if (!operand(&c, insn, len, n + 2, &n, &ea) || !read_linear(vcpu, ea, &mxcsr, 4))
            return false;
        mxcsr = GUINT32_FROM_LE(mxcsr);
        if (mxcsr & 0xffff0000u || !set_mxcsr(vcpu, mxcsr))
            return false;
    } else if (reg_0fae == 3) {                                     /* stmxcsr */
        uint32_t mxcsr;
        if (!operand(&c, insn, len, n + 2, &n, &ea) || !get_mxcsr(vcpu, &mxcsr))
            return false;
        mxcsr = GUINT32_TO_LE(mxcsr);
        if (!write_linear(vcpu, ea, &mxcsr, 4))
            return false;
    } else {
        return false;
    }
    c.regs.rip += n;
    if (c.addr_bits == 32)
        c.regs.rip = (uint32_t)c.regs.rip;
    return ioctl(vcpu->fd, KVM_SET_REGS, &c.regs) == 0;
}
