/* hangarctl delete NAME — remove a machine from the library, and its files
 * unless --keep-files. */
#include <stdio.h>

#include "cmd-vm.h"
#include "hangarctl.h"

int hgr_cmd_delete(int argc, char **argv)
{
    g_autofree char *dir = NULL;
    gboolean keep = FALSE;
    GOptionEntry entries[] = {
        HGR_CLI_LIBRARY_OPTION(&dir),
        { "keep-files", 'k', 0, G_OPTION_ARG_NONE, &keep,
          "Keep the folder (renamed NAME.removed) with its disks", NULL },
        { NULL },
    };
    g_autoptr(HgrLibrary) lib = NULL;
    g_autoptr(GError) error = NULL;

    if (!hgr_cli_parse("delete", "NAME",
                       "Delete a machine and its disks (--keep-files keeps them).", entries,
                       &argc, &argv, 1, 1))
        return 2;
    HgrMachine *m = hgr_cli_find_machine("delete", dir, argv[1], &lib);
    if (!m)
        return 1;
    g_autofree char *folder = g_strdup(hgr_machine_get_dir(m));
    if (!hgr_library_delete(lib, m, !keep, &error))
        return hgr_cli_fail("delete", error);
    if (keep)
        printf("Removed \"%s\" from the library; its files are in %s.removed\n", argv[1],
               folder);
    else
        printf("Deleted \"%s\" and %s\n", argv[1], folder);
    return 0;
}
