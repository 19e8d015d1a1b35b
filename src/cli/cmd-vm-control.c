/* hangarctl stop/pause/resume/screenshot NAME — drive a running machine,
 * wherever it runs (through its control socket when in another process). */
#include <stdio.h>

#include "cmd-vm.h"
#include "hangarctl.h"

typedef enum { CTL_STOP, CTL_PAUSE, CTL_RESUME, CTL_SCREENSHOT } Control;

static int control(Control what, int argc, char **argv)
{
    static const char *const names[] = { "stop", "pause", "resume", "screenshot" };
    static const char *const summaries[] = {
        "Shut a machine down: press its power button (the guest shuts itself down),\n"
        "or with --force pull the plug.",
        "Pause a running machine.", "Resume a paused machine.",
        "Save what a running machine's screen shows as a PNG.",
    };
    const char *cmd = names[what];
    g_autofree char *dir = NULL;
    gboolean force = FALSE;
    GOptionEntry entries[] = {
        HGR_CLI_LIBRARY_OPTION(&dir),
        { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
          "Pull the plug instead of pressing the power button", NULL },
        { NULL },
    };
    g_autoptr(HgrLibrary) lib = NULL;
    g_autoptr(GError) error = NULL;
    bool ok = false;

    if (what != CTL_STOP)
        entries[1] = (GOptionEntry){ NULL };
    if (!hgr_cli_parse(cmd, what == CTL_SCREENSHOT ? "NAME PNG" : "NAME", summaries[what],
                       entries, &argc, &argv, what == CTL_SCREENSHOT ? 2 : 1,
                       what == CTL_SCREENSHOT ? 2 : 1))
        return 2;
    HgrMachine *m = hgr_cli_find_machine(cmd, dir, argv[1], &lib);
    if (!m)
        return 1;
    switch (what) {
    case CTL_STOP:
        ok = force ? hgr_machine_force_off(m, &error) : hgr_machine_shutdown(m, &error);
        break;
    case CTL_PAUSE:
        ok = hgr_machine_pause(m, &error);
        break;
    case CTL_RESUME:
        ok = hgr_machine_resume(m, &error);
        break;
    case CTL_SCREENSHOT:
        ok = hgr_machine_screenshot(m, argv[2], &error);
        break;
    }
    if (!ok)
        return hgr_cli_fail(cmd, error);
    if (what == CTL_STOP && !force)
        printf("Pressed the power button of \"%s\": the guest shuts down if it listens "
               "(--force pulls the plug)\n", hgr_machine_get_name(m));
    return 0;
}

int hgr_cmd_stop(int argc, char **argv)
{
    return control(CTL_STOP, argc, argv);
}

int hgr_cmd_pause(int argc, char **argv)
{
    return control(CTL_PAUSE, argc, argv);
}

int hgr_cmd_resume(int argc, char **argv)
{
    return control(CTL_RESUME, argc, argv);
}

int hgr_cmd_screenshot(int argc, char **argv)
{
    return control(CTL_SCREENSHOT, argc, argv);
}
