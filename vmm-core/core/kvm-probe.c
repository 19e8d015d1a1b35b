/* kvm-probe.c — how fast does KVM run guest code here? A bare VM (no
 * devices, no irqchip) runs a counted loop between two port writes; the
 * time between those exits is the loop alone. */
#include <hangar/host.h>
#include <hangar/vm.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define PROBE_RAM 0x10000
#define PROBE_CODE 0x1000

typedef struct {
    int kvm, vm, vcpu;
    uint8_t *ram;
    struct kvm_run *run;
    size_t run_size;
} Probe;

static void probe_close(Probe *p)
{
    if (p->run)
        munmap(p->run, p->run_size);
    if (p->ram)
        munmap(p->ram, PROBE_RAM);
    if (p->vcpu >= 0)
        close(p->vcpu);
    if (p->vm >= 0)
        close(p->vm);
    if (p->kvm >= 0)
        close(p->kvm);
}

static bool probe_open(Probe *p, const char *path, GError **error)
{
    p->kvm = open(path, O_RDWR | O_CLOEXEC);
    if (p->kvm < 0) {
        int e = errno;
        g_set_error(error, HGR_VM_ERROR,
                    e == EACCES || e == EPERM ? HGR_VM_ERROR_KVM_ACCESS
                                              : HGR_VM_ERROR_KVM_MISSING,
                    "cannot open %s: %s", path, g_strerror(e));
        return false;
    }
    p->vm = ioctl(p->kvm, KVM_CREATE_VM, 0);
    if (p->vm < 0)
        goto fail;
    p->ram = mmap(NULL, PROBE_RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p->ram == MAP_FAILED) {
        p->ram = NULL;
        goto fail;
    }
    struct kvm_userspace_memory_region r = {
        .slot = 0, .memory_size = PROBE_RAM, .userspace_addr = (uintptr_t)p->ram };
    if (ioctl(p->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
        goto fail;
    p->vcpu = ioctl(p->vm, KVM_CREATE_VCPU, 0);
    int size = ioctl(p->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (p->vcpu < 0 || size <= 0)
        goto fail;
    p->run_size = (size_t)size;
    p->run = mmap(NULL, p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu, 0);
    if (p->run == MAP_FAILED) {
        p->run = NULL;
        goto fail;
    }
    return true;
fail:
    g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM, "KVM probe: %s", g_strerror(errno));
    return false;
}

/* Runs the loop `count` times; returns seconds between the two markers. */
static double probe_run(Probe *p, uint32_t count, GError **error)
{
    const uint8_t code[] = {
        0xe6, 0x10,                              /* out 0x10, al   (start) */
        0x66, 0xb9, (uint8_t)count, (uint8_t)(count >> 8),
        (uint8_t)(count >> 16), (uint8_t)(count >> 24),   /* mov ecx, count */
        0x66, 0x49,                              /* loop: dec ecx */
        0x75, 0xfc,                              /* jnz loop */
        0xe6, 0x11,                              /* out 0x11, al   (end) */
        0xf4,                                    /* hlt */
    };
    struct kvm_sregs s;
    struct kvm_regs regs = { .rip = PROBE_CODE, .rflags = 2 };
    int64_t start = 0;

    memcpy(p->ram + PROBE_CODE, code, sizeof(code));
    if (ioctl(p->vcpu, KVM_GET_SREGS, &s) < 0)
        goto fail;
    s.cs.base = 0;
    s.cs.selector = 0;
    if (ioctl(p->vcpu, KVM_SET_SREGS, &s) < 0 || ioctl(p->vcpu, KVM_SET_REGS, &regs) < 0)
        goto fail;
    for (;;) {
        if (ioctl(p->vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        if (p->run->exit_reason != KVM_EXIT_IO) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM,
                        "KVM probe: unexpected exit %u", p->run->exit_reason);
            return -1;
        }
        if (p->run->io.port == 0x10) {
            start = g_get_monotonic_time();
        } else {
            int64_t end = g_get_monotonic_time();
            return MAX(end - start, 1) / 1e6;
        }
    }
fail:
    g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KVM, "KVM probe: %s", g_strerror(errno));
    return -1;
}

bool hgr_kvm_measure_speed(const char *kvm_path, HgrKvmSpeed *out, GError **error)
{
    Probe p = { .kvm = -1, .vm = -1, .vcpu = -1 };
    bool ok = false;

    if (!probe_open(&p, kvm_path ? kvm_path : "/dev/kvm", error))
        goto out;
    /* A short run first; if that was quick, a long one for a steady figure. */
    uint32_t count = 100000;
    double secs = probe_run(&p, count, error);
    if (secs < 0)
        goto out;
    if (secs < 0.02) {
        count = (uint32_t)MIN(4e9, count * (0.1 / secs));
        secs = probe_run(&p, count, error);
        if (secs < 0)
            goto out;
    }
    out->loops_per_sec = count / secs;
    out->emulated = out->loops_per_sec < HGR_KVM_HARDWARE_LOOPS_PER_SEC;
    ok = true;
out:
    probe_close(&p);
    return ok;
}
