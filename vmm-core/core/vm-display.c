/* vm-display.c — what frontends use to see and drive a running VM: the
 * display, screenshots, keyboard and pointer, the power button, activity. */
#include "hangar/vm.h"
#include "vm-private.h"
#include "../hw/acpi-pm.h"
#include "../hw/i8042.h"
#include "../hw/vga.h"

/* Enough for a frontend to upload a few areas; the last absorbs the rest. */
#define MAX_DIRTY 16

bool hgr_vm_display_update(HgrVm *vm, bool full, HgrVmDisplayFn fn, void *user_data)
{
    HgrDevice *vga = hgr_machine_display(vm);
    if (!vga)
        return false;

    HgrConsoleRect dirty[MAX_DIRTY];
    unsigned n_dirty;

    /* The surface is valid until the next update: hold the lock while the
     * frontend reads it. */
    g_mutex_lock(&vm->display_lock);
    if (full)
        hgr_vga_mark_dirty(vga);
    const HgrConsoleSurface *s = hgr_vga_update(vga, dirty, MAX_DIRTY, &n_dirty);
    fn(s, dirty, n_dirty, user_data);
    /* A full read (a thumbnail, a screenshot) must not take the changed
     * areas from the live view, which reads incrementally: it gets the
     * whole frame next time. */
    if (full)
        hgr_vga_mark_dirty(vga);
    g_mutex_unlock(&vm->display_lock);
    return true;
}

typedef struct {
    const char *path;
    GError **error;
    bool ok;
} ScreenshotJob;

static void write_png(const HgrConsoleSurface *s, const HgrConsoleRect *dirty,
                      unsigned n_dirty, void *user_data)
{
    ScreenshotJob *job = user_data;

    if (!s->data) {
        g_set_error(job->error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "the display is off (the guest has not set a mode yet)");
        return;
    }
    job->ok = hgr_console_write_png(s, job->path, job->error);
}

bool hgr_vm_screenshot(HgrVm *vm, const char *path, GError **error)
{
    ScreenshotJob job = { path, error, false };

    if (!hgr_vm_display_update(vm, true, write_png, &job)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "this VM has no display (direct kernel boots have only a serial port)");
        return false;
    }
    return job.ok;
}

void hgr_vm_input_key(HgrVm *vm, unsigned evdev_code, bool down)
{
    HgrDevice *dev = hgr_machine_input(vm);
    if (dev)
        hgr_i8042_key(dev, evdev_code, down);
}

void hgr_vm_input_pointer(HgrVm *vm, int dx, int dy, int wheel, unsigned buttons)
{
    HgrDevice *dev = hgr_machine_input(vm);
    if (dev)
        hgr_i8042_pointer(dev, dx, dy, wheel, buttons);
}

void hgr_vm_power_button(HgrVm *vm)
{
    HgrDevice *pm = hgr_machine_power(vm);
    if (pm)
        hgr_acpi_pm_power_button(pm);
}

void hgr_vm_get_activity(HgrVm *vm, HgrVmActivity *out)
{
    hgr_machine_activity(vm, out);
}
