/* cpuid.h — the CPUID a vCPU sees. */
#pragma once

#include <linux/kvm.h>
#include <stdint.h>

/* KVM's supported CPUID, patched for vCPU `apic_id` of `n_cpus` (one
 * package, n_cpus cores, one thread each). Caller frees with g_free. */
struct kvm_cpuid2 *hgr_x86_cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned n_cpus,
                                          uint32_t apic_id);
/* The guest's physical address width (CPUID 0x80000008 EAX[7:0]), 36 when
 * KVM does not say. */
unsigned hgr_x86_phys_bits(const struct kvm_cpuid2 *supported);
