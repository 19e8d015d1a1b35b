/* display-view-private.h — what display-view.c (picture) and
 * display-input.c (keyboard and pointer) share. */
#pragma once

#include "display-gl.h"
#include "display-keymap.h"
#include "display-staging.h"
#include "display-view.h"

struct _HgrDisplayView {
    GtkGLArea parent;

    HgrVm *vm;
    HgrDisplayStaging staging;     /* the frame between the lock and GL */
    HgrDisplayGl *gl;              /* while realized */
    guint tick_id;
    guint64 ticks;
    guint64 renders;               /* frames drawn (tests wait on it) */
    unsigned idle_ticks;           /* ticks in a row that found no change */
    gboolean fit;

    /* Input (display-input.c). */
    gboolean grabbed;
    HgrKeyState keys;              /* keys the guest holds */
    unsigned buttons;              /* HGR_INPUT_BUTTON_* held */
    gboolean have_pointer;         /* last_x, last_y are valid */
    double last_x, last_y;
    double rest_x, rest_y;         /* motion below one guest pixel, kept */
    double rest_wheel;             /* smooth scrolling below one notch */
};

/* Input may make the guest draw: look at every tick again. */
static inline void hgr_display_view_wake(HgrDisplayView *view)
{
    view->idle_ticks = 0;
}

/* display-input.c */
void hgr_display_input_init(HgrDisplayView *view);
void hgr_display_input_grab(HgrDisplayView *view);
void hgr_display_input_release(HgrDisplayView *view);
void hgr_display_input_notify_grabbed(HgrDisplayView *view);
