/* test-firmware.c — SeaBIOS (Debian's seabios package) on Hangar's PC, on
 * this host's /dev/kvm: it finds fw_cfg, sets up PCI through the q35 host
 * bridge and shows its screen on the serial port (etc/sercon-port). */
#include <glib.h>
#include <glib/gstdio.h>
#include <hangar/vm.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "seabios-lib.h"

static void test_banner(void)
{
    if (!kvm_available() || !seabios_available())
        return;
    int sv[2];
    g_autoptr(HgrVmConfig) c = bios_config(sv);
    g_autoptr(GError) err = NULL;

    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    gint64 t0 = g_get_monotonic_time();
    g_assert_true(hgr_vm_start(vm, &err));
    /* The banner, then the boot attempts: SeaBIOS ran through POST. */
    const char *want[] = { "SeaBIOS (version", "Booting from ", NULL };
    g_autoptr(GString) out = read_until(sv[0], want, t0 + DEADLINE_S * G_TIME_SPAN_SECOND);
    g_test_message("SeaBIOS reached its boot attempts in %.1f s",
                   (g_get_monotonic_time() - t0) / 1e6);
    g_assert_cmpint(hgr_vm_get_state(vm), ==, HGR_VM_STATE_RUNNING);
    hgr_vm_stop(vm);
    for (const char *const *w = want; *w; w++)
        if (!strstr(out->str, *w))
            g_error("SeaBIOS never printed \"%s\"; serial output:\n%s", *w, out->str);
    close(sv[0]);
    close(sv[1]);
}

/* The firmware hands over to a boot loader: SeaBIOS loads the boot sector
 * of a virtio disk (a raw image the test makes from a boot sector it built),
 * which prints and powers the VM off. */
/* Width, height, and how many pixels of the first `rows` rows differ from
 * pixel (0,0), by png-stats.py (a decoder that is not Hangar's). */
static void png_stats(const char *png, unsigned rows, unsigned *w, unsigned *h, unsigned *lit)
{
    g_autoptr(GError) err = NULL;
    const char *judge = g_getenv("HANGAR_PNG_STATS");
    g_assert_nonnull(judge);
    g_autofree char *nrows = g_strdup_printf("%u", rows);
    const char *argv[] = { "python3", judge, png, nrows, NULL };
    g_autofree char *out = NULL;
    gint status = -1;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, NULL, &status, &err));
    g_assert_no_error(err);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpint(sscanf(out, "%u %u %u", w, h, lit), ==, 3);
}

/* What the firmware showed on the VGA screen (text mode, with the VGA BIOS
 * from the seabios package), as a PNG judged by an independent decoder:
 * an 80x25 text screen whose first row (SeaBIOS's banner) has text on it. */
static void check_screen(HgrVm *vm, const char *tmp)
{
    g_autofree char *png = g_build_filename(tmp, "screen.png", NULL);
    g_autoptr(GError) err = NULL;

    if (access("/usr/share/seabios/vgabios-stdvga.bin", R_OK) != 0) {
        g_test_message("SKIP screen check: vgabios-stdvga.bin missing (seabios package)");
        return;
    }
    g_assert_true(hgr_vm_screenshot(vm, png, &err));
    g_assert_no_error(err);
    unsigned w, h, lit;
    png_stats(png, 16, &w, &h, &lit);
    g_test_message("screen %ux%u, %u lit pixels in the first text row", w, h, lit);
    g_assert_cmpuint(w, ==, 80 * 8);              /* 80 columns of 8-pixel cells */
    g_assert_cmpuint(h, ==, 25 * 16);             /* 25 rows of 16-pixel glyphs */
    g_assert_cmpuint(lit, >, 200);                /* "SeaBIOS (version ...)" */
    unlink(png);
}

static void test_boot_sector(void)
{
    if (!kvm_available() || !seabios_available())
        return;
    const char *dir = g_getenv("HANGAR_KVM_GUESTS");
    g_autofree char *mbr_path = g_build_filename(dir ? dir : ".", "boot-sector.bin", NULL);
    g_autofree char *mbr = NULL;
    gsize mbr_len = 0;
    g_assert_true(g_file_get_contents(mbr_path, &mbr, &mbr_len, NULL));
    g_assert_cmpuint(mbr_len, ==, 512);

    g_autofree char *tmp = g_dir_make_tmp("hangar-fw-XXXXXX", NULL);
    g_autofree char *disk = g_build_filename(tmp, "disk.img", NULL);
    g_autoptr(GByteArray) img = g_byte_array_sized_new(1 << 20);
    g_byte_array_set_size(img, 1 << 20);
    memset(img->data, 0, img->len);
    memcpy(img->data, mbr, 512);
    g_assert_true(g_file_set_contents(disk, (char *)img->data, img->len, NULL));

    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    g_autoptr(GError) err = NULL;
    c->memory_mib = 128;
    c->firmware = HGR_FIRMWARE_BIOS;
    c->serial = HGR_SERIAL_FD;
    c->serial_fd = sv[1];
    hgr_vm_config_add_disk(c, disk, HGR_DISK_FORMAT_RAW, false);

    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    gint64 t0 = g_get_monotonic_time();
    g_assert_true(hgr_vm_start(vm, &err));
    const char *want[] = { "SeaBIOS (version", "MBR: hello from the boot sector", NULL };
    g_autoptr(GString) out = read_until(sv[0], want, t0 + DEADLINE_S * G_TIME_SPAN_SECOND);
    g_test_message("SeaBIOS handed over to the boot sector in %.1f s",
                   (g_get_monotonic_time() - t0) / 1e6);
    for (const char *const *w = want; *w; w++)
        if (!strstr(out->str, *w)) {
            hgr_vm_stop(vm);
            g_error("never saw \"%s\"; serial output:\n%s", *w, out->str);
        }
    /* The boot sector powers off: the VM ends as a guest poweroff, not a stop. */
    g_assert_cmpint(hgr_vm_wait(vm), ==, HGR_VM_STATE_POWERED_OFF);
    check_screen(vm, tmp);
    close(sv[0]);
    g_clear_pointer(&vm, hgr_vm_free);
    unlink(disk);
    rmdir(tmp);
}

/* A 1 MiB raw disk whose MBR is the boot sector, and an ISO whose
 * no-emulation El Torito image is cd-boot.bin, in tmp. */
static bool make_media(const char *tmp, char **disk, char **iso)
{
    g_autofree char *mbr_path = guest_path("boot-sector.bin");
    g_autofree char *cd_path = guest_path("cd-boot.bin");
    g_autofree char *mbr = NULL, *cd = NULL;
    gsize mbr_len = 0, cd_len = 0;

    g_assert_true(g_file_get_contents(mbr_path, &mbr, &mbr_len, NULL));
    g_assert_true(g_file_get_contents(cd_path, &cd, &cd_len, NULL));
    g_assert_cmpuint(mbr_len, ==, 512);
    g_assert_cmpuint(cd_len, ==, 2048);
    if (!(*iso = make_boot_iso(tmp, "cd.iso", cd, cd_len)))
        return false;

    g_autoptr(GByteArray) img = g_byte_array_sized_new(1 << 20);
    g_byte_array_set_size(img, 1 << 20);
    memset(img->data, 0, img->len);
    memcpy(img->data, mbr, 512);
    *disk = g_build_filename(tmp, "disk.img", NULL);
    g_assert_true(g_file_set_contents(*disk, (char *)img->data, img->len, NULL));
    return true;
}

/* Boots SeaBIOS with a bootable virtio disk and a bootable CD; `want` must
 * appear on the serial port, `not_want` must not, and the image that ran
 * powers the VM off. */
static void boot_disk_and_cd(HgrBootDevice boot, const char *want_msg, const char *not_want)
{
    if (!kvm_available() || !seabios_available())
        return;
    g_autofree char *tmp = g_dir_make_tmp("hangar-fw-XXXXXX", NULL);
    g_autofree char *disk = NULL, *iso = NULL;
    if (!make_media(tmp, &disk, &iso)) {
        rmdir(tmp);
        return;
    }

    int sv[2];
    g_autoptr(HgrVmConfig) c = bios_config(sv);
    g_autoptr(GError) err = NULL;
    c->boot = boot;
    c->cdrom = g_strdup(iso);
    hgr_vm_config_add_disk(c, disk, HGR_DISK_FORMAT_RAW, false);

    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    gint64 t0 = g_get_monotonic_time();
    g_assert_true(hgr_vm_start(vm, &err));
    const char *want[] = { "SeaBIOS (version", want_msg, NULL };
    g_autoptr(GString) out = read_until(sv[0], want, t0 + DEADLINE_S * G_TIME_SPAN_SECOND);
    g_test_message("serial: %s", out->str);
    g_test_message("SeaBIOS handed over in %.1f s", (g_get_monotonic_time() - t0) / 1e6);
    for (const char *const *w = want; *w; w++)
        if (!strstr(out->str, *w)) {
            hgr_vm_stop(vm);
            g_error("never saw \"%s\"; serial output:\n%s", *w, out->str);
        }
    g_assert_cmpint(hgr_vm_wait(vm), ==, HGR_VM_STATE_POWERED_OFF);
    if (strstr(out->str, not_want))
        g_error("the wrong device booted (\"%s\"); serial output:\n%s", not_want, out->str);
    close(sv[0]);
    g_clear_pointer(&vm, hgr_vm_free);
    unlink(disk);
    unlink(iso);
    rmdir(tmp);
}

#define CD_MSG  "CD: hello from the El Torito image"
#define MBR_MSG "MBR: hello from the boot sector"
/* The CD's program found the RSDP SeaBIOS loaded from fw_cfg (its own
 * tables would say BOCHS), with a right checksum. */
#define CD_ACPI_MSG "CD: ACPI RSDP from Hangar"

/* SeaBIOS on its own tries a hard disk before a CD: only "bootorder" makes
 * the CD on the AHCI controller boot first. */
static void test_boot_cdrom(void)
{
    boot_disk_and_cd(HGR_BOOT_CDROM, CD_ACPI_MSG, MBR_MSG);
}

static void test_boot_disk(void)
{
    boot_disk_and_cd(HGR_BOOT_DISK, MBR_MSG, CD_MSG);
}

static void test_boot_choice_checked(void)
{
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    g_autoptr(GError) err = NULL;

    if (!kvm_available() || !seabios_available())
        return;
    c->firmware = HGR_FIRMWARE_BIOS;
    c->serial = HGR_SERIAL_NONE;
    c->boot = HGR_BOOT_CDROM;           /* but no CD */
    g_assert_null(hgr_vm_new(c, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG);
}

static void expect_firmware_error(const char *path, const char *needle)
{
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    g_autoptr(GError) err = NULL;
    c->memory_mib = 64;
    c->firmware = HGR_FIRMWARE_BIOS;
    c->firmware_path = g_strdup(path);
    c->serial = HGR_SERIAL_NONE;

    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_null(vm);
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE);
    g_assert_nonnull(strstr(err->message, path));
    g_assert_nonnull(strstr(err->message, needle));
}

static void test_bad_firmware(void)
{
    if (!kvm_available())
        return;
    g_autofree char *dir = g_dir_make_tmp("hangar-fw-XXXXXX", NULL);
    g_autofree char *missing = g_build_filename(dir, "bios-256k.bin", NULL);
    g_autofree char *small = g_build_filename(dir, "small.bin", NULL);
    g_autofree char *odd = g_build_filename(dir, "odd.bin", NULL);
    g_autofree uint8_t *junk = g_malloc0(0x30000);

    /* Missing: the message names the package to install. */
    expect_firmware_error(missing, "seabios");
    expect_firmware_error(dir, "cannot read");
    g_assert_true(g_file_set_contents(small, (char *)junk, 1000, NULL));
    expect_firmware_error(small, "not a BIOS image");
    g_assert_true(g_file_set_contents(odd, (char *)junk, 0x30000 - 512, NULL));
    expect_firmware_error(odd, "not a BIOS image");
    unlink(small);
    unlink(odd);
    rmdir(dir);
}

static void test_bios_with_kernel_refused(void)
{
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    g_autoptr(GError) err = NULL;

    if (!kvm_available())
        return;
    c->firmware = HGR_FIRMWARE_BIOS;
    c->kernel = g_strdup("/boot/vmlinuz");
    c->serial = HGR_SERIAL_NONE;
    g_assert_null(hgr_vm_new(c, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG);
}

/* Boots the boot sector guest bin (from a 1 MiB raw disk in tmp) with its
 * serial port on sv[1], and waits until it says "LFB: painted". */
static HgrVm *start_painter(const char *bin, const char *tmp, int sv[2])
{
    g_autofree char *mbr_path = guest_path(bin);
    g_autofree char *mbr = NULL;
    gsize mbr_len = 0;
    g_assert_true(g_file_get_contents(mbr_path, &mbr, &mbr_len, NULL));
    g_assert_cmpuint(mbr_len, ==, 512);
    g_autofree char *disk = g_build_filename(tmp, "disk.img", NULL);
    g_autoptr(GByteArray) img = g_byte_array_new();
    g_byte_array_set_size(img, 1 << 20);
    memset(img->data, 0, img->len);
    memcpy(img->data, mbr, 512);
    g_assert_true(g_file_set_contents(disk, (char *)img->data, img->len, NULL));

    g_autoptr(HgrVmConfig) c = bios_config(sv);
    g_autoptr(GError) err = NULL;
    hgr_vm_config_add_disk(c, disk, HGR_DISK_FORMAT_RAW, false);
    HgrVm *vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    gint64 t0 = g_get_monotonic_time();
    g_assert_true(hgr_vm_start(vm, &err));
    const char *want[] = { "LFB: painted", NULL };
    g_autoptr(GString) out = read_until(sv[0], want, t0 + DEADLINE_S * G_TIME_SPAN_SECOND);
    if (!strstr(out->str, "LFB: painted")) {
        hgr_vm_stop(vm);
        g_error("the boot sector did not paint; serial output:\n%s", out->str);
    }
    g_test_message("%s painted; %.1f s from start", bin, (g_get_monotonic_time() - t0) / 1e6);
    return vm;
}

/* A boot sector sets an 800x600x32 VBE mode and paints the top half of the
 * linear framebuffer, which Hangar maps as a KVM RAM slot where BAR0
 * decodes: the screenshot has exactly that picture. */
static void test_vbe_lfb(void)
{
    if (!kvm_available() || !seabios_available())
        return;
    g_autofree char *tmp = g_dir_make_tmp("hangar-fw-XXXXXX", NULL);
    g_autofree char *disk = g_build_filename(tmp, "disk.img", NULL);
    g_autofree char *png = g_build_filename(tmp, "lfb.png", NULL);
    int sv[2];
    g_autoptr(GError) err = NULL;
    g_autoptr(HgrVm) vm = start_painter("vbe-lfb.bin", tmp, sv);
    g_assert_cmpint(hgr_vm_wait(vm), ==, HGR_VM_STATE_POWERED_OFF);

    g_assert_true(hgr_vm_screenshot(vm, png, &err));
    g_assert_no_error(err);
    unsigned w, h, lit_top, lit_all;
    png_stats(png, 300, &w, &h, &lit_top);
    png_stats(png, 600, &w, &h, &lit_all);
    g_assert_cmpuint(w, ==, 800);
    g_assert_cmpuint(h, ==, 600);
    g_assert_cmpuint(lit_top, ==, 0);                 /* all orange, like pixel (0,0) */
    g_assert_cmpuint(lit_all, ==, 800 * 300);         /* the bottom half untouched */
    close(sv[0]);
    close(sv[1]);
    g_clear_pointer(&vm, hgr_vm_free);
    unlink(png);
    unlink(disk);
    rmdir(tmp);
}

/* What one hgr_vm_display_update() reported. */
typedef struct {
    unsigned width, height, n_dirty;
    HgrConsoleRect dirty[16];
    uint32_t block_pixel;              /* at (408, 508) */
} DisplaySeen;

static void see_display(const HgrConsoleSurface *s, const HgrConsoleRect *dirty,
                        unsigned n_dirty, void *user_data)
{
    DisplaySeen *seen = user_data;

    seen->width = s->width;
    seen->height = s->height;
    seen->n_dirty = MIN(n_dirty, G_N_ELEMENTS(seen->dirty));
    memcpy(seen->dirty, dirty, seen->n_dirty * sizeof(*dirty));
    seen->block_pixel = 0;
    if (s->data && s->width > 408 && s->height > 508)
        memcpy(&seen->block_pixel, s->data + 508 * (size_t)s->stride + 408 * 4, 4);
}

/* The guest paints its 800x600 screen, then a 16x16 block while the VM
 * runs: the live view's update reports that block alone (Hangar finds it
 * in KVM's dirty log of the VRAM slot), nothing when nothing changed, and
 * the screenshot is still the whole right picture. */
static void test_vbe_dirty(void)
{
    if (!kvm_available() || !seabios_available())
        return;
    g_autofree char *tmp = g_dir_make_tmp("hangar-fw-XXXXXX", NULL);
    g_autofree char *disk = g_build_filename(tmp, "disk.img", NULL);
    g_autofree char *png = g_build_filename(tmp, "lfb.png", NULL);
    int sv[2];
    g_autoptr(GError) err = NULL;
    g_autoptr(HgrVm) vm = start_painter("vbe-dirty.bin", tmp, sv);

    DisplaySeen seen;
    g_assert_true(hgr_vm_display_update(vm, false, see_display, &seen));
    g_assert_cmpuint(seen.width, ==, 800);
    g_assert_cmpuint(seen.height, ==, 600);
    /* The guest now only polls COM1: nothing to redraw. */
    g_assert_true(hgr_vm_display_update(vm, false, see_display, &seen));
    g_assert_cmpuint(seen.n_dirty, ==, 0);

    /* How long an update takes when nothing changed (not asserted). */
    const unsigned rounds = 200;
    gint64 t1 = g_get_monotonic_time();
    for (unsigned i = 0; i < rounds; i++)
        hgr_vm_display_update(vm, false, see_display, &seen);
    g_test_message("800x600x32, an update with nothing changed: %.1f us",
                   (double)(g_get_monotonic_time() - t1) / rounds);
    g_assert_cmpuint(seen.n_dirty, ==, 0);

    g_assert_cmpint(write(sv[0], "b", 1), ==, 1);
    const char *block[] = { "LFB: block", NULL };
    g_autoptr(GString) out2 = read_until(sv[0], block, g_get_monotonic_time() +
                                                          DEADLINE_S * G_TIME_SPAN_SECOND);
    g_assert_nonnull(strstr(out2->str, "LFB: block"));
    g_assert_true(hgr_vm_display_update(vm, false, see_display, &seen));
    g_assert_cmpuint(seen.n_dirty, ==, 1);
    g_assert_cmpuint(seen.dirty[0].x, ==, 400);
    g_assert_cmpuint(seen.dirty[0].y, ==, 500);
    g_assert_cmpuint(seen.dirty[0].width, ==, 16);
    g_assert_cmpuint(seen.dirty[0].height, ==, 16);
    g_assert_cmphex(seen.block_pixel & 0xffffff, ==, 0x0000ff);
    g_assert_true(hgr_vm_display_update(vm, false, see_display, &seen));
    g_assert_cmpuint(seen.n_dirty, ==, 0);

    g_assert_cmpint(write(sv[0], "b", 1), ==, 1);
    g_assert_cmpint(hgr_vm_wait(vm), ==, HGR_VM_STATE_POWERED_OFF);
    g_assert_true(hgr_vm_screenshot(vm, png, &err));
    g_assert_no_error(err);
    unsigned w, h, lit_above, lit_all;
    png_stats(png, 500, &w, &h, &lit_above);
    png_stats(png, 600, &w, &h, &lit_all);
    g_assert_cmpuint(w, ==, 800);
    g_assert_cmpuint(h, ==, 600);
    g_assert_cmpuint(lit_above, ==, 0);               /* all orange, like pixel (0,0) */
    g_assert_cmpuint(lit_all, ==, 16 * 16);           /* and the block */
    close(sv[0]);
    close(sv[1]);
    g_clear_pointer(&vm, hgr_vm_free);
    unlink(png);
    unlink(disk);
    rmdir(tmp);
}

/* A boot sector that prints @, then echoes each key the BIOS reads:
 * mov al,'@'; mov dx,0x3f8; out dx,al; again: mov ah,0; int 0x16;
 * mov dx,0x3f8; out dx,al; jmp again. */
static const uint8_t echo_sector[] = {
    0xb0, '@', 0xba, 0xf8, 0x03, 0xee,
    0xb4, 0x00, 0xcd, 0x16, 0xba, 0xf8, 0x03, 0xee, 0xeb, 0xf6,
};

static unsigned boots_in(const GString *out)
{
    unsigned n = 0;

    for (gsize i = 0; i < out->len; i++)
        n += out->str[i] == '@';
    return n;
}

/* Reads the serial port until the boot sector has started `boots` times
 * (an @ each), or the deadline passes. */
static bool wait_boots(int fd, GString *out, unsigned boots, gint64 deadline)
{
    while (boots_in(out) < boots && g_get_monotonic_time() < deadline)
        if (!read_more(fd, out))
            break;
    return boots_in(out) >= boots;
}

#define REBOOTS 8

/* Restarts, as a user makes them: Ctrl+Alt+Del typed to the BIOS (which
 * resets the machine itself) and Reset, taking turns, each right after the
 * boot sector ran. Every time, the firmware boots the disk again; a
 * request lost across the devices' reset would leave SeaBIOS waiting. */
static void test_reboots(void)
{
    if (!kvm_available() || !seabios_available())
        return;
    g_autofree char *tmp = g_dir_make_tmp("hangar-fw-XXXXXX", NULL);
    g_autofree char *disk = g_build_filename(tmp, "disk.img", NULL);
    g_autofree uint8_t *img = g_malloc0(1 << 20);
    memcpy(img, echo_sector, sizeof(echo_sector));
    img[510] = 0x55;
    img[511] = 0xaa;
    g_assert_true(g_file_set_contents(disk, (char *)img, 1 << 20, NULL));

    int sv[2];
    g_autoptr(HgrVmConfig) c = bios_config(sv);
    g_autoptr(GError) err = NULL;
    c->memory_mib = 64;
    hgr_vm_config_add_disk(c, disk, HGR_DISK_FORMAT_RAW, false);
    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    g_assert_true(hgr_vm_start(vm, &err));
    g_autoptr(GString) out = g_string_new(NULL);
    for (unsigned boot = 1; boot <= REBOOTS + 1; boot++) {
        gint64 t0 = g_get_monotonic_time();
        if (!wait_boots(sv[0], out, boot, t0 + DEADLINE_S * G_TIME_SPAN_SECOND)) {
            hgr_vm_stop(vm);
            g_error("boot %u: the boot sector never ran (state %d); serial output:\n%s", boot,
                    hgr_vm_get_state(vm), out->str);
        }
        g_test_message("boot %u: boot sector ran after %.1f s", boot,
                       (g_get_monotonic_time() - t0) / 1e6);
        if (boot == REBOOTS + 1)
            break;
        if (boot % 2) {
            static const unsigned cad[] = { 29, 56, 111 };   /* KEY_LEFTCTRL, ALT, DELETE */
            for (unsigned k = 0; k < G_N_ELEMENTS(cad); k++)
                hgr_vm_input_key(vm, cad[k], true);
            for (unsigned k = G_N_ELEMENTS(cad); k-- > 0;)
                hgr_vm_input_key(vm, cad[k], false);
        } else {
            g_assert_true(hgr_vm_reset(vm, &err));
            g_assert_no_error(err);
        }
    }
    g_assert_cmpint(hgr_vm_get_state(vm), ==, HGR_VM_STATE_RUNNING);
    hgr_vm_stop(vm);
    close(sv[0]);
    close(sv[1]);
    g_clear_pointer(&vm, hgr_vm_free);
    unlink(disk);
    rmdir(tmp);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/firmware/seabios-banner", test_banner);
    g_test_add_func("/kvm/firmware/boots-a-boot-sector-from-virtio", test_boot_sector);
    g_test_add_func("/kvm/firmware/boot-order-cdrom-first", test_boot_cdrom);
    g_test_add_func("/kvm/firmware/boot-order-disk-first", test_boot_disk);
    g_test_add_func("/kvm/firmware/boot-choice-checked", test_boot_choice_checked);
    g_test_add_func("/kvm/firmware/vbe-linear-framebuffer", test_vbe_lfb);
    g_test_add_func("/kvm/firmware/vbe-dirty-areas", test_vbe_dirty);
    g_test_add_func("/kvm/firmware/reboots", test_reboots);
    g_test_add_func("/kvm/firmware/bad-image", test_bad_firmware);
    g_test_add_func("/kvm/firmware/bios-with-kernel", test_bios_with_kernel_refused);
    return g_test_run();
}
