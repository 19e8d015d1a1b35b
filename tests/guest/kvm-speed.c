/* kvm-speed: how fast /dev/kvm runs guest code, so the guest tests can tell
 * hardware-backed KVM from a software-emulated one.  Prints the same two lines
 * as `hangarctl host-check`:
 *   kvm: hardware|emulated
 *   kvm-speed: N Mloops/s
 * Exit status 0 on success, 1 when KVM cannot be used (the reason on stderr). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GUEST_MEM_SIZE 0x2000
#define CODE_ADDR 0x1000
/* Below this the VMM cannot boot a Linux kernel in useful time. */
#define HARDWARE_MLOOPS 50.0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Real-mode code: mov ecx, N; 1: dec ecx; jnz 1b; hlt */
static size_t emit_loop(uint8_t *p, uint32_t n)
{
    size_t i = 0;
    p[i++] = 0x66; p[i++] = 0xb9;
    memcpy(p + i, &n, 4); i += 4;
    p[i++] = 0x66; p[i++] = 0x49;
    p[i++] = 0x75; p[i++] = 0xfc;
    p[i++] = 0xf4;
    return i;
}

/* Seconds spent in KVM_RUN for N iterations, or a negative value on error. */
static double time_loop(uint8_t *mem, int vcpu, struct kvm_run *run, uint32_t n)
{
    struct kvm_sregs sregs;
    struct kvm_regs regs = { .rip = CODE_ADDR, .rflags = 2 };

    emit_loop(mem + CODE_ADDR, n);
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return -1;
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        return -1;

    double t0 = now_s();
    for (int exits = 0; exits < 1000; exits++) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (run->exit_reason == KVM_EXIT_HLT)
            return now_s() - t0;
        if (run->exit_reason != KVM_EXIT_INTR) {
            fprintf(stderr, "kvm-speed: unexpected exit %u\n", run->exit_reason);
            return -1;
        }
    }
    return -1;
}

int main(void)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        fprintf(stderr, "kvm-speed: /dev/kvm: %s%s\n", strerror(errno),
                errno == EACCES ? " (add yourself to the kvm group)" : "");
        return 1;
    }
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    uint8_t *mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_MEM_SIZE,
        .userspace_addr = (uintptr_t)mem,
    };
    if (vm < 0 || mem == MAP_FAILED || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        perror("kvm-speed: creating the VM");
        return 1;
    }
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = vcpu < 0 || run_size <= 0 ? MAP_FAILED :
        mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) {
        perror("kvm-speed: creating the vCPU");
        return 1;
    }

    /* Grow the loop until it runs long enough to time: a few ms on hardware,
     * about a second when KVM is emulated. */
    uint32_t n = 1u << 16;
    double t;
    for (;;) {
        t = time_loop(mem, vcpu, run, n);
        if (t < 0) {
            perror("kvm-speed: KVM_RUN");
            return 1;
        }
        if (t > 0.2 || n >= (1u << 30))
            break;
        n <<= 2;
    }
    double mloops = n / t / 1e6;
    printf("kvm: %s\n", mloops >= HARDWARE_MLOOPS ? "hardware" : "emulated");
    printf("kvm-speed: %.1f Mloops/s\n", mloops);
    return 0;
}
