/* cmd-vm.c — the --library option, errors and look-ups the VM commands share. */
#include "cmd-vm.h"

#include <stdarg.h>
#include <stdio.h>

bool hgr_cli_parse(const char *cmd, const char *params, const char *summary,
                   GOptionEntry *entries, int *argc, char ***argv, int min_args, int max_args)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new(params);
    g_autoptr(GError) error = NULL;

    g_option_context_set_summary(ctx, summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, argc, argv, &error)) {
        hgr_cli_usage(cmd, "%s", error->message);
        return false;
    }
    int n = *argc - 1;
    if (n < min_args) {
        hgr_cli_usage(cmd, "missing arguments: hangarctl %s %s", cmd, params);
        return false;
    }
    if (max_args >= 0 && n > max_args) {
        hgr_cli_usage(cmd, "unexpected argument '%s': hangarctl %s %s", (*argv)[max_args + 1],
                      cmd, params);
        return false;
    }
    return true;
}

HgrLibrary *hgr_cli_open_library(const char *dir, GError **error)
{
    const char *env = g_getenv("HANGAR_LIBRARY_DIR");

    if (!dir && env && *env)
        dir = env;
    return hgr_library_new(dir, error);
}

int hgr_cli_fail(const char *cmd, const GError *error)
{
    g_autofree char *one_line = g_strdup(error->message);

    g_strdelimit(one_line, "\n", ' ');
    fprintf(stderr, "hangarctl %s: %s\n", cmd, one_line);
    return 1;
}

int hgr_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "hangarctl %s: %s (see hangarctl %s --help)\n", cmd, msg, cmd);
    return 2;
}

HgrMachine *hgr_cli_find_machine(const char *cmd, const char *dir, const char *name,
                                 HgrLibrary **lib_out)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrLibrary) lib = hgr_cli_open_library(dir, &error);

    if (!lib) {
        hgr_cli_fail(cmd, error);
        return NULL;
    }
    HgrMachine *m = hgr_library_find(lib, name, &error);
    if (!m) {
        /* A folder of that name that is not usable says why. */
        g_autofree char *dir_of_name = g_build_filename(hgr_library_get_root(lib), name, NULL);
        GPtrArray *problems = hgr_library_get_problems(lib);
        for (guint i = 0; i < problems->len; i++) {
            HgrLibraryProblem *p = problems->pdata[i];
            if (!g_strcmp0(p->path, dir_of_name) || g_str_has_prefix(p->path, dir_of_name)) {
                g_clear_error(&error);
                g_set_error(&error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                            "\"%s\" cannot be used: %s", name, p->message);
                break;
            }
        }
        hgr_cli_fail(cmd, error);
        return NULL;
    }
    *lib_out = g_steal_pointer(&lib);
    return m;
}
