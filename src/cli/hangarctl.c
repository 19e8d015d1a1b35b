/* hangarctl — Hangar's headless command line. */
#include <glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "hangarctl.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "run",        hgr_cmd_run,        "Boot a Linux kernel in a new VM and wait for it" },
    { "host-check", hgr_cmd_host_check, "Tell whether KVM here runs guests at hardware speed" },
    { "disk",       hgr_cmd_disk,       "Create a disk image: disk create PATH SIZE [--format]" },
    { "firmware",   hgr_cmd_firmware,   "Empty a UEFI variable store: firmware reset-vars PATH" },
    { "list",       hgr_cmd_list,       "List the machines of the library (--json)" },
    { "create",     hgr_cmd_create,     "Make a new machine: create NAME [--os ID] [--memory]..." },
    { "start",      hgr_cmd_start,      "Run a machine headless until it stops (--detach)" },
    { "stop",       hgr_cmd_stop,       "Press a machine's power button (--force: pull the plug)" },
    { "pause",      hgr_cmd_pause,      "Pause a running machine" },
    { "resume",     hgr_cmd_resume,     "Resume a paused machine" },
    { "info",       hgr_cmd_info,       "Show a machine's settings and state (--raw)" },
    { "set",        hgr_cmd_set,        "Change settings: set NAME KEY=VALUE..." },
    { "screenshot", hgr_cmd_screenshot, "Save a running machine's screen: screenshot NAME PNG" },
    { "delete",     hgr_cmd_delete,     "Delete a machine (--keep-files keeps its folder)" },
    { "cd",         hgr_cmd_cd,         "Change a running machine's disc: cd NAME ISO | NAME --eject" },
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: hangarctl COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'hangarctl COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("hangarctl %s\n", HANGAR_VERSION);
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "hangarctl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
