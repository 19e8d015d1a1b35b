/* machine-private.h — the machine object, shared by machine.c (state, and
 * running in this process) and machine-remote.c (running in another). */
#pragma once

#include "control.h"
#include "library-private.h"
#include "serial-relay.h"

struct _HgrMachine {
    GObject parent;
    HgrLibrary *library;          /* weak: machines may outlive their library */
    GMainContext *context;        /* where signals and notifications go */
    char *dir;
    HgrMachineConfig *config;
    HgrMachineState state;
    char *failure;

    /* Running here. */
    HgrVm *vm;
    guint run;                    /* counts starts: news from an older run is dropped */
    struct RunTag *tag;           /* what the VMM threads' state callback gets */
    HgrControlServer *server;
    HgrSerialRelay *relay;

    /* Running in another process: our connection to its control socket. */
    GDBusConnection *remote;
    char *remote_stuck;           /* why the process running it cannot answer (stopped) */
    guint remote_signal;
    gulong remote_closed;
    bool refreshing;              /* an asynchronous state query is under way */

    /* Actions under way (hgr_machine_act_async), and the latest one. */
    guint acting;
    HgrMachineAction acting_action;
};

enum {
    PROP_0,
    PROP_NAME,
    PROP_OS_NAME,
    PROP_STATE,
    PROP_RUNNING_HERE,
    PROP_BUSY,
    PROP_CDROM,
    N_PROPS,
};
extern GParamSpec *hgr_machine_props[N_PROPS];

void hgr_machine_set_state(HgrMachine *m, HgrMachineState state, const char *failure);
/* Another HgrMachine of this process that runs m's VM (a new reference), or NULL. */
HgrMachine *hgr_machine_runner(HgrMachine *m);
/* A vmm-core error in the library's terms. */
void hgr_machine_translate_vm_error(GError **error, GError *e);

/* machine-remote.c: true when the VM answers on its control socket
 * (m->remote is then set and m->state follows it). Waits for the answer
 * (at most HGR_CONTROL_ANSWER_MS twice); a connected machine returns at once. */
bool hgr_machine_remote_probe(HgrMachine *m);
/* The same without waiting: m->state follows when the answer comes. */
void hgr_machine_remote_refresh(HgrMachine *m);
void hgr_machine_remote_drop(HgrMachine *m);
/* Calls a method of org.hangar.Machine1 on the other process. */
bool hgr_machine_remote_call(HgrMachine *m, const char *method, GVariant *args,
                             GError **error);
/* The same without waiting; a GTask of m, finished with g_task_propagate_boolean. */
void hgr_machine_remote_call_async(HgrMachine *m, const char *method, GVariant *args,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data);

/* hgr_machine_act_async() for a machine that another process runs: the
 * machine is busy until that process has answered method. */
void hgr_machine_remote_act_async(HgrMachine *m, HgrMachineAction action, const char *method,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data);

/* The D-Bus names of the states (State property). */
const char *hgr_machine_state_id(HgrMachineState s);
bool hgr_machine_state_from_id(const char *id, HgrMachineState *out);
