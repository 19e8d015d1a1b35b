/* iothread.c — a GMainLoop on a thread, with a synchronous call primitive. */
#include "iothread.h"

#include <glib-unix.h>

struct HgrIoThread {
    char *name;
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
};

HgrIoThread *hgr_iothread_new(const char *name)
{
    HgrIoThread *t = g_new0(HgrIoThread, 1);
    t->name = g_strdup(name);
    t->ctx = g_main_context_new();
    t->loop = g_main_loop_new(t->ctx, FALSE);
    return t;
}

static gpointer run(gpointer data)
{
    HgrIoThread *t = data;

    g_main_context_push_thread_default(t->ctx);
    g_main_loop_run(t->loop);
    g_main_context_pop_thread_default(t->ctx);
    return NULL;
}

void hgr_iothread_start(HgrIoThread *t)
{
    if (!t->thread)
        t->thread = g_thread_new(t->name, run, t);
}

static gboolean quit_loop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

void hgr_iothread_stop(HgrIoThread *t)
{
    if (!t->thread)
        return;
    /* Quit from inside the loop: a g_main_loop_quit() from here could land
     * before g_main_loop_run() starts and be lost. */
    GSource *src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_HIGH);
    g_source_set_callback(src, quit_loop, t->loop, NULL);
    g_source_attach(src, t->ctx);
    g_source_unref(src);
    g_thread_join(t->thread);
    t->thread = NULL;
}

void hgr_iothread_free(HgrIoThread *t)
{
    if (!t)
        return;
    hgr_iothread_stop(t);
    g_main_loop_unref(t->loop);
    g_main_context_unref(t->ctx);
    g_free(t->name);
    g_free(t);
}

GMainContext *hgr_iothread_context(HgrIoThread *t)
{
    return t->ctx;
}

bool hgr_iothread_is_current(HgrIoThread *t)
{
    return t->thread == g_thread_self();
}

static guint attach(HgrIoThread *t, GSource *src, GSourceFunc fn, gpointer data)
{
    g_source_set_callback(src, fn, data, NULL);
    guint id = g_source_attach(src, t->ctx);
    g_source_unref(src);
    return id;
}

guint hgr_iothread_add_fd(HgrIoThread *t, int fd, GIOCondition cond, GUnixFDSourceFunc fn,
                          gpointer data)
{
    return attach(t, g_unix_fd_source_new(fd, cond), (GSourceFunc)(void (*)(void))fn, data);
}

guint hgr_iothread_add_timeout(HgrIoThread *t, guint ms, GSourceFunc fn, gpointer data)
{
    return attach(t, g_timeout_source_new(ms), fn, data);
}

void hgr_iothread_remove(HgrIoThread *t, guint id)
{
    GSource *src = g_main_context_find_source_by_id(t->ctx, id);
    if (src)
        g_source_destroy(src);
}

typedef struct {
    GSourceFunc fn;
    gpointer data;
    GMutex lock;
    GCond cond;
    bool done;
} Call;

static gboolean call_trampoline(gpointer p)
{
    Call *c = p;

    c->fn(c->data);
    g_mutex_lock(&c->lock);
    c->done = true;
    g_cond_signal(&c->cond);
    g_mutex_unlock(&c->lock);
    return G_SOURCE_REMOVE;
}

void hgr_iothread_call(HgrIoThread *t, GSourceFunc fn, gpointer data)
{
    if (!t->thread || hgr_iothread_is_current(t)) {
        fn(data);
        return;
    }
    Call c = { .fn = fn, .data = data };
    g_mutex_init(&c.lock);
    g_cond_init(&c.cond);
    GSource *src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_HIGH);
    attach(t, src, call_trampoline, &c);
    g_mutex_lock(&c.lock);
    while (!c.done)
        g_cond_wait(&c.cond, &c.lock);
    g_mutex_unlock(&c.lock);
    g_mutex_clear(&c.lock);
    g_cond_clear(&c.cond);
}
