/* run-screenshots.c — screenshots at set times after the VM starts.
 *
 * One thread sleeps until each shot's time (or until the VM ends, which
 * wakes it at once so hangarctl never waits for a shot that cannot come). */
#include "run-screenshots.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    double seconds;
    char *path;
    bool tried;             /* written by the thread, read after it is joined */
} Shot;

struct HgrRunShots {
    GArray *shots;          /* of Shot, sorted by time */
    HgrVm *vm;
    GThread *thread;
    GMutex lock;
    GCond cond;
    bool ended;             /* under lock */
    gint64 start_us;        /* monotonic */
};

static void shot_clear(gpointer p)
{
    g_free(((Shot *)p)->path);
}

static int shot_cmp(gconstpointer a, gconstpointer b)
{
    double d = ((const Shot *)a)->seconds - ((const Shot *)b)->seconds;
    return d < 0 ? -1 : d > 0;
}

static bool parse_spec(const char *spec, Shot *out, GError **error)
{
    const char *colon = strchr(spec, ':');
    g_autofree char *secs = colon ? g_strndup(spec, colon - spec) : NULL;
    char *end = NULL;

    if (!colon || !*secs || !colon[1]) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--screenshot-at %s: expected SECONDS:PNG (e.g. 5:boot.png)", spec);
        return false;
    }
    errno = 0;
    double s = g_ascii_strtod(secs, &end);
    if (errno || *end || !(s >= 0) || s > 86400 * 365) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--screenshot-at %s: '%s' is not a number of seconds (e.g. 5 or 2.5)",
                    spec, secs);
        return false;
    }
    g_autofree char *dir = g_path_get_dirname(colon + 1);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--screenshot-at %s: directory %s does not exist (create it first)", spec,
                    dir);
        return false;
    }
    out->seconds = s;
    out->path = g_strdup(colon + 1);
    out->tried = false;
    return true;
}

HgrRunShots *hgr_run_shots_new(char **specs, GError **error)
{
    g_autoptr(GArray) shots = g_array_new(FALSE, TRUE, sizeof(Shot));

    g_array_set_clear_func(shots, shot_clear);
    for (char **s = specs; s && *s; s++) {
        Shot shot;
        if (!parse_spec(*s, &shot, error))
            return NULL;
        g_array_append_val(shots, shot);
    }
    g_array_sort(shots, shot_cmp);

    HgrRunShots *r = g_new0(HgrRunShots, 1);
    r->shots = g_steal_pointer(&shots);
    g_mutex_init(&r->lock);
    g_cond_init(&r->cond);
    return r;
}

static gpointer shots_thread(gpointer data)
{
    HgrRunShots *r = data;

    for (guint i = 0; i < r->shots->len; i++) {
        Shot *shot = &g_array_index(r->shots, Shot, i);
        gint64 due = r->start_us + (gint64)(shot->seconds * G_USEC_PER_SEC);

        g_mutex_lock(&r->lock);
        while (!r->ended && g_get_monotonic_time() < due)
            g_cond_wait_until(&r->cond, &r->lock, due);
        bool ended = r->ended;
        g_mutex_unlock(&r->lock);
        if (ended)
            break;

        g_autoptr(GError) error = NULL;
        shot->tried = true;
        if (!hgr_vm_screenshot(r->vm, shot->path, &error))
            fprintf(stderr, "hangarctl: no screenshot at %gs (%s): %s\n", shot->seconds,
                    shot->path, error->message);
    }
    return NULL;
}

void hgr_run_shots_start(HgrRunShots *r, HgrVm *vm)
{
    if (!r->shots->len)
        return;
    r->vm = vm;
    r->start_us = g_get_monotonic_time();
    r->thread = g_thread_new("screenshots", shots_thread, r);
}

void hgr_run_shots_finish(HgrRunShots *r)
{
    if (!r->thread)
        return;
    double ran = (g_get_monotonic_time() - r->start_us) / (double)G_USEC_PER_SEC;

    g_mutex_lock(&r->lock);
    r->ended = true;
    g_cond_signal(&r->cond);
    g_mutex_unlock(&r->lock);
    g_clear_pointer(&r->thread, g_thread_join);
    for (guint i = 0; i < r->shots->len; i++) {
        Shot *shot = &g_array_index(r->shots, Shot, i);
        if (!shot->tried)
            fprintf(stderr, "hangarctl: no screenshot at %gs (%s): the VM ended after %.1fs\n",
                    shot->seconds, shot->path, ran);
    }
}

void hgr_run_shots_free(HgrRunShots *r)
{
    if (!r)
        return;
    hgr_run_shots_finish(r);
    g_array_unref(r->shots);
    g_mutex_clear(&r->lock);
    g_cond_clear(&r->cond);
    g_free(r);
}
