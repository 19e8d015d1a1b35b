/* cmd-vm.h — what the VM commands of hangarctl share: the --library option,
 * opening the library, finding a machine, and reporting errors. */
#pragma once

#include <glib.h>

#include "library.h"

/* The option every VM command takes; fills *dir. */
#define HGR_CLI_LIBRARY_OPTION(dir)                                                    \
    { "library", 'L', 0, G_OPTION_ARG_FILENAME, (dir),                                  \
      "The library folder (default: $HANGAR_LIBRARY_DIR, else "                        \
      "~/.local/share/hangar/machines)", "DIR" }

/* Parses argv; false: a usage error was printed (exit status 2). On success
 * argc/argv hold the positional arguments, argv[0] the command; n_args is
 * how many positional arguments the command takes (-1: any number, at
 * least min_args). */
bool hgr_cli_parse(const char *cmd, const char *params, const char *summary,
                   GOptionEntry *entries, int *argc, char ***argv, int min_args, int max_args);

/* Opens dir, else $HANGAR_LIBRARY_DIR, else the default. */
HgrLibrary *hgr_cli_open_library(const char *dir, GError **error);

/* Prints "hangarctl CMD: message" on one line; returns 1. */
int hgr_cli_fail(const char *cmd, const GError *error);
/* Prints a usage error; returns 2. */
int hgr_cli_usage(const char *cmd, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Opens the library and finds the machine named in argv[1]; NULL after
 * printing the error. */
HgrMachine *hgr_cli_find_machine(const char *cmd, const char *dir, const char *name,
                                 HgrLibrary **lib_out);
