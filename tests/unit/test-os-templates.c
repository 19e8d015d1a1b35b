/* test-os-templates.c — OS templates from the real osinfo-db, and ISO
 * identification on ISOs built here by xorriso with the volume IDs the
 * database expects (a Windows 11 one, a Debian netinst one, one it does not
 * know), plus files that are no ISO at all. */
#include <glib.h>
#include <glib/gstdio.h>

#include "library-private.h"
#include "os-templates.h"

#define GIB (UINT64_C(1) << 30)

static char *tmpdir;
static bool have_xorriso;

static HgrOsTemplate *must_lookup(const char *id)
{
    g_autoptr(GError) error = NULL;
    HgrOsTemplate *t = hgr_os_template_lookup(id, &error);
    g_assert_no_error(error);
    if (!t)
        g_error("osinfo-db has no %s", id);
    return t;
}

static bool has_limitation(const HgrOsTemplate *t, const char *word)
{
    for (guint i = 0; i < t->limitations->len; i++)
        if (strstr(g_ptr_array_index(t->limitations, i), word))
            return true;
    return false;
}

static int index_of(GPtrArray *list, const char *id)
{
    for (guint i = 0; i < list->len; i++)
        if (g_str_equal(((HgrOsTemplate *)g_ptr_array_index(list, i))->id, id))
            return (int)i;
    return -1;
}

/* The list a user searches: today's 64-bit systems, newest first within a
 * family, without decades-old or 32-bit-only ones. */
static void test_list(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) list = hgr_os_templates_list(&error);
    g_assert_no_error(error);
    g_test_message("%u templates", list->len);
    g_assert_cmpuint(list->len, >=, 20);
    static const char *const wanted[] = {
        "win11", "win10", "win2k22", "ubuntu22.04", "debian11", "fedora37",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(wanted); i++)
        if (index_of(list, wanted[i]) < 0)
            g_error("%s missing from the template list", wanted[i]);
    static const char *const unwanted[] = { "winxp", "win7", "win2k", "debian7", "ubuntu10.04" };
    for (size_t i = 0; i < G_N_ELEMENTS(unwanted); i++)
        g_assert_cmpint(index_of(list, unwanted[i]), <, 0);
    g_assert_cmpint(index_of(list, "win11"), <, index_of(list, "win10"));
    g_assert_cmpint(index_of(list, "ubuntu22.04"), <, index_of(list, "ubuntu20.04"));
    g_assert_cmpint(index_of(list, "fedora37"), <, index_of(list, "fedora36"));
    for (guint i = 0; i < list->len; i++) {
        const HgrOsTemplate *t = g_ptr_array_index(list, i);
        g_assert_nonnull(t->name);
        g_assert_cmpuint(t->memory_mib, >=, 32);    /* FreeDOS wants 64 MiB */
        g_assert_cmpuint(t->cpus, >=, 1);
        g_assert_cmpuint(t->disk_bytes, >=, GIB);
        g_assert_cmpuint(t->disk_bytes % GIB, ==, 0);
    }
}

static void test_windows_11(void)
{
    g_autoptr(HgrOsTemplate) t = must_lookup("win11");
    g_assert_cmpstr(t->name, ==, "Microsoft Windows 11");
    g_assert_cmpstr(t->family, ==, "winnt");
    g_assert_cmpint(t->firmware, ==, HGR_FIRMWARE_UEFI);
    g_assert_cmpuint(t->memory_mib, >=, 4096);
    g_assert_cmpuint(t->cpus, >=, 2);
    g_assert_cmpuint(t->disk_bytes, >=, 64 * GIB);
    /* No virtio drivers inbox: NVMe disk, and the network needs drivers. */
    g_assert_cmpint(t->disk_bus, ==, HGR_DISK_BUS_NVME);
    g_assert_false(t->virtio_net);
    g_assert_true(has_limitation(t, "TPM 2.0"));
    g_assert_true(has_limitation(t, "Secure Boot"));
    g_assert_true(has_limitation(t, "virtio-win"));
    g_assert_true(has_limitation(t, "Sound"));
}

static void test_windows_10(void)
{
    g_autoptr(HgrOsTemplate) t = must_lookup("win10");
    g_assert_cmpint(t->firmware, ==, HGR_FIRMWARE_BIOS);
    g_assert_cmpint(t->disk_bus, ==, HGR_DISK_BUS_NVME);
    g_assert_cmpuint(t->memory_mib, >=, 2048);   /* the x86_64 minimum, not i686's */
    g_assert_false(t->virtio_net);
    g_assert_true(has_limitation(t, "virtio-win"));
    g_assert_false(has_limitation(t, "TPM"));
}

/* Windows 7 predates the inbox NVMe driver: SATA (AHCI). */
static void test_windows_7(void)
{
    g_autoptr(HgrOsTemplate) t = must_lookup("win7");
    g_assert_cmpint(t->disk_bus, ==, HGR_DISK_BUS_SATA);
}

static void test_linux(void)
{
    g_autoptr(HgrOsTemplate) t = must_lookup("debian11");
    g_assert_cmpstr(t->family, ==, "linux");
    g_assert_cmpint(t->disk_bus, ==, HGR_DISK_BUS_VIRTIO);
    g_assert_true(t->virtio_net);
    g_assert_cmpint(t->firmware, ==, HGR_FIRMWARE_BIOS);
    g_assert_cmpuint(t->memory_mib, >=, 1024);
    g_assert_cmpuint(t->disk_bytes, ==, 20 * GIB);   /* the database's recommendation */
    g_assert_false(has_limitation(t, "virtio-win"));
    g_assert_true(has_limitation(t, "USB"));

    /* No virtio-net driver and not Windows: said, without virtio-win. */
    g_autoptr(HgrOsTemplate) n = must_lookup("netbsd9.0");
    g_assert_false(n->virtio_net);
    g_assert_true(has_limitation(n, "Network"));
    g_assert_false(has_limitation(n, "virtio-win"));

    g_autoptr(HgrOsTemplate) u = must_lookup("ubuntu22.04");
    g_assert_cmpuint(u->memory_mib, ==, 4096);       /* recommended, above the 2 GiB minimum */
    g_assert_cmpint(u->disk_bus, ==, HGR_DISK_BUS_VIRTIO);
}

/* Without osinfo-db the error names the package to install. The database
 * is loaded once per process, so this runs in a child that sees none. */
static void test_no_database(void)
{
    if (g_test_subprocess()) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) list = hgr_os_templates_list(&error);
        g_assert_null(list);
        g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO);
        g_assert_nonnull(strstr(error->message, "osinfo-db"));
        return;
    }
    g_autofree char *empty = g_build_filename(tmpdir, "no-osinfo", NULL);
    g_mkdir_with_parents(empty, 0755);
    g_setenv("OSINFO_SYSTEM_DIR", empty, TRUE);
    g_setenv("OSINFO_LOCAL_DIR", empty, TRUE);
    g_setenv("OSINFO_USER_DIR", empty, TRUE);
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_unsetenv("OSINFO_SYSTEM_DIR");
    g_unsetenv("OSINFO_LOCAL_DIR");
    g_unsetenv("OSINFO_USER_DIR");
    g_test_trap_assert_passed();
}

static void test_lookup_unknown(void)
{
    g_autoptr(GError) error = NULL;
    g_assert_null(hgr_os_template_lookup("no-such-os-1.0", &error));
    g_assert_no_error(error);
}

static void test_apply(void)
{
    g_autoptr(HgrOsTemplate) t = must_lookup("win11");
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();
    hgr_os_template_apply(t, c);
    g_assert_cmpstr(c->os_id, ==, "win11");
    g_assert_cmpstr(c->os_name, ==, "Microsoft Windows 11");
    g_assert_cmpuint(c->memory_mib, ==, t->memory_mib);
    g_assert_cmpuint(c->cpus, ==, t->cpus);
    g_assert_cmpint(c->firmware, ==, HGR_FIRMWARE_UEFI);
    g_assert_true(c->network);
    g_assert_cmpuint(c->disks->len, ==, 1);
    HgrMachineDisk *d = g_ptr_array_index(c->disks, 0);
    g_assert_cmpint(d->bus, ==, HGR_DISK_BUS_NVME);
    g_assert_cmpint(d->format, ==, HGR_DISK_FORMAT_QCOW2);
}

/* What an unknown ISO gets: boots anywhere, says what every guest lacks,
 * and leaves the OS unknown in the config. */
static void test_generic(void)
{
    g_autoptr(HgrOsTemplate) t = hgr_os_template_generic();
    g_assert_null(t->id);
    g_assert_cmpint(t->firmware, ==, HGR_FIRMWARE_BIOS);
    g_assert_cmpint(t->disk_bus, ==, HGR_DISK_BUS_SATA);
    g_assert_true(has_limitation(t, "Network"));
    g_assert_false(has_limitation(t, "virtio-win"));
    g_assert_true(has_limitation(t, "Sound"));
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();
    hgr_os_template_apply(t, c);
    g_assert_null(c->os_id);
    g_assert_null(c->os_name);
    g_assert_cmpuint(c->disks->len, ==, 1);
    g_assert_cmpint(((HgrMachineDisk *)g_ptr_array_index(c->disks, 0))->bus, ==,
                    HGR_DISK_BUS_SATA);
}

/* Builds tmpdir/name with xorriso; volid and publisher as given. */
static char *make_iso(const char *name, const char *volid, const char *publisher)
{
    g_autofree char *content = g_build_filename(tmpdir, "content", NULL);
    g_mkdir_with_parents(content, 0755);
    g_autofree char *readme = g_build_filename(content, "README.TXT", NULL);
    g_file_set_contents(readme, "Hangar test media\n", -1, NULL);
    char *iso = g_build_filename(tmpdir, name, NULL);
    const char *argv[] = {
        "xorriso", "-as", "mkisofs", "-V", volid, "-publisher", publisher ? publisher : "",
        "-o", iso, content, NULL,
    };
    g_autofree char *out = NULL, *err = NULL;
    int status = 0;
    g_autoptr(GError) error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, &error))
        g_error("xorriso: %s", error->message);
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("xorriso failed: %s", err);
    return iso;
}

#define NEED_XORRISO() \
    do { \
        if (!have_xorriso) { \
            g_test_skip("SKIP: xorriso is not installed (apt install xorriso)"); \
            return; \
        } \
    } while (0)

static void test_identify_windows_11(void)
{
    NEED_XORRISO();
    g_autofree char *iso = make_iso("win11.iso", "CCCOMA_X64FRE_EN-US_DV9",
                                    "MICROSOFT CORPORATION");
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrOsTemplate) t = hgr_os_template_identify_iso(iso, &error);
    g_assert_no_error(error);
    g_assert_nonnull(t);
    g_assert_cmpstr(t->id, ==, "win11");
    g_assert_cmpint(t->firmware, ==, HGR_FIRMWARE_UEFI);
    g_assert_cmpuint(t->memory_mib, >=, 4096);
}

static void test_identify_debian(void)
{
    NEED_XORRISO();
    g_autofree char *iso = make_iso("debian.iso", "Debian 11.5.0 amd64 n", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrOsTemplate) t = hgr_os_template_identify_iso(iso, &error);
    g_assert_no_error(error);
    g_assert_nonnull(t);
    g_assert_cmpstr(t->id, ==, "debian11");
    g_assert_cmpint(t->disk_bus, ==, HGR_DISK_BUS_VIRTIO);
}

/* A real ISO the database does not know: no template, and no error. */
static void test_identify_unknown(void)
{
    NEED_XORRISO();
    g_autofree char *iso = make_iso("data.iso", "HANGAR_TEST_DATA", "NOBODY");
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrOsTemplate) t = hgr_os_template_identify_iso(iso, &error);
    g_assert_no_error(error);
    g_assert_null(t);
}

static gpointer identify_thread(gpointer path)
{
    return hgr_os_template_identify_iso(path, NULL);
}

/* The app identifies on a worker thread while the GTK thread owns the
 * default main context; identification must not need that context. */
static void test_identify_from_worker_thread(void)
{
    NEED_XORRISO();
    g_autofree char *iso = make_iso("debian-thread.iso", "Debian 11.5.0 amd64 n", NULL);
    g_assert_true(g_main_context_acquire(NULL));
    GThread *thread = g_thread_new("identify", identify_thread, iso);
    g_autoptr(HgrOsTemplate) t = g_thread_join(thread);
    g_main_context_release(NULL);
    g_assert_nonnull(t);
    g_assert_cmpstr(t->id, ==, "debian11");
}

static void assert_media_error(const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrOsTemplate) t = hgr_os_template_identify_iso(path, &error);
    g_assert_null(t);
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA);
    g_assert_nonnull(strstr(error->message, path));
    g_test_message("%s", error->message);
}

static void test_identify_not_an_iso(void)
{
    g_autofree char *text = g_build_filename(tmpdir, "notes.iso", NULL);
    g_autofree char *big = g_strnfill(256 * 1024, 'x');
    g_file_set_contents(text, big, -1, NULL);
    assert_media_error(text);
    g_autofree char *empty = g_build_filename(tmpdir, "empty.iso", NULL);
    g_file_set_contents(empty, "", 0, NULL);
    assert_media_error(empty);
    g_autofree char *missing = g_build_filename(tmpdir, "missing.iso", NULL);
    assert_media_error(missing);
    assert_media_error(tmpdir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("hangar-os-XXXXXX", NULL);
    g_autofree char *xorriso = g_find_program_in_path("xorriso");
    have_xorriso = xorriso != NULL;
    g_test_add_func("/library/os-templates/list", test_list);
    g_test_add_func("/library/os-templates/windows-11", test_windows_11);
    g_test_add_func("/library/os-templates/windows-10", test_windows_10);
    g_test_add_func("/library/os-templates/windows-7-sata", test_windows_7);
    g_test_add_func("/library/os-templates/linux", test_linux);
    g_test_add_func("/library/os-templates/lookup-unknown", test_lookup_unknown);
    g_test_add_func("/library/os-templates/no-database", test_no_database);
    g_test_add_func("/library/os-templates/apply", test_apply);
    g_test_add_func("/library/os-templates/generic", test_generic);
    g_test_add_func("/library/os-templates/identify-windows-11", test_identify_windows_11);
    g_test_add_func("/library/os-templates/identify-debian", test_identify_debian);
    g_test_add_func("/library/os-templates/identify-unknown", test_identify_unknown);
    g_test_add_func("/library/os-templates/identify-not-an-iso", test_identify_not_an_iso);
    g_test_add_func("/library/os-templates/identify-from-worker-thread",
                    test_identify_from_worker_thread);
    int rc = g_test_run();
    hgr_library_remove_tree(tmpdir, NULL);
    g_free(tmpdir);
    return rc;
}
