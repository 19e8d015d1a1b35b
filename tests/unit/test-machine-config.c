/* test-machine-config.c — a machine's settings file: what is written reads
 * back the same, and a hand-edited file with any bad key is refused with
 * that key named, never half-read. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "machine-config.h"

static HgrMachineConfig *full_config(void)
{
    HgrMachineConfig *c = hgr_machine_config_new();

    c->name = g_strdup("Windows 11 — Gäming");
    c->uuid = g_strdup("6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab");
    c->os_id = g_strdup("win11");
    c->os_name = g_strdup("Microsoft Windows 11");
    c->memory_mib = 64;
    c->cpus = 4;
    c->firmware = HGR_FIRMWARE_UEFI;
    c->boot = HGR_BOOT_CDROM;
    hgr_machine_config_add_disk(c, "disk.qcow2", HGR_DISK_FORMAT_QCOW2, HGR_DISK_BUS_NVME);
    hgr_machine_config_add_disk(c, "/srv/data;odd=name.img", HGR_DISK_FORMAT_RAW,
                                HGR_DISK_BUS_SATA)->readonly = true;
    c->cdrom = g_strdup("/isos/Win11 [x64].iso");
    c->network = true;
    hgr_machine_config_add_port_forward(c, false, 2222, 22);
    hgr_machine_config_add_port_forward(c, true, 5353, 53);
    c->serial = false;
    return c;
}

static void assert_configs_equal(const HgrMachineConfig *a, const HgrMachineConfig *b)
{
    g_assert_cmpstr(a->name, ==, b->name);
    g_assert_cmpstr(a->uuid, ==, b->uuid);
    g_assert_cmpstr(a->os_id, ==, b->os_id);
    g_assert_cmpstr(a->os_name, ==, b->os_name);
    g_assert_cmpuint(a->memory_mib, ==, b->memory_mib);
    g_assert_cmpuint(a->cpus, ==, b->cpus);
    g_assert_cmpint(a->firmware, ==, b->firmware);
    g_assert_cmpint(a->boot, ==, b->boot);
    g_assert_cmpuint(a->disks->len, ==, b->disks->len);
    for (guint i = 0; i < a->disks->len; i++) {
        const HgrMachineDisk *x = a->disks->pdata[i], *y = b->disks->pdata[i];
        g_assert_cmpstr(x->path, ==, y->path);
        g_assert_cmpint(x->format, ==, y->format);
        g_assert_cmpint(x->bus, ==, y->bus);
        g_assert_cmpint(x->readonly, ==, y->readonly);
    }
    g_assert_cmpstr(a->cdrom, ==, b->cdrom);
    g_assert_cmpint(a->network, ==, b->network);
    g_assert_cmpuint(a->port_forwards->len, ==, b->port_forwards->len);
    for (guint i = 0; i < a->port_forwards->len; i++) {
        const HgrPortForward *x = &g_array_index(a->port_forwards, HgrPortForward, i);
        const HgrPortForward *y = &g_array_index(b->port_forwards, HgrPortForward, i);
        g_assert_cmpint(x->udp, ==, y->udp);
        g_assert_cmpuint(x->host_port, ==, y->host_port);
        g_assert_cmpuint(x->guest_port, ==, y->guest_port);
    }
    g_assert_cmpint(a->serial, ==, b->serial);
}

static void test_round_trip_data(void)
{
    g_autoptr(HgrMachineConfig) c = full_config();
    gsize len;
    g_autofree char *data = hgr_machine_config_to_data(c, &len);
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrMachineConfig) back = hgr_machine_config_from_data(data, len, &error);

    g_assert_no_error(error);
    assert_configs_equal(c, back);
    gsize len2;
    g_autofree char *again = hgr_machine_config_to_data(back, &len2);
    g_assert_cmpstr(data, ==, again);
}

static void test_round_trip_file(void)
{
    g_autofree char *dir = g_dir_make_tmp("hgr-config-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "VM.hangar", NULL);
    g_autoptr(HgrMachineConfig) c = full_config();
    g_autoptr(GError) error = NULL;

    g_assert_true(hgr_machine_config_save(c, path, &error));
    g_assert_no_error(error);
    /* Saving again replaces the file; no temp file is left beside it. */
    c->cpus = 8;
    g_assert_true(hgr_machine_config_save(c, path, &error));
    g_autoptr(HgrMachineConfig) back = hgr_machine_config_load(path, &error);
    g_assert_no_error(error);
    assert_configs_equal(c, back);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_assert_cmpstr(g_dir_read_name(d), ==, "VM.hangar");
    g_assert_null(g_dir_read_name(d));
    g_unlink(path);
    g_rmdir(dir);
}

static const char good_file[] =
    "[Hangar]\n"
    "version=1\n"
    "\n"
    "[Machine]\n"
    "name=Debian\n"
    "uuid=6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab\n"
    "memory-mib=1024\n"
    "cpus=2\n"
    "firmware=bios\n"
    "boot=default\n"
    "network=true\n"
    "serial=true\n"
    "port-forwards=tcp:2222:22\n"
    "\n"
    "[Disk 1]\n"
    "path=disk.qcow2\n"
    "format=qcow2\n"
    "bus=virtio\n"
    "readonly=false\n";

/* good_file with the line starting with `from` replaced by `to` (NULL:
 * deleted), or `to` appended when `from` is NULL. */
static char *edit(const char *from, const char *to)
{
    g_auto(GStrv) lines = g_strsplit(good_file, "\n", -1);
    g_autoptr(GString) s = g_string_new(NULL);
    bool done = false;

    for (int i = 0; lines[i]; i++) {
        if (from && !done && g_str_has_prefix(lines[i], from)) {
            done = true;
            if (to)
                g_string_append_printf(s, "%s\n", to);
            continue;
        }
        if (*lines[i] || lines[i + 1])
            g_string_append_printf(s, "%s\n", lines[i]);
    }
    g_assert_true(done || !from);
    if (!from)
        g_string_append_printf(s, "%s\n", to);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static void test_good_file_reads(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_from_data(good_file, strlen(good_file),
                                                                 &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->name, ==, "Debian");
    g_assert_cmpuint(c->memory_mib, ==, 1024);
    g_assert_cmpuint(c->disks->len, ==, 1);
    g_assert_cmpuint(c->port_forwards->len, ==, 1);
}

typedef struct {
    const char *from, *to;    /* the edit */
    const char *needle;       /* what the message must name */
} BadCase;

static const BadCase bad_cases[] = {
    { "memory-mib=", "memory-mib=lots", "memory-mib" },
    { "memory-mib=", "memory-mib=-5", "memory-mib" },
    { "memory-mib=", "memory-mib=99999999999999999999999", "memory-mib" },
    { "memory-mib=", NULL, "memory-mib" },
    { "cpus=", "cpus=0", "cpus" },
    { "cpus=", "cpus=65", "cpus" },
    { "cpus=", "cpus=2.5", "cpus" },
    { "firmware=", "firmware=efi", "firmware" },
    { "firmware=", "firmware=none", "firmware" },
    { "boot=", "boot=floppy", "boot" },
    { "network=", "network=maybe", "network" },
    { "serial=", "serial=1", "serial" },
    { "port-forwards=", "port-forwards=tcp:0:22", "port-forwards" },
    { "port-forwards=", "port-forwards=sctp:22:22", "port-forwards" },
    { "port-forwards=", "port-forwards=tcp:70000:22", "port-forwards" },
    { "name=", "name=a/b", "name" },
    { "name=", "name=.hidden", "name" },
    { "name=", "name=", "name" },
    { "name=", NULL, "name" },
    { "uuid=", "uuid=not-a-uuid", "uuid" },
    { "uuid=", NULL, "uuid" },
    { "path=", "path=", "path" },
    { "path=", NULL, "path" },
    { "path=", "path=../../home/user/.ssh/id_rsa", "path" },
    { "path=", "path=sub/../../x.img", "path" },
    { "serial=", "serial=true\ncdrom=../x.iso", "cdrom" },
    { "format=", "format=vmdk", "format" },
    { "bus=", "bus=scsi", "bus" },
    { "readonly=", "readonly=yes", "readonly" },
    { NULL, "colour=green", "colour" },
    { "cpus=", "cpus=2\ncpus=4", "cpus" },
    { NULL, "[Disk 3]\npath=x.img", "Disk 2" },
    { NULL, "[Disk 0]\npath=x.img", "Disk 0" },
    { NULL, "[Snapshots]\nlast=1", "Snapshots" },
    { NULL, "[Machine]\ncpus=4", "Machine" },
    { "version=", NULL, "version" },
    { "version=", "version=one", "version" },
    { "[Machine]", "[Machina]", "Machina" },
};

static void test_bad_keys(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        const BadCase *b = &bad_cases[i];
        g_autofree char *text = edit(b->from, b->to);
        g_autoptr(GError) error = NULL;
        g_autoptr(HgrMachineConfig) c = hgr_machine_config_from_data(text, strlen(text),
                                                                     &error);
        g_test_message("case %zu: %s -> %s: %s", i, b->from, b->to,
                       error ? error->message : "(accepted)");
        g_assert_null(c);
        g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG);
        g_assert_nonnull(strstr(error->message, b->needle));
    }
}

static void test_not_text(void)
{
    g_autoptr(GError) error = NULL;
    static const char binary[] = "[Hangar]\nversion=1\0\xff\xfe";
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_from_data(binary, sizeof(binary),
                                                                 &error);
    g_assert_null(c);
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG);
    g_clear_error(&error);

    g_autofree char *bad_utf8 = edit("name=", "name=Deb\xc3\x28ian");
    c = hgr_machine_config_from_data(bad_utf8, strlen(bad_utf8), &error);
    g_assert_null(c);
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, "name"));
    g_clear_error(&error);

    /* A huge file is refused before it is read into memory. */
    g_autofree char *dir = g_dir_make_tmp("hgr-config-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "Big.hangar", NULL);
    FILE *f = fopen(path, "w");
    g_assert_nonnull(f);
    g_assert_cmpint(fseek(f, 100 * 1024 * 1024, SEEK_SET), ==, 0);
    fputc('\n', f);
    fclose(f);
    c = hgr_machine_config_load(path, &error);
    g_assert_null(c);
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, path));
    g_unlink(path);
    g_rmdir(dir);
}

static void test_future_version(void)
{
    g_autofree char *text = edit("version=", "version=2");
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_from_data(text, strlen(text), &error);

    g_assert_null(c);
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_VERSION);
    g_assert_nonnull(strstr(error->message, "newer Hangar"));
}

static void test_names(void)
{
    static const char *const bad[] = {
        "", "a/b", "/", ".hidden", "..", "tab\there", "line\nbreak", "del\x7f",
        "0123456789012345678901234567890123456789012345678901234567890123X",
    };
    static const char *const good[] = {
        "Debian 12", "Windows 11 — Gäming", "a.b", "x",
        "0123456789012345678901234567890123456789012345678901234567890123",
        "ääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääää",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_false(hgr_machine_name_validate(bad[i], &error));
        g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_INVALID);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_true(hgr_machine_name_validate(good[i], &error));
        g_assert_no_error(error);
    }
    g_autoptr(GError) error = NULL;
    g_assert_false(hgr_machine_name_validate("a/b", &error));
    g_assert_nonnull(strstr(error->message, "'/'"));
}

static void test_validate(void)
{
    g_autoptr(HgrMachineConfig) c = full_config();
    g_autoptr(GError) error = NULL;

    g_assert_true(hgr_machine_config_validate(c, &error));
    c->memory_mib = G_MAXUINT64 / 2;
    g_assert_false(hgr_machine_config_validate(c, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, "Memory"));
    g_clear_error(&error);
    c->memory_mib = 64;
    c->cpus = 0;
    g_assert_false(hgr_machine_config_validate(c, &error));
    g_assert_nonnull(strstr(error->message, "CPU"));
    g_clear_error(&error);
    c->cpus = 2;
    hgr_machine_config_add_port_forward(c, false, 2222, 80);
    g_assert_false(hgr_machine_config_validate(c, &error));
    g_assert_nonnull(strstr(error->message, "2222"));
}

static void test_to_vm(void)
{
    g_autofree char *dir = g_dir_make_tmp("hgr-config-XXXXXX", NULL);
    g_autofree char *disk = g_build_filename(dir, "disk.qcow2", NULL);
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();
    g_autoptr(GError) error = NULL;

    c->name = g_strdup("VM");
    c->memory_mib = 64;
    hgr_machine_config_add_disk(c, "disk.qcow2", HGR_DISK_FORMAT_QCOW2, HGR_DISK_BUS_SATA);
    /* No UUID: the guest would meet a new machine every boot. */
    g_autoptr(HgrVmConfig) vm = hgr_machine_config_to_vm(c, dir, &error);
    g_assert_null(vm);
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, "UUID"));
    g_clear_error(&error);
    c->uuid = g_strdup("not-a-uuid");
    vm = hgr_machine_config_to_vm(c, dir, &error);
    g_assert_null(vm);
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, "not-a-uuid"));
    g_clear_error(&error);
    g_free(c->uuid);
    c->uuid = g_strdup("4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55");

    /* The disk is not there: the error names the file. */
    vm = hgr_machine_config_to_vm(c, dir, &error);
    g_assert_null(vm);
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA);
    g_assert_nonnull(strstr(error->message, disk));
    g_clear_error(&error);

    g_assert_true(g_file_set_contents(disk, "", 0, NULL));
    c->cdrom = g_strdup(dir);             /* a folder is not an ISO */
    vm = hgr_machine_config_to_vm(c, dir, &error);
    g_assert_null(vm);
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA);
    g_clear_error(&error);

    /* A file that is not a disc image. */
    g_autofree char *notiso = g_build_filename(dir, "notes.iso", NULL);
    g_assert_true(g_file_set_contents(notiso, "just text", -1, NULL));
    g_free(c->cdrom);
    c->cdrom = g_strdup(notiso);
    vm = hgr_machine_config_to_vm(c, dir, &error);
    g_assert_null(vm);
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA);
    g_assert_nonnull(strstr(error->message, notiso));
    g_clear_error(&error);
    /* One with an ISO 9660 volume descriptor is taken. */
    g_autofree char *iso_data = g_malloc0(17 * 2048);
    memcpy(iso_data + 16 * 2048, "\001CD001", 6);
    g_assert_true(g_file_set_contents(notiso, iso_data, 17 * 2048, NULL));
    vm = hgr_machine_config_to_vm(c, dir, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(vm->cdrom, ==, notiso);
    g_clear_pointer(&vm, hgr_vm_config_free);
    /* What a disc changed while it runs goes through: the same checks. */
    g_autofree char *resolved = hgr_machine_config_resolve_iso("notes.iso", dir, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(resolved, ==, notiso);       /* relative to the machine's folder */
    g_unlink(notiso);
    g_assert_null(hgr_machine_config_resolve_iso("notes.iso", dir, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA);
    g_assert_nonnull(strstr(error->message, notiso));
    g_clear_error(&error);

    g_clear_pointer(&c->cdrom, g_free);
    hgr_machine_config_add_port_forward(c, false, 2222, 22);
    vm = hgr_machine_config_to_vm(c, dir, &error);
    g_assert_no_error(error);
    /* An empty drive is still a drive: a disc can go in while it runs. */
    g_assert_null(vm->cdrom);
    g_assert_true(vm->cdrom_drive);
    g_assert_cmpstr(vm->uuid, ==, "4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55");   /* the guest's */
    g_assert_cmpuint(vm->memory_mib, ==, 64);
    g_assert_cmpuint(vm->disks->len, ==, 1);
    HgrDiskConfig *d = vm->disks->pdata[0];
    g_assert_cmpstr(d->path, ==, disk);       /* relative to the machine's folder */
    g_assert_cmpint(d->bus, ==, HGR_DISK_BUS_SATA);
    g_assert_cmpuint(vm->nets->len, ==, 1);
    HgrNetConfig *n = vm->nets->pdata[0];
    g_assert_cmpuint(n->hostfwds->len, ==, 1);
    g_unlink(disk);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/library/config/round-trip-data", test_round_trip_data);
    g_test_add_func("/library/config/round-trip-file", test_round_trip_file);
    g_test_add_func("/library/config/good-file-reads", test_good_file_reads);
    g_test_add_func("/library/config/bad-keys-named", test_bad_keys);
    g_test_add_func("/library/config/not-text", test_not_text);
    g_test_add_func("/library/config/future-version", test_future_version);
    g_test_add_func("/library/config/names", test_names);
    g_test_add_func("/library/config/validate", test_validate);
    g_test_add_func("/library/config/to-vm", test_to_vm);
    return g_test_run();
}
