/* hangarctl host-check — can this host run fast 64-bit guests, and if not, why.
 *
 * Prints the checklist, then the `kvm:` and `kvm-speed:` lines that scripts
 * (tests/guest/harness-lib.sh) read.
 */
#include <hangar/host.h>
#include <stdio.h>

#include "host-check.h"
#include "hangarctl.h"

static const char *level_word(HgrHostCheckLevel level)
{
    switch (level) {
    case HGR_HOST_CHECK_OK: return "ok";
    case HGR_HOST_CHECK_WARNING: return "warning";
    case HGR_HOST_CHECK_ERROR: return "error";
    }
    return "?";
}

static const HgrHostCheckItem *find_item(const HgrHostCheckReport *r, const char *id)
{
    for (guint i = 0; i < r->items->len; i++) {
        const HgrHostCheckItem *it = g_ptr_array_index(r->items, i);
        if (g_str_equal(it->id, id))
            return it;
    }
    return NULL;
}

int hgr_cmd_host_check(int argc, char **argv)
{
    g_autofree char *kvm_path = NULL;
    gboolean quick = FALSE;
    GOptionEntry entries[] = {
        { "kvm", 0, 0, G_OPTION_ARG_FILENAME, &kvm_path,
          "KVM device to check (default /dev/kvm)", "PATH" },
        { "quick", 0, 0, G_OPTION_ARG_NONE, &quick,
          "Do not time a guest (no kvm-speed figure)", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- check this host for virtualization");
    g_autoptr(GError) error = NULL;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "hangarctl host-check: %s\n", error->message);
        return 2;
    }
    HgrHostCheckOptions opts = { .kvm_path = kvm_path, .skip_speed = quick };
    g_autoptr(HgrHostCheckReport) r = hgr_host_check_run(&opts);
    for (guint i = 0; i < r->items->len; i++) {
        const HgrHostCheckItem *it = g_ptr_array_index(r->items, i);
        printf("[%-7s] %s: %s\n", level_word(it->level), it->id, it->title);
        if (it->detail)
            printf("          %s\n", it->detail);
        if (it->fix)
            printf("          fix: %s\n", it->fix);
    }

    const HgrHostCheckItem *dev = find_item(r, "kvm-device");
    const HgrHostCheckItem *access = find_item(r, "kvm-access");
    const HgrHostCheckItem *speed = find_item(r, "kvm-speed");
    if ((dev && dev->level == HGR_HOST_CHECK_ERROR) ||
        (access && access->level == HGR_HOST_CHECK_ERROR) ||
        (!quick && speed && speed->level == HGR_HOST_CHECK_ERROR)) {
        printf("kvm: unavailable\n");
        return 1;
    }
    if (quick)
        return r->level == HGR_HOST_CHECK_ERROR ? 1 : 0;
    bool emulated = r->kvm_loops_per_sec < HGR_KVM_HARDWARE_LOOPS_PER_SEC;
    printf("kvm: %s\n", emulated ? "emulated" : "hardware");
    printf("kvm-speed: %.1f Mloops/s\n", r->kvm_loops_per_sec / 1e6);
    return r->level == HGR_HOST_CHECK_ERROR ? 1 : 0;
}
