/* vm-config.c — the configuration object and the error domain. */
#include <hangar/vm.h>
#include <string.h>

#include "vm-private.h"

G_DEFINE_QUARK(hgr-vm-error-quark, hgr_vm_error)

static void disk_free(gpointer p)
{
    HgrDiskConfig *d = p;
    g_free(d->path);
    g_free(d);
}

static void hostfwd_clear(gpointer p)
{
    HgrHostFwd *f = p;
    g_free(f->host_addr);
}

static void net_free(gpointer p)
{
    HgrNetConfig *n = p;
    g_array_unref(n->hostfwds);
    g_free(n);
}

HgrVmConfig *hgr_vm_config_new(void)
{
    HgrVmConfig *c = g_new0(HgrVmConfig, 1);
    c->memory_mib = 512;
    c->cpus = 1;
    c->disks = g_ptr_array_new_with_free_func(disk_free);
    c->nets = g_ptr_array_new_with_free_func(net_free);
    c->serial = HGR_SERIAL_STDIO;
    c->serial_fd = -1;
    return c;
}

void hgr_vm_config_free(HgrVmConfig *c)
{
    if (!c)
        return;
    g_free(c->firmware_path);
    g_free(c->nvram_path);
    g_free(c->kernel);
    g_free(c->initrd);
    g_free(c->cmdline);
    g_free(c->flat_image);
    g_free(c->cdrom);
    g_ptr_array_unref(c->disks);
    g_ptr_array_unref(c->nets);
    g_free(c->serial_path);
    g_free(c->console_path);
    g_free(c->kvm_path);
    g_free(c->uuid);
    g_free(c);
}

HgrDiskConfig *hgr_vm_config_add_disk(HgrVmConfig *c, const char *path, HgrDiskFormat format,
                                      bool readonly)
{
    HgrDiskConfig *d = g_new0(HgrDiskConfig, 1);
    d->path = g_strdup(path);
    d->format = format;
    d->readonly = readonly;
    d->bus = HGR_DISK_BUS_VIRTIO;
    g_ptr_array_add(c->disks, d);
    return d;
}

HgrNetConfig *hgr_vm_config_add_net(HgrVmConfig *c)
{
    HgrNetConfig *n = g_new0(HgrNetConfig, 1);
    n->hostfwds = g_array_new(FALSE, TRUE, sizeof(HgrHostFwd));
    g_array_set_clear_func(n->hostfwds, hostfwd_clear);
    g_ptr_array_add(c->nets, n);
    return n;
}

void hgr_net_config_add_hostfwd(HgrNetConfig *n, bool udp, const char *host_addr,
                                uint16_t host_port, uint16_t guest_port)
{
    HgrHostFwd f = {
        .udp = udp,
        .host_addr = g_strdup(host_addr),
        .host_port = host_port,
        .guest_port = guest_port,
    };
    g_array_append_val(n->hostfwds, f);
}

bool hgr_vm_config_parse_uuid(const HgrVmConfig *c, uint8_t uuid[16], GError **error)
{
    memset(uuid, 0, 16);
    if (!c->uuid)
        return true;
    if (!g_uuid_string_is_valid(c->uuid)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "'%s' is not a UUID: give 32 hex digits grouped 8-4-4-4-12, like "
                    "4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55", c->uuid);
        return false;
    }
    unsigned n = 0;
    for (const char *p = c->uuid; *p; p++) {
        if (*p == '-')
            continue;
        uuid[n / 2] |= (uint8_t)(g_ascii_xdigit_value(*p) << (n % 2 ? 0 : 4));
        n++;
    }
    return true;
}

const char *hgr_vm_state_name(HgrVmState state)
{
    switch (state) {
    case HGR_VM_STATE_CREATED:     return "created";
    case HGR_VM_STATE_RUNNING:     return "running";
    case HGR_VM_STATE_PAUSED:      return "paused";
    case HGR_VM_STATE_POWERED_OFF: return "powered off";
    case HGR_VM_STATE_STOPPED:     return "stopped";
    case HGR_VM_STATE_FAILED:      return "failed";
    }
    return "unknown";
}
