/* serial-view.c — the VM's serial port as a terminal (see serial-view.h). */
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "serial-view.h"

#define SCROLLBACK_LINES 10000

struct _HgrSerialView {
    VteTerminal parent;
};

G_DEFINE_FINAL_TYPE(HgrSerialView, hgr_serial_view, VTE_TYPE_TERMINAL)

GtkWidget *hgr_serial_view_new(void)
{
    return g_object_new(HGR_TYPE_SERIAL_VIEW, NULL);
}

/* The guest's side is raw (no echo, no line editing, no newline
 * translation: the guest's own terminal handling is the one that counts)
 * and non-blocking (a guest writing faster than the view reads must not
 * stall). */
static int open_pty(int *master, GError **error)
{
    char name[128];
    struct termios t;
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), s = -1;

    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0)
        goto fail;
    s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (s < 0 || tcgetattr(s, &t) < 0)
        goto fail;
    cfmakeraw(&t);
    if (tcsetattr(s, TCSANOW, &t) < 0)
        goto fail;
    *master = m;
    return s;

fail:
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                "cannot make a terminal for the serial console: %s "
                "(is /dev/pts mounted, or the pty limit in /proc/sys/kernel/pty/max reached?)",
                g_strerror(errno));
    if (s >= 0)
        close(s);
    if (m >= 0)
        close(m);
    return -1;
}

HgrSerialPty *hgr_serial_pty_new(GError **error)
{
    HgrSerialPty *pty = g_new(HgrSerialPty, 1);

    pty->guest = open_pty(&pty->master, error);
    if (pty->guest < 0) {
        g_free(pty);
        return NULL;
    }
    return pty;
}

void hgr_serial_pty_free(HgrSerialPty *pty)
{
    if (!pty)
        return;
    close(pty->master);
    close(pty->guest);
    g_free(pty);
}

gboolean hgr_serial_view_attach(HgrSerialView *view, const HgrSerialPty *pty, GError **error)
{
    g_return_val_if_fail(HGR_IS_SERIAL_VIEW(view), FALSE);

    /* VTE owns the fd it is given: it gets a copy. */
    int fd = fcntl(pty->master, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot attach the serial console: %s", g_strerror(errno));
        return FALSE;
    }
    g_autoptr(VtePty) vpty = vte_pty_new_foreign_sync(fd, NULL, error);
    if (!vpty)
        return FALSE;
    vte_terminal_set_pty(VTE_TERMINAL(view), vpty);
    return TRUE;
}

void hgr_serial_view_say(HgrSerialView *view, const char *text)
{
    g_autofree char *crlf = g_strjoinv("\r\n", (char *[]){ (char *)text, "", NULL });
    vte_terminal_feed(VTE_TERMINAL(view), crlf, -1);
}

static gboolean on_key(GtkEventControllerKey *keys, guint keyval, guint keycode,
                       GdkModifierType state, gpointer data)
{
    VteTerminal *term = data;
    GdkModifierType mods = state & gtk_accelerator_get_default_mod_mask();

    if (mods != (GDK_CONTROL_MASK | GDK_SHIFT_MASK))
        return FALSE;
    switch (gdk_keyval_to_lower(keyval)) {
    case GDK_KEY_c:
        vte_terminal_copy_clipboard_format(term, VTE_FORMAT_TEXT);
        return TRUE;
    case GDK_KEY_v:
        vte_terminal_paste_clipboard(term);
        return TRUE;
    default:
        return FALSE;
    }
}

static void hgr_serial_view_class_init(HgrSerialViewClass *klass)
{
}

static void hgr_serial_view_init(HgrSerialView *view)
{
    VteTerminal *term = VTE_TERMINAL(view);

    vte_terminal_set_scrollback_lines(term, SCROLLBACK_LINES);
    vte_terminal_set_scroll_on_output(term, TRUE);
    vte_terminal_set_scroll_on_keystroke(term, TRUE);
    gtk_widget_set_hexpand(GTK_WIDGET(view), TRUE);
    gtk_widget_set_vexpand(GTK_WIDGET(view), TRUE);
    gtk_accessible_update_property(GTK_ACCESSIBLE(view), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   _("Serial console"), -1);

    /* Copy and paste keys before VTE sends them to the guest as Ctrl+C. */
    GtkEventController *keys = gtk_event_controller_key_new();
    gtk_event_controller_set_propagation_phase(keys, GTK_PHASE_CAPTURE);
    g_signal_connect(keys, "key-pressed", G_CALLBACK(on_key), view);
    gtk_widget_add_controller(GTK_WIDGET(view), keys);
}
