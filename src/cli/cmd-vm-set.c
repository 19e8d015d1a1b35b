/* hangarctl set NAME KEY=VALUE... — change a machine's settings (only its
 * name while it runs). */
#include <stdio.h>
#include <string.h>

#include "cmd-vm.h"
#include "hangarctl.h"
#include "os-templates.h"

static const char set_description[] =
    "Change a machine's settings. Keys:\n"
    "  memory=MIB  cpus=N  name=NEW-NAME  firmware=bios|uefi\n"
    "  cdrom=ISO|none  boot=default|disk|cdrom  network=on|off  serial=on|off\n"
    "\n"
    "Example: hangarctl set Debian memory=4096 cpus=4 cdrom=none";

static bool parse_switch(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes"))
        *out = true;
    else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no"))
        *out = false;
    else
        return false;
    return true;
}

static bool parse_count(const char *v, guint64 max, guint64 *out)
{
    return g_ascii_string_to_unsigned(v, 10, 1, max, out, NULL);
}

/* Applies one KEY=VALUE; returns 0, or the exit status after printing why. */
static int apply(HgrMachineConfig *c, const char *item)
{
    const char *eq = strchr(item, '=');
    g_autofree char *key = eq ? g_strndup(item, eq - item) : g_strdup(item);
    const char *v = eq ? eq + 1 : NULL;
    guint64 n;

    if (!v)
        return hgr_cli_usage("set", "'%s' is not KEY=VALUE", item);
    if (!strcmp(key, "memory")) {
        if (!parse_count(v, G_MAXUINT32, &n))
            return hgr_cli_usage("set", "memory=%s: give MiB, e.g. memory=2048", v);
        c->memory_mib = n;
    } else if (!strcmp(key, "cpus")) {
        if (!parse_count(v, 64, &n))
            return hgr_cli_usage("set", "cpus=%s: give a number from 1 to 64", v);
        c->cpus = (unsigned)n;
    } else if (!strcmp(key, "name")) {
        g_free(c->name);
        c->name = g_strdup(v);
    } else if (!strcmp(key, "firmware")) {
        if (!hgr_firmware_from_name(v, &c->firmware))
            return hgr_cli_usage("set", "firmware=%s: expected bios or uefi", v);
    } else if (!strcmp(key, "cdrom")) {
        g_clear_pointer(&c->cdrom, g_free);
        if (*v && strcmp(v, "none") != 0) {
            g_autoptr(GError) error = NULL;
            g_autoptr(HgrOsTemplate) t = hgr_os_template_identify_iso(v, &error);
            if (error)
                return hgr_cli_fail("set", error);      /* missing, or not an ISO */
            c->cdrom = g_canonicalize_filename(v, NULL);
        }
    } else if (!strcmp(key, "boot")) {
        if (!strcmp(v, "default"))
            c->boot = HGR_BOOT_DEFAULT;
        else if (!strcmp(v, "disk"))
            c->boot = HGR_BOOT_DISK;
        else if (!strcmp(v, "cdrom"))
            c->boot = HGR_BOOT_CDROM;
        else
            return hgr_cli_usage("set", "boot=%s: expected default, disk or cdrom", v);
    } else if (!strcmp(key, "network") || !strcmp(key, "serial")) {
        bool *flag = !strcmp(key, "network") ? &c->network : &c->serial;
        if (!parse_switch(v, flag))
            return hgr_cli_usage("set", "%s=%s: expected on or off", key, v);
    } else {
        return hgr_cli_usage("set", "unknown key '%s' (known: memory, cpus, name, firmware, "
                             "cdrom, boot, network, serial)", key);
    }
    return 0;
}

int hgr_cmd_set(int argc, char **argv)
{
    g_autofree char *dir = NULL;
    GOptionEntry entries[] = {
        HGR_CLI_LIBRARY_OPTION(&dir),
        { NULL },
    };
    g_autoptr(HgrLibrary) lib = NULL;
    g_autoptr(GError) error = NULL;

    if (!hgr_cli_parse("set", "NAME KEY=VALUE...", set_description, entries, &argc, &argv, 2,
                       -1))
        return 2;
    HgrMachine *m = hgr_cli_find_machine("set", dir, argv[1], &lib);
    if (!m)
        return 1;
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_copy(hgr_machine_get_config(m));
    for (int i = 2; i < argc; i++) {
        int status = apply(c, argv[i]);
        if (status)
            return status;
    }
    if (!hgr_machine_set_config(m, c, &error)) {
        /* The one setting that can change while it runs has its own command. */
        if (g_error_matches(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_BUSY)
            && g_strcmp0(c->cdrom, hgr_machine_get_config(m)->cdrom) != 0) {
            g_autoptr(GError) hint = g_error_new(error->domain, error->code,
                                                 "%s; its disc changes while it runs with "
                                                 "hangarctl cd", error->message);
            return hgr_cli_fail("set", hint);
        }
        return hgr_cli_fail("set", error);
    }
    printf("Saved the settings of \"%s\"\n", hgr_machine_get_name(m));
    return 0;
}
