/* test-vm-window.c — the VM window under a real X server with a real VM
 * (KVM, SeaBIOS): the serial console shows what the firmware prints, the
 * display shows exactly the pixels the guest drew (read back from what GTK
 * renders, 1:1 and scaled), Pause pauses, and closing the window offers to
 * force the VM off, which stops it; after Keep Running or Shut down the
 * VM runs on and a reopened window's console shows it; pointer motion on the X server reaches the
 * guest's PS/2 mouse. The serial view alone: typing reaches
 * the guest's end unchanged and the guest's output is shown. */
#include <fcntl.h>
#include <math.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <unistd.h>

#include "control-private.h"
#include "control.h"
#include "fake-control-process.h"
#include "library.h"
#include "display-view-private.h"
#include <X11/Xlib.h>
#include <gdk/x11/gdkx.h>
#include "vm-window-fixture.h"
#include "vm-window-private.h"
#include "windows.h"

static char *terminal_text(VteTerminal *term)
{
    return vte_terminal_get_text(term, NULL, NULL, NULL);
}

typedef struct {
    VteTerminal *term;
    const char *needle;
} TextWait;

static gboolean text_shown(gpointer data)
{
    TextWait *w = data;
    g_autofree char *text = terminal_text(w->term);
    return text && strstr(text, w->needle);
}

/* The guest's frame, copied. */
typedef struct {
    uint32_t width, height;
    uint32_t *pixels;
} Frame;

static void copy_frame(const HgrConsoleSurface *s, const HgrConsoleRect *dirty,
                       unsigned n_dirty, void *user_data)
{
    Frame *f = user_data;

    if (!s->data)
        return;
    f->width = s->width;
    f->height = s->height;
    f->pixels = g_new(uint32_t, (size_t)s->width * s->height);
    for (uint32_t y = 0; y < s->height; y++)
        memcpy(f->pixels + (size_t)y * s->width, s->data + (size_t)y * s->stride, s->width * 4);
}

/* What GTK draws for the widget, as 0xAARRGGBB words (GDK's default
 * memory format is B, G, R, A bytes). */
static guint32 *render_widget(GtkWidget *widget, int *width, int *height)
{
    int w = gtk_widget_get_width(widget), h = gtk_widget_get_height(widget);
    g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new(widget);
    GtkSnapshot *snapshot = gtk_snapshot_new();

    gdk_paintable_snapshot(paintable, GDK_SNAPSHOT(snapshot), w, h);
    g_autoptr(GskRenderNode) node = gtk_snapshot_free_to_node(snapshot);
    g_assert_nonnull(node);
    GskRenderer *renderer = gtk_native_get_renderer(gtk_widget_get_native(widget));
    g_autoptr(GdkTexture) texture =
        gsk_renderer_render_texture(renderer, node, &GRAPHENE_RECT_INIT(0, 0, w, h));
    guint32 *out = g_new(guint32, (size_t)w * h);
    gdk_texture_download(texture, (guchar *)out, (gsize)w * 4);
    *width = w;
    *height = h;
    return out;
}

static uint32_t frame_at(const Frame *f, int x, int y)
{
    x = CLAMP(x, 0, (int)f->width - 1);
    y = CLAMP(y, 0, (int)f->height - 1);
    return f->pixels[(size_t)y * f->width + x] & 0xffffff;
}

static void check_scaled(const Frame *f, const guint32 *shown, int vw, int vh)
{
    HgrDisplayPlacement p = hgr_display_place(f->width, f->height, vw, vh, true);
    unsigned inside = 0, checked = 0, lit = 0;

    for (int vy = 0; vy < vh; vy++) {
        for (int vx = 0; vx < vw; vx++) {
            double px = vx + 0.5, py = vy + 0.5;
            guint32 got = shown[(size_t)vy * vw + vx];
            if (px < p.x - 1 || px > p.x + p.width + 1 || py < p.y - 1 || py > p.y + p.height + 1) {
                if (got != 0xff000000u)
                    g_error("view pixel %d,%d outside the frame is 0x%08x, not black", vx, vy, got);
                continue;
            }
            if (px < p.x + 1 || px > p.x + p.width - 1 || py < p.y + 1 || py > p.y + p.height - 1)
                continue;                               /* the frame's edge */
            inside++;
            double fx = (px - p.x) * f->width / p.width - 0.5;
            double fy = (py - p.y) * f->height / p.height - 0.5;
            int x0 = (int)floor(fx), y0 = (int)floor(fy);
            uint32_t c = frame_at(f, x0, y0);
            if (frame_at(f, x0 + 1, y0) != c || frame_at(f, x0, y0 + 1) != c ||
                frame_at(f, x0 + 1, y0 + 1) != c)
                continue;
            if (got != (0xff000000u | c))
                g_error("view pixel %d,%d shows 0x%08x where the guest's 0x%06x is scaled",
                        vx, vy, got, c);
            checked++;
            lit += c != 0;
        }
    }
    /* Most of the view is frame, most of it uniform; some of it text. */
    g_assert_cmpuint(inside, >, (unsigned)(vw * vh) / 2);
    g_assert_cmpuint(checked, >, inside / 2);
    g_assert_cmpuint(lit, >, 1000);
}

static gboolean log_says_no_boot(gpointer data)
{
    g_autofree char *text = NULL;
    return g_file_get_contents(data, &text, NULL, NULL) && strstr(text, "No bootable device");
}

typedef struct {
    HgrDisplayView *view;
    const Frame *frame;
    guint64 renders_after;
} ViewWait;

/* The view has taken exactly this frame, uploaded it, and drawn since. */
static gboolean view_shows(gpointer data)
{
    ViewWait *w = data;
    const HgrDisplayStaging *st = &w->view->staging;

    return st->width == w->frame->width && st->height == w->frame->height &&
           st->n_pending == 0 && !st->resized && w->view->renders > w->renders_after &&
           memcmp(st->pixels, w->frame->pixels, (size_t)st->width * st->height * 4) == 0;
}

/* A boot sector that prints R, then echoes each key the BIOS reads to the
 * serial port: mov al,'R'; mov dx,0x3f8; out dx,al; again: mov ah,0;
 * int 0x16; mov dx,0x3f8; out dx,al; jmp again. */
static const guint8 echo_boot_sector[] = {
    0xb0, 'R', 0xba, 0xf8, 0x03, 0xee,
    0xb4, 0x00, 0xcd, 0x16, 0xba, 0xf8, 0x03, 0xee, 0xeb, 0xf6,
};

/* A boot sector that prints R, turns the PS/2 mouse on through the i8042
 * and, interrupts off, copies every byte the controller gives (the
 * mouse's ACK, then its 3-byte packets) to the serial port:
 *   cli; mov al,'R'; mov dx,0x3f8; out dx,al
 *   mov al,0xa8; out 0x64,al; call wait      (enable the aux port)
 *   mov al,0xd4; out 0x64,al; call wait      (next byte to the mouse)
 *   mov al,0xf4; out 0x60,al                 (enable data reporting)
 * loop: in al,0x64; test al,1; jz loop; in al,0x60; out dx,al; jmp loop
 * wait: in al,0x64; test al,2; jnz wait; ret */
static const guint8 mouse_boot_sector[] = {
    0xfa, 0xb0, 'R', 0xba, 0xf8, 0x03, 0xee,
    0xb0, 0xa8, 0xe6, 0x64, 0xe8, 0x16, 0x00,
    0xb0, 0xd4, 0xe6, 0x64, 0xe8, 0x0f, 0x00,
    0xb0, 0xf4, 0xe6, 0x60,
    0xe4, 0x64, 0xa8, 0x01, 0x74, 0xfa, 0xe4, 0x60, 0xee, 0xeb, 0xf5,
    0xe4, 0x64, 0xa8, 0x02, 0x75, 0xfa, 0xc3,
};

static void test_firmware_on_screen_and_serial(void)
{
    Fixture f;

    fixture_setup(&f);
    /* Showing the window of a stopped VM starts it, its serial port on the
     * window's console. */
    hgr_vm_window_show(NULL, f.m);
    HgrVmWindow *win = g_object_get_data(G_OBJECT(f.m), "hgr-vm-window");
    g_assert_nonnull(win);
    g_object_add_weak_pointer(G_OBJECT(win), (gpointer *)&win);
    g_assert_cmpint(hgr_machine_get_state(f.m), ==, HGR_MACHINE_RUNNING);

    /* SeaBIOS, with no disk, ends on "No bootable device" and then waits:
     * its screen stays still from there. The machine's serial log says
     * when; the console is checked below, after the user looks at it. */
    g_autofree char *log = g_build_filename(hgr_machine_get_dir(f.m), "logs", "serial.log", NULL);
    if (!spin_until(log_says_no_boot, log, 180)) {
        g_autofree char *text = NULL;
        g_file_get_contents(log, &text, NULL, NULL);
        g_error("the firmware never reached its end: %s", text);
    }

    /* Pause: the frame cannot change while it is compared. */
    gtk_widget_activate_action(GTK_WIDGET(win), "win.pause", NULL);
    g_assert_true(spin_until(machine_paused, f.m, 30));
    g_assert_cmpstr(gtk_widget_get_tooltip_text(GTK_WIDGET(win->pause_button)), ==, "Resume");
    g_assert_cmpstr(gtk_label_get_text(win->state_label), ==,
                    hgr_machine_state_name(HGR_MACHINE_PAUSED));

    Frame frame = { 0 };
    g_assert_true(hgr_vm_display_update(hgr_machine_get_vm(f.m), true, copy_frame, &frame));
    g_assert_nonnull(frame.pixels);

    /* 1:1 in a window larger than the frame: every guest pixel is on the
     * screen, centered, unchanged. */
    ViewWait drawn = { win->display, &frame, win->display->renders };
    gtk_widget_activate_action(GTK_WIDGET(win), "win.scale", NULL);
    g_assert_false(hgr_display_view_get_scale_to_fit(win->display));
    g_assert_true(spin_until(view_shows, &drawn, 30));
    int vw, vh;
    g_autofree guint32 *shown = render_widget(GTK_WIDGET(win->display), &vw, &vh);
    g_assert_cmpint(vw, >=, (int)frame.width);
    g_assert_cmpint(vh, >=, (int)frame.height);
    HgrDisplayPlacement p = hgr_display_place(frame.width, frame.height, vw, vh, false);
    unsigned lit = 0;
    for (uint32_t y = 0; y < frame.height; y++) {
        for (uint32_t x = 0; x < frame.width; x++) {
            guint32 want = frame.pixels[(size_t)y * frame.width + x] & 0xffffff;
            guint32 got = shown[(size_t)(y + (int)p.y) * vw + x + (int)p.x];
            if (got != (0xff000000u | want))
                g_error("pixel %u,%u shows 0x%08x, the guest drew 0x%06x", x, y, got, want);
            lit += want != 0;
        }
    }
    g_assert_cmpuint(lit, >, 1000);                    /* the firmware's text */
    /* Outside the frame: black. */
    if (p.x >= 1)
        g_assert_cmphex(shown[(size_t)(vh / 2) * vw], ==, 0xff000000u);

    /* Scaled to the window, aspect kept: black bars outside the frame, and
     * inside it, wherever the guest's pixels around a spot are all one
     * color (so filtering cannot blend), that color. */
    drawn.renders_after = win->display->renders;
    gtk_widget_activate_action(GTK_WIDGET(win), "win.scale", NULL);
    g_assert_true(hgr_display_view_get_scale_to_fit(win->display));
    g_assert_true(spin_until(view_shows, &drawn, 30));
    g_autofree guint32 *scaled = render_widget(GTK_WIDGET(win->display), &vw, &vh);
    check_scaled(&frame, scaled, vw, vh);

    /* The serial console, shown only now, has all the firmware printed
     * while the display was in front. */
    adw_view_stack_set_visible_child_name(win->stack, "serial");
    g_assert_false(hgr_display_view_get_grabbed(win->display));
    TextWait wait = { VTE_TERMINAL(win->serial), "No bootable device" };
    if (!spin_until(text_shown, &wait, 30)) {
        g_autofree char *text = terminal_text(wait.term);
        g_error("the serial console does not show the firmware's output: %s", text);
    }
    g_autofree char *text = terminal_text(wait.term);
    g_assert_nonnull(strstr(text, "SeaBIOS"));
    g_assert_nonnull(strstr(text, "Booting from Hard Disk"));

    /* Closing asks; Force Off stops the VM and closes the window. */
    gtk_window_close(GTK_WINDOW(win));
    g_assert_true(spin_until(dialog_shown, NULL, 10));
    g_assert_nonnull(win);                             /* still open */
    adw_message_dialog_response(find_dialog(), "force-off");
    g_assert_true(spin_until(machine_stopped, f.m, 30));
    spin_for_ms(100);
    g_assert_null(win);
    g_assert_null(g_object_get_data(G_OBJECT(f.m), "hgr-vm-window"));

    g_free(frame.pixels);
    fixture_teardown(&f);
}

static char *serial_log(HgrMachine *m)
{
    g_autofree char *path = g_build_filename(hgr_machine_get_dir(m), "logs", "serial.log", NULL);
    char *text = NULL;

    g_file_get_contents(path, &text, NULL, NULL);
    return text;
}

/* What the echo boot sector sent after its R, or NULL before it ran. The
 * end of the firmware's own line may come after the R ("Disk..R.\r\n"):
 * dots and line ends are left out. */
static char *echoed(HgrMachine *m)
{
    g_autofree char *text = serial_log(m);
    const char *boot = text ? strstr(text, "Booting from Hard Disk") : NULL;
    const char *r = boot ? strchr(boot, 'R') : NULL;
    GString *out;

    if (!r)
        return NULL;
    out = g_string_new(NULL);
    for (const char *c = r + 1; *c; c++)
        if (*c != '.' && *c != '\r' && *c != '\n')
            g_string_append_c(out, *c);
    return g_string_free(out, FALSE);
}

typedef struct {
    HgrMachine *m;
    const char *want;
} EchoWait;

static gboolean echo_is(gpointer data)
{
    EchoWait *w = data;
    g_autofree char *got = echoed(w->m);
    return got && g_str_equal(got, w->want);
}

static gboolean firmware_restarted(gpointer data)
{
    g_autofree char *text = serial_log(data);
    const char *first = text ? strstr(text, "SeaBIOS (version") : NULL;
    return first && strstr(first + 1, "SeaBIOS (version");
}

static gboolean disk_light_saw_reads(gpointer data)
{
    HgrVmWindow *win = data;
    const char *tip = gtk_widget_get_tooltip_text(GTK_WIDGET(win->disk_light));
    return tip && g_str_has_prefix(tip, "Disk: ") && !g_str_has_prefix(tip, "Disk: 0 bytes read");
}

/* The echo boot sector says 'R' when it runs: has it run after the restart? */
static gboolean booted_twice(gpointer data)
{
    g_autofree char *text = serial_log(data);
    const char *first = text ? strstr(text, "Booting from Hard Disk") : NULL;
    const char *second = first ? strstr(first + 1, "Booting from Hard Disk") : NULL;
    return second && strchr(second, 'R');
}

static gboolean firmware_started_thrice(gpointer data)
{
    g_autofree char *text = serial_log(data);
    const char *at = text;
    int n = 0;

    while (at && (at = strstr(at, "SeaBIOS (version"))) {
        n++;
        at++;
    }
    return n >= 3;
}

/* X11 (evdev rules) keycodes, as GTK hands them to the window. */
#define XKEY_H 43
#define XKEY_I 31
#define XKEY_X 53
#define XKEY_O 32
#define XKEY_K 45
#define XKEY_RIGHT_CTRL 105

static void test_keyboard_reaches_guest(void)
{
    Fixture f;

    fixture_setup_with(&f, echo_boot_sector, sizeof(echo_boot_sector));
    hgr_vm_window_show(NULL, f.m);
    HgrVmWindow *win = g_object_get_data(G_OBJECT(f.m), "hgr-vm-window");
    g_assert_nonnull(win);
    EchoWait ready = { f.m, "" };
    if (!spin_until(echo_is, &ready, 180)) {
        g_autofree char *text = serial_log(f.m);
        g_error("the echo boot sector never ran: %s", text);
    }

    /* The status strip counted the BIOS reading the boot sector. */
    g_assert_true(spin_until(disk_light_saw_reads, win, 10));

    /* Before a click on the display, keys are the host's. */
    g_assert_false(hgr_display_view_get_grabbed(win->display));
    g_assert_false(hgr_display_view_key(win->display, XKEY_X, TRUE));
    g_assert_false(hgr_display_view_key(win->display, XKEY_X, FALSE));

    /* Grabbed (as a click does): typed keys reach the guest's BIOS. */
    hgr_display_input_grab(win->display);
    g_assert_true(hgr_display_view_get_grabbed(win->display));
    g_assert_nonnull(strstr(gtk_label_get_text(win->hint_label), "Right Ctrl releases"));
    for (guint key = 0; key < 2; key++) {
        guint code = key ? XKEY_I : XKEY_H;
        g_assert_true(hgr_display_view_key(win->display, code, TRUE));
        g_assert_true(hgr_display_view_key(win->display, code, FALSE));
    }
    EchoWait hi = { f.m, "hi" };
    if (!spin_until(echo_is, &hi, 60)) {
        g_autofree char *got = echoed(f.m);
        g_error("the guest read \"%s\" where \"hi\" was typed", got);
    }

    /* Right Ctrl gives the keyboard back and is not sent itself. */
    g_assert_true(hgr_display_view_key(win->display, XKEY_RIGHT_CTRL, TRUE));
    g_assert_false(hgr_display_view_get_grabbed(win->display));
    g_assert_false(hgr_display_view_key(win->display, XKEY_RIGHT_CTRL, FALSE));
    g_assert_false(hgr_display_view_key(win->display, XKEY_X, TRUE));
    spin_for_ms(500);
    g_autofree char *after = echoed(f.m);
    g_assert_cmpstr(after, ==, "hi");

    /* Send Ctrl+Alt+Del: the BIOS restarts the machine. */
    gtk_widget_activate_action(GTK_WIDGET(win), "win.send-cad", NULL);
    g_assert_true(spin_until(firmware_restarted, f.m, 120));
    g_assert_cmpint(hgr_machine_get_state(f.m), ==, HGR_MACHINE_RUNNING);
    if (!spin_until(booted_twice, f.m, 60)) {
        g_autofree char *text = serial_log(f.m);
        g_error("after Ctrl+Alt+Del the firmware restarted but the boot sector never ran "
                "again; serial log: %s", text);
    }

    /* Reset (in Shut down's menu): the firmware starts a third time. */
    gtk_widget_activate_action(GTK_WIDGET(win), "win.reset", NULL);
    g_assert_true(spin_until(firmware_started_thrice, f.m, 120));
    g_assert_cmpint(hgr_machine_get_state(f.m), ==, HGR_MACHINE_RUNNING);

    /* Closing, Keep Running: the window goes, the VM runs on, and its
     * serial port (kept with the machine) stays open for it. */
    HgrSerialPty *pty = g_object_get_data(G_OBJECT(f.m), "hgr-serial-pty");
    g_assert_nonnull(pty);
    g_object_add_weak_pointer(G_OBJECT(win), (gpointer *)&win);
    gtk_window_close(GTK_WINDOW(win));
    g_assert_true(spin_until(dialog_shown, NULL, 10));
    adw_message_dialog_response(find_dialog(), "keep");
    spin_for_ms(300);
    g_assert_null(win);
    g_assert_null(g_object_get_data(G_OBJECT(f.m), "hgr-vm-window"));
    g_assert_cmpint(hgr_machine_get_state(f.m), ==, HGR_MACHINE_RUNNING);
    g_assert_cmpint(fcntl(pty->guest, F_GETFD), !=, -1);

    /* Shown again: a new window on the same VM (not started again) and the
     * same serial port: what the guest echoes now is in its console. */
    hgr_vm_window_show(NULL, f.m);
    win = g_object_get_data(G_OBJECT(f.m), "hgr-vm-window");
    g_assert_nonnull(win);
    g_object_add_weak_pointer(G_OBJECT(win), (gpointer *)&win);
    g_assert_true(g_object_get_data(G_OBJECT(f.m), "hgr-serial-pty") == pty);
    g_assert_cmpint(hgr_machine_get_state(f.m), ==, HGR_MACHINE_RUNNING);
    adw_view_stack_set_visible_child_name(win->stack, "serial");
    hgr_display_input_grab(win->display);
    for (guint key = 0; key < 2; key++) {
        guint code = key ? XKEY_K : XKEY_O;
        g_assert_true(hgr_display_view_key(win->display, code, TRUE));
        g_assert_true(hgr_display_view_key(win->display, code, FALSE));
    }
    TextWait ok = { VTE_TERMINAL(win->serial), "ok" };
    if (!spin_until(text_shown, &ok, 60)) {
        g_autofree char *text = terminal_text(ok.term);
        g_error("the reopened window's console does not show the guest's echo: %s", text);
    }
    hgr_display_view_release(win->display);

    /* Closing, Shut down: a BIOS does not listen to the power button; the
     * window goes and the VM runs on until its plug is pulled. */
    gtk_window_close(GTK_WINDOW(win));
    g_assert_true(spin_until(dialog_shown, NULL, 10));
    adw_message_dialog_response(find_dialog(), "shutdown");
    spin_for_ms(300);
    g_assert_null(win);
    g_assert_cmpint(hgr_machine_get_state(f.m), ==, HGR_MACHINE_RUNNING);
    g_assert_true(hgr_machine_force_off(f.m, NULL));
    g_assert_true(spin_until(machine_stopped, f.m, 30));
    fixture_teardown(&f);
}

/* The mouse's bytes the boot sector copied: after its R, the ACK (0xfa)
 * and whole packets. Returns how many packets; sums their motion (PS/2: y
 * up positive) and keeps the last buttons. */
static unsigned mouse_packets(HgrMachine *m, int *dx, int *dy, unsigned *buttons)
{
    g_autofree char *path = g_build_filename(hgr_machine_get_dir(m), "logs", "serial.log", NULL);
    g_autofree char *text = NULL;
    gsize len = 0;
    unsigned n = 0;

    *dx = *dy = 0;
    *buttons = 0;
    if (!g_file_get_contents(path, &text, &len, NULL))
        return 0;
    const char *boot = g_strstr_len(text, (gssize)len, "Booting from Hard Disk");
    const char *r = boot ? memchr(boot, 'R', len - (size_t)(boot - text)) : NULL;
    const guint8 *p = r ? memchr(r, 0xfa, len - (size_t)(r - text)) : NULL;
    if (!p)
        return 0;
    const guint8 *end = (const guint8 *)text + len;
    for (p++; end - p >= 3; p += 3) {
        g_assert_true(p[0] & 0x08);                 /* the packet's sync bit */
        *dx += (p[0] & 0x10) ? (int)p[1] - 256 : p[1];
        *dy += (p[0] & 0x20) ? (int)p[2] - 256 : p[2];
        *buttons = p[0] & 0x07;
        n++;
    }
    return n;
}

static gboolean mouse_ready(gpointer data)
{
    int dx, dy;
    unsigned b;
    g_autofree char *path = g_build_filename(hgr_machine_get_dir(data), "logs", "serial.log", NULL);
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &text, &len, NULL))
        return FALSE;
    const char *boot = g_strstr_len(text, (gssize)len, "Booting from Hard Disk");
    return boot && memchr(boot, 0xfa, len - (size_t)(boot - text)) &&
           mouse_packets(data, &dx, &dy, &b) == 0;
}

typedef struct {
    HgrMachine *m;
    int dx, dy;                /* the guest's mouse, summed since it started */
    int tolerance;
} MotionWait;

static gboolean motion_arrived(gpointer data)
{
    MotionWait *w = data;
    int dx, dy;
    unsigned b;

    mouse_packets(w->m, &dx, &dy, &b);
    return ABS(dx - w->dx) <= w->tolerance && ABS(dy - w->dy) <= w->tolerance;
}

/* The guest's mouse, summed, once what was sent has had time to arrive. */
static void mouse_so_far(HgrMachine *m, int *dx, int *dy)
{
    unsigned b;

    spin_for_ms(500);
    mouse_packets(m, dx, dy, &b);
}

static void expect_motion(HgrMachine *m, int dx, int dy, int tolerance)
{
    MotionWait w = { m, dx, dy, tolerance };

    if (!spin_until(motion_arrived, &w, 30)) {
        int got_dx, got_dy;
        unsigned b, n = mouse_packets(m, &got_dx, &got_dy, &b);
        g_error("the guest's mouse is at %d,%d after %u packets; %d,%d (within %d) was expected",
                got_dx, got_dy, n, dx, dy, tolerance);
    }
}

typedef struct {
    HgrDisplayView *view;
    guint64 renders_after;
} RenderWait;

static gboolean rendered_since(gpointer data)
{
    RenderWait *w = data;
    return w->view->renders > w->renders_after;
}

/* Scale to window / 1:1, and wait until the view has drawn at its new size. */
static void toggle_scale_and_wait(HgrVmWindow *win)
{
    RenderWait w = { win->display, win->display->renders };

    gtk_widget_activate_action(GTK_WIDGET(win), "win.scale", NULL);
    g_assert_true(spin_until(rendered_since, &w, 30));
}

/* Moves the X server's pointer to x, y in the view, as a hand would. */
static void x_pointer_to(GtkWidget *view, double x, double y)
{
    GtkNative *native = gtk_widget_get_native(view);
    GdkSurface *surface = gtk_native_get_surface(native);
    Display *dpy = gdk_x11_display_get_xdisplay(gtk_widget_get_display(view));
    graphene_point_t at;
    double nx, ny;

    g_assert_true(gtk_widget_compute_point(view, GTK_WIDGET(native), &GRAPHENE_POINT_INIT(x, y), &at));
    gtk_native_get_surface_transform(native, &nx, &ny);
    XWarpPointer(dpy, None, gdk_x11_surface_get_xid(surface), 0, 0, 0, 0,
                 (int)(at.x + nx), (int)(at.y + ny));
    XFlush(dpy);
    spin_for_ms(30);
}

static gboolean view_has_pointer(gpointer data)
{
    return HGR_DISPLAY_VIEW(data)->have_pointer;
}

/* Grabbed: the pointer steps off x, y and back, and the view has seen it,
 * so every move from now on counts (the first motion after a grab only
 * says where the pointer is). */
static void start_motion(HgrDisplayView *display, GtkWidget *view, double x, double y)
{
    x_pointer_to(view, x + 1, y);
    g_assert_true(spin_until(view_has_pointer, display, 10));
    x_pointer_to(view, x, y);
}

static void test_pointer_reaches_guest(void)
{
    Fixture f;

    if (!GDK_IS_X11_DISPLAY(gdk_display_get_default())) {
        g_printerr("SKIP: moving the pointer needs an X server\n");
        g_test_skip("moving the pointer needs an X server");
        return;
    }
    fixture_setup_with(&f, mouse_boot_sector, sizeof(mouse_boot_sector));
    hgr_vm_window_show(NULL, f.m);
    HgrVmWindow *win = g_object_get_data(G_OBJECT(f.m), "hgr-vm-window");
    GtkWidget *view = GTK_WIDGET(win->display);
    if (!spin_until(mouse_ready, f.m, 180)) {
        g_autofree char *text = serial_log(f.m);
        g_error("the mouse boot sector never got its ACK: %s", text);
    }

    /* 1:1, the guest has the pointer: 100 screen pixels right and 40 down
     * are 100 guest pixels right and 40 down (PS/2 counts up as positive).
     * Within a pixel: the step that starts the motion may land on either
     * side of the count taken before. */
    toggle_scale_and_wait(win);
    double cx = gtk_widget_get_width(view) / 2.0, cy = gtk_widget_get_height(view) / 2.0;
    int dx0, dy0;
    x_pointer_to(view, cx, cy);
    hgr_display_input_grab(win->display);
    start_motion(win->display, view, cx, cy);
    mouse_so_far(f.m, &dx0, &dy0);
    for (int i = 1; i <= 10; i++)
        x_pointer_to(view, cx + 10 * i, cy + 4 * i);
    expect_motion(f.m, dx0 + 100, dy0 - 40, 1);

    /* Scaled to the window: motion is in guest pixels of the picture, so
     * crossing a part of it moves the guest's pointer that part of the
     * frame (the fraction below a pixel is carried: within two). The
     * pointer goes back to the middle while released (nothing is sent). */
    hgr_display_view_release(win->display);
    toggle_scale_and_wait(win);
    double k = hgr_display_guest_per_unit(win->display->staging.width, win->display->staging.height,
                                          gtk_widget_get_width(view), gtk_widget_get_height(view),
                                          true, gtk_widget_get_scale_factor(view));
    g_assert_cmpfloat(fabs(k - 1.0), >, 0.1);
    x_pointer_to(view, cx, cy);
    hgr_display_input_grab(win->display);
    start_motion(win->display, view, cx, cy);
    mouse_so_far(f.m, &dx0, &dy0);
    for (int i = 1; i <= 10; i++)
        x_pointer_to(view, cx - 10 * i, cy);
    expect_motion(f.m, dx0 + (int)lround(-100 * k), dy0, 2);

    hgr_display_view_release(win->display);
    gtk_widget_activate_action(GTK_WIDGET(win), "win.force-off", NULL);
    g_assert_true(spin_until(machine_stopped, f.m, 30));
    gtk_window_destroy(GTK_WINDOW(win));
    fixture_teardown(&f);
}

static void test_start_failure_is_shown(void)
{
    Fixture f;

    /* The disk vanished after the VM was made. */
    fixture_setup_with(&f, echo_boot_sector, sizeof(echo_boot_sector));
    g_autofree char *disk = g_build_filename(f.dir, "echo.img", NULL);
    g_assert_cmpint(g_unlink(disk), ==, 0);

    hgr_vm_window_show(NULL, f.m);
    HgrVmWindow *win = g_object_get_data(G_OBJECT(f.m), "hgr-vm-window");
    g_assert_nonnull(win);
    g_assert_true(spin_until(dialog_shown, NULL, 10));
    AdwMessageDialog *dialog = find_dialog();
    g_assert_nonnull(strstr(adw_message_dialog_get_heading(dialog), "Did Not Start"));
    const char *body = adw_message_dialog_get_body(dialog);
    if (!strstr(body, "echo.img"))
        g_error("the message does not name the missing disk: %s", body);
    g_assert_cmpint(hgr_machine_get_state(f.m), !=, HGR_MACHINE_RUNNING);
    /* The window stays, offering to start again. */
    g_assert_true(gtk_widget_get_visible(GTK_WIDGET(win->off_page)));
    g_assert_true(gtk_widget_is_sensitive(GTK_WIDGET(win)));
    adw_message_dialog_response(dialog, "close");
    gtk_window_destroy(GTK_WINDOW(win));
    spin_for_ms(100);
    fixture_teardown(&f);
}

static void test_running_elsewhere(void)
{
    const char *hangarctl = g_getenv("HANGARCTL");
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL, *err = NULL;
    int status = -1;
    Fixture f;

    if (!hangarctl) {
        g_printerr("SKIP: HANGARCTL is not set (meson test sets it)\n");
        g_test_skip("HANGARCTL is not set (meson test sets it)");
        return;
    }
    fixture_setup(&f);
    /* hangarctl runs the VM headless in a process of its own. */
    g_autofree char *lib = g_build_filename(f.dir, "lib", NULL);
    g_auto(GStrv) env = g_environ_setenv(g_get_environ(), "HANGAR_LIBRARY_DIR", lib, TRUE);
    const char *argv[] = { hangarctl, "start", "Window Test", "--detach", NULL };
    g_assert_true(g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, &error));
    g_assert_no_error(error);
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("hangarctl start failed: %s%s", out, err);
    /* get_state never waits on another process: ask it (the manager
     * window's poll does the same without waiting). */
    g_assert_cmpint(hgr_machine_query_state(f.m), ==, HGR_MACHINE_RUNNING);
    g_assert_false(hgr_machine_is_running_here(f.m));

    /* Its window here does not start it again; it says where it runs and
     * still pauses it and pulls its plug. */
    hgr_vm_window_show(NULL, f.m);
    HgrVmWindow *win = g_object_get_data(G_OBJECT(f.m), "hgr-vm-window");
    g_assert_nonnull(win);
    g_assert_null(find_dialog());
    g_assert_true(gtk_widget_get_visible(GTK_WIDGET(win->off_page)));
    g_assert_cmpstr(adw_status_page_get_title(win->off_page), ==, "Running Elsewhere");
    gtk_widget_activate_action(GTK_WIDGET(win), "win.pause", NULL);
    g_assert_true(spin_until(machine_paused, f.m, 30));
    g_assert_cmpstr(gtk_label_get_text(win->state_label), ==,
                    hgr_machine_state_name(HGR_MACHINE_PAUSED));
    gtk_widget_activate_action(GTK_WIDGET(win), "win.force-off", NULL);
    g_assert_true(spin_until(machine_stopped, f.m, 30));
    g_assert_cmpstr(adw_status_page_get_title(win->off_page), ==, "Powered Off");

    /* Not running: closing asks nothing. */
    g_object_add_weak_pointer(G_OBJECT(win), (gpointer *)&win);
    gtk_window_close(GTK_WINDOW(win));
    spin_for_ms(200);
    g_assert_null(find_dialog());
    g_assert_null(win);
    fixture_teardown(&f);
}

static gboolean machine_running(gpointer data)
{
    return hgr_machine_get_state(data) == HGR_MACHINE_RUNNING;
}

static gboolean count_tick(gpointer data)
{
    (*(guint *)data)++;
    return G_SOURCE_CONTINUE;
}

/* A VM in another process that hangs: the window learns its state without
 * waiting, and while a Pause sent from it goes unanswered the window's
 * main loop keeps turning (it was frozen up to 3 s per click before). */
static void test_hung_process(void)
{
    Fixture f;

    fixture_setup(&f);
    g_autofree char *sock_dir = hgr_control_socket_dir();
    g_mkdir_with_parents(sock_dir, 0700);
    g_autofree char *sock = hgr_control_socket_path(hgr_machine_get_uuid(f.m));
    Fake *h = fake_start(sock);

    HgrVmWindow *win = g_object_new(HGR_TYPE_VM_WINDOW, "machine", f.m, NULL);
    gtk_window_present(GTK_WINDOW(win));
    g_assert_true(spin_until(machine_running, f.m, 10));
    spin_for_ms(50);
    g_assert_cmpstr(gtk_label_get_text(win->state_label), ==,
                    hgr_machine_state_name(HGR_MACHINE_RUNNING));
    g_assert_cmpstr(adw_status_page_get_title(win->off_page), ==, "Running Elsewhere");

    guint ticks = 0;
    guint source = g_timeout_add(1, count_tick, &ticks);
    gtk_widget_activate_action(GTK_WIDGET(win), "win.pause", NULL);
    while (!g_atomic_int_get(&h->pause_seen))
        g_main_context_iteration(NULL, TRUE);
    guint before = ticks;
    for (int i = 0; i < 3; i++) {
        while (ticks == before)
            g_main_context_iteration(NULL, TRUE);
        before = ticks;
        g_usleep(100000);     /* the other process still sits on it */
    }
    /* Unanswered: nothing reported, the window usable, the loop turning;
     * but Pause cannot be clicked again before the answer. */
    g_assert_null(find_dialog());
    g_assert_true(gtk_widget_is_sensitive(GTK_WIDGET(win)));
    g_assert_false(gtk_widget_get_sensitive(GTK_WIDGET(win->pause_button)));

    g_main_context_invoke(h->context, fake_answer_pause, h);
    spin_for_ms(200);
    g_assert_null(find_dialog());      /* it took the Pause: no error */
    g_assert_true(gtk_widget_get_sensitive(GTK_WIDGET(win->pause_button)));
    g_source_remove(source);

    /* The process goes away: the window says so. */
    fake_stop(h);
    g_assert_true(spin_until(machine_stopped, f.m, 10));
    spin_for_ms(50);
    g_assert_cmpstr(adw_status_page_get_title(win->off_page), ==, "Powered Off");
    gtk_window_destroy(GTK_WINDOW(win));
    spin_for_ms(100);
    g_unlink(sock);
    fixture_teardown(&f);
}

static void test_serial_view_both_ways(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrSerialPty) pty = hgr_serial_pty_new(&error);
    GtkWidget *window = gtk_window_new();
    HgrSerialView *view = HGR_SERIAL_VIEW(hgr_serial_view_new());
    char buf[64] = "";
    ssize_t n = -1;

    g_assert_no_error(error);
    int fd = pty->guest;
    g_assert_true(hgr_serial_view_attach(view, pty, &error));
    g_assert_no_error(error);
    gtk_window_set_child(GTK_WINDOW(window), GTK_WIDGET(view));
    gtk_window_present(GTK_WINDOW(window));
    g_assert_cmpint(vte_terminal_get_scrollback_lines(VTE_TERMINAL(view)), ==, 10000);

    /* Typed keys reach the guest as typed: no echo, no line buffering, CR
     * not turned into LF. */
    vte_terminal_feed_child(VTE_TERMINAL(view), "ls\r", 3);
    for (int i = 0; i < 500 && n <= 0; i++) {
        spin_for_ms(2);
        n = read(fd, buf, sizeof(buf) - 1);
    }
    g_assert_cmpint(n, ==, 3);
    g_assert_cmpmem(buf, 3, "ls\r", 3);

    /* The guest's output is shown, and nothing of what was typed is
     * echoed by the host. */
    g_assert_cmpint(write(fd, "guest says hi\r\n", 15), ==, 15);
    TextWait wait = { VTE_TERMINAL(view), "guest says hi" };
    g_assert_true(spin_until(text_shown, &wait, 10));
    g_autofree char *text = terminal_text(VTE_TERMINAL(view));
    g_assert_null(strstr(text, "ls"));
    gtk_window_destroy(GTK_WINDOW(window));
}

int main(int argc, char **argv)
{
    if (!vm_window_test_init(&argc, &argv))
        return 0;
    g_test_add_func("/app/serial-view/both-ways", test_serial_view_both_ways);
    g_test_add_func("/app/vm-window/hung-process", test_hung_process);
    if (access("/dev/kvm", R_OK | W_OK) != 0 || access(HGR_SEABIOS_PATH, R_OK) != 0) {
        fprintf(stderr, "SKIP: /app/vm-window: needs /dev/kvm (read-write) and %s\n",
                HGR_SEABIOS_PATH);
    } else {
        g_test_add_func("/app/vm-window/firmware-on-screen-and-serial",
                        test_firmware_on_screen_and_serial);
        g_test_add_func("/app/vm-window/keyboard-reaches-guest", test_keyboard_reaches_guest);
        g_test_add_func("/app/vm-window/start-failure-is-shown", test_start_failure_is_shown);
        g_test_add_func("/app/vm-window/pointer-reaches-guest", test_pointer_reaches_guest);
        g_test_add_func("/app/vm-window/running-elsewhere", test_running_elsewhere);
    }
    return g_test_run();
}
