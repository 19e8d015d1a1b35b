/* hangarctl cd NAME ISO | cd NAME --eject — the disc in a running
 * machine's CD/DVD drive, wherever the machine runs. The machine's settings
 * follow, so its next start has the same disc. */
#include <stdio.h>

#include "cmd-vm.h"
#include "hangarctl.h"

static const char summary[] =
    "Put a disc in a running machine's CD/DVD drive, or take it out. The\n"
    "guest sees the disc change, as with a real drive; the machine keeps\n"
    "the disc for its next start. A guest that locked its drive (it is\n"
    "using the disc) keeps it unless --force.\n"
    "\n"
    "Examples:\n"
    "  hangarctl cd Windows virtio-win.iso\n"
    "  hangarctl cd Windows --eject";

int hgr_cmd_cd(int argc, char **argv)
{
    g_autofree char *dir = NULL;
    gboolean eject = FALSE, force = FALSE;
    GOptionEntry entries[] = {
        HGR_CLI_LIBRARY_OPTION(&dir),
        { "eject", 'e', 0, G_OPTION_ARG_NONE, &eject, "Take the disc out", NULL },
        { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
          "Change the disc even when the guest has locked the drive", NULL },
        { NULL },
    };
    g_autoptr(HgrLibrary) lib = NULL;
    g_autoptr(GError) error = NULL;

    if (!hgr_cli_parse("cd", "NAME ISO | NAME --eject", summary, entries, &argc, &argv, 1, 2))
        return 2;
    if (eject == (argc == 3))
        return hgr_cli_usage("cd", eject ? "--eject takes no ISO" : "give an ISO, or --eject");
    HgrMachine *m = hgr_cli_find_machine("cd", dir, argv[1], &lib);
    if (!m)
        return 1;
    /* The path is the user's, relative to here; the machine's file keeps
     * it absolute. */
    g_autofree char *iso = eject ? NULL : g_canonicalize_filename(argv[2], NULL);
    if (!hgr_machine_change_cdrom(m, iso, force, &error))
        return hgr_cli_fail("cd", error);
    if (iso)
        printf("\"%s\" has %s in its CD/DVD drive\n", hgr_machine_get_name(m), iso);
    else
        printf("\"%s\": the CD/DVD drive is empty\n", hgr_machine_get_name(m));
    return 0;
}
