/* machine-labels.h — how the app names a machine's state, OS and devices
 * for people (translated; the library's own names are for logs and CLI). */
#pragma once

#include <glib.h>

#include "../library/machine.h"

G_BEGIN_DECLS

const char *hgr_machine_state_label(HgrMachineState state);
/* The OS logo's icon name for a libosinfo short-id (NULL: unknown OS). */
const char *hgr_machine_os_icon(const char *os_id);
/* "Microsoft Windows 11", or "Unknown operating system". */
const char *hgr_machine_os_label(const HgrMachineConfig *c);
const char *hgr_disk_bus_label(HgrDiskBus bus);
const char *hgr_disk_format_label(HgrDiskFormat format);
const char *hgr_firmware_label(HgrFirmware firmware);
/* "2 GiB", "512 MiB". */
char *hgr_memory_label(uint64_t mib);
/* "TCP: host port 2222 → guest port 22" */
char *hgr_port_forward_label(const HgrPortForward *pf);

/* An action under way, for the state shown while it is: "Pausing…". */
const char *hgr_machine_action_progress_label(HgrMachineAction action);

G_END_DECLS
