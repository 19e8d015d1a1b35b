/* test-serial-relay.c — a running VM's serial port: guest output reaches the
 * console and the log, typed input reaches the guest, a guest that prints
 * forever cannot fill the disk, and stopping never waits on the guest. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serial-relay.h"

static char *read_some(int fd, size_t want)
{
    GString *s = g_string_new(NULL);
    char buf[4096];

    while (s->len < want) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        g_string_append_len(s, buf, n);
    }
    return g_string_free(s, FALSE);
}

static void test_both_ways(void)
{
    g_autofree char *dir = g_dir_make_tmp("hgr-relay-XXXXXX", NULL);
    g_autofree char *log = g_build_filename(dir, "serial.log", NULL);
    g_autoptr(GError) error = NULL;
    int console[2], vm_fd;

    g_assert_true(g_file_set_contents(log, "earlier run\n", -1, NULL));
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console), ==, 0);
    HgrSerialRelay *r = hgr_serial_relay_new(console[0], log, &vm_fd, &error);
    g_assert_no_error(error);

    g_assert_cmpint(write(vm_fd, "login: ", 7), ==, 7);
    g_autofree char *shown = read_some(console[1], 7);
    g_assert_cmpstr(shown, ==, "login: ");
    g_assert_cmpint(write(console[1], "root\r", 5), ==, 5);
    g_autofree char *typed = read_some(vm_fd, 5);
    g_assert_cmpstr(typed, ==, "root\r");

    close(vm_fd);                 /* the VM is gone */
    hgr_serial_relay_free(r);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "earlier run\nlogin: ");   /* appended */
    /* The console fd is still the caller's. */
    g_assert_cmpint(fcntl(console[0], F_GETFD), >=, 0);
    close(console[0]);
    close(console[1]);
    g_unlink(log);
    g_rmdir(dir);
}

static void test_stop_does_not_wait(void)
{
    g_autofree char *dir = g_dir_make_tmp("hgr-relay-XXXXXX", NULL);
    g_autofree char *log = g_build_filename(dir, "serial.log", NULL);
    int vm_fd;

    HgrSerialRelay *r = hgr_serial_relay_new(-1, log, &vm_fd, NULL);
    g_assert_cmpint(write(vm_fd, "last words", 10), ==, 10);
    /* The VM's end is still open: the relay copies what is there and stops. */
    hgr_serial_relay_free(r);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "last words");
    close(vm_fd);
    g_unlink(log);
    g_rmdir(dir);
}

/* The console's other end closes (a view went away), and the VM's end
 * closes while someone still types: no SIGPIPE, the log goes on. */
static void test_closed_ends(void)
{
    g_autofree char *dir = g_dir_make_tmp("hgr-relay-XXXXXX", NULL);
    g_autofree char *log = g_build_filename(dir, "serial.log", NULL);
    int console[2], vm_fd;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console), ==, 0);
    HgrSerialRelay *r = hgr_serial_relay_new(console[0], log, &vm_fd, NULL);
    close(console[1]);
    g_assert_cmpint(write(vm_fd, "still logged", 12), ==, 12);
    g_usleep(100000);
    close(vm_fd);
    hgr_serial_relay_free(r);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "still logged");
    close(console[0]);

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console), ==, 0);
    r = hgr_serial_relay_new(console[0], log, &vm_fd, NULL);
    close(vm_fd);                                  /* the VM is gone */
    g_assert_cmpint(write(console[1], "typed late", 10), ==, 10);
    g_usleep(100000);
    hgr_serial_relay_free(r);                       /* and we are still here */
    close(console[0]);
    close(console[1]);
    g_unlink(log);
    g_rmdir(dir);
}

static void test_log_is_bounded(void)
{
    g_autofree char *dir = g_dir_make_tmp("hgr-relay-XXXXXX", NULL);
    g_autofree char *log = g_build_filename(dir, "serial.log", NULL);
    g_autofree char *old = g_strconcat(log, ".old", NULL);
    g_autofree char *chunk = g_malloc(1 << 20);
    struct stat st;
    int vm_fd;

    memset(chunk, 'x', 1 << 20);
    HgrSerialRelay *r = hgr_serial_relay_new(-1, log, &vm_fd, NULL);
    for (int i = 0; i < 80; i++)                  /* a guest printing 80 MiB */
        g_assert_cmpint(write(vm_fd, chunk, 1 << 20), ==, 1 << 20);
    close(vm_fd);
    hgr_serial_relay_free(r);
    g_assert_cmpint(stat(log, &st), ==, 0);
    g_assert_cmpint(st.st_size, >=, 64 << 20);
    g_assert_cmpint(st.st_size, <, (64 << 20) + 4096);
    g_autofree char *tail = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(log, &tail, &len, NULL));
    g_assert_nonnull(g_strstr_len(tail + len - 100, 100, "serial log full"));
    g_clear_pointer(&tail, g_free);

    /* The next run starts a new log and keeps the full one as .old. */
    r = hgr_serial_relay_new(-1, log, &vm_fd, NULL);
    g_assert_cmpint(write(vm_fd, "next", 4), ==, 4);
    close(vm_fd);
    hgr_serial_relay_free(r);
    g_assert_true(g_file_get_contents(log, &tail, NULL, NULL));
    g_assert_cmpstr(tail, ==, "next");
    g_assert_cmpint(stat(old, &st), ==, 0);
    g_assert_cmpint(st.st_size, >=, 64 << 20);
    g_unlink(log);
    g_unlink(old);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/library/serial-relay/both-ways", test_both_ways);
    g_test_add_func("/library/serial-relay/stop-does-not-wait", test_stop_does_not_wait);
    g_test_add_func("/library/serial-relay/closed-ends", test_closed_ends);
    g_test_add_func("/library/serial-relay/log-is-bounded", test_log_is_bounded);
    return g_test_run();
}
