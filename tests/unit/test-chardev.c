/* test-chardev.c — the serial console's byte streams: what is written
 * arrives, a stuck reader never stalls the writer, input arrives only as
 * fast as the device takes it. */
#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "chardev/chardev.h"

#define MIB (1u << 20)

static bool wait_until(gboolean (*done)(gpointer), gpointer data, unsigned ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

    while (!done(data)) {
        if (g_get_monotonic_time() > end)
            return false;
        g_usleep(1000);
    }
    return true;
}

typedef struct {
    GMutex lock;
    size_t budget;             /* what can_receive grants */
    size_t max_call;           /* largest single delivery */
    bool over_budget;
    GByteArray *got;
} Receiver;

static size_t rx_can(void *opaque)
{
    Receiver *r = opaque;
    g_mutex_lock(&r->lock);
    size_t n = r->budget;
    g_mutex_unlock(&r->lock);
    return n;
}

static void rx_recv(void *opaque, const uint8_t *buf, size_t len)
{
    Receiver *r = opaque;
    g_mutex_lock(&r->lock);
    if (len > r->budget)
        r->over_budget = true;
    r->budget -= MIN(len, r->budget);
    r->max_call = MAX(r->max_call, len);
    g_byte_array_append(r->got, buf, (guint)len);
    g_mutex_unlock(&r->lock);
}

static size_t rx_count(Receiver *r)
{
    g_mutex_lock(&r->lock);
    size_t n = r->got->len;
    g_mutex_unlock(&r->lock);
    return n;
}

/* An fd chardev on a running I/O thread; the test holds the other end. */
typedef struct {
    HgrIoThread *t;
    HgrChardev *c;
    int peer;
} FdPair;

static void fd_pair_open(FdPair *p, Receiver *r)
{
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    p->t = hgr_iothread_new("chardev-test");
    p->c = hgr_chardev_new_fd(sv[0]);
    p->peer = sv[1];
    if (r)
        hgr_chardev_set_receiver(p->c, rx_can, rx_recv, r);
    hgr_chardev_attach(p->c, p->t);
    hgr_iothread_start(p->t);
}

static void fd_pair_close(FdPair *p)
{
    hgr_iothread_stop(p->t);
    hgr_chardev_free(p->c);
    hgr_iothread_free(p->t);
    close(p->peer);
}

static void test_file(void)
{
    g_autofree char *dir = g_dir_make_tmp("hangar-chardev-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "serial.log", NULL);
    g_autoptr(GError) err = NULL;
    HgrIoThread *t = hgr_iothread_new("chardev-file");

    g_assert_true(g_file_set_contents(path, "stale contents", -1, NULL));
    HgrChardev *c = hgr_chardev_new_file(path, &err);
    g_assert_no_error(err);
    hgr_chardev_write(c, "early ", 6);                   /* before any thread: kept */
    hgr_chardev_attach(c, t);
    hgr_iothread_start(t);
    for (int i = 0; i < 1000; i++)
        hgr_chardev_write(c, "line of boot log\n", 17);
    hgr_chardev_free(c);
    hgr_iothread_free(t);

    g_autofree char *got = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(path, &got, &len, NULL));
    g_assert_cmpuint(len, ==, 6 + 1000 * 17);
    g_assert_true(g_str_has_prefix(got, "early line of boot log\n"));
    g_assert_true(g_str_has_suffix(got, "line of boot log\nline of boot log\n"));
    g_unlink(path);
    g_rmdir(dir);

    g_autoptr(GError) err2 = NULL;
    g_assert_null(hgr_chardev_new_file("/nonexistent-hangar-dir/serial.log", &err2));
    g_assert_error(err2, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    g_assert_nonnull(strstr(err2->message, "/nonexistent-hangar-dir/serial.log"));
}

static size_t drain(int fd, GByteArray *into, unsigned quiet_ms)
{
    size_t total = 0;
    uint8_t buf[65536];
    gint64 last = g_get_monotonic_time();

    while (g_get_monotonic_time() - last < quiet_ms * 1000) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            if (into)
                g_byte_array_append(into, buf, (guint)n);
            total += (size_t)n;
            last = g_get_monotonic_time();
        } else {
            g_usleep(1000);
        }
    }
    return total;
}

/* A reader that does not read: writes return at once, at most 1 MiB waits,
 * the rest is dropped, and freeing does not hang. */
static void test_output_limit(void)
{
    FdPair p;
    fd_pair_open(&p, NULL);
    HgrChardev *c = p.c;

    static uint8_t chunk[4096];
    memset(chunk, 'x', sizeof(chunk));
    gint64 start = g_get_monotonic_time();
    for (unsigned i = 0; i < 4 * MIB / sizeof(chunk); i++)
        hgr_chardev_write(c, chunk, sizeof(chunk));
    g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC / 2);

    size_t got = drain(p.peer, NULL, 200);
    g_assert_cmpuint(got, >=, MIB);                     /* what was queued got through */
    g_assert_cmpuint(got, <, 2 * MIB);                  /* the rest was not kept */

    /* Output flows again once the reader reads. */
    hgr_chardev_write(c, "after", 5);
    g_autoptr(GByteArray) tail = g_byte_array_new();
    drain(p.peer, tail, 100);
    g_assert_cmpmem(tail->data, tail->len, "after", 5);

    /* And a stuck reader at shutdown costs a bounded wait. */
    for (unsigned i = 0; i < MIB / sizeof(chunk); i++)
        hgr_chardev_write(c, chunk, sizeof(chunk));
    start = g_get_monotonic_time();
    g_test_expect_message("hangar-vmm", G_LOG_LEVEL_WARNING, "serial output: * bytes dropped*");
    fd_pair_close(&p);
    g_test_assert_expected_messages();
    g_assert_cmpint(g_get_monotonic_time() - start, <, 3 * G_USEC_PER_SEC);
}

/* More than the socket buffer holds, read only later: nothing is lost. */
static void test_output_waits_for_reader(void)
{
    FdPair p;
    fd_pair_open(&p, NULL);

    g_autoptr(GByteArray) sent = g_byte_array_new();
    for (unsigned i = 0; i < 600 * 1024; i++) {
        uint8_t b = (uint8_t)(i * 31 + i / 256);
        g_byte_array_append(sent, &b, 1);
    }
    for (unsigned off = 0; off < sent->len; off += 1000)
        hgr_chardev_write(p.c, sent->data + off, MIN(1000, sent->len - off));
    g_usleep(100000);                                   /* the socket is full by now */
    g_autoptr(GByteArray) got = g_byte_array_new();
    drain(p.peer, got, 300);
    g_assert_cmpmem(got->data, got->len, sent->data, sent->len);
    fd_pair_close(&p);
}

static gboolean rx_has_100(gpointer data)
{
    return rx_count(data) >= 100;
}

static void test_fd_input_flow(void)
{
    Receiver r = { .budget = 0, .got = g_byte_array_new() };
    g_mutex_init(&r.lock);
    FdPair p;
    fd_pair_open(&p, &r);

    uint8_t sent[100];
    for (unsigned i = 0; i < sizeof(sent); i++)
        sent[i] = (uint8_t)(200 - i);
    g_assert_cmpint(write(p.peer, sent, sizeof(sent)), ==, sizeof(sent));
    g_usleep(50000);
    g_assert_cmpuint(rx_count(&r), ==, 0);              /* no room, nothing delivered */

    /* The device makes room three bytes at a time, as a slow guest would. */
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (rx_count(&r) < sizeof(sent)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_mutex_lock(&r.lock);
        bool empty = r.budget == 0;
        if (empty)
            r.budget = 3;
        g_mutex_unlock(&r.lock);
        if (empty)
            hgr_chardev_accept_input(p.c);
        g_usleep(200);
    }
    g_assert_true(wait_until(rx_has_100, &r, 1000));
    g_assert_false(r.over_budget);
    g_assert_cmpuint(r.max_call, <=, 3);
    g_assert_cmpmem(r.got->data, r.got->len, sent, sizeof(sent));

    fd_pair_close(&p);
    g_byte_array_unref(r.got);
    g_mutex_clear(&r.lock);
}

static void test_null(void)
{
    HgrIoThread *t = hgr_iothread_new("chardev-null");
    HgrChardev *c = hgr_chardev_new_null();
    Receiver r = { .budget = 16, .got = g_byte_array_new() };
    g_mutex_init(&r.lock);
    static uint8_t big[MIB];

    hgr_chardev_set_receiver(c, rx_can, rx_recv, &r);
    hgr_chardev_write(c, big, sizeof(big));             /* before attach */
    hgr_chardev_attach(c, t);
    hgr_iothread_start(t);
    for (int i = 0; i < 8; i++)
        hgr_chardev_write(c, big, sizeof(big));
    hgr_chardev_accept_input(c);
    hgr_chardev_flush(c);
    g_usleep(20000);
    g_assert_cmpuint(rx_count(&r), ==, 0);              /* no input ever */
    hgr_iothread_stop(t);
    hgr_chardev_free(c);
    hgr_iothread_free(t);
    g_byte_array_unref(r.got);
    g_mutex_clear(&r.lock);
}

static void count_quit(void *opaque)
{
    g_atomic_int_inc((gint *)opaque);
}

typedef struct {
    Receiver *r;
    gint *quits;
} StdioWait;

static gboolean stdio_done(gpointer data)
{
    StdioWait *w = data;
    return rx_count(w->r) >= 4 && g_atomic_int_get(w->quits) == 1;
}

/* Runs in a subprocess whose stdin is a pty: raw mode, the Ctrl-A escape,
 * output on stdout, the terminal restored at the end. */
static void stdio_child(void)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    g_assert_cmpint(master, >=, 0);
    g_assert_cmpint(grantpt(master), ==, 0);
    g_assert_cmpint(unlockpt(master), ==, 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    g_assert_cmpint(slave, >=, 0);
    g_assert_cmpint(dup2(slave, STDIN_FILENO), ==, STDIN_FILENO);
    struct termios before, during, after;
    g_assert_cmpint(tcgetattr(STDIN_FILENO, &before), ==, 0);
    g_assert_true(before.c_lflag & ICANON);

    gint quits = 0;
    Receiver r = { .budget = 1000, .got = g_byte_array_new() };
    g_mutex_init(&r.lock);
    HgrIoThread *t = hgr_iothread_new("chardev-stdio");
    HgrChardev *c = hgr_chardev_new_stdio(count_quit, &quits);
    g_assert_cmpint(tcgetattr(STDIN_FILENO, &during), ==, 0);
    g_assert_false(during.c_lflag & (ICANON | ECHO));  /* keys go to the guest as typed */
    hgr_chardev_set_receiver(c, rx_can, rx_recv, &r);
    hgr_chardev_attach(c, t);
    hgr_iothread_start(t);

    /* "ab", Ctrl-A x (quit), Ctrl-A Ctrl-A (one literal Ctrl-A), "c". */
    g_assert_cmpint(write(master, "ab\001x\001\001c", 7), ==, 7);
    hgr_chardev_write(c, "hello from the guest\n", 21);
    StdioWait w = { &r, &quits };
    g_assert_true(wait_until(stdio_done, &w, 5000));
    g_assert_cmpmem(r.got->data, r.got->len, "ab\001c", 4);

    hgr_iothread_stop(t);
    hgr_chardev_free(c);
    hgr_iothread_free(t);
    g_assert_cmpint(tcgetattr(STDIN_FILENO, &after), ==, 0);
    g_assert_cmphex(after.c_lflag, ==, before.c_lflag);
    exit(0);
}

static void test_stdio(void)
{
    if (g_test_subprocess()) {
        stdio_child();
        return;
    }
    g_test_trap_subprocess(NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout("*hello from the guest\n*");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/chardev/file-gets-everything", test_file);
    g_test_add_func("/vmm/chardev/output-limit-not-blocking", test_output_limit);
    g_test_add_func("/vmm/chardev/output-waits-for-slow-reader", test_output_waits_for_reader);
    g_test_add_func("/vmm/chardev/fd-input-only-as-room-allows", test_fd_input_flow);
    g_test_add_func("/vmm/chardev/null-swallows", test_null);
    g_test_add_func("/vmm/chardev/stdio-pty", test_stdio);
    return g_test_run();
}
