/* vm-preview.c — a live thumbnail of a machine's screen (vm-preview.h). */
#include <glib/gi18n.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "frame-scale.h"
#include "machine-labels.h"
#include "vm-preview.h"

#define REFRESH_MS 500
/* A VM in another process: each picture is a PNG it encodes and we
 * decode, so far less often. */
#define REMOTE_REFRESH_MS 3000

/* Where the pictures come from. */
typedef enum {
    FEED_NONE,                    /* the icon for the state */
    FEED_HERE,                    /* frames of the VM running in this process */
    FEED_ELSEWHERE,               /* screenshots from the process running it */
} Feed;

struct _HgrVmPreview {
    GtkWidget parent;
    GtkWidget *stack;
    GtkWidget *picture;
    GtkWidget *placeholder;
    HgrMachine *machine;
    int max_width, max_height;
    guint timer;
    Feed feed;
    guint feed_serial;            /* counts feeds: a screenshot of an older one is dropped */
    bool shooting;                /* a screenshot is under way */
    char *resolution;
};

G_DEFINE_FINAL_TYPE(HgrVmPreview, hgr_vm_preview, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_MACHINE, PROP_MAX_WIDTH, PROP_MAX_HEIGHT, PROP_RESOLUTION, N_PROPS };
static GParamSpec *props[N_PROPS];

static void set_resolution(HgrVmPreview *self, uint32_t w, uint32_t h)
{
    g_autofree char *res = w && h ? g_strdup_printf("%u × %u", w, h) : NULL;
    if (g_strcmp0(res, self->resolution) == 0)
        return;
    g_free(self->resolution);
    self->resolution = g_steal_pointer(&res);
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_RESOLUTION]);
}

static void show_icon(HgrVmPreview *self)
{
    gtk_stack_set_visible_child(GTK_STACK(self->stack), self->placeholder);
    gtk_picture_set_paintable(GTK_PICTURE(self->picture), NULL);
    set_resolution(self, 0, 0);
}

/* Called synchronously by hgr_vm_display_update with the current frame. */
static void on_frame(const HgrConsoleSurface *s, const HgrConsoleRect *dirty, unsigned n_dirty,
                     void *data)
{
    HgrVmPreview *self = data;
    int scale = gtk_widget_get_scale_factor(GTK_WIDGET(self));
    uint32_t w, h;

    set_resolution(self, s->data ? s->width : 0, s->data ? s->height : 0);
    hgr_frame_fit(s->width, s->height, (uint32_t)(self->max_width * scale),
                  (uint32_t)(self->max_height * scale), &w, &h);
    if (!s->data || !w || !h) {
        gtk_stack_set_visible_child(GTK_STACK(self->stack), self->placeholder);
        return;
    }
    guint8 *pixels = g_malloc((size_t)w * h * 4);
    if (!hgr_frame_scale(s, pixels, w, h)) {
        g_free(pixels);
        return;
    }
    g_autoptr(GBytes) bytes = g_bytes_new_take(pixels, (size_t)w * h * 4);
    g_autoptr(GdkTexture) tex = gdk_memory_texture_new((int)w, (int)h, GDK_MEMORY_B8G8R8A8,
                                                       bytes, (gsize)w * 4);
    gtk_picture_set_paintable(GTK_PICTURE(self->picture), GDK_PAINTABLE(tex));
    gtk_stack_set_visible_child(GTK_STACK(self->stack), self->picture);
}

/* A VM running in another process: it writes a screenshot to a private
 * file, which a worker thread decodes, removes and scales like a frame. */
typedef struct {
    GWeakRef preview;
    HgrMachine *machine;
    guint feed_serial;
    char *path;
    uint32_t max_w, max_h;        /* the box, in device pixels */
    uint32_t width, height;       /* the guest's screen */
} Shot;

static void shot_free(Shot *shot)
{
    g_weak_ref_clear(&shot->preview);
    g_clear_object(&shot->machine);
    g_free(shot->path);
    g_free(shot);
}

/* The file, read without following a link and removed at once. */
static GBytes *take_file(const char *path, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int e = errno;

    g_unlink(path);
    if (fd < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s", path,
                    g_strerror(e));
        return NULL;
    }
    g_autoptr(GMappedFile) map = g_mapped_file_new_from_fd(fd, FALSE, error);
    close(fd);
    return map ? g_mapped_file_get_bytes(map) : NULL;
}

/* On a worker thread: the thumbnail (a GdkTexture) of the PNG. */
static void load_shot(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Shot *shot = data;
    GError *error = NULL;
    g_autoptr(GBytes) png = take_file(shot->path, &error);
    g_autoptr(GdkTexture) full = png ? gdk_texture_new_from_bytes(png, &error) : NULL;

    if (!full) {
        g_task_return_error(task, error);
        return;
    }
    /* GDK's default memory format is B, G, R, A bytes: the words of
     * XRGB8888 with the alpha byte ignored. */
    HgrConsoleSurface s = {
        .format = HGR_CONSOLE_FORMAT_XRGB8888,
        .width = (uint32_t)gdk_texture_get_width(full),
        .height = (uint32_t)gdk_texture_get_height(full),
    };
    s.stride = s.width * 4;
    g_autofree guint8 *pixels = g_malloc((size_t)s.stride * s.height);
    gdk_texture_download(full, pixels, s.stride);
    s.data = pixels;
    uint32_t w, h;
    hgr_frame_fit(s.width, s.height, shot->max_w, shot->max_h, &w, &h);
    guint8 *thumb = w && h ? g_malloc((size_t)w * h * 4) : NULL;
    if (!thumb || !hgr_frame_scale(&s, thumb, w, h)) {
        g_free(thumb);
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                "an empty screenshot (%ux%u)", s.width, s.height);
        return;
    }
    shot->width = s.width;
    shot->height = s.height;
    g_autoptr(GBytes) bytes = g_bytes_new_take(thumb, (size_t)w * h * 4);
    g_task_return_pointer(task, gdk_memory_texture_new((int)w, (int)h, GDK_MEMORY_B8G8R8A8,
                                                       bytes, (gsize)w * 4),
                          g_object_unref);
}

/* Back on the main thread, with the thumbnail or why there is none. A
 * failure (the VM just stopped, its process hangs, a bad file) shows the
 * icon, never a dialog: the next refresh tries again. */
static void shot_done(Shot *shot, GdkTexture *tex, const GError *error)
{
    g_autoptr(HgrVmPreview) self = g_weak_ref_get(&shot->preview);

    if (!self)
        return;
    self->shooting = false;
    if (self->feed != FEED_ELSEWHERE || self->feed_serial != shot->feed_serial)
        return;                   /* stopped, or started here, meanwhile */
    if (!tex) {
        g_debug("no thumbnail of %s: %s", hgr_machine_get_name(shot->machine), error->message);
        show_icon(self);
        return;
    }
    set_resolution(self, shot->width, shot->height);
    gtk_picture_set_paintable(GTK_PICTURE(self->picture), GDK_PAINTABLE(tex));
    gtk_stack_set_visible_child(GTK_STACK(self->stack), self->picture);
}

static void on_shot_loaded(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GdkTexture) tex = g_task_propagate_pointer(G_TASK(result), &error);

    shot_done(g_task_get_task_data(G_TASK(result)), tex, error);
}

static void on_shot_written(GObject *source, GAsyncResult *result, gpointer data)
{
    Shot *shot = data;
    g_autoptr(GError) error = NULL;

    if (!hgr_machine_screenshot_finish(HGR_MACHINE(source), result, &error)) {
        g_unlink(shot->path);
        shot_done(shot, NULL, error);
        shot_free(shot);
        return;
    }
    g_autoptr(GTask) task = g_task_new(NULL, NULL, on_shot_loaded, NULL);
    g_task_set_task_data(task, shot, (GDestroyNotify)shot_free);
    g_task_run_in_thread(task, load_shot);
}

/* One screenshot at a time: a process that is slow to answer is not
 * asked again before it has. A paused VM's picture does not change. */
static gboolean refresh_elsewhere(gpointer data)
{
    HgrVmPreview *self = data;
    g_autoptr(GError) error = NULL;

    if (self->shooting ||
        (hgr_machine_get_state(self->machine) == HGR_MACHINE_PAUSED &&
         gtk_stack_get_visible_child(GTK_STACK(self->stack)) == self->picture))
        return G_SOURCE_CONTINUE;
    g_autofree char *path = hgr_machine_screenshot_file_new(&error);
    if (!path) {
        g_debug("no thumbnail: %s", error->message);
        return G_SOURCE_CONTINUE;
    }
    int scale = gtk_widget_get_scale_factor(GTK_WIDGET(self));
    Shot *shot = g_new0(Shot, 1);
    g_weak_ref_init(&shot->preview, self);
    shot->machine = g_object_ref(self->machine);
    shot->feed_serial = self->feed_serial;
    shot->path = g_steal_pointer(&path);
    shot->max_w = (uint32_t)(self->max_width * scale);
    shot->max_h = (uint32_t)(self->max_height * scale);
    self->shooting = true;
    hgr_machine_screenshot_async(self->machine, shot->path, NULL, on_shot_written, shot);
    return G_SOURCE_CONTINUE;
}

static gboolean refresh(gpointer data)
{
    HgrVmPreview *self = data;
    HgrVm *vm = self->machine ? hgr_machine_get_vm(self->machine) : NULL;

    if (!vm || !hgr_vm_display_update(vm, true, on_frame, self)) {
        gtk_stack_set_visible_child(GTK_STACK(self->stack), self->placeholder);
        set_resolution(self, 0, 0);
    }
    return G_SOURCE_CONTINUE;
}

static const char *state_icon(HgrMachine *m)
{
    if (!m)
        return "computer-symbolic";
    switch (hgr_machine_get_state(m)) {
    case HGR_MACHINE_RUNNING:
    case HGR_MACHINE_PAUSED:
        /* Running in another process (hangarctl start): no frames here. */
        return hgr_machine_is_running_here(m) ? "video-display-symbolic"
                                              : "network-server-symbolic";
    case HGR_MACHINE_FAILED:
        return "computer-fail-symbolic";
    case HGR_MACHINE_STOPPED:
        break;
    }
    return "system-shutdown-symbolic";
}

static gboolean refresh_elsewhere(gpointer data);

/* Refreshes only while there is something to see: mapped, and the machine
 * running (or paused: its last frame), here or in another process. */
static Feed wanted_feed(HgrVmPreview *self)
{
    HgrMachine *m = self->machine;

    if (!m || !gtk_widget_get_mapped(GTK_WIDGET(self)))
        return FEED_NONE;
    HgrMachineState state = hgr_machine_get_state(m);
    if (state != HGR_MACHINE_RUNNING && state != HGR_MACHINE_PAUSED)
        return FEED_NONE;
    return hgr_machine_is_running_here(m) ? FEED_HERE : FEED_ELSEWHERE;
}

static void stop_feed(HgrVmPreview *self)
{
    g_clear_handle_id(&self->timer, g_source_remove);
    self->feed = FEED_NONE;
    self->feed_serial++;
}

static void update_timer(HgrVmPreview *self)
{
    Feed feed = wanted_feed(self);

    gtk_image_set_from_icon_name(GTK_IMAGE(self->placeholder), state_icon(self->machine));
    if (feed == self->feed)
        return;
    stop_feed(self);
    self->feed = feed;
    switch (feed) {
    case FEED_HERE:
        self->timer = g_timeout_add(REFRESH_MS, refresh, self);
        refresh(self);
        break;
    case FEED_ELSEWHERE:
        show_icon(self);          /* until the first picture comes */
        self->timer = g_timeout_add(REMOTE_REFRESH_MS, refresh_elsewhere, self);
        refresh_elsewhere(self);
        break;
    case FEED_NONE:
        show_icon(self);
        break;
    }
}

static void update_alt_text(HgrVmPreview *self)
{
    g_autofree char *alt = self->machine
        ? g_strdup_printf(_("Screen of %s"), hgr_machine_get_name(self->machine))
        : NULL;
    gtk_picture_set_alternative_text(GTK_PICTURE(self->picture), alt);
    gtk_accessible_update_property(GTK_ACCESSIBLE(self->picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   alt ? alt : "", -1);
    gtk_accessible_update_property(GTK_ACCESSIBLE(self->placeholder),
                                   GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   self->machine ? hgr_machine_state_label(hgr_machine_get_state(self->machine)) : "",
                                   -1);
}

static void on_machine_changed(HgrMachine *m, GParamSpec *pspec, HgrVmPreview *self)
{
    update_alt_text(self);
    update_timer(self);
}

void hgr_vm_preview_set_machine(HgrVmPreview *self, HgrMachine *m)
{
    g_return_if_fail(HGR_IS_VM_PREVIEW(self));
    if (self->machine == m)
        return;
    if (self->machine)
        g_signal_handlers_disconnect_by_data(self->machine, self);
    stop_feed(self);
    g_set_object(&self->machine, m);
    if (m) {
        g_signal_connect(m, "notify::state", G_CALLBACK(on_machine_changed), self);
        g_signal_connect(m, "notify::running-here", G_CALLBACK(on_machine_changed), self);
        g_signal_connect(m, "notify::name", G_CALLBACK(on_machine_changed), self);
    }
    update_alt_text(self);
    update_timer(self);
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_MACHINE]);
}

HgrMachine *hgr_vm_preview_get_machine(HgrVmPreview *self)
{
    return self->machine;
}

const char *hgr_vm_preview_get_resolution(HgrVmPreview *self)
{
    return self->resolution;
}

static void set_box(HgrVmPreview *self, int w, int h)
{
    self->max_width = MAX(w, 16);
    self->max_height = MAX(h, 12);
    gtk_widget_set_size_request(self->stack, self->max_width, self->max_height);
    gtk_image_set_pixel_size(GTK_IMAGE(self->placeholder), MIN(self->max_height / 2, 64));
}

static void hgr_vm_preview_map(GtkWidget *w)
{
    GTK_WIDGET_CLASS(hgr_vm_preview_parent_class)->map(w);
    update_timer(HGR_VM_PREVIEW(w));
}

static void hgr_vm_preview_unmap(GtkWidget *w)
{
    GTK_WIDGET_CLASS(hgr_vm_preview_parent_class)->unmap(w);
    update_timer(HGR_VM_PREVIEW(w));
}

static void hgr_vm_preview_get_property(GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
    HgrVmPreview *self = HGR_VM_PREVIEW(obj);
    switch (id) {
    case PROP_MACHINE: g_value_set_object(value, self->machine); break;
    case PROP_MAX_WIDTH: g_value_set_int(value, self->max_width); break;
    case PROP_MAX_HEIGHT: g_value_set_int(value, self->max_height); break;
    case PROP_RESOLUTION: g_value_set_string(value, self->resolution); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void hgr_vm_preview_set_property(GObject *obj, guint id, const GValue *value,
                                        GParamSpec *pspec)
{
    HgrVmPreview *self = HGR_VM_PREVIEW(obj);
    switch (id) {
    case PROP_MACHINE: hgr_vm_preview_set_machine(self, g_value_get_object(value)); break;
    case PROP_MAX_WIDTH: set_box(self, g_value_get_int(value), self->max_height); break;
    case PROP_MAX_HEIGHT: set_box(self, self->max_width, g_value_get_int(value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void hgr_vm_preview_dispose(GObject *obj)
{
    HgrVmPreview *self = HGR_VM_PREVIEW(obj);
    hgr_vm_preview_set_machine(self, NULL);
    g_clear_pointer(&self->stack, gtk_widget_unparent);
    G_OBJECT_CLASS(hgr_vm_preview_parent_class)->dispose(obj);
}

static void hgr_vm_preview_finalize(GObject *obj)
{
    g_free(HGR_VM_PREVIEW(obj)->resolution);
    G_OBJECT_CLASS(hgr_vm_preview_parent_class)->finalize(obj);
}

static void hgr_vm_preview_class_init(HgrVmPreviewClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    GtkWidgetClass *wc = GTK_WIDGET_CLASS(klass);

    oc->get_property = hgr_vm_preview_get_property;
    oc->set_property = hgr_vm_preview_set_property;
    oc->dispose = hgr_vm_preview_dispose;
    oc->finalize = hgr_vm_preview_finalize;
    wc->map = hgr_vm_preview_map;
    wc->unmap = hgr_vm_preview_unmap;

    props[PROP_MACHINE] = g_param_spec_object("machine", NULL, NULL, HGR_TYPE_MACHINE,
                                              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              G_PARAM_EXPLICIT_NOTIFY);
    props[PROP_MAX_WIDTH] = g_param_spec_int("max-width", NULL, NULL, 16, 4096, 160,
                                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_MAX_HEIGHT] = g_param_spec_int("max-height", NULL, NULL, 12, 4096, 120,
                                              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_RESOLUTION] = g_param_spec_string("resolution", NULL, NULL, NULL,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS |
                                                 G_PARAM_EXPLICIT_NOTIFY);
    g_object_class_install_properties(oc, N_PROPS, props);

    gtk_widget_class_set_layout_manager_type(wc, GTK_TYPE_BIN_LAYOUT);
    gtk_widget_class_set_css_name(wc, "vm-preview");
    gtk_widget_class_set_accessible_role(wc, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void hgr_vm_preview_init(HgrVmPreview *self)
{
    self->stack = gtk_stack_new();
    gtk_widget_set_parent(self->stack, GTK_WIDGET(self));
    gtk_widget_add_css_class(self->stack, "card");
    gtk_widget_set_overflow(self->stack, GTK_OVERFLOW_HIDDEN);
    self->placeholder = gtk_image_new_from_icon_name("computer-symbolic");
    gtk_widget_add_css_class(self->placeholder, "dim-label");
    gtk_stack_add_child(GTK_STACK(self->stack), self->placeholder);
    self->picture = gtk_picture_new();
    gtk_picture_set_can_shrink(GTK_PICTURE(self->picture), TRUE);
    gtk_picture_set_content_fit(GTK_PICTURE(self->picture), GTK_CONTENT_FIT_CONTAIN);
    gtk_stack_add_child(GTK_STACK(self->stack), self->picture);
    gtk_widget_set_halign(GTK_WIDGET(self), GTK_ALIGN_CENTER);
    gtk_widget_set_valign(GTK_WIDGET(self), GTK_ALIGN_CENTER);
    set_box(self, 160, 120);
}

GtkWidget *hgr_vm_preview_new(void)
{
    return g_object_new(HGR_TYPE_VM_PREVIEW, NULL);
}
