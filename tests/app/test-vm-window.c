/* test-vm-window.c — the VM window under a real X server with a real VM
 * (KVM, SeaBIOS): the serial console shows what the firmware prints, the
 * display shows exactly the pixels the guest drew (read back from what GTK
 * renders, 1:1 and scaled), Pause pauses, and closing the window offers to
 * force the VM off, which stops it; Keep Running and Shut down hide the
 * window until the VM stops. The serial view alone: typing reaches
 * the guest's end unchanged and the guest's output is shown. */
#include <fcntl.h>
#include <math.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <unistd.h>

#include "library.h"
#include "display-view-private.h"
#include "vm-window-private.h"
#include "windows.h"

extern GResource *hangar_get_resource(void);

typedef struct {
    char *dir;
    HgrLibrary *lib;
    HgrMachine *m;
    HgrVmWindow *win;
} Fixture;

/* Runs the main loop until done(data) or a generous bound; the bound is
 * where a broken VM or view fails the test, not a measurement. On these
 * shared 2-core machines with a software KVM a loaded run is several times
 * slower than a quiet one, so every bound is tripled. */
static gboolean spin_until(gboolean (*done)(gpointer), gpointer data, unsigned seconds)
{
    gint64 end = g_get_monotonic_time() + 3 * (gint64)seconds * G_USEC_PER_SEC;

    while (!done(data)) {
        if (g_get_monotonic_time() > end)
            return FALSE;
        g_main_context_iteration(NULL, FALSE);
        g_usleep(2000);
    }
    return TRUE;
}

static void spin_for_ms(unsigned ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(2000);
    }
}

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

static gboolean machine_stopped(gpointer data)
{
    return hgr_machine_get_state(data) == HGR_MACHINE_STOPPED;
}

static gboolean machine_paused(gpointer data)
{
    return hgr_machine_get_state(data) == HGR_MACHINE_PAUSED;
}

static gboolean view_has_frame(gpointer data)
{
    HgrDisplayView *view = data;
    return view->staging.width > 0 && view->staging.n_pending == 0;
}

static AdwMessageDialog *find_dialog(void)
{
    GListModel *tops = gtk_window_get_toplevels();        /* not ours */
    for (guint i = 0; i < g_list_model_get_n_items(tops); i++) {
        g_autoptr(GObject) w = g_list_model_get_item(tops, i);
        if (ADW_IS_MESSAGE_DIALOG(w) && gtk_widget_get_visible(GTK_WIDGET(w)))
            return ADW_MESSAGE_DIALOG(w);
    }
    return NULL;
}

static gboolean dialog_shown(gpointer data)
{
    return find_dialog() != NULL;
}

/* A boot sector that prints R, then echoes each key the BIOS reads to the
 * serial port: mov al,'R'; mov dx,0x3f8; out dx,al; again: mov ah,0;
 * int 0x16; mov dx,0x3f8; out dx,al; jmp again. */
static const guint8 echo_boot_sector[] = {
    0xb0, 'R', 0xba, 0xf8, 0x03, 0xee,
    0xb4, 0x00, 0xcd, 0x16, 0xba, 0xf8, 0x03, 0xee, 0xeb, 0xf6,
};

static char *write_echo_disk(const char *dir)
{
    g_autoptr(GError) error = NULL;
    char *path = g_build_filename(dir, "echo.img", NULL);
    gsize size = 1 << 20;
    g_autofree guint8 *disk = g_malloc0(size);

    memcpy(disk, echo_boot_sector, sizeof(echo_boot_sector));
    disk[510] = 0x55;
    disk[511] = 0xaa;
    g_file_set_contents(path, (const char *)disk, (gssize)size, &error);
    g_assert_no_error(error);
    return path;
}

static void fixture_setup_with(Fixture *f, gboolean echo_disk)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();

    f->dir = g_dir_make_tmp("hangar-vm-window-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *run = g_build_filename(f->dir, "run", NULL);
    g_autofree char *lib = g_build_filename(f->dir, "lib", NULL);
    g_mkdir(run, 0700);
    g_setenv("XDG_RUNTIME_DIR", run, TRUE);
    f->lib = hgr_library_new(lib, &error);
    g_assert_no_error(error);
    g_free(c->name);
    c->name = g_strdup("Window Test");
    c->memory_mib = 64;
    c->cpus = 1;
    c->network = false;
    c->serial = true;
    c->firmware = HGR_FIRMWARE_BIOS;
    if (echo_disk) {
        g_autofree char *disk = write_echo_disk(f->dir);
        hgr_machine_config_add_disk(c, disk, HGR_DISK_FORMAT_RAW, HGR_DISK_BUS_VIRTIO);
    }
    f->m = g_object_ref(hgr_library_create(f->lib, c, 0, &error));
    g_assert_no_error(error);
}

static void fixture_setup(Fixture *f)
{
    fixture_setup_with(f, FALSE);
}

static void fixture_teardown(Fixture *f)
{
    if (hgr_machine_get_state(f->m) != HGR_MACHINE_STOPPED)
        hgr_machine_force_off(f->m, NULL);
    spin_until(machine_stopped, f->m, 30);
    g_clear_object(&f->m);
    g_clear_object(&f->lib);
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->dir);
}

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
    g_assert_true(spin_until(view_has_frame, win->display, 30));

    /* 1:1 in a window larger than the frame: every guest pixel is on the
     * screen, centered, unchanged. */
    gtk_widget_activate_action(GTK_WIDGET(win), "win.scale", NULL);
    g_assert_false(hgr_display_view_get_scale_to_fit(win->display));
    spin_for_ms(300);
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
    gtk_widget_activate_action(GTK_WIDGET(win), "win.scale", NULL);
    g_assert_true(hgr_display_view_get_scale_to_fit(win->display));
    spin_for_ms(300);
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

/* X11 (evdev rules) keycodes, as GTK hands them to the window. */
#define XKEY_H 43
#define XKEY_I 31
#define XKEY_X 53
#define XKEY_RIGHT_CTRL 105

static void test_keyboard_reaches_guest(void)
{
    Fixture f;

    fixture_setup_with(&f, TRUE);
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

    /* Closing, Keep Running: the window hides, the VM runs on, and its
     * serial port (the window's terminal) stays open for it. */
    HgrVmWindow *kept = win;
    int guest_fd = hgr_serial_view_get_guest_fd(win->serial);
    g_object_add_weak_pointer(G_OBJECT(win), (gpointer *)&win);
    gtk_window_close(GTK_WINDOW(win));
    g_assert_true(spin_until(dialog_shown, NULL, 10));
    adw_message_dialog_response(find_dialog(), "keep");
    spin_for_ms(300);
    g_assert_nonnull(win);
    g_assert_false(gtk_widget_get_visible(GTK_WIDGET(win)));
    g_assert_cmpint(hgr_machine_get_state(f.m), ==, HGR_MACHINE_RUNNING);
    g_assert_cmpint(fcntl(guest_fd, F_GETFD), !=, -1);
    /* Shown again, it is the same window. */
    hgr_vm_window_show(NULL, f.m);
    g_assert_true(win == kept);
    g_assert_true(gtk_widget_get_visible(GTK_WIDGET(win)));

    /* Closing, Shut down: a BIOS does not listen to the power button, so
     * the VM runs on and the window waits, hidden, until it stops. */
    gtk_window_close(GTK_WINDOW(win));
    g_assert_true(spin_until(dialog_shown, NULL, 10));
    adw_message_dialog_response(find_dialog(), "shutdown");
    spin_for_ms(300);
    g_assert_nonnull(win);
    g_assert_false(gtk_widget_get_visible(GTK_WIDGET(win)));
    g_assert_cmpint(hgr_machine_get_state(f.m), ==, HGR_MACHINE_RUNNING);
    g_assert_true(hgr_machine_force_off(f.m, NULL));
    g_assert_true(spin_until(machine_stopped, f.m, 30));
    spin_for_ms(300);
    g_assert_null(win);
    fixture_teardown(&f);
}

static void test_start_failure_is_shown(void)
{
    Fixture f;

    /* The disk vanished after the VM was made. */
    fixture_setup_with(&f, TRUE);
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

static void test_serial_view_both_ways(void)
{
    GtkWidget *window = gtk_window_new();
    HgrSerialView *view = HGR_SERIAL_VIEW(hgr_serial_view_new());
    int fd = hgr_serial_view_get_guest_fd(view);
    char buf[64] = "";
    ssize_t n = -1;

    gtk_window_set_child(GTK_WINDOW(window), GTK_WIDGET(view));
    gtk_window_present(GTK_WINDOW(window));
    g_assert_cmpint(fd, >=, 0);
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
    g_test_init(&argc, &argv, NULL);
    /* Warnings are logged, not fatal: src/library's control server unlinks
     * its socket before stopping the GDBusServer, which then warns that it
     * cannot delete it. Criticals stay fatal; outcomes are asserted. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    if (!gtk_init_check()) {
        printf("1..0 # SKIP no display (run under xvfb-run)\n");
        fprintf(stderr, "SKIP: the VM window tests need an X server or Wayland display\n");
        return 0;
    }
    adw_init();
    hangar_get_resource();     /* links the window's .ui in */
    g_test_add_func("/app/serial-view/both-ways", test_serial_view_both_ways);
    if (access("/dev/kvm", R_OK | W_OK) != 0 || access(HGR_SEABIOS_PATH, R_OK) != 0) {
        fprintf(stderr, "SKIP: /app/vm-window: needs /dev/kvm (read-write) and %s\n",
                HGR_SEABIOS_PATH);
    } else {
        g_test_add_func("/app/vm-window/firmware-on-screen-and-serial",
                        test_firmware_on_screen_and_serial);
        g_test_add_func("/app/vm-window/keyboard-reaches-guest", test_keyboard_reaches_guest);
        g_test_add_func("/app/vm-window/start-failure-is-shown", test_start_failure_is_shown);
    }
    return g_test_run();
}
