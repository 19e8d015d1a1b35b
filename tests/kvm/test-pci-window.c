/* test-pci-window.c — where a firmware may put a 64-bit BAR. SeaBIOS puts
 * them right above RAM; OVMF puts its 64-bit aperture at the top of the
 * guest's physical address space (the last eighth below 2^phys_bits, from
 * CPUID 0x80000008). Hangar's PC must decode a BAR anywhere in between, or
 * OVMF's NVMe driver reads all-ones from a controller that is not there
 * (seen: OVMF stuck at its logo polling CSTS at 0xe00000801c). The VM is
 * built on this host's /dev/kvm and its buses are driven from the test, as
 * the firmware would drive them. */
#include <glib.h>
#include <glib/gstdio.h>
#include <hangar/vm.h>
#include <linux/pci_regs.h>
#include <unistd.h>

#include "core/vm-private.h"
#include "pci/pci.h"
#include "x86/cpuid.h"

static uint32_t cfg_read(HgrVm *vm, unsigned devfn, uint32_t off)
{
    uint8_t b[4];

    hgr_pci_bus_config_read(vm->board.pci, devfn, off, b, 4);
    return hgr_io_get(b, 4);
}

static void cfg_write(HgrVm *vm, unsigned devfn, uint32_t off, uint32_t v)
{
    uint8_t b[4];

    hgr_io_put(b, 4, v);
    hgr_pci_bus_config_write(vm->board.pci, devfn, off, b, 4);
}

static uint32_t mmio_read(HgrVm *vm, uint64_t addr)
{
    uint8_t b[4] = { 0xff, 0xff, 0xff, 0xff };

    if (!hgr_io_bus_dispatch(vm->board.mmio, addr, b, 4, false))
        return 0xffffffff;
    return hgr_io_get(b, 4);
}

/* The devfn of the first function with this class code (base, sub, prog-if). */
static int find_class(HgrVm *vm, uint32_t class)
{
    for (unsigned devfn = 0; devfn < 256; devfn += 8)
        if ((cfg_read(vm, devfn, PCI_VENDOR_ID) & 0xffff) != 0xffff &&
            cfg_read(vm, devfn, PCI_CLASS_REVISION) >> 8 == class)
            return (int)devfn;
    return -1;
}

static void test_nvme_bar_anywhere(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        g_test_skip("SKIP: /dev/kvm is not available here (missing or no permission)");
        return;
    }
    g_autofree char *dir = g_dir_make_tmp("hangar-pciwin-XXXXXX", NULL);
    g_autofree char *disk = g_build_filename(dir, "disk.img", NULL);
    g_assert_true(g_file_set_contents(disk, "", 0, NULL));
    g_assert_cmpint(truncate(disk, 1 << 20), ==, 0);
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    g_autoptr(GError) err = NULL;
    c->memory_mib = 64;
    c->firmware = HGR_FIRMWARE_BIOS;
    c->serial = HGR_SERIAL_NONE;
    hgr_vm_config_add_disk(c, disk, HGR_DISK_FORMAT_RAW, false)->bus = HGR_DISK_BUS_NVME;
    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_no_error(err);

    int devfn = find_class(vm, 0x010802);             /* NVM Express */
    g_assert_cmpint(devfn, >=, 0);
    unsigned bits = hgr_x86_phys_bits(vm->cpuid);
    uint64_t top = 1ull << bits;
    cfg_write(vm, devfn, PCI_BASE_ADDRESS_0, 0xffffffff);
    uint64_t size = ~(uint64_t)(cfg_read(vm, devfn, PCI_BASE_ADDRESS_0) & ~0xfu) + 1;
    size &= 0xffffffffu;
    g_test_message("guest physical address bits: %u; NVMe BAR0 %" G_GUINT64_FORMAT " bytes",
                   bits, size);
    /* Above RAM (SeaBIOS), OVMF's aperture, the last BAR-sized slot. */
    const uint64_t at[] = { hgr_mem_top(&vm->mem), top - (top >> 3) + 0x8000, top - size };
    cfg_write(vm, devfn, PCI_COMMAND, PCI_COMMAND_MEMORY);
    for (size_t i = 0; i < G_N_ELEMENTS(at); i++) {
        cfg_write(vm, devfn, PCI_BASE_ADDRESS_0, (uint32_t)at[i]);
        cfg_write(vm, devfn, PCI_BASE_ADDRESS_1, (uint32_t)(at[i] >> 32));
        /* CAP (low dword): MQES and CQR are set, so never all-ones or 0;
         * VS: NVMe 1.x. */
        uint32_t cap = mmio_read(vm, at[i]);
        uint32_t vs = mmio_read(vm, at[i] + 8);
        g_test_message("BAR0 at 0x%" G_GINT64_MODIFIER "x: CAP 0x%08x VS 0x%08x", at[i], cap,
                       vs);
        g_assert_cmphex(cap, !=, 0xffffffff);
        g_assert_cmphex(vs >> 16, ==, 1);
    }
    /* Past the address space the guest has, nothing answers. */
    cfg_write(vm, devfn, PCI_BASE_ADDRESS_0, 0);
    cfg_write(vm, devfn, PCI_BASE_ADDRESS_1, (uint32_t)(top >> 32));
    g_assert_cmphex(mmio_read(vm, top), ==, 0xffffffff);

    g_clear_pointer(&vm, hgr_vm_free);
    g_unlink(disk);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/pci-window/nvme-bar-anywhere", test_nvme_bar_anywhere);
    return g_test_run();
}
