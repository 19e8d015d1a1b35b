/* machine-labels.c — names for people (machine-labels.h). */
#include <glib/gi18n.h>

#include "machine-labels.h"

const char *hgr_machine_state_label(HgrMachineState state)
{
    switch (state) {
    case HGR_MACHINE_STOPPED: return _("Powered Off");
    case HGR_MACHINE_RUNNING: return _("Running");
    case HGR_MACHINE_PAUSED: return _("Paused");
    case HGR_MACHINE_FAILED: return _("Failed");
    }
    return _("Unknown");
}

/* Short-id prefixes of the Linux distributions in osinfo-db that people
 * install most; anything else with an id gets the generic logo. */
static const char *const linux_ids[] = {
    "alma", "alpine", "arch", "centos", "debian", "elementary", "fedora", "gentoo",
    "linux", "manjaro", "mint", "nixos", "opensuse", "popos", "rhel", "rocky",
    "sle", "slackware", "ubuntu", "kubuntu", "xubuntu", "lubuntu", "void", NULL,
};

const char *hgr_machine_os_icon(const char *os_id)
{
    if (!os_id || !*os_id)
        return "computer-symbolic";
    if (g_str_has_prefix(os_id, "win"))
        return "hangar-os-windows-symbolic";
    for (const char *const *p = linux_ids; *p; p++)
        if (g_str_has_prefix(os_id, *p))
            return "hangar-os-linux-symbolic";
    return "computer-symbolic";
}

const char *hgr_machine_os_label(const HgrMachineConfig *c)
{
    if (c && c->os_name && *c->os_name)
        return c->os_name;
    return _("Unknown operating system");
}

const char *hgr_disk_bus_label(HgrDiskBus bus)
{
    switch (bus) {
    case HGR_DISK_BUS_VIRTIO: return _("virtio");
    case HGR_DISK_BUS_SATA: return _("SATA");
    case HGR_DISK_BUS_NVME: return _("NVMe");
    }
    return "?";
}

const char *hgr_disk_format_label(HgrDiskFormat format)
{
    return format == HGR_DISK_FORMAT_QCOW2 ? _("qcow2 image") : _("raw image");
}

const char *hgr_firmware_label(HgrFirmware firmware)
{
    switch (firmware) {
    case HGR_FIRMWARE_BIOS: return _("BIOS (SeaBIOS)");
    case HGR_FIRMWARE_UEFI: return _("UEFI (OVMF)");
    case HGR_FIRMWARE_NONE: return _("Direct kernel boot");
    }
    return "?";
}

char *hgr_memory_label(uint64_t mib)
{
    if (mib >= 1024 && mib % 1024 == 0)
        return g_strdup_printf(_("%llu GiB"), (unsigned long long)(mib / 1024));
    if (mib >= 1024)
        return g_strdup_printf(_("%.1f GiB"), mib / 1024.0);
    return g_strdup_printf(_("%llu MiB"), (unsigned long long)mib);
}

char *hgr_port_forward_label(const HgrPortForward *pf)
{
    /* Translators: a port forwarding rule; the first %s is TCP or UDP. */
    return g_strdup_printf(_("%s: host port %u → guest port %u"), pf->udp ? "UDP" : "TCP",
                           pf->host_port, pf->guest_port);
}

const char *hgr_machine_action_progress_label(HgrMachineAction action)
{
    switch (action) {
    case HGR_MACHINE_ACTION_PAUSE: return _("Pausing…");
    case HGR_MACHINE_ACTION_RESUME: return _("Resuming…");
    case HGR_MACHINE_ACTION_SHUTDOWN: return _("Shutting down…");
    case HGR_MACHINE_ACTION_FORCE_OFF: return _("Forcing off…");
    case HGR_MACHINE_ACTION_RESET: return _("Resetting…");
    }
    return _("Working…");
}
