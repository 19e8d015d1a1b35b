/* ich9-lpc.c — the ICH9 LPC bridge at 00:1f.0, as far as firmware needs
 * it: where the ACPI power-management registers are.
 *
 * OVMF (its ACPI timer library) and SeaBIOS find the PM timer through the
 * bridge's PMBASE and ACPI_CNTL registers. Hangar's PM block is fixed at
 * HGR_PC_PM_BASE, where the ACPI tables say it is, so PMBASE reads as that
 * address and ACPI_CNTL as already enabled; firmware that finds them so
 * leaves them alone. Writes to them are not followed. The PIRQ routing
 * and RCBA registers firmware programs just read back what was written:
 * interrupts are routed by the ACPI tables. */
#include "pci.h"

#include "../core/pc.h"

#define LPC_VENDOR        0x8086
#define LPC_DEVICE        0x2918        /* ICH9 LPC interface */
#define LPC_CLASS         0x060100      /* ISA bridge */
#define LPC_SLOT          0x1f

#define LPC_PMBASE        0x40
#define LPC_PMBASE_RTE    0x1           /* "I/O space": always set */
#define LPC_ACPI_CNTL     0x44
#define LPC_ACPI_EN       0x80
#define LPC_PIRQA_ROUT    0x60          /* PIRQ A-D, 4 bytes */
#define LPC_PIRQE_ROUT    0x68          /* PIRQ E-H, 4 bytes */
#define LPC_RCBA          0xf0

typedef struct {
    HgrPciDevice pdev;
} Lpc;

static bool lpc_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    return hgr_pci_bus_add_device(board->pci, (HgrPciDevice *)dev, LPC_SLOT, error);
}

static void lpc_reset(HgrDevice *dev)
{
    hgr_pci_device_reset((HgrPciDevice *)dev);
}

static void lpc_destroy(HgrDevice *dev)
{
    hgr_pci_device_finalize((HgrPciDevice *)dev);
    g_free(dev);
}

static const HgrDeviceOps lpc_ops = {
    .name = "ich9-lpc",
    .state_version = 1,
    .state_size = sizeof(HgrPciState),
    .realize = lpc_realize,
    .reset = lpc_reset,
    .get_state = hgr_pci_config_only_get_state,
    .visit_state = hgr_pci_config_only_visit_state,
    .check_state = hgr_pci_config_only_check_state,
    .set_state = hgr_pci_config_only_set_state,
    .destroy = lpc_destroy,
};

HgrDevice *hgr_pci_lpc_new(void)
{
    Lpc *lpc = g_new0(Lpc, 1);
    HgrPciDevice *pdev = &lpc->pdev;

    hgr_pci_device_init(pdev, &lpc_ops, "ich9-lpc", LPC_VENDOR, LPC_DEVICE, LPC_CLASS, 2);
    hgr_pci_config_set(pdev, LPC_PMBASE, 4, HGR_PC_PM_BASE | LPC_PMBASE_RTE);
    hgr_pci_config_set(pdev, LPC_ACPI_CNTL, 1, LPC_ACPI_EN);
    /* PIRQx_ROUT: "routing disabled" (bit 7) until firmware writes them. */
    hgr_pci_config_set(pdev, LPC_PIRQA_ROUT, 4, 0x80808080);
    hgr_pci_config_set(pdev, LPC_PIRQE_ROUT, 4, 0x80808080);
    hgr_pci_set_wmask(pdev, LPC_PIRQA_ROUT, 4, 0x8f8f8f8f);
    hgr_pci_set_wmask(pdev, LPC_PIRQE_ROUT, 4, 0x8f8f8f8f);
    hgr_pci_set_wmask(pdev, LPC_RCBA, 4, 0xffffc001);
    return &pdev->dev;
}
