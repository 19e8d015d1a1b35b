/* chardev.h — a byte-stream backend for serial ports and consoles.
 *
 * Output never blocks the caller (a vCPU thread): bytes are queued and
 * written by the I/O thread. Input is read on the I/O thread and offered to
 * the device through its receive callback, only while it has room.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/iothread.h"

typedef struct HgrChardev HgrChardev;

/* How many bytes the device can take now, and the bytes themselves. */
typedef size_t (*HgrChardevCanReceive)(void *opaque);
typedef void (*HgrChardevReceive)(void *opaque, const uint8_t *buf, size_t len);

HgrChardev *hgr_chardev_new_null(void);
/* stdin/stdout; when stdin is a terminal it is put in raw mode (restored on
 * free) and Ctrl-A X asks the VM to stop (quit_fn). */
HgrChardev *hgr_chardev_new_stdio(void (*quit_fn)(void *opaque), void *quit_opaque);
/* Output appended to a file created or truncated now; no input. */
HgrChardev *hgr_chardev_new_file(const char *path, GError **error);
/* Both directions on one fd (a pty, a socketpair); the chardev owns fd. */
HgrChardev *hgr_chardev_new_fd(int fd);
void hgr_chardev_free(HgrChardev *c);

/* Binds I/O to a thread; until then output is queued. */
void hgr_chardev_attach(HgrChardev *c, HgrIoThread *t);
void hgr_chardev_set_receiver(HgrChardev *c, HgrChardevCanReceive can, HgrChardevReceive recv,
                              void *opaque);
/* The device made room: try delivering input again. Any thread. */
void hgr_chardev_accept_input(HgrChardev *c);
/* Queues bytes for output. Any thread, never blocks; past 1 MiB queued,
 * output is dropped (and counted) rather than stalling the guest. */
void hgr_chardev_write(HgrChardev *c, const void *buf, size_t len);
/* Writes out what is queued (at shutdown). */
void hgr_chardev_flush(HgrChardev *c);
