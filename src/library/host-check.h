/* host-check.h — can this host run fast 64-bit guests, and if not, why.
 *
 * The classic "how to enable 64-bit guests" checklist, checked: the CPU's
 * VT-x/AMD-V flag, virtualization disabled in the firmware, /dev/kvm
 * missing or not accessible (with the command that fixes it), another
 * hypervisor holding VT-x, and KVM that runs guest code in software
 * (emulated or nested), found by timing a tiny guest.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef enum {
    HGR_HOST_CHECK_OK,
    HGR_HOST_CHECK_WARNING,       /* guests run, but slowly or with limits */
    HGR_HOST_CHECK_ERROR,         /* no guest can run until this is fixed */
} HgrHostCheckLevel;

typedef struct {
    char *id;              /* "cpu-flag", "firmware-disabled", "kvm-device", "kvm-access",
                            * "other-hypervisor", "kvm-speed" */
    HgrHostCheckLevel level;
    char *title;           /* one line: "KVM is emulated: guests will be very slow" */
    char *detail;          /* what was found, with the figure */
    char *fix;             /* what to do, in plain words with exact commands; NULL if none */
} HgrHostCheckItem;

typedef struct {
    const char *kvm_path;  /* NULL: /dev/kvm */
    const char *proc_root; /* NULL: "/proc" (tests point it at a fake cpuinfo) */
    const char *sys_root;  /* NULL: "/sys" (modules: kvm_intel, kvm_amd, vboxdrv, ...) */
    bool skip_speed;       /* do not time a guest */
} HgrHostCheckOptions;

typedef struct {
    HgrHostCheckLevel level;      /* the worst item's */
    GPtrArray *items;             /* of HgrHostCheckItem *, every check, OK ones too */
    double kvm_loops_per_sec;     /* 0 when not measured */
} HgrHostCheckReport;

/* Runs every check; never fails (what cannot be checked is an item). */
HgrHostCheckReport *hgr_host_check_run(const HgrHostCheckOptions *opts);
void hgr_host_check_report_free(HgrHostCheckReport *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HgrHostCheckReport, hgr_host_check_report_free)

G_END_DECLS
