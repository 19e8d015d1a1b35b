/* hangarctl firmware reset-vars PATH — give a UEFI VM empty variables. */
#include <hangar/vm.h>
#include <stdio.h>
#include <string.h>

#include "hangarctl.h"

static int reset_vars(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("PATH - replace a UEFI variable store with an empty one");
    g_autoptr(GError) error = NULL;

    g_option_context_set_description(ctx,
        "PATH becomes a fresh copy of " HGR_OVMF_VARS_PATH " (the ovmf package):\n"
        "the VM's UEFI boot entries and settings are lost, its disks are untouched.\n"
        "The replacement is atomic, and refused while a VM runs with PATH.");
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "hangarctl firmware reset-vars: %s\n", error->message);
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "hangarctl firmware reset-vars: give the variable store's PATH\n");
        return 2;
    }
    if (!hgr_firmware_reset_vars(argv[1], &error)) {
        fprintf(stderr, "hangarctl: %s\n", error->message);
        return 1;
    }
    fprintf(stderr, "hangarctl: %s now holds empty UEFI variables\n", argv[1]);
    return 0;
}

int hgr_cmd_firmware(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "reset-vars"))
        return reset_vars(argc - 1, argv + 1);
    fprintf(stderr, "Usage: hangarctl firmware reset-vars PATH\n");
    return 2;
}
