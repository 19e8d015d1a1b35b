/* device.c — the generic half of every device: naming, save and load. */
#include "device.h"

#include <hangar/vm.h>

void hgr_device_init(HgrDevice *dev, const HgrDeviceOps *ops, const char *id)
{
    dev->ops = ops;
    dev->id = g_strdup(id ? id : ops->name);
}

void hgr_device_free(HgrDevice *dev)
{
    if (!dev)
        return;
    g_autofree char *id = dev->id;
    if (dev->ops->destroy)
        dev->ops->destroy(dev);
}

void hgr_device_save(HgrDevice *dev, GByteArray *stream)
{
    const HgrDeviceOps *ops = dev->ops;
    g_autofree void *state = g_malloc0(ops->state_size);
    g_autoptr(GByteArray) data = g_byte_array_new();
    g_autoptr(HgrVisitor) v = hgr_visitor_new_save(data);

    ops->get_state(dev, state);
    ops->visit_state(v, state);
    hgr_state_write_section(stream, dev->id, ops->state_version, data->data, data->len);
}

bool hgr_device_load(HgrDevice *dev, const HgrStateSection *section, GError **error)
{
    const HgrDeviceOps *ops = dev->ops;

    if (g_strcmp0(section->name, dev->id) != 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "saved state: expected section '%s', found '%s'", dev->id, section->name);
        return false;
    }
    if (section->version != ops->state_version) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "saved state: '%s' is version %u, this Hangar reads version %u",
                    dev->id, section->version, ops->state_version);
        return false;
    }

    g_autofree void *state = g_malloc0(ops->state_size);
    g_autoptr(HgrVisitor) v = hgr_visitor_new_load(section->data, section->len);
    ops->visit_state(v, state);
    if (hgr_visitor_overrun(v) || hgr_visitor_remaining(v) != 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "saved state: '%s' has %zu bytes, which is not its layout",
                    dev->id, section->len);
        return false;
    }
    if (ops->check_state && !ops->check_state(dev, state, error))
        return false;
    ops->set_state(dev, state);
    return true;
}
