/* pci-host.c — the host bridge at 00:00.0 (a q35-class Intel ID, which
 * guests know to need no driver), with the two MCH registers SeaBIOS
 * programs on a q35: PAM (BIOS shadowing) and PCIEXBAR (where ECAM lives).
 *
 * PAM: the BIOS area 0xC0000-0xFFFFF is plain RAM that the machine fills
 * with the ROM's copy at power-on, so the registers only need to read back
 * what was written. SeaBIOS finds "no RAM" behind PAM0, runs its unlock code
 * from the high ROM, and copies itself down: the same end state as on real
 * hardware. What we give up is a read-only shadow after boot.
 *
 * PCIEXBAR: reads as ECAM at HGR_PCI_ECAM_BASE, enabled, which is where
 * SeaBIOS and OVMF put it on a q35 and where the ACPI MCFG says it is. A
 * firmware that moves it elsewhere is not followed (none does today).
 */
#include "pci.h"

#include <hangar/vm.h>
#include <string.h>

#define HOST_BRIDGE_VENDOR 0x8086
#define HOST_BRIDGE_DEVICE 0x29c0
#define HOST_BRIDGE_CLASS  0x060000

#define MCH_PCIEXBAR       0x60
#define MCH_PCIEXBAR_EN    0x1
#define MCH_PAM0           0x90
#define MCH_PAM_COUNT      7

typedef struct {
    HgrPciDevice pdev;
    HgrPciBus *bus;
} HostBridge;

static bool host_bridge_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    HostBridge *hb = (HostBridge *)dev;

    hb->bus = board->pci;
    return hgr_pci_bus_add_device(board->pci, &hb->pdev, 0, error);
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
    HostBridge *hb = g_new0(HostBridge, 1);
    HgrPciDevice *pdev = &hb->pdev;

    hgr_pci_device_init(pdev, &host_bridge_ops, "pci-host-bridge", HOST_BRIDGE_VENDOR,
                        HOST_BRIDGE_DEVICE, HOST_BRIDGE_CLASS, 0);
    /* PAM0 holds only the 0xF0000 segment's bits; PAM1-6 two segments each. */
    hgr_pci_set_wmask(pdev, MCH_PAM0, 1, 0x30);
    for (unsigned i = 1; i < MCH_PAM_COUNT; i++)
        hgr_pci_set_wmask(pdev, MCH_PAM0 + i, 1, 0x33);
    /* Base (256 MiB aligned, below 4 GiB), length, enable. */
    hgr_pci_set_wmask(pdev, MCH_PCIEXBAR, 4, 0xf0000007);
    hgr_pci_config_set(pdev, MCH_PCIEXBAR, 4, (uint32_t)HGR_PCI_ECAM_BASE | MCH_PCIEXBAR_EN);
    return &pdev->dev;
}
