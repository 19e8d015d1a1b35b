/* test-library.c — the folder of VMs as a user's files see it: what create
 * makes, what a rename moves, what delete leaves, and that a broken folder
 * never hides the good ones. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "library-private.h"
#include "library.h"

typedef struct {
    char *root;
    HgrLibrary *lib;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->root = g_dir_make_tmp("hgr-library-XXXXXX", NULL);
    f->lib = hgr_library_new(f->root, &error);
    g_assert_no_error(error);
}

static void teardown(Fixture *f, gconstpointer data)
{
    g_clear_object(&f->lib);
    hgr_library_remove_tree(f->root, NULL);
    g_free(f->root);
}

static HgrMachineConfig *small_config(const char *name)
{
    HgrMachineConfig *c = hgr_machine_config_new();
    c->name = g_strdup(name);
    c->memory_mib = 64;
    c->cpus = 1;
    return c;
}

static HgrMachine *create(Fixture *f, const char *name)
{
    g_autoptr(HgrMachineConfig) c = small_config(name);
    g_autoptr(GError) error = NULL;
    HgrMachine *m = hgr_library_create(f->lib, c, 1 << 20, &error);
    g_assert_no_error(error);
    g_assert_nonnull(m);
    return m;
}

static char *path_in(Fixture *f, const char *a, const char *b)
{
    return g_build_filename(f->root, a, b, NULL);
}

static int compare_strings(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* The names in the root folder, sorted, joined by ','. */
static char *root_listing(Fixture *f)
{
    g_autoptr(GDir) d = g_dir_open(f->root, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *n;

    while ((n = g_dir_read_name(d)))
        g_ptr_array_add(names, g_strdup(n));
    g_ptr_array_sort(names, compare_strings);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(",", (char **)names->pdata);
}

static guint n_machines(Fixture *f)
{
    return g_list_model_get_n_items(hgr_library_get_machines(f->lib));
}

static const char *machine_name_at(Fixture *f, guint i)
{
    g_autoptr(HgrMachine) m = g_list_model_get_item(hgr_library_get_machines(f->lib), i);
    return hgr_machine_get_name(m);
}

static void test_create(Fixture *f, gconstpointer data)
{
    HgrMachine *m = create(f, "Debian 12");
    g_autofree char *file = path_in(f, "Debian 12", "Debian 12.hangar");
    g_autofree char *disk = path_in(f, "Debian 12", "disk.qcow2");
    g_autofree char *logs = path_in(f, "Debian 12", "logs");
    g_autofree char *head = NULL;
    gsize len;
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_test(file, G_FILE_TEST_IS_REGULAR));
    g_assert_true(g_file_test(logs, G_FILE_TEST_IS_DIR));
    g_assert_true(g_file_get_contents(disk, &head, &len, NULL));
    g_assert_cmpmem(head, 4, "QFI\xfb", 4);        /* a qcow2 image */
    g_assert_true(g_uuid_string_is_valid(hgr_machine_get_uuid(m)));
    g_assert_cmpint(hgr_machine_get_state(m), ==, HGR_MACHINE_STOPPED);
    g_assert_false(hgr_machine_is_running_here(m));
    const HgrMachineConfig *c = hgr_machine_get_config(m);
    g_assert_cmpuint(c->disks->len, ==, 1);
    g_assert_cmpstr(((HgrMachineDisk *)c->disks->pdata[0])->path, ==, "disk.qcow2");

    g_assert_true(hgr_library_find(f->lib, "Debian 12", NULL) == m);
    g_assert_true(hgr_library_find(f->lib, hgr_machine_get_uuid(m), NULL) == m);
    g_assert_null(hgr_library_find(f->lib, "Fedora", &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NOT_FOUND);

    /* Another library (another process) on the same folder sees it. */
    g_autoptr(HgrLibrary) other = hgr_library_new(f->root, NULL);
    HgrMachine *seen = hgr_library_find(other, "Debian 12", NULL);
    g_assert_nonnull(seen);
    g_assert_cmpstr(hgr_machine_get_uuid(seen), ==, hgr_machine_get_uuid(m));
    g_assert_cmpuint(hgr_machine_get_config(seen)->memory_mib, ==, 64);
}

static void on_items_changed(GListModel *model, guint pos, guint removed, guint added,
                             gpointer data)
{
    (*(int *)data)++;
}

static void test_sorted_and_signalled(Fixture *f, gconstpointer data)
{
    int changes = 0;

    g_signal_connect(hgr_library_get_machines(f->lib), "items-changed",
                     G_CALLBACK(on_items_changed), &changes);
    create(f, "b");
    create(f, "C");
    create(f, "a");
    g_assert_cmpint(changes, >=, 3);
    g_assert_cmpuint(n_machines(f), ==, 3);
    g_assert_cmpstr(machine_name_at(f, 0), ==, "a");
    g_assert_cmpstr(machine_name_at(f, 1), ==, "b");
    g_assert_cmpstr(machine_name_at(f, 2), ==, "C");
}

static void test_bad_names_refused(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    create(f, "Debian");
    g_autofree char *before = root_listing(f);

    g_autoptr(HgrMachineConfig) dup = small_config("Debian");
    g_assert_null(hgr_library_create(f->lib, dup, 1 << 20, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_EXISTS);
    g_assert_nonnull(strstr(error->message, "Debian"));
    g_clear_error(&error);

    g_autoptr(HgrMachineConfig) slash = small_config("../escape");
    g_assert_null(hgr_library_create(f->lib, slash, 1 << 20, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_INVALID);
    g_clear_error(&error);

    /* A stray folder of that name also takes the name. */
    g_autofree char *stray = g_build_filename(f->root, "Stray", NULL);
    g_mkdir(stray, 0755);
    g_assert_false(hgr_library_check_new_name(f->lib, "Stray", &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_EXISTS);
    g_rmdir(stray);

    g_autofree char *after = root_listing(f);
    g_assert_cmpstr(before, ==, after);
    g_assert_cmpuint(n_machines(f), ==, 1);
}

static void test_failed_create_leaves_nothing(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrMachineConfig) c = small_config("Windows");

    create(f, "Debian");
    g_autofree char *before = root_listing(f);
    /* UEFI without the ovmf package: the error names it. */
    c->firmware = HGR_FIRMWARE_UEFI;
    g_setenv("HANGAR_OVMF_VARS", "/nonexistent/OVMF_VARS_4M.fd", TRUE);
    g_assert_null(hgr_library_create(f->lib, c, 1 << 20, &error));
    g_unsetenv("HANGAR_OVMF_VARS");
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA);
    g_assert_nonnull(strstr(error->message, "ovmf"));
    g_clear_error(&error);
    g_autofree char *after = root_listing(f);
    g_assert_cmpstr(before, ==, after);           /* no folder, no hidden leftovers */
    g_assert_cmpuint(n_machines(f), ==, 1);

    /* A disk larger than qcow2 can describe fails late, after the folder was
     * begun: still nothing is left. */
    c->firmware = HGR_FIRMWARE_BIOS;
    g_assert_null(hgr_library_create(f->lib, c, G_MAXUINT64, &error));
    g_assert_nonnull(error);
    g_clear_error(&error);
    g_free(after);
    after = root_listing(f);
    g_assert_cmpstr(before, ==, after);
}

static void test_uefi_gets_nvram(Fixture *f, gconstpointer data)
{
    if (!g_file_test(HGR_OVMF_VARS_PATH, G_FILE_TEST_IS_REGULAR)) {
        g_test_skip("SKIP: " HGR_OVMF_VARS_PATH " is missing (install the ovmf package)");
        return;
    }
    g_autoptr(HgrMachineConfig) c = small_config("Windows");
    c->firmware = HGR_FIRMWARE_UEFI;
    g_autoptr(GError) error = NULL;
    g_assert_nonnull(hgr_library_create(f->lib, c, 1 << 20, &error));
    g_assert_no_error(error);
    g_autofree char *nvram = path_in(f, "Windows", "nvram.fd");
    g_autofree char *mine = NULL, *template = NULL;
    gsize a, b;
    g_assert_true(g_file_get_contents(nvram, &mine, &a, NULL));
    g_assert_true(g_file_get_contents(HGR_OVMF_VARS_PATH, &template, &b, NULL));
    g_assert_cmpmem(mine, a, template, b);
}

static void test_switch_to_uefi(Fixture *f, gconstpointer data)
{
    HgrMachine *m = create(f, "Later UEFI");
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_copy(hgr_machine_get_config(m));
    g_autoptr(GError) error = NULL;
    g_autofree char *nvram = path_in(f, "Later UEFI", "nvram.fd");

    c->firmware = HGR_FIRMWARE_UEFI;
    g_assert_false(g_file_test(nvram, G_FILE_TEST_EXISTS));
    /* Without OVMF the switch is refused and the file still says BIOS. */
    g_setenv("HANGAR_OVMF_VARS", "/nonexistent/OVMF_VARS_4M.fd", TRUE);
    g_assert_false(hgr_machine_set_config(m, c, &error));
    g_unsetenv("HANGAR_OVMF_VARS");
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA);
    g_clear_error(&error);
    g_assert_cmpint(hgr_machine_get_config(m)->firmware, ==, HGR_FIRMWARE_BIOS);
    if (!g_file_test(HGR_OVMF_VARS_PATH, G_FILE_TEST_IS_REGULAR)) {
        g_test_skip("SKIP: " HGR_OVMF_VARS_PATH " is missing (install the ovmf package)");
        return;
    }
    g_assert_true(hgr_machine_set_config(m, c, &error));
    g_assert_no_error(error);
    g_assert_true(g_file_test(nvram, G_FILE_TEST_IS_REGULAR));
    g_assert_cmpint(hgr_machine_get_config(m)->firmware, ==, HGR_FIRMWARE_UEFI);
}

static void write_file(const char *path, const char *text)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_mkdir_with_parents(dir, 0755);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static bool problems_mention(Fixture *f, const char *path, const char *word)
{
    GPtrArray *p = hgr_library_get_problems(f->lib);
    for (guint i = 0; i < p->len; i++) {
        HgrLibraryProblem *pr = p->pdata[i];
        if (g_str_has_prefix(pr->path, path) && strstr(pr->message, word))
            return true;
    }
    return false;
}

#define BAD_TEXT "[Hangar]\nversion=1\n[Machine]\nname=Bad\n" \
    "uuid=6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab\nmemory-mib=64\ncpus=lots\n"

static void test_problems_listed(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    create(f, "Good");
    g_autofree char *junk = g_build_filename(f->root, "Holiday photos", NULL);
    g_autofree char *bad = path_in(f, "Bad", "Bad.hangar");
    g_autofree char *newer = path_in(f, "Newer", "Newer.hangar");
    g_autofree char *good_file = path_in(f, "Good", "Good.hangar");
    g_autofree char *good_text = NULL;

    g_mkdir(junk, 0755);
    write_file(bad, BAD_TEXT);
    g_assert_true(g_file_get_contents(good_file, &good_text, NULL, NULL));
    g_autofree char *future = g_strdup(good_text);
    memcpy(strstr(future, "version=1"), "version=9", 9);
    write_file(newer, future);

    /* Files that are not files: reading them must not hang or eat memory. */
    g_autofree char *fifo = path_in(f, "Fifo", "Fifo.hangar");
    g_autofree char *zero = path_in(f, "Zero", "Zero.hangar");
    g_autofree char *fifo_dir = g_path_get_dirname(fifo);
    g_autofree char *zero_dir = g_path_get_dirname(zero);
    g_mkdir(fifo_dir, 0755);
    g_mkdir(zero_dir, 0755);
    g_assert_cmpint(mkfifo(fifo, 0644), ==, 0);
    g_assert_cmpint(symlink("/dev/zero", zero), ==, 0);

    g_assert_true(hgr_library_reload(f->lib, &error));
    g_assert_cmpuint(n_machines(f), ==, 1);
    g_assert_cmpstr(machine_name_at(f, 0), ==, "Good");
    g_assert_cmpuint(hgr_library_get_problems(f->lib)->len, ==, 5);
    g_assert_true(problems_mention(f, fifo, "not a regular file"));
    g_assert_true(problems_mention(f, zero, "not a regular file"));
    g_assert_true(problems_mention(f, junk, "Holiday photos.hangar"));
    g_assert_true(problems_mention(f, bad, "cpus"));
    g_assert_true(problems_mention(f, newer, "newer Hangar"));
    /* Nothing was touched. */
    g_autofree char *bad_now = NULL;
    g_assert_true(g_file_get_contents(bad, &bad_now, NULL, NULL));
    g_assert_cmpstr(bad_now, ==, BAD_TEXT);

    /* A fresh library opens too. */
    g_autoptr(HgrLibrary) other = hgr_library_new(f->root, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_list_model_get_n_items(hgr_library_get_machines(other)), ==, 1);
}

static void test_rename_moves_folder(Fixture *f, gconstpointer data)
{
    HgrMachine *m = create(f, "Old");
    create(f, "Taken");
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_copy(hgr_machine_get_config(m));
    g_autoptr(GError) error = NULL;
    g_autofree char *uuid = g_strdup(hgr_machine_get_uuid(m));

    g_free(c->name);
    c->name = g_strdup("Taken");
    g_assert_false(hgr_machine_set_config(m, c, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_EXISTS);
    g_clear_error(&error);

    g_free(c->name);
    c->name = g_strdup("Zed");
    c->cpus = 3;
    g_assert_true(hgr_machine_set_config(m, c, &error));
    g_assert_no_error(error);
    g_autofree char *old_dir = g_build_filename(f->root, "Old", NULL);
    g_autofree char *new_file = path_in(f, "Zed", "Zed.hangar");
    g_autofree char *old_file = path_in(f, "Zed", "Old.hangar");
    g_autofree char *disk = path_in(f, "Zed", "disk.qcow2");
    g_assert_false(g_file_test(old_dir, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_test(new_file, G_FILE_TEST_IS_REGULAR));
    g_assert_false(g_file_test(old_file, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_test(disk, G_FILE_TEST_IS_REGULAR));
    g_assert_cmpstr(hgr_machine_get_name(m), ==, "Zed");
    g_assert_cmpstr(hgr_machine_get_uuid(m), ==, uuid);
    g_assert_cmpstr(machine_name_at(f, 1), ==, "Zed");   /* re-sorted after "Taken" */

    g_autoptr(HgrLibrary) other = hgr_library_new(f->root, &error);
    HgrMachine *seen = hgr_library_find(other, "Zed", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(hgr_machine_get_config(seen)->cpus, ==, 3);
    g_assert_cmpuint(hgr_library_get_problems(other)->len, ==, 0);
}

static void test_delete(Fixture *f, gconstpointer data)
{
    HgrMachine *keep = create(f, "Keep");
    HgrMachine *gone = create(f, "Gone");
    g_autoptr(GError) error = NULL;

    g_assert_true(hgr_library_delete(f->lib, keep, false, &error));
    g_assert_no_error(error);
    g_autofree char *kept_disk = path_in(f, "Keep.removed", "disk.qcow2");
    g_assert_true(g_file_test(kept_disk, G_FILE_TEST_IS_REGULAR));
    g_assert_true(hgr_library_delete(f->lib, gone, true, &error));
    g_autofree char *listing = root_listing(f);
    g_assert_cmpstr(listing, ==, "Keep.removed");
    g_assert_cmpuint(n_machines(f), ==, 0);
    g_assert_true(hgr_library_reload(f->lib, &error));
    g_assert_cmpuint(n_machines(f), ==, 0);
    g_assert_cmpuint(hgr_library_get_problems(f->lib)->len, ==, 0);
}

static void test_reload_sees_other_process(Fixture *f, gconstpointer data)
{
    g_autoptr(HgrLibrary) other = hgr_library_new(f->root, NULL);
    HgrMachine *m = create(f, "Shared");
    g_autoptr(GError) error = NULL;

    g_assert_true(hgr_library_reload(other, &error));
    HgrMachine *seen = hgr_library_find(other, "Shared", &error);
    g_assert_nonnull(seen);
    g_object_ref(seen);               /* the app may hold it */

    /* Renamed by the other process: the same object, with the new name. */
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_copy(hgr_machine_get_config(m));
    g_free(c->name);
    c->name = g_strdup("Moved");
    g_assert_true(hgr_machine_set_config(m, c, &error));
    g_assert_true(hgr_library_reload(other, &error));
    g_assert_cmpuint(g_list_model_get_n_items(hgr_library_get_machines(other)), ==, 1);
    g_assert_true(hgr_library_find(other, "Moved", NULL) == seen);
    g_autofree char *moved_dir = g_build_filename(f->root, "Moved", NULL);
    g_assert_cmpstr(hgr_machine_get_dir(seen), ==, moved_dir);
    g_assert_true(hgr_library_delete(f->lib, m, true, &error));
    g_assert_true(hgr_library_reload(other, &error));
    g_assert_cmpuint(g_list_model_get_n_items(hgr_library_get_machines(other)), ==, 0);
    g_object_unref(seen);
}

static gboolean give_up(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/* Iterates the main loop until the library lists n machines (no reload
 * called); the limit only ends a hung test. */
static bool wait_for_count(Fixture *f, guint n)
{
    bool late = false;
    guint id = g_timeout_add_seconds(30, give_up, &late);

    while (n_machines(f) != n && !late)
        g_main_context_iteration(NULL, TRUE);
    if (!late)
        g_source_remove(id);
    return n_machines(f) == n;
}

static void test_follows_other_process(Fixture *f, gconstpointer data)
{
    g_autoptr(HgrLibrary) other = hgr_library_new(f->root, NULL);
    g_autoptr(HgrMachineConfig) c = small_config("Made elsewhere");
    g_autoptr(GError) error = NULL;

    HgrMachine *made = hgr_library_create(other, c, 1 << 20, &error);
    g_assert_no_error(error);
    g_assert_true(wait_for_count(f, 1));
    g_assert_cmpstr(machine_name_at(f, 0), ==, "Made elsewhere");
    g_assert_true(hgr_library_delete(other, made, true, &error));
    g_assert_true(wait_for_count(f, 0));
}

/* "windows 11" beside "Windows 11": the list sorts them as one, and on a
 * case-insensitive file system their folders are one. */
static void test_names_unique_ignoring_case(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    create(f, "Windows 11");
    HgrMachine *m = create(f, "Debian");

    g_autoptr(HgrMachineConfig) dup = small_config("windows 11");
    g_assert_null(hgr_library_create(f->lib, dup, 1 << 20, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_EXISTS);
    g_assert_nonnull(strstr(error->message, "Windows 11"));
    g_clear_error(&error);

    g_autoptr(HgrMachineConfig) c = hgr_machine_config_copy(hgr_machine_get_config(m));
    g_free(c->name);
    c->name = g_strdup("WINDOWS 11");
    g_assert_false(hgr_machine_set_config(m, c, &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_EXISTS);
    g_clear_error(&error);
    g_assert_cmpstr(hgr_machine_get_name(m), ==, "Debian");

    /* A stray folder differing only in case also takes the name. */
    g_autofree char *stray = g_build_filename(f->root, "Stray", NULL);
    g_mkdir(stray, 0755);
    g_assert_false(hgr_library_check_new_name(f->lib, "sTRAY", &error));
    g_assert_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_NAME_EXISTS);
    g_clear_error(&error);
    g_rmdir(stray);

    /* A machine may change the case of its own name. */
    g_free(c->name);
    c->name = g_strdup("DEBIAN");
    g_assert_true(hgr_machine_set_config(m, c, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(hgr_machine_get_name(m), ==, "DEBIAN");
    g_assert_cmpuint(n_machines(f), ==, 2);
}

/* The guest sees the machine's UUID (SMBIOS): every run of the machine,
 * from this process or one that reads its file later, hands vmm-core the
 * same one, and two machines never share it. */
static void test_vm_gets_machine_uuid(Fixture *f, gconstpointer data)
{
    HgrMachine *a = create(f, "A"), *b = create(f, "B");
    g_autoptr(GError) error = NULL;

    g_autoptr(HgrVmConfig) va = hgr_machine_config_to_vm(hgr_machine_get_config(a),
                                                         hgr_machine_get_dir(a), &error);
    g_assert_no_error(error);
    g_assert_true(g_uuid_string_is_valid(va->uuid));
    g_assert_cmpstr(va->uuid, ==, hgr_machine_get_uuid(a));

    g_autoptr(HgrLibrary) later = hgr_library_new(f->root, &error);
    g_assert_no_error(error);
    HgrMachine *again = hgr_library_find(later, "A", &error);
    g_assert_no_error(error);
    g_autoptr(HgrVmConfig) va2 = hgr_machine_config_to_vm(hgr_machine_get_config(again),
                                                          hgr_machine_get_dir(again), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(va2->uuid, ==, va->uuid);

    g_autoptr(HgrVmConfig) vb = hgr_machine_config_to_vm(hgr_machine_get_config(b),
                                                         hgr_machine_get_dir(b), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(vb->uuid, !=, va->uuid);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/library/create", test_create);
    ADD("/library/sorted-and-signalled", test_sorted_and_signalled);
    ADD("/library/bad-names-refused", test_bad_names_refused);
    ADD("/library/failed-create-leaves-nothing", test_failed_create_leaves_nothing);
    ADD("/library/uefi-gets-nvram", test_uefi_gets_nvram);
    ADD("/library/switch-to-uefi", test_switch_to_uefi);
    ADD("/library/problems-listed", test_problems_listed);
    ADD("/library/rename-moves-folder", test_rename_moves_folder);
    ADD("/library/delete", test_delete);
    ADD("/library/names-unique-ignoring-case", test_names_unique_ignoring_case);
    ADD("/library/reload-sees-other-process", test_reload_sees_other_process);
    ADD("/library/follows-other-process", test_follows_other_process);
    ADD("/library/vm-gets-machine-uuid", test_vm_gets_machine_uuid);
    return g_test_run();
}
