/* seabios-lib.h — what the kvm tier's SeaBIOS tests share (test-firmware.c,
 * test-cdrom-change.c): the checks that skip loudly, a VM whose serial port
 * the test reads, reading it until words appear, the tests' guest programs,
 * and an El Torito ISO made by xorriso. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <hangar/vm.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEADLINE_S 60

static inline bool kvm_available(void)
{
    if (access("/dev/kvm", R_OK | W_OK) == 0)
        return true;
    g_test_skip("SKIP: /dev/kvm is not available here (missing or no permission)");
    return false;
}

static inline bool seabios_available(void)
{
    if (access(HGR_SEABIOS_PATH, R_OK) == 0)
        return true;
    g_test_skip("SKIP: " HGR_SEABIOS_PATH " is missing (the seabios package)");
    return false;
}

/* Waits up to 200 ms for serial output and appends it to out; false at
 * the end of the stream. */
static inline bool read_more(int fd, GString *out)
{
    char buf[512];
    GPollFD p = { .fd = fd, .events = G_IO_IN };

    if (g_poll(&p, 1, 200) <= 0)
        return true;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0)
        return false;
    g_string_append_len(out, buf, n);
    return true;
}

/* Reads the serial port until every string in want has appeared, or the
 * deadline passes; returns everything read. */
static inline GString *read_until(int fd, const char *const *want, gint64 deadline)
{
    GString *out = g_string_new(NULL);

    while (g_get_monotonic_time() < deadline) {
        bool all = true;
        for (const char *const *w = want; *w; w++)
            all = all && strstr(out->str, *w);
        if (all || !read_more(fd, out))
            break;
    }
    return out;
}

/* A 128 MiB SeaBIOS VM whose serial port is sv[1]; the test reads sv[0]. */
static inline HgrVmConfig *bios_config(int sv[2])
{
    HgrVmConfig *c = hgr_vm_config_new();

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    c->memory_mib = 128;
    c->firmware = HGR_FIRMWARE_BIOS;
    c->serial = HGR_SERIAL_FD;
    c->serial_fd = sv[1];
    return c;
}

static inline char *guest_path(const char *name)
{
    const char *dir = g_getenv("HANGAR_KVM_GUESTS");
    return g_build_filename(dir ? dir : ".", name, NULL);
}

/* tmp/name: an ISO whose no-emulation El Torito image is boot (one 2 KiB
 * sector), made by xorriso; NULL (the test skipped) without xorriso. */
static inline char *make_boot_iso(const char *tmp, const char *name, const char *boot,
                                  gsize len)
{
    g_autofree char *xorriso = g_find_program_in_path("xorriso");

    if (!xorriso) {
        g_printerr("SKIP: xorriso is missing (apt install xorriso): no CD boot test\n");
        g_test_skip("SKIP: xorriso is missing (apt install xorriso)");
        return NULL;
    }
    g_autofree char *root = g_build_filename(tmp, "iso-root", NULL);
    g_autofree char *boot_bin = g_build_filename(root, "boot.bin", NULL);
    g_assert_cmpint(g_mkdir(root, 0700), ==, 0);
    g_assert_true(g_file_set_contents(boot_bin, boot, len, NULL));
    char *iso = g_build_filename(tmp, name, NULL);
    const char *argv[] = { xorriso, "-as", "mkisofs", "-quiet", "-o", iso, "-b", "boot.bin",
                           "-no-emul-boot", "-boot-load-size", "4", root, NULL };
    g_autofree char *err = NULL;
    int status;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                               NULL, NULL, &err, &status, NULL));
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("xorriso failed: %s", err);
    unlink(boot_bin);
    rmdir(root);
    return iso;
}
