/* control.h — a running VM's control socket: D-Bus peer-to-peer on
 * $XDG_RUNTIME_DIR/hangar/<uuid>.sock, interface org.hangar.Machine1
 * (properties State "running"/"paused"/"stopped"/"failed", Failure (why, when
 * failed), Name; methods Pause, Resume, Shutdown, ForceOff, Reset,
 * Screenshot(absolute path), ChangeCdrom(path, force): '' ejects, a
 * relative path is relative to the machine's folder). Errors come back as org.hangar.Error.* names,
 * which map to HgrLibraryError codes.
 * The process that runs the VM serves it; machine.c is the client. */
#pragma once

#include <gio/gio.h>

#include "machine.h"

G_BEGIN_DECLS

typedef struct HgrControlServer HgrControlServer;

/* Serves m (running in this process) until freed. */
HgrControlServer *hgr_control_server_new(HgrMachine *m, GError **error);
void hgr_control_server_free(HgrControlServer *s);

/* The socket path for a VM's UUID (XDG_RUNTIME_DIR, or a per-user folder in /tmp). */
char *hgr_control_socket_path(const char *uuid);

/* How long the process running a VM may take to answer a connect or a
 * question about its state before it counts as hung. */
#define HGR_CONTROL_ANSWER_MS 3000

/* A connection to the process running the VM; NULL with error when nothing
 * answers (the VM is not running anywhere), or when it does not complete
 * the handshake within HGR_CONTROL_ANSWER_MS. */
GDBusConnection *hgr_control_connect(const char *uuid, GError **error);
/* The same without waiting: the handshake runs on a worker thread and the
 * callback comes on the thread-default main context. */
void hgr_control_connect_async(const char *uuid, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
GDBusConnection *hgr_control_connect_finish(GAsyncResult *result, GError **error);

G_END_DECLS
