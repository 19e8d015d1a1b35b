/* display-view.c — the guest's picture in a GtkGLArea (see display-view.h).
 *
 * On each frame-clock tick the view asks the VM for what changed since the
 * last tick; the changed areas are copied out under the VM's display lock
 * (display-staging.c) and uploaded to the texture at the next render
 * (display-gl.c). Input is display-input.c. */
#include <glib/gi18n.h>

#include "display-view-private.h"

/* Asking the VM for changes costs vmm-core a pass over the whole frame
 * (3 ms at 1920x1080 here), so after half a second without a change the
 * view asks on every 4th tick only: 15 times a second, while input or a
 * change brings it back to every tick. */
#define IDLE_AFTER_TICKS 30
#define IDLE_EVERY_NTH_TICK 4

enum {
    PROP_0,
    PROP_SCALE_TO_FIT,
    PROP_GRABBED,
    N_PROPS,
};

static GParamSpec *props[N_PROPS];

G_DEFINE_FINAL_TYPE(HgrDisplayView, hgr_display_view, GTK_TYPE_GL_AREA)

GtkWidget *hgr_display_view_new(void)
{
    return g_object_new(HGR_TYPE_DISPLAY_VIEW, NULL);
}

/* Called by the VM under its display lock: copy, nothing more. */
static void take_frame(const HgrConsoleSurface *s, const HgrConsoleRect *dirty,
                       unsigned n_dirty, void *user_data)
{
    HgrDisplayView *view = user_data;
    uint32_t w = view->staging.width, h = view->staging.height;

    if (!hgr_display_staging_take(&view->staging, s, dirty, n_dirty))
        return;
    view->idle_ticks = 0;
    if (w != view->staging.width || h != view->staging.height)
        gtk_widget_queue_resize(GTK_WIDGET(view));
    gtk_gl_area_queue_render(GTK_GL_AREA(view));
}

static gboolean on_tick(GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
    HgrDisplayView *view = HGR_DISPLAY_VIEW(widget);

    view->ticks++;
    /* Hidden (the serial console in front): nothing to show, and the VM
     * keeps what changed for the next look. */
    if (!view->vm || !gtk_widget_get_mapped(widget) ||
        (view->idle_ticks >= IDLE_AFTER_TICKS && view->ticks % IDLE_EVERY_NTH_TICK))
        return G_SOURCE_CONTINUE;
    view->idle_ticks++;              /* take_frame() zeroes it on a change */
    hgr_vm_display_update(view->vm, false, take_frame, view);
    return G_SOURCE_CONTINUE;
}

/* Ticks run while there is a VM to show and a window to show it in. */
static void update_ticking(HgrDisplayView *view)
{
    gboolean want = view->vm && gtk_widget_get_realized(GTK_WIDGET(view));

    if (want && !view->tick_id)
        view->tick_id = gtk_widget_add_tick_callback(GTK_WIDGET(view), on_tick, NULL, NULL);
    else if (!want && view->tick_id) {
        gtk_widget_remove_tick_callback(GTK_WIDGET(view), view->tick_id);
        view->tick_id = 0;
    }
}

void hgr_display_view_set_vm(HgrDisplayView *view, HgrVm *vm)
{
    g_return_if_fail(HGR_IS_DISPLAY_VIEW(view));

    if (view->vm == vm)
        return;
    /* The old VM may be freed already (the machine notifies after): the
     * release must not reach it. */
    view->vm = NULL;
    hgr_display_input_release(view);
    view->vm = vm;
    hgr_display_view_wake(view);
    update_ticking(view);
}

void hgr_display_view_set_scale_to_fit(HgrDisplayView *view, gboolean fit)
{
    g_return_if_fail(HGR_IS_DISPLAY_VIEW(view));

    fit = !!fit;
    if (view->fit == fit)
        return;
    view->fit = fit;
    gtk_widget_queue_resize(GTK_WIDGET(view));
    gtk_gl_area_queue_render(GTK_GL_AREA(view));
    g_object_notify_by_pspec(G_OBJECT(view), props[PROP_SCALE_TO_FIT]);
}

gboolean hgr_display_view_get_scale_to_fit(HgrDisplayView *view)
{
    g_return_val_if_fail(HGR_IS_DISPLAY_VIEW(view), TRUE);
    return view->fit;
}

gboolean hgr_display_view_get_grabbed(HgrDisplayView *view)
{
    g_return_val_if_fail(HGR_IS_DISPLAY_VIEW(view), FALSE);
    return view->grabbed;
}

void hgr_display_input_notify_grabbed(HgrDisplayView *view)
{
    g_object_notify_by_pspec(G_OBJECT(view), props[PROP_GRABBED]);
}

static void hgr_display_view_realize(GtkWidget *widget)
{
    HgrDisplayView *view = HGR_DISPLAY_VIEW(widget);
    GtkGLArea *area = GTK_GL_AREA(widget);
    g_autoptr(GError) error = NULL;

    GTK_WIDGET_CLASS(hgr_display_view_parent_class)->realize(widget);
    gtk_gl_area_make_current(area);
    if (gtk_gl_area_get_error(area))
        return;                   /* GtkGLArea shows why in place of the picture */
    view->gl = hgr_display_gl_new(&error);
    if (!view->gl) {
        g_warning("the VM display cannot draw: %s", error->message);
        gtk_gl_area_set_error(area, error);
        return;
    }
    update_ticking(view);
}

static void hgr_display_view_unrealize(GtkWidget *widget)
{
    HgrDisplayView *view = HGR_DISPLAY_VIEW(widget);

    hgr_display_input_release(view);
    if (view->gl) {
        gtk_gl_area_make_current(GTK_GL_AREA(widget));
        g_clear_pointer(&view->gl, hgr_display_gl_free);
    }
    GTK_WIDGET_CLASS(hgr_display_view_parent_class)->unrealize(widget);
    update_ticking(view);
}

static gboolean hgr_display_view_render(GtkGLArea *area, GdkGLContext *context)
{
    HgrDisplayView *view = HGR_DISPLAY_VIEW(area);
    GtkWidget *widget = GTK_WIDGET(area);
    int scale = gtk_widget_get_scale_factor(widget);

    if (!view->gl)
        return FALSE;
    view->renders++;
    hgr_display_gl_upload(view->gl, &view->staging);
    hgr_display_gl_draw(view->gl, gtk_widget_get_width(widget) * scale,
                        gtk_widget_get_height(widget) * scale, view->fit);
    return TRUE;
}

/* Natural size: the guest's frame in screen pixels. 1:1 also needs all of
 * it (the window scrolls); scaled, the view shrinks as far as wanted. */
static void hgr_display_view_measure(GtkWidget *widget, GtkOrientation orientation,
                                     int for_size, int *minimum, int *natural,
                                     int *minimum_baseline, int *natural_baseline)
{
    HgrDisplayView *view = HGR_DISPLAY_VIEW(widget);
    int scale = gtk_widget_get_scale_factor(widget);
    gboolean horizontal = orientation == GTK_ORIENTATION_HORIZONTAL;
    int frame = (int)(horizontal ? view->staging.width : view->staging.height);
    int size = frame ? (frame + scale - 1) / scale : (horizontal ? 640 : 480);

    *natural = size;
    *minimum = view->fit ? 64 : size;
}

static void hgr_display_view_get_property(GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
    HgrDisplayView *view = HGR_DISPLAY_VIEW(obj);

    switch (id) {
    case PROP_SCALE_TO_FIT:
        g_value_set_boolean(value, view->fit);
        break;
    case PROP_GRABBED:
        g_value_set_boolean(value, view->grabbed);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void hgr_display_view_set_property(GObject *obj, guint id, const GValue *value,
                                          GParamSpec *pspec)
{
    switch (id) {
    case PROP_SCALE_TO_FIT:
        hgr_display_view_set_scale_to_fit(HGR_DISPLAY_VIEW(obj), g_value_get_boolean(value));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void hgr_display_view_finalize(GObject *obj)
{
    hgr_display_staging_clear(&HGR_DISPLAY_VIEW(obj)->staging);
    G_OBJECT_CLASS(hgr_display_view_parent_class)->finalize(obj);
}

static void hgr_display_view_class_init(HgrDisplayViewClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    object_class->get_property = hgr_display_view_get_property;
    object_class->set_property = hgr_display_view_set_property;
    object_class->finalize = hgr_display_view_finalize;
    widget_class->realize = hgr_display_view_realize;
    widget_class->unrealize = hgr_display_view_unrealize;
    widget_class->measure = hgr_display_view_measure;
    GTK_GL_AREA_CLASS(klass)->render = hgr_display_view_render;

    props[PROP_SCALE_TO_FIT] =
        g_param_spec_boolean("scale-to-fit", NULL, NULL, TRUE,
                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
    props[PROP_GRABBED] =
        g_param_spec_boolean("grabbed", NULL, NULL, FALSE,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, props);

    gtk_widget_class_set_css_name(widget_class, "hgr-display");
    gtk_widget_class_set_accessible_role(widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void hgr_display_view_init(HgrDisplayView *view)
{
    hgr_display_staging_init(&view->staging);
    view->fit = TRUE;
    gtk_gl_area_set_auto_render(GTK_GL_AREA(view), TRUE);
    gtk_widget_set_focusable(GTK_WIDGET(view), TRUE);
    gtk_widget_set_hexpand(GTK_WIDGET(view), TRUE);
    gtk_widget_set_vexpand(GTK_WIDGET(view), TRUE);
    gtk_accessible_update_property(GTK_ACCESSIBLE(view), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   _("Guest display"), -1);
    hgr_display_input_init(view);
}
