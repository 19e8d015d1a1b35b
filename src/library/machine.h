/* machine.h — one VM of the library: its config, its state, and running it.
 *
 * A machine runs either in this process (hgr_machine_start: vmm-core on its
 * own threads) or in another one (`hangarctl start` runs it headless). Either
 * way it answers on a control socket, $XDG_RUNTIME_DIR/hangar/<uuid>.sock
 * (D-Bus peer-to-peer, interface org.hangar.Machine1), and the calls below
 * work the same on both: a machine running elsewhere is driven through it.
 *
 * Signals and property notifications come on the GMainContext that was the
 * thread default when the library was made (the GTK main thread in the app).
 */
#pragma once

#include <gio/gio.h>
#include <hangar/vm.h>

#include "machine-config.h"

G_BEGIN_DECLS

typedef enum {
    HGR_MACHINE_STOPPED,          /* powered off */
    HGR_MACHINE_RUNNING,
    HGR_MACHINE_PAUSED,
    HGR_MACHINE_FAILED,           /* the last run failed: hgr_machine_get_failure() */
} HgrMachineState;

const char *hgr_machine_state_name(HgrMachineState s);   /* for people: "Running" */

#define HGR_TYPE_MACHINE (hgr_machine_get_type())
G_DECLARE_FINAL_TYPE(HgrMachine, hgr_machine, HGR, MACHINE, GObject)

/* Properties (all read-only, notify on change): "name" (string),
 * "os-name" (string), "state" (int, HgrMachineState), "running-here"
 * (boolean: the VM runs in this process, hgr_machine_get_vm() works),
 * "busy" (boolean: an action is under way, see hgr_machine_is_busy()),
 * "cdrom" (string: the ISO in the CD/DVD drive as the file says, NULL:
 * empty; notifies when a disc is changed here or the file is read again). */

const char *hgr_machine_get_name(HgrMachine *m);
const char *hgr_machine_get_uuid(HgrMachine *m);
const char *hgr_machine_get_dir(HgrMachine *m);          /* the machine's folder */
const HgrMachineConfig *hgr_machine_get_config(HgrMachine *m);
/* Never waits: the state as last known. For a VM that another process
 * runs, that is its last answer; hgr_machine_refresh_state() asks again. */
HgrMachineState hgr_machine_get_state(HgrMachine *m);
/* Asks the process running it, without waiting: "state" notifies when the
 * answer differs. A process that does not answer counts as paused (its
 * calls are refused with the reason). At most one question at a time. */
void hgr_machine_refresh_state(HgrMachine *m);
/* Asks and waits for the answer (up to a few seconds when the other
 * process hangs): for command-line tools, not for a UI thread. */
HgrMachineState hgr_machine_query_state(HgrMachine *m);
const char *hgr_machine_get_failure(HgrMachine *m);      /* NULL unless FAILED */
bool hgr_machine_is_running_here(HgrMachine *m);

/* Validates, renames the folder when the name changes (refused when taken),
 * writes the file atomically. While the VM runs only the name may change;
 * anything else is refused with HGR_LIBRARY_ERROR_BUSY. */
bool hgr_machine_set_config(HgrMachine *m, const HgrMachineConfig *config, GError **error);

typedef struct {
    /* The serial port's other end: a pty or socket for a console view, or
     * -1 to log it to logs/serial.log only. Not taken over: the caller
     * keeps it open while the VM runs. */
    int serial_fd;
} HgrMachineStartOptions;

/* Builds and starts the VM in this process and serves its control socket.
 * opts NULL: serial to the log. Refused when it already runs anywhere. */
bool hgr_machine_start(HgrMachine *m, const HgrMachineStartOptions *opts, GError **error);
bool hgr_machine_pause(HgrMachine *m, GError **error);
bool hgr_machine_resume(HgrMachine *m, GError **error);
/* The ACPI power button: the guest shuts itself down, if it listens. */
bool hgr_machine_shutdown(HgrMachine *m, GError **error);
/* Pulls the plug. */
bool hgr_machine_force_off(HgrMachine *m, GError **error);
bool hgr_machine_reset(HgrMachine *m, GError **error);
bool hgr_machine_screenshot(HgrMachine *m, const char *png_path, GError **error);

/* Puts the ISO at iso in the running machine's CD/DVD drive (NULL: ejects
 * the disc), here or in another process, and writes it to the machine's
 * file (its `cdrom` key), so the next start has the same disc. A relative
 * iso is relative to the machine's folder, as in the file. Refused, with
 * the old disc left in and the file unchanged: not running
 * (HGR_LIBRARY_ERROR_NOT_RUNNING), no drive (CONFIG), a tray the guest
 * has locked (MEDIA_LOCKED, unless force), a file that is missing,
 * unreadable, a folder or not a CD/DVD image (MEDIA, naming it). */
bool hgr_machine_change_cdrom(HgrMachine *m, const char *iso, bool force, GError **error);
/* The same without waiting on another process; the callback comes on the
 * thread-default context. */
void hgr_machine_change_cdrom_async(HgrMachine *m, const char *iso, bool force,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data);
bool hgr_machine_change_cdrom_finish(HgrMachine *m, GAsyncResult *result, GError **error);

/* The calls above without waiting on another process (for a UI): the
 * callback comes when it has answered, on the thread-default context. */
typedef enum {
    HGR_MACHINE_ACTION_PAUSE,
    HGR_MACHINE_ACTION_RESUME,
    HGR_MACHINE_ACTION_SHUTDOWN,
    HGR_MACHINE_ACTION_FORCE_OFF,
    HGR_MACHINE_ACTION_RESET,
} HgrMachineAction;

void hgr_machine_act_async(HgrMachine *m, HgrMachineAction action, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
bool hgr_machine_act_finish(HgrMachine *m, GAsyncResult *result, GError **error);

/* While running here: the vmm-core VM, for the display and input (the
 * frontend calls hgr_vm_display_update, hgr_vm_input_key, ...). NULL
 * otherwise. Valid until "state" leaves RUNNING/PAUSED. */
HgrVm *hgr_machine_get_vm(HgrMachine *m);

/* For `hangarctl start`: runs the VM in this process until it stops,
 * iterating the thread-default main context; returns the final state. */
HgrMachineState hgr_machine_run_until_stopped(HgrMachine *m);

/* An action under way. When hgr_machine_act_async() sends it to another
 * process, the machine is "busy" (boolean property, notified on the
 * library's context) until just before the callback runs: a UI greys out
 * what would change the state, so a second click cannot overtake the
 * first (that process may take seconds to answer, or never: the call then
 * fails and busy ends). An action on a VM running in this process is done
 * when the call returns and never makes it busy. */
bool hgr_machine_is_busy(HgrMachine *m);
/* The latest action still under way, for "Pausing…"; false when none. */
bool hgr_machine_get_pending_action(HgrMachine *m, HgrMachineAction *action);

/* hgr_machine_screenshot() without waiting on another process (for a UI's
 * thumbnails): the callback comes once png_path is written, on the
 * thread-default context. Not an action: the machine does not get busy. */
void hgr_machine_screenshot_async(HgrMachine *m, const char *png_path,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data);
bool hgr_machine_screenshot_finish(HgrMachine *m, GAsyncResult *result, GError **error);
/* Where such a screenshot may go: a new empty file of mode 0600 in the
 * folder of the control sockets ($XDG_RUNTIME_DIR/hangar, which only this
 * user can enter). The caller removes it. NULL, with the reason, when it
 * cannot be made. */
char *hgr_machine_screenshot_file_new(GError **error);

G_END_DECLS
