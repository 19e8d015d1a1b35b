/* cpuid.c — what each vCPU is told about itself: KVM's supported CPUID,
 * with a topology that matches the APIC IDs (one package, N cores, one
 * thread each) and the hypervisor bit set. */
#include "cpuid.h"

#include "../core/vm-private.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

static unsigned bits_for(unsigned n)
{
    unsigned b = 0;
    while ((1u << b) < n)
        b++;
    return b;
}

static bool is_amd(const struct kvm_cpuid2 *c)
{
    for (uint32_t i = 0; i < c->nent; i++)
        if (c->entries[i].function == 0)
            return c->entries[i].ebx == 0x68747541;   /* "Auth" */
    return false;
}

static void patch(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t apic_id, bool amd)
{
    unsigned core_bits = bits_for(n);

    switch (e->function) {
    case 1:
        e->ebx = (e->ebx & 0x0000ffff) | (apic_id << 24) |
                 ((n > 1 ? 1u << core_bits : 1u) << 16);
        if (n > 1)
            e->edx |= 1u << 28;                  /* HTT: more than one logical CPU */
        else
            e->edx &= ~(1u << 28);
        e->ecx |= 1u << 31;                      /* running under a hypervisor */
        break;
    case 4:                                      /* Intel deterministic cache params */
        if ((e->eax & 0x1f) != 0) {
            unsigned level = (e->eax >> 5) & 7;
            e->eax &= 0x3ff;
            e->eax |= ((1u << core_bits) - 1) << 26;           /* cores per package - 1 */
            if (level >= 3)
                e->eax |= ((1u << core_bits) - 1) << 14;       /* L3 shared by all */
        }
        break;
    case 6:
        e->eax &= ~(1u << 0 | 1u << 1);          /* no thermal sensor or turbo to report */
        break;
    case 0xb:
    case 0x1f:
        /* x2APIC topology: level 0 SMT (1 thread), level 1 core (n). */
        e->edx = apic_id;
        if (e->index == 0) {
            e->eax = 0;
            e->ebx = 1;
            e->ecx = (1u << 8) | 0;
        } else if (e->index == 1) {
            e->eax = core_bits;
            e->ebx = n;
            e->ecx = (2u << 8) | 1;
        } else {
            e->eax = e->ebx = 0;
            e->ecx = e->index;
        }
        break;
    case 0x80000001:
        if (amd) {
            if (n > 1)
                e->ecx |= 1u << 1;               /* CmpLegacy */
            e->ecx &= ~(1u << 22);               /* no TopologyExtensions: keep 0x8000001e out */
        }
        break;
    case 0x80000008:
        if (amd)
            e->ecx = (core_bits << 12) | (n - 1);
        break;
    }
}

struct kvm_cpuid2 *hgr_x86_cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned n_cpus,
                                          uint32_t apic_id)
{
    struct kvm_cpuid2 *c = g_malloc0(sizeof(*c) +
                                     supported->nent * sizeof(struct kvm_cpuid_entry2));
    bool amd = is_amd(supported);

    for (uint32_t i = 0; i < supported->nent; i++) {
        struct kvm_cpuid_entry2 e = supported->entries[i];
        if (e.function == 0x8000001e || e.function == 0x1f)
            continue;                            /* leaves we do not keep consistent */
        if (e.function == 0xb && e.index > 2)
            continue;
        patch(&e, n_cpus, apic_id, amd);
        c->entries[c->nent++] = e;
    }
    return c;
}

bool hgr_x86_setup_cpuid(HgrVm *vm, HgrVcpu *vcpu, GError **error)
{
    g_autofree struct kvm_cpuid2 *c = hgr_x86_cpuid_for_vcpu(vm->cpuid, vm->n_vcpus,
                                                             vcpu->apic_id);

    if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0) {
        int e = errno;
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM,
                    "KVM_SET_CPUID2 for vCPU %u: %s", vcpu->index, g_strerror(e));
        return false;
    }
    return true;
}

unsigned hgr_x86_phys_bits(const struct kvm_cpuid2 *supported)
{
    for (uint32_t i = 0; supported && i < supported->nent; i++) {
        unsigned bits = supported->entries[i].eax & 0xff;
        if (supported->entries[i].function == 0x80000008 && bits >= 32 && bits <= 52)
            return bits;
    }
    return 36;
}
