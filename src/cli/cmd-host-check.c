/* hangarctl host-check — is KVM here real hardware virtualization? */
#include <hangar/host.h>
#include <stdio.h>

#include "hangarctl.h"

int hgr_cmd_host_check(int argc, char **argv)
{
    g_autofree char *kvm_path = NULL;
    GOptionEntry entries[] = {
        { "kvm", 0, 0, G_OPTION_ARG_FILENAME, &kvm_path,
          "KVM device to check (default /dev/kvm)", "PATH" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- check KVM on this host");
    g_autoptr(GError) error = NULL;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "hangarctl host-check: %s\n", error->message);
        return 2;
    }
    HgrKvmSpeed speed;
    if (!hgr_kvm_measure_speed(kvm_path, &speed, &error)) {
        printf("kvm: unavailable\n");
        fprintf(stderr, "hangarctl: %s\n", error->message);
        return 1;
    }
    printf("kvm: %s\n", speed.emulated ? "emulated" : "hardware");
    printf("kvm-speed: %.1f Mloops/s\n", speed.loops_per_sec / 1e6);
    if (speed.emulated)
        printf("note: KVM here does not run guest code on hardware (hardware runs this "
               "loop at hundreds of millions per second): tiny guests and firmware run, "
               "full operating systems will crawl\n");
    return 0;
}
