/* vm-window.c — the window of one VM: screen and serial console, state
 * and activity (see vm-window.h; its actions are vm-window-actions.c). */
#include <glib/gi18n.h>

#include "machine-labels.h"
#include "vm-window-private.h"
#include "windows.h"

/* The machine's window, so showing it twice raises the one window. */
#define WINDOW_KEY "hgr-vm-window"
/* The machine's serial pty pair: the VM uses its side from start to stop,
 * whether or not a window shows the other, so it lives with the machine
 * (made on first use, reused by every window and run, closed with it). */
#define PTY_KEY "hgr-serial-pty"
/* Activity lights: how often they look at the VM's counters. */
#define ACTIVITY_POLL_MS 250
/* A VM in another process: how often to ask it for its state. */
#define STATE_POLL_MS 2000

enum {
    PROP_0,
    PROP_MACHINE,
    PROP_SCALE_TO_FIT,
    N_PROPS,
};

static GParamSpec *props[N_PROPS];

G_DEFINE_FINAL_TYPE(HgrVmWindow, hgr_vm_window, ADW_TYPE_APPLICATION_WINDOW)

HgrMachine *hgr_vm_window_get_machine(HgrVmWindow *win)
{
    g_return_val_if_fail(HGR_IS_VM_WINDOW(win), NULL);
    return win->machine;
}

void hgr_vm_window_toast(HgrVmWindow *win, const char *message)
{
    AdwToast *toast = adw_toast_new(message);

    adw_toast_set_timeout(toast, 6);
    adw_toast_overlay_add_toast(win->toasts, toast);
}

void hgr_vm_window_error(HgrVmWindow *win, const char *heading, const char *message)
{
    GtkWidget *dialog = adw_message_dialog_new(GTK_WINDOW(win), heading, message);

    adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(dialog), "close", _("_Close"));
    gtk_window_present(GTK_WINDOW(dialog));
}

gboolean hgr_vm_window_start(HgrVmWindow *win)
{
    g_autoptr(GError) error = NULL;
    HgrMachineStartOptions opts = {
        .serial_fd = win->pty ? win->pty->guest : -1,
    };

    if (hgr_machine_start(win->machine, &opts, &error))
        return TRUE;
    g_autofree char *heading = g_strdup_printf(_("“%s” Did Not Start"),
                                               hgr_machine_get_name(win->machine));
    hgr_vm_window_error(win, heading, error->message);
    return FALSE;
}

static gboolean is_live(HgrMachineState state)
{
    return state == HGR_MACHINE_RUNNING || state == HGR_MACHINE_PAUSED;
}

static gboolean running_here(HgrVmWindow *win)
{
    return win->machine && hgr_machine_is_running_here(win->machine) &&
           is_live(hgr_machine_get_state(win->machine));
}

static gboolean destroy_window(gpointer data)
{
    gtk_window_destroy(GTK_WINDOW(data));
    return G_SOURCE_REMOVE;
}

static void set_light(GtkImage *light, gboolean on)
{
    GtkWidget *w = GTK_WIDGET(light);

    if (on) {
        gtk_widget_remove_css_class(w, "dim-label");
        gtk_widget_add_css_class(w, "accent");
    } else {
        gtk_widget_remove_css_class(w, "accent");
        gtk_widget_add_css_class(w, "dim-label");
    }
}

static void describe_light(GtkImage *light, const char *what, uint64_t in, uint64_t out,
                           const char *in_word, const char *out_word)
{
    g_autofree char *a = g_format_size(in), *b = g_format_size(out);
    g_autofree char *text = g_strdup_printf("%s: %s %s, %s %s", what, a, in_word, b, out_word);

    gtk_widget_set_tooltip_text(GTK_WIDGET(light), text);
}

static gboolean poll_activity(gpointer data)
{
    HgrVmWindow *win = data;
    HgrVm *vm = hgr_machine_get_vm(win->machine);
    HgrVmActivity now, *last = &win->last_activity;

    if (!vm)
        return G_SOURCE_CONTINUE;
    hgr_vm_get_activity(vm, &now);
    set_light(win->disk_light, now.disk_read_bytes != last->disk_read_bytes ||
                                   now.disk_write_bytes != last->disk_write_bytes);
    set_light(win->net_light, now.net_rx_bytes != last->net_rx_bytes ||
                                  now.net_tx_bytes != last->net_tx_bytes);
    describe_light(win->disk_light, _("Disk"), now.disk_read_bytes, now.disk_write_bytes,
                   _("read"), _("written"));
    describe_light(win->net_light, _("Network"), now.net_rx_bytes, now.net_tx_bytes,
                   _("received"), _("sent"));
    *last = now;
    return G_SOURCE_CONTINUE;
}

static void update_activity_timer(HgrVmWindow *win, gboolean want)
{
    if (want && !win->activity_timer) {
        win->last_activity = (HgrVmActivity){ 0 };
        win->activity_timer = g_timeout_add(ACTIVITY_POLL_MS, poll_activity, win);
    } else if (!want && win->activity_timer) {
        g_clear_handle_id(&win->activity_timer, g_source_remove);
        set_light(win->disk_light, FALSE);
        set_light(win->net_light, FALSE);
    }
}

static void update_hint(HgrVmWindow *win)
{
    gboolean grabbed = hgr_display_view_get_grabbed(win->display);

    gtk_label_set_text(win->hint_label,
                       grabbed ? _("The guest has the keyboard and pointer: Right Ctrl releases the keyboard")
                               : _("Click the display to control the guest; Right Ctrl releases the keyboard"));
}

static void update_off_page(HgrVmWindow *win, HgrMachineState state, gboolean here)
{
    AdwStatusPage *page = win->off_page;

    gtk_widget_set_visible(GTK_WIDGET(page), !(is_live(state) && here));
    if (is_live(state)) {
        adw_status_page_set_title(page, _("Running Elsewhere"));
        adw_status_page_set_description(page,
            _("This VM was started outside Hangar’s window (for example with “hangarctl start”); "
              "its screen and serial console are where it runs. Pause and Shut down work from here."));
    } else if (state == HGR_MACHINE_FAILED) {
        adw_status_page_set_title(page, _("The VM Failed"));
        adw_status_page_set_description(page, hgr_machine_get_failure(win->machine));
    } else {
        adw_status_page_set_title(page, _("Powered Off"));
        adw_status_page_set_description(page, NULL);
    }
}

/* The state, or the action under way ("Pausing…") until it is answered. */
static void update_state_label(HgrVmWindow *win)
{
    HgrMachineAction pending;

    if (hgr_machine_get_pending_action(win->machine, &pending))
        gtk_label_set_text(win->state_label, hgr_machine_action_progress_label(pending));
    else
        gtk_label_set_text(win->state_label,
                           hgr_machine_state_name(hgr_machine_get_state(win->machine)));
}

static void on_state(HgrVmWindow *win)
{
    HgrMachineState state = hgr_machine_get_state(win->machine);
    gboolean here = hgr_machine_is_running_here(win->machine);
    gboolean paused = state == HGR_MACHINE_PAUSED;
    const char *pause_label = paused ? _("Resume") : _("Pause");

    /* Before anything else: the old VM may be gone already. */
    hgr_display_view_set_vm(win->display, is_live(state) && here ? hgr_machine_get_vm(win->machine)
                                                                 : NULL);
    update_off_page(win, state, here);
    update_activity_timer(win, is_live(state) && here);
    update_state_label(win);
    gtk_button_set_icon_name(win->pause_button, paused ? "media-playback-start-symbolic"
                                                       : "media-playback-pause-symbolic");
    gtk_widget_set_tooltip_text(GTK_WIDGET(win->pause_button), pause_label);
    gtk_accessible_update_property(GTK_ACCESSIBLE(win->pause_button),
                                   GTK_ACCESSIBLE_PROPERTY_LABEL, pause_label, -1);
    hgr_vm_window_update_actions(win);
}

/* Nothing tells this process when another one pauses or stops the VM
 * (or starts it): ask, without waiting, and "state" notifies on a change.
 * What runs here is never asked (refresh_state returns at once). */
static gboolean poll_state(gpointer data)
{
    HgrVmWindow *win = data;

    hgr_machine_refresh_state(win->machine);
    return G_SOURCE_CONTINUE;
}

static void on_state_notify(GObject *obj, GParamSpec *pspec, gpointer data)
{
    on_state(data);
}

static void on_busy_notify(GObject *obj, GParamSpec *pspec, gpointer data)
{
    update_state_label(data);
    hgr_vm_window_update_actions(data);
}

/* A disc changed here, by hangarctl or another window: Eject follows. */
static void on_cdrom_notify(GObject *obj, GParamSpec *pspec, gpointer data)
{
    hgr_vm_window_update_actions(data);
}

/* Keys reach the window before its accelerators and the application's:
 * while the guest has the keyboard they all go to it (Ctrl+Q is the
 * guest's then, not Hangar's). */
static gboolean on_key_pressed(GtkEventControllerKey *keys, guint keyval, guint keycode,
                               GdkModifierType state, gpointer data)
{
    HgrVmWindow *win = data;
    return hgr_display_view_key(win->display, keycode, TRUE);
}

static void on_key_released(GtkEventControllerKey *keys, guint keyval, guint keycode,
                            GdkModifierType state, gpointer data)
{
    HgrVmWindow *win = data;
    hgr_display_view_key(win->display, keycode, FALSE);
}

/* Keyboard and pointer come back when the window loses focus or the
 * display is not shown. */
static void release_grab(HgrVmWindow *win)
{
    hgr_display_view_release(win->display);
}

static void on_active_notify(GObject *obj, GParamSpec *pspec, gpointer data)
{
    if (!gtk_window_is_active(GTK_WINDOW(data)))
        release_grab(data);
}

static void on_page_notify(GObject *obj, GParamSpec *pspec, gpointer data)
{
    HgrVmWindow *win = data;

    if (g_strcmp0(adw_view_stack_get_visible_child_name(win->stack), "display") != 0)
        release_grab(win);
}

static void on_grabbed_notify(GObject *obj, GParamSpec *pspec, gpointer data)
{
    update_hint(data);
}

static void on_fullscreen_notify(GObject *obj, GParamSpec *pspec, gpointer data)
{
    HgrVmWindow *win = data;
    gboolean full = gtk_window_is_fullscreen(GTK_WINDOW(win));

    gtk_widget_set_visible(GTK_WIDGET(win->header_bar), !full);
    gtk_widget_set_visible(win->status_bar, !full);
    if (full)
        hgr_vm_window_toast(win, _("Press F11 to leave fullscreen (Right Ctrl first if the guest has the keyboard)"));
}

/* 1:1 scrolls when the frame is larger than the window; scaled never does. */
static void on_scale_notify(GObject *obj, GParamSpec *pspec, gpointer data)
{
    HgrVmWindow *win = data;
    GtkPolicyType policy = hgr_display_view_get_scale_to_fit(win->display) ? GTK_POLICY_NEVER
                                                                          : GTK_POLICY_AUTOMATIC;

    gtk_scrolled_window_set_policy(win->display_scroller, policy, policy);
    g_object_notify_by_pspec(G_OBJECT(win), props[PROP_SCALE_TO_FIT]);
}

void hgr_vm_window_close_for_good(HgrVmWindow *win)
{
    /* Not from inside the dialog's response: the dialog is transient for
     * this window. The VM, if it runs on, keeps its serial port (the pty
     * lives with the machine). */
    gtk_widget_set_visible(GTK_WIDGET(win), FALSE);
    g_idle_add_full(G_PRIORITY_DEFAULT, destroy_window, g_object_ref(win), g_object_unref);
}

static gboolean hgr_vm_window_close_request(GtkWindow *window)
{
    HgrVmWindow *win = HGR_VM_WINDOW(window);

    /* Only a VM running in this process is this window's to stop. */
    if (running_here(win)) {
        hgr_vm_window_ask_close(win);
        return TRUE;
    }
    return GTK_WINDOW_CLASS(hgr_vm_window_parent_class)->close_request(window);
}

static HgrSerialPty *machine_serial_pty(HgrMachine *m, GError **error)
{
    HgrSerialPty *pty = g_object_get_data(G_OBJECT(m), PTY_KEY);

    if (!pty && (pty = hgr_serial_pty_new(error)))
        g_object_set_data_full(G_OBJECT(m), PTY_KEY, pty, (GDestroyNotify)hgr_serial_pty_free);
    return pty;
}

static void attach_serial(HgrVmWindow *win)
{
    g_autoptr(GError) error = NULL;

    win->pty = machine_serial_pty(win->machine, &error);
    if (win->pty && hgr_serial_view_attach(win->serial, win->pty, &error))
        return;
    /* The VM still runs, its serial port to logs/serial.log only. */
    g_warning("%s", error->message);
    hgr_serial_view_say(win->serial, error->message);
    win->pty = NULL;
}

static void hgr_vm_window_constructed(GObject *obj)
{
    HgrVmWindow *win = HGR_VM_WINDOW(obj);

    G_OBJECT_CLASS(hgr_vm_window_parent_class)->constructed(obj);
    g_return_if_fail(win->machine);
    g_object_set_data(G_OBJECT(win->machine), WINDOW_KEY, win);
    attach_serial(win);
    g_object_bind_property(win->machine, "name", win, "title", G_BINDING_SYNC_CREATE);
    win->state_handler = g_signal_connect(win->machine, "notify::state",
                                          G_CALLBACK(on_state_notify), win);
    win->here_handler = g_signal_connect(win->machine, "notify::running-here",
                                         G_CALLBACK(on_state_notify), win);
    win->busy_handler = g_signal_connect(win->machine, "notify::busy",
                                         G_CALLBACK(on_busy_notify), win);
    win->cdrom_handler = g_signal_connect(win->machine, "notify::cdrom",
                                          G_CALLBACK(on_cdrom_notify), win);
    on_state(win);
    update_hint(win);
    poll_state(win);
    win->state_poll = g_timeout_add(STATE_POLL_MS, poll_state, win);
}

static void hgr_vm_window_dispose(GObject *obj)
{
    HgrVmWindow *win = HGR_VM_WINDOW(obj);

    update_activity_timer(win, FALSE);
    g_clear_handle_id(&win->state_poll, g_source_remove);
    if (win->display)
        hgr_display_view_set_vm(win->display, NULL);
    if (win->machine) {
        g_clear_signal_handler(&win->state_handler, win->machine);
        g_clear_signal_handler(&win->here_handler, win->machine);
        g_clear_signal_handler(&win->busy_handler, win->machine);
        g_clear_signal_handler(&win->cdrom_handler, win->machine);
        if (g_object_get_data(G_OBJECT(win->machine), WINDOW_KEY) == win)
            g_object_set_data(G_OBJECT(win->machine), WINDOW_KEY, NULL);
        g_clear_object(&win->machine);
    }
    gtk_widget_dispose_template(GTK_WIDGET(win), HGR_TYPE_VM_WINDOW);
    G_OBJECT_CLASS(hgr_vm_window_parent_class)->dispose(obj);
}

static void hgr_vm_window_get_property(GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
    HgrVmWindow *win = HGR_VM_WINDOW(obj);

    switch (id) {
    case PROP_MACHINE:
        g_value_set_object(value, win->machine);
        break;
    case PROP_SCALE_TO_FIT:
        /* Asked by the property action before the template is built too. */
        g_value_set_boolean(value, !win->display || hgr_display_view_get_scale_to_fit(win->display));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void hgr_vm_window_set_property(GObject *obj, guint id, const GValue *value,
                                       GParamSpec *pspec)
{
    HgrVmWindow *win = HGR_VM_WINDOW(obj);

    switch (id) {
    case PROP_MACHINE:
        win->machine = g_value_dup_object(value);
        break;
    case PROP_SCALE_TO_FIT:
        hgr_display_view_set_scale_to_fit(win->display, g_value_get_boolean(value));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void hgr_vm_window_class_init(HgrVmWindowClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    object_class->constructed = hgr_vm_window_constructed;
    object_class->dispose = hgr_vm_window_dispose;
    object_class->get_property = hgr_vm_window_get_property;
    object_class->set_property = hgr_vm_window_set_property;
    GTK_WINDOW_CLASS(klass)->close_request = hgr_vm_window_close_request;

    props[PROP_MACHINE] =
        g_param_spec_object("machine", NULL, NULL, HGR_TYPE_MACHINE,
                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[PROP_SCALE_TO_FIT] =
        g_param_spec_boolean("scale-to-fit", NULL, NULL, TRUE,
                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, props);

    g_type_ensure(HGR_TYPE_DISPLAY_VIEW);
    g_type_ensure(HGR_TYPE_SERIAL_VIEW);
    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/org/hangar/Hangar/vm-window.ui");
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, toasts);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, header_bar);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, power_button);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, pause_button);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, cd_button);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, stack);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, display_scroller);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, display);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, off_page);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, serial);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, status_bar);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, state_label);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, disk_light);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, net_light);
    gtk_widget_class_bind_template_child(widget_class, HgrVmWindow, hint_label);
    hgr_vm_window_class_add_actions(widget_class);
    hgr_vm_window_class_add_media_actions(widget_class);
}

/* libadwaita 1.2's split button gives its arrow (a GtkMenuButton inside)
 * no accessible name, so screen readers say "GtkMenuButton": name it. */
static void name_split_button_arrow(GtkWidget *split, const char *name)
{
    for (GtkWidget *c = gtk_widget_get_first_child(split); c; c = gtk_widget_get_next_sibling(c))
        if (GTK_IS_MENU_BUTTON(c))
            gtk_accessible_update_property(GTK_ACCESSIBLE(c), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                           name, -1);
}

static void hgr_vm_window_init(HgrVmWindow *win)
{
    /* Added here, before the application gives the window its
     * accelerators: controllers run in the order they were added. */
    GtkEventController *keys = gtk_event_controller_key_new();
    gtk_event_controller_set_propagation_phase(keys, GTK_PHASE_CAPTURE);
    g_signal_connect(keys, "key-pressed", G_CALLBACK(on_key_pressed), win);
    g_signal_connect(keys, "key-released", G_CALLBACK(on_key_released), win);
    gtk_widget_add_controller(GTK_WIDGET(win), keys);

    gtk_widget_init_template(GTK_WIDGET(win));
    name_split_button_arrow(win->power_button, _("Force Off or Reset"));
    g_signal_connect(win, "notify::is-active", G_CALLBACK(on_active_notify), win);
    g_signal_connect(win, "notify::fullscreened", G_CALLBACK(on_fullscreen_notify), win);
    g_signal_connect(win->stack, "notify::visible-child-name", G_CALLBACK(on_page_notify), win);
    g_signal_connect(win->display, "notify::grabbed", G_CALLBACK(on_grabbed_notify), win);
    g_signal_connect(win->display, "notify::scale-to-fit", G_CALLBACK(on_scale_notify), win);
}

void hgr_vm_window_show(HgrApplication *app, HgrMachine *m)
{
    HgrVmWindow *win = g_object_get_data(G_OBJECT(m), WINDOW_KEY);
    HgrMachineState state = hgr_machine_get_state(m);

    if (!win)
        win = g_object_new(HGR_TYPE_VM_WINDOW, "application", app, "machine", m, NULL);
    gtk_window_present(GTK_WINDOW(win));
    if (state == HGR_MACHINE_STOPPED || state == HGR_MACHINE_FAILED)
        hgr_vm_window_start(win);
}
