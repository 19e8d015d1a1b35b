/* display-input.c — keyboard and pointer from the display view to the
 * guest (see display-view.h).
 *
 * A click on the picture grabs: keys (passed on by the window, which sees
 * them before its accelerators do) and pointer go to the guest, and the
 * desktop's own shortcuts are inhibited, until the host key (Right Ctrl)
 * or the window losing focus releases them. The guest has a PS/2 mouse,
 * which only knows relative motion: host motion is turned into deltas in
 * guest pixels, so the guest's pointer moves as far as the host's does on
 * the picture. On X11 the host pointer is put back in the middle of the
 * picture when it nears an edge, so motion never runs out; elsewhere (GTK
 * offers no pointer confinement) it stops at the window's edge. */
#include <hangar/input.h>

#include "display-view-private.h"

#ifdef GDK_WINDOWING_X11
#include <X11/Xlib.h>
#include <gdk/x11/gdkx.h>
#endif

static void send_key(unsigned code, bool down, void *user_data)
{
    HgrDisplayView *view = user_data;

    if (view->vm)
        hgr_vm_input_key(view->vm, code, down);
    hgr_display_view_wake(view);
}

static GdkToplevel *toplevel_of(HgrDisplayView *view)
{
    GtkNative *native = gtk_widget_get_native(GTK_WIDGET(view));
    GdkSurface *surface = native ? gtk_native_get_surface(native) : NULL;

    return surface && GDK_IS_TOPLEVEL(surface) ? GDK_TOPLEVEL(surface) : NULL;
}

void hgr_display_input_grab(HgrDisplayView *view)
{
    GdkToplevel *top = toplevel_of(view);

    if (view->grabbed || !view->vm)
        return;
    view->grabbed = TRUE;
    view->have_pointer = FALSE;
    view->rest_x = view->rest_y = 0;
    gtk_widget_grab_focus(GTK_WIDGET(view));
    if (top)
        gdk_toplevel_inhibit_system_shortcuts(top, NULL);
    gtk_widget_set_cursor_from_name(GTK_WIDGET(view), "none");
    hgr_display_input_notify_grabbed(view);
}

void hgr_display_input_release(HgrDisplayView *view)
{
    GdkToplevel *top = toplevel_of(view);

    if (!view->grabbed)
        return;
    view->grabbed = FALSE;
    /* Whatever the guest holds is let go, or it would repeat forever. */
    hgr_key_state_release_all(&view->keys, send_key, view);
    if (view->buttons && view->vm)
        hgr_vm_input_pointer(view->vm, 0, 0, 0, 0);
    view->buttons = 0;
    if (top)
        gdk_toplevel_restore_system_shortcuts(top);
    gtk_widget_set_cursor(GTK_WIDGET(view), NULL);
    hgr_display_input_notify_grabbed(view);
}

void hgr_display_view_release(HgrDisplayView *view)
{
    g_return_if_fail(HGR_IS_DISPLAY_VIEW(view));
    hgr_display_input_release(view);
}

gboolean hgr_display_view_key(HgrDisplayView *view, guint hardware_keycode, gboolean down)
{
    g_return_val_if_fail(HGR_IS_DISPLAY_VIEW(view), FALSE);

    if (!view->grabbed)
        return FALSE;
    unsigned code = hgr_keymap_evdev_from_hardware(hardware_keycode);
    if (code == HGR_KEYMAP_HOST_KEY) {
        if (down)
            hgr_display_input_release(view);
        return TRUE;
    }
    if (hgr_key_state_event(&view->keys, code, down))
        send_key(code, down, view);
    return TRUE;
}

void hgr_display_view_send_combo(HgrDisplayView *view, const unsigned *codes, unsigned n)
{
    g_return_if_fail(HGR_IS_DISPLAY_VIEW(view));

    if (!view->vm)
        return;
    for (unsigned i = 0; i < n; i++)
        hgr_vm_input_key(view->vm, codes[i], true);
    for (unsigned i = n; i-- > 0;)
        hgr_vm_input_key(view->vm, codes[i], false);
}

static unsigned button_bit(guint button)
{
    switch (button) {
    case GDK_BUTTON_PRIMARY: return HGR_INPUT_BUTTON_LEFT;
    case GDK_BUTTON_MIDDLE: return HGR_INPUT_BUTTON_MIDDLE;
    case GDK_BUTTON_SECONDARY: return HGR_INPUT_BUTTON_RIGHT;
    case 8: return HGR_INPUT_BUTTON_SIDE;       /* back */
    case 9: return HGR_INPUT_BUTTON_EXTRA;      /* forward */
    default: return 0;
    }
}

/* Guest pixels per view unit: the picture may be scaled. */
static double guest_per_unit(HgrDisplayView *view)
{
    GtkWidget *w = GTK_WIDGET(view);

    return hgr_display_guest_per_unit(view->staging.width, view->staging.height,
                                      gtk_widget_get_width(w), gtk_widget_get_height(w),
                                      view->fit, gtk_widget_get_scale_factor(w));
}

/* Whole guest pixels of motion; the fraction is kept for next time. */
static int take_whole(double *rest, double delta)
{
    double total = *rest + delta;
    int whole = (int)CLAMP(total, -10000.0, 10000.0);

    *rest = total - whole;
    return whole;
}

/* Where the view's origin is in its surface's coordinates (those of the
 * events a legacy controller sees). */
static gboolean view_origin(HgrDisplayView *view, double *x, double *y)
{
    GtkNative *native = gtk_widget_get_native(GTK_WIDGET(view));
    graphene_point_t at;
    double nx, ny;

    if (!native || !gtk_widget_compute_point(GTK_WIDGET(view), GTK_WIDGET(native),
                                             &GRAPHENE_POINT_INIT(0, 0), &at))
        return FALSE;
    gtk_native_get_surface_transform(native, &nx, &ny);
    *x = at.x + nx;
    *y = at.y + ny;
    return TRUE;
}

/* Motion closer than this to an edge of the view recenters the pointer. */
#define EDGE_MARGIN 24.0

static void recenter_if_near_edge(HgrDisplayView *view, double x, double y)
{
#ifdef GDK_WINDOWING_X11
    GtkWidget *w = GTK_WIDGET(view);
    GdkDisplay *display = gtk_widget_get_display(w);
    GtkNative *native = gtk_widget_get_native(w);
    double ox, oy, width = gtk_widget_get_width(w), height = gtk_widget_get_height(w);

    if (!GDK_IS_X11_DISPLAY(display) || !native || !view_origin(view, &ox, &oy) ||
        width < 4 * EDGE_MARGIN || height < 4 * EDGE_MARGIN)
        return;
    x -= ox;
    y -= oy;
    if (x > EDGE_MARGIN && y > EDGE_MARGIN && x < width - EDGE_MARGIN && y < height - EDGE_MARGIN)
        return;
    GdkSurface *surface = gtk_native_get_surface(native);
    int scale = gdk_surface_get_scale_factor(surface);
    XWarpPointer(gdk_x11_display_get_xdisplay(display), None, gdk_x11_surface_get_xid(surface),
                 0, 0, 0, 0, (int)((ox + width / 2) * scale), (int)((oy + height / 2) * scale));
    /* The jump itself is not motion for the guest. */
    view->have_pointer = FALSE;
#endif
}

static void on_motion(HgrDisplayView *view, GdkEvent *event)
{
    double x, y;

    if (!gdk_event_get_position(event, &x, &y))
        return;
    if (view->have_pointer) {
        double k = guest_per_unit(view);
        int dx = take_whole(&view->rest_x, (x - view->last_x) * k);
        int dy = take_whole(&view->rest_y, (y - view->last_y) * k);
        if (dx || dy)
            hgr_vm_input_pointer(view->vm, dx, dy, 0, view->buttons);
    }
    view->last_x = x;
    view->last_y = y;
    view->have_pointer = TRUE;
    recenter_if_near_edge(view, x, y);
}

static void on_scroll(HgrDisplayView *view, GdkEvent *event)
{
    double dx, dy;
    int wheel = 0;

    switch (gdk_scroll_event_get_direction(event)) {
    case GDK_SCROLL_UP: wheel = 1; break;      /* away from the user */
    case GDK_SCROLL_DOWN: wheel = -1; break;
    case GDK_SCROLL_SMOOTH:
        gdk_scroll_event_get_deltas(event, &dx, &dy);
        wheel = -take_whole(&view->rest_wheel, dy);
        break;
    default: break;
    }
    if (wheel)
        hgr_vm_input_pointer(view->vm, 0, 0, wheel, view->buttons);
}

static gboolean on_event(GtkEventControllerLegacy *controller, GdkEvent *event, gpointer data)
{
    HgrDisplayView *view = data;
    GdkEventType type = gdk_event_get_event_type(event);

    if (!view->grabbed) {
        /* A click on the picture gives it keyboard and pointer; the click
         * itself stays with the host. */
        if (type == GDK_BUTTON_PRESS && view->vm) {
            hgr_display_input_grab(view);
            return TRUE;
        }
        return FALSE;
    }
    if (!view->vm)
        return FALSE;
    hgr_display_view_wake(view);
    switch (type) {
    case GDK_MOTION_NOTIFY:
        on_motion(view, event);
        return TRUE;
    case GDK_BUTTON_PRESS:
    case GDK_BUTTON_RELEASE: {
        unsigned bit = button_bit(gdk_button_event_get_button(event));
        if (type == GDK_BUTTON_PRESS)
            view->buttons |= bit;
        else
            view->buttons &= ~bit;
        if (bit)
            hgr_vm_input_pointer(view->vm, 0, 0, 0, view->buttons);
        return TRUE;
    }
    case GDK_SCROLL:
        on_scroll(view, event);
        return TRUE;
    case GDK_LEAVE_NOTIFY:
        /* Deltas restart where the pointer comes back in. */
        view->have_pointer = FALSE;
        return FALSE;
    default:
        return FALSE;
    }
}

void hgr_display_input_init(HgrDisplayView *view)
{
    GtkEventController *legacy = gtk_event_controller_legacy_new();

    g_signal_connect(legacy, "event", G_CALLBACK(on_event), view);
    gtk_widget_add_controller(GTK_WIDGET(view), legacy);
}
