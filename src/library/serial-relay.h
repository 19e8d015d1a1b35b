/* serial-relay.h — a running VM's serial port, copied to its log and to the
 * caller's fd (a console view), with the caller's input sent back. */
#pragma once

#include <glib.h>

typedef struct HgrSerialRelay HgrSerialRelay;

/* Appends guest output to log_path and writes it to user_fd (-1: none; not
 * closed). *vm_fd is the end to give vmm-core (HGR_SERIAL_FD; it owns it). */
HgrSerialRelay *hgr_serial_relay_new(int user_fd, const char *log_path, int *vm_fd,
                                     GError **error);
/* vmm-core failed to build the VM: closes *vm_fd if it did not. */
void hgr_serial_relay_reclaim_vm_fd(HgrSerialRelay *r);
/* Copies what is still queued, then stops. */
void hgr_serial_relay_free(HgrSerialRelay *r);
