/* test-firmware-smbios.c — the SMBIOS tables as a guest finds them after
 * SeaBIOS has placed them, on this host's /dev/kvm: the VM's UUID must
 * come out of the firmware as configured (test-smbios judges the tables
 * Hangar builds; this, what reaches the guest). The guest is the boot
 * sector, which powers off; its RAM is then read from the host and shown
 * to dmidecode as the guest's own dmidecode would read it. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <hangar/vm.h>
#include <string.h>
#include <unistd.h>

#include "../unit/dmidecode-judge.h"
#include "core/vm-private.h"

#define DEADLINE_S 60
#define FSEG_BASE  0xf0000u
#define FSEG_SIZE  0x10000u

static bool can_run(char **dmidecode)
{
    const char *why = NULL;

    *dmidecode = dmi_find_dmidecode();
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        why = "/dev/kvm is not available here (missing or no permission)";
    else if (access(HGR_SEABIOS_PATH, R_OK) != 0)
        why = HGR_SEABIOS_PATH " is missing (the seabios package)";
    else if (!*dmidecode)
        why = "dmidecode is missing (apt install dmidecode)";
    if (why) {
        g_printerr("SKIP: %s\n", why);
        g_test_skip(why);
    }
    return !why;
}

/* A 1 MiB raw disk whose MBR is the test boot sector (it prints and powers
 * off), in dir. */
static char *boot_disk(const char *dir)
{
    const char *guests = g_getenv("HANGAR_KVM_GUESTS");
    g_autofree char *mbr_path = g_build_filename(guests ? guests : ".", "boot-sector.bin",
                                                 NULL);
    g_autofree char *mbr = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(mbr_path, &mbr, &len, NULL));
    g_assert_cmpuint(len, ==, 512);
    g_autofree char *img = g_malloc0(1 << 20);
    memcpy(img, mbr, 512);
    char *path = g_build_filename(dir, "disk.img", NULL);
    g_assert_true(g_file_set_contents(path, img, 1 << 20, NULL));
    return path;
}

/* Waits for the guest to power off; stops it and fails at the deadline,
 * with its serial output. */
static void wait_poweroff(HgrVm *vm, const char *serial_log)
{
    gint64 deadline = g_get_monotonic_time() + DEADLINE_S * G_TIME_SPAN_SECOND;
    HgrVmState s;

    while ((s = hgr_vm_get_state(vm)) == HGR_VM_STATE_RUNNING
           && g_get_monotonic_time() < deadline)
        g_usleep(100 * 1000);
    if (s != HGR_VM_STATE_POWERED_OFF) {
        hgr_vm_stop(vm);
        g_autofree char *out = NULL;
        g_file_get_contents(serial_log, &out, NULL, NULL);
        g_error("the boot sector never powered off (state %s); serial output:\n%s",
                hgr_vm_state_name(s), out ? out : "");
    }
}

/* What a guest's dmidecode shows: the entry point SeaBIOS left in the F
 * segment and the table it points at, read from guest RAM into a dump
 * file (the entry point at 0, the table at its guest address, as
 * `dmidecode --from-dump` reads a 2.x one), entry point checksums as
 * SeaBIOS wrote them. */
static char *guest_dmidecode(HgrVm *vm, const char *dmidecode, const char *dir)
{
    g_autofree uint8_t *fseg = g_malloc(FSEG_SIZE);
    g_assert_true(hgr_machine_read_phys(vm, FSEG_BASE, fseg, FSEG_SIZE));
    const uint8_t *ep = NULL;
    for (unsigned off = 0; off + 0x20 <= FSEG_SIZE && !ep; off += 16)
        if (!memcmp(fseg + off, "_SM_", 4) && !memcmp(fseg + off + 0x10, "_DMI_", 5))
            ep = fseg + off;
    if (!ep)
        g_error("no SMBIOS entry point in the F segment after SeaBIOS ran");
    uint32_t addr = ep[0x18] | ep[0x19] << 8 | ep[0x1a] << 16 | (uint32_t)ep[0x1b] << 24;
    uint16_t len = (uint16_t)(ep[0x16] | ep[0x17] << 8);
    g_test_message("SMBIOS entry point at 0x%zx, %u bytes of tables at 0x%x",
                   FSEG_BASE + (size_t)(ep - fseg), len, addr);
    g_assert_cmpuint(addr, >=, 0x20);
    g_autofree uint8_t *table = g_malloc(len);
    g_assert_true(hgr_machine_read_phys(vm, addr, table, len));

    g_autofree char *path = g_build_filename(dir, "dmi.bin", NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pwrite(fd, ep, ep[5], 0), ==, ep[5]);
    g_assert_cmpint(pwrite(fd, table, len, addr), ==, len);    /* sparse below it */
    close(fd);
    return dmi_decode_dump(dmidecode, path);
}

/* Boots SeaBIOS with uuid (NULL: none given) and returns what dmidecode
 * makes of the tables it left for the guest. */
static char *boot_and_decode(const char *uuid, const char *dmidecode)
{
    g_autofree char *dir = g_dir_make_tmp("hangar-smbios-XXXXXX", NULL);
    g_autofree char *disk = boot_disk(dir);
    g_autofree char *serial = g_build_filename(dir, "serial.log", NULL);
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    g_autoptr(GError) err = NULL;

    c->memory_mib = 128;
    c->firmware = HGR_FIRMWARE_BIOS;
    c->serial = HGR_SERIAL_FILE;
    c->serial_path = g_strdup(serial);
    c->uuid = g_strdup(uuid);
    hgr_vm_config_add_disk(c, disk, HGR_DISK_FORMAT_RAW, false);
    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);
    g_assert_true(hgr_vm_start(vm, &err));
    g_assert_no_error(err);
    wait_poweroff(vm, serial);
    char *out = guest_dmidecode(vm, dmidecode, dir);
    g_clear_pointer(&vm, hgr_vm_free);
    g_unlink(serial);
    g_unlink(disk);
    g_rmdir(dir);
    return out;
}

/* The UUID given is the one the guest reads, letter for letter (dmidecode
 * prints lower case), through SeaBIOS. */
static void test_uuid_reaches_guest(void)
{
    g_autofree char *dmidecode = NULL;
    if (!can_run(&dmidecode))
        return;
    g_autofree char *out = boot_and_decode("4A1F09C2-8B3E-4D5A-9F61-0C7E2B8D3A55", dmidecode);
    dmi_assert_clean(out);
    g_assert_nonnull(strstr(out, "Manufacturer: Hangar"));
    g_assert_nonnull(strstr(out, "\tUUID: 4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55\n"));
}

/* Without one, zeros: what QEMU gives without -uuid. */
static void test_no_uuid_in_guest(void)
{
    g_autofree char *dmidecode = NULL;
    if (!can_run(&dmidecode))
        return;
    g_autofree char *out = boot_and_decode(NULL, dmidecode);
    dmi_assert_clean(out);
    g_assert_nonnull(strstr(out, "\tUUID: Not Settable\n"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/firmware-smbios/uuid-reaches-guest", test_uuid_reaches_guest);
    g_test_add_func("/kvm/firmware-smbios/no-uuid-zeros", test_no_uuid_in_guest);
    return g_test_run();
}
