/* bench-os-templates.c — what the New VM wizard waits for: the template
 * list (first call loads osinfo-db), identifying an ISO, and the host check
 * with its timed guest. Prints figures; asserts nothing about time.
 * `meson test -C build --suite bench os-templates` */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>

#include "host-check.h"
#include "library-private.h"
#include "os-templates.h"

#define RUNS 5

static int compare_doubles(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_ms(double *ms, int n)
{
    qsort(ms, n, sizeof(*ms), compare_doubles);
    return ms[n / 2];
}

static double elapsed_ms(gint64 start)
{
    return (g_get_monotonic_time() - start) / 1e3;
}

int main(void)
{
    g_autoptr(GError) error = NULL;
    gint64 t = g_get_monotonic_time();
    g_autoptr(GPtrArray) first = hgr_os_templates_list(&error);
    if (!first) {
        printf("1..0 # SKIP %s\n", error->message);
        return 77;
    }
    double cold = elapsed_ms(t);
    double warm[RUNS];
    for (int i = 0; i < RUNS; i++) {
        t = g_get_monotonic_time();
        g_autoptr(GPtrArray) again = hgr_os_templates_list(NULL);
        warm[i] = elapsed_ms(t);
    }
    printf("templates: %u; first list (loads osinfo-db) %.0f ms; again %.0f ms (median of %d)\n",
           first->len, cold, median_ms(warm, RUNS), RUNS);

    g_autofree char *dir = g_dir_make_tmp("hangar-bench-XXXXXX", NULL);
    g_autofree char *content = g_build_filename(dir, "content", NULL);
    g_mkdir(content, 0755);
    g_autofree char *iso = g_build_filename(dir, "win11.iso", NULL);
    const char *argv[] = { "xorriso", "-as", "mkisofs", "-V", "CCCOMA_X64FRE_EN-US_DV9",
                           "-publisher", "MICROSOFT CORPORATION", "-o", iso, content, NULL };
    int status = -1;
    if (g_spawn_sync(NULL, (char **)argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, NULL) &&
        g_spawn_check_wait_status(status, NULL)) {
        double ident[RUNS];
        for (int i = 0; i < RUNS; i++) {
            t = g_get_monotonic_time();
            g_autoptr(HgrOsTemplate) found = hgr_os_template_identify_iso(iso, NULL);
            ident[i] = elapsed_ms(t);
            g_assert_nonnull(found);
        }
        printf("identify an ISO: %.1f ms (median of %d)\n", median_ms(ident, RUNS), RUNS);
    } else {
        printf("identify an ISO: not measured (xorriso failed or is missing)\n");
    }
    hgr_library_remove_tree(dir, NULL);

    t = g_get_monotonic_time();
    g_autoptr(HgrHostCheckReport) r = hgr_host_check_run(NULL);
    printf("host check with the timed guest: %.0f ms; KVM %.1f Mloops/s\n", elapsed_ms(t),
           r->kvm_loops_per_sec / 1e6);
    return 0;
}
