/* dmidecode-judge.h — dmidecode as the independent judge of SMBIOS tables
 * (as iasl judges the ACPI ones): run on a dump file, and any fault it
 * reports fails the test. Shared by test-smbios (the tables Hangar builds)
 * and tests/kvm's test-firmware-smbios (what the firmware hands the guest). */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* dmidecode's path, or NULL (Debian keeps it in /usr/sbin). */
static inline char *dmi_find_dmidecode(void)
{
    char *prog = g_find_program_in_path("dmidecode");
    if (!prog && access("/usr/sbin/dmidecode", X_OK) == 0)
        prog = g_strdup("/usr/sbin/dmidecode");
    return prog;
}

/* What `dmidecode --from-dump path` prints, stdout and stderr; the file
 * is removed. */
static inline char *dmi_decode_dump(const char *dmidecode, const char *path)
{
    const char *argv[] = { dmidecode, "--from-dump", path, NULL };
    g_autofree char *out = NULL, *err = NULL;
    gint status = -1;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                               &err, &status, NULL));
    g_unlink(path);
    g_assert_cmpint(status, ==, 0);
    g_test_message("dmidecode says:\n%s%s", out, err);
    return g_strconcat(out, err, NULL);
}

static inline void dmi_assert_clean(const char *out)
{
    static const char *const faults[] = { "checksum", "Invalid", "OUT OF SPEC", "Bad ",
                                          "truncated", "Unknown Type", "Wrong DMI",
                                          "No SMBIOS" };
    for (unsigned i = 0; i < G_N_ELEMENTS(faults); i++)
        if (strstr(out, faults[i]))
            g_error("dmidecode found a fault (\"%s\"):\n%s", faults[i], out);
}
