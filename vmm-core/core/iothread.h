/* iothread.h — the VM's I/O thread: one GMainContext run on its own thread.
 *
 * ioeventfd notifications, disk completions, network and timers all run
 * here, never on a vCPU thread and never on the GTK thread.
 */
#pragma once

#include <glib.h>
#include <glib-unix.h>
#include <stdbool.h>

typedef struct HgrIoThread HgrIoThread;

HgrIoThread *hgr_iothread_new(const char *name);
void hgr_iothread_free(HgrIoThread *t);     /* stops it first */
void hgr_iothread_start(HgrIoThread *t);
void hgr_iothread_stop(HgrIoThread *t);
GMainContext *hgr_iothread_context(HgrIoThread *t);

/* Watches fd for cond; fn runs on the I/O thread. Returns a source id for
 * hgr_iothread_remove(). Works before the thread starts. */
guint hgr_iothread_add_fd(HgrIoThread *t, int fd, GIOCondition cond, GUnixFDSourceFunc fn,
                          gpointer data);
guint hgr_iothread_add_timeout(HgrIoThread *t, guint ms, GSourceFunc fn, gpointer data);
void hgr_iothread_remove(HgrIoThread *t, guint id);
/* Runs fn(data) on the I/O thread and waits for it to finish (runs inline
 * when called on the I/O thread or when it is not running). */
void hgr_iothread_call(HgrIoThread *t, GSourceFunc fn, gpointer data);
bool hgr_iothread_is_current(HgrIoThread *t);
