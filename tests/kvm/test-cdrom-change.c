/* test-cdrom-change.c — changing the disc of a running VM, on /dev/kvm with
 * SeaBIOS: what the firmware boots after a reset is what is in the drive.
 * The discs are ISOs made by xorriso around tests/kvm's cd-boot.bin, whose
 * message is patched per disc ("disc1", "disc2") and whose power-off is
 * patched into a halt, so the VM stays up for the next change. */
#include <glib.h>
#include <glib/gstdio.h>
#include <hangar/vm.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "seabios-lib.h"

#define HELLO "CD: hello from the El Torito "
/* cd-boot.S's power-off: mov $0x604,%dx; mov $0x3400,%ax; out %ax,%dx */
static const char poweroff[] = "\xba\x04\x06\xb8\x00\x34\xef";
#define HLT 0xf4

/* cd-boot.bin with "image" in its message replaced by label (5 letters),
 * halting instead of powering off, as tmp/<label>.iso. */
static char *make_disc(const char *tmp, const char *label)
{
    g_autofree char *bin = guest_path("cd-boot.bin");
    g_autofree char *cd = NULL;
    gsize len = 0;

    g_assert_true(g_file_get_contents(bin, &cd, &len, NULL));
    g_assert_cmpuint(len, ==, 2048);
    g_assert_cmpuint(strlen(label), ==, 5);
    char *msg = memmem(cd, len, HELLO "image", strlen(HELLO "image"));
    char *off = memmem(cd, len, poweroff, sizeof(poweroff) - 1);
    g_assert_nonnull(msg);
    g_assert_nonnull(off);
    memcpy(msg + strlen(HELLO), label, 5);
    off[sizeof(poweroff) - 2] = (char)HLT;
    g_autofree char *name = g_strconcat(label, ".iso", NULL);
    return make_boot_iso(tmp, name, cd, len);
}

/* Reads the serial port into out until needle appears after mark. */
static void wait_for(int fd, GString *out, gsize mark, const char *needle)
{
    gint64 deadline = g_get_monotonic_time() + DEADLINE_S * G_TIME_SPAN_SECOND;

    while (!strstr(out->str + mark, needle) && g_get_monotonic_time() < deadline)
        if (!read_more(fd, out))
            break;
    if (!strstr(out->str + mark, needle))
        g_error("never saw \"%s\"; serial output since the last step:\n%s", needle,
                out->str + mark);
}

static void expect_refused(HgrVm *vm, const char *path, const char *why)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(hgr_vm_change_cdrom(vm, path, false, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_DISK);
    g_test_message("%s: %s", path, err->message);
    g_assert_nonnull(strstr(err->message, path));    /* names the file */
    g_assert_nonnull(strstr(err->message, why));
}

/* Resets the VM and returns where the output of the new boot starts. */
static gsize reset(HgrVm *vm, GString *out)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(hgr_vm_reset(vm, &err));
    g_assert_no_error(err);
    return out->len;
}

static void remove_tree(const char *dir)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    g_assert_cmpint(system(cmd), ==, 0);
}

static void test_change_while_running(void)
{
    if (!kvm_available() || !seabios_available())
        return;
    g_autofree char *tmp = g_dir_make_tmp("hangar-cd-XXXXXX", NULL);
    g_autofree char *disc1 = make_disc(tmp, "disc1");
    g_autofree char *disc2 = disc1 ? make_disc(tmp, "disc2") : NULL;
    if (!disc2) {
        remove_tree(tmp);
        return;
    }
    g_autofree char *missing = g_build_filename(tmp, "missing.iso", NULL);
    g_autofree char *folder = g_build_filename(tmp, "folder.iso", NULL);
    g_autofree char *not_iso = g_build_filename(tmp, "zeros.iso", NULL);
    g_autofree char *zeros = g_malloc0(1 << 20);
    g_assert_cmpint(g_mkdir(folder, 0700), ==, 0);
    g_assert_true(g_file_set_contents(not_iso, zeros, 1 << 20, NULL));

    int sv[2];
    g_autoptr(HgrVmConfig) c = bios_config(sv);
    g_autoptr(GError) err = NULL;
    c->boot = HGR_BOOT_CDROM;
    c->cdrom = g_strdup(disc1);
    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    g_assert_true(hgr_vm_has_cdrom_drive(vm));
    g_assert_true(hgr_vm_start(vm, &err));
    g_autoptr(GString) out = g_string_new(NULL);
    wait_for(sv[0], out, 0, HELLO "disc1");

    /* Swapped while the guest runs; the refused changes leave disc 2 in. */
    g_assert_true(hgr_vm_change_cdrom(vm, disc2, false, &err));
    g_assert_no_error(err);
    expect_refused(vm, missing, "no such file");
    expect_refused(vm, folder, "directory");
    expect_refused(vm, not_iso, "not a CD/DVD image");
    gsize mark = reset(vm, out);
    wait_for(sv[0], out, mark, HELLO "disc2");
    g_assert_null(strstr(out->str + mark, HELLO "disc1"));

    /* Ejected while paused: the firmware finds the drive empty. */
    g_assert_true(hgr_vm_pause(vm, &err));
    g_assert_true(hgr_vm_change_cdrom(vm, NULL, false, &err));
    g_assert_no_error(err);
    g_assert_true(hgr_vm_resume(vm, &err));
    mark = reset(vm, out);
    wait_for(sv[0], out, mark, "No bootable device");
    g_assert_null(strstr(out->str + mark, HELLO));

    /* Put back while SeaBIOS waits for a bootable device. */
    g_assert_true(hgr_vm_change_cdrom(vm, disc1, false, &err));
    g_assert_no_error(err);
    mark = reset(vm, out);
    wait_for(sv[0], out, mark, HELLO "disc1");
    g_assert_null(strstr(out->str + mark, HELLO "disc2"));
    g_assert_cmpint(hgr_vm_get_state(vm), ==, HGR_VM_STATE_RUNNING);

    hgr_vm_stop(vm);
    g_assert_false(hgr_vm_change_cdrom(vm, disc2, false, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE_INVALID);
    close(sv[0]);
    g_clear_pointer(&vm, hgr_vm_free);
    remove_tree(tmp);
}

/* A file vmm-core takes for a disc of n 2 KiB sectors: an ISO 9660
 * volume descriptor at 32 KiB (nothing boots from it). */
static char *make_plain_disc(const char *tmp, const char *name, unsigned sectors)
{
    g_autofree char *data = g_malloc0((gsize)sectors * 2048);
    char *path = g_build_filename(tmp, name, NULL);

    memcpy(data + 16 * 2048, "\001CD001\001", 7);
    g_assert_true(g_file_set_contents(path, data, (gssize)sectors * 2048, NULL));
    return path;
}

static void expect_locked(HgrVm *vm, const char *path)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(hgr_vm_change_cdrom(vm, path, false, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_MEDIA_LOCKED);
    g_assert_nonnull(strstr(err->message, "locked"));
    g_assert_nonnull(strstr(err->message, "force"));
}

/* cd-lock.bin drives the drive through AHCI as an OS would and locks its
 * tray: a change is refused (the disc stays, as the guest reads after a
 * reset) unless forced, and a forced one is what the guest then sees:
 * no disc (NOT READY), a new disc (UNIT ATTENTION, then its capacity). */
static void test_locked_tray(void)
{
    if (!kvm_available())
        return;
    g_autofree char *tmp = g_dir_make_tmp("hangar-cd-XXXXXX", NULL);
    g_autofree char *small = make_plain_disc(tmp, "small.iso", 32);     /* last LBA 0x1f */
    g_autofree char *big = make_plain_disc(tmp, "big.iso", 64);         /* 0x3f */
    int sv[2];
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    c->memory_mib = 64;
    c->serial = HGR_SERIAL_FD;
    c->serial_fd = sv[1];
    c->flat_image = guest_path("cd-lock.bin");
    c->flat_addr = 0x100000;
    c->flat_64bit = true;
    c->cdrom = g_strdup(small);
    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    g_assert_true(hgr_vm_start(vm, &err));
    g_autoptr(GString) out = g_string_new(NULL);
    wait_for(sv[0], out, 0, "cd-lock: locked");
    wait_for(sv[0], out, 0, "cap 0000001f");

    /* Refused while locked, eject and swap alike; after a reset (which
     * unlocks the tray) the guest still finds the small disc. */
    expect_locked(vm, NULL);
    expect_locked(vm, big);
    gsize mark = reset(vm, out);
    wait_for(sv[0], out, mark, "cd-lock: start");
    wait_for(sv[0], out, mark, "cd-lock: locked");
    wait_for(sv[0], out, mark, "cap 0000001f");
    g_assert_null(strstr(out->str + mark, "cap 0000003f"));

    /* Forced: the guest sees the drive empty, then the big disc. */
    mark = out->len;
    g_assert_true(hgr_vm_change_cdrom(vm, NULL, true, &err));
    g_assert_no_error(err);
    wait_for(sv[0], out, mark, "tur 2");
    mark = out->len;
    g_assert_true(hgr_vm_change_cdrom(vm, big, true, &err));
    g_assert_no_error(err);
    wait_for(sv[0], out, mark, "tur 6");
    wait_for(sv[0], out, mark, "cap 0000003f");
    g_assert_cmpint(hgr_vm_get_state(vm), ==, HGR_VM_STATE_RUNNING);
    g_autofree char *seen = g_strdelimit(g_strdup(out->str), "\n", ' ');
    g_test_message("what the guest saw: %s", seen);

    hgr_vm_stop(vm);
    close(sv[0]);
    g_clear_pointer(&vm, hgr_vm_free);
    remove_tree(tmp);
}

/* A VM made without a drive says so; one made with an empty drive takes a
 * disc (and gives it back) before it starts. */
static void test_drive_needed(void)
{
    if (!kvm_available() || !seabios_available())
        return;
    g_autofree char *tmp = g_dir_make_tmp("hangar-cd-XXXXXX", NULL);
    g_autofree char *disc = make_disc(tmp, "disc1");
    if (!disc) {
        remove_tree(tmp);
        return;
    }
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    g_autoptr(GError) err = NULL;
    c->memory_mib = 128;
    c->firmware = HGR_FIRMWARE_BIOS;
    c->serial = HGR_SERIAL_NONE;

    g_autoptr(HgrVm) bare = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    g_assert_false(hgr_vm_has_cdrom_drive(bare));
    g_assert_false(hgr_vm_change_cdrom(bare, disc, false, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG);
    g_assert_nonnull(strstr(err->message, "no CD/DVD drive"));
    g_clear_error(&err);
    g_clear_pointer(&bare, hgr_vm_free);

    c->cdrom_drive = true;
    g_autoptr(HgrVm) empty = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    g_assert_true(hgr_vm_has_cdrom_drive(empty));
    g_assert_true(hgr_vm_change_cdrom(empty, disc, false, &err));
    g_assert_no_error(err);
    g_assert_true(hgr_vm_change_cdrom(empty, NULL, false, &err));
    g_assert_no_error(err);
    g_clear_pointer(&empty, hgr_vm_free);
    remove_tree(tmp);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/cdrom/change-while-running", test_change_while_running);
    g_test_add_func("/kvm/cdrom/drive-needed", test_drive_needed);
    g_test_add_func("/kvm/cdrom/locked-tray", test_locked_tray);
    return g_test_run();
}
