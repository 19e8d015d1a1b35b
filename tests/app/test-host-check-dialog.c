/* test-host-check-dialog.c — the host check dialog under Xvfb (with-xvfb.sh)
 * on this machine: every check becomes a row, and the summary matches the
 * worst finding (here KVM is emulated: a warning). */
#include <adwaita.h>

#include "../library/host-check.h"
#include "host-check-dialog.h"

static HgrHostCheckDialog *dialog;

static GtkWidget *child(const char *name)
{
    return GTK_WIDGET(gtk_widget_get_template_child(GTK_WIDGET(dialog),
                                                    HGR_TYPE_HOST_CHECK_DIALOG, name));
}

static guint n_rows(void)
{
    guint n = 0;
    for (GtkWidget *w = gtk_widget_get_first_child(child("items_list")); w;
         w = gtk_widget_get_next_sibling(w))
        n += GTK_IS_LIST_BOX_ROW(w);
    return n;
}

/* All labels below w, joined: what a reader of the row sees. */
static void collect_text(GtkWidget *w, GString *out)
{
    if (GTK_IS_LABEL(w))
        g_string_append_printf(out, "%s\n", gtk_label_get_label(GTK_LABEL(w)));
    for (GtkWidget *c = gtk_widget_get_first_child(w); c; c = gtk_widget_get_next_sibling(c))
        collect_text(c, out);
}

static void test_this_host(void)
{
    dialog = hgr_host_check_dialog_new(NULL);
    gtk_window_present(GTK_WINDOW(dialog));
    /* The check runs on a worker thread; rows appear when it is done. The
     * deadline only keeps a broken dialog from hanging the suite. */
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    while (n_rows() == 0 && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(n_rows(), ==, 6);

    /* The same check, run here, decides what the dialog must say. */
    HgrHostCheckOptions opts = { .skip_speed = true };
    g_autoptr(HgrHostCheckReport) r = hgr_host_check_run(&opts);
    g_autoptr(GString) text = g_string_new(NULL);
    collect_text(child("items_list"), text);
    for (guint i = 0; i < r->items->len; i++) {
        const HgrHostCheckItem *it = g_ptr_array_index(r->items, i);
        if (g_str_equal(it->id, "kvm-speed"))
            continue;   /* timed: its figure differs from run to run */
        g_assert_nonnull(strstr(text->str, it->title));
        if (it->fix)
            g_assert_nonnull(strstr(text->str, it->fix));
    }
    const char *summary = gtk_label_get_label(GTK_LABEL(child("summary_label")));
    g_test_message("%s", summary);
    if (strstr(text->str, "KVM is emulated"))
        g_assert_nonnull(strstr(summary, "with the limits below"));
    gtk_window_destroy(GTK_WINDOW(dialog));
}

int main(int argc, char **argv)
{
    gtk_test_init(&argc, &argv, NULL);
    adw_init();
    g_test_add_func("/app/host-check-dialog/this-host", test_this_host);
    return g_test_run();
}
