/* pci-host.c — the host bridge at 00:00.0 (a q35-class Intel ID, which
 * guests know to need no driver). */
#include "pci.h"

#define HOST_BRIDGE_VENDOR 0x8086
#define HOST_BRIDGE_DEVICE 0x29c0
#define HOST_BRIDGE_CLASS  0x060000

static bool host_bridge_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    return hgr_pci_bus_add_device(board->pci, (HgrPciDevice *)dev, 0, error);
}

static void host_bridge_reset(HgrDevice *dev)
{
    hgr_pci_device_reset((HgrPciDevice *)dev);
}

static void host_bridge_destroy(HgrDevice *dev)
{
    hgr_pci_device_finalize((HgrPciDevice *)dev);
    g_free(dev);
}

static const HgrDeviceOps host_bridge_ops = {
    .name = "pci-host-bridge",
    .state_version = 1,
    .state_size = sizeof(HgrPciState),
    .realize = host_bridge_realize,
    .reset = host_bridge_reset,
    .get_state = hgr_pci_config_only_get_state,
    .visit_state = hgr_pci_config_only_visit_state,
    .check_state = hgr_pci_config_only_check_state,
    .set_state = hgr_pci_config_only_set_state,
    .destroy = host_bridge_destroy,
};

HgrDevice *hgr_pci_host_bridge_new(void)
{
    HgrPciDevice *pdev = g_new0(HgrPciDevice, 1);

    hgr_pci_device_init(pdev, &host_bridge_ops, "pci-host-bridge", HOST_BRIDGE_VENDOR,
                        HOST_BRIDGE_DEVICE, HOST_BRIDGE_CLASS, 0);
    return &pdev->dev;
}
