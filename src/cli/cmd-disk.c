/* hangarctl disk create PATH SIZE [--format qcow2|raw] — make an empty disk image. */
#include <hangar/vm.h>
#include <stdio.h>
#include <string.h>

#include "hangarctl.h"

/* "20G", "512M", "4096": binary units, a whole number of 512-byte sectors. */
bool hgr_cli_parse_size(const char *s, uint64_t *out)
{
    char *end;
    guint64 v;
    if (!g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, &v, NULL)) {
        v = g_ascii_strtoull(s, &end, 10);
        if (end == s || end[0] == '\0' || (end[1] && g_ascii_strcasecmp(end + 1, "iB") &&
                                           g_ascii_strcasecmp(end + 1, "B")))
            return false;
        const char *units = "KMGTP";
        const char *u = strchr(units, g_ascii_toupper(end[0]));
        if (!u)
            return false;
        for (const char *p = units; p <= u; p++) {
            if (v > G_MAXUINT64 / 1024)
                return false;
            v *= 1024;
        }
    }
    *out = v;
    return v > 0 && v % 512 == 0;
}

static int disk_create(int argc, char **argv)
{
    g_autofree char *format = NULL;
    GOptionEntry entries[] = {
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "qcow2 (default) or raw", "FORMAT" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("PATH SIZE - create an empty disk");
    g_autoptr(GError) error = NULL;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "hangarctl disk create: %s\n", error->message);
        return 2;
    }
    uint64_t size;
    if (argc != 3) {
        fprintf(stderr, "hangarctl disk create: give PATH and SIZE (e.g. 20G)\n");
        return 2;
    }
    if (!hgr_cli_parse_size(argv[2], &size)) {
        fprintf(stderr, "hangarctl disk create: size '%s' is not a positive multiple of 512 "
                "bytes (units K, M, G, T)\n", argv[2]);
        return 2;
    }
    HgrDiskFormat fmt = HGR_DISK_FORMAT_QCOW2;
    if (format && !strcmp(format, "raw"))
        fmt = HGR_DISK_FORMAT_RAW;
    else if (format && strcmp(format, "qcow2") != 0) {
        fprintf(stderr, "hangarctl disk create: unknown format '%s' (qcow2 or raw)\n", format);
        return 2;
    }
    if (!hgr_block_create(argv[1], fmt, size, &error)) {
        fprintf(stderr, "hangarctl: %s\n", error->message);
        return 1;
    }
    return 0;
}

int hgr_cmd_disk(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "create"))
        return disk_create(argc - 1, argv + 1);
    fprintf(stderr, "Usage: hangarctl disk create PATH SIZE [--format qcow2|raw]\n");
    return 2;
}
