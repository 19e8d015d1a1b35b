/* hangarctl info NAME — a machine's settings and state; --raw prints its
 * settings file as it is on disk. */
#include <stdio.h>

#include "cmd-vm.h"
#include "hangarctl.h"

static const char *const boot_labels[] = {
    [HGR_BOOT_DEFAULT] = "default (disk, then CD-ROM)", [HGR_BOOT_DISK] = "disk",
    [HGR_BOOT_CDROM] = "cdrom",
};

static void print_info(HgrMachine *m)
{
    const HgrMachineConfig *c = hgr_machine_get_config(m);
    HgrMachineState state = hgr_machine_query_state(m);

    printf("Name:       %s\n", c->name);
    printf("UUID:       %s\n", c->uuid);
    printf("State:      %s%s\n", hgr_machine_state_name(state),
           state == HGR_MACHINE_RUNNING || state == HGR_MACHINE_PAUSED
               ? (hgr_machine_is_running_here(m) ? "" : " (in another process)") : "");
    if (hgr_machine_get_failure(m))
        printf("Failure:    %s\n", hgr_machine_get_failure(m));
    printf("OS:         %s%s%s%s\n", c->os_name ? c->os_name : "unknown",
           c->os_id ? " (" : "", c->os_id ? c->os_id : "", c->os_id ? ")" : "");
    printf("Memory:     %" G_GUINT64_FORMAT " MiB\n", c->memory_mib);
    printf("CPUs:       %u\n", c->cpus);
    printf("Firmware:   %s\n", hgr_firmware_name(c->firmware));
    printf("Boot:       %s\n", c->boot <= HGR_BOOT_CDROM ? boot_labels[c->boot] : "?");
    for (guint i = 0; i < c->disks->len; i++) {
        const HgrMachineDisk *d = c->disks->pdata[i];
        printf("Disk %u:     %s (%s, %s%s)\n", i + 1, d->path,
               d->format == HGR_DISK_FORMAT_RAW ? "raw" : "qcow2", hgr_disk_bus_name(d->bus),
               d->readonly ? ", read-only" : "");
    }
    printf("CD-ROM:     %s\n", c->cdrom ? c->cdrom : "empty");
    printf("Network:    %s\n", c->network ? "NAT" : "none");
    for (guint i = 0; i < c->port_forwards->len; i++) {
        const HgrPortForward *f = &g_array_index(c->port_forwards, HgrPortForward, i);
        printf("Forward:    %s 127.0.0.1:%u -> guest %u\n", f->udp ? "udp" : "tcp",
               f->host_port, f->guest_port);
    }
    printf("Serial:     %s\n", c->serial ? "on (logs/serial.log)" : "off");
    printf("Folder:     %s\n", hgr_machine_get_dir(m));
}

int hgr_cmd_info(int argc, char **argv)
{
    g_autofree char *dir = NULL;
    gboolean raw = FALSE;
    GOptionEntry entries[] = {
        HGR_CLI_LIBRARY_OPTION(&dir),
        { "raw", 0, 0, G_OPTION_ARG_NONE, &raw, "Print the settings file itself", NULL },
        { NULL },
    };
    g_autoptr(HgrLibrary) lib = NULL;
    g_autoptr(GError) error = NULL;

    if (!hgr_cli_parse("info", "NAME", "Show a machine's settings and state.", entries, &argc,
                       &argv, 1, 1))
        return 2;
    HgrMachine *m = hgr_cli_find_machine("info", dir, argv[1], &lib);
    if (!m)
        return 1;
    if (raw) {
        g_autofree char *name = g_strconcat(hgr_machine_get_name(m), ".hangar", NULL);
        g_autofree char *file = g_build_filename(hgr_machine_get_dir(m), name, NULL);
        g_autofree char *text = NULL;
        gsize len;
        if (!g_file_get_contents(file, &text, &len, &error))
            return hgr_cli_fail("info", error);
        fwrite(text, 1, len, stdout);
        return 0;
    }
    print_info(m);
    return 0;
}
