/* test-host-check.c — the host checklist on fake hosts (a cpuinfo and a
 * /sys/module written by the test) and on this machine, whose KVM is
 * emulated. Tests run as root, so "cannot open KVM" is a path that is not a
 * KVM device (a directory, a regular file) rather than file modes. */
#include <glib.h>
#include <glib/gstdio.h>
#include <hangar/host.h>
#include <fcntl.h>
#include <unistd.h>

#include "host-check.h"
#include "library-private.h"

static const char *const all_ids[] = {
    "cpu-flag", "firmware-disabled", "kvm-device", "kvm-access", "other-hypervisor",
    "kvm-speed",
};

typedef struct {
    char *root;
    char *proc, *sys;
} FakeHost;

static void fake_host_init(FakeHost *h, const char *vendor, const char *flags,
                           const char *const *modules)
{
    g_autoptr(GError) error = NULL;
    h->root = g_dir_make_tmp("hangar-host-XXXXXX", &error);
    g_assert_no_error(error);
    h->proc = g_build_filename(h->root, "proc", NULL);
    h->sys = g_build_filename(h->root, "sys", NULL);
    g_assert_cmpint(g_mkdir_with_parents(h->proc, 0755), ==, 0);
    g_autofree char *module_dir = g_build_filename(h->sys, "module", NULL);
    g_assert_cmpint(g_mkdir_with_parents(module_dir, 0755), ==, 0);
    /* Modules every kernel has, that are no hypervisor. */
    static const char *const always[] = { "kvm", "8250", "block" };
    for (size_t i = 0; i < G_N_ELEMENTS(always); i++) {
        g_autofree char *d = g_build_filename(module_dir, always[i], NULL);
        g_assert_cmpint(g_mkdir(d, 0755), ==, 0);
    }
    for (const char *const *m = modules; m && *m; m++) {
        g_autofree char *d = g_build_filename(module_dir, *m, NULL);
        g_assert_cmpint(g_mkdir(d, 0755), ==, 0);
    }
    g_autoptr(GString) cpuinfo = g_string_new(NULL);
    for (int cpu = 0; cpu < 2; cpu++)
        g_string_append_printf(cpuinfo,
                               "processor\t: %d\nvendor_id\t: %s\ncpu family\t: 6\n"
                               "model name\t: Test CPU\nflags\t\t: fpu vme de pse tsc msr "
                               "pae mce cx8 apic sep %s sse sse2 lm\n\n",
                               cpu, vendor, flags);
    g_autofree char *path = g_build_filename(h->proc, "cpuinfo", NULL);
    g_file_set_contents(path, cpuinfo->str, -1, &error);
    g_assert_no_error(error);
}

static void fake_host_clear(FakeHost *h)
{
    hgr_library_remove_tree(h->root, NULL);
    g_free(h->root);
    g_free(h->proc);
    g_free(h->sys);
}

static HgrHostCheckReport *run_fake(FakeHost *h, const char *kvm_path)
{
    HgrHostCheckOptions opts = {
        .kvm_path = kvm_path, .proc_root = h->proc, .sys_root = h->sys, .skip_speed = true,
    };
    return hgr_host_check_run(&opts);
}

/* Each check exactly once, and the report's level is the worst item's. */
static void assert_complete(const HgrHostCheckReport *r)
{
    HgrHostCheckLevel worst = HGR_HOST_CHECK_OK;
    for (size_t i = 0; i < G_N_ELEMENTS(all_ids); i++) {
        int seen = 0;
        for (guint j = 0; j < r->items->len; j++) {
            const HgrHostCheckItem *it = g_ptr_array_index(r->items, j);
            seen += g_str_equal(it->id, all_ids[i]);
        }
        g_assert_cmpint(seen, ==, 1);
    }
    g_assert_cmpuint(r->items->len, ==, G_N_ELEMENTS(all_ids));
    for (guint j = 0; j < r->items->len; j++) {
        const HgrHostCheckItem *it = g_ptr_array_index(r->items, j);
        g_assert_nonnull(it->title);
        g_assert_nonnull(it->detail);
        if (it->level != HGR_HOST_CHECK_OK)
            g_assert_nonnull(it->fix);
        worst = MAX(worst, it->level);
    }
    g_assert_cmpint(r->level, ==, worst);
}

static const HgrHostCheckItem *item(const HgrHostCheckReport *r, const char *id)
{
    for (guint i = 0; i < r->items->len; i++) {
        const HgrHostCheckItem *it = g_ptr_array_index(r->items, i);
        if (g_str_equal(it->id, id))
            return it;
    }
    g_error("no item %s", id);
}

static char *missing_path(const FakeHost *h)
{
    return g_build_filename(h->root, "no-kvm", NULL);
}

/* An Intel CPU without vmx on bare metal, no KVM module: most likely
 * switched off in the firmware, and there is no device. */
static void test_intel_disabled_in_firmware(void)
{
    FakeHost h;
    fake_host_init(&h, "GenuineIntel", "", NULL);
    g_autofree char *kvm = missing_path(&h);
    g_autoptr(HgrHostCheckReport) r = run_fake(&h, kvm);
    assert_complete(r);
    g_assert_cmpint(r->level, ==, HGR_HOST_CHECK_ERROR);
    g_assert_cmpint(item(r, "cpu-flag")->level, ==, HGR_HOST_CHECK_ERROR);
    const HgrHostCheckItem *fw = item(r, "firmware-disabled");
    g_assert_cmpint(fw->level, ==, HGR_HOST_CHECK_ERROR);
    g_assert_nonnull(strstr(fw->fix, "Intel Virtualization Technology"));
    const HgrHostCheckItem *dev = item(r, "kvm-device");
    g_assert_cmpint(dev->level, ==, HGR_HOST_CHECK_ERROR);
    g_assert_nonnull(strstr(dev->detail, kvm));
    g_assert_nonnull(strstr(dev->fix, "sudo modprobe kvm_intel"));
    g_assert_cmpint(item(r, "kvm-speed")->level, ==, HGR_HOST_CHECK_OK);
    fake_host_clear(&h);
}

/* The same flags inside a VM: the outer hypervisor, not firmware, is why;
 * the fix is nested virtualization. */
static void test_vm_without_nested(void)
{
    FakeHost h;
    fake_host_init(&h, "GenuineIntel", "hypervisor", NULL);
    g_autofree char *kvm = missing_path(&h);
    g_autoptr(HgrHostCheckReport) r = run_fake(&h, kvm);
    assert_complete(r);
    const HgrHostCheckItem *cpu = item(r, "cpu-flag");
    g_assert_cmpint(cpu->level, ==, HGR_HOST_CHECK_ERROR);
    g_assert_nonnull(strstr(cpu->fix, "nested"));
    g_assert_cmpint(item(r, "firmware-disabled")->level, ==, HGR_HOST_CHECK_OK);
    fake_host_clear(&h);
}

/* KVM that works although the CPU shows no VT-x (a software KVM module in
 * a VM, as on these machines): a warning, not an error, with the nested
 * virtualization fix. Needs a KVM device that opens. */
static void test_software_kvm(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        g_test_skip("SKIP: /dev/kvm cannot be opened here; this case needs a working KVM");
        return;
    }
    close(fd);
    static const char *const modules[] = { "kvm_pvm", NULL };
    FakeHost h;
    fake_host_init(&h, "GenuineIntel", "hypervisor", modules);
    g_autoptr(HgrHostCheckReport) r = run_fake(&h, "/dev/kvm");
    assert_complete(r);
    const HgrHostCheckItem *cpu = item(r, "cpu-flag");
    g_assert_cmpint(cpu->level, ==, HGR_HOST_CHECK_WARNING);
    g_assert_nonnull(strstr(cpu->title, "emulated"));
    g_assert_nonnull(strstr(cpu->detail, "kvm_pvm"));
    g_assert_nonnull(strstr(cpu->fix, "nested"));
    g_assert_cmpint(item(r, "kvm-device")->level, ==, HGR_HOST_CHECK_OK);
    g_assert_cmpint(item(r, "firmware-disabled")->level, ==, HGR_HOST_CHECK_OK);
    g_assert_cmpint(r->level, ==, HGR_HOST_CHECK_WARNING);
    fake_host_clear(&h);
}

/* AMD keeps svm in cpuinfo when SVM is locked off; kvm_amd then refuses to
 * load. */
static void test_amd_module_missing(void)
{
    FakeHost h;
    fake_host_init(&h, "AuthenticAMD", "svm", NULL);
    g_autofree char *kvm = missing_path(&h);
    g_autoptr(HgrHostCheckReport) r = run_fake(&h, kvm);
    assert_complete(r);
    g_assert_cmpint(item(r, "cpu-flag")->level, ==, HGR_HOST_CHECK_OK);
    const HgrHostCheckItem *fw = item(r, "firmware-disabled");
    g_assert_cmpint(fw->level, ==, HGR_HOST_CHECK_WARNING);
    g_assert_nonnull(strstr(fw->fix, "SVM Mode"));
    g_assert_nonnull(strstr(item(r, "kvm-device")->fix, "sudo modprobe kvm_amd"));
    fake_host_clear(&h);
}

/* vmx present but kvm_intel not loaded (an old kernel keeps the flag when
 * the firmware locked VT-x): modprobe, and the firmware if that fails. */
static void test_intel_module_missing(void)
{
    FakeHost h;
    fake_host_init(&h, "GenuineIntel", "vmx", NULL);
    g_autofree char *kvm = missing_path(&h);
    g_autoptr(HgrHostCheckReport) r = run_fake(&h, kvm);
    assert_complete(r);
    g_assert_cmpint(item(r, "cpu-flag")->level, ==, HGR_HOST_CHECK_OK);
    const HgrHostCheckItem *fw = item(r, "firmware-disabled");
    g_assert_cmpint(fw->level, ==, HGR_HOST_CHECK_WARNING);
    g_assert_nonnull(strstr(fw->fix, "sudo modprobe kvm_intel"));
    g_assert_nonnull(strstr(fw->fix, "Intel Virtualization Technology"));
    fake_host_clear(&h);
}

/* vmx present and kvm_intel loaded, but the KVM path is a directory. */
static void test_kvm_path_is_directory(void)
{
    static const char *const modules[] = { "kvm_intel", NULL };
    FakeHost h;
    fake_host_init(&h, "GenuineIntel", "vmx", modules);
    g_autoptr(HgrHostCheckReport) r = run_fake(&h, h.root);
    assert_complete(r);
    g_assert_cmpint(item(r, "cpu-flag")->level, ==, HGR_HOST_CHECK_OK);
    g_assert_cmpint(item(r, "firmware-disabled")->level, ==, HGR_HOST_CHECK_OK);
    const HgrHostCheckItem *dev = item(r, "kvm-device");
    g_assert_cmpint(dev->level, ==, HGR_HOST_CHECK_ERROR);
    g_assert_nonnull(strstr(dev->detail, h.root));
    g_assert_nonnull(strstr(dev->fix, "modprobe"));
    g_assert_cmpint(r->level, ==, HGR_HOST_CHECK_ERROR);
    fake_host_clear(&h);
}

/* A regular file opens (as root) but does not answer KVM's ioctls. */
static void test_kvm_path_is_regular_file(void)
{
    static const char *const modules[] = { "kvm_intel", NULL };
    FakeHost h;
    fake_host_init(&h, "GenuineIntel", "vmx", modules);
    g_autofree char *kvm = g_build_filename(h.root, "kvm", NULL);
    g_file_set_contents(kvm, "not a device", -1, NULL);
    g_autoptr(HgrHostCheckReport) r = run_fake(&h, kvm);
    assert_complete(r);
    const HgrHostCheckItem *dev = item(r, "kvm-device");
    g_assert_cmpint(dev->level, ==, HGR_HOST_CHECK_ERROR);
    g_assert_nonnull(strstr(dev->title, "not KVM"));
    g_assert_nonnull(strstr(dev->detail, kvm));
    g_assert_nonnull(dev->fix);
    fake_host_clear(&h);
}

/* A KVM device the user may not open. Tests run as root, who opens
 * anything: the check runs in a child that has dropped to "nobody", on a
 * root-owned file of mode 0600. */
static void test_kvm_access_denied(void)
{
    if (g_test_subprocess()) {
        const char *root = g_getenv("HGR_TEST_FAKE_ROOT");
        if (geteuid() == 0)
            g_assert_true(setgid(65534) == 0 && setuid(65534) == 0);
        g_autofree char *proc = g_build_filename(root, "proc", NULL);
        g_autofree char *sys = g_build_filename(root, "sys", NULL);
        g_autofree char *kvm = g_build_filename(root, "kvm", NULL);
        HgrHostCheckOptions opts = {
            .kvm_path = kvm, .proc_root = proc, .sys_root = sys, .skip_speed = true,
        };
        g_autoptr(HgrHostCheckReport) r = hgr_host_check_run(&opts);
        assert_complete(r);
        g_assert_cmpint(item(r, "kvm-device")->level, ==, HGR_HOST_CHECK_OK);
        const HgrHostCheckItem *access = item(r, "kvm-access");
        g_assert_cmpint(access->level, ==, HGR_HOST_CHECK_ERROR);
        g_assert_nonnull(strstr(access->detail, kvm));
        g_assert_nonnull(strstr(access->fix, "sudo usermod -aG kvm $USER"));
        g_assert_nonnull(strstr(access->fix, "log out"));
        g_assert_cmpint(r->level, ==, HGR_HOST_CHECK_ERROR);
        return;
    }
    static const char *const modules[] = { "kvm_intel", NULL };
    FakeHost h;
    fake_host_init(&h, "GenuineIntel", "vmx", modules);
    g_assert_cmpint(g_chmod(h.root, 0755), ==, 0);
    g_autofree char *kvm = g_build_filename(h.root, "kvm", NULL);
    g_file_set_contents(kvm, "", -1, NULL);
    g_assert_cmpint(g_chmod(kvm, geteuid() == 0 ? 0600 : 0), ==, 0);
    g_setenv("HGR_TEST_FAKE_ROOT", h.root, TRUE);
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
    fake_host_clear(&h);
}

static void test_other_hypervisor(void)
{
    static const char *const modules[] = { "kvm_intel", "vboxdrv", "vmmon", NULL };
    FakeHost h;
    fake_host_init(&h, "GenuineIntel", "vmx", modules);
    g_autofree char *kvm = missing_path(&h);
    g_autoptr(HgrHostCheckReport) r = run_fake(&h, kvm);
    assert_complete(r);
    const HgrHostCheckItem *other = item(r, "other-hypervisor");
    g_assert_cmpint(other->level, ==, HGR_HOST_CHECK_WARNING);
    g_assert_nonnull(strstr(other->detail, "VirtualBox"));
    g_assert_nonnull(strstr(other->detail, "VMware"));
    g_assert_nonnull(strstr(other->fix, "modprobe -r vboxnetadp vboxnetflt vboxdrv"));
    fake_host_clear(&h);
}

static void test_no_other_hypervisor(void)
{
    static const char *const modules[] = { "kvm_intel", NULL };
    FakeHost h;
    fake_host_init(&h, "GenuineIntel", "vmx", modules);
    g_autofree char *kvm = missing_path(&h);
    g_autoptr(HgrHostCheckReport) r = run_fake(&h, kvm);
    g_assert_cmpint(item(r, "other-hypervisor")->level, ==, HGR_HOST_CHECK_OK);
    fake_host_clear(&h);
}

/* This machine, for real: a KVM that works is timed; below hardware speed
 * the report warns that KVM is emulated, with the figure. */
static void test_real_host(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        g_test_skip("SKIP: /dev/kvm cannot be opened here; the speed check needs KVM");
        return;
    }
    close(fd);
    HgrHostCheckOptions opts = { 0 };
    g_autoptr(HgrHostCheckReport) r = hgr_host_check_run(&opts);
    assert_complete(r);
    g_assert_cmpint(item(r, "kvm-device")->level, ==, HGR_HOST_CHECK_OK);
    g_assert_cmpint(item(r, "kvm-access")->level, ==, HGR_HOST_CHECK_OK);
    g_assert_cmpfloat(r->kvm_loops_per_sec, >, 0);
    const HgrHostCheckItem *speed = item(r, "kvm-speed");
    g_test_message("kvm-speed: %.1f Mloops/s: %s", r->kvm_loops_per_sec / 1e6, speed->title);
    if (r->kvm_loops_per_sec < HGR_KVM_HARDWARE_LOOPS_PER_SEC) {
        g_assert_cmpint(speed->level, ==, HGR_HOST_CHECK_WARNING);
        g_assert_nonnull(strstr(speed->title, "emulated"));
        g_assert_nonnull(speed->fix);
        g_assert_cmpint(r->level, >=, HGR_HOST_CHECK_WARNING);
    } else {
        g_assert_cmpint(speed->level, ==, HGR_HOST_CHECK_OK);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/library/host-check/intel-disabled-in-firmware",
                    test_intel_disabled_in_firmware);
    g_test_add_func("/library/host-check/vm-without-nested", test_vm_without_nested);
    g_test_add_func("/library/host-check/software-kvm", test_software_kvm);
    g_test_add_func("/library/host-check/amd-module-missing", test_amd_module_missing);
    g_test_add_func("/library/host-check/intel-module-missing", test_intel_module_missing);
    g_test_add_func("/library/host-check/kvm-path-is-directory", test_kvm_path_is_directory);
    g_test_add_func("/library/host-check/kvm-path-is-regular-file",
                    test_kvm_path_is_regular_file);
    g_test_add_func("/library/host-check/kvm-access-denied", test_kvm_access_denied);
    g_test_add_func("/library/host-check/other-hypervisor", test_other_hypervisor);
    g_test_add_func("/library/host-check/no-other-hypervisor", test_no_other_hypervisor);
    g_test_add_func("/library/host-check/real-host", test_real_host);
    return g_test_run();
}
