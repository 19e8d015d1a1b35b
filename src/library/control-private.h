/* control-private.h — the names on the control socket, for control.c and
 * machine-remote.c. */
#pragma once

#define HGR_CONTROL_INTERFACE "org.hangar.Machine1"
#define HGR_CONTROL_PATH "/org/hangar/Machine"

/* HGR_LIBRARY_ERROR codes travel as org.hangar.Error.* names. */
void hgr_control_register_errors(void);

/* The folder of the control sockets (XDG_RUNTIME_DIR/hangar, or a per-user
 * folder in /tmp). */
char *hgr_control_socket_dir(void);
