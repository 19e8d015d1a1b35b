/* test-cpuid.c — the topology each vCPU is told matches its APIC ID and the
 * VM's CPU count, for Intel and AMD hosts. */
#include <glib.h>
#include <stdbool.h>
#include <string.h>

#include "x86/cpuid.h"

static struct kvm_cpuid2 *fake_host(bool amd)
{
    struct kvm_cpuid2 *c = g_malloc0(sizeof(*c) + 16 * sizeof(struct kvm_cpuid_entry2));
    struct kvm_cpuid_entry2 e[] = {
        { .function = 0, .eax = 0x1f, .ebx = amd ? 0x68747541 : 0x756e6547 },
        { .function = 1, .ebx = 0xff0800aa, .edx = 1u << 28 },
        { .function = 4, .index = 0, .eax = 0x121 },           /* L1d */
        { .function = 4, .index = 1, .eax = 0x163 },           /* L3 */
        { .function = 0xb, .index = 0 },
        { .function = 0xb, .index = 1 },
        { .function = 0x1f, .index = 0 },
        { .function = 0x80000008, .ecx = 0x7 },
        { .function = 0x8000001e },
    };
    memcpy(c->entries, e, sizeof(e));
    c->nent = G_N_ELEMENTS(e);
    return c;
}

static const struct kvm_cpuid_entry2 *leaf(const struct kvm_cpuid2 *c, uint32_t f, uint32_t i)
{
    for (uint32_t k = 0; k < c->nent; k++)
        if (c->entries[k].function == f && c->entries[k].index == i)
            return &c->entries[k];
    return NULL;
}

static void check(bool amd, unsigned n)
{
    g_autofree struct kvm_cpuid2 *host = fake_host(amd);

    for (unsigned id = 0; id < n; id++) {
        g_autofree struct kvm_cpuid2 *c = hgr_x86_cpuid_for_vcpu(host, n, id);
        const struct kvm_cpuid_entry2 *l1 = leaf(c, 1, 0);
        g_assert_cmpuint(l1->ebx >> 24, ==, id);                   /* initial APIC ID */
        g_assert_cmpuint(l1->ebx & 0xffff, ==, 0x00aa);             /* brand/clflush kept */
        g_assert_cmpuint((l1->ecx >> 31) & 1, ==, 1);               /* hypervisor */
        g_assert_cmpuint((l1->edx >> 28) & 1, ==, n > 1);           /* HTT only if SMP */
        g_assert_cmpuint((l1->ebx >> 16) & 0xff, >=, n);            /* logical count */
        const struct kvm_cpuid_entry2 *b1 = leaf(c, 0xb, 1);
        g_assert_cmpuint(b1->ebx, ==, n);
        g_assert_cmpuint(b1->edx, ==, id);
        g_assert_cmpuint((1u << b1->eax), >=, n);
        g_assert_null(leaf(c, 0x1f, 0));          /* dropped, not left stale */
        g_assert_null(leaf(c, 0x8000001e, 0));
        if (amd) {
            g_assert_cmpuint(leaf(c, 0x80000008, 0)->ecx & 0xff, ==, n - 1);
        } else {
            g_assert_cmpuint((leaf(c, 4, 0)->eax >> 26) + 1, >=, n);   /* cores/pkg */
            g_assert_cmpuint(((leaf(c, 4, 1)->eax >> 14) & 0xfff) + 1, >=, n); /* L3 shared */
        }
    }
}

static void test_intel(void) { check(false, 1); check(false, 2); check(false, 6); }
static void test_amd(void)   { check(true, 1);  check(true, 2);  check(true, 5); }

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/cpuid/topology-intel", test_intel);
    g_test_add_func("/vmm/cpuid/topology-amd", test_amd);
    return g_test_run();
}
