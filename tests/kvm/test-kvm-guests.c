/* test-kvm-guests.c — tiny guests built by the tests run on /dev/kvm and
 * talk to Hangar's UART and virtio devices, reset and power off. */
#include <errno.h>
#include <glib.h>
#include <hangar/vm.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WATCHDOG_S 120

static char *guest_path(const char *name)
{
    const char *dir = g_getenv("HANGAR_KVM_GUESTS");
    return g_build_filename(dir ? dir : ".", name, NULL);
}

static bool kvm_available(void)
{
    if (access("/dev/kvm", R_OK | W_OK) == 0)
        return true;
    g_test_skip("SKIP: /dev/kvm is not available here (missing or no permission)");
    return false;
}

/* Stops a guest that runs too long, so a hang fails the test instead of
 * blocking the suite. */
typedef struct {
    HgrVm *vm;
    GMutex lock;
    GCond cond;
    bool done;
} Watchdog;

static gpointer watchdog(gpointer data)
{
    Watchdog *w = data;
    gint64 deadline = g_get_monotonic_time() + WATCHDOG_S * G_TIME_SPAN_SECOND;

    g_mutex_lock(&w->lock);
    while (!w->done)
        if (!g_cond_wait_until(&w->cond, &w->lock, deadline))
            break;
    bool fire = !w->done;
    g_mutex_unlock(&w->lock);
    if (fire) {
        g_printerr("watchdog: guest still running after %d s, stopping it\n", WATCHDOG_S);
        hgr_vm_stop(w->vm);
    }
    return NULL;
}

typedef struct {
    HgrVmState state;
    GString *serial;
    unsigned reboots;
} Run;

/* The host end of the guest's serial port: collects output and, once the
 * guest has printed `prompt`, types `input` (as a person would, after the
 * guest has set up its UART). */
typedef struct {
    int fd;
    const char *prompt;
    const char *input;
    GString *out;
} Terminal;

static gpointer terminal(gpointer data)
{
    Terminal *t = data;
    char buf[256];
    ssize_t n;
    bool typed = !t->input;

    while ((n = read(t->fd, buf, sizeof(buf))) > 0) {
        g_string_append_len(t->out, buf, n);
        if (!typed && strstr(t->out->str, t->prompt)) {
            g_assert_cmpint(write(t->fd, t->input, strlen(t->input)), ==,
                            (ssize_t)strlen(t->input));
            typed = true;
        }
    }
    return NULL;
}

/* Boots a flat image with COM1 on a socketpair; `input` is typed into the
 * guest's serial port after it prints `prompt`. */
static Run run_guest_with(const char *image, uint64_t addr, bool is64, unsigned cpus,
                          const char *prompt, const char *input, bool all_devices)
{
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);

    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    c->flat_image = guest_path(image);
    c->flat_addr = addr;
    c->flat_64bit = is64;
    c->cpus = cpus;
    c->memory_mib = 64;
    c->serial = HGR_SERIAL_FD;
    c->serial_fd = sv[0];
    g_autofree char *dir = NULL;
    if (all_devices) {
        /* Every device a VM can have: virtio, SATA and NVMe disks, a CD-ROM,
         * a NIC, a console. */
        dir = g_dir_make_tmp("hangar-kvm-XXXXXX", NULL);
        g_autofree char *disk = g_build_filename(dir, "disk.img", NULL);
        g_autofree char *disk2 = g_build_filename(dir, "sata.img", NULL);
        g_autofree char *disk3 = g_build_filename(dir, "nvme.img", NULL);
        g_autofree char *disk4 = g_build_filename(dir, "cd.iso", NULL);
        const char *all[] = { disk, disk2, disk3, disk4 };
        for (unsigned k = 0; k < G_N_ELEMENTS(all); k++) {
            g_assert_true(g_file_set_contents(all[k], "", 0, NULL));
            g_assert_cmpint(truncate(all[k], 1 << 20), ==, 0);
        }
        hgr_vm_config_add_disk(c, disk, HGR_DISK_FORMAT_RAW, false);
        hgr_vm_config_add_disk(c, disk2, HGR_DISK_FORMAT_RAW, false)->bus = HGR_DISK_BUS_SATA;
        hgr_vm_config_add_disk(c, disk3, HGR_DISK_FORMAT_RAW, false)->bus = HGR_DISK_BUS_NVME;
        c->cdrom = g_strdup(disk4);
        hgr_vm_config_add_net(c);
        c->console_path = g_build_filename(dir, "console.log", NULL);
    }

    g_autoptr(GError) error = NULL;
    g_autoptr(HgrVm) vm = hgr_vm_new(c, &error);
    g_assert_no_error(error);
    Terminal term = { .fd = sv[1], .prompt = prompt, .input = input, .out = g_string_new(NULL) };
    GThread *term_thread = g_thread_new("terminal", terminal, &term);
    g_assert_true(hgr_vm_start(vm, &error));

    Watchdog w = { .vm = vm };
    g_mutex_init(&w.lock);
    g_cond_init(&w.cond);
    GThread *t = g_thread_new("watchdog", watchdog, &w);
    Run r = { .state = hgr_vm_wait(vm), .reboots = hgr_vm_reboot_count(vm) };
    g_mutex_lock(&w.lock);
    w.done = true;
    g_cond_signal(&w.cond);
    g_mutex_unlock(&w.lock);
    g_thread_join(t);
    g_mutex_clear(&w.lock);
    g_cond_clear(&w.cond);

    g_clear_pointer(&vm, hgr_vm_free);        /* flushes and closes the serial port */
    g_thread_join(term_thread);
    close(sv[1]);
    r.serial = term.out;
    if (dir) {
        const char *names[] = { "disk.img", "sata.img", "nvme.img", "cd.iso" };
        for (unsigned k = 0; k < G_N_ELEMENTS(names); k++) {
            g_autofree char *f = g_build_filename(dir, names[k], NULL);
            unlink(f);
        }
        unlink(c->console_path);
        rmdir(dir);
    }
    g_test_message("guest serial output:\n%s", r.serial->str);
    return r;
}

static Run run_guest(const char *image, uint64_t addr, bool is64, unsigned cpus,
                     const char *prompt, const char *input)
{
    return run_guest_with(image, addr, is64, cpus, prompt, input, false);
}

static void test_real_mode_uart_reset(void)
{
    if (!kvm_available())
        return;
    Run r = run_guest("real-mode-uart.bin", 0x10000, false, 1, "hello\n", "abcd");
    g_assert_cmpstr(hgr_vm_state_name(r.state), ==, "powered off");
    g_assert_nonnull(strstr(r.serial->str, "real mode: hello\n"));
    g_assert_nonnull(strstr(r.serial->str, "ABCD\n"));            /* our input, echoed */
    g_assert_nonnull(strstr(r.serial->str, "real mode: after reset\n"));
    g_assert_cmpuint(r.reboots, ==, 1);
    g_string_free(r.serial, TRUE);
}

static void test_virtio_rng_64bit(void)
{
    if (!kvm_available())
        return;
    Run r = run_guest("virtio-rng.bin", 0x100000, true, 2, NULL, NULL);
    g_assert_cmpstr(hgr_vm_state_name(r.state), ==, "powered off");
    g_assert_null(strstr(r.serial->str, "FAIL"));
    /* 32 bytes written (0x20), and random bytes are not all zero. */
    g_assert_nonnull(strstr(r.serial->str, "virtio-rng: 20 bytes, "));
    g_assert_null(strstr(r.serial->str, " 00 nonzero"));
    g_string_free(r.serial, TRUE);
}

static size_t wait_for_output(GString *out, GMutex *lock, const char *needle, gint64 deadline)
{
    for (;;) {
        g_mutex_lock(lock);
        bool seen = strstr(out->str, needle) != NULL;
        size_t len = out->len;
        g_mutex_unlock(lock);
        if (seen || g_get_monotonic_time() > deadline)
            return seen ? len : 0;
        g_usleep(20000);
    }
}

typedef struct {
    int fd;
    GString *out;
    GMutex lock;
} Reader;

static gpointer reader(gpointer data)
{
    Reader *r = data;
    char buf[256];
    ssize_t n;

    while ((n = read(r->fd, buf, sizeof(buf))) > 0) {
        g_mutex_lock(&r->lock);
        g_string_append_len(r->out, buf, n);
        g_mutex_unlock(&r->lock);
    }
    return NULL;
}

static size_t output_len(Reader *r)
{
    g_mutex_lock(&r->lock);
    size_t n = r->out->len;
    g_mutex_unlock(&r->lock);
    return n;
}

/* The lifecycle a user drives: pause stops the guest (no output at all while
 * paused), resume lets it go on where it was, reset starts it over, stop
 * ends it; and calls that make no sense in a state are refused. */
static void test_pause_resume_reset(void)
{
    if (!kvm_available())
        return;
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    c->flat_image = guest_path("ticker.bin");
    c->flat_addr = 0x100000;
    c->flat_64bit = true;
    c->cpus = 2;
    c->memory_mib = 64;
    c->serial = HGR_SERIAL_FD;
    c->serial_fd = sv[0];
    g_autoptr(GError) err = NULL;
    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    Reader r = { .fd = sv[1], .out = g_string_new(NULL) };
    g_mutex_init(&r.lock);
    GThread *t = g_thread_new("reader", reader, &r);

    g_assert_false(hgr_vm_resume(vm, &err));          /* not started: refused */
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE_INVALID);
    g_clear_error(&err);
    g_assert_true(hgr_vm_start(vm, &err));
    gint64 deadline = g_get_monotonic_time() + 60 * G_TIME_SPAN_SECOND;
    g_assert_cmpuint(wait_for_output(r.out, &r.lock, "tick 00000002", deadline), >, 0);

    g_assert_true(hgr_vm_pause(vm, &err));
    g_assert_cmpint(hgr_vm_get_state(vm), ==, HGR_VM_STATE_PAUSED);
    g_assert_false(hgr_vm_pause(vm, &err));           /* already paused */
    g_clear_error(&err);
    g_usleep(300000);                                   /* what was queued drains */
    size_t frozen = output_len(&r);
    g_usleep(700000);
    g_assert_cmpuint(output_len(&r), ==, frozen);      /* a paused guest does nothing */

    g_assert_true(hgr_vm_resume(vm, &err));
    g_assert_cmpint(hgr_vm_get_state(vm), ==, HGR_VM_STATE_RUNNING);
    deadline = g_get_monotonic_time() + 60 * G_TIME_SPAN_SECOND;
    g_assert_cmpuint(wait_for_output(r.out, &r.lock, "tick 00000006", deadline), >, 0);
    g_mutex_lock(&r.lock);
    g_assert_null(strstr(r.out->str, "boot 02"));      /* resumed, not restarted */
    g_mutex_unlock(&r.lock);

    g_assert_true(hgr_vm_reset(vm, &err));
    deadline = g_get_monotonic_time() + 60 * G_TIME_SPAN_SECOND;
    g_assert_cmpuint(wait_for_output(r.out, &r.lock, "boot 02", deadline), >, 0);
    g_assert_cmpint(hgr_vm_get_state(vm), ==, HGR_VM_STATE_RUNNING);

    hgr_vm_stop(vm);
    g_assert_cmpint(hgr_vm_wait(vm), ==, HGR_VM_STATE_STOPPED);
    g_assert_false(hgr_vm_resume(vm, &err));          /* stopped for good */
    g_clear_error(&err);
    g_clear_pointer(&vm, hgr_vm_free);                 /* closes the serial port */
    g_thread_join(t);
    close(sv[1]);
    g_string_free(r.out, TRUE);
    g_mutex_clear(&r.lock);
}

/* Keys typed on the console reach the guest's keyboard controller as the
 * scan codes a PC keyboard sends: 'A' (evdev 30) press and release, then
 * Right Ctrl (evdev 97), an extended key, as E0 1D / E0 9D in set 1. */
static void test_keyboard_input(void)
{
    if (!kvm_available())
        return;
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    c->flat_image = guest_path("keyboard.bin");
    c->flat_addr = 0x100000;
    c->flat_64bit = true;
    c->memory_mib = 64;
    c->serial = HGR_SERIAL_FD;
    c->serial_fd = sv[0];
    g_autoptr(GError) err = NULL;
    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    Reader r = { .fd = sv[1], .out = g_string_new(NULL) };
    g_mutex_init(&r.lock);
    GThread *t = g_thread_new("reader", reader, &r);
    g_assert_true(hgr_vm_start(vm, &err));
    gint64 deadline = g_get_monotonic_time() + 60 * G_TIME_SPAN_SECOND;
    g_assert_cmpuint(wait_for_output(r.out, &r.lock, "keyboard: ready", deadline), >, 0);
    hgr_vm_input_key(vm, 30, true);
    hgr_vm_input_key(vm, 30, false);
    hgr_vm_input_key(vm, 97, true);
    g_assert_cmpint(hgr_vm_wait(vm), ==, HGR_VM_STATE_POWERED_OFF);
    g_clear_pointer(&vm, hgr_vm_free);
    g_thread_join(t);
    close(sv[1]);
    g_test_message("guest saw:\n%s", r.out->str);
    g_assert_nonnull(strstr(r.out->str, "scan 1e\nscan 9e\nscan e0\nscan 1d\n"));
    g_assert_nonnull(strstr(r.out->str, "keyboard: done"));
    g_string_free(r.out, TRUE);
    g_mutex_clear(&r.lock);
}

/* Nothing a guest does may crash Hangar: after a barrage of random device
 * accesses the VMM is alive, the guest still runs, and it powers off. */
static void test_chaos(void)
{
    if (!kvm_available())
        return;
    Run r = run_guest_with("chaos.bin", 0x100000, true, 2, NULL, NULL, true);
    g_assert_nonnull(strstr(r.serial->str, "chaos: start"));
    g_assert_nonnull(strstr(r.serial->str, "chaos: done"));
    g_assert_cmpstr(hgr_vm_state_name(r.state), ==, "powered off");
    g_string_free(r.serial, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A misbehaving guest earns a (rate-limited) warning; only criticals,
     * which mean a bug in Hangar, stop the test. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    g_test_add_func("/kvm/real-mode/uart-echo-reset-poweroff", test_real_mode_uart_reset);
    g_test_add_func("/kvm/long-mode/virtio-rng-through-pci", test_virtio_rng_64bit);
    g_test_add_func("/kvm/long-mode/chaos-guest-cannot-crash-the-vmm", test_chaos);
    g_test_add_func("/kvm/lifecycle/pause-resume-reset-stop", test_pause_resume_reset);
    g_test_add_func("/kvm/input/keys-reach-the-ps2-keyboard", test_keyboard_input);
    return g_test_run();
}
