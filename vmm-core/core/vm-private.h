/* vm-private.h — the VM object. Only core/, x86/ and machine code include it;
 * devices see the VM through HgrBoard. */
#pragma once

#include <hangar/vm.h>
#include <linux/kvm.h>
#include <pthread.h>

#include "board.h"
#include "device.h"
#include "io-bus.h"
#include "iothread.h"
#include "memory.h"
#include "ratelimit.h"
#include "pc.h"

typedef struct HgrVm HgrVm;
typedef struct HgrVcpu HgrVcpu;
typedef struct HgrMachine HgrMachine;

/* What a vCPU starts with at power-on or reset. */
typedef struct {
    bool long_mode;          /* direct Linux boot: 64-bit, paging on */
    uint64_t rip, rsi, rsp;
    uint64_t cr3;
    uint64_t gdt_base;
    uint16_t gdt_limit;
    uint16_t cs, ip;         /* real mode: CS:IP */
    bool reset_vector;       /* firmware: F000:FFF0 with CS base 0xFFFF0000 */
} HgrCpuEntry;

struct HgrVcpu {
    HgrVm *vm;
    unsigned index;
    uint32_t apic_id;
    int fd;
    struct kvm_run *run;
    size_t run_size;
    pthread_t thread;
    bool thread_started;
    bool parked;
    bool reset_pending;      /* apply the power-on state before running again */
    struct kvm_lapic_state initial_lapic;
};

/* KVM slots for device memory (VRAM) mapped as RAM: after the RAM slots
 * and the firmware's. */
#define HGR_VM_DEVICE_RAM_SLOT0 (HGR_MEM_MAX_REGIONS + 8)
#define HGR_VM_DEVICE_RAM_SLOTS 4

struct HgrVm {
    HgrVmConfig *config;
    int kvm_fd;
    int vm_fd;

    uint8_t *ram;
    uint64_t ram_size;
    HgrGuestMem mem;

    HgrIoBus pio;
    HgrIoBus mmio;
    HgrIrqChip irqchip;
    HgrBoard board;
    HgrIoThread *iothread;

    uint8_t uuid[16];                /* config->uuid in RFC 4122 byte order, or zeros */

    HgrVcpu *vcpus;
    unsigned n_vcpus;
    struct kvm_cpuid2 *cpuid;        /* KVM_GET_SUPPORTED_CPUID */
    struct kvm_msr_list *msrs;       /* KVM_GET_MSR_INDEX_LIST */
    HgrCpuEntry entry;

    /* In-kernel irqchip and PIT as they were at power-on. */
    struct kvm_irqchip initial_irqchip[3];
    struct kvm_pit_state2 initial_pit;

    /* GSI routing: the default ISA/IOAPIC routes plus MSI routes. */
    GMutex irq_lock;
    struct kvm_irq_routing *routing;
    unsigned next_gsi;

    GPtrArray *devices;              /* of HgrDevice *, in realize order */
    HgrMachine *machine;             /* backends and the boot loader (machine-pc.c) */

    /* Run state. */
    GMutex lock;
    GCond cond;
    HgrVmState state;
    bool pause_req;
    bool stop_req;
    bool reset_req;
    bool poweroff_req;
    char *failure;
    GMutex join_lock;                /* one thread at a time joins the vCPU threads */
    GMutex display_lock;             /* one frontend at a time renders the display */
    GMutex slot_lock;                /* guards device_ram */
    void *device_ram[HGR_VM_DEVICE_RAM_SLOTS];   /* hva of each device RAM slot, or NULL */
    size_t device_ram_pages[HGR_VM_DEVICE_RAM_SLOTS];   /* and its size in 4 KiB pages */
    HgrRateLimit slot_warn;
    GThread *control;                /* carries out guest-requested reset and poweroff */
    HgrVmStateFn state_fn;
    void *state_data;
    void (*boot_fn)(HgrVm *vm, uint64_t ns, void *data);
    void *boot_data;
    int64_t start_time;
    uint64_t boot_time_ns;
    unsigned reboots;
};

/* vm-config.c: config->uuid into its 16 bytes in text order (zeros when
 * NULL); HGR_VM_ERROR_CONFIG naming the value when it is not a UUID. */
bool hgr_vm_config_parse_uuid(const HgrVmConfig *config, uint8_t uuid[16], GError **error);

/* vcpu.c */
bool hgr_vcpu_create(HgrVm *vm, HgrVcpu *vcpu, unsigned index, GError **error);
void hgr_vcpu_destroy(HgrVcpu *vcpu);
bool hgr_vcpu_start(HgrVcpu *vcpu, GError **error);
void hgr_vcpu_kick(HgrVcpu *vcpu);
void hgr_vcpus_init_signals(void);

/* x86/ */
bool hgr_x86_setup_cpuid(HgrVm *vm, HgrVcpu *vcpu, GError **error);
/* Registers, segments, MSRs, LAPIC, FPU: the power-on state (BSP at vm->entry). */
bool hgr_x86_reset_vcpu(HgrVm *vm, HgrVcpu *vcpu, GError **error);
char *hgr_x86_describe_vcpu(HgrVcpu *vcpu);
/* insn-assist.c: does an instruction KVM could not emulate (insn: its
 * bytes from KVM) when it is one of the few known to be harmless to do
 * here; false to let the VM fail. */
bool hgr_x86_assist(HgrVcpu *vcpu, const uint8_t *insn, unsigned len);

/* vm.c: called from vCPU threads and devices. */
void hgr_vm_request(HgrVm *vm, HgrBoardEvent event);
void hgr_vm_fail(HgrVm *vm, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* vCPU threads: park while a pause is requested; false when the thread must exit. */
bool hgr_vm_vcpu_checkpoint(HgrVm *vm, HgrVcpu *vcpu);
/* A vCPU thread ends: it counts as parked from now on. */
void hgr_vm_vcpu_exited(HgrVm *vm, HgrVcpu *vcpu);
void hgr_vm_add_device(HgrVm *vm, HgrDevice *dev);

/* machine-pc.c: builds devices and backends per config, loads the kernel. */
bool hgr_machine_create(HgrVm *vm, GError **error);
/* (Re)writes the boot structures into RAM and sets vm->entry. */
bool hgr_machine_load(HgrVm *vm, GError **error);
void hgr_machine_board_pause(HgrVm *vm);
/* The display device (VGA), or NULL for a VM without one. */
HgrDevice *hgr_machine_display(HgrVm *vm);
/* The device that takes keyboard and mouse input (the i8042 today). */
HgrDevice *hgr_machine_input(HgrVm *vm);
/* The ACPI power-management device (power button), or NULL. */
HgrDevice *hgr_machine_power(HgrVm *vm);
/* A CD-ROM drive is there (fixed at creation). */
bool hgr_machine_has_cd_drive(HgrVm *vm);
/* Puts blk (NULL: nothing) in the CD-ROM drive; the disc taken out comes
 * back in *old, no longer used by the device, for the caller to free.
 * Errors as hgr_vm_change_cdrom's; nothing changes then. */
struct HgrBlock;
bool hgr_machine_swap_cdrom(HgrVm *vm, struct HgrBlock *blk, bool force,
                            struct HgrBlock **old, GError **error);
/* Sums the traffic of the VM's disks and network cards. */
void hgr_machine_activity(HgrVm *vm, HgrVmActivity *out);
void hgr_machine_free(HgrVm *vm);
/* Reads guest-physical memory that is RAM or firmware ROM/flash. */
bool hgr_machine_read_phys(HgrVm *vm, uint64_t gpa, void *buf, size_t len);
