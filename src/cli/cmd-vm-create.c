/* hangarctl create NAME — a new machine in the library: its folder, first
 * disk and settings, from an OS template (libosinfo) when --os names one. */
#include <stdio.h>
#include <string.h>

#include "cmd-vm.h"
#include "hangarctl.h"
#include "os-templates.h"

static const char create_description[] =
    "Make a new machine.\n\n"
    "Examples:\n"
    "  hangarctl create Debian --os debian11\n"
    "  hangarctl create Test --memory 512 --cpus 1 --disk-size 8G --cdrom install.iso\n"
    "\n"
    "--os takes a libosinfo short id (debian11, win11...) and starts from\n"
    "that OS's recommended memory, CPUs, disk size and firmware; an installation\n"
    "ISO that libosinfo recognises does the same without --os. The other options\n"
    "override it. Otherwise: 2048 MiB, 2 CPUs, a 16G disk, BIOS.";

typedef struct {
    char *dir, *os, *disk_size, *firmware, *cdrom;
    int memory, cpus;
} CreateOptions;

static void create_options_clear(CreateOptions *o)
{
    g_free(o->dir);
    g_free(o->os);
    g_free(o->disk_size);
    g_free(o->firmware);
    g_free(o->cdrom);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CreateOptions, create_options_clear)

/* A few template ids sharing id's first letters, for the error message. */
static char *similar_ids(const char *id)
{
    g_autoptr(GPtrArray) all = hgr_os_templates_list(NULL);
    g_autoptr(GString) s = g_string_new(NULL);
    g_autofree char *prefix = g_strndup(id, 3);
    unsigned n = 0;

    for (guint i = 0; all && i < all->len && n < 6; i++) {
        const HgrOsTemplate *t = all->pdata[i];
        if (g_str_has_prefix(t->id, prefix)) {
            g_string_append_printf(s, "%s%s", n ? ", " : "", t->id);
            n++;
        }
    }
    if (!n)
        return g_strdup("e.g. win11, win10, debian11, fedora37, ubuntu22.04");
    return g_strdup_printf("similar: %s", s->str);
}

/* The template --os names, or the one of the OS on --cdrom (NULL: none).
 * Returns the exit status on failure, 0 on success. */
static int pick_template(const CreateOptions *o, HgrOsTemplate **out)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrOsTemplate) from_iso = NULL;

    if (o->cdrom) {
        /* Not an ISO: refused here, before anything is made. */
        from_iso = hgr_os_template_identify_iso(o->cdrom, &error);
        if (error)
            return hgr_cli_fail("create", error);
    }
    if (!o->os) {
        if (from_iso)
            printf("The ISO is %s: starting from its recommended settings\n", from_iso->name);
        *out = g_steal_pointer(&from_iso);
        return 0;
    }
    *out = hgr_os_template_lookup(o->os, &error);
    if (error)
        return hgr_cli_fail("create", error);
    if (!*out) {
        g_autofree char *known = similar_ids(o->os);
        return hgr_cli_usage("create", "--os %s: no OS with that short id in the libosinfo "
                             "database (%s; osinfo-query os lists all)", o->os, known);
    }
    return 0;
}

/* The template's values, then the options given. Returns the exit status
 * on failure, 0 on success. */
static int build_config(const CreateOptions *o, const char *name, HgrMachineConfig *c,
                        uint64_t *disk_size)
{
    g_autoptr(HgrOsTemplate) t = NULL;
    int status = pick_template(o, &t);

    if (status)
        return status;
    c->name = g_strdup(name);
    *disk_size = 16ull << 30;
    if (t) {
        hgr_os_template_apply(t, c);
        if (t->disk_bytes)
            *disk_size = t->disk_bytes;
    }
    if (o->memory) {
        if (o->memory < 0)
            return hgr_cli_usage("create", "--memory %d: give MiB, e.g. 2048", o->memory);
        c->memory_mib = (uint64_t)o->memory;
    }
    if (o->cpus) {
        if (o->cpus < 0)
            return hgr_cli_usage("create", "--cpus %d: give a number from 1 to 64", o->cpus);
        c->cpus = (unsigned)o->cpus;
    }
    if (o->firmware && !hgr_firmware_from_name(o->firmware, &c->firmware))
        return hgr_cli_usage("create", "--firmware %s: expected bios or uefi", o->firmware);
    if (o->disk_size && !hgr_cli_parse_size(o->disk_size, disk_size))
        return hgr_cli_usage("create", "--disk-size %s: expected a size like 20G or 512M",
                             o->disk_size);
    if (o->cdrom) {
        g_free(c->cdrom);
        c->cdrom = g_canonicalize_filename(o->cdrom, NULL);
        c->boot = HGR_BOOT_CDROM;
    }
    return 0;
}

int hgr_cmd_create(int argc, char **argv)
{
    g_auto(CreateOptions) o = { 0 };
    GOptionEntry entries[] = {
        HGR_CLI_LIBRARY_OPTION(&o.dir),
        { "os", 0, 0, G_OPTION_ARG_STRING, &o.os, "Start from this OS's template", "SHORTID" },
        { "memory", 'm', 0, G_OPTION_ARG_INT, &o.memory, "Memory in MiB", "MIB" },
        { "cpus", 'c', 0, G_OPTION_ARG_INT, &o.cpus, "Number of CPUs", "N" },
        { "disk-size", 0, 0, G_OPTION_ARG_STRING, &o.disk_size,
          "Size of the first disk (qcow2, grows as used)", "SIZE" },
        { "firmware", 0, 0, G_OPTION_ARG_STRING, &o.firmware, "bios or uefi", "FW" },
        { "cdrom", 0, 0, G_OPTION_ARG_FILENAME, &o.cdrom,
          "An ISO in the CD-ROM drive (booted first)", "ISO" },
        { NULL },
    };
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();
    g_autoptr(GError) error = NULL;
    uint64_t disk_size;

    if (!hgr_cli_parse("create", "NAME", create_description, entries, &argc, &argv, 1, 1))
        return 2;
    int status = build_config(&o, argv[1], c, &disk_size);
    if (status)
        return status;
    g_autoptr(HgrLibrary) lib = hgr_cli_open_library(o.dir, &error);
    if (!lib)
        return hgr_cli_fail("create", error);
    HgrMachine *m = hgr_library_create(lib, c, disk_size, &error);
    if (!m)
        return hgr_cli_fail("create", error);
    g_autofree char *size = g_format_size_full(disk_size, G_FORMAT_SIZE_IEC_UNITS);
    printf("Created \"%s\" in %s (%" G_GUINT64_FORMAT " MiB, %u CPUs, %s disk, %s)\n",
           hgr_machine_get_name(m), hgr_machine_get_dir(m), c->memory_mib, c->cpus, size,
           hgr_firmware_name(c->firmware));
    return 0;
}
