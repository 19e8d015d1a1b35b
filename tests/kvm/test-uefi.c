/* test-uefi.c — OVMF (Debian's ovmf package) on Hangar's PC, on this host's
 * /dev/kvm.
 *
 * Everywhere: OVMF starts from its flash and keeps running. On a KVM that
 * emulates guest code (PVM here) it used to stop at its first instruction
 * that KVM's emulator lacks (`fwait` in SEC's FPU setup); Hangar now does
 * those few itself.
 * Where KVM runs guest code on hardware: OVMF reaches its boot manager and
 * the UEFI shell on the serial port, writes its variable store, sets a GOP
 * mode on the VGA (judged from a PNG by an independent decoder), and boots
 * a Linux kernel handed over through fw_cfg. On an emulating KVM these
 * cannot finish in a test's time (OVMF's SEC phase alone, decompressing
 * its firmware volume instruction by instruction, takes minutes): they
 * SKIP and say so. */
#include <glib.h>
#include <glib/gstdio.h>
#include <hangar/host.h>
#include <hangar/vm.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RUN_S       10      /* emulated KVM: how long OVMF must keep running */
#define DEADLINE_S  180     /* hardware KVM: time to reach the shell or the kernel */

static bool kvm_and_ovmf(void)
{
    const char *why = NULL;

    if (access("/dev/kvm", R_OK | W_OK) != 0)
        why = "SKIP: /dev/kvm is not available here (missing or no permission)";
    else if (access(HGR_OVMF_CODE_PATH, R_OK) != 0 || access(HGR_OVMF_VARS_PATH, R_OK) != 0)
        why = "SKIP: " HGR_OVMF_CODE_PATH " is missing (apt install ovmf)";
    if (why) {
        g_printerr("%s\n", why);
        g_test_skip(why);
    }
    return !why;
}

/* True when KVM runs guest code on hardware; otherwise SKIPs, loudly, with
 * the measured speed. */
static bool hardware_kvm(const char *what)
{
    HgrKvmSpeed speed;
    g_autoptr(GError) err = NULL;

    g_assert_true(hgr_kvm_measure_speed(NULL, &speed, &err));
    if (!speed.emulated)
        return true;
    g_autofree char *why = g_strdup_printf(
        "SKIP: %s needs KVM that runs guest code on hardware; this KVM emulates every "
        "guest instruction (%.1f M loop iterations/s, hardware does more than %.0f M): "
        "OVMF's SEC phase alone (decompressing its firmware volume) took 3.5 to 6 minutes "
        "here, PEI minutes more, and DXE and the boot manager would take far longer than a "
        "test may", what, speed.loops_per_sec / 1e6, HGR_KVM_HARDWARE_LOOPS_PER_SEC / 1e6);
    g_printerr("%s\n", why);
    g_test_skip(why);
    return false;
}

typedef struct {
    char *dir;
    char *nvram;
    int sv[2];              /* the guest's serial port is sv[1]; the test reads sv[0] */
    HgrVmConfig *config;
} Uefi;

static void uefi_init(Uefi *u)
{
    g_autoptr(GError) err = NULL;

    u->dir = g_dir_make_tmp("hangar-uefi-XXXXXX", NULL);
    u->nvram = g_build_filename(u->dir, "nvram.fd", NULL);
    g_assert_true(hgr_firmware_reset_vars(u->nvram, &err));
    g_assert_no_error(err);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, u->sv), ==, 0);
    u->config = hgr_vm_config_new();
    u->config->memory_mib = 256;
    u->config->firmware = HGR_FIRMWARE_UEFI;
    u->config->nvram_path = g_strdup(u->nvram);
    u->config->serial = HGR_SERIAL_FD;
    u->config->serial_fd = u->sv[1];
}

static void uefi_clear(Uefi *u)
{
    g_autoptr(GDir) d = g_dir_open(u->dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(u->dir, name, NULL);
        g_unlink(p);
    }
    g_rmdir(u->dir);
    close(u->sv[0]);
    close(u->sv[1]);
    hgr_vm_config_free(u->config);
    g_free(u->dir);
    g_free(u->nvram);
}

/* Reads the serial port until `want` appears or the deadline passes. */
static GString *read_until(int fd, const char *want, gint64 deadline)
{
    GString *out = g_string_new(NULL);
    char buf[512];

    while (g_get_monotonic_time() < deadline && !strstr(out->str, want)) {
        GPollFD p = { .fd = fd, .events = G_IO_IN };
        if (g_poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        g_string_append_len(out, buf, n);
    }
    return out;
}

static void test_keeps_running(void)
{
    if (!kvm_and_ovmf())
        return;
    Uefi u;
    g_autoptr(GError) err = NULL;

    uefi_init(&u);
    g_autoptr(HgrVm) vm = hgr_vm_new(u.config, &err);
    g_assert_no_error(err);
    g_assert_true(hgr_vm_start(vm, &err));
    gint64 end = g_get_monotonic_time() + RUN_S * G_TIME_SPAN_SECOND;
    while (g_get_monotonic_time() < end && hgr_vm_get_state(vm) == HGR_VM_STATE_RUNNING)
        g_usleep(100 * 1000);
    HgrVmState st = hgr_vm_get_state(vm);
    if (st == HGR_VM_STATE_FAILED)
        g_error("OVMF stopped: %s", hgr_vm_failure(vm));
    /* It may have got far on fast hardware, but never off the rails. */
    g_assert_true(st == HGR_VM_STATE_RUNNING || st == HGR_VM_STATE_POWERED_OFF);
    hgr_vm_stop(vm);
    g_clear_pointer(&vm, hgr_vm_free);
    uefi_clear(&u);
}

/* The FPU and SSE control instructions OVMF starts with come out as on
 * hardware, whether the CPU runs them or Hangar does them for a KVM that
 * cannot (fpu-control.c prints what it got). */
static void test_fpu_control(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        g_test_skip("SKIP: /dev/kvm is not available here");
        return;
    }
    const char *dir = g_getenv("HANGAR_KVM_GUESTS");
    int sv[2];
    g_autoptr(GError) err = NULL;
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    c->flat_image = g_build_filename(dir ? dir : ".", "fpu-control.bin", NULL);
    c->flat_addr = 0x100000;
    c->flat_64bit = true;
    c->memory_mib = 64;
    c->serial = HGR_SERIAL_FD;
    c->serial_fd = sv[1];
    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    g_assert_true(hgr_vm_start(vm, &err));
    HgrVmState end = hgr_vm_wait(vm);
    g_clear_pointer(&vm, hgr_vm_free);
    g_autoptr(GString) out = read_until(sv[0], "mxcsr", g_get_monotonic_time() + G_TIME_SPAN_SECOND);
    g_test_message("guest says:\n%s", out->str);
    g_assert_cmpstr(hgr_vm_state_name(end), ==, "powered off");
    g_assert_nonnull(strstr(out->str, "fcw 027f\n"));
    g_assert_nonnull(strstr(out->str, "mxcsr 00007f80 00007f80\n"));
    close(sv[0]);
    close(sv[1]);
}

static void png_stats(const char *png, unsigned rows, unsigned *w, unsigned *h, unsigned *lit)
{
    g_autoptr(GError) err = NULL;
    const char *judge = g_getenv("HANGAR_PNG_STATS");
    g_autofree char *nrows = g_strdup_printf("%u", rows);
    const char *argv[] = { "python3", judge, png, nrows, NULL };
    g_autofree char *out = NULL;
    gint status = -1;

    g_assert_nonnull(judge);
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, NULL, &status, &err));
    g_assert_no_error(err);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpint(sscanf(out, "%u %u %u", w, h, lit), ==, 3);
}

/* No boot device: OVMF's boot manager falls through to the UEFI shell. */
static void test_reaches_shell(void)
{
    if (!kvm_and_ovmf() || !hardware_kvm("OVMF reaching the UEFI shell"))
        return;
    Uefi u;
    g_autoptr(GError) err = NULL;

    uefi_init(&u);
    g_autoptr(HgrVm) vm = hgr_vm_new(u.config, &err);
    g_assert_no_error(err);
    gint64 t0 = g_get_monotonic_time();
    g_assert_true(hgr_vm_start(vm, &err));
    g_autoptr(GString) out = read_until(u.sv[0], "Shell>",
                                        t0 + DEADLINE_S * G_TIME_SPAN_SECOND);
    g_test_message("OVMF reached the shell in %.1f s", (g_get_monotonic_time() - t0) / 1e6);
    if (!strstr(out->str, "UEFI Interactive Shell")) {
        hgr_vm_stop(vm);
        g_error("no UEFI shell on the serial port (state %s %s); output:\n%s",
                hgr_vm_state_name(hgr_vm_get_state(vm)),
                hgr_vm_failure(vm) ? hgr_vm_failure(vm) : "", out->str);
    }
    /* GOP set a graphics mode on the VGA, and the shell drew on it. */
    g_autofree char *png = g_build_filename(u.dir, "screen.png", NULL);
    g_assert_true(hgr_vm_screenshot(vm, png, &err));
    g_assert_no_error(err);
    unsigned w, h, lit;
    png_stats(png, 64, &w, &h, &lit);
    g_test_message("GOP mode %ux%u, %u lit pixels in the top 64 rows", w, h, lit);
    g_assert_cmpuint(w, >=, 640);
    g_assert_cmpuint(h, >=, 480);
    g_assert_cmpuint(lit, >, 200);
    hgr_vm_stop(vm);
    g_clear_pointer(&vm, hgr_vm_free);

    /* OVMF wrote its boot entries to the VM's own store, and only there. */
    g_autofree char *mine = NULL, *tmpl = NULL;
    gsize mine_len, tmpl_len;
    g_assert_true(g_file_get_contents(u.nvram, &mine, &mine_len, NULL));
    g_assert_true(g_file_get_contents(HGR_OVMF_VARS_PATH, &tmpl, &tmpl_len, NULL));
    g_assert_cmpuint(mine_len, ==, tmpl_len);
    g_assert_true(memcmp(mine, tmpl, tmpl_len) != 0);
    uefi_clear(&u);
}

/* -kernel the QEMU way: OVMF loads the kernel's EFI stub from fw_cfg. */
static void test_direct_kernel(void)
{
    if (!kvm_and_ovmf() || !hardware_kvm("OVMF booting a kernel from fw_cfg"))
        return;
    g_autoptr(GDir) boot = g_dir_open("/boot", 0, NULL);
    g_autofree char *kernel = NULL;
    const char *name;
    while (boot && (name = g_dir_read_name(boot)))
        if (g_str_has_prefix(name, "vmlinuz-") && !kernel)
            kernel = g_build_filename("/boot", name, NULL);
    if (!kernel) {
        g_printerr("SKIP: no /boot/vmlinuz-* (apt install linux-image-amd64)\n");
        g_test_skip("SKIP: no /boot/vmlinuz-* (apt install linux-image-amd64)");
        return;
    }
    Uefi u;
    g_autoptr(GError) err = NULL;

    uefi_init(&u);
    u.config->kernel = g_strdup(kernel);
    u.config->cmdline = g_strdup("console=ttyS0 panic=-1 hangar-uefi-test");
    g_autoptr(HgrVm) vm = hgr_vm_new(u.config, &err);
    g_assert_no_error(err);
    gint64 t0 = g_get_monotonic_time();
    g_assert_true(hgr_vm_start(vm, &err));
    /* The kernel echoes its command line: proof it came through fw_cfg. */
    g_autoptr(GString) out = read_until(u.sv[0], "hangar-uefi-test",
                                        t0 + DEADLINE_S * G_TIME_SPAN_SECOND);
    g_test_message("OVMF started the kernel in %.1f s", (g_get_monotonic_time() - t0) / 1e6);
    hgr_vm_stop(vm);
    if (!strstr(out->str, "Linux version") || !strstr(out->str, "hangar-uefi-test"))
        g_error("the kernel never spoke on the serial port; output:\n%s", out->str);
    g_clear_pointer(&vm, hgr_vm_free);
    uefi_clear(&u);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/uefi/fpu-control-instructions", test_fpu_control);
    g_test_add_func("/kvm/uefi/keeps-running", test_keeps_running);
    g_test_add_func("/kvm/uefi/reaches-shell", test_reaches_shell);
    g_test_add_func("/kvm/uefi/direct-kernel", test_direct_kernel);
    return g_test_run();
}
